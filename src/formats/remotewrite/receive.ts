/**
 * Remote write received: a 1.0 `WriteRequest` or a 2.0 `Request` (after snappy/zstd) walked in
 * place and handed to a row sink sample by sample — no object per sample, no `DecodedSeries`
 * tree — with the per-series cache every push protocol has. In 1.0 a series' `Label` fields are
 * the bytes `Labels.key` is made of (labels-packed.ts), so the raw bytes of a TimeSeries' label
 * fields are its cache key: a series sent again costs a hash and a compare of its label bytes in
 * place, and comes out as the same `Labels` object (which the relabel and remote-write caches
 * key on). 2.0 numbers its strings per request, so there the key is the resolved label text.
 *
 * What the receiver cannot carry is counted, not dropped in silence: native histogram samples
 * and exemplars (the glue answers for them), a 2.0 created timestamp (ignored). Malformed
 * protobuf throws a `WireError` (byte offset and what was wrong); rows handed out before it stay.
 */

import { BytesKeyedLabels, KeyedLabels } from '../../model/keyed-labels.js';
import type { Labels } from '../../model/labels.js';
import { LabelsBuilder } from '../../model/labels.js';
import { isStaleNaNBits } from '../../model/samples.js';
import { Reader, readLabel, readMetadata, WireError } from './parser.js';
import type { MetricMetadata } from './writer.js';
import { readV2Metadata, symbol, type SeriesMetadata } from './v2.js';

/** Where received samples go (an ingest `IngestRequest`). */
export interface ReceiveSink {
  sample(labels: Labels, value: number, timestampMs: number): void;
  /** A staleness marker, passed on by its exact bits. */
  stale(labels: Labels, timestampMs: number): void;
  invalid(line: number, reason: string): void;
}

export interface ReceiveSummary {
  /** Native histogram samples (not carried). */
  histograms: number;
  exemplars: number;
  /** 1.0's `metadata`, and 2.0's per-series metadata by family name. */
  metadata: MetricMetadata[];
}

/**
 * Series remembered per version: a sender's whole series set, which for an agent forwarding
 * its scrapes (remote write in, a NATS consumer) is commonly a million. Sized for that rather
 * than for a line protocol's sources: once a sender's series outnumber a generation, every
 * round looks up a part of them again and makes each a new `Labels`, which every cache keyed on
 * them (relabeling, the `fast` writer's codes) then holds a second time until it expires.
 */
const MAX_SERIES = 4_000_000;

export class WriteRequestReceiver {
  private readonly v1Series: BytesKeyedLabels;
  private readonly v2Series: KeyedLabels;
  private readonly lb = new LabelsBuilder();
  private scratch = Buffer.alloc(256);

  constructor(maxSeries = MAX_SERIES) {
    this.v1Series = new BytesKeyedLabels(maxSeries);
    this.v2Series = new KeyedLabels(maxSeries);
  }

  /** A 1.0 `WriteRequest`. */
  v1(bytes: Uint8Array, out: ReceiveSink): ReceiveSummary {
    const sum: ReceiveSummary = { histograms: 0, exemplars: 0, metadata: [] };
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const r = new Reader(bytes, 0, bytes.length);
    let n = 0;
    while (!r.done) {
      const key = r.varint();
      if (key === 0x0a) {
        const end = r.enter();
        this.v1Series1(buf, view, r.pos, end, n++, out, sum);
        r.pos = end;
      } else if (key === 0x1a) sum.metadata.push(readMetadata(r.sub()));
      else skipField(r, key);
    }
    return sum;
  }

  private v1Series1(buf: Buffer, view: DataView, start: number, end: number, n: number, out: ReceiveSink, sum: ReceiveSummary): void {
    if (this.v1Plain(buf, view, start, end, out)) return;
    const r = new Reader(buf, start, end);
    // pass 1: where the labels are (nearly always one run at the start), what else there is
    let labelStart = -1;
    let labelEnd = -1;
    let split = false;
    let samples = 0;
    while (!r.done) {
      const at = r.pos;
      const key = r.varint();
      if (key === 0x0a) {
        if (labelStart < 0) labelStart = at;
        else if (labelEnd !== at) split = true;
        skipLen(r);
        labelEnd = r.pos;
      } else if (key === 0x12) {
        skipLen(r);
        samples++;
      } else if (key === 0x1a) {
        skipLen(r);
        sum.exemplars++;
      } else if (key === 0x22) {
        skipLen(r);
        sum.histograms++;
      } else skipField(r, key);
    }
    if (samples === 0) return;
    if (labelStart < 0) return out.invalid(0, `series ${n} has no labels`);
    let kb: Buffer = buf;
    let ks = labelStart;
    let ke = labelEnd;
    if (split) {
      // labels interleaved with other fields (no sender does this): their bytes gathered first
      let len = 0;
      r.pos = start;
      while (!r.done) {
        const at = r.pos;
        const key = r.varint();
        skipField(r, key);
        if (key === 0x0a) {
          if (this.scratch.length < len + (r.pos - at)) this.scratch = Buffer.concat([this.scratch.subarray(0, len), Buffer.alloc(2 * (len + r.pos - at))]);
          len += buf.copy(this.scratch, len, at, r.pos);
        }
      }
      kb = this.scratch;
      ks = 0;
      ke = len;
    }
    let labels = this.v1Series.get(kb, ks, ke);
    if (labels === undefined) {
      const lb = this.lb.reset();
      r.pos = start;
      while (!r.done) {
        const key = r.varint();
        if (key === 0x0a) {
          const [name, value] = readLabel(r.sub());
          lb.set(name, value);
        } else skipField(r, key);
      }
      labels = lb.build();
      if (labels.size === 0) return out.invalid(0, `series ${n} has no labels`);
      // held for as long as the sender sends the series: the packed form alone is half the memory
      labels.pack();
      this.v1Series.set(kb, ks, ke, labels);
    }
    // pass 2: the samples
    r.pos = start;
    while (!r.done) {
      const key = r.varint();
      if (key === 0x12) {
        const e = r.enter();
        readSampleInto(r, e, buf, view, labels, out);
        r.pos = e;
      } else skipField(r, key);
    }
  }

  /**
   * The series as every sender lays it out — labels (each under 128 bytes), then samples (each
   * under 128 bytes), nothing else — read in one walk of one-byte lengths, with the labels
   * found by their bytes; false (nothing handed out) for any other layout, which the general
   * walk then reads. Half a series' cost was the general walk's varints and second pass.
   */
  private v1Plain(buf: Buffer, view: DataView, start: number, end: number, out: ReceiveSink): boolean {
    let p = start;
    while (p < end && buf[p] === 0x0a) {
      const len = buf[p + 1];
      if (len >= 0x80) return false;
      p += 2 + len;
    }
    const labelEnd = p;
    if (labelEnd === start || labelEnd >= end) return false;
    for (let q = labelEnd; q < end; ) {
      if (buf[q] !== 0x12) return false;
      const len = buf[q + 1];
      if (len >= 0x80) return false;
      q += 2 + len;
      if (q > end) return false;
    }
    const labels = this.v1Series.get(buf, start, labelEnd);
    if (labels === undefined) return false;
    const r = new Reader(buf, labelEnd, end);
    while (r.pos < end) {
      const e = r.pos + 2 + buf[r.pos + 1];
      r.pos += 2;
      readSampleInto(r, e, buf, view, labels, out);
    }
    return true;
  }

  /** A 2.0 `Request`; refs are checked against the symbol table (WireError otherwise). */
  v2(bytes: Uint8Array, out: ReceiveSink): ReceiveSummary {
    const sum: ReceiveSummary = { histograms: 0, exemplars: 0, metadata: [] };
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const r = new Reader(bytes, 0, bytes.length);
    const symbols: string[] = [];
    const series: number[] = [];
    while (!r.done) {
      const key = r.varint();
      if (key === 0x22) symbols.push(r.text());
      else if (key === 0x2a) {
        const e = r.enter();
        series.push(r.pos, e);
        r.pos = e;
      } else if (key >>> 3 >= 1 && key >>> 3 <= 3) throw new WireError(r.pos, `field ${key >>> 3} is reserved in io.prometheus.write.v2.Request: is this a 1.0 WriteRequest?`);
      else skipField(r, key);
    }
    if (symbols.length > 0 && symbols[0] !== '') throw new WireError(0, 'symbols[0] must be the empty string');
    const refs: number[] = [];
    const seenFamilies = new Set<string>();
    for (let i = 0; i < series.length; i += 2) {
      const start = series[i];
      const sr = new Reader(buf, start, series[i + 1]);
      refs.length = 0;
      let samples = 0;
      let meta: SeriesMetadata | undefined;
      while (!sr.done) {
        const key = sr.varint();
        if (key === 0x0a) {
          const e = sr.enter();
          while (sr.pos < e) refs.push(sr.varint());
          sr.leave(e);
        } else if (key === 0x08) refs.push(sr.varint());
        else if (key === 0x12) (skipLen(sr), samples++);
        else if (key === 0x1a) (skipLen(sr), sum.histograms++);
        else if (key === 0x22) (skipLen(sr), sum.exemplars++);
        else if (key === 0x2a) meta = readV2Metadata(sr.sub(), symbols);
        else skipField(sr, key);
      }
      if (refs.length % 2 !== 0) throw new WireError(start, `labels_refs has ${refs.length} entries, not a multiple of 2`);
      let cacheKey = '';
      for (let j = 0; j < refs.length; j++) {
        const s = symbol(symbols, refs[j], start);
        if ((j & 1) === 0 && s === '') throw new WireError(start, `labels_refs[${j}] names the empty string as a label name`);
        cacheKey += s.length + ':' + s;
      }
      if (samples === 0) continue;
      let labels = this.v2Series.get(cacheKey);
      if (labels === undefined) {
        const lb = this.lb.reset();
        for (let j = 0; j < refs.length; j += 2) lb.set(symbols[refs[j]], symbols[refs[j + 1]]);
        labels = lb.build();
        if (labels.size === 0) {
          out.invalid(0, `series ${i >> 1} has no labels`);
          continue;
        }
        labels.pack();
        this.v2Series.set(cacheKey, labels);
      }
      if (meta !== undefined) {
        const family = labels.metricName;
        if (family !== '' && !seenFamilies.has(family)) {
          seenFamilies.add(family);
          sum.metadata.push({ ...meta, family });
        }
      }
      sr.pos = start;
      while (!sr.done) {
        const key = sr.varint();
        if (key === 0x12) {
          const e = sr.enter();
          readSampleInto(sr, e, buf, view, labels, out);
          sr.pos = e;
        } else skipField(sr, key);
      }
    }
    return sum;
  }
}

/** Past a length-delimited field, without the Reader `Reader.skip` makes for it. */
function skipLen(r: Reader): void {
  r.pos = r.enter();
}

function skipField(r: Reader, key: number): void {
  if ((key & 7) === 2) r.pos = r.enter();
  else r.skip(key & 7);
}

/** A `Sample` (the same in 1.0 and 2.0) of `r` up to `end`, handed on. */
function readSampleInto(r: Reader, end: number, buf: Buffer, view: DataView, labels: Labels, out: ReceiveSink): void {
  let value = 0;
  let ts = 0;
  let stale = false;
  while (r.pos < end) {
    const k = r.varint();
    if (k === 0x09) {
      if (r.pos + 8 > end) throw new WireError(r.pos, 'truncated sample value');
      stale = isStaleNaNBits(buf, r.pos);
      value = view.getFloat64(r.pos, true);
      r.pos += 8;
    } else if (k === 0x10) ts = r.int64();
    else skipField(r, k);
  }
  if (r.pos !== end) throw new WireError(end, 'field runs past the end of its message');
  if (stale) out.stale(labels, ts);
  else out.sample(labels, value, ts);
}

