/**
 * Deduplication of every sample (a `dedup_interval` with no rules, vmagent's Deduplicator): of
 * the samples of one series within each interval, the one VictoriaMetrics keeps — the latest
 * timestamp, the larger value on a tie (a staleness marker wins a tie) — is passed on at the
 * interval's end with its own timestamp and labels, so an HA pair of agents sends what one
 * would. The samples held are part of the saved state: accepted, so never dropped by a restart.
 */

import { Labels } from '../model/labels.js';
import { unpackLabels } from '../model/labels-packed.js';
import type { SampleBatch } from '../model/samples.js';
import type { StateReader, StateWriter } from './state-codec.js';

export class Deduplicator {
  private readonly index = new Map<string, number>();
  private series: Labels[] = [];
  private values: number[] = [];
  private timestamps: number[] = [];
  private stale: boolean[] = [];
  next: number;

  constructor(
    readonly intervalMs: number,
    now: number,
  ) {
    this.next = (Math.floor(now / intervalMs) + 1) * intervalMs;
  }

  get size(): number {
    return this.series.length;
  }

  add(batch: SampleBatch): void {
    for (let i = 0; i < batch.length; i++) this.put(batch.series[i], batch.values[i], batch.timestamps[i], batch.isStale(i));
  }

  private put(labels: Labels, v: number, ts: number, stale: boolean): void {
    const j = this.index.get(labels.key);
    if (j === undefined) {
      this.index.set(labels.key, this.series.length);
      this.series.push(labels);
      this.values.push(v);
      this.timestamps.push(ts);
      this.stale.push(stale);
      return;
    }
    const pts = this.timestamps[j];
    if (ts > pts || (ts === pts && (stale || (!this.stale[j] && v > this.values[j])))) {
      this.series[j] = labels;
      this.values[j] = v;
      this.timestamps[j] = ts;
      this.stale[j] = stale;
    }
  }

  /** At the interval's end: the chosen samples into `out`, and a new interval. */
  advance(now: number, out: SampleBatch): void {
    if (now < this.next) return;
    this.drain(out);
    this.next = (Math.floor(now / this.intervalMs) + 1) * this.intervalMs;
  }

  /** Everything held, now (at a stop when no state can be written). */
  drain(out: SampleBatch): void {
    for (let j = 0; j < this.series.length; j++) {
      if (this.stale[j]) out.appendStale(this.series[j], this.timestamps[j]);
      else out.append(this.series[j], this.values[j], this.timestamps[j]);
    }
    this.index.clear();
    this.series = [];
    this.values = [];
    this.timestamps = [];
    this.stale = [];
  }

  save(w: StateWriter): void {
    w.u32(this.series.length);
    for (let j = 0; j < this.series.length; j++) {
      w.latin1(this.series[j].key);
      w.f64(this.timestamps[j]);
      w.f64(this.values[j]);
      w.u32(this.stale[j] ? 1 : 0);
    }
  }

  load(r: StateReader): void {
    for (let n = r.u32(), i = 0; i < n; i++) {
      const labels = Labels.fromSortedFlat(unpackLabels(r.latin1()));
      labels.pack();
      const ts = r.f64();
      const v = r.f64();
      this.put(labels, v, ts, r.u32() === 1);
    }
  }
}
