/**
 * Relabeling one rule at a time, keeping every intermediate label set, so the pages can show
 * which rule changed or dropped a series. Each rule is compiled on its own, and all of them
 * work on one `LabelsBuilder` through `processBuilder`, exactly as `Relabeler` runs a list:
 * a set left empty between rules is not dropped there (only a whole list's result is), and a
 * vmagent `keep` rule whose `if:` does not match drops, as it does in the list.
 */

import type { RelabelConfig } from '../config/relabel.js';
import { type Labels, LabelsBuilder } from '../model/labels.js';
import { Relabeler } from './relabel.js';

interface StepBase {
  /** Position of the rule in the list, from 0. */
  readonly index: number;
  readonly rule: RelabelConfig;
  readonly before: Labels;
}

export type RelabelStep =
  | (StepBase & { readonly dropped: false; readonly after: Labels })
  | (StepBase & { readonly dropped: true });

/** What a list of rules did to a series, as `Relabeler.process` decides it. */
export type RelabelOutcome =
  | { readonly kind: 'kept'; readonly labels: Labels }
  /** A rule dropped the series; `step` is the one that did. */
  | { readonly kind: 'dropped'; readonly step: RelabelStep }
  /** No label was left; every caller of relabeling drops an empty set. */
  | { readonly kind: 'emptied' };

/** A rule list compiled once for tracing many series (a pool's dropped targets). */
export class RelabelTracer {
  private constructor(private readonly rules: readonly (readonly [RelabelConfig, Relabeler])[]) {}

  /** Throws like `Relabeler.compile`; the error's `ruleIndex` says which rule failed. */
  static compile(configs: readonly RelabelConfig[]): RelabelTracer {
    return new RelabelTracer(
      configs.map((config, i) => {
        try {
          return [config, Relabeler.compile([config])] as const;
        } catch (err) {
          throw Object.assign(err as Error, { ruleIndex: i });
        }
      }),
    );
  }

  /** One step per rule run; the last one is the drop when a rule dropped the series. */
  trace(labels: Labels): RelabelStep[] {
    const lb = new LabelsBuilder().reset(labels);
    const steps: RelabelStep[] = [];
    let before = labels;
    for (const [index, [rule, relabeler]] of this.rules.entries()) {
      if (!relabeler.processBuilder(lb)) {
        steps.push({ index, rule, before, dropped: true });
        break;
      }
      const built = lb.build();
      // The same object when nothing changed, so a reader can tell at a glance.
      const after = built.equals(before) ? before : built;
      steps.push({ index, rule, before, dropped: false, after });
      before = after;
    }
    return steps;
  }
}

export function traceRelabel(configs: readonly RelabelConfig[], labels: Labels): RelabelStep[] {
  return RelabelTracer.compile(configs).trace(labels);
}

/** The verdict of a trace of `input`. */
export function relabelOutcome(input: Labels, steps: readonly RelabelStep[]): RelabelOutcome {
  const last = steps.at(-1);
  if (last?.dropped) return { kind: 'dropped', step: last };
  const labels = last?.after ?? input;
  return labels.size === 0 ? { kind: 'emptied' } : { kind: 'kept', labels };
}
