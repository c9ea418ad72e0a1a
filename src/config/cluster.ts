/**
 * `cluster:` — vmagent's scrape sharding (-promscrape.cluster.*), its flag names kept as keys:
 * `members_count` members with the same configuration each scrape the targets that hash to
 * them, `replication_factor` times over, with no coordination service. `member_num` takes a
 * number or a Kubernetes StatefulSet pod name (`vmagent-2`), whose trailing number counts.
 */

import * as z from 'zod';
import { AT_KEY, scalar, parseInteger, text } from './fields.js';

/** `3`, or a StatefulSet pod name ending in `-3`. */
export function parseMemberNum(value: string): number {
  const v = value.trim();
  if (/^[+-]?\d+$/.test(v)) {
    const n = parseInteger(v);
    if (n < 0) throw new Error(`must be 0 or more, got ${n}`);
    return n;
  }
  const m = /^.+-(\d+)$/.exec(v);
  if (!m) throw new Error(`expected a member number or a StatefulSet pod name ending in -N, got ${JSON.stringify(value)}`);
  return parseInteger(m[1]);
}

const positive = scalar('a whole number of at least 1', (t) => {
  const n = parseInteger(t);
  if (n < 1) throw new Error(`must be at least 1, got ${n}`);
  return n;
});

export const clusterConfigSchema = z
  .strictObject({
    members_count: positive.default(1),
    member_num: scalar('a member number or a pod name', parseMemberNum).default(0),
    replication_factor: positive.default(1),
    /** Distinguishes clusters that scrape the same targets: it moves the scrape phase (see README). */
    name: text.default(''),
  })
  .superRefine((c, ctx) => {
    if (c.member_num >= c.members_count) {
      ctx.addIssue({
        code: 'custom',
        path: ['member_num'],
        message: `member_num ${c.member_num} is outside 0…${c.members_count - 1} (members_count ${c.members_count})`,
        params: AT_KEY,
      });
    }
  });

export type ClusterConfig = z.output<typeof clusterConfigSchema>;
