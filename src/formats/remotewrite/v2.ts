/**
 * Prometheus remote write 2.0 (`io.prometheus.write.v2.Request`, spec 2.0-rc.3, the message in
 * prometheus/prompb/io/prometheus/write/v2/types.proto): every string once, in a symbol table
 * whose entry 0 is "", and series that refer to it.
 *
 *   Request    { reserved 1 to 3; repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
 *   TimeSeries { repeated uint32 labels_refs = 1 (packed); repeated Sample samples = 2;
 *                repeated Histogram histograms = 3; repeated Exemplar exemplars = 4;
 *                Metadata metadata = 5; int64 created_timestamp = 6; }
 *   Sample     { double value = 1; int64 timestamp = 2; }
 *   Metadata   { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4; }
 *
 * The writer lists a request's samples by series (1.0 repeats a series' labels for each of
 * its samples; 2.0 lists the samples under one series, in the order given, which is time order
 * per series) and attaches each series' metadata. Tributary carries no native histograms or
 * exemplars, and OpenMetrics `_created` lines are scraped as `_created` series (as Prometheus
 * does by default), so `histograms`, `exemplars` and `created_timestamp` are never written;
 * the parser reads all of it so that the receiver can count what it cannot keep.
 * (Spec rc.4 later moved the created timestamp into Sample as `start_timestamp`; the parser
 * skips it as an unknown field.)
 */

import type { MetricType } from '../../model/family.js';
import { Labels } from '../../model/labels.js';
import { putVarint, varintSize } from '../../model/labels-packed.js';
import { MEDIA_REMOTE_WRITE } from '../media-types.js';
import { Reader, readSample, TYPE_BY_NUMBER, WireError, type DecodedSample } from './parser.js';
import { grownBuffer, grownInts, METADATA_TYPES, putNegativeTimestamp, timestampSize, type MetricMetadata } from './writer.js';

export const V2_CONTENT_TYPE = `${MEDIA_REMOTE_WRITE};proto=io.prometheus.write.v2.Request`;
export const V2_VERSION_HEADER = '2.0.0';

/** What the 2.0 metadata of a series holds. */
export type SeriesMetadata = Omit<MetricMetadata, 'family'>;

/**
 * Strings by number, with their UTF-8 bytes, kept across requests: a sender that meets the
 * same series request after request numbers their labels once, and a request then refers to
 * them by number — no string hashed, encoded or measured per sample. Grows with the strings met;
 * the owner clears it (with whatever holds its numbers) when that is too many.
 */
export class V2Symbols {
  private readonly ids = new Map<string, number>();
  private bytes: Buffer = Buffer.allocUnsafe(64 * 1024);
  /** Where each string's bytes are: `bytes[starts[id], starts[id + 1])`. */
  private starts = new Int32Array(1024);
  private used = 0;
  private count = 0;

  constructor() {
    this.clear();
  }

  /** The number of `text`; "" is 0. */
  id(text: string): number {
    let i = this.ids.get(text);
    if (i === undefined) {
      const n = Buffer.byteLength(text, 'utf8');
      if (this.used + n > this.bytes.length) this.bytes = grownBuffer(this.bytes, this.used, n);
      this.used += this.bytes.write(text, this.used, 'utf8');
      i = this.count++;
      if (this.count + 1 > this.starts.length) this.starts = grownInts(this.starts, this.count + 1);
      this.starts[this.count] = this.used;
      this.ids.set(text, i);
    }
    return i;
  }

  clear(): void {
    this.ids.clear();
    this.used = 0;
    this.count = 0;
    this.starts[0] = 0;
    this.id('');
  }

  size(id: number): number {
    return this.starts[id + 1] - this.starts[id];
  }

  /** Writes the bytes of `id` at `p`; returns the end. */
  put(id: number, out: Uint8Array, p: number): number {
    const from = this.starts[id];
    const to = this.starts[id + 1];
    // most are a few bytes: a loop beats a native copy
    if (to - from <= 32) for (let k = from; k < to; k++) out[p++] = this.bytes[k];
    else {
      this.bytes.copy(out, p, from, to);
      p += to - from;
    }
    return p;
  }
}

/** No metadata for a series (`METADATA_TYPES` are 0 to 7). */
const NO_METADATA = -1;

/**
 * Builds one `Request`; reusable after `reset`. The caller numbers strings in a `V2Symbols`,
 * opens each series of the request once (`addSeries`, which interns its labels in the
 * request's symbol table) and adds samples to it by its number in the request. Everything is
 * held in typed arrays kept from request to request, so a request allocates nothing per
 * series or sample: at this many samples a request, objects per sample cost more in garbage
 * collection than the encoding itself.
 */
export class V2RequestWriter {
  /** Which request this is (the stamp of `refOf` entries valid now). */
  private request = 1;
  /** The request's symbols, as `symbols` numbers, in order of first use (`order[0]` is ""). */
  private order = new Int32Array(1024);
  private symbolCount = 0;
  /** By `symbols` number: the request's ref, valid where `stampOf` is this request. */
  private refOf = new Int32Array(1024);
  private stampOf = new Int32Array(1024);

  /** Per series of the request: its label refs at `refs[labelsFrom[i], labelsFrom[i + 1])`. */
  private refs = new Int32Array(4096);
  private labelsFrom = new Int32Array(1025);
  private metaType = new Int8Array(1024);
  private helpRef = new Int32Array(1024);
  private unitRef = new Int32Array(1024);
  /** Its samples, a list through `next` (in the order added, which is time order per series). */
  private first = new Int32Array(1024);
  private last = new Int32Array(1024);
  private seriesCount = 0;

  /** Per sample: the value's 8 bytes (little-endian, as on the wire) and the timestamp. */
  private values = new Uint8Array(8 * 2048);
  private timestamps = new Float64Array(2048);
  private next = new Int32Array(2048);
  samples = 0;

  private out: Buffer = Buffer.allocUnsafe(64 * 1024);

  constructor(readonly symbols: V2Symbols = new V2Symbols()) {
    this.reset();
  }

  reset(): void {
    // a new stamp voids every ref of the previous request without touching them
    if (++this.request === 0x7fffffff) {
      this.request = 1;
      this.stampOf.fill(0);
    }
    this.symbolCount = 0;
    this.ref(0);
    this.seriesCount = 0;
    this.samples = 0;
  }

  /**
   * A series new to this request, its labels as `symbols` numbers (flat sorted name, value
   * pairs); returns its number in the request. The caller remembers which series it opened:
   * a series opened twice is written twice.
   */
  addSeries(labels: ArrayLike<number>): number {
    const i = this.seriesCount++;
    if (i + 2 > this.labelsFrom.length) this.growSeries(i + 2);
    let at = this.labelsFrom[i];
    if (at + labels.length > this.refs.length) this.refs = grownInts(this.refs, at + labels.length);
    for (let k = 0; k < labels.length; k++) this.refs[at++] = this.ref(labels[k]);
    this.labelsFrom[i + 1] = at;
    this.metaType[i] = NO_METADATA;
    this.first[i] = -1;
    return i;
  }

  hasMetadata(series: number): boolean {
    return this.metaType[series] !== NO_METADATA;
  }

  /** The series' metadata (help and unit as `symbols` numbers, 0 for none); once per series. */
  setMetadata(series: number, type: MetricType, help: number, unit: number): void {
    if (this.metaType[series] !== NO_METADATA) return;
    // interned now: the symbols are written before the series, in order of first use
    this.metaType[series] = METADATA_TYPES[type];
    this.helpRef[series] = help > 0 ? this.ref(help) : 0;
    this.unitRef[series] = unit > 0 ? this.ref(unit) : 0;
  }

  /** A sample whose value is the 8 bytes at `bytes[at]` (a wire double: the staleness marker's bits kept), or 0 when `at` is -1. */
  addSampleBytes(series: number, bytes: Uint8Array, at: number, timestampMs: number): void {
    const j = this.newSample(series, timestampMs);
    const v = this.values;
    const p = 8 * j;
    if (at < 0) v.fill(0, p, p + 8);
    else for (let k = 0; k < 8; k++) v[p + k] = bytes[at + k];
  }

  private newSample(series: number, timestampMs: number): number {
    const j = this.samples++;
    if (j >= this.timestamps.length) {
      const n = 2 * this.timestamps.length;
      const values = new Uint8Array(8 * n);
      values.set(this.values);
      this.values = values;
      this.timestamps = grownFloats(this.timestamps, n);
      this.next = grownInts(this.next, n);
    }
    this.timestamps[j] = timestampMs;
    this.next[j] = -1;
    if (this.first[series] < 0) this.first[series] = j;
    else this.next[this.last[series]] = j;
    this.last[series] = j;
    return j;
  }

  /** The request's ref of `symbols` number `id`, which it gets on first use. */
  private ref(id: number): number {
    if (id >= this.stampOf.length) {
      const n = Math.max(2 * this.stampOf.length, id + 1);
      this.stampOf = grownInts(this.stampOf, n);
      this.refOf = grownInts(this.refOf, n);
    }
    if (this.stampOf[id] === this.request) return this.refOf[id];
    const r = this.symbolCount++;
    if (r >= this.order.length) this.order = grownInts(this.order, r + 1);
    this.order[r] = id;
    this.stampOf[id] = this.request;
    this.refOf[id] = r;
    return r;
  }

  private growSeries(n: number): void {
    const m = Math.max(2 * this.labelsFrom.length, n);
    this.labelsFrom = grownInts(this.labelsFrom, m);
    const type = new Int8Array(m);
    type.set(this.metaType);
    this.metaType = type;
    this.helpRef = grownInts(this.helpRef, m);
    this.unitRef = grownInts(this.unitRef, m);
    this.first = grownInts(this.first, m);
    this.last = grownInts(this.last, m);
  }

  /** The encoded request (not compressed), in a buffer of the writer's: valid until its next use. */
  finish(): Buffer {
    const { symbols, order, refs, labelsFrom, timestamps, values, next } = this;
    let size = 0;
    for (let i = 0; i < this.symbolCount; i++) size += 6 + symbols.size(order[i]);
    for (let i = 0; i < this.seriesCount; i++) size += 32 + 5 * (labelsFrom[i + 1] - labelsFrom[i]);
    size += 22 * this.samples;
    if (size > this.out.length) this.out = Buffer.allocUnsafe(Math.max(size, 2 * this.out.length));
    const out = this.out;
    let p = 0;
    for (let i = 0; i < this.symbolCount; i++) {
      const id = order[i];
      out[p++] = 0x22;
      p = putVarint(out, p, symbols.size(id));
      p = symbols.put(id, out, p);
    }
    for (let i = 0; i < this.seriesCount; i++) {
      const from = labelsFrom[i];
      const to = labelsFrom[i + 1];
      let refsLen = 0;
      for (let k = from; k < to; k++) refsLen += varintSize(refs[k]);
      let len = to > from ? 1 + varintSize(refsLen) + refsLen : 0;
      for (let j = this.first[i]; j >= 0; j = next[j]) len += 2 + sampleLen(timestamps[j]);
      const type = this.metaType[i];
      const helpRef = this.helpRef[i];
      const unitRef = this.unitRef[i];
      let metaLen = 0;
      if (type !== NO_METADATA) {
        metaLen = 2 + (helpRef > 0 ? 1 + varintSize(helpRef) : 0) + (unitRef > 0 ? 1 + varintSize(unitRef) : 0);
        len += 1 + varintSize(metaLen) + metaLen;
      }
      out[p++] = 0x2a;
      p = putVarint(out, p, len);
      if (to > from) {
        out[p++] = 0x0a;
        p = putVarint(out, p, refsLen);
        for (let k = from; k < to; k++) p = putVarint(out, p, refs[k]);
      }
      for (let j = this.first[i]; j >= 0; j = next[j]) {
        const ts = timestamps[j];
        out[p++] = 0x12;
        out[p++] = sampleLen(ts);
        out[p++] = 0x09;
        for (let k = 8 * j, end = k + 8; k < end; k++) out[p++] = values[k];
        out[p++] = 0x10;
        p = ts >= 0 ? putVarint(out, p, ts) : putNegativeTimestamp(out, p, ts);
      }
      if (type !== NO_METADATA) {
        out[p++] = 0x2a;
        p = putVarint(out, p, metaLen);
        out[p++] = 0x08;
        out[p++] = type;
        if (helpRef > 0) (out[p++] = 0x18), (p = putVarint(out, p, helpRef));
        if (unitRef > 0) (out[p++] = 0x20), (p = putVarint(out, p, unitRef));
      }
    }
    return out.subarray(0, p);
  }
}

function sampleLen(timestampMs: number): number {
  return 10 + timestampSize(timestampMs);
}

function grownFloats(a: Float64Array, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(Math.max(2 * a.length, n));
  b.set(a);
  return b;
}

export interface DecodedV2Series {
  labels: Labels;
  samples: DecodedSample[];
  histograms: number;
  exemplars: number;
  metadata: SeriesMetadata | undefined;
  /** 0: not set. */
  createdTimestampMs: number;
}

/** Decodes a `Request`; refs are checked against the symbol table (WireError otherwise). */
export function parseV2Request(bytes: Uint8Array): DecodedV2Series[] {
  const r = new Reader(bytes, 0, bytes.length);
  const symbols: string[] = [];
  const series: Reader[] = [];
  while (!r.done) {
    const key = r.varint();
    if (key === 0x22) symbols.push(r.text());
    else if (key === 0x2a) series.push(r.sub());
    else if (key >>> 3 >= 1 && key >>> 3 <= 3) throw new WireError(r.pos, `field ${key >>> 3} is reserved in io.prometheus.write.v2.Request: is this a 1.0 WriteRequest?`);
    else r.skip(key & 7);
  }
  if (symbols.length > 0 && symbols[0] !== '') throw new WireError(0, 'symbols[0] must be the empty string');
  return series.map((s) => readV2Series(s, symbols));
}

function readV2Series(r: Reader, symbols: readonly string[]): DecodedV2Series {
  const at = r.pos;
  const refs: number[] = [];
  const out: DecodedV2Series = { labels: Labels.EMPTY, samples: [], histograms: 0, exemplars: 0, metadata: undefined, createdTimestampMs: 0 };
  while (!r.done) {
    const key = r.varint();
    if (key === 0x0a) {
      const p = r.sub();
      while (!p.done) refs.push(p.varint());
    } else if (key === 0x08) refs.push(r.varint());
    else if (key === 0x12) out.samples.push(readSample(r.sub()));
    else if (key === 0x1a) (r.skip(2), out.histograms++);
    else if (key === 0x22) (r.skip(2), out.exemplars++);
    else if (key === 0x2a) out.metadata = readV2Metadata(r.sub(), symbols);
    else if (key === 0x30) out.createdTimestampMs = r.int64();
    else r.skip(key & 7);
  }
  if (refs.length % 2 !== 0) throw new WireError(at, `labels_refs has ${refs.length} entries, not a multiple of 2`);
  const pairs: [string, string][] = [];
  for (let i = 0; i < refs.length; i += 2) {
    const name = symbol(symbols, refs[i], at);
    if (name === '') throw new WireError(at, `labels_refs[${i}] names the empty string as a label name`);
    pairs.push([name, symbol(symbols, refs[i + 1], at)]);
  }
  out.labels = Labels.fromPairs(pairs);
  return out;
}

/** A 2.0 series' `Metadata` message (its strings by reference into the request's symbols). */
export function readV2Metadata(r: Reader, symbols: readonly string[]): SeriesMetadata {
  const at = r.pos;
  let type: MetricType = 'unknown';
  let help = '';
  let unit = '';
  while (!r.done) {
    const key = r.varint();
    if (key === 0x08) type = TYPE_BY_NUMBER.get(r.varint()) ?? 'unknown';
    else if (key === 0x18) help = symbol(symbols, r.varint(), at);
    else if (key === 0x20) unit = symbol(symbols, r.varint(), at);
    else r.skip(key & 7);
  }
  return { type, ...(help ? { help } : {}), ...(unit ? { unit } : {}) };
}

export function symbol(symbols: readonly string[], ref: number, at: number): string {
  const s = symbols[ref];
  if (s === undefined) throw new WireError(at, `symbol reference ${ref} is beyond the ${symbols.length} symbols of the request`);
  return s;
}
