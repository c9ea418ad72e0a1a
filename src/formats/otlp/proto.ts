/**
 * OTLP `ExportMetricsServiceRequest` in protobuf (opentelemetry-proto's metrics/v1), decoded by
 * hand straight off the body's bytes into an `OtlpConverter`: no message objects, no copies of
 * the data points. A data point's attributes are its series key as raw bytes, so a series sent
 * again costs one lookup; the attributes are read into labels only the first time. Unknown
 * fields are skipped as protobuf requires. Malformed input throws a `WireError` (byte offset and
 * what was expected); what was read before it has been handed on.
 *
 * Resource before its scopes, scope before its metrics, name and unit before the data: the
 * wire does not promise that order, so each message is walked for those first and then for
 * what they qualify.
 */

import { WireError } from '../remotewrite/parser.js';
import { pointTime, type Attr, type OtlpConverter, type OtlpMetricType, type OtlpSink } from './convert.js';
import { formatFloat } from './convert.js';

export { WireError };

// One request is decoded at a time (synchronously): the cursor is module state, not an object per message.
let b: Buffer = Buffer.alloc(0);
let pos = 0;

function varint(end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new WireError(pos, 'truncated varint');
    const c = b[pos++];
    result += (c & 0x7f) * mul;
    if (c < 0x80) return result;
    mul *= 128;
  }
  throw new WireError(pos, 'varint longer than 10 bytes');
}

/** A varint read as a two's-complement int64 (enough for int_value attributes printed exactly). */
function int64Text(end: number): string {
  const start = pos;
  varint(end);
  let big = 0n;
  for (let i = pos - 1; i >= start; i--) big = (big << 7n) | BigInt(b[i] & 0x7f);
  return BigInt.asIntN(64, big).toString();
}

function zigzag32(end: number): number {
  const n = varint(end) % 0x100000000;
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

function need(n: number, end: number, what: string): void {
  if (pos + n > end) throw new WireError(pos, `truncated ${what}`);
}

function fixed64(end: number): number {
  need(8, end, 'fixed64');
  const v = b.readUInt32LE(pos) + b.readUInt32LE(pos + 4) * 0x100000000;
  pos += 8;
  return v;
}

function sfixed64(end: number): number {
  need(8, end, 'sfixed64');
  const v = b.readUInt32LE(pos) + b.readInt32LE(pos + 4) * 0x100000000;
  pos += 8;
  return v;
}

function double(end: number): number {
  need(8, end, 'double');
  const v = b.readDoubleLE(pos);
  pos += 8;
  return v;
}

/** A fixed64 of nanoseconds to whole milliseconds, exactly (the value is past 2^53). */
function nanosToMs(end: number): number {
  need(8, end, 'timestamp');
  const lo = b.readUInt32LE(pos);
  const hi = b.readUInt32LE(pos + 4);
  pos += 8;
  // 2^32 = 4294 * 10^6 + 967296: both parts stay below 2^53
  const rest = hi * 967296 + lo;
  let q = Math.floor(rest / 1e6);
  if (q * 1e6 > rest) q--;
  return hi * 4294 + q;
}

/** Enters a length-delimited field: returns where it ends (the cursor at its start). */
function enter(end: number): number {
  const len = varint(end);
  const e = pos + len;
  if (e > end) throw new WireError(pos, `length ${len} runs past the end of its message`);
  return e;
}

function skip(wire: number, end: number): void {
  const at = pos;
  if (wire === 0) varint(end);
  else if (wire === 1) pos += 8;
  else if (wire === 2) pos = enter(end);
  else if (wire === 5) pos += 4;
  else throw new WireError(at, `unsupported wire type ${wire}`);
  if (pos > end) throw new WireError(at, 'field runs past the end of its message');
}

function text(end: number): string {
  const e = enter(end);
  const s = b.toString('utf8', pos, e);
  pos = e;
  return s;
}

// ---- attributes -------------------------------------------------------------------------

/** Raw bytes of a point's attribute fields, as one key (pieces joined when other fields split them). */
let attrStart = -1;
let attrEnd = -1;
let attrPieces = '';

function attrsReset(): void {
  attrStart = -1;
  attrEnd = -1;
  attrPieces = '';
}

function attrSpan(tagAt: number, e: number): void {
  if (attrStart < 0) {
    attrStart = tagAt;
    attrEnd = e;
  } else if (tagAt === attrEnd) attrEnd = e;
  else {
    attrPieces += b.toString('latin1', attrStart, attrEnd) + '\x00';
    attrStart = tagAt;
    attrEnd = e;
  }
}

function attrKey(): string {
  return attrStart < 0 ? attrPieces : attrPieces + b.toString('latin1', attrStart, attrEnd);
}

/** The `KeyValue`s of fields `tag` in [start, end). The cursor is put back. */
function readAttrs(start: number, end: number, tag: number): Attr[] {
  const saved = pos;
  const out: Attr[] = [];
  pos = start;
  while (pos < end) {
    const key = varint(end);
    if (key === tag) {
      const e = enter(end);
      out.push(keyValue(e));
      pos = e;
    } else skip(key & 7, end);
  }
  pos = saved;
  return out;
}

function keyValue(end: number): Attr {
  let k = '';
  let v = '';
  while (pos < end) {
    const key = varint(end);
    if (key === 0x0a) k = text(end);
    else if (key === 0x12) {
      const e = enter(end);
      v = anyValueText(anyValue(e));
      pos = e;
    } else skip(key & 7, end);
  }
  return [k, v];
}

type Raw = string | number | boolean | bigint | null | Raw[] | { [k: string]: Raw } | { bytes: string };

/** An `AnyValue`: text, bool, int64, double, array, kvlist, bytes (base64). */
function anyValue(end: number): Raw {
  let v: Raw = null;
  while (pos < end) {
    const key = varint(end);
    switch (key) {
      case 0x0a:
        v = text(end);
        break;
      case 0x10:
        v = varint(end) !== 0;
        break;
      case 0x18:
        v = BigInt(int64Text(end));
        break;
      case 0x21:
        v = double(end);
        break;
      case 0x2a:
      case 0x32: {
        const e = enter(end);
        const list: Raw[] = [];
        const obj: { [k: string]: Raw } = {};
        while (pos < e) {
          const k2 = varint(e);
          if (k2 === 0x0a) {
            const e2 = enter(e);
            if (key === 0x2a) list.push(anyValue(e2));
            else {
              const [name, val] = keyValueRaw(e2);
              obj[name] = val;
            }
            pos = e2;
          } else skip(k2 & 7, e);
        }
        v = key === 0x2a ? list : obj;
        pos = e;
        break;
      }
      case 0x3a: {
        const e = enter(end);
        v = { bytes: b.toString('base64', pos, e) };
        pos = e;
        break;
      }
      default:
        skip(key & 7, end);
    }
  }
  return v;
}

function keyValueRaw(end: number): [string, Raw] {
  let k = '';
  let v: Raw = null;
  while (pos < end) {
    const key = varint(end);
    if (key === 0x0a) k = text(end);
    else if (key === 0x12) {
      const e = enter(end);
      v = anyValue(e);
      pos = e;
    } else skip(key & 7, end);
  }
  return [k, v];
}

const isBytes = (v: Raw): v is { bytes: string } => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { bytes?: unknown }).bytes === 'string';

/** An attribute value as a label value, as the collector's `AsString` writes it. */
export function anyValueText(v: Raw): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'number') return formatFloat(v);
  if (isBytes(v)) return v.bytes;
  return JSON.stringify(jsonOf(v));
}

function jsonOf(v: Raw): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return Number.isFinite(v) ? v : formatFloat(v);
  if (Array.isArray(v)) return v.map(jsonOf);
  if (isBytes(v)) return v.bytes;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = jsonOf(v[k]);
  return out;
}

// ---- the request ------------------------------------------------------------------------

/** Reusable arrays for a point's buckets (grown, never shrunk). */
let boundsBuf: Float64Array = new Float64Array(64);
let countsBuf: Float64Array = new Float64Array(64);
let negBuf: Float64Array = new Float64Array(64);

function grow(a: Float64Array, n: number): Float64Array {
  if (n < a.length) return a;
  const next = new Float64Array(Math.max(n + 1, a.length * 2));
  next.set(a);
  return next;
}

/** Decodes one request into `conv` (which hands rows to `out`); throws `WireError` on malformed input. */
export function decodeOtlpProtobuf(body: Uint8Array, conv: OtlpConverter, out: OtlpSink): void {
  b = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  pos = 0;
  const end = b.length;
  try {
    while (pos < end) {
      const key = varint(end);
      if (key === 0x0a) {
        const e = enter(end);
        resourceMetrics(pos, e, conv, out);
        pos = e;
      } else skip(key & 7, end);
    }
  } finally {
    conv.finish(out);
    b = Buffer.alloc(0);
  }
}

function resourceMetrics(start: number, end: number, conv: OtlpConverter, out: OtlpSink): void {
  let rs = -1;
  let re = -1;
  pos = start;
  while (pos < end) {
    const key = varint(end);
    if (key === 0x0a) {
      re = enter(end);
      rs = pos;
      pos = re;
    } else skip(key & 7, end);
  }
  conv.beginResource(rs < 0 ? '' : b.toString('latin1', rs, re), () => (rs < 0 ? [] : readAttrs(rs, re, 0x0a)));
  pos = start;
  while (pos < end) {
    const key = varint(end);
    if (key === 0x12) {
      const e = enter(end);
      scopeMetrics(pos, e, conv, out);
      pos = e;
    } else skip(key & 7, end);
  }
}

function scopeMetrics(start: number, end: number, conv: OtlpConverter, out: OtlpSink): void {
  let ss = -1;
  let se = -1;
  let us = -1;
  let ue = -1;
  pos = start;
  while (pos < end) {
    const key = varint(end);
    if (key === 0x0a || key === 0x1a) {
      const e = enter(end);
      if (key === 0x0a) [ss, se] = [pos, e];
      else [us, ue] = [pos, e];
      pos = e;
    } else skip(key & 7, end);
  }
  const scopeKey = (ss < 0 ? '' : b.toString('latin1', ss, se)) + '\x00' + (us < 0 ? '' : b.toString('latin1', us, ue));
  conv.beginScope(scopeKey, () => {
    const saved = pos;
    let name = '';
    let version = '';
    if (ss >= 0) {
      pos = ss;
      while (pos < se) {
        const key = varint(se);
        if (key === 0x0a) name = text(se);
        else if (key === 0x12) version = text(se);
        else skip(key & 7, se);
      }
    }
    const schemaUrl = us < 0 ? '' : b.toString('utf8', us, ue);
    const attrs = ss < 0 ? [] : readAttrs(ss, se, 0x1a);
    pos = saved;
    return { name, version, schemaUrl, attrs };
  });
  pos = start;
  while (pos < end) {
    const key = varint(end);
    if (key === 0x12) {
      const e = enter(end);
      metric(pos, e, conv, out);
      pos = e;
    } else skip(key & 7, end);
  }
}

const DATA_TYPES: Record<number, OtlpMetricType> = { 0x2a: 'gauge', 0x3a: 'sum', 0x4a: 'histogram', 0x52: 'exphistogram', 0x5a: 'summary' };

function metric(start: number, end: number, conv: OtlpConverter, out: OtlpSink): void {
  let name = '';
  let unit = '';
  let type: OtlpMetricType | undefined;
  let ds = -1;
  let de = -1;
  pos = start;
  while (pos < end) {
    const key = varint(end);
    if (key === 0x0a) name = text(end);
    else if (key === 0x1a) unit = text(end);
    else if (DATA_TYPES[key] !== undefined) {
      type = DATA_TYPES[key];
      de = enter(end);
      ds = pos;
      pos = de;
    } else skip(key & 7, end);
  }
  if (type === undefined) return;
  let temporality = 0;
  let monotonic = false;
  pos = ds;
  while (pos < de) {
    const key = varint(de);
    if (key === 0x10 && type !== 'gauge' && type !== 'summary') temporality = varint(de);
    else if (key === 0x18 && type === 'sum') monotonic = varint(de) !== 0;
    else skip(key & 7, de);
  }
  const taken = conv.beginMetric(name, unit, type, temporality, monotonic);
  pos = ds;
  while (pos < de) {
    const key = varint(de);
    if (key !== 0x0a) {
      skip(key & 7, de);
      continue;
    }
    const e = enter(de);
    if (!taken) conv.refusePoint(out);
    else if (type === 'gauge' || type === 'sum') numberPoint(pos, e, conv, out);
    else if (type === 'histogram') histogramPoint(pos, e, conv, out);
    else if (type === 'exphistogram') expHistogramPoint(pos, e, conv, out);
    else summaryPoint(pos, e, conv, out);
    pos = e;
  }
}

function numberPoint(start: number, end: number, conv: OtlpConverter, out: OtlpSink): void {
  let ts = 0;
  let value = 0;
  let flags = 0;
  attrsReset();
  pos = start;
  while (pos < end) {
    const tagAt = pos;
    const key = varint(end);
    switch (key) {
      case 0x3a: {
        const e = enter(end);
        attrSpan(tagAt, e);
        pos = e;
        break;
      }
      case 0x19:
        ts = nanosToMs(end);
        break;
      case 0x21:
        value = double(end);
        break;
      case 0x31:
        value = sfixed64(end);
        break;
      case 0x40:
        flags = varint(end);
        break;
      default:
        skip(key & 7, end);
    }
  }
  const k = attrKey();
  const s = conv.series(k) ?? conv.newSeries(k, readAttrs(start, end, 0x3a));
  conv.number(s, pointTime(ts, out), value, flags, out);
}

/** A repeated fixed64/double field, packed or not, into `into` from index `n`; returns the new count. */
function packed64(key: number, packedKey: number, asDouble: boolean, end: number, into: Float64Array, n: number, grown: (a: Float64Array) => void): number {
  if (key === packedKey) {
    const e = enter(end);
    if ((e - pos) % 8 !== 0) throw new WireError(pos, 'packed 64-bit field of a length not a multiple of 8');
    const count = (e - pos) / 8;
    if (n + count > into.length) grown((into = grow(into, n + count)));
    for (let i = 0; i < count; i++) into[n++] = asDouble ? double(e) : fixed64(e);
    return n;
  }
  if (n + 1 > into.length) grown((into = grow(into, n + 1)));
  into[n++] = asDouble ? double(end) : fixed64(end);
  return n;
}

function histogramPoint(start: number, end: number, conv: OtlpConverter, out: OtlpSink): void {
  let ts = 0;
  let count = 0;
  let sum = 0;
  let hasSum = false;
  let flags = 0;
  let nb = 0;
  let nc = 0;
  attrsReset();
  pos = start;
  while (pos < end) {
    const tagAt = pos;
    const key = varint(end);
    switch (key) {
      case 0x4a: {
        const e = enter(end);
        attrSpan(tagAt, e);
        pos = e;
        break;
      }
      case 0x19:
        ts = nanosToMs(end);
        break;
      case 0x21:
        count = fixed64(end);
        break;
      case 0x29:
        sum = double(end);
        hasSum = true;
        break;
      case 0x31:
      case 0x32:
        nc = packed64(key, 0x32, false, end, countsBuf, nc, (a) => (countsBuf = a));
        break;
      case 0x39:
      case 0x3a:
        nb = packed64(key, 0x3a, true, end, boundsBuf, nb, (a) => (boundsBuf = a));
        break;
      case 0x50:
        flags = varint(end);
        break;
      default:
        skip(key & 7, end);
    }
  }
  const k = attrKey();
  const s = conv.series(k) ?? conv.newSeries(k, readAttrs(start, end, 0x4a));
  conv.histogram(s, pointTime(ts, out), count, sum, hasSum, boundsBuf, nb, countsBuf, nc, flags, out);
}

/** A `Buckets` message: offset and counts (varints, packed or not) into `into`; returns [offset, n]. */
function buckets(end: number, into: Float64Array, grown: (a: Float64Array) => void): [number, number] {
  let offset = 0;
  let n = 0;
  while (pos < end) {
    const key = varint(end);
    if (key === 0x08) offset = zigzag32(end);
    else if (key === 0x12) {
      const e = enter(end);
      while (pos < e) {
        if (n + 1 > into.length) grown((into = grow(into, n + 1)));
        into[n++] = varint(e);
      }
    } else if (key === 0x10) {
      if (n + 1 > into.length) grown((into = grow(into, n + 1)));
      into[n++] = varint(end);
    } else skip(key & 7, end);
  }
  return [offset, n];
}

function expHistogramPoint(start: number, end: number, conv: OtlpConverter, out: OtlpSink): void {
  let ts = 0;
  let count = 0;
  let sum = 0;
  let hasSum = false;
  let flags = 0;
  let scale = 0;
  let zeroCount = 0;
  let zeroThreshold = 0;
  let posOffset = 0;
  let np = 0;
  let negOffset = 0;
  let nn = 0;
  attrsReset();
  pos = start;
  while (pos < end) {
    const tagAt = pos;
    const key = varint(end);
    switch (key) {
      case 0x0a: {
        const e = enter(end);
        attrSpan(tagAt, e);
        pos = e;
        break;
      }
      case 0x19:
        ts = nanosToMs(end);
        break;
      case 0x21:
        count = fixed64(end);
        break;
      case 0x29:
        sum = double(end);
        hasSum = true;
        break;
      case 0x30:
        scale = zigzag32(end);
        break;
      case 0x39:
        zeroCount = fixed64(end);
        break;
      case 0x42: {
        const e = enter(end);
        [posOffset, np] = buckets(e, countsBuf, (a) => (countsBuf = a));
        pos = e;
        break;
      }
      case 0x4a: {
        const e = enter(end);
        [negOffset, nn] = buckets(e, negBuf, (a) => (negBuf = a));
        pos = e;
        break;
      }
      case 0x50:
        flags = varint(end);
        break;
      case 0x71:
        zeroThreshold = double(end);
        break;
      default:
        skip(key & 7, end);
    }
  }
  if (scale < -10 || scale > 20) {
    conv.refuse(out, `exponential histogram scale ${scale} is outside [-10, 20]`);
    return;
  }
  const k = attrKey();
  const s = conv.series(k) ?? conv.newSeries(k, readAttrs(start, end, 0x0a));
  conv.expHistogram(s, pointTime(ts, out), count, sum, hasSum, scale, zeroCount, zeroThreshold, posOffset, countsBuf, np, negOffset, negBuf, nn, flags, out);
}

function summaryPoint(start: number, end: number, conv: OtlpConverter, out: OtlpSink): void {
  let ts = 0;
  let count = 0;
  let sum = 0;
  let flags = 0;
  let nq = 0;
  attrsReset();
  pos = start;
  while (pos < end) {
    const tagAt = pos;
    const key = varint(end);
    switch (key) {
      case 0x3a: {
        const e = enter(end);
        attrSpan(tagAt, e);
        pos = e;
        break;
      }
      case 0x19:
        ts = nanosToMs(end);
        break;
      case 0x21:
        count = fixed64(end);
        break;
      case 0x29:
        sum = double(end);
        break;
      case 0x32: {
        const e = enter(end);
        let q = 0;
        let v = 0;
        while (pos < e) {
          const k2 = varint(e);
          if (k2 === 0x09) q = double(e);
          else if (k2 === 0x11) v = double(e);
          else skip(k2 & 7, e);
        }
        if (nq + 1 > boundsBuf.length) {
          boundsBuf = grow(boundsBuf, nq + 1);
          countsBuf = grow(countsBuf, nq + 1);
        }
        if (nq + 1 > countsBuf.length) countsBuf = grow(countsBuf, nq + 1);
        boundsBuf[nq] = q;
        countsBuf[nq++] = v;
        pos = e;
        break;
      }
      case 0x40:
        flags = varint(end);
        break;
      default:
        skip(key & 7, end);
    }
  }
  const k = attrKey();
  const s = conv.series(k) ?? conv.newSeries(k, readAttrs(start, end, 0x3a));
  conv.summary(s, pointTime(ts, out), count, sum, boundsBuf, countsBuf, nq, flags, out);
}
