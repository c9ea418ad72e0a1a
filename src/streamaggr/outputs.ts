/**
 * The outputs of a stream aggregation rule, as a table (as the relabel actions are): each
 * output's name, what state it keeps per output group and what it needs per input series. An
 * output group's numbers live in one Float64Array (each output at its offset, the saved ones
 * first, then scratch kept in memory only), its sets, reservoirs and buckets in the rule's table
 * by group and output; one function per step — a sample in, a flush out, the state
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
  /** Float64 slots per group, saved in the state. */
  readonly slots: number;
  /** Float64 slots per group kept in memory only (a cache; a fresh group's zeros are valid). */
  readonly scratch: number;
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

/** One sample of an input series and what the rule worked out for it. */
export interface SampleContext {
  v: number;
  /** Its timestamp. */
  ts: number;
  /** The counter's increase counting a new series from 0 (`total`, `increase`); NaN: none. */
  deltaFromZero: number;
  /** The increase skipping a new series' first sample (`*_prometheus`); NaN: none. */
  deltaPrometheus: number;
  /** The input series' first sample in this interval (`count_series`). */
  firstInInterval: boolean;
}

/** At a flush, once per output series; `label` is the extra label (quantile, vmrange). */
export type Emit = (value: number, label?: string, labelValue?: string) => void;

const SLOTS: readonly number[] = [1, 1, 1, 1, 2, 2, 1, 1, 0, 2, 3, 2, 2, 2, 3, 3, 0, 1];

export function outputKind(spec: OutputSpec): OutputKind {
  const op = OP[spec.kind];
  const base = {
    op,
    suffix: spec.kind,
    slots: SLOTS[op],
    scratch: op === OP.histogram_bucket ? BUCKET_SCRATCH : 0,
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

/**
 * One sample into an output of a group: its numbers at `f[o]…`, its scratch slots at `f[s]…`,
 * its set, reservoir or buckets at `x[k]`.
 */
export function addSample(kind: OutputKind, f: Float64Array, o: number, s: number, x: unknown[], k: number, c: SampleContext): void {
  const v = c.v;
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
      if (f[o + 2] === 0 || c.ts >= f[o + 1]) {
        f[o] = v;
        f[o + 1] = c.ts;
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
      // most samples land in the bucket of the one before: counted in the group's numbers, not its map
      if (f[s] !== 0 && v >= f[s + 1] && v <= f[s + 2]) {
        f[s + 3]++;
        return;
      }
      const b = bucketOf(v);
      if (b === undefined) return;
      if (f[s] === b + BUCKET_BIAS) {
        if (v < f[s + 1]) f[s + 1] = v;
        else f[s + 2] = v;
      } else {
        settle(f, s, x, k);
        f[s] = b + BUCKET_BIAS;
        f[s + 1] = f[s + 2] = v;
      }
      f[s + 3]++;
      return;
    }
    case OP.quantiles: {
      const seen = ++f[o];
      let a = x[k] as Float64Array | undefined;
      // a uniform reservoir past MAX_QUANTILE_SAMPLES, as VictoriaMetrics' histogram.Fast
      if (seen <= MAX_QUANTILE_SAMPLES) {
        if (a === undefined || a.length < seen) x[k] = a = grown(a, seen);
        a[seen - 1] = v;
      } else {
        const j = Math.floor(Math.random() * seen);
        if (j < MAX_QUANTILE_SAMPLES) a![j] = v;
      }
      return;
    }
  }
}

/** A reservoir with room for `n`: kept from one interval to the next, so grown seldom. */
function grown(a: Float64Array | undefined, n: number): Float64Array {
  const next = new Float64Array(Math.min(MAX_QUANTILE_SAMPLES, Math.max(16, n, 2 * (a?.length ?? 0))));
  if (a) next.set(a);
  return next;
}

/** How many samples a group's reservoir holds (`seen` = f[o]). */
const held = (seen: number) => Math.min(seen, MAX_QUANTILE_SAMPLES);

/**
 * `histogram_bucket`'s scratch: the bucket last counted (its index + BUCKET_BIAS, 0: none), the
 * lowest and highest values seen in it — a value between them is in it without a logarithm,
 * since the bucket grows with the value — and the samples counted there not yet in the map.
 */
const BUCKET_SCRATCH = 4;
const BUCKET_BIAS = 2;

/** The samples the scratch holds, into the group's bucket counts. */
function settle(f: Float64Array, s: number, x: unknown[], k: number): void {
  if (f[s + 3] === 0) return;
  ((x[k] ??= new BucketCounts()) as BucketCounts).add(f[s] - BUCKET_BIAS, f[s + 3]);
  f[s + 3] = 0;
}

/** A group's `histogram_bucket` counts by bucket, in ascending order (so a flush needs no sort). */
class BucketCounts {
  readonly ids: number[] = [];
  readonly counts: number[] = [];

  add(b: number, n: number): void {
    const ids = this.ids;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid] < b) lo = mid + 1;
      else hi = mid;
    }
    if (ids[lo] === b) this.counts[lo] += n;
    else {
      ids.splice(lo, 0, b);
      this.counts.splice(lo, 0, n);
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
export function flushOutput(kind: OutputKind, f: Float64Array, o: number, s: number, x: unknown[], k: number, emit: Emit): void {
  switch (kind.op) {
    case OP.total:
    case OP.total_prometheus:
      emit(f[o]);
      return;
    case OP.increase:
    case OP.increase_prometheus:
      emit(f[o]);
      f[o] = 0;
      return;
    case OP.count_series:
    case OP.count_samples:
      if (f[o] > 0) emit(f[o]);
      f[o] = 0;
      return;
    // a value and how many went into it (samples, or series for the rates)
    case OP.rate_sum:
    case OP.rate_avg:
    case OP.sum_samples:
    case OP.min:
    case OP.max:
    case OP.avg:
      if (f[o + 1] > 0) emit(kind.op === OP.avg || kind.op === OP.rate_avg ? f[o] / f[o + 1] : f[o]);
      f[o] = 0;
      f[o + 1] = 0;
      return;
    case OP.last:
      if (f[o + 2] > 0) emit(f[o]);
      f[o + 2] = 0;
      return;
    case OP.stddev:
    case OP.stdvar:
      if (f[o] > 0) {
        const variance = f[o + 2] / f[o];
        emit(kind.op === OP.stddev ? Math.sqrt(variance) : variance);
      }
      f[o] = f[o + 1] = f[o + 2] = 0;
      return;
    case OP.unique_samples: {
      const set = x[k] as Set<number> | undefined;
      if (set && set.size > 0) emit(set.size);
      x[k] = undefined;
      return;
    }
    case OP.histogram_bucket: {
      settle(f, s, x, k);
      const h = x[k] as BucketCounts | undefined;
      if (h) for (let i = 0; i < h.ids.length; i++) emit(h.counts[i], 'vmrange', vmrange(h.ids[i]));
      return;
    }
    case OP.quantiles: {
      const n = held(f[o]);
      if (n > 0) {
        // the typed array's own sort: numeric, and no comparator called from native code
        const sorted = (x[k] as Float64Array).subarray(0, n).sort();
        for (let i = 0; i < kind.phis!.length; i++) emit(quantile(kind.phis![i], sorted), 'quantile', kind.phiLabels![i]);
      }
      f[o] = 0;
      return;
    }
  }
}

/** φ-quantile of sorted `a` (not empty), VictoriaMetrics' nearest-rank rule: no interpolation. */
export function quantile(phi: number, a: ArrayLike<number>): number {
  const n = a.length;
  if (phi <= 0) return a[0];
  if (phi >= 1) return a[n - 1];
  return a[Math.min(n - 1, Math.floor(phi * (n - 1) + 0.5))];
}

/** The part of output `k`'s state outside the numbers `f[o]…` (sets, reservoirs, buckets). */
export function saveExtra(kind: OutputKind, f: Float64Array, o: number, s: number, x: unknown[], k: number, w: StateWriter): void {
  switch (kind.op) {
    case OP.unique_samples: {
      const values = x[k] === undefined ? [] : [...(x[k] as Set<number>)];
      w.u32(values.length);
      w.f64s(values, values.length);
      return;
    }
    case OP.quantiles: {
      const n = x[k] === undefined ? 0 : held(f[o]);
      w.u32(n);
      if (n > 0) w.f64s(x[k] as Float64Array, n);
      return;
    }
    case OP.histogram_bucket: {
      settle(f, s, x, k);
      const h = x[k] as BucketCounts | undefined;
      const n = h?.ids.length ?? 0;
      w.u32(n);
      for (let i = 0; i < n; i++) {
        w.f64(h!.ids[i]);
        w.f64(h!.counts[i]);
      }
      return;
    }
  }
}

export function loadExtra(kind: OutputKind, x: unknown[], k: number, r: StateReader): void {
  switch (kind.op) {
    case OP.unique_samples: {
      const values: number[] = new Array<number>(r.u32());
      r.f64s(values, values.length);
      if (values.length > 0) x[k] = new Set(values);
      return;
    }
    case OP.quantiles: {
      const n = r.u32();
      if (n > MAX_QUANTILE_SAMPLES) throw new Error(`a quantile reservoir of ${n} samples (at most ${MAX_QUANTILE_SAMPLES})`);
      const a = new Float64Array(n);
      r.f64s(a, n);
      if (n > 0) x[k] = a;
      return;
    }
    case OP.histogram_bucket: {
      const n = r.u32();
      if (n === 0) return;
      const h = new BucketCounts();
      for (let i = 0; i < n; i++) h.add(r.f64(), r.f64());
      x[k] = h;
      return;
    }
  }
}
