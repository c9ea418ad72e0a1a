/**
 * One debugger run: the trace of the rules over the label set, plus, in target mode, what the
 * scrape side does to a kept target afterwards (src/scrape/target.ts: `instance` defaults to
 * `__address__`, labels starting with `__` are not exposed), so the last labels shown are the
 * target's labels as /targets would list them.
 */

import type { RelabelConfig } from '../../config/relabel.js';
import { type Labels, LabelsBuilder } from '../../model/labels.js';
import { formatRelabelRule } from '../rule-text.js';
import { relabelOutcome, traceRelabel, type RelabelOutcome } from '../trace.js';

import type { RelabelDebugMode } from './paths.js';

export interface DebugStep {
  /** The rule's position in the list, from 0; undefined for what the scrape side does after. */
  readonly ruleIndex: number | undefined;
  readonly rule: RelabelConfig | undefined;
  /** The rule in one line of YAML, or what the scrape side does. */
  readonly description: string;
  readonly before: Labels;
  /** Undefined: the step dropped the series. */
  readonly after: Labels | undefined;
}

export interface DebugRun {
  readonly mode: RelabelDebugMode;
  readonly input: Labels;
  readonly steps: readonly DebugStep[];
  readonly outcome: RelabelOutcome;
  /** The labels at the end when kept: in target mode, the target's labels. */
  readonly result: Labels | undefined;
  /** Kept, but not usable as it stands (a target without an address). */
  readonly warning: string | undefined;
}

const ADDRESS = '__address__';
const INSTANCE = 'instance';

export function runRelabelDebug(mode: RelabelDebugMode, input: Labels, rules: readonly RelabelConfig[]): DebugRun {
  const trace = traceRelabel(rules, input);
  const steps: DebugStep[] = trace.map((s) => ({
    ruleIndex: s.index,
    rule: s.rule,
    description: formatRelabelRule(s.rule),
    before: s.before,
    after: s.dropped ? undefined : s.after,
  }));
  const outcome = relabelOutcome(input, trace);
  if (outcome.kind !== 'kept') return { mode, input, steps, outcome, result: undefined, warning: undefined };
  if (mode !== 'target') return { mode, input, steps, outcome, result: outcome.labels, warning: undefined };

  let labels = outcome.labels;
  const address = labels.get(ADDRESS);
  if (address === undefined) {
    const warning = 'no __address__ label after relabeling: the target cannot be scraped and is reported as an error';
    return { mode, input, steps, outcome, result: labels, warning };
  }
  const step = (description: string, after: Labels): void => {
    steps.push({ ruleIndex: undefined, rule: undefined, description, before: labels, after });
    labels = after;
  };
  if (labels.get(INSTANCE) === undefined) {
    step('instance defaults to __address__', new LabelsBuilder().reset(labels).set(INSTANCE, address).build());
  }
  const internal: string[] = [];
  for (let i = 0; i < labels.size; i++) if (labels.name(i).startsWith('__')) internal.push(labels.name(i));
  if (internal.length > 0) step('labels starting with __ configure the scrape and are not kept', labels.without(...internal));
  return { mode, input, steps, outcome, result: labels, warning: undefined };
}
