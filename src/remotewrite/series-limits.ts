/**
 * vmagent's cardinality limiter (-remoteWrite.maxHourlySeries, -remoteWrite.maxDailySeries) as
 * `remote_write_options.max_hourly_series` / `max_daily_series`: at most that many distinct
 * series in any sliding hour / day go to remote write; the samples of a series beyond it are
 * dropped, counted (`tributary_remotewrite_series_limit_samples_dropped_total{limit}`) and
 * logged with an example at most every 5 seconds. A series is known by its 32-bit label hash
 * with the time it was last seen — vmagent keeps a bloom filter; both may let a new series
 * through as a known one, rarely, never the other way round.
 */

import type { Logger } from '../log/logger.js';
import type { Labels } from '../model/labels.js';
import type { SampleBatch } from '../model/samples.js';
import type { CounterChild, Registry } from '../selfmetrics/registry.js';

const HOUR = 3_600_000;
/** How stale a series' last-seen time may get before it is written again (spares a Map write per sample). */
const TOUCH_MS = 60_000;
const LOG_EVERY_MS = 5_000;

class Window {
  readonly seen = new Map<number, number>();
  private sweptAt = 0;
  constructor(
    readonly name: 'hourly' | 'daily',
    /** 0: no limit. */
    public max: number,
    readonly spanMs: number,
    readonly dropped: CounterChild,
  ) {}

  /** Whether the series may come in now; `known` when it is counted already. */
  allows(hash: number, now: number): 'known' | 'room' | 'full' {
    const t = this.seen.get(hash);
    if (t !== undefined && now - t <= this.spanMs) return 'known';
    if (now - this.sweptAt >= TOUCH_MS) this.sweep(now);
    return this.seen.size < this.max ? 'room' : 'full';
  }

  touch(hash: number, now: number): void {
    const t = this.seen.get(hash);
    if (t === undefined || now - t >= TOUCH_MS) this.seen.set(hash, now);
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [h, t] of this.seen) if (now - t > this.spanMs) this.seen.delete(h);
  }
}

export interface Limits {
  readonly max_hourly_series: number;
  readonly max_daily_series: number;
}

export class SeriesLimits {
  private readonly all: readonly Window[];
  /** The windows with a limit. */
  private windows: Window[] = [];
  private lastLog = 0;
  private unlogged = 0;

  /** One per process (its metrics are registered here); `configure` sets the limits. */
  constructor(
    registry: Registry,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const dropped = registry.counter({
      name: 'tributary_remotewrite_series_limit_samples_dropped_total',
      help: 'Samples not sent because their series would exceed max_hourly_series (limit="hourly") or max_daily_series (limit="daily").',
      labelNames: ['limit'],
    });
    this.all = [new Window('hourly', 0, HOUR, dropped.labels('hourly')), new Window('daily', 0, 24 * HOUR, dropped.labels('daily'))];
    registry.gauge({
      name: 'tributary_remotewrite_series_limit_max_series',
      help: 'The configured limit of distinct series per hour or day.',
      labelNames: ['limit'],
      collect: (g) => {
        for (const w of this.windows) g.labels(w.name).set(w.max);
      },
    });
    registry.gauge({
      name: 'tributary_remotewrite_series_limit_current_series',
      help: 'Distinct series sent within the last hour or day (as far as the limit tracks them).',
      labelNames: ['limit'],
      collect: (g) => {
        for (const w of this.windows) g.labels(w.name).set(w.seen.size);
      },
    });
  }

  /** The limits (at start and on reload); a window keeps the series it tracks while its limit stays set. */
  configure(limits: Limits): void {
    const [hourly, daily] = this.all;
    hourly.max = limits.max_hourly_series;
    daily.max = limits.max_daily_series;
    for (const w of this.all) if (w.max === 0) w.seen.clear();
    this.windows = this.all.filter((w) => w.max > 0);
  }

  get enabled(): boolean {
    return this.windows.length > 0;
  }

  /** The samples of `batch` whose series are within the limits: `batch` itself when all are, else `into`. */
  filter(batch: SampleBatch, into: SampleBatch): SampleBatch {
    const now = this.now();
    let copying = false;
    for (let i = 0; i < batch.length; i++) {
      const labels = batch.series[i];
      const refused = this.refuses(labels, now);
      if (!refused) {
        if (copying) into.appendFrom(batch, i, labels);
        continue;
      }
      refused.dropped.inc();
      this.report(refused, labels, now);
      if (!copying) {
        copying = true;
        into.reset();
        for (let j = 0; j < i; j++) into.appendFrom(batch, j, batch.series[j]);
      }
    }
    return copying ? into : batch;
  }

  /** The window that refuses the series, or undefined (then it is counted in every window). */
  private refuses(labels: Labels, now: number): Window | undefined {
    const h = labels.hash;
    for (const w of this.windows) if (w.allows(h, now) === 'full') return w;
    for (const w of this.windows) w.touch(h, now);
    return undefined;
  }

  private report(w: Window, labels: Labels, now: number): void {
    if (now - this.lastLog < LOG_EVERY_MS) {
      this.unlogged++;
      return;
    }
    this.log.warn(`series dropped: max_${w.name}_series reached`, {
      limit: w.max,
      example: labels.toString(),
      ...(this.unlogged > 0 ? { more_samples_dropped_since_last_line: this.unlogged } : {}),
    });
    this.lastLog = now;
    this.unlogged = 0;
  }
}
