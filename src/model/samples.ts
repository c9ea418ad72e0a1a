/**
 * Samples in bulk. A `SampleBatch` is columnar — series references, float64 values and int64
 * millisecond timestamps in typed arrays — so a scrape of ten thousand samples costs a handful
 * of arrays, not ten thousand objects, and is reused from one scrape to the next.
 *
 * Staleness: Prometheus marks a vanished series with a NaN whose bits are exactly
 * 0x7ff0000000000002. JavaScript may canonicalise NaN payloads in arithmetic and in typed-array
 * stores, so the marker is carried as a flag beside the value and written out bit-exact by
 * `writeSampleValue` and recognised on input by `isStaleNaNBits`.
 */

import type { Labels } from './labels.js';

export const STALE_NAN_HI = 0x7ff00000;
export const STALE_NAN_LO = 0x00000002;
/** The bits of the staleness marker, as a BigInt for tests and documentation. */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

/** Per-sample flag: the value is the staleness marker, whatever `values[i]` holds. */
export const FLAG_STALE = 1;

/** True when the 8 little-endian bytes at `offset` are the staleness marker. */
export function isStaleNaNBits(bytes: Uint8Array, offset: number): boolean {
  return (
    bytes[offset] === 0x02 &&
    bytes[offset + 1] === 0 &&
    bytes[offset + 2] === 0 &&
    bytes[offset + 3] === 0 &&
    bytes[offset + 4] === 0 &&
    bytes[offset + 5] === 0 &&
    bytes[offset + 6] === 0xf0 &&
    bytes[offset + 7] === 0x7f
  );
}

/**
 * Writes a sample value as 8 little-endian bytes; with `stale` the exact marker bits, never a
 * NaN that went through a float register.
 */
export function writeSampleValue(view: DataView, offset: number, value: number, stale: boolean): void {
  if (stale) {
    view.setUint32(offset, STALE_NAN_LO, true);
    view.setUint32(offset + 4, STALE_NAN_HI, true);
  } else {
    view.setFloat64(offset, value, true);
  }
}

export class SampleBatch {
  series: Labels[];
  values: Float64Array;
  /** Milliseconds since the epoch; exact for every integer up to 2^53 (year 285,616). */
  timestamps: Float64Array;
  flags: Uint8Array;
  length = 0;

  constructor(capacity = 1024) {
    this.series = new Array<Labels>(capacity);
    this.values = new Float64Array(capacity);
    this.timestamps = new Float64Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  get capacity(): number {
    return this.values.length;
  }

  /** Empties the batch but keeps its storage for the next round. */
  reset(): void {
    this.series.fill(undefined as unknown as Labels, 0, this.length);
    this.length = 0;
  }

  append(series: Labels, value: number, timestampMs: number): void {
    const i = this.length;
    if (i === this.values.length) this.grow(i * 2);
    this.series[i] = series;
    this.values[i] = value;
    this.timestamps[i] = timestampMs;
    this.flags[i] = 0;
    this.length = i + 1;
  }

  appendStale(series: Labels, timestampMs: number): void {
    const i = this.length;
    if (i === this.values.length) this.grow(i * 2);
    this.series[i] = series;
    this.values[i] = NaN;
    this.timestamps[i] = timestampMs;
    this.flags[i] = FLAG_STALE;
    this.length = i + 1;
  }

  /** Sample `i` of `from` under `series` (its own or relabeled), staleness kept. */
  appendFrom(from: SampleBatch, i: number, series: Labels): void {
    if (from.isStale(i)) this.appendStale(series, from.timestamps[i]);
    else this.append(series, from.values[i], from.timestamps[i]);
  }

  isStale(i: number): boolean {
    return (this.flags[i] & FLAG_STALE) !== 0;
  }

  private grow(capacity: number): void {
    const c = Math.max(capacity, 16);
    const values = new Float64Array(c);
    values.set(this.values.subarray(0, this.length));
    const timestamps = new Float64Array(c);
    timestamps.set(this.timestamps.subarray(0, this.length));
    const flags = new Uint8Array(c);
    flags.set(this.flags.subarray(0, this.length));
    this.values = values;
    this.timestamps = timestamps;
    this.flags = flags;
    this.series.length = c;
  }
}

/**
 * Batches lent for one use and given back. A scrape fills its batch only while its page comes
 * in, so a handful of batches serve hundreds of targets; a batch per target held a few
 * kilobytes per series slot for nothing between scrapes.
 */
export class SampleBatchPool {
  private readonly free: SampleBatch[] = [];

  /** `keep`: how many idle batches are held at most; more are left to the collector. */
  constructor(private readonly keep = 16) {}

  take(): SampleBatch {
    return this.free.pop() ?? new SampleBatch(1024);
  }

  give(batch: SampleBatch): void {
    batch.reset();
    if (this.free.length < this.keep) this.free.push(batch);
  }
}
