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
 * The writer groups a request's samples by series (1.0 repeats a series' labels for each of
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
import { STALE_NAN_HI, STALE_NAN_LO } from '../../model/samples.js';
import { Reader, readSample, TYPE_BY_NUMBER, WireError, type DecodedSample } from './parser.js';
import { grownBuffer, METADATA_TYPES, putNegativeTimestamp, timestampSize, type MetricMetadata } from './writer.js';

export const V2_CONTENT_TYPE = 'application/x-protobuf;proto=io.prometheus.write.v2.Request';
export const V2_VERSION_HEADER = '2.0.0';

/** What the 2.0 metadata of a series holds. */
export type SeriesMetadata = Omit<MetricMetadata, 'family'>;

interface PendingSeries {
  readonly refs: number[];
  readonly values: number[];
  readonly timestamps: number[];
  /** Indexes (in values) of staleness markers; usually none. */
  stale: number[] | undefined;
  meta: SeriesMetadata | undefined;
  helpRef: number;
  unitRef: number;
}

/** Builds one `Request`; reusable after `reset`. */
export class V2RequestWriter {
  private symbols = new Map<string, number>([['', 0]]);
  private symbolList: string[] = [''];
  private series = new Map<string, PendingSeries>();
  private order: PendingSeries[] = [];
  samples = 0;

  reset(): void {
    this.symbols = new Map([['', 0]]);
    this.symbolList = [''];
    this.series.clear();
    this.order = [];
    this.samples = 0;
  }

  /** One sample of `labels`; `meta` is kept from the first sample of the series that has it. */
  add(labels: Labels, sample: DecodedSample, meta?: SeriesMetadata): void {
    this.addSample(labels.key, labels.kv, sample.value, sample.timestampMs, sample.stale, meta);
  }

  /**
   * One sample of the series `key` identifies (any string unique to the label set), whose flat
   * sorted pairs are `kv`: for callers that know series without building `Labels`.
   */
  addSample(key: string, kv: readonly string[], value: number, timestampMs: number, stale: boolean, meta?: SeriesMetadata): void {
    let s = this.series.get(key);
    if (s === undefined) {
      const refs = new Array<number>(kv.length);
      for (let i = 0; i < kv.length; i++) refs[i] = this.symbol(kv[i]);
      s = { refs, values: [], timestamps: [], stale: undefined, meta: undefined, helpRef: 0, unitRef: 0 };
      this.series.set(key, s);
      this.order.push(s);
    }
    if (s.meta === undefined && meta !== undefined) {
      // interned now: the symbols are written before the series
      s.meta = meta;
      s.helpRef = meta.help ? this.symbol(meta.help) : 0;
      s.unitRef = meta.unit ? this.symbol(meta.unit) : 0;
    }
    if (stale) (s.stale ??= []).push(s.values.length);
    s.values.push(value);
    s.timestamps.push(timestampMs);
    this.samples++;
  }

  private symbol(text: string): number {
    let i = this.symbols.get(text);
    if (i === undefined) {
      i = this.symbolList.length;
      this.symbols.set(text, i);
      this.symbolList.push(text);
    }
    return i;
  }

  /** The encoded request (not compressed). */
  finish(): Buffer {
    const out = new Out();
    for (const text of this.symbolList) {
      const n = Buffer.byteLength(text, 'utf8');
      out.ensure(6 + n);
      out.byte(0x22);
      out.varint(n);
      out.pos += out.buf.write(text, out.pos, 'utf8');
    }
    for (const s of this.order) {
      let refsLen = 0;
      for (const r of s.refs) refsLen += varintSize(r);
      let len = s.refs.length > 0 ? 1 + varintSize(refsLen) + refsLen : 0;
      for (const ts of s.timestamps) len += 2 + sampleLen(ts);
      let metaLen = 0;
      const { helpRef, unitRef } = s;
      if (s.meta !== undefined) {
        metaLen = 2 + (helpRef > 0 ? 1 + varintSize(helpRef) : 0) + (unitRef > 0 ? 1 + varintSize(unitRef) : 0);
        len += 1 + varintSize(metaLen) + metaLen;
      }
      out.ensure(6 + len);
      out.byte(0x2a);
      out.varint(len);
      if (s.refs.length > 0) {
        out.byte(0x0a);
        out.varint(refsLen);
        for (const r of s.refs) out.varint(r);
      }
      for (let k = 0; k < s.values.length; k++) {
        const ts = s.timestamps[k];
        out.byte(0x12);
        out.byte(sampleLen(ts));
        out.byte(0x09);
        if (s.stale !== undefined && s.stale.includes(k)) {
          out.buf.writeUInt32LE(STALE_NAN_LO, out.pos);
          out.buf.writeUInt32LE(STALE_NAN_HI, out.pos + 4);
        } else {
          out.buf.writeDoubleLE(s.values[k], out.pos);
        }
        out.pos += 8;
        out.byte(0x10);
        out.pos = ts >= 0 ? putVarint(out.buf, out.pos, ts) : putNegativeTimestamp(out.buf, out.pos, ts);
      }
      if (s.meta !== undefined) {
        out.byte(0x2a);
        out.varint(metaLen);
        out.byte(0x08);
        out.byte(METADATA_TYPES[s.meta.type]);
        if (helpRef > 0) (out.byte(0x18), out.varint(helpRef));
        if (unitRef > 0) (out.byte(0x20), out.varint(unitRef));
      }
    }
    return out.buf.subarray(0, out.pos);
  }
}

function sampleLen(timestampMs: number): number {
  return 10 + timestampSize(timestampMs);
}

class Out {
  buf: Buffer = Buffer.allocUnsafe(16 * 1024);
  pos = 0;
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.buf = grownBuffer(this.buf, this.pos, n);
  }
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }
  varint(v: number): void {
    this.pos = putVarint(this.buf, this.pos, v);
  }
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

function readV2Metadata(r: Reader, symbols: readonly string[]): SeriesMetadata {
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

function symbol(symbols: readonly string[], ref: number, at: number): string {
  const s = symbols[ref];
  if (s === undefined) throw new WireError(at, `symbol reference ${ref} is beyond the ${symbols.length} symbols of the request`);
  return s;
}
