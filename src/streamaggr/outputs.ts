/**
 * The outputs of a stream aggregation rule, one small class per output in a table (as the
 * relabel actions are): each keeps the state of one output series group — the samples' sum,
 * their count, the running total — takes the samples the rule routes to the group, and at a
 * flush says its value(s) and what it keeps for the next interval. Counter arithmetic (resets,
 * the first sample of a series, out-of-order samples) is done once per sample by the rule and
 * handed in as `SampleContext`, since several outputs of a rule share it.
 */

import type { OutputSpec } from '../config/stream-aggr-outputs.js';
import { bucketOf, vmrange } from './vmrange.js';

/** What the rule worked out for one sample of an input series. */
export interface SampleContext {
  /** The counter's increase counting a new series from 0 (`total`, `increase`); NaN: none. */
  deltaFromZero: number;
  /** The increase skipping a new series' first sample (`*_prometheus`); NaN: none. */
  deltaPrometheus: number;
  /** The input series' first sample in this interval (`count_series`). */
  firstInInterval: boolean;
}

/** Called once per output series at a flush; `label` is the extra label (quantile, vmrange). */
export type Emit = (value: number, label?: string, labelValue?: string) => void;

export interface OutputState {
  add(v: number, ts: number, c: SampleContext): void;
  /** Says the value(s) of the interval ending now and starts the next one. */
  flush(emit: Emit): void;
  /** True when the state outlives intervals (running totals): kept until the group is stale. */
  readonly lasting: boolean;
  save(): unknown;
  load(saved: unknown): void;
}

export interface OutputKind {
  /** The last part of the output name (`…:1m_<suffix>`). */
  readonly suffix: string;
  /** Needs per-input-series state (last values, series seen). */
  readonly perInput: boolean;
  /** Reads the counter arithmetic of SampleContext (total*, increase*, rate_*). */
  readonly counter?: boolean;
  /** Reads the rate pass the rule runs before a flush (`rate_sum`, `rate_avg`). */
  readonly rate?: boolean;
  create(): OutputState;
}

const num = (x: unknown): number => (typeof x === 'number' ? x : x === null ? NaN : Number(x));

class Total implements OutputState {
  readonly lasting: boolean;
  private total = 0;
  constructor(
    private readonly prometheus: boolean,
    private readonly reset: boolean,
  ) {
    this.lasting = !reset;
  }
  add(_v: number, _ts: number, c: SampleContext): void {
    const d = this.prometheus ? c.deltaPrometheus : c.deltaFromZero;
    if (d === d) {
      this.total += d;
      // past 2^53 a float counter stops counting (VictoriaMetrics starts it again at 0)
      if (Math.abs(this.total) >= 2 ** 53) this.total = 0;
    }
  }
  flush(emit: Emit): void {
    emit(this.total);
    if (this.reset) this.total = 0;
  }
  save(): unknown {
    return this.total;
  }
  load(s: unknown): void {
    this.total = num(s) || 0;
  }
}

/** Receives the rule's rate pass: one rate per input series with two samples in reach. */
export class RateState implements OutputState {
  readonly lasting = false;
  sum = 0;
  series = 0;
  constructor(private readonly avg: boolean) {}
  add(): void {}
  flush(emit: Emit): void {
    if (this.series > 0) emit(this.avg ? this.sum / this.series : this.sum);
    this.sum = 0;
    this.series = 0;
  }
  save(): unknown {
    return null;
  }
  load(): void {}
}

/** count_samples, sum_samples, min, max, avg, last, count_series: one number per interval. */
class Simple implements OutputState {
  readonly lasting = false;
  private n = 0;
  private acc = 0;
  private ts = -Infinity;
  constructor(private readonly op: 'count' | 'sum' | 'min' | 'max' | 'avg' | 'last' | 'series') {}
  add(v: number, ts: number, c: SampleContext): void {
    switch (this.op) {
      case 'count':
        this.acc++;
        break;
      case 'sum':
      case 'avg':
        this.acc += v;
        break;
      case 'min':
        if (this.n === 0 || v < this.acc) this.acc = v;
        break;
      case 'max':
        if (this.n === 0 || v > this.acc) this.acc = v;
        break;
      case 'last':
        if (ts >= this.ts) {
          this.acc = v;
          this.ts = ts;
        }
        break;
      case 'series':
        if (c.firstInInterval) this.acc++;
        break;
    }
    this.n++;
  }
  flush(emit: Emit): void {
    if (this.n > 0) emit(this.op === 'avg' ? this.acc / this.n : this.acc);
    this.n = 0;
    this.acc = 0;
    this.ts = -Infinity;
  }
  save(): unknown {
    return this.n === 0 ? null : [this.n, this.acc, this.ts === -Infinity ? null : this.ts];
  }
  load(s: unknown): void {
    if (!Array.isArray(s)) return;
    this.n = num(s[0]);
    this.acc = num(s[1]);
    this.ts = s[2] === null ? -Infinity : num(s[2]);
  }
}

/** stddev and stdvar: Welford's running mean and sum of squares, the population's variance. */
class Variance implements OutputState {
  readonly lasting = false;
  private n = 0;
  private mean = 0;
  private m2 = 0;
  constructor(private readonly sqrt: boolean) {}
  add(v: number): void {
    this.n++;
    const d = v - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (v - this.mean);
  }
  flush(emit: Emit): void {
    if (this.n > 0) {
      const variance = this.m2 / this.n;
      emit(this.sqrt ? Math.sqrt(variance) : variance);
    }
    this.n = 0;
    this.mean = 0;
    this.m2 = 0;
  }
  save(): unknown {
    return this.n === 0 ? null : [this.n, this.mean, this.m2];
  }
  load(s: unknown): void {
    if (!Array.isArray(s)) return;
    [this.n, this.mean, this.m2] = s.map(num);
  }
}

class Unique implements OutputState {
  readonly lasting = false;
  private values = new Set<number>();
  add(v: number): void {
    this.values.add(v);
  }
  flush(emit: Emit): void {
    if (this.values.size > 0) emit(this.values.size);
    this.values.clear();
  }
  save(): unknown {
    return this.values.size === 0 ? null : [...this.values];
  }
  load(s: unknown): void {
    if (Array.isArray(s)) for (const v of s) this.values.add(num(v));
  }
}

/** At most this many samples per group and interval are kept for quantiles; more are sampled. */
export const MAX_QUANTILE_SAMPLES = 1000;

/**
 * quantiles(φ…): the interval's samples (a uniform reservoir of MAX_QUANTILE_SAMPLES past that,
 * as VictoriaMetrics' histogram.Fast keeps), and its rule for the quantile: the sample nearest
 * rank φ·(n−1), no interpolation; φ 0 is the minimum and 1 the maximum.
 */
class Quantiles implements OutputState {
  readonly lasting = false;
  private samples: number[] = [];
  private seen = 0;
  private readonly labels: string[];
  constructor(private readonly phis: readonly number[]) {
    this.labels = phis.map(String);
  }
  add(v: number): void {
    this.seen++;
    if (this.samples.length < MAX_QUANTILE_SAMPLES) this.samples.push(v);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < MAX_QUANTILE_SAMPLES) this.samples[j] = v;
    }
  }
  flush(emit: Emit): void {
    const a = this.samples;
    if (a.length > 0) {
      a.sort((x, y) => x - y);
      for (let k = 0; k < this.phis.length; k++) emit(quantile(this.phis[k], a), 'quantile', this.labels[k]);
    }
    this.samples = [];
    this.seen = 0;
  }
  save(): unknown {
    return this.samples.length === 0 ? null : [this.seen, this.samples];
  }
  load(s: unknown): void {
    if (!Array.isArray(s) || !Array.isArray(s[1])) return;
    this.seen = num(s[0]);
    this.samples = s[1].map(num);
  }
}

/** φ-quantile of sorted `a` (not empty), VictoriaMetrics' nearest-rank rule. */
export function quantile(phi: number, a: readonly number[]): number {
  const n = a.length;
  if (phi <= 0) return a[0];
  if (phi >= 1) return a[n - 1];
  return a[Math.min(n - 1, Math.floor(phi * (n - 1) + 0.5))];
}

/**
 * histogram_bucket: how many samples fell in each vmrange bucket since the group appeared —
 * counters, as VictoriaMetrics' (never reset; gone with the group when it goes stale).
 */
class HistogramBucket implements OutputState {
  readonly lasting = true;
  private counts = new Map<number, number>();
  add(v: number): void {
    const b = bucketOf(v);
    if (b !== undefined) this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
  }
  flush(emit: Emit): void {
    const buckets = [...this.counts.keys()].sort((x, y) => x - y);
    for (const b of buckets) emit(this.counts.get(b)!, 'vmrange', vmrange(b));
  }
  save(): unknown {
    return this.counts.size === 0 ? null : [...this.counts];
  }
  load(s: unknown): void {
    if (Array.isArray(s)) for (const e of s) if (Array.isArray(e)) this.counts.set(num(e[0]), num(e[1]));
  }
}


export function outputKind(spec: OutputSpec): OutputKind {
  if (spec.kind === 'quantiles') {
    const phis = spec.phis;
    return { suffix: 'quantiles', perInput: false, create: () => new Quantiles(phis) };
  }
  return PLAIN[spec.kind];
}

const plain = (suffix: string, create: () => OutputState, perInput = false): OutputKind => ({ suffix, perInput, create });
const counter = (suffix: string, create: () => OutputState, rate = false): OutputKind => ({ suffix, perInput: true, counter: true, rate, create });

const PLAIN: Record<Exclude<OutputSpec['kind'], 'quantiles'>, OutputKind> = {
  total: counter('total', () => new Total(false, false)),
  total_prometheus: counter('total_prometheus', () => new Total(true, false)),
  increase: counter('increase', () => new Total(false, true)),
  increase_prometheus: counter('increase_prometheus', () => new Total(true, true)),
  rate_sum: counter('rate_sum', () => new RateState(false), true),
  rate_avg: counter('rate_avg', () => new RateState(true), true),
  count_series: plain('count_series', () => new Simple('series'), true),
  count_samples: plain('count_samples', () => new Simple('count')),
  unique_samples: plain('unique_samples', () => new Unique()),
  sum_samples: plain('sum_samples', () => new Simple('sum')),
  last: plain('last', () => new Simple('last')),
  min: plain('min', () => new Simple('min')),
  max: plain('max', () => new Simple('max')),
  avg: plain('avg', () => new Simple('avg')),
  stddev: plain('stddev', () => new Variance(true)),
  stdvar: plain('stdvar', () => new Variance(false)),
  histogram_bucket: plain('histogram_bucket', () => new HistogramBucket()),
};
