/**
 * OTLP metrics to Prometheus series, as Prometheus' OTLP translator makes them — the half of
 * the OTLP parser that both wire decoders (protobuf, JSON) share. It owns the per-series caches:
 * a resource (by its raw bytes) is turned into `job`/`instance` and its `target_info` once, a
 * metric's name normalized once, and a data point's attributes (by their raw bytes) into the
 * `Labels` of every series the point makes (a histogram's `_bucket{le}`s, `_sum`, `_count`)
 * once; a point sent again costs one lookup by its attribute bytes, and no labels are built.
 *
 * - gauge → gauge; sum: monotonic → counter `<name>_total`, non-monotonic → gauge;
 * - histogram → `_bucket{le}` (cumulative, `+Inf` = count), `_sum` (when sent), `_count`;
 * - exponential histogram → classic buckets, one per exponential bucket at its upper boundary
 *   (negative buckets, the zero bucket at `le=<zero_threshold>`, positive buckets, `+Inf`): no
 *   count moves to another bucket, so nothing is lost but the resolution between boundaries
 *   (a point with more than an SDK's 160 buckets a side is first halved in scale until it fits);
 * - summary → `{quantile}`, `_sum`, `_count`;
 * - delta sums and histograms: refused (`unsupported`), or added up per series in a `DeltaTable`
 *   (exponential ones as exponential buckets at the lowest scale seen, `ExpTotals`);
 * - a point flagged NO_RECORDED_VALUE → a staleness marker on each of its series;
 * - resource `service.namespace/service.name` → `job`, `service.instance.id` → `instance`, the
 *   other resource attributes on `target_info` (value 1 at the resource's latest point);
 * - scope: Prometheus' default leaves it out; `promoteScope` adds `otel_scope_name`,
 *   `otel_scope_version`, `otel_scope_schema_url` and `otel_scope_<attr>` (its
 *   `promote_scope_metadata`).
 */

import { KeyedLabels } from '../../model/keyed-labels.js';
import { Labels, LabelsBuilder, METRIC_NAME } from '../../model/labels.js';
import type { RowSink } from '../rows/index.js';
import { labelName, metricName, type OtlpNameKind } from './names.js';

/** Where the rows go: a `RowSink` that takes staleness markers too. */
export interface OtlpSink extends RowSink {
  stale(labels: Labels, timestampMs: number): void;
}

/** Running totals of delta series, by output series (owned by the ingest glue, lives across requests). */
export interface DeltaTable {
  /** Adds `delta` to the series' total and returns the total. */
  add(series: Labels, delta: number): number;
  /** A series' state of another shape (an exponential histogram's buckets), made on first use. */
  slot<T extends object>(series: Labels, make: () => T): T;
}

/** Most buckets an added-up exponential histogram keeps per sign (the SDK's default max size): past that it halves its scale. */
const MAX_EXP_BUCKETS = 160;
const MIN_EXP_SCALE = -10;

function downscale(m: Map<number, number>, shift: number): Map<number, number> {
  if (shift <= 0) return m;
  const d = 2 ** shift;
  const out = new Map<number, number>();
  for (const [i, c] of m) {
    const j = Math.floor(i / d);
    out.set(j, (out.get(j) ?? 0) + c);
  }
  return out;
}

function spanOf(m: Map<number, number>): number {
  if (m.size === 0) return 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const i of m.keys()) {
    if (i < lo) lo = i;
    if (i > hi) hi = i;
  }
  return hi - lo + 1;
}

/**
 * A delta exponential histogram added up: its buckets by index at the lowest scale its deltas
 * had (a bucket at scale s is exactly two at s+1, so counts are moved, never split).
 */
export class ExpTotals {
  scale = Infinity;
  count = 0;
  sum = 0;
  zeroCount = 0;
  zeroThreshold = 0;
  pos = new Map<number, number>();
  neg = new Map<number, number>();

  add(count: number, sum: number, scale: number, zeroCount: number, zeroThreshold: number, posOffset: number, pos: ArrayLike<number>, np: number, negOffset: number, neg: ArrayLike<number>, nn: number): void {
    if (scale < this.scale) {
      if (this.scale !== Infinity) {
        this.pos = downscale(this.pos, this.scale - scale);
        this.neg = downscale(this.neg, this.scale - scale);
      }
      this.scale = scale;
    }
    const d = 2 ** (scale - this.scale);
    for (let k = 0; k < np; k++) {
      if (pos[k] === 0) continue;
      const j = Math.floor((posOffset + k) / d);
      this.pos.set(j, (this.pos.get(j) ?? 0) + pos[k]);
    }
    for (let k = 0; k < nn; k++) {
      if (neg[k] === 0) continue;
      const j = Math.floor((negOffset + k) / d);
      this.neg.set(j, (this.neg.get(j) ?? 0) + neg[k]);
    }
    this.count += count;
    this.sum += sum;
    this.zeroCount += zeroCount;
    if (zeroThreshold > this.zeroThreshold) this.zeroThreshold = zeroThreshold;
    while (this.scale > MIN_EXP_SCALE && (spanOf(this.pos) > MAX_EXP_BUCKETS || spanOf(this.neg) > MAX_EXP_BUCKETS)) {
      this.pos = downscale(this.pos, 1);
      this.neg = downscale(this.neg, 1);
      this.scale--;
    }
  }

  /** Buckets from the lowest index to the highest, empty ones between included: [offset, counts]. */
  dense(m: Map<number, number>): [number, number[]] {
    if (m.size === 0) return [0, []];
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of m.keys()) {
      if (i < lo) lo = i;
      if (i > hi) hi = i;
    }
    const out = new Array<number>(hi - lo + 1).fill(0);
    for (const [i, c] of m) out[i - lo] = c;
    return [lo, out];
  }
}

export interface OtlpOptions {
  /** Prometheus' suffixes (units, `_total`, `_ratio`); false keeps names as sent, only sanitized. */
  readonly prometheusNaming: boolean;
  /** Scope name, version, schema URL and attributes as `otel_scope_*` labels. */
  readonly promoteScope: boolean;
  /** Resource attributes also set on every series of the resource (not over a point's own attribute of the same name); `*`: all. */
  readonly promoteResourceAttributes?: readonly string[];
  /** Delta sums and histograms are added up here; refused when absent. */
  readonly delta?: DeltaTable;
}

/** OTLP's `DataPointFlags.FLAG_NO_RECORDED_VALUE`. */
export const FLAG_NO_RECORDED_VALUE = 1;

export const TEMPORALITY_DELTA = 1;
export const TEMPORALITY_CUMULATIVE = 2;

export type OtlpMetricType = 'gauge' | 'sum' | 'histogram' | 'exphistogram' | 'summary';

/** An attribute as a label would carry it: its key and its value as text. */
export type Attr = readonly [key: string, value: string];

class ResourceInfo {
  /** The latest timestamp of its points in the request being read, for `target_info`. */
  maxTs = 0;
  inRequest = false;
  constructor(
    readonly id: number,
    /** `job`, `instance` (set over the point's own attributes, as Prometheus does). */
    readonly identity: readonly string[],
    /** Promoted resource attributes, as flat label pairs (set under the point's own attributes). */
    readonly promoted: readonly string[],
    readonly targetInfo: Labels | undefined,
  ) {}
}

class ScopeInfo {
  constructor(
    readonly id: number,
    readonly labels: readonly string[],
  ) {}
}

class MetricInfo {
  /** Its points' series by their attributes' raw bytes (valid while `generation` is the converter's). */
  readonly points = new Map<string, PointSeries>();
  generation = 0;

  constructor(
    readonly name: string,
    readonly type: OtlpMetricType,
    /** Why its points are refused, or '' when they are taken. */
    readonly refusal: string,
    readonly delta: boolean,
  ) {}
}

/** Every series one data point makes, built the first time the point's attributes are seen. */
export class PointSeries {
  /** The gauge or counter; for histograms and summaries, `_sum`. */
  main: Labels;
  count: Labels | undefined;
  /** Histograms: `_bucket{le}` per explicit bound, for the bounds in `bounds`. */
  buckets: Labels[] | undefined;
  bounds: number[] | undefined;
  inf: Labels | undefined;
  /** Exponential histograms and summaries: by `le` or `quantile` text. */
  byText: Map<string, Labels> | undefined;

  constructor(
    readonly metric: MetricInfo,
    /** The point's labels without `__name__` (and without `le`/`quantile`). */
    readonly base: Labels,
  ) {
    this.main = Labels.EMPTY;
  }
}

/** Labels of one series of a point: its base with the name and maybe one more label. */
function withName(base: Labels, name: string, extra?: string, extraValue?: string): Labels {
  const lb = new LabelsBuilder().reset(base);
  lb.set(METRIC_NAME, name);
  if (extra !== undefined) lb.set(extra, extraValue!);
  return lb.build();
}

/** Go's `strconv.FormatFloat(v, 'f', -1, 64)`, as the translator writes `le` and `quantile`. */
export function formatFloat(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  // shortest digits, written without exponent
  const neg = s.startsWith('-');
  const mant = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mant.indexOf('.');
  const digits = dot < 0 ? mant : mant.slice(0, dot) + mant.slice(dot + 1);
  const point = (dot < 0 ? mant.length : dot) + exp;
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return (neg ? '-' : '') + out;
}

/** The upper boundary of exponential bucket `index` at `scale`: base^(index+1), base = 2^(2^-scale). */
export function expBucketBound(scale: number, index: number): number {
  return scale <= 0 ? Math.pow(2, (index + 1) * Math.pow(2, -scale)) : Math.pow(2, (index + 1) / Math.pow(2, scale));
}

/** Point series cached before all are dropped and made again (as `KeyedLabels`' default). */
const MAX_POINT_SERIES = 200_000;

export class OtlpConverter {
  private readonly resources = new KeyedLabels<ResourceInfo>(20_000);
  private readonly scopes = new KeyedLabels<ScopeInfo>(20_000);
  private readonly metrics = new KeyedLabels<MetricInfo>(100_000);
  /**
   * Points' series are kept per metric (a lookup by the attribute bytes alone, no key built per
   * point); all of them are dropped together once `MAX_POINT_SERIES` new ones were made since the
   * last drop, so churning series cannot grow the cache without bound.
   */
  private pointSeries = 0;
  private generation = 1;
  /** `le` texts of exponential buckets, by scale and index. */
  private readonly expLe = new Map<number, string>();
  private readonly lb = new LabelsBuilder();
  private nextId = 1;

  private resource: ResourceInfo | undefined;
  private scope: ScopeInfo | undefined;
  private metric: MetricInfo | undefined;
  /** Resources of the request being read, for their `target_info`. */
  private readonly seen: ResourceInfo[] = [];

  constructor(readonly opts: OtlpOptions) {}

  /** Enters a resource known by `key` (its raw bytes); `attrs` are read only the first time. */
  beginResource(key: string, attrs: () => Attr[]): void {
    let r = this.resources.get(key);
    if (r === undefined) {
      r = this.makeResource(attrs());
      this.resources.set(key, r);
    }
    this.resource = r;
    this.scope = undefined;
    this.metric = undefined;
    if (!r.inRequest) {
      r.inRequest = true;
      this.seen.push(r);
    }
  }

  private makeResource(attrs: Attr[]): ResourceInfo {
    let name: string | undefined;
    let ns: string | undefined;
    let inst: string | undefined;
    const rest: Attr[] = [];
    for (const a of attrs) {
      if (a[0] === 'service.name') name = a[1];
      else if (a[0] === 'service.namespace') ns = a[1];
      else if (a[0] === 'service.instance.id') inst = a[1];
      else rest.push(a);
    }
    const identity: string[] = [];
    if (name !== undefined && name !== '') identity.push('job', ns !== undefined && ns !== '' ? `${ns}/${name}` : name);
    if (inst !== undefined && inst !== '') identity.push('instance', inst);
    const promoted: string[] = [];
    const wanted = this.opts.promoteResourceAttributes;
    if (wanted !== undefined && wanted.length > 0) {
      const lb = this.lb.reset();
      const all = wanted.includes('*');
      this.setAttrs(lb, all ? rest : rest.filter((a) => wanted.includes(a[0])));
      lb.forEach((n, v) => promoted.push(n, v));
    }
    let targetInfo: Labels | undefined;
    // as Prometheus: only with attributes beyond the identifying ones, and with job or instance to join on
    if (rest.length > 0 && identity.length > 0) {
      const lb = this.lb.reset();
      this.setAttrs(lb, rest);
      for (let i = 0; i < identity.length; i += 2) lb.set(identity[i], identity[i + 1]);
      lb.set(METRIC_NAME, 'target_info');
      targetInfo = lb.build();
    }
    return new ResourceInfo(this.nextId++, identity, promoted, targetInfo);
  }

  /** Enters a scope; `key` its raw bytes. Only read when scope labels are promoted. */
  beginScope(key: string, scope: () => { name: string; version: string; schemaUrl: string; attrs: Attr[] }): void {
    this.metric = undefined;
    if (!this.opts.promoteScope) return;
    let s = this.scopes.get(key);
    if (s === undefined) {
      const { name, version, schemaUrl, attrs } = scope();
      const labels: string[] = [];
      // as Prometheus: only a named scope, its attributes first so that name and version win
      if (name !== '') {
        for (const [k, v] of attrs) labels.push(labelName('otel_scope_' + k), v);
        labels.push('otel_scope_name', name, 'otel_scope_version', version, 'otel_scope_schema_url', schemaUrl);
      }
      s = new ScopeInfo(this.nextId++, labels);
      this.scopes.set(key, s);
    }
    this.scope = s;
  }

  /**
   * Enters a metric. Returns false when its points are refused (say so with `refusePoint` for
   * each of them): a delta without a DeltaTable, a name with nothing valid left.
   */
  beginMetric(name: string, unit: string, type: OtlpMetricType, temporality: number, monotonic: boolean): boolean {
    const r = this.resource!;
    const key = `${r.id}\x00${this.scope?.id ?? 0}\x00${type}\x00${temporality}\x00${monotonic ? 1 : 0}\x00${unit}\x00${name}`;
    let m = this.metrics.get(key);
    if (m === undefined) {
      m = this.makeMetric(name, unit, type, temporality, monotonic);
      this.metrics.set(key, m);
    }
    this.metric = m;
    return m.refusal === '';
  }

  private makeMetric(name: string, unit: string, type: OtlpMetricType, temporality: number, monotonic: boolean): MetricInfo {
    const kind: OtlpNameKind = type === 'sum' ? (monotonic ? 'counter' : 'updown') : type;
    const prom = metricName(name, unit, kind, this.opts.prometheusNaming);
    const quoted = JSON.stringify(name);
    if (prom === '') return new MetricInfo('', type, `metric ${quoted}: no valid Prometheus name is left of it`, false);
    const temporal = type === 'sum' || type === 'histogram' || type === 'exphistogram';
    if (temporal && temporality !== TEMPORALITY_CUMULATIVE) {
      if (temporality !== TEMPORALITY_DELTA) return new MetricInfo(prom, type, `metric ${quoted}: aggregation temporality ${temporality} is neither delta nor cumulative`, false);
      if (this.opts.delta === undefined) {
        return new MetricInfo(prom, type, `metric ${quoted}: delta temporality is not supported (send cumulative, or set ingest.opentelemetry.delta_temporality: cumulative)`, false);
      }
      return new MetricInfo(prom, type, '', true);
    }
    return new MetricInfo(prom, type, '', false);
  }

  /** One refused data point of the current metric. */
  refusePoint(out: OtlpSink): void {
    out.invalid(0, this.metric?.refusal || 'data point refused', 'unsupported');
  }

  /** A refusal of the decoder's own (an attribute it cannot read, a point without a value). */
  refuse(out: OtlpSink, reason: string): void {
    out.invalid(0, `metric ${JSON.stringify(this.metric?.name ?? '')}: ${reason}`, 'value');
  }

  /** The series of a point whose attributes are `key` (raw bytes), when seen before. */
  series(key: string): PointSeries | undefined {
    const m = this.metric!;
    if (m.generation !== this.generation) {
      m.points.clear();
      m.generation = this.generation;
      return undefined;
    }
    return m.points.get(key);
  }

  newSeries(key: string, attrs: Attr[]): PointSeries {
    const m = this.metric!;
    const lb = this.lb.reset();
    this.setAttrs(lb, attrs);
    const pr = this.resource!.promoted;
    for (let i = 0; i < pr.length; i += 2) if (lb.get(pr[i]) === undefined) lb.set(pr[i], pr[i + 1]);
    const id = this.resource!.identity;
    for (let i = 0; i < id.length; i += 2) lb.set(id[i], id[i + 1]);
    const sc = this.scope?.labels;
    if (sc !== undefined) for (let i = 0; i < sc.length; i += 2) lb.set(sc[i], sc[i + 1]);
    const base = lb.build();
    const s = new PointSeries(m, base);
    if (m.type === 'gauge' || m.type === 'sum') s.main = withName(base, m.name);
    else {
      s.main = withName(base, m.name + '_sum');
      s.count = withName(base, m.name + '_count');
      if (m.type !== 'summary') s.inf = withName(base, m.name + '_bucket', 'le', '+Inf');
    }
    if (++this.pointSeries > MAX_POINT_SERIES) {
      this.pointSeries = 0;
      this.generation++;
    }
    if (m.generation !== this.generation) {
      m.points.clear();
      m.generation = this.generation;
    }
    m.points.set(key, s);
    return s;
  }

  /**
   * Attributes as labels: names sanitized; attributes whose names collide once sanitized
   * joined with `;` in the order of their original names (as Prometheus).
   */
  private setAttrs(lb: LabelsBuilder, attrs: readonly Attr[]): void {
    const sorted = attrs.length > 1 ? [...attrs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) : attrs;
    for (const [k, v] of sorted) {
      const n = labelName(k);
      if (n === '') continue;
      const had = lb.get(n);
      lb.set(n, had !== undefined && had !== '' ? `${had};${v}` : v);
    }
  }

  private emit(out: OtlpSink, labels: Labels, value: number, ts: number, stale: boolean, delta: boolean): void {
    if (stale) out.stale(labels, ts);
    else out.sample(labels, delta ? this.opts.delta!.add(labels, value) : value, ts);
  }

  private touch(ts: number): void {
    const r = this.resource!;
    if (ts > r.maxTs) r.maxTs = ts;
  }

  number(s: PointSeries, ts: number, value: number, flags: number, out: OtlpSink): void {
    this.touch(ts);
    this.emit(out, s.main, value, ts, (flags & FLAG_NO_RECORDED_VALUE) !== 0, s.metric.delta);
  }

  histogram(
    s: PointSeries,
    ts: number,
    count: number,
    sum: number,
    hasSum: boolean,
    bounds: ArrayLike<number>,
    nb: number,
    counts: ArrayLike<number>,
    nc: number,
    flags: number,
    out: OtlpSink,
  ): void {
    this.touch(ts);
    const stale = (flags & FLAG_NO_RECORDED_VALUE) !== 0;
    const delta = s.metric.delta;
    const n = Math.min(nb, nc);
    let labels = s.buckets;
    const known = s.bounds;
    let same = labels !== undefined && known !== undefined && known.length === n;
    for (let i = 0; same && i < n; i++) if (!Object.is(known![i], bounds[i])) same = false;
    if (!same) {
      labels = [];
      const copy: number[] = [];
      const name = s.metric.name + '_bucket';
      for (let i = 0; i < n; i++) {
        copy.push(bounds[i]);
        labels.push(withName(s.base, name, 'le', formatFloat(bounds[i])));
      }
      s.buckets = labels;
      s.bounds = copy;
    }
    let cum = 0;
    for (let i = 0; i < n; i++) {
      cum += counts[i];
      this.emit(out, labels![i], cum, ts, stale, delta);
    }
    this.emit(out, s.inf!, count, ts, stale, delta);
    if (hasSum) this.emit(out, s.main, sum, ts, stale, delta);
    this.emit(out, s.count!, count, ts, stale, delta);
  }

  expHistogram(
    s: PointSeries,
    ts: number,
    count: number,
    sum: number,
    hasSum: boolean,
    scale: number,
    zeroCount: number,
    zeroThreshold: number,
    posOffset: number,
    pos: ArrayLike<number>,
    np: number,
    negOffset: number,
    neg: ArrayLike<number>,
    nn: number,
    flags: number,
    out: OtlpSink,
  ): void {
    this.touch(ts);
    const stale = (flags & FLAG_NO_RECORDED_VALUE) !== 0;
    if (!s.metric.delta) {
      if (np <= MAX_EXP_BUCKETS && nn <= MAX_EXP_BUCKETS) {
        this.emitExp(s, ts, count, sum, hasSum, scale, zeroCount, zeroThreshold, posOffset, pos, np, negOffset, neg, nn, stale, out);
        return;
      }
      // more buckets than an SDK sends (160 by default): halved in scale until they fit, so a
      // point cannot make a series per bucket without bound
      const t = new ExpTotals();
      t.add(count, sum, scale, zeroCount, zeroThreshold, posOffset, pos, np, negOffset, neg, nn);
      const [po, pa] = t.dense(t.pos);
      const [no, na] = t.dense(t.neg);
      this.emitExp(s, ts, count, sum, hasSum, t.scale, zeroCount, zeroThreshold, po, pa, pa.length, no, na, na.length, stale, out);
      return;
    }
    // deltas are added up as exponential buckets, not per `le` series: the SDK picks a new scale
    // every interval, so the boundaries of two deltas seldom agree
    const t = this.opts.delta!.slot(s.count!, () => new ExpTotals());
    if (!stale) t.add(count, sum, scale, zeroCount, zeroThreshold, posOffset, pos, np, negOffset, neg, nn);
    const [po, pa] = t.dense(t.pos);
    const [no, na] = t.dense(t.neg);
    this.emitExp(s, ts, t.count, t.sum, hasSum || t.sum !== 0, t.scale, t.zeroCount, t.zeroThreshold, po, pa, pa.length, no, na, na.length, stale, out);
  }

  private emitExp(
    s: PointSeries,
    ts: number,
    count: number,
    sum: number,
    hasSum: boolean,
    scale: number,
    zeroCount: number,
    zeroThreshold: number,
    posOffset: number,
    pos: ArrayLike<number>,
    np: number,
    negOffset: number,
    neg: ArrayLike<number>,
    nn: number,
    stale: boolean,
    out: OtlpSink,
  ): void {
    let cum = 0;
    // negative buckets from the most negative: bucket i holds [-base^(i+1), -base^i)
    for (let k = nn - 1; k >= 0; k--) {
      cum += neg[k];
      this.emit(out, this.expBucket(s, scale, negOffset + k - 1, true), cum, ts, stale, false);
    }
    cum += zeroCount;
    this.emit(out, this.bucketAt(s, formatFloat(zeroThreshold)), cum, ts, stale, false);
    for (let k = 0; k < np; k++) {
      cum += pos[k];
      this.emit(out, this.expBucket(s, scale, posOffset + k, false), cum, ts, stale, false);
    }
    this.emit(out, s.inf!, count, ts, stale, false);
    if (hasSum) this.emit(out, s.main, sum, ts, stale, false);
    this.emit(out, s.count!, count, ts, stale, false);
  }

  /** The `_bucket` at the upper boundary of exponential bucket `index` (negated for the negative range). */
  private expBucket(s: PointSeries, scale: number, index: number, negative: boolean): Labels {
    // a number key: no string made per bucket per point
    const key = (index * 2 + (negative ? 1 : 0)) * 64 + (scale + 16);
    let le = this.expLe.get(key);
    if (le === undefined) {
      const b = expBucketBound(scale, index);
      le = formatFloat(negative ? -b : b);
      if (this.expLe.size >= 100_000) this.expLe.clear();
      this.expLe.set(key, le);
    }
    return this.bucketAt(s, le);
  }

  private bucketAt(s: PointSeries, le: string): Labels {
    const m = (s.byText ??= new Map());
    let l = m.get(le);
    if (l === undefined) {
      // boundaries come and go as the scale changes: keep those of the last few
      if (m.size >= 4 * MAX_EXP_BUCKETS) m.clear();
      l = withName(s.base, s.metric.name + '_bucket', 'le', le);
      m.set(le, l);
    }
    return l;
  }

  summary(s: PointSeries, ts: number, count: number, sum: number, qs: ArrayLike<number>, vs: ArrayLike<number>, nq: number, flags: number, out: OtlpSink): void {
    this.touch(ts);
    const stale = (flags & FLAG_NO_RECORDED_VALUE) !== 0;
    const m = (s.byText ??= new Map());
    for (let i = 0; i < nq; i++) {
      const q = formatFloat(qs[i]);
      let l = m.get(q);
      if (l === undefined) {
        l = withName(s.base, s.metric.name, 'quantile', q);
        m.set(q, l);
      }
      this.emit(out, l, vs[i], ts, stale, false);
    }
    this.emit(out, s.main, sum, ts, stale, false);
    this.emit(out, s.count!, count, ts, stale, false);
  }

  /** Ends the request: `target_info` of each resource that had points. Also after a failed decode. */
  finish(out: OtlpSink): void {
    for (const r of this.seen) {
      if (r.targetInfo !== undefined && r.maxTs > 0) out.sample(r.targetInfo, 1, r.maxTs);
      r.maxTs = 0;
      r.inRequest = false;
    }
    this.seen.length = 0;
    this.resource = undefined;
    this.scope = undefined;
    this.metric = undefined;
  }
}

/** The request's time for a point without one: Prometheus would write 0, which no storage keeps. */
export function pointTime(ms: number, out: RowSink): number {
  return ms > 0 ? ms : out.now;
}
