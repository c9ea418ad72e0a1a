/**
 * Prometheus remote write 1.0 `WriteRequest` encoding, by hand: a series' labels are encoded
 * once (kept on its `Labels`, model/labels-packed.ts), so a sample costs a copy of those bytes,
 * a tag, eight value bytes and a varint. The staleness marker is written from the batch's flag
 * with its exact bits.
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 */

import type { MetricType } from '../../model/family.js';
import type { Labels } from '../../model/labels.js';
import { packLabels, putVarint, varintSize } from '../../model/labels-packed.js';
import { STALE_NAN_HI, STALE_NAN_LO, type SampleBatch } from '../../model/samples.js';
import { compress } from '../snappy/index.js';

const TAG_TIMESERIES = 0x0a;
const TAG_METADATA = 0x1a;
const TAG_SAMPLE = 0x12;
const TAG_SAMPLE_VALUE = 0x09;
const TAG_SAMPLE_TIMESTAMP = 0x10;

export const METADATA_TYPES: Readonly<Record<MetricType, number>> = {
  unknown: 0,
  counter: 1,
  gauge: 2,
  histogram: 3,
  gaugehistogram: 4,
  summary: 5,
  info: 6,
  stateset: 7,
};

export interface MetricMetadata {
  readonly type: MetricType;
  readonly family: string;
  readonly help?: string;
  readonly unit?: string;
}

/**
 * The protobuf bytes of a label set's `Label` entries (field 1 of TimeSeries, repeated), as a
 * string of one character per byte: the packed form model/labels-packed.ts defines.
 */
export function encodeLabels(labels: Labels): string {
  return packLabels(labels.kv);
}

/**
 * Builds one WriteRequest from any number of batches (or parts of them) and metadata. Reusable:
 * `reset` keeps the buffer. Not for concurrent use.
 */
export class WriteRequestWriter {
  private buf: Buffer;
  private view: DataView;
  private pos = 0;
  /** Samples written since the last reset. */
  samples = 0;

  constructor(initialBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initialBytes);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  get size(): number {
    return this.pos;
  }

  reset(): void {
    this.pos = 0;
    this.samples = 0;
  }

  /** Appends samples `from`..`to` (exclusive) of `batch`, one TimeSeries each. */
  append(batch: SampleBatch, from = 0, to = batch.length): void {
    for (let i = from; i < to; i++) this.put(batch, i);
    this.samples += to - from;
  }

  /** Appends sample `i` of `batch`. */
  appendOne(batch: SampleBatch, i: number): void {
    this.put(batch, i);
    this.samples++;
  }

  // The value and timestamp are doubles (a timestamp needs 41 bits): they are written here
  // rather than in helpers, as a double passed to a call V8 does not inline is boxed — an
  // allocation per sample.
  private put(batch: SampleBatch, i: number): void {
    const labels = batch.series[i];
    // the packed labels, encoded once per series (written from their parts when packed around a target's)
    const ts = batch.timestamps[i];
    const sampleLen = 1 + 8 + 1 + timestampSize(ts);
    const seriesLen = labels.packedLength + 1 + varintSize(sampleLen) + sampleLen;
    this.ensure(1 + 5 + seriesLen);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = TAG_TIMESERIES;
    p = putVarint(buf, p, seriesLen);
    p = labels.writePacked(buf, p);
    buf[p++] = TAG_SAMPLE;
    buf[p++] = sampleLen;
    buf[p++] = TAG_SAMPLE_VALUE;
    if (batch.isStale(i)) {
      this.view.setUint32(p, STALE_NAN_LO, true);
      this.view.setUint32(p + 4, STALE_NAN_HI, true);
    } else {
      this.view.setFloat64(p, batch.values[i], true);
    }
    p += 8;
    buf[p++] = TAG_SAMPLE_TIMESTAMP;
    if (ts >= 0) {
      let n = ts;
      while (n >= 0x80) {
        buf[p++] = (n & 0x7f) | 0x80;
        n = Math.floor(n / 128);
      }
      buf[p++] = n;
    } else {
      p = putNegativeTimestamp(buf, p, ts);
    }
    this.pos = p;
  }

  /**
   * One TimeSeries holding samples `from`..`to` (exclusive) of `values`/`timestamps`, in the
   * order given (receivers want them in time order: the caller sorts).
   */
  appendSeries(labels: Labels, values: ArrayLike<number>, timestamps: ArrayLike<number>, from = 0, to = values.length): void {
    let samplesLen = 0;
    for (let i = from; i < to; i++) {
      const sampleLen = 1 + 8 + 1 + timestampSize(timestamps[i]);
      samplesLen += 1 + varintSize(sampleLen) + sampleLen;
    }
    const seriesLen = labels.packedLength + samplesLen;
    this.ensure(1 + 5 + seriesLen);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = TAG_TIMESERIES;
    p = putVarint(buf, p, seriesLen);
    p = labels.writePacked(buf, p);
    for (let i = from; i < to; i++) {
      const ts = timestamps[i];
      buf[p++] = TAG_SAMPLE;
      buf[p++] = 1 + 8 + 1 + timestampSize(ts);
      buf[p++] = TAG_SAMPLE_VALUE;
      this.view.setFloat64(p, values[i], true);
      p += 8;
      buf[p++] = TAG_SAMPLE_TIMESTAMP;
      if (ts >= 0) {
        let n = ts;
        while (n >= 0x80) {
          buf[p++] = (n & 0x7f) | 0x80;
          n = Math.floor(n / 128);
        }
        buf[p++] = n;
      } else {
        p = putNegativeTimestamp(buf, p, ts);
      }
    }
    this.pos = p;
    this.samples += to - from;
  }

  appendMetadata(m: MetricMetadata): void {
    const family = Buffer.from(m.family, 'utf8');
    const help = m.help ? Buffer.from(m.help, 'utf8') : undefined;
    const unit = m.unit ? Buffer.from(m.unit, 'utf8') : undefined;
    const field = (b: Buffer | undefined) => (b ? 1 + varintSize(b.length) + b.length : 0);
    const len = 2 + field(family) + field(help) + field(unit);
    this.ensure(1 + 5 + len);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = TAG_METADATA;
    p = putVarint(buf, p, len);
    buf[p++] = 0x08;
    buf[p++] = METADATA_TYPES[m.type];
    for (const [tag, b] of [
      [0x12, family],
      [0x22, help],
      [0x2a, unit],
    ] as const) {
      if (!b) continue;
      buf[p++] = tag;
      p = putVarint(buf, p, b.length);
      buf.set(b, p);
      p += b.length;
    }
    this.pos = p;
  }

  /** The request so far; valid until the next change. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.buf = grownBuffer(this.buf, this.pos, n);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
}

/** Bytes a sample's timestamp (ms since the epoch) takes: a varint, or an int64's ten below zero. */
export function timestampSize(ts: number): number {
  return ts < 0 ? 10 : varintSize(ts);
}

/** A timestamp below zero: ten bytes of two's complement, as protobuf writes an int64. */
export function putNegativeTimestamp(buf: Uint8Array, p: number, ts: number): number {
  let v = BigInt.asUintN(64, BigInt(ts));
  for (let i = 0; i < 9; i++) {
    buf[p++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[p++] = Number(v);
  return p;
}

/** A copy of `buf`'s first `used` bytes with room for `need` more, at least twice as big. */
export function grownBuffer(buf: Buffer, used: number, need: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, used + need));
  buf.copy(next, 0, 0, used);
  return next;
}

/** A copy of `a` with room for `n` entries, at least twice as big. */
export function grownInts(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(2 * a.length, n));
  b.set(a);
  return b;
}

/** A buffer of exactly `bytes` bytes for a finished request. */
export type PayloadAlloc = (bytes: number) => Buffer;

/** What a remote-write sender gathers a compressed request with. */
export interface RequestEncoder {
  readonly samples: number;
  /** Bytes held so far. */
  readonly size: number;
  appendOne(batch: SampleBatch, i: number): void;
  /** The compressed request, a copy of its own (in a buffer from `alloc`, when given). */
  finish(alloc?: PayloadAlloc): Buffer;
  reset(): void;
}

/** The plain writer, compressed whole when finished (`compression: small`). */
export class CompressingWriteRequestWriter extends WriteRequestWriter implements RequestEncoder {
  finish(alloc?: PayloadAlloc): Buffer {
    return compress(this.bytes(), alloc);
  }
}
