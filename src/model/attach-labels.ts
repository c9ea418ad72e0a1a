/**
 * Attaching a source's own labels (a scrape target's; a gateway source's static and source
 * labels; remote write's external labels) to the labels a series was exposed with: the rule of
 * Prometheus' scrape.go `mutateSampleLabels`, in one place for every part that attaches labels.
 * The attached labels come as a `Labels`, so an attached label with an empty value does not
 * exist, as in Prometheus (a target never has one): it neither replaces nor renames anything.
 */

import type { Labels, LabelsBuilder } from './labels.js';

export const EXPORTED_PREFIX = 'exported_';

/**
 * honor_labels: false — the attached labels win. An exposed label one of them replaces is kept
 * as `exported_<name>`, prefixed again while that name is taken (by an exposed label, an
 * attached one or an earlier rename); shorter names are renamed first, then by name, as
 * Prometheus' `resolveConflictingExposedLabels` does. The order matters: with `job` and
 * `exported_job` both exposed and attached, `job`'s value becomes
 * `exported_exported_job` and `exported_job`'s `exported_exported_exported_job`.
 */
export function attachExportingClashes(lb: LabelsBuilder, attached: Labels): void {
  let clashes: string[] | undefined;
  for (let i = 0; i < attached.size; i++) {
    const name = attached.name(i);
    const exposed = lb.get(name);
    if (exposed !== undefined) (clashes ??= []).push(name, exposed);
    lb.set(name, attached.value(i));
  }
  if (clashes === undefined) return;
  // flat pairs, in name order (the attached set's): a stable sort by length keeps it within a length
  const order = Array.from({ length: clashes.length >> 1 }, (_, i) => i << 1);
  order.sort((a, b) => clashes[a].length - clashes[b].length || a - b);
  for (const at of order) {
    let renamed = clashes[at];
    do renamed = EXPORTED_PREFIX + renamed;
    while (lb.get(renamed) !== undefined);
    lb.set(renamed, clashes[at + 1]);
  }
}

/** honor_labels: true (and external labels) — the exposed labels win; attached ones are added where missing. */
export function attachMissing(lb: LabelsBuilder, attached: Labels): void {
  for (let i = 0; i < attached.size; i++) if (lb.get(attached.name(i)) === undefined) lb.set(attached.name(i), attached.value(i));
}
