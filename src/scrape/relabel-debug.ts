/**
 * vmagent 1.79's `relabel_debug` / `metric_relabel_debug`: a debugging mode in which every
 * target (or new series) is logged with what relabeling did to it, rule by rule, and is then
 * dropped — vmagent drops them too, so a job in this mode scrapes (or sends) nothing. Each
 * distinct input is logged once (a series seen every scrape is not logged every scrape), up to
 * a bound per job; the relabel debugger pages show the same trace on demand.
 */

import type { RelabelConfig } from '../config/relabel.js';
import type { Logger } from '../log/logger.js';
import type { LabelsBuilder } from '../model/labels.js';
import { RelabelTracer, relabelOutcome } from '../relabel/index.js';

/** Distinct inputs logged per job; beyond it one line says the rest are dropped unlogged. */
const MAX_LOGGED = 1000;

export class RelabelDebugLog {
  private readonly tracer: RelabelTracer;
  private readonly logged = new Set<string>();
  private full = false;

  constructor(
    configs: readonly RelabelConfig[],
    private readonly log: Logger,
    private readonly what: 'relabel_debug' | 'metric_relabel_debug',
  ) {
    this.tracer = RelabelTracer.compile(configs);
  }

  /** Logs the trace of the labels in `lb` (once per distinct set) and drops them. */
  processBuilder(lb: LabelsBuilder): boolean {
    const input = lb.build();
    const key = input.key;
    if (this.logged.has(key)) return false;
    if (this.logged.size >= MAX_LOGGED) {
      if (!this.full) this.log.info(`${this.what}: more than ${MAX_LOGGED} distinct inputs; further ones are dropped without a log line`);
      this.full = true;
      return false;
    }
    this.logged.add(key);
    const steps = this.tracer.trace(input);
    const outcome = relabelOutcome(input, steps);
    const out =
      outcome.kind === 'kept'
        ? outcome.labels.equals(input)
          ? 'KEPT AS IS - no change'
          : outcome.labels.toString()
        : outcome.kind === 'dropped'
          ? `DROPPED by rule ${outcome.step.index} (action ${outcome.step.rule.action})`
          : 'DROPPED - all labels removed';
    this.log.info(`${this.what}: dropped after logging (debug mode)`, {
      in: input.toString(),
      out,
      steps: steps
        .map((s) => `#${s.index} ${s.rule.action}: ${s.dropped ? 'dropped' : s.after === s.before ? 'no change' : s.after.toString()}`)
        .join('; '),
    });
    return false;
  }
}
