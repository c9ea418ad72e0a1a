/**
 * OTLP `ExportMetricsServiceRequest` in OTLP/JSON (the protobuf JSON mapping with OTLP's
 * rules): lowerCamelCase keys (the proto's snake_case names accepted too, as protobuf's JSON
 * parsers do), 64-bit integers as decimal strings or numbers, enums as numbers or names,
 * doubles as numbers or "NaN"/"Infinity"/"-Infinity", `bytesValue` in base64 (kept as it is for
 * the label value). The parsed document goes into the same `OtlpConverter` as protobuf; a data
 * point whose fields have the wrong shape is refused on its own, the rest of the request kept.
 */

import { formatFloat, pointTime, type Attr, type OtlpConverter, type OtlpMetricType, type OtlpSink, TEMPORALITY_CUMULATIVE, TEMPORALITY_DELTA } from './convert.js';

/** The body is not OTLP/JSON at all (not JSON, or not an object at the top). */
export class OtlpJsonError extends Error {}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A field by its JSON name or its proto name. */
function field(o: Obj, camel: string, snake?: string): unknown {
  const v = o[camel];
  return v !== undefined || snake === undefined ? v : o[snake];
}

/** A repeated field: absent (or null) is empty; anything but an array is not OTLP (the whole request is refused). */
function list(o: Obj, camel: string, snake?: string): unknown[] {
  const v = field(o, camel, snake);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpJsonError(`${camel}: expected an array, got ${JSON.stringify(v).slice(0, 40)}`);
  return v;
}

/** A point's field that is not what it should be. */
class Shape extends Error {}

function num(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  throw new Shape(`${what}: ${JSON.stringify(v)} is not a number`);
}

function nums(v: unknown, what: string): number[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Shape(`${what}: not an array`);
  return v.map((x) => num(x, what));
}

/** Nanoseconds (a decimal string, or a number) to whole milliseconds. */
function nanosToMs(v: unknown): number {
  if (typeof v === 'string' && /^\d+$/.test(v)) return v.length > 6 ? Number(v.slice(0, -6)) : 0;
  const n = num(v, 'timeUnixNano');
  if (!Number.isFinite(n) || n < 0) throw new Shape(`timeUnixNano: ${JSON.stringify(v)} is not a time`);
  return Math.floor(n / 1e6);
}

const TEMPORALITIES: Record<string, number> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: TEMPORALITY_DELTA,
  AGGREGATION_TEMPORALITY_CUMULATIVE: TEMPORALITY_CUMULATIVE,
};

function temporalityOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return TEMPORALITIES[v] ?? (/^\d+$/.test(v) ? Number(v) : -1);
  return 0;
}

/** An AnyValue as a label value (as the collector's `AsString`: arrays and maps as JSON). */
function anyText(v: unknown): string {
  if (!isObj(v)) return '';
  const s = field(v, 'stringValue', 'string_value');
  if (s !== undefined) return typeof s === 'string' ? s : String(s);
  const bv = field(v, 'boolValue', 'bool_value');
  if (bv !== undefined) return String(bv === true || bv === 'true');
  const iv = field(v, 'intValue', 'int_value');
  if (iv !== undefined) {
    try {
      return BigInt.asIntN(64, BigInt(typeof iv === 'number' ? Math.trunc(iv) : String(iv))).toString();
    } catch {
      return String(iv);
    }
  }
  const dv = field(v, 'doubleValue', 'double_value');
  if (dv !== undefined) {
    try {
      return formatFloat(num(dv, 'doubleValue'));
    } catch {
      return String(dv);
    }
  }
  const by = field(v, 'bytesValue', 'bytes_value');
  if (by !== undefined) return String(by);
  const av = field(v, 'arrayValue', 'array_value');
  const kv = field(v, 'kvlistValue', 'kvlist_value');
  if (av !== undefined || kv !== undefined) return JSON.stringify(anyRaw(v));
  return '';
}

function anyRaw(v: unknown): unknown {
  if (!isObj(v)) return null;
  const av = field(v, 'arrayValue', 'array_value');
  if (isObj(av)) return list(av, 'values').map(anyRaw);
  const kv = field(v, 'kvlistValue', 'kvlist_value');
  if (isObj(kv)) {
    const out: Record<string, unknown> = {};
    const pairs = list(kv, 'values').filter(isObj);
    pairs.sort((a, b) => (String(a.key) < String(b.key) ? -1 : 1));
    for (const p of pairs) out[String(p.key ?? '')] = anyRaw(p.value);
    return out;
  }
  const s = field(v, 'stringValue', 'string_value');
  if (s !== undefined) return s;
  const bv = field(v, 'boolValue', 'bool_value');
  if (bv !== undefined) return bv === true || bv === 'true';
  for (const [c, sn] of [
    ['intValue', 'int_value'],
    ['doubleValue', 'double_value'],
  ]) {
    const n = field(v, c, sn);
    if (n !== undefined) {
      const x = Number(n);
      return Number.isFinite(x) ? x : String(n);
    }
  }
  const by = field(v, 'bytesValue', 'bytes_value');
  return by === undefined ? null : String(by);
}

function attrs(v: unknown): Attr[] {
  if (!Array.isArray(v)) return [];
  const out: Attr[] = [];
  for (const kv of v) if (isObj(kv)) out.push([String(kv.key ?? ''), anyText(kv.value)]);
  return out;
}

const DATA_TYPES: [OtlpMetricType, string, string][] = [
  ['gauge', 'gauge', 'gauge'],
  ['sum', 'sum', 'sum'],
  ['histogram', 'histogram', 'histogram'],
  ['exphistogram', 'exponentialHistogram', 'exponential_histogram'],
  ['summary', 'summary', 'summary'],
];

/** Parses a body (throws `OtlpJsonError` when it is not a JSON object) and decodes it into `conv`. */
export function decodeOtlpJson(body: Buffer | string, conv: OtlpConverter, out: OtlpSink): void {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (err) {
    throw new OtlpJsonError(`not JSON: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw new OtlpJsonError('not an ExportMetricsServiceRequest: expected a JSON object');
  decodeOtlpDocument(doc, conv, out);
}

/** Decodes a parsed OTLP/JSON document. */
export function decodeOtlpDocument(doc: Obj, conv: OtlpConverter, out: OtlpSink): void {
  try {
    for (const rm of list(doc, 'resourceMetrics', 'resource_metrics')) {
      if (!isObj(rm)) continue;
      const res = field(rm, 'resource');
      const resAttrs = isObj(res) ? field(res, 'attributes') : undefined;
      conv.beginResource(JSON.stringify(resAttrs ?? null), () => attrs(resAttrs));
      for (const sm of list(rm, 'scopeMetrics', 'scope_metrics')) {
        if (!isObj(sm)) continue;
        const scope = field(sm, 'scope');
        const schemaUrl = field(sm, 'schemaUrl', 'schema_url');
        conv.beginScope(JSON.stringify([scope ?? null, schemaUrl ?? null]), () => {
          const sc = isObj(scope) ? scope : {};
          return { name: String(sc.name ?? ''), version: String(sc.version ?? ''), schemaUrl: String(schemaUrl ?? ''), attrs: attrs(sc.attributes) };
        });
        for (const m of list(sm, 'metrics')) if (isObj(m)) metric(m, conv, out);
      }
    }
  } finally {
    conv.finish(out);
  }
}

function metric(m: Obj, conv: OtlpConverter, out: OtlpSink): void {
  let type: OtlpMetricType | undefined;
  let data: Obj | undefined;
  for (const [t, camel, snake] of DATA_TYPES) {
    const d = field(m, camel, snake);
    if (isObj(d)) {
      type = t;
      data = d;
      break;
    }
  }
  if (type === undefined || data === undefined) return;
  const temporal = type === 'sum' || type === 'histogram' || type === 'exphistogram';
  const temporality = temporal ? temporalityOf(field(data, 'aggregationTemporality', 'aggregation_temporality')) : 0;
  const mono = field(data, 'isMonotonic', 'is_monotonic');
  const taken = conv.beginMetric(String(m.name ?? ''), String(m.unit ?? ''), type, temporality, type === 'sum' && (mono === true || mono === 'true'));
  for (const p of list(data, 'dataPoints', 'data_points')) {
    if (!taken) {
      conv.refusePoint(out);
      continue;
    }
    if (!isObj(p)) {
      conv.refuse(out, 'a data point that is not an object');
      continue;
    }
    try {
      point(type, p, conv, out);
    } catch (err) {
      if (!(err instanceof Shape)) throw err;
      conv.refuse(out, err.message);
    }
  }
}

function point(type: OtlpMetricType, p: Obj, conv: OtlpConverter, out: OtlpSink): void {
  const a = field(p, 'attributes');
  const ts = pointTime(nanosToMs(field(p, 'timeUnixNano', 'time_unix_nano')), out);
  const flags = num(field(p, 'flags'), 'flags');
  const count = () => num(field(p, 'count'), 'count');
  const sumField = field(p, 'sum');
  // checked before the series is made, so a refused point leaves nothing behind
  if (type === 'gauge' || type === 'sum') {
    const d = field(p, 'asDouble', 'as_double');
    const value = d !== undefined ? num(d, 'asDouble') : num(field(p, 'asInt', 'as_int'), 'asInt');
    conv.number(series(conv, a), ts, value, flags, out);
  } else if (type === 'histogram') {
    const bounds = nums(field(p, 'explicitBounds', 'explicit_bounds'), 'explicitBounds');
    const counts = nums(field(p, 'bucketCounts', 'bucket_counts'), 'bucketCounts');
    const c = count();
    const sum = num(sumField, 'sum');
    conv.histogram(series(conv, a), ts, c, sum, sumField !== undefined && sumField !== null, bounds, bounds.length, counts, counts.length, flags, out);
  } else if (type === 'exphistogram') {
    const scale = num(field(p, 'scale'), 'scale');
    if (!Number.isInteger(scale) || scale < -10 || scale > 20) throw new Shape(`exponential histogram scale ${scale} is outside [-10, 20]`);
    const posB = field(p, 'positive');
    const negB = field(p, 'negative');
    const posOffset = isObj(posB) ? num(posB.offset, 'offset') : 0;
    const negOffset = isObj(negB) ? num(negB.offset, 'offset') : 0;
    const pos = isObj(posB) ? nums(field(posB, 'bucketCounts', 'bucket_counts'), 'bucketCounts') : [];
    const neg = isObj(negB) ? nums(field(negB, 'bucketCounts', 'bucket_counts'), 'bucketCounts') : [];
    const c = count();
    const sum = num(sumField, 'sum');
    const zc = num(field(p, 'zeroCount', 'zero_count'), 'zeroCount');
    const zt = num(field(p, 'zeroThreshold', 'zero_threshold'), 'zeroThreshold');
    conv.expHistogram(series(conv, a), ts, c, sum, sumField !== undefined && sumField !== null, scale, zc, zt, posOffset, pos, pos.length, negOffset, neg, neg.length, flags, out);
  } else {
    const qv = field(p, 'quantileValues', 'quantile_values');
    const qs: number[] = [];
    const vs: number[] = [];
    if (Array.isArray(qv)) {
      for (const q of qv) {
        if (!isObj(q)) throw new Shape('quantileValues: not an object');
        qs.push(num(q.quantile, 'quantile'));
        vs.push(num(q.value, 'value'));
      }
    }
    const c = count();
    const sum = num(sumField, 'sum');
    conv.summary(series(conv, a), ts, c, sum, qs, vs, qs.length, flags, out);
  }
}

function series(conv: OtlpConverter, a: unknown) {
  const key = a === undefined ? '' : JSON.stringify(a);
  return conv.series(key) ?? conv.newSeries(key, attrs(a));
}
