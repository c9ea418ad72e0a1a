/**
 * Turning a pushed exposition page into the families an app holds: lenient parsing for
 * sockets (nobody is there to read an error, so the good lines are kept and the bad ones
 * counted), and the grouping labels of an HTTP push stamped onto every series. (The HTTP API
 * parses strictly, in push-body.ts: its client gets the first error.)
 */

import { parseFamilies } from '../../formats/prometheus/families.js';
import type { TextFormat } from '../../formats/media-types.js';
import { LabelsBuilder } from '../../model/labels.js';
import type { MetricFamily } from '../../model/family.js';

export interface PushedText {
  families: MetricFamily[];
  /** Lines dropped by lenient parsing. */
  dropped: number;
  /** The first dropped line's error, for logs. */
  firstError?: string;
}

/** A page that cannot be accepted at all; `message` says where and why. */
export class PushedTextError extends Error {}

/**
 * Lenient: keeps what parses. A page of which nothing at all parsed is refused, so that
 * garbage (a wrong format, a binary blob) does not wipe an app's last good payload.
 */
export function parseLenient(text: string, format: TextFormat): PushedText {
  const page = parseFamilies(text, { format, lenient: true });
  const firstError = page.errors[0]?.message;
  if (page.dropped > 0 && page.families.length === 0) {
    throw new PushedTextError(firstError ?? `${page.dropped} bad lines and nothing that parsed`);
  }
  return { families: page.families, dropped: page.dropped, ...(firstError ? { firstError } : {}) };
}

/**
 * Sets the grouping labels on every series, replacing a pushed label of the same name: the
 * grouping key wins, as in the Pushgateway, so a series can never claim another group's labels.
 */
export function applyGroupingLabels(
  families: readonly MetricFamily[],
  labels: Readonly<Record<string, string>>,
): MetricFamily[] {
  const names = Object.keys(labels);
  if (names.length === 0) return [...families];
  const b = new LabelsBuilder();
  return families.map((f) => ({
    ...f,
    metrics: f.metrics.map((p) => {
      b.reset(p.labels);
      for (const n of names) b.set(n, labels[n]);
      return { ...p, labels: b.build() };
    }),
  }));
}
