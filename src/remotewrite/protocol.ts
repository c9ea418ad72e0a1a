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

  constructor(
    private readonly source: () => readonly MetricMetadata[],
    private readonly now: () => number = Date.now,
  ) {}

  /** Entries met in queued 1.0 metadata requests. */
  remember(m: MetricMetadata): void {
    this.byFamily.set(m.family, m);
  }

  lookup(metricName: string): SeriesMetadata | undefined {
    let m = this.find(metricName);
    if (m === undefined && this.now() - this.refreshedAt >= METADATA_REFRESH_MS) {
      this.refreshedAt = this.now();
      for (const x of this.source()) this.byFamily.set(x.family, x);
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

/** A queued (compressed 1.0) request as a compressed 2.0 one; `samples` 0: nothing to send. */
export function toV2(block: Buffer, metadata: MetadataIndex | undefined): { body: Buffer; samples: number } {
  const req = parseWriteRequest(uncompress(block));
  if (metadata !== undefined) for (const m of req.metadata) metadata.remember(m);
  const w = new V2RequestWriter();
  for (const s of req.timeseries) {
    const meta = metadata?.lookup(s.labels.metricName);
    for (const x of s.samples) w.add(s.labels, x, meta);
  }
  return { body: w.samples > 0 ? compress(w.finish()) : Buffer.alloc(0), samples: w.samples };
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
