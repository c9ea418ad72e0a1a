/**
 * Turning a pushed exposition page into the families an app holds: strict parsing for the
 * HTTP API (the pusher gets the first error with its line and column and nothing is stored),
 * lenient parsing for sockets (nobody is there to read an error, so the good lines are kept
 * and the bad ones counted), and the grouping labels stamped onto every series.
 */

import { parseFamilies } from '../../formats/prometheus/families.js';
import type { TextFormat } from '../../formats/prometheus/negotiate.js';
import { ExpositionError } from '../../formats/prometheus/parser.js';
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

/** Strict: throws PushedTextError with `line L, column C: ...` at the first problem. */
export function parseStrict(text: string, format: TextFormat): PushedText {
  try {
    return { families: parseFamilies(text, { format }).families, dropped: 0 };
  } catch (err) {
    if (err instanceof ExpositionError) throw new PushedTextError(err.message);
    throw err;
  }
}

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

/** The Pushgateway refuses timestamps: a pushed sample is exposed "now", as long as it is held. */
export function rejectTimestamps(families: readonly MetricFamily[]): void {
  for (const f of families) {
    for (const p of f.metrics) {
      if (p.timestamp !== undefined) {
        throw new PushedTextError(`pushed metrics must not have timestamps (sample ${p.labels.toString()})`);
      }
    }
  }
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
