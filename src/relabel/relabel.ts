/**
 * The relabeling engine, shaped like Prometheus' model/relabel: validated configs go in once
 * (`Relabeler.compile`), then `process` rewrites one series at a time by running the rules in
 * order through the action table. A series is dropped when a rule drops it or when no label is
 * left (every Prometheus caller of relabel.Process drops an empty set).
 */

import type { RelabelConfig } from '../config/relabel.js';
import type { Labels, LabelsBuilder } from '../model/labels.js';
import { ACTIONS } from './actions.js';
import { compileRule, type CompiledRule } from './rule.js';
import { SeriesEdit } from './series-edit.js';

/** Anything that rewrites a series or drops it (undefined). */
export interface LabelsProcessor {
  process(labels: Labels): Labels | undefined;
}

export class Relabeler implements LabelsProcessor {
  /** Reused across calls: `process` is synchronous, so one edit serves every series. */
  private readonly edit = new SeriesEdit();
  private readonly getLabel = (name: string): string | undefined => this.edit.get(name);

  private constructor(private readonly rules: readonly CompiledRule[]) {}

  /** Compiles validated configs; throws a SyntaxError for an `if:` selector that does not parse. */
  static compile(configs: readonly RelabelConfig[]): Relabeler {
    return new Relabeler(configs.map(compileRule));
  }

  get ruleCount(): number {
    return this.rules.length;
  }

  /**
   * The relabeled series, or undefined when it is dropped. An unchanged series comes back as
   * the same object, so identity-keyed caches downstream stay valid.
   */
  process(labels: Labels): Labels | undefined {
    const edit = this.edit.begin(labels);
    if (!this.run(edit, this.getLabel)) return undefined;
    const out = edit.result();
    return out.size === 0 ? undefined : out;
  }

  /** Like Prometheus' ProcessBuilder: runs the rules on `lb` in place; false means dropped. */
  processBuilder(lb: LabelsBuilder): boolean {
    const edit = new SeriesEdit(lb, true);
    return this.run(edit, (name) => edit.get(name));
  }

  private run(edit: SeriesEdit, get: (name: string) => string | undefined): boolean {
    for (const rule of this.rules) {
      if (rule.when !== undefined && !rule.when(get)) {
        // vmagent: a `keep` rule whose `if` does not match drops the series; others are skipped.
        if (rule.action === 'keep' || rule.action === 'keep_metrics') return false;
        continue;
      }
      if (!ACTIONS[rule.action](rule, edit)) return false;
    }
    return true;
  }
}
