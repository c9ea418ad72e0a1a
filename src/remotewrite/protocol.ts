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

import { parseWriteRequest, V2RequestWriter, type MetricMetadata, type SeriesMetadata } from '../formats/remotewrite/index.js';
import { Reader, readSample } from '../formats/remotewrite/parser.js';
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
  /** The label bytes, as one character per byte. */
  readonly key: string;
  readonly kv: readonly string[];
  readonly name: string;
  meta: SeriesMetadata | undefined;
  metaVersion: number;
}

/** Series remembered by their label bytes, at most this many (then forgotten all at once). */
const MAX_KNOWN_SERIES = 200_000;

/**
 * Queued (compressed 1.0) requests as compressed 2.0 ones, for one URL. A series' labels are
 * decoded once and remembered by their bytes, with their metadata, so a request costs a
 * decompression, a scan, the interning and a compression — not a UTF-8 decode and a label set
 * per sample.
 */
export class V2Converter {
  private readonly known = new Map<string, KnownSeries>();

  constructor(private readonly metadata: MetadataIndex | undefined) {}

  /** `samples` 0: nothing to send (a metadata-only request, whose entries are remembered). */
  convert(block: Buffer): { body: Buffer; samples: number } {
    const raw = uncompress(block);
    const w = new V2RequestWriter();
    const r = new Reader(raw, 0, raw.length);
    let metadataSeen = false;
    while (!r.done) {
      const key = r.varint();
      if (key === 0x1a) metadataSeen = true;
      if (key !== 0x0a) {
        r.skip(key & 7);
        continue;
      }
      const s = r.sub();
      let labelsFrom = -1;
      let labelsTo = -1;
      // Tributary's writers put a series' labels before its samples, so they are one run of bytes
      let series: KnownSeries | undefined;
      while (!s.done) {
        const at = s.pos;
        const k = s.varint();
        if (k === 0x0a) {
          if (labelsFrom < 0) labelsFrom = at;
          s.skip(2);
          labelsTo = s.pos;
        } else if (k === 0x12) {
          series ??= this.series(raw, labelsFrom, labelsTo);
          const x = readSample(s.sub());
          w.addSample(series.key, series.kv, x.value, x.timestampMs, x.stale, series.meta);
        } else {
          s.skip(k & 7);
        }
      }
    }
    if (metadataSeen && this.metadata !== undefined) for (const m of parseWriteRequest(raw).metadata) this.metadata.remember(m);
    return { body: w.samples > 0 ? compress(w.finish()) : Buffer.alloc(0), samples: w.samples };
  }

  private series(raw: Buffer, from: number, to: number): KnownSeries {
    const key = from < 0 ? '' : raw.toString('latin1', from, to);
    let k = this.known.get(key);
    if (k === undefined) {
      const pairs: [string, string][] = [];
      if (from >= 0) {
        const r = new Reader(raw, from, to);
        while (!r.done) {
          r.varint();
          const l = r.sub();
          let name = '';
          let value = '';
          while (!l.done) {
            const t = l.varint();
            if (t === 0x0a) name = l.text();
            else if (t === 0x12) value = l.text();
            else l.skip(t & 7);
          }
          pairs.push([name, value]);
        }
      }
      const labels = Labels.fromPairs(pairs);
      k = { key, kv: labels.kv, name: labels.metricName, meta: undefined, metaVersion: -1 };
      if (this.known.size >= MAX_KNOWN_SERIES) this.known.clear();
      this.known.set(key, k);
    }
    const m = this.metadata;
    if (m !== undefined && k.metaVersion !== m.version) {
      k.meta = m.lookup(k.name);
      // the lookup may have refreshed the index: this answer is as of the new version
      k.metaVersion = m.version;
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
