/**
 * vmagent's `series_limit` (its cardinality limiter): a target may bring at most this many
 * distinct series in 24 hours; samples of further new series are dropped, counted and logged,
 * and three series per target say how close it is (`scrape_series_limit_samples_dropped`,
 * `scrape_series_limit`, `scrape_series_current`). vmagent approximates the set with a bloom
 * filter; this keeps the exact set, which the limit itself bounds.
 */

import type { Logger } from '../log/logger.js';
import { Labels, LabelsBuilder, METRIC_NAME } from '../model/labels.js';
import type { SampleBatch } from '../model/samples.js';

const WINDOW_MS = 24 * 3600_000;

const NAMES = ['scrape_series_limit_samples_dropped', 'scrape_series_limit', 'scrape_series_current'] as const;

export class SeriesLimiter {
  private seen = new Set<string>();
  private windowStart = 0;
  private warned = false;
  /** Samples dropped by the limit in the current scrape. */
  private dropped = 0;
  readonly autoSeries: readonly Labels[];

  constructor(
    readonly limit: number,
    targetLabels: Labels,
    private readonly log: Logger,
    private readonly target: string,
  ) {
    const lb = new LabelsBuilder();
    this.autoSeries = NAMES.map((name) => lb.reset(targetLabels).set(METRIC_NAME, name).build());
  }

  /** Starts a scrape; the set of known series starts over every 24h, as in vmagent. */
  begin(now: number): void {
    this.dropped = 0;
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now;
      this.seen.clear();
      this.warned = false;
    }
  }

  /** Whether a sample of `series` may be written. */
  admit(series: Labels): boolean {
    const key = series.key;
    if (this.seen.has(key)) return true;
    if (this.seen.size < this.limit) {
      this.seen.add(key);
      return true;
    }
    this.dropped++;
    if (!this.warned) {
      this.warned = true;
      this.log.warn('series_limit reached: samples of new series are dropped (counted in scrape_series_limit_samples_dropped)', {
        target: this.target,
        limit: this.limit,
        series: series.toString().slice(0, 200),
      });
    }
    return false;
  }

  /**
   * Whether `series` was ever written in this window: one that was refused gets no staleness
   * marker when it goes away (vmagent #3660), as a marker alone would be a new series downstream.
   */
  knows(series: Labels): boolean {
    return this.seen.has(series.key);
  }

  /**
   * Continues from the loop this one replaces on reload: its window when it had a limit (the
   * 24h budget does not restart), else the series it wrote, so that they go stale if they end.
   */
  continueFrom(prev: SeriesLimiter | undefined, written: readonly Labels[]): void {
    if (prev) this.windowStart = prev.windowStart;
    for (const key of prev ? prev.seen : written.map((l) => l.key)) {
      if (this.seen.size >= this.limit) break;
      this.seen.add(key);
    }
  }

  /** The limiter's own series, written with the scrape's other per-target series. */
  appendAuto(batch: SampleBatch, ts: number): void {
    batch.append(this.autoSeries[0], this.dropped, ts);
    batch.append(this.autoSeries[1], this.limit, ts);
    batch.append(this.autoSeries[2], this.seen.size, ts);
  }
}
