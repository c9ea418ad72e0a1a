/**
 * The DataDog agent's v2 series body: protobuf `MetricPayload` (DataDog/agent-payload,
 * proto/metrics/agent_payload.proto), sent to `/api/v2/series` with
 * `Content-Type: application/x-protobuf`:
 *
 *     message MetricPayload { repeated MetricSeries series = 1; }
 *     message MetricSeries {
 *       repeated Resource resources = 1;   // Resource { string type = 1; string name = 2; }
 *       string metric = 2;
 *       repeated string tags = 3;
 *       repeated MetricPoint points = 4;   // MetricPoint { double value = 1; int64 timestamp = 2; }
 *       MetricType type = 5; string unit = 6; string source_type_name = 7; int64 interval = 8; ...
 *     }
 *
 * Decoded by hand, a series at a time, into the parser's series path (naming, cache, refusals):
 * points are read straight from the bytes into the sink, no object per point. A malformed series
 * is refused alone; a malformed payload around the series stops the decoding there (what came
 * before is kept). The encoder is for tests and the benchmark.
 */

import type { RowSink } from '../rows/index.js';
import { DatadogBodyError, type DatadogParser, type SeriesHead } from './parser.js';

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

class ProtoError extends Error {}

/** A cursor over one message's bytes. */
class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    const buf = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError('truncated varint');
      const b = buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new ProtoError('varint longer than 10 bytes');
  }

  /** An int64 varint as a number: negative ones come as 10-byte two's complement. */
  int64(): number {
    const v = this.varint();
    return v >= 2 ** 63 ? v - 2 ** 64 : v;
  }

  /** The end of a length-delimited field that starts here. */
  len(): number {
    const n = this.varint();
    const end = this.pos + n;
    if (end > this.end) throw new ProtoError('length past the end of the message');
    return end;
  }

  skip(wire: number): void {
    switch (wire) {
      case VARINT:
        this.varint();
        return;
      case I64:
        this.pos += 8;
        break;
      case LEN:
        this.pos = this.len();
        return;
      case I32:
        this.pos += 4;
        break;
      default:
        throw new ProtoError(`unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) throw new ProtoError('truncated field');
  }
}

/** Scratch a series is decoded into (reused; the parser copies what it keeps). */
class Scratch implements SeriesHead {
  metric = '';
  host = '';
  device = '';
  res: string[] = [];
  tags: string[] = [];
  /** Byte ranges of the point messages, start and end pairs. */
  points: number[] = [];
}

/** Reads a `MetricPayload` into `out` through `parser`. Throws `DatadogBodyError` when not even the first series can be found. */
export function readMetricPayload(parser: DatadogParser, body: Buffer, out: RowSink): void {
  const r = new Reader(body, 0, body.length);
  const s = new Scratch();
  const now = Math.floor(out.now / 1000);
  let index = 0;
  while (r.pos < r.end) {
    let start: number;
    let end: number;
    try {
      const key = r.varint();
      if (key >>> 3 !== 1 || (key & 7) !== LEN) {
        r.skip(key & 7);
        continue;
      }
      end = r.len();
      start = r.pos;
      r.pos = end;
    } catch (err) {
      const why = `the protobuf MetricPayload is malformed after ${index} series: ${(err as Error).message}`;
      if (index === 0) throw new DatadogBodyError(why);
      out.invalid(0, why, 'syntax');
      return;
    }
    series(parser, body, start, end, s, index++, now, out);
  }
}

function series(parser: DatadogParser, buf: Buffer, start: number, end: number, s: Scratch, index: number, now: number, out: RowSink): void {
  s.metric = '';
  s.res.length = 0;
  s.tags.length = 0;
  s.points.length = 0;
  const r = new Reader(buf, start, end);
  try {
    while (r.pos < r.end) {
      const key = r.varint();
      const field = key >>> 3;
      const wire = key & 7;
      if (wire !== LEN || field < 1 || field > 4) {
        r.skip(wire);
        continue;
      }
      const fend = r.len();
      if (field === 2) s.metric = buf.toString('utf8', r.pos, fend);
      else if (field === 3) s.tags.push(buf.toString('utf8', r.pos, fend));
      else if (field === 4) s.points.push(r.pos, fend);
      else resource(new Reader(buf, r.pos, fend), s.res);
      r.pos = fend;
    }
  } catch (err) {
    out.invalid(0, `series ${index + 1}${s.metric === '' ? '' : ` (${JSON.stringify(s.metric)})`}: malformed protobuf: ${(err as Error).message}`, 'syntax');
    return;
  }
  if (s.points.length === 0) return;
  const labels = parser.labels(s, out, index);
  if (labels === undefined) return;
  const pts = s.points;
  for (let j = 0; j < pts.length; j += 2) {
    const p = new Reader(buf, pts[j], pts[j + 1]);
    let value = 0;
    let ts = 0;
    try {
      while (p.pos < p.end) {
        const key = p.varint();
        if (key === ((1 << 3) | I64)) {
          if (p.pos + 8 > p.end) throw new ProtoError('truncated value');
          value = buf.readDoubleLE(p.pos);
          p.pos += 8;
        } else if (key === ((2 << 3) | VARINT)) ts = p.int64();
        else p.skip(key & 7);
      }
    } catch (err) {
      out.invalid(0, `series ${index + 1} (${JSON.stringify(s.metric)}) point ${j / 2 + 1}: malformed protobuf: ${(err as Error).message}`, 'syntax');
      continue;
    }
    parser.point(labels, ts, value, now, out, index, s.metric, j / 2);
  }
}

function resource(r: Reader, res: string[]): void {
  let type = '';
  let name = '';
  while (r.pos < r.end) {
    const key = r.varint();
    if ((key & 7) !== LEN || (key >>> 3 !== 1 && key >>> 3 !== 2)) {
      r.skip(key & 7);
      continue;
    }
    const end = r.len();
    const text = r.buf.toString('utf8', r.pos, end);
    if (key >>> 3 === 1) type = text;
    else name = text;
    r.pos = end;
  }
  res.push(type, name);
}

/** A series to encode (tests, benchmark). */
export interface PayloadSeries {
  metric: string;
  tags?: string[];
  resources?: { type: string; name: string }[];
  points: { timestamp: number; value: number }[];
  /** MetricType: 0 unspecified, 1 count, 2 rate, 3 gauge. */
  type?: number;
}

/** Encodes a `MetricPayload` as the agent does (fields in number order). */
export function encodeMetricPayload(series: readonly PayloadSeries[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of series) {
    const body: Buffer[] = [];
    for (const r of s.resources ?? []) body.push(lenField(1, Buffer.concat([lenField(1, Buffer.from(r.type)), lenField(2, Buffer.from(r.name))])));
    body.push(lenField(2, Buffer.from(s.metric)));
    for (const t of s.tags ?? []) body.push(lenField(3, Buffer.from(t)));
    for (const p of s.points) {
      const v = Buffer.alloc(9);
      v[0] = (1 << 3) | I64;
      v.writeDoubleLE(p.value, 1);
      body.push(lenField(4, Buffer.concat([v, varint((2 << 3) | VARINT), varint(p.timestamp)])));
    }
    if (s.type !== undefined) body.push(varint((5 << 3) | VARINT), varint(s.type));
    parts.push(lenField(1, Buffer.concat(body)));
  }
  return Buffer.concat(parts);
}

function lenField(field: number, data: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | LEN), varint(data.length), data]);
}

function varint(n: number): Buffer {
  // negative int64: ten bytes of two's complement
  let v = n < 0 ? BigInt.asUintN(64, BigInt(n)) : BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
