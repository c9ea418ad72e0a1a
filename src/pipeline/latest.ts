import type { MetricFamily, MetricPoint } from '../model/family.js';
import type { Labels } from '../model/labels.js';
import type { SampleBatch } from '../model/samples.js';
import type { SampleSink } from './sink.js';

export interface LatestSeries {
  readonly labels: Labels;
  value: number;
  timestampMs: number;
}

/**
 * The last value of every live series of some jobs — what Prometheus' /federate would return
 * for them. A staleness marker removes its series, so a vanished target or series leaves the
 * view exactly when it goes stale. Scrape loops hand out the same `Labels` object for a series
 * every scrape, so the map is keyed by identity and a steady series costs one lookup.
 */
export class LatestSamples implements SampleSink {
  private readonly series = new Map<Labels, LatestSeries>();
  private changes = 0;
  private built: { at: number; families: MetricFamily[] } | undefined;

  constructor(private readonly jobs: ReadonlySet<string>) {}

  write(job: string, batch: SampleBatch): void {
    if (!this.jobs.has(job)) return;
    const map = this.series;
    for (let i = 0; i < batch.length; i++) {
      const labels = batch.series[i];
      if (batch.isStale(i)) {
        map.delete(labels);
        continue;
      }
      const s = map.get(labels);
      if (s === undefined) map.set(labels, { labels, value: batch.values[i], timestampMs: batch.timestamps[i] });
      else {
        s.value = batch.values[i];
        s.timestampMs = batch.timestamps[i];
      }
    }
    this.changes++;
  }

  /** Changes whenever the view may have: a cache key for what is built from it. */
  get version(): number {
    return this.changes;
  }

  get size(): number {
    return this.series.size;
  }

  /**
   * One untyped family per metric name, as /federate shows series whose metadata it does not
   * keep, with the samples' own timestamps. Built once per version.
   */
  families(): MetricFamily[] {
    if (this.built?.at === this.changes) return this.built.families;
    const byName = new Map<string, MetricPoint[]>();
    for (const s of this.series.values()) {
      const name = s.labels.metricName;
      let points = byName.get(name);
      if (points === undefined) byName.set(name, (points = []));
      points.push({ labels: s.labels, value: s.value, timestamp: s.timestampMs });
    }
    const families: MetricFamily[] = [];
    for (const name of [...byName.keys()].sort()) {
      families.push({ name, type: 'unknown', metrics: byName.get(name)! });
    }
    this.built = { at: this.changes, families };
    return families;
  }
}
