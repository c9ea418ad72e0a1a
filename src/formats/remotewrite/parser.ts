/**
 * Decoding a remote write 1.0 `WriteRequest` (after snappy): series, samples with the staleness
 * marker recognised by its exact bits, and metadata. Unknown fields are skipped as protobuf
 * requires; malformed input throws a `WireError` with the byte offset and what was expected.
 */

import type { MetricType } from '../../model/family.js';
import { Labels } from '../../model/labels.js';
import { isStaleNaNBits } from '../../model/samples.js';
import { METADATA_TYPES, type MetricMetadata } from './writer.js';

export class WireError extends Error {
  constructor(
    readonly offset: number,
    readonly detail: string,
  ) {
    super(`byte ${offset}: ${detail}`);
    this.name = 'WireError';
  }
}

export interface DecodedSample {
  value: number;
  timestampMs: number;
  stale: boolean;
}

export interface DecodedSeries {
  labels: Labels;
  samples: DecodedSample[];
  /** Native histogram samples and exemplars, counted (Tributary carries neither). */
  histograms: number;
  exemplars: number;
}

export interface DecodedWriteRequest {
  timeseries: DecodedSeries[];
  metadata: MetricMetadata[];
}

export const TYPE_BY_NUMBER = new Map<number, MetricType>(Object.entries(METADATA_TYPES).map(([k, v]) => [v, k as MetricType]));
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class Reader {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError(this.pos, 'truncated varint');
      const c = this.b[this.pos++];
      result += (c & 0x7f) * mul;
      if (c < 0x80) return result;
      mul *= 128;
    }
    throw new WireError(this.pos, 'varint longer than 10 bytes');
  }

  /** An int64 varint, negative values included (two's complement over ten bytes). */
  int64(): number {
    const start = this.pos;
    const v = this.varint();
    if (this.pos - start < 8) return v;
    // beyond 2^49 a double cannot sum the groups exactly: redo it in 64-bit integers
    let big = 0n;
    for (let i = this.pos - 1; i >= start; i--) big = (big << 7n) | BigInt(this.b[i] & 0x7f);
    return Number(BigInt.asIntN(64, big));
  }

  sub(): Reader {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new WireError(start, `length ${len} runs past the end of its message`);
    this.pos = start + len;
    return new Reader(this.b, start, start + len);
  }

  /**
   * Enters a length-delimited field without a Reader of its own (for loops over many small
   * messages): returns where it ends, to be read up to that and closed with `leave`.
   */
  enter(): number {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.end) throw new WireError(this.pos, `length ${len} runs past the end of its message`);
    return end;
  }

  /** Closes what `enter` opened: whatever was read in it must have ended at its end. */
  leave(end: number): void {
    if (this.pos !== end) throw new WireError(end, 'field runs past the end of its message');
  }

  text(): string {
    const r = this.sub();
    try {
      return utf8.decode(r.b.subarray(r.pos, r.end));
    } catch {
      throw new WireError(r.pos, 'string is not valid UTF-8');
    }
  }

  skip(wire: number): void {
    const at = this.pos;
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.sub();
    else if (wire === 5) this.pos += 4;
    else throw new WireError(at, `unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new WireError(at, 'field runs past the end of its message');
  }
}

export function parseWriteRequest(bytes: Uint8Array): DecodedWriteRequest {
  const r = new Reader(bytes, 0, bytes.length);
  const out: DecodedWriteRequest = { timeseries: [], metadata: [] };
  while (!r.done) {
    const key = r.varint();
    if (key === 0x0a) out.timeseries.push(readSeries(r.sub()));
    else if (key === 0x1a) out.metadata.push(readMetadata(r.sub()));
    else r.skip(key & 7);
  }
  return out;
}

function readSeries(r: Reader): DecodedSeries {
  const pairs: [string, string][] = [];
  const samples: DecodedSample[] = [];
  let histograms = 0;
  let exemplars = 0;
  while (!r.done) {
    const key = r.varint();
    if (key === 0x0a) {
      pairs.push(readLabel(r.sub()));
    } else if (key === 0x12) {
      samples.push(readSample(r.sub()));
    } else if (key === 0x1a) {
      r.skip(2);
      exemplars++;
    } else if (key === 0x22) {
      r.skip(2);
      histograms++;
    } else {
      r.skip(key & 7);
    }
  }
  return { labels: Labels.fromPairs(pairs), samples, histograms, exemplars };
}

/** A `Sample` (the same in 1.0 and 2.0): value bit-exact as to staleness, int64 timestamp. */
/** A 1.0 `Label` message: name (1) and value (2). */
export function readLabel(l: Reader): [string, string] {
  let name = '';
  let value = '';
  while (!l.done) {
    const k = l.varint();
    if (k === 0x0a) name = l.text();
    else if (k === 0x12) value = l.text();
    else l.skip(k & 7);
  }
  return [name, value];
}

export function readSample(s: Reader): DecodedSample {
  const sample: DecodedSample = { value: 0, timestampMs: 0, stale: false };
  while (!s.done) {
    const k = s.varint();
    if (k === 0x09) {
      if (s.pos + 8 > s.end) throw new WireError(s.pos, 'truncated sample value');
      sample.stale = isStaleNaNBits(s.b, s.pos);
      sample.value = new DataView(s.b.buffer, s.b.byteOffset + s.pos, 8).getFloat64(0, true);
      s.pos += 8;
    } else if (k === 0x10) sample.timestampMs = s.int64();
    else s.skip(k & 7);
  }
  return sample;
}

export function readMetadata(r: Reader): MetricMetadata {
  let type: MetricType = 'unknown';
  let family = '';
  let help: string | undefined;
  let unit: string | undefined;
  while (!r.done) {
    const key = r.varint();
    if (key === 0x08) type = TYPE_BY_NUMBER.get(r.varint()) ?? 'unknown';
    else if (key === 0x12) family = r.text();
    else if (key === 0x22) help = r.text();
    else if (key === 0x2a) unit = r.text();
    else r.skip(key & 7);
  }
  return { type, family, ...(help !== undefined ? { help } : {}), ...(unit !== undefined ? { unit } : {}) };
}
