/**
 * The label stages between the pipeline and the wire: relabeling and added labels, run in
 * order and cached per series, so a series seen before costs one lookup per stage set. Used
 * twice — once for what every URL gets (global relabeling, external labels, global labels) and
 * once per URL (its labels, then its write_relabel_configs).
 */

import type { RelabelConfig } from '../config/relabel.js';
import { attachMissing } from '../model/attach-labels.js';
import { Labels, LabelsBuilder } from '../model/labels.js';
import { SampleBatch } from '../model/samples.js';
import { CachedRelabeler, Relabeler, type LabelsProcessor } from '../relabel/index.js';

/** Adds the labels a series does not have itself (Prometheus' rule for external labels). */
class AddMissingLabels implements LabelsProcessor {
  private readonly lb = new LabelsBuilder();
  constructor(private readonly extra: Labels) {}
  process(labels: Labels): Labels {
    let missing = false;
    for (let i = 0; i < this.extra.size && !missing; i++) missing = labels.get(this.extra.name(i)) === undefined;
    if (!missing) return labels;
    attachMissing(this.lb.reset(labels), this.extra);
    return this.lb.build();
  }
}

class Chain implements LabelsProcessor {
  constructor(private readonly steps: readonly LabelsProcessor[]) {}
  process(labels: Labels): Labels | undefined {
    let l: Labels | undefined = labels;
    for (const s of this.steps) {
      l = s.process(l);
      if (l === undefined) return undefined;
    }
    return l;
  }
}

export type Stage =
  | { readonly relabel: readonly RelabelConfig[] }
  | { readonly addLabels: Readonly<Record<string, string>> };

/** The stages in order, cached per series; undefined when none would change anything. */
export function compileStages(stages: readonly Stage[]): LabelsProcessor | undefined {
  const steps: LabelsProcessor[] = [];
  for (const s of stages) {
    if ('relabel' in s) {
      if (s.relabel.length > 0) steps.push(Relabeler.compile(s.relabel));
    } else {
      // an empty value is no label (Labels drops it)
      const extra = Labels.fromRecord(s.addLabels);
      if (extra.size > 0) steps.push(new AddMissingLabels(extra));
    }
  }
  if (steps.length === 0) return undefined;
  return new CachedRelabeler(steps.length === 1 ? steps[0] : new Chain(steps));
}

/** `batch` through `stages` into `into` (reset first); dropped series are left out. */
export function applyStages(stages: LabelsProcessor, batch: SampleBatch, into: SampleBatch): SampleBatch {
  into.reset();
  for (let i = 0; i < batch.length; i++) {
    const l = stages.process(batch.series[i]);
    if (l !== undefined) into.appendFrom(batch, i, l);
  }
  return into;
}
