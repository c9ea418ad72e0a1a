/**
 * What the running agent reads of a stream aggregation configuration without the schema
 * library (which stays in the configuration's child process): the output names and their
 * parsing, and whether a section asks for anything.
 */

import type { StreamAggrConfig } from './stream-aggr.js';

/** The outputs of vmagent's stream aggregation that take no argument. */
export const PLAIN_OUTPUTS = [
  'total',
  'total_prometheus',
  'increase',
  'increase_prometheus',
  'rate_sum',
  'rate_avg',
  'count_series',
  'count_samples',
  'unique_samples',
  'sum_samples',
  'last',
  'min',
  'max',
  'avg',
  'stddev',
  'stdvar',
  'histogram_bucket',
] as const;

export type PlainOutput = (typeof PLAIN_OUTPUTS)[number];
export type OutputSpec = { readonly kind: PlainOutput } | { readonly kind: 'quantiles'; readonly phis: readonly number[]; readonly text: string };

/** `quantiles(0.5, 0.99)` or one of PLAIN_OUTPUTS; throws with the complaint. */
export function parseOutput(s: string): OutputSpec {
  const t = s.trim();
  if ((PLAIN_OUTPUTS as readonly string[]).includes(t)) return { kind: t as PlainOutput };
  const m = /^quantiles\((.*)\)$/.exec(t);
  if (m) {
    const parts = m[1].split(',').map((p) => p.trim());
    if (parts.length === 0 || parts.some((p) => p === '')) throw new Error(`${JSON.stringify(s)}: quantiles needs one or more numbers in 0..1, e.g. quantiles(0.5, 0.99)`);
    const phis = parts.map((p) => {
      const n = Number(p);
      if (!Number.isFinite(n)) throw new Error(`${JSON.stringify(s)}: ${JSON.stringify(p)} is not a number`);
      if (n < 0 || n > 1) throw new Error(`${JSON.stringify(s)}: ${JSON.stringify(p)} is outside 0..1`);
      return n;
    });
    return { kind: 'quantiles', phis, text: t };
  }
  throw new Error(`unsupported output ${JSON.stringify(s)}; supported: ${[...PLAIN_OUTPUTS, 'quantiles(phi, ...)'].join(', ')}`);
}

/** True when the section asks for anything (rules, a file or deduplication). */
export function streamAggrEnabled(s: StreamAggrConfig | undefined): s is StreamAggrConfig {
  return s !== undefined && (s.rules.length > 0 || s.config !== undefined || s.dedup_interval > 0);
}
