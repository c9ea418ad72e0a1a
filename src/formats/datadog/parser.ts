/**
 * DataDog's "submit metrics" bodies into samples, named as vmagent 1.79.5 names them:
 *
 * - v1 (`/api/v1/series`, JSON): `{"series":[{"metric","host","device","tags":["k:v"],"points":[[ts,v]]}]}`.
 * - v2 (`/api/v2/series`, JSON): `{"series":[{"metric","tags","resources":[{"type","name"}],"points":[{"timestamp","value"}]}]}`;
 *   the protobuf `MetricPayload` the DataDog agent sends is in proto.ts, through the same series path.
 *
 * `metric` is `__name__` (with `sanitizeMetricName`, as newer vmagents' `-datadog.sanitizeMetricName`),
 * `host` the label `host`, `device` the label `device` (newer vmagents; 1.79.5 drops it), a v2
 * resource the label named by its type. A tag is cut at its first `:` (`k:v:w` → `k="v:w"`); one
 * without `:` gets the value `no_label_value`; a tag named `host` becomes `exported_host`; of
 * labels named twice the last wins (VictoriaMetrics keeps the last); a tag with an empty name is
 * skipped. Timestamps are seconds (fractions kept to the millisecond, cut as Go's int64 cut);
 * zero or negative means now. `type`, `interval`, `unit` are not used (vmagent neither).
 *
 * A malformed series is refused on its own and the request's other series kept (vmagent refuses the
 * whole request). A series sent again costs one lookup: JSON bodies go through the byte scan of
 * scan.ts, keyed by the series' raw text without its points, and fall back to JSON.parse (here)
 * for what the scan does not take, keyed then by name, host, device, resources and tags in the
 * order sent (order decides which of two same-named tags wins).
 */

import { BytesKeyedLabels, KeyedLabels } from '../../model/keyed-labels.js';
import { Labels, LabelsBuilder, METRIC_NAME } from '../../model/labels.js';
import type { RowSink } from '../rows/index.js';
import { SeriesScan } from './scan.js';

export interface DatadogOptions {
  readonly sanitizeMetricName: boolean;
}

/** The body as a whole is not a DataDog request (not JSON, not an object): nothing in it can be taken. */
export class DatadogBodyError extends Error {}

/** The value a tag without `:` gets (vmagent 1.79.5's SplitTag). */
export const NO_LABEL_VALUE = 'no_label_value';

/** Go's int64 range ends near 9.2e18 ms; JavaScript numbers are exact up to 2^53 — beyond is no time anyone sends. */
const MAX_TIMESTAMP_MS = Number.MAX_SAFE_INTEGER;

const NONE: readonly string[] = [];

interface Entry {
  readonly labels: Labels;
  readonly metric: string;
  readonly host: string;
  readonly device: string;
  /** v2 resources as `type, name` pairs. */
  readonly res: readonly string[];
  readonly tags: readonly string[];
}

/** One series' identity as sent, before naming; filled by the JSON reader or the protobuf decoder. */
export interface SeriesHead {
  metric: string;
  host: string;
  device: string;
  res: readonly string[];
  tags: readonly string[];
}

/** A v1 series head refused: the text after `series N`; `always`, or only when it has points. */
interface HeadRefusal {
  readonly text: string;
  readonly always: boolean;
}

export class DatadogParser {
  private readonly cache = new KeyedLabels<Entry>();
  /** v1 and v2 JSON series by the raw text of their object without the points (the fast path's key). */
  private readonly raw = new BytesKeyedLabels<Labels | HeadRefusal>();
  private readonly rawV2 = new BytesKeyedLabels<Labels | HeadRefusal>();
  private readonly scan = new SeriesScan();
  private readonly lb = new LabelsBuilder();
  /** v1 bodies the fast path took (the tests check it is the one taken). */
  scannedBodies = 0;

  constructor(private readonly opts: DatadogOptions) {}

  /** A v1 body (decoded bytes). Throws `DatadogBodyError` when none of it can be read. */
  v1(body: Buffer, out: RowSink): void {
    if (this.scan.scan(body)) {
      this.scannedBodies++;
      this.scanned(body, out, false);
    } else this.v1Slow(body, out);
  }

  /** A v2 JSON body (decoded bytes). Throws `DatadogBodyError` when none of it can be read. */
  v2(body: Buffer, out: RowSink): void {
    if (this.scan.scan(body, true)) {
      this.scannedBodies++;
      this.scanned(body, out, true);
    } else this.v2Slow(body, out);
  }

  /** The scan's series into `out`: labels by the raw head text, points from the scan's arrays. */
  private scanned(buf: Buffer, out: RowSink, v2: boolean): void {
    const sc = this.scan;
    const cache = v2 ? this.rawV2 : this.raw;
    const b = sc.bounds;
    const now = nowSeconds(out);
    for (let i = 0; i < sc.series; i++) {
      const o = b[4 * i];
      const ps = b[4 * i + 1];
      const pe = b[4 * i + 2];
      const oe = b[4 * i + 3];
      // the key: the series object's bytes around its points (a pair of ranges is not the same key as one range)
      let r = ps < 0 ? cache.get(buf, o, oe) : cache.getPair(buf, o, ps, pe, oe);
      if (r === undefined) {
        r = this.rawHead(ps < 0 ? buf.toString('utf8', o, oe) : buf.toString('utf8', o, ps) + '0' + buf.toString('utf8', pe, oe), v2);
        if (ps < 0) cache.set(buf, o, oe, r);
        else cache.setPair(buf, o, ps, pe, oe, r);
      }
      const count = sc.pointCount[i];
      if (!(r instanceof Labels)) {
        if (r.always || count > 0) out.invalid(0, `series ${i + 1}${r.text}`, 'syntax');
        continue;
      }
      const first = sc.firstPoint[i];
      for (let j = 0; j < count; j++) this.point(r, sc.ts[first + j], sc.values[first + j], now, out, i, j);
    }
  }

  /** A series' head (its object with the points cut out) decoded and named, or why it is refused. */
  private rawHead(text: string, v2: boolean): Labels | HeadRefusal {
    let s: Record<string, unknown>;
    try {
      s = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      return { text: `: ${(err as Error).message}`, always: true };
    }
    const h: SeriesHead = { metric: '', host: '', device: '', res: NONE, tags: NONE };
    const bad = readHead(s, h, v2);
    if (bad !== undefined) return { text: `${metricOf(s)}: ${bad}`, always: true };
    const labels = this.build(h);
    return typeof labels === 'string' ? { text: `: ${labels}`, always: false } : labels;
  }

  /** A v1 body through JSON.parse: what the scan gives up on, with the reason for each refusal (public: the fast path is tested against it). */
  v1Slow(body: Buffer, out: RowSink): void {
    this.slow(body, out, false);
  }

  /** A v2 JSON body through JSON.parse (public: the fast path is tested against it). */
  v2Slow(body: Buffer, out: RowSink): void {
    this.slow(body, out, true);
  }

  /** The series of a v1 (points `[timestamp, value]`) or v2 (points `{"timestamp", "value"}`) body. */
  private slow(body: Buffer, out: RowSink, v2: boolean): void {
    const list = seriesList(body);
    const now = nowSeconds(out);
    const head: SeriesHead = { metric: '', host: '', device: '', res: NONE, tags: NONE };
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as Record<string, unknown>;
      const bad = readHead(s, head, v2);
      if (bad !== undefined) {
        refuse(out, i, s, bad);
        continue;
      }
      const points = s.points;
      if (points === undefined || points === null) continue;
      if (!Array.isArray(points)) {
        refuse(out, i, s, '"points" is not an array');
        continue;
      }
      if (points.length === 0) continue;
      const labels = this.labels(head, out, i);
      if (labels === undefined) continue;
      for (let j = 0; j < points.length; j++) {
        const p = points[j] as unknown;
        if (!v2) {
          if (!Array.isArray(p) || p.length < 2) {
            refusePoint(out, i, labels.metricName, j, 'expected [timestamp, value]', 'syntax');
            continue;
          }
          this.point(labels, p[0], p[1], now, out, i, j);
        } else {
          if (typeof p !== 'object' || p === null || Array.isArray(p)) {
            refusePoint(out, i, labels.metricName, j, 'expected {"timestamp", "value"}', 'syntax');
            continue;
          }
          const q = p as { timestamp?: unknown; value?: unknown };
          this.point(labels, q.timestamp ?? 0, q.value, now, out, i, j);
        }
      }
    }
  }

  /** One sample; `ts` in seconds (0 or less: now). */
  point(labels: Labels, ts: unknown, value: unknown, nowSec: number, out: RowSink, series: number, index: number): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return refusePoint(out, series, labels.metricName, index, `invalid value ${short(value)}`, 'value');
    }
    if (typeof ts !== 'number' || !Number.isFinite(ts)) {
      return refusePoint(out, series, labels.metricName, index, `invalid timestamp ${short(ts)}`, 'value');
    }
    const ms = ts > 0 ? Math.trunc(ts * 1000) : nowSec * 1000;
    if (ms > MAX_TIMESTAMP_MS) return refusePoint(out, series, labels.metricName, index, `timestamp ${ts} out of range`, 'value');
    out.sample(labels, value, ms);
  }

  /** The series' labels (cached), or undefined when it has none to be named by (refused). */
  labels(h: SeriesHead, out: RowSink, series: number): Labels | undefined {
    const key = seriesKey(h);
    const e = this.cache.get(key);
    if (e !== undefined && e.metric === h.metric && e.host === h.host && e.device === h.device && same(e.tags, h.tags) && same(e.res, h.res)) {
      return e.labels;
    }
    const labels = this.build(h);
    if (typeof labels === 'string') {
      out.invalid(0, `series ${series + 1}: ${labels}`, 'syntax');
      return undefined;
    }
    // copied: the protobuf decoder reuses its arrays
    this.cache.set(key, { labels, metric: h.metric, host: h.host, device: h.device, res: h.res.slice(), tags: h.tags.slice() });
    return labels;
  }

  /** The series' labels, uncached (for a reader that caches by a key of its own), or why it has none. */
  build(h: SeriesHead): Labels | string {
    const lb = this.lb.reset();
    lb.set(METRIC_NAME, this.opts.sanitizeMetricName ? sanitizeMetricName(h.metric) : h.metric);
    if (h.host !== '') lb.set('host', h.host);
    if (h.device !== '') lb.set('device', h.device);
    const res = h.res;
    for (let k = 0; k + 1 < res.length; k += 2) if (res[k] !== '') lb.set(res[k], res[k + 1]);
    for (const tag of h.tags) {
      const colon = tag.indexOf(':');
      let name = colon < 0 ? tag : tag.slice(0, colon);
      if (name === '') continue;
      if (name === 'host') name = 'exported_host';
      lb.set(name, colon < 0 ? NO_LABEL_VALUE : tag.slice(colon + 1));
    }
    if (lb.get(METRIC_NAME) === undefined) return 'empty metric name';
    return lb.build();
  }
}

/**
 * The cache key. Parts are joined by NUL, which a part may contain too, so two series can share
 * a key: the entry keeps the parts and a hit is checked against them.
 */
function seriesKey(h: SeriesHead): string {
  let key = h.metric + '\0' + h.host + '\0' + h.device;
  if (h.res.length > 0) key += '\0\x01' + h.res.join('\0');
  if (h.tags.length > 0) key += '\0\x02' + h.tags.join('\0');
  return key;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function seriesList(body: Buffer): readonly unknown[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new DatadogBodyError(`the body is not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DatadogBodyError('the body is not a JSON object {"series": [...]}');
  const list = (doc as { series?: unknown }).series;
  if (list === undefined || list === null) return NONE;
  if (!Array.isArray(list)) throw new DatadogBodyError('"series" is not an array');
  return list;
}

/** Fills `h` from a JSON series; says what is wrong when it cannot. */
function readHead(s: Record<string, unknown>, h: SeriesHead, v2: boolean): string | undefined {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return 'not an object';
  const metric = s.metric;
  if (typeof metric !== 'string') return metric === undefined || metric === null ? 'no "metric"' : '"metric" is not a string';
  h.metric = metric;
  h.host = '';
  h.device = '';
  h.res = NONE;
  if (!v2) {
    const host = s.host ?? '';
    if (typeof host !== 'string') return '"host" is not a string';
    const device = s.device ?? '';
    if (typeof device !== 'string') return '"device" is not a string';
    h.host = host;
    h.device = device;
  } else {
    const res = s.resources;
    if (res !== undefined && res !== null) {
      if (!Array.isArray(res)) return '"resources" is not an array';
      const flat: string[] = [];
      for (const r of res as { type?: unknown; name?: unknown }[]) {
        if (typeof r !== 'object' || r === null) return 'a resource is not an object';
        const type = r.type ?? '';
        const name = r.name ?? '';
        if (typeof type !== 'string' || typeof name !== 'string') return 'a resource\'s "type" or "name" is not a string';
        flat.push(type, name);
      }
      h.res = flat;
    }
  }
  const tags = s.tags;
  if (tags === undefined || tags === null) h.tags = NONE;
  else {
    if (!Array.isArray(tags)) return '"tags" is not an array';
    for (let i = 0; i < tags.length; i++) if (typeof tags[i] !== 'string') return `tag ${i + 1} is not a string`;
    h.tags = tags as string[];
  }
  return undefined;
}

/** vmagent takes "now" once per request, in whole seconds. */
function nowSeconds(out: RowSink): number {
  return Math.floor(out.now / 1000);
}

function metricOf(s: unknown): string {
  return typeof s === 'object' && s !== null && typeof (s as { metric?: unknown }).metric === 'string' ? ` (${short((s as { metric: string }).metric)})` : '';
}

function refuse(out: RowSink, i: number, s: unknown, reason: string): void {
  out.invalid(0, `series ${i + 1}${metricOf(s)}: ${reason}`, 'syntax');
}

function refusePoint(out: RowSink, series: number, metric: string, index: number, reason: string, fault: 'syntax' | 'value'): void {
  out.invalid(0, `series ${series + 1} (${short(metric)}) point ${index + 1}: ${reason}`, fault);
}

function short(v: unknown): string {
  const s = v === undefined ? 'undefined' : JSON.stringify(v) ?? String(v);
  return s.length > 64 ? s.slice(0, 61) + '...' : s;
}

const UNSUPPORTED = /[^0-9a-zA-Z_.]+/g;
const UNDERSCORES = /_+/g;
const DOT_UNDERSCORES = /_?\._?/g;

/**
 * DataDog's own naming rules for custom metrics, as newer vmagents apply them
 * (`-datadog.sanitizeMetricName`): runs of other characters become one `_`, runs of `_` one `_`,
 * and an `_` beside a dot goes.
 */
export function sanitizeMetricName(name: string): string {
  return name.replace(UNSUPPORTED, '_').replace(UNDERSCORES, '_').replace(DOT_UNDERSCORES, '.');
}
