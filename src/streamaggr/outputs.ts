/**
 * The outputs of a stream aggregation rule, as a table (as the relabel actions are): each
 * output's name, what state it keeps per output group and what it needs per input series. An
 * output group's numbers live in one Float64Array (each output at its offset), its sets,
 * reservoirs and buckets beside it; one function per step — a sample in, a flush out, the state
 * saved and read back — switches on the output, so the sample path is one monomorphic loop
 * rather than a call per output object. Counter arithmetic (resets, a new series' first
 * sample, out-of-order samples) is done once per sample by the rule and handed in as
 * `SampleContext`, since several outputs of a rule share it.
 */

import type { OutputSpec } from '../config/stream-aggr-outputs.js';
import type { StateReader, StateWriter } from './state-codec.js';
import { bucketOf, vmrange } from './vmrange.js';

export const OP = {
  total: 0,
  total_prometheus: 1,
  increase: 2,
  increase_prometheus: 3,
  rate_sum: 4,
  rate_avg: 5,
  count_series: 6,
  count_samples: 7,
  unique_samples: 8,
  sum_samples: 9,
  last: 10,
  min: 11,
  max: 12,
  avg: 13,
  stddev: 14,
  stdvar: 15,
  histogram_bucket: 16,
  quantiles: 17,
} as const;

export interface OutputKind {
  readonly op: number;
  /** The last part of the output name (`…:1m_<suffix>`). */
  readonly suffix: string;
  /** Float64 slots per group. */
  readonly slots: number;
  /** Reads the counter arithmetic of SampleContext, kept per input series (total*, increase*, rate_*). */
  readonly counter: boolean;
  /** Filled by the rule's rate pass before a flush. */
  readonly rate: boolean;
  /** Counts input series (count_series). */
  readonly series: boolean;
  /** Keeps more than numbers per group (a set, a reservoir, buckets). */
  readonly extra: boolean;
  readonly phis?: readonly number[];
  readonly phiLabels?: readonly string[];
}

/** What the rule worked out for one sample of an input series. */
export interface SampleContext {
  /** The counter's increase counting a new series from 0 (`total`, `increase`); NaN: none. */
  deltaFromZero: number;
  /** The increase skipping a new series' first sample (`*_prometheus`); NaN: none. */
  deltaPrometheus: number;
  /** The input series' first sample in this interval (`count_series`). */
  firstInInterval: boolean;
}

/** At a flush, once per output series; `label` is the extra label (quantile, vmrange). */
export type Emit = (k: number, value: number, label?: string, labelValue?: string) => void;

const SLOTS: readonly number[] = [1, 1, 1, 1, 2, 2, 1, 1, 0, 2, 3, 2, 2, 2, 3, 3, 0, 1];

export function outputKind(spec: OutputSpec): OutputKind {
  const op = OP[spec.kind];
  const base = {
    op,
    suffix: spec.kind,
    slots: SLOTS[op],
    counter: op <= OP.rate_avg,
    rate: op === OP.rate_sum || op === OP.rate_avg,
    series: op === OP.count_series,
    extra: op === OP.unique_samples || op === OP.histogram_bucket || op === OP.quantiles,
  };
  if (spec.kind !== 'quantiles') return base;
  // the label as Go's strconv.FormatFloat(φ, 'g', -1) writes it
  return { ...base, phis: spec.phis, phiLabels: spec.phis.map((p) => String(p).replace(/e([+-])(\d)$/, 'e$10$2')) };
}

/** At most this many samples per group and interval are kept for quantiles; more are sampled. */
export const MAX_QUANTILE_SAMPLES = 1000;
const TWO_53 = 2 ** 53;

/** One sample into output `k` (state at `f[o]…`, `x[k]`) of a group. */
export function addSample(kind: OutputKind, f: Float64Array, o: number, x: unknown[], k: number, v: number, ts: number, c: SampleContext): void {
  switch (kind.op) {
    case OP.total:
    case OP.increase:
    case OP.total_prometheus:
    case OP.increase_prometheus: {
      const d = kind.op === OP.total || kind.op === OP.increase ? c.deltaFromZero : c.deltaPrometheus;
      if (d === d) {
        const t = f[o] + d;
        // past 2^53 a float counter stops counting (VictoriaMetrics starts it again at 0)
        f[o] = t >= TWO_53 || t <= -TWO_53 ? 0 : t;
      }
      return;
    }
    case OP.rate_sum:
    case OP.rate_avg:
      return;
    case OP.count_series:
      if (c.firstInInterval) f[o]++;
      return;
    case OP.count_samples:
      f[o]++;
      return;
    case OP.sum_samples:
    case OP.avg:
      f[o] += v;
      f[o + 1]++;
      return;
    case OP.last:
      if (f[o + 2] === 0 || ts >= f[o + 1]) {
        f[o] = v;
        f[o + 1] = ts;
      }
      f[o + 2]++;
      return;
    case OP.min:
      if (f[o + 1] === 0 || v < f[o]) f[o] = v;
      f[o + 1]++;
      return;
    case OP.max:
      if (f[o + 1] === 0 || v > f[o]) f[o] = v;
      f[o + 1]++;
      return;
    case OP.stddev:
    case OP.stdvar: {
      // Welford: count, running mean, sum of squared differences
      const n = ++f[o];
      const d = v - f[o + 1];
      f[o + 1] += d / n;
      f[o + 2] += d * (v - f[o + 1]);
      return;
    }
    case OP.unique_samples:
      ((x[k] ??= new Set<number>()) as Set<number>).add(v);
      return;
    case OP.histogram_bucket: {
      const b = bucketOf(v);
      if (b === undefined) return;
      const m = (x[k] ??= new Map<number, number>()) as Map<number, number>;
      m.set(b, (m.get(b) ?? 0) + 1);
      return;
    }
    case OP.quantiles: {
      const a = (x[k] ??= []) as number[];
      const seen = ++f[o];
      // a uniform reservoir past MAX_QUANTILE_SAMPLES, as VictoriaMetrics' histogram.Fast
      if (a.length < MAX_QUANTILE_SAMPLES) a.push(v);
      else {
        const j = Math.floor(Math.random() * seen);
        if (j < MAX_QUANTILE_SAMPLES) a[j] = v;
      }
      return;
    }
  }
}

/** Rate pass: one input series' rate into a rate output. */
export function addRate(f: Float64Array, o: number, rate: number): void {
  f[o] += rate;
  f[o + 1]++;
}

/**
 * Says output `k`'s value(s) for the interval ending now and starts the next one; running
 * totals and histogram buckets carry on (they end with their group, when it goes stale).
 */
export function flushOutput(kind: OutputKind, f: Float64Array, o: number, x: unknown[], k: number, emit: Emit): void {
  switch (kind.op) {
    case OP.total:
    case OP.total_prometheus:
      emit(k, f[o]);
      return;
    case OP.increase:
    case OP.increase_prometheus:
      emit(k, f[o]);
      f[o] = 0;
      return;
    case OP.count_series:
    case OP.count_samples:
      if (f[o] > 0) emit(k, f[o]);
      f[o] = 0;
      return;
    // a value and how many went into it (samples, or series for the rates)
    case OP.rate_sum:
    case OP.rate_avg:
    case OP.sum_samples:
    case OP.min:
    case OP.max:
    case OP.avg:
      if (f[o + 1] > 0) emit(k, kind.op === OP.avg || kind.op === OP.rate_avg ? f[o] / f[o + 1] : f[o]);
      f[o] = 0;
      f[o + 1] = 0;
      return;
    case OP.last:
      if (f[o + 2] > 0) emit(k, f[o]);
      f[o + 2] = 0;
      return;
    case OP.stddev:
    case OP.stdvar:
      if (f[o] > 0) {
        const variance = f[o + 2] / f[o];
        emit(k, kind.op === OP.stddev ? Math.sqrt(variance) : variance);
      }
      f[o] = f[o + 1] = f[o + 2] = 0;
      return;
    case OP.unique_samples: {
      const s = x[k] as Set<number> | undefined;
      if (s && s.size > 0) emit(k, s.size);
      x[k] = undefined;
      return;
    }
    case OP.histogram_bucket: {
      const m = x[k] as Map<number, number> | undefined;
      if (!m) return;
      for (const b of [...m.keys()].sort((p, q) => p - q)) emit(k, m.get(b)!, 'vmrange', vmrange(b));
      return;
    }
    case OP.quantiles: {
      const a = x[k] as number[] | undefined;
      if (a && a.length > 0) {
        a.sort((p, q) => p - q);
        kind.phis!.forEach((phi, i) => emit(k, quantile(phi, a), 'quantile', kind.phiLabels![i]));
      }
      x[k] = undefined;
      f[o] = 0;
      return;
    }
  }
}

/** φ-quantile of sorted `a` (not empty), VictoriaMetrics' nearest-rank rule: no interpolation. */
export function quantile(phi: number, a: readonly number[]): number {
  const n = a.length;
  if (phi <= 0) return a[0];
  if (phi >= 1) return a[n - 1];
  return a[Math.min(n - 1, Math.floor(phi * (n - 1) + 0.5))];
}

/** The part of output `k`'s state outside the numbers (sets, reservoirs, buckets). */
export function saveExtra(kind: OutputKind, x: unknown[], k: number, w: StateWriter): void {
  switch (kind.op) {
    case OP.unique_samples:
    case OP.quantiles: {
      const values = x[k] === undefined ? [] : [...(x[k] as Iterable<number>)];
      w.u32(values.length);
      w.f64s(values, values.length);
      return;
    }
    case OP.histogram_bucket: {
      const m = (x[k] as Map<number, number> | undefined) ?? new Map<number, number>();
      w.u32(m.size);
      for (const [b, n] of m) {
        w.f64(b);
        w.f64(n);
      }
      return;
    }
  }
}

export function loadExtra(kind: OutputKind, x: unknown[], k: number, r: StateReader): void {
  switch (kind.op) {
    case OP.unique_samples:
    case OP.quantiles: {
      const values: number[] = new Array<number>(r.u32());
      r.f64s(values, values.length);
      if (values.length > 0) x[k] = kind.op === OP.quantiles ? values : new Set(values);
      return;
    }
    case OP.histogram_bucket: {
      const n = r.u32();
      if (n === 0) return;
      const m = new Map<number, number>();
      for (let i = 0; i < n; i++) m.set(r.f64(), r.f64());
      x[k] = m;
      return;
    }
  }
}
