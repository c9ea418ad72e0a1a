/**
 * `tributary_streamaggr_*`: per rule (labels `url` — "global" or the remote-write URL's name —,
 * `name` — the rule's, or "none" — and `position`, 1-based in its section) what came in, went
 * out and was ignored, the series tracked and the flush time; per section the state writes.
 * One set per registry, shared by every section; rules count in plain fields and the counters
 * catch up at each flush and whenever the metrics are read.
 */

import type { Counter, Gauge, Histogram, Registry } from '../selfmetrics/registry.js';
import type { RuleAggregator, RuleStats } from './rule.js';

export interface Section {
  readonly scope: string;
  readonly rules: readonly RuleAggregator[];
  readonly dedupItems: number;
}

export class StreamAggrMetrics {
  private readonly sections = new Set<Section>();
  private readonly synced = new WeakMap<RuleAggregator, RuleStats>();
  private readonly matched: Counter;
  private readonly output: Counter;
  private readonly ignored: Counter;
  readonly flushDuration: Histogram;
  readonly stateWrites: Counter;
  readonly stateBytes: Gauge;

  constructor(registry: Registry) {
    const rule = ['url', 'name', 'position'];
    // first, so its collect brings the counters up to date before they are read
    registry.gauge({
      name: 'tributary_streamaggr_series',
      help: 'Series a rule tracks: input series with per-series state (kind="input") and output groups (kind="output").',
      labelNames: [...rule, 'kind'],
      collect: (g) => {
        g.reset();
        for (const s of this.sections) {
          s.rules.forEach((r, i) => {
            this.sync(s.scope, r, i);
            g.labels(...this.ruleLabels(s.scope, r, i), 'input').set(r.inputSeries);
            g.labels(...this.ruleLabels(s.scope, r, i), 'output').set(r.outputSeries);
          });
        }
      },
    });
    registry.gauge({
      name: 'tributary_streamaggr_dedup_items',
      help: 'Samples held by the deduplication of every sample (a dedup_interval without rules) until the interval ends.',
      labelNames: ['url'],
      collect: (g) => {
        g.reset();
        for (const s of this.sections) if (s.rules.length === 0) g.labels(s.scope).set(s.dedupItems);
      },
    });
    this.matched = registry.counter({ name: 'tributary_streamaggr_matched_samples_total', help: 'Samples a rule matched (NaN and too old ones included).', labelNames: rule });
    this.output = registry.counter({ name: 'tributary_streamaggr_output_samples_total', help: 'Samples a rule produced (after output_relabel_configs).', labelNames: rule });
    this.ignored = registry.counter({
      name: 'tributary_streamaggr_ignored_samples_total',
      help: 'Matched samples not aggregated, by reason: nan (NaN values and staleness markers), too_old (ignore_old_samples: older than the interval under way), out_of_order (older than the series\' last sample: left out of total, increase and rate outputs only).',
      labelNames: [...rule, 'reason'],
    });
    this.flushDuration = registry.histogram({
      name: 'tributary_streamaggr_flush_duration_seconds',
      help: 'Time to flush a rule\'s interval.',
      labelNames: rule,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    });
    this.stateWrites = registry.counter({
      name: 'tributary_streamaggr_state_writes_total',
      help: 'Writes of a section\'s aggregation state under the data directory, by result (ok, error).',
      labelNames: ['url', 'result'],
    });
    this.stateBytes = registry.gauge({ name: 'tributary_streamaggr_state_bytes', help: 'Size of the last aggregation state written.', labelNames: ['url'] });
  }

  attach(section: Section): () => void {
    this.sections.add(section);
    section.rules.forEach((r, i) => {
      this.synced.set(r, { matched: 0, output: 0, ignoredNaN: 0, ignoredOld: 0, outOfOrder: 0 });
      const l = this.ruleLabels(section.scope, r, i);
      this.matched.labels(...l);
      this.output.labels(...l);
      for (const reason of ['nan', 'too_old', 'out_of_order']) this.ignored.labels(...l, reason);
    });
    this.stateWrites.labels(section.scope, 'ok');
    this.stateWrites.labels(section.scope, 'error');
    return () => {
      this.syncSection(section);
      this.sections.delete(section);
    };
  }

  syncSection(section: Section): void {
    section.rules.forEach((r, i) => this.sync(section.scope, r, i));
  }

  ruleLabels(scope: string, r: RuleAggregator, i: number): [string, string, string] {
    return [scope, r.rule.name ?? 'none', String(i + 1)];
  }

  private sync(scope: string, r: RuleAggregator, i: number): void {
    const last = this.synced.get(r);
    if (last === undefined) return;
    const l = this.ruleLabels(scope, r, i);
    const s = r.stats;
    const inc = (c: { inc(n: number): void }, d: number) => d > 0 && c.inc(d);
    inc(this.matched.labels(...l), s.matched - last.matched);
    inc(this.output.labels(...l), s.output - last.output);
    inc(this.ignored.labels(...l, 'nan'), s.ignoredNaN - last.ignoredNaN);
    inc(this.ignored.labels(...l, 'too_old'), s.ignoredOld - last.ignoredOld);
    inc(this.ignored.labels(...l, 'out_of_order'), s.outOfOrder - last.outOfOrder);
    Object.assign(last, s);
  }
}
