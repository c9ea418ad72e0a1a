/**
 * Remote write 2.0 on the sending side. Queues keep 1.0 requests (memory and disk alike): the
 * 1.0 path stays as fast as it was, the disk-queue records keep one format, and a receiver that
 * turns out not to take 2.0 gets the very bytes that were queued, so falling back loses nothing.
 * A URL configured with `protobuf_message: io.prometheus.write.v2.Request` converts each request
 * when it is sent: decompress, read, group samples by series, intern the strings, attach each
 * series' metadata (type, help, unit, from what the scrapes know), compress.
 *
 * Fallback: a 415 to a 2.0 request (the spec's answer for a message type the receiver does not
 * take), a 2xx without `X-Prometheus-Remote-Write-Samples-Written` (a 1.0 receiver that read
 * the 2.0 body as an empty 1.0 request: Prometheus before 2.54, VictoriaMetrics before 2.0
 * support), and a 400 for which the same data as 1.0 is then accepted, switch the URL to 1.0:
 * the request is sent again as 1.0 at once, and 2.0 is tried again after V2_RETRY_MS.
 */

import { parseWriteRequest, V2RequestWriter, V2Symbols, type MetricMetadata, type SeriesMetadata } from '../formats/remotewrite/index.js';
import { readLabel, Reader, WireError } from '../formats/remotewrite/parser.js';
import { grownBuffer, grownInts } from '../formats/remotewrite/writer.js';
import { Labels } from '../model/labels.js';
import { compress, uncompress } from '../formats/snappy/index.js';
import type { Logger } from '../log/logger.js';

/** After a fallback, how long a URL stays on 1.0 before 2.0 is tried again. */
export const V2_RETRY_MS = 60 * 60_000;
/** The least time between two refreshes of the metadata index on a miss. */
const METADATA_REFRESH_MS = 5_000;
/** Sample-name suffixes that name a family's samples rather than the family. */
const FAMILY_SUFFIXES = ['_total', '_bucket', '_sum', '_count', '_created', '_info', '_gsum', '_gcount'];

/** Metric metadata by family, refreshed from the scrapes' when a name is not found. */
export class MetadataIndex {
  private byFamily = new Map<string, MetricMetadata>();
  private refreshedAt = -Infinity;
  /** Changes whenever an entry may have: a series' cached lookup is redone then. */
  version = 0;

  constructor(
    private readonly source: () => readonly MetricMetadata[],
    private readonly now: () => number = Date.now,
  ) {}

  /** Entries met in queued 1.0 metadata requests. */
  remember(m: MetricMetadata): void {
    this.byFamily.set(m.family, m);
    this.version++;
  }

  lookup(metricName: string): SeriesMetadata | undefined {
    let m = this.find(metricName);
    if (m === undefined && this.now() - this.refreshedAt >= METADATA_REFRESH_MS) {
      this.refreshedAt = this.now();
      for (const x of this.source()) this.byFamily.set(x.family, x);
      this.version++;
      m = this.find(metricName);
    }
    if (m === undefined) return undefined;
    return { type: m.type, ...(m.help ? { help: m.help } : {}), ...(m.unit ? { unit: m.unit } : {}) };
  }

  private find(name: string): MetricMetadata | undefined {
    const exact = this.byFamily.get(name);
    if (exact !== undefined) return exact;
    for (const s of FAMILY_SUFFIXES) {
      if (name.endsWith(s)) {
        const m = this.byFamily.get(name.slice(0, -s.length));
        if (m !== undefined) return m;
      }
    }
    return undefined;
  }
}

interface KnownSeries {
  /** Its labels, flat sorted pairs, as numbers in the converter's symbols. */
  readonly labels: Int32Array;
  readonly name: string;
  meta: SeriesMetadata | undefined;
  metaVersion: number;
  /** `meta`'s help and unit as numbers in the converter's symbols (0: none). */
  help: number;
  unit: number;
  /** The request it was last met in, and its number in that request. */
  request: number;
  index: number;
}

/** Series remembered by their label bytes, at most about this many (then forgotten all at once, with their strings). */
const MAX_KNOWN_SERIES = 200_000;

/**
 * Known series by their label bytes, looked up where the bytes lie: hashed in place and
 * compared with a copy kept here. (A string of the bytes per lookup, for a Map, was a third of
 * the conversion: built, hashed by V8 and thrown away for every series of every request.)
 */
class SeriesByBytes {
  private bytes: Buffer = Buffer.allocUnsafe(256 * 1024);
  private view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
  private used = 0;
  /** Entry i's bytes are `bytes[starts[i], starts[i + 1])`. */
  private starts = new Int32Array(1025);
  private hashes = new Int32Array(1024);
  private entries: KnownSeries[] = [];
  /** Open addressing, linear probing: entry index + 1, 0 for an empty slot; at most half full. */
  private slots = new Int32Array(2048);

  get size(): number {
    return this.entries.length;
  }

  /** The series of `raw[from, to)` (`view` is over `raw`), hashed `hash` (`bytesHash`). */
  get(view: DataView, from: number, to: number, hash: number): KnownSeries | undefined {
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const e = this.slots[slot];
      if (e === 0) return undefined;
      if (this.hashes[e - 1] === hash && this.same(e - 1, view, from, to)) return this.entries[e - 1];
    }
  }

  add(raw: Buffer, from: number, to: number, hash: number, series: KnownSeries): void {
    const i = this.entries.length;
    const n = to - from;
    if (this.used + n > this.bytes.length) {
      this.bytes = grownBuffer(this.bytes, this.used, n);
      this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
    }
    raw.copy(this.bytes, this.used, from, to);
    this.used += n;
    if (i + 2 > this.starts.length) {
      this.starts = grownInts(this.starts, i + 2);
      this.hashes = grownInts(this.hashes, i + 2);
    }
    this.starts[i + 1] = this.used;
    this.hashes[i] = hash;
    this.entries.push(series);
    if (2 * this.entries.length > this.slots.length) {
      this.slots = new Int32Array(2 * this.slots.length);
      for (let k = 0; k < this.entries.length; k++) this.place(k);
    } else this.place(i);
  }

  clear(): void {
    this.used = 0;
    this.entries = [];
    this.slots.fill(0);
  }

  private place(i: number): void {
    const mask = this.slots.length - 1;
    let slot = this.hashes[i] & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = i + 1;
  }

  private same(i: number, view: DataView, from: number, to: number): boolean {
    let p = this.starts[i];
    if (this.starts[i + 1] - p !== to - from) return false;
    let q = from;
    for (; q + 4 <= to; q += 4, p += 4) if (view.getInt32(q) !== this.view.getInt32(p)) return false;
    for (; q < to; q++, p++) if (view.getUint8(q) !== this.view.getUint8(p)) return false;
    return true;
  }
}

/** A 32-bit hash of `view`'s bytes `[from, to)`, four at a time. */
function bytesHash(view: DataView, from: number, to: number): number {
  let h = to - from;
  let p = from;
  for (; p + 4 <= to; p += 4) {
    h = Math.imul(h ^ view.getInt32(p, true), 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (; p < to; p++) h = Math.imul(h ^ view.getUint8(p), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return h ^ (h >>> 13);
}

/**
 * Queued (compressed 1.0) requests as compressed 2.0 ones, for one URL. A series' labels are
 * decoded once and remembered by their bytes, as numbers in a symbol table kept across
 * requests, with their metadata; a request then costs a decompression (into a buffer kept for
 * the next), a scan that finds each series by its label bytes where they lie and copies each
 * sample's bytes into the writer's typed arrays, and a compression — no UTF-8 decode, label
 * set, string or object per series or sample. (Objects and strings per sample made the
 * conversion cost several times 1.0's encoding, much of it in garbage collection.)
 */
export class V2Converter {
  private readonly known = new SeriesByBytes();
  private readonly symbols = new V2Symbols();
  private readonly writer = new V2RequestWriter(this.symbols);
  private requests = 0;
  private raw: Buffer = Buffer.allocUnsafe(0);

  constructor(private readonly metadata: MetadataIndex | undefined) {}

  /** `samples` 0: nothing to send (a metadata-only request, whose entries are remembered). */
  convert(block: Buffer): { body: Buffer; samples: number } {
    // each request is read before the next one: one buffer serves them all
    const raw = uncompress(block, Infinity, this.raw);
    if (raw.length > this.raw.length) this.raw = raw;
    // between requests: no series of the request in hand holds numbers of the strings forgotten
    if (this.known.size >= MAX_KNOWN_SERIES) {
      this.known.clear();
      this.symbols.clear();
    }
    const w = this.writer;
    w.reset();
    const request = ++this.requests;
    const r = new Reader(raw, 0, raw.length);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
    let metadataSeen = false;
    while (!r.done) {
      const key = r.varint();
      if (key === 0x1a) metadataSeen = true;
      if (key !== 0x0a) {
        r.skip(key & 7);
        continue;
      }
      const end = r.enter();
      let labelsFrom = -1;
      let labelsTo = -1;
      // Tributary's writers put a series' labels before its samples, so they are one run of bytes
      let series = -1;
      while (r.pos < end) {
        const at = r.pos;
        const k = r.varint();
        if (k === 0x0a) {
          if (labelsFrom < 0) labelsFrom = at;
          r.pos = r.enter();
          labelsTo = r.pos;
        } else if (k === 0x12) {
          if (series < 0) series = this.open(raw, view, labelsFrom, labelsTo, request);
          const sampleEnd = r.enter();
          let valueAt = -1;
          let timestampMs = 0;
          while (r.pos < sampleEnd) {
            const t = r.varint();
            if (t === 0x09) {
              if (r.pos + 8 > sampleEnd) throw new WireError(r.pos, 'truncated sample value');
              valueAt = r.pos;
              r.pos += 8;
            } else if (t === 0x10) timestampMs = r.int64();
            else r.skip(t & 7);
          }
          r.leave(sampleEnd);
          // the value's bytes as they are: the staleness marker's bits need no test
          w.addSampleBytes(series, raw, valueAt, timestampMs);
        } else {
          r.skip(k & 7);
        }
      }
      r.leave(end);
    }
    if (metadataSeen && this.metadata !== undefined) for (const m of parseWriteRequest(raw).metadata) this.metadata.remember(m);
    return { body: w.samples > 0 ? compress(w.finish()) : Buffer.alloc(0), samples: w.samples };
  }

  /** The series whose labels are `raw[from, to)` (`from` -1: none) in the writer's request. */
  private open(raw: Buffer, view: DataView, from: number, to: number, request: number): number {
    const k = this.series(raw, view, from, to);
    const w = this.writer;
    if (k.request !== request) {
      k.request = request;
      k.index = w.addSeries(k.labels);
    }
    const m = this.metadata;
    if (m !== undefined && k.metaVersion !== m.version) {
      k.meta = m.lookup(k.name);
      k.help = k.meta?.help ? this.symbols.id(k.meta.help) : 0;
      k.unit = k.meta?.unit ? this.symbols.id(k.meta.unit) : 0;
      // the lookup may have refreshed the index: this answer is as of the new version
      k.metaVersion = m.version;
    }
    if (k.meta !== undefined && !w.hasMetadata(k.index)) w.setMetadata(k.index, k.meta.type, k.help, k.unit);
    return k.index;
  }

  private series(raw: Buffer, view: DataView, from: number, to: number): KnownSeries {
    if (from < 0) from = to = 0;
    const hash = bytesHash(view, from, to);
    let k = this.known.get(view, from, to, hash);
    if (k === undefined) {
      const pairs: [string, string][] = [];
      if (to > from) {
        const r = new Reader(raw, from, to);
        while (!r.done) {
          r.varint();
          pairs.push(readLabel(r.sub()));
        }
      }
      const { kv, metricName } = Labels.fromPairs(pairs);
      const labels = new Int32Array(kv.length);
      for (let i = 0; i < kv.length; i++) labels[i] = this.symbols.id(kv[i]);
      k = { labels, name: metricName, meta: undefined, metaVersion: -1, help: 0, unit: 0, request: 0, index: -1 };
      this.known.add(raw, from, to, hash, k);
    }
    return k;
  }
}

/** One request converted without a URL's memory of series (tests, benchmarks). */
export function toV2(block: Buffer, metadata: MetadataIndex | undefined): { body: Buffer; samples: number } {
  return new V2Converter(metadata).convert(block);
}

/** Which message a URL is sent, and the fallbacks. */
export class ProtocolChoice {
  /** While 1.0 is used after a fallback: when 2.0 is tried again (0: 2.0 in use). */
  private v1Until = 0;
  private fallbacks = 0;

  constructor(
    readonly configuredV2: boolean,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get useV2(): boolean {
    if (!this.configuredV2) return false;
    if (this.v1Until === 0) return true;
    if (this.now() < this.v1Until) return false;
    this.v1Until = 0;
    this.log.info('trying remote write 2.0 again after the fallback to 1.0');
    return true;
  }

  fallBack(reason: string): void {
    this.v1Until = this.now() + V2_RETRY_MS;
    this.fallbacks++;
    const fields = { reason, retry_v2_in_minutes: V2_RETRY_MS / 60_000 };
    // the first one tells the operator; later ones (each hourly retry) only confirm it
    if (this.fallbacks === 1) this.log.warn('the receiver does not take remote write 2.0; sending 1.0 (the request in hand included)', fields);
    else this.log.debug('the receiver still does not take remote write 2.0; sending 1.0', fields);
  }
}
