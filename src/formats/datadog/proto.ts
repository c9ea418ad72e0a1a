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
 * Decoded by hand, a series at a time, named by the parser's rules: points are read straight
 * from the bytes into the sink, no object per point. A malformed series
 * is refused alone; a malformed payload around the series stops the decoding there (what came
 * before is kept). The encoder is for tests and the benchmark.
 */

import { KeyedLabels } from '../../model/keyed-labels.js';
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

/** Scratch a series is decoded into on a cache miss (reused; the parser copies what it keeps). */
class Scratch implements SeriesHead {
  metric = '';
  host = '';
  device = '';
  res: string[] = [];
  tags: string[] = [];
}

/**
 * Reads `MetricPayload` bodies into a sink through the parser's naming. A series' cache key is
 * the raw bytes of its fields other than the points (resources, metric, tags; type, unit and the
 * rest too, as the agent sends them alike every flush): each field is self-delimiting, so equal
 * bytes are an equal series, and a series seen before costs no string decoding at all.
 */
export class MetricPayloadReader {
  private readonly cache = new KeyedLabels();
  private readonly scratch = new Scratch();
  /** Byte ranges of the current series' point messages, start and end pairs. */
  private readonly points: number[] = [];

  constructor(private readonly parser: DatadogParser) {}

  /** Throws `DatadogBodyError` when not even the first series can be found. */
  read(body: Buffer, out: RowSink): void {
    const r = new Reader(body, 0, body.length);
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
      this.series(body, start, end, index++, now, out);
    }
  }

  private series(buf: Buffer, start: number, end: number, index: number, now: number, out: RowSink): void {
    const pts = this.points;
    pts.length = 0;
    let key = '';
    const r = new Reader(buf, start, end);
    try {
      let seg = start;
      while (r.pos < r.end) {
        const at = r.pos;
        const k = r.varint();
        if (k === ((4 << 3) | LEN)) {
          const fend = r.len();
          if (at > seg) key += buf.toString('latin1', seg, at);
          pts.push(r.pos, fend);
          r.pos = fend;
          seg = fend;
        } else r.skip(k & 7);
      }
      if (end > seg) key += buf.toString('latin1', seg, end);
    } catch (err) {
      out.invalid(0, `series ${index + 1}: malformed protobuf: ${(err as Error).message}`, 'syntax');
      return;
    }
    if (pts.length === 0) return;
    let labels = this.cache.get(key);
    if (labels === undefined) {
      let head: Scratch;
      try {
        head = this.head(buf, start, end);
      } catch (err) {
        out.invalid(0, `series ${index + 1}: malformed protobuf: ${(err as Error).message}`, 'syntax');
        return;
      }
      const built = this.parser.build(head);
      if (typeof built === 'string') {
        out.invalid(0, `series ${index + 1}: ${built}`, 'syntax');
        return;
      }
      labels = built;
      this.cache.set(key, labels);
    }
    for (let j = 0; j < pts.length; j += 2) {
      const p = new Reader(buf, pts[j], pts[j + 1]);
      let value = 0;
      let ts = 0;
      try {
        while (p.pos < p.end) {
          const k = p.varint();
          if (k === ((1 << 3) | I64)) {
            if (p.pos + 8 > p.end) throw new ProtoError('truncated value');
            value = buf.readDoubleLE(p.pos);
            p.pos += 8;
          } else if (k === ((2 << 3) | VARINT)) ts = p.int64();
          else p.skip(k & 7);
        }
      } catch (err) {
        out.invalid(0, `series ${index + 1} (${JSON.stringify(labels.metricName)}) point ${j / 2 + 1}: malformed protobuf: ${(err as Error).message}`, 'syntax');
        continue;
      }
      // a double is taken as it is (NaN and infinities too, which JSON cannot carry)
      const ms = ts > 0 ? ts * 1000 : now * 1000;
      if (ms > Number.MAX_SAFE_INTEGER) {
        out.invalid(0, `series ${index + 1} (${JSON.stringify(labels.metricName)}) point ${j / 2 + 1}: timestamp ${ts} out of range`, 'value');
        continue;
      }
      out.sample(labels, value, ms);
    }
  }

  /** The series' identity decoded (a miss: the fields were checked by the first pass). */
  private head(buf: Buffer, start: number, end: number): Scratch {
    const s = this.scratch;
    s.metric = '';
    s.res.length = 0;
    s.tags.length = 0;
    const r = new Reader(buf, start, end);
    while (r.pos < r.end) {
      const k = r.varint();
      const field = k >>> 3;
      if ((k & 7) !== LEN || field < 1 || field > 3) {
        r.skip(k & 7);
        continue;
      }
      const fend = r.len();
      if (field === 2) s.metric = buf.toString('utf8', r.pos, fend);
      else if (field === 3) s.tags.push(buf.toString('utf8', r.pos, fend));
      else resource(new Reader(buf, r.pos, fend), s.res);
      r.pos = fend;
    }
    return s;
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
