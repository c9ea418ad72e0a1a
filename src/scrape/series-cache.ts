/**
 * Per-target memory of series, as Prometheus' scrapeCache: the raw `name{labels}` text of a
 * line maps to the series it becomes after the target's labels are attached (honor_labels
 * rules) and metric relabeling ran — or to "dropped". A series seen in the last scrape thus
 * costs one map lookup; labels are decoded, relabeled and checked against the label limits
 * only on a miss. The cache also knows which series the previous scrape had, for staleness
 * markers, and forgets series unseen for two scrapes so a churning target cannot grow it.
 */

import type { ExpositionParser } from '../formats/prometheus/parser.js';
import { Labels, LabelsBuilder } from '../model/labels.js';
import type { Relabeler } from '../relabel/index.js';

/** One output series of the target; the same object every scrape while the series lives. */
export class SeriesRef {
  /** Scrape number in which the series last had a sample. */
  seenAt = -1;
  /** The page gave it a timestamp (honored): Prometheus writes no staleness marker for it. */
  explicitTimestamp = false;
  constructor(readonly labels: Labels) {}
}

interface RawEntry {
  /** null: metric relabeling dropped it. */
  readonly ref: SeriesRef | null;
  seenAt: number;
}

export interface SeriesRules {
  readonly honorLabels: boolean;
  /** Undefined when the job has no metric_relabel_configs. */
  readonly relabeler: Relabeler | undefined;
  /** 0 = no limit (each). */
  readonly labelLimit: number;
  readonly labelNameLengthLimit: number;
  readonly labelValueLengthLimit: number;
}

export class LimitError extends Error {}

const EXPORTED = 'exported_';

export class SeriesCache {
  private readonly raw = new Map<string, RawEntry>();
  private readonly refs = new Map<string, SeriesRef>();
  private readonly lb = new LabelsBuilder();
  private iteration = 0;
  private current: SeriesRef[] = [];
  private previous: SeriesRef[] = [];
  /** Series a predecessor loop had (across a reload), to mark stale if this loop never sees them. */
  private inherited: Labels[] = [];
  /** Raw entries created this scrape that passed relabeling (Prometheus' scrape_series_added). */
  added = 0;

  constructor(
    private readonly targetLabels: Labels,
    private readonly rules: SeriesRules,
  ) {}

  /** Starts a scrape. */
  begin(): void {
    this.iteration++;
    this.current = [];
    this.added = 0;
  }

  /**
   * The series of the parser's current line, or undefined when relabeling dropped it, or when
   * it already had a sample in this scrape (a duplicate). Throws LimitError for a series that
   * breaks a label limit: Prometheus fails the whole scrape then.
   */
  lookup(p: ExpositionParser): SeriesRef | undefined {
    const key = p.seriesKey();
    let e = this.raw.get(key);
    if (e === undefined) {
      const ref = this.resolve(p);
      e = { ref, seenAt: this.iteration };
      this.raw.set(key, e);
      if (ref !== null) this.added++;
    } else {
      e.seenAt = this.iteration;
    }
    const ref = e.ref;
    if (ref === null || ref.seenAt === this.iteration) return undefined;
    ref.seenAt = this.iteration;
    this.current.push(ref);
    return ref;
  }

  /**
   * Ends a scrape; `emitStale` receives every series the previous scrape (or a predecessor
   * loop) had and this one has not — all of them when the scrape failed, since a failed
   * scrape counts as an empty page. Series with honored timestamps are skipped unless
   * `staleWithTimestamps` (track_timestamps_staleness).
   */
  finish(ok: boolean, staleWithTimestamps: boolean, emitStale: (labels: Labels) => void): void {
    const it = this.iteration;
    for (const r of this.previous) {
      if ((!ok || r.seenAt !== it) && (staleWithTimestamps || !r.explicitTimestamp)) emitStale(r.labels);
    }
    if (this.inherited.length > 0) {
      for (const l of this.inherited) {
        const r = this.refs.get(l.key);
        if (!ok || r === undefined || r.seenAt !== it) emitStale(l);
      }
      this.inherited = [];
    }
    this.previous = ok ? this.current : [];
    this.current = [];
    if (ok) this.sweep();
  }

  /** Everything the last scrape had: the loop marks it stale when its target goes away. */
  live(): readonly SeriesRef[] {
    return this.previous;
  }

  /** Takes over a predecessor's live series (reload with a changed job config). */
  inherit(labels: readonly Labels[]): void {
    this.inherited = [...labels];
  }

  get size(): number {
    return this.raw.size;
  }

  private resolve(p: ExpositionParser): SeriesRef | null {
    const lb = this.lb.reset(p.labels());
    const t = this.targetLabels;
    if (this.rules.honorLabels) {
      for (let i = 0; i < t.size; i++) if (lb.get(t.name(i)) === undefined) lb.set(t.name(i), t.value(i));
    } else {
      let clashes: [string, string][] | undefined;
      for (let i = 0; i < t.size; i++) {
        const name = t.name(i);
        const exposed = lb.get(name);
        if (exposed !== undefined) (clashes ??= []).push([name, exposed]);
        lb.set(name, t.value(i));
      }
      // Prometheus renames shorter names first and prefixes again while the name is taken
      if (clashes) {
        clashes.sort((a, b) => a[0].length - b[0].length || (a[0] < b[0] ? -1 : 1));
        for (const [name, value] of clashes) {
          let renamed = name;
          do renamed = EXPORTED + renamed;
          while (lb.get(renamed) !== undefined);
          lb.set(renamed, value);
        }
      }
    }
    if (this.rules.relabeler && !this.rules.relabeler.processBuilder(lb)) return null;
    const labels = lb.build();
    if (labels.size === 0) return null;
    this.checkLimits(labels);
    let ref = this.refs.get(labels.key);
    if (ref === undefined) {
      ref = new SeriesRef(labels);
      this.refs.set(labels.key, ref);
    }
    return ref;
  }

  private checkLimits(labels: Labels): void {
    const r = this.rules;
    const metric = labels.metricName.slice(0, 50);
    if (r.labelLimit > 0 && labels.size > r.labelLimit) {
      throw new LimitError(`label_limit exceeded (metric: ${metric}, number of labels: ${labels.size}, limit: ${r.labelLimit})`);
    }
    if (r.labelNameLengthLimit === 0 && r.labelValueLengthLimit === 0) return;
    for (let i = 0; i < labels.size; i++) {
      const name = labels.name(i);
      const value = labels.value(i);
      if (r.labelNameLengthLimit > 0 && name.length > r.labelNameLengthLimit) {
        throw new LimitError(
          `label_name_length_limit exceeded (metric: ${metric}, label name: ${name.slice(0, 50)}, length: ${name.length}, limit: ${r.labelNameLengthLimit})`,
        );
      }
      if (r.labelValueLengthLimit > 0 && value.length > r.labelValueLengthLimit) {
        throw new LimitError(
          `label_value_length_limit exceeded (metric: ${metric}, label name: ${name.slice(0, 50)}, value: ${JSON.stringify(value.slice(0, 50))}, length: ${value.length}, limit: ${r.labelValueLengthLimit})`,
        );
      }
    }
  }

  /** Forgets raw lines and series not seen in the last two scrapes, once they are a third of the cache. */
  private sweep(): void {
    const live = this.previous.length;
    if (this.raw.size <= live + (live >> 1) + 64) return;
    const keepFrom = this.iteration - 1;
    for (const [k, e] of this.raw) if (e.seenAt < keepFrom) this.raw.delete(k);
    for (const [k, r] of this.refs) if (r.seenAt < keepFrom) this.refs.delete(k);
  }
}
