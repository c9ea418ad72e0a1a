/**
 * `POST /api/v1/write`: a Prometheus remote-write receiver, 1.0 and 2.0, whose samples take the
 * path scraped samples take (the pipeline's SinkFanout, so remote write's router and queues,
 * and any gateway consumer): timestamps as received, staleness markers by their exact bits.
 *
 * The message is chosen by Content-Type, as the 2.0 spec says: `application/x-protobuf` with no
 * `proto` parameter or `proto=prometheus.WriteRequest` is 1.0, `proto=io.prometheus.write.v2.Request`
 * is 2.0; any other type or proto is 415, so that a 2.0 sender falls back. The body must be
 * snappy (block format; 415 for another Content-Encoding), at most `max_body_bytes` both
 * compressed and decompressed (413). Malformed input is 400 with the byte offset and what was
 * wrong. Accepted: 204, with 2.0's `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written`.
 *
 * What Tributary cannot carry is never dropped silently: native histogram samples make the
 * request a 400 (the float samples beside them are written, and the headers say how many, as
 * the spec's partial write); exemplars are counted as dropped and reported as not written;
 * a 2.0 series' created timestamp is not kept (Tributary has no place for it).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseV2Request, parseWriteRequest, WireError, type DecodedSample } from '../formats/remotewrite/index.js';
import { SnappyError, SnappyTooLargeError, uncompress } from '../formats/snappy/index.js';
import { BodyTooLargeError, readBody } from '../server/request-body.js';
import type { Logger } from '../log/logger.js';
import type { Labels } from '../model/labels.js';
import { SampleBatch } from '../model/samples.js';
import type { SampleSink } from '../pipeline/index.js';
import type { Registry } from '../selfmetrics/registry.js';
import type { HttpServer } from '../server/index.js';
import { CONTENT_TYPE_PLAIN, MEDIA_REMOTE_WRITE } from '../formats/media-types.js';

export const REMOTE_WRITE_PATH = '/api/v1/write';
/** The `job` the pipeline's consumers see received samples under. */
export const RECEIVED_JOB = 'remote_write';
const V1_PROTO = 'prometheus.WriteRequest';
const V2_PROTO = 'io.prometheus.write.v2.Request';
/** Received series are interned up to this many, so a series sent again is the same object. */
const MAX_INTERNED = 100_000;

export interface RemoteWriteReceiverOptions {
  readonly sink: SampleSink;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
}

type Version = '1.0' | '2.0';

interface Received {
  readonly series: { labels: Labels; samples: DecodedSample[]; histograms: number; exemplars: number }[];
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function registerRemoteWriteReceiver(server: HttpServer, opts: RemoteWriteReceiverOptions): void {
  const log = opts.logger.child({ component: 'remote_write_receiver' });
  const requests = opts.registry.counter({
    name: 'tributary_remote_write_received_requests_total',
    help: 'Remote-write requests received on /api/v1/write, by protocol version ("unknown" before it is known) and answer.',
    labelNames: ['version', 'code'],
  });
  const samples = opts.registry.counter({
    name: 'tributary_remote_write_received_samples_total',
    help: 'Samples received on /api/v1/write and handed to the pipeline.',
    labelNames: ['version'],
  });
  const dropped = opts.registry.counter({
    name: 'tributary_remote_write_received_dropped_total',
    help: 'Received items Tributary cannot carry, by kind: histogram (native histogram samples; the request is answered 400) or exemplar.',
    labelNames: ['kind'],
  });
  const interned = new Map<string, Labels>();
  const batch = new SampleBatch(1024);
  let toldExemplars = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let version: Version | 'unknown' = 'unknown';
    const answer = (status: number, text: string, headers: Record<string, string> = {}): void => {
      requests.labels(version, String(status)).inc();
      res.writeHead(status, { ...headers, ...(text ? { 'content-type': CONTENT_TYPE_PLAIN } : {}) });
      res.end(text ? text + '\n' : undefined);
    };
    try {
      version = messageVersion(req.headers['content-type']);
      const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
      if (encoding !== 'snappy') throw new Refusal(415, `Content-Encoding must be snappy (got ${JSON.stringify(encoding)})`);
      let body: Buffer;
      try {
        body = await readBody(req, opts.maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLargeError) res.setHeader('connection', 'close');
        throw err instanceof BodyTooLargeError ? new Refusal(413, err.message) : err;
      }
      let raw: Buffer;
      try {
        raw = uncompress(body, opts.maxBodyBytes);
      } catch (err) {
        throw new Refusal(err instanceof SnappyTooLargeError ? 413 : 400, err instanceof SnappyError ? err.message : `snappy: ${(err as Error).message}`);
      }
      let got: Received;
      try {
        got = version === '2.0' ? { series: parseV2Request(raw) } : { series: parseWriteRequest(raw).timeseries };
      } catch (err) {
        if (err instanceof WireError) throw new Refusal(400, `${version === '2.0' ? V2_PROTO : V1_PROTO}: ${err.message}`);
        throw err;
      }
      batch.reset();
      let histograms = 0;
      let exemplars = 0;
      for (let i = 0; i < got.series.length; i++) {
        const s = got.series[i];
        if (s.labels.size === 0) throw new Refusal(400, `series ${i} has no labels`);
        histograms += s.histograms;
        exemplars += s.exemplars;
        if (s.samples.length === 0) continue;
        const labels = intern(interned, s.labels);
        for (const x of s.samples) {
          if (x.stale) batch.appendStale(labels, x.timestampMs);
          else batch.append(labels, x.value, x.timestampMs);
        }
      }
      if (batch.length > 0) opts.sink.write(RECEIVED_JOB, batch);
      samples.labels(version).inc(batch.length);
      const written: Record<string, string> =
        version === '2.0'
          ? {
              'x-prometheus-remote-write-samples-written': String(batch.length),
              'x-prometheus-remote-write-histograms-written': '0',
              'x-prometheus-remote-write-exemplars-written': '0',
            }
          : {};
      if (exemplars > 0) {
        dropped.labels('exemplar').inc(exemplars);
        if (!toldExemplars) log.warn('received exemplars are dropped: Tributary does not carry exemplars (counted in tributary_remote_write_received_dropped_total)');
        toldExemplars = true;
      }
      if (histograms > 0) {
        dropped.labels('histogram').inc(histograms);
        answer(400, `${histograms} native histogram samples not written: Tributary does not carry native histograms; ${batch.length} float samples written`, written);
        return;
      }
      answer(204, '', written);
    } catch (err) {
      if (err instanceof Refusal) {
        log.debug('remote-write request refused', { status: err.status, err: err.message });
        answer(err.status, err.message);
        return;
      }
      log.error('remote-write request failed', { err: err as Error });
      if (!res.headersSent) answer(500, 'internal error');
    } finally {
      batch.reset();
    }
  };
  server.post(REMOTE_WRITE_PATH, handle);
}

/** The message a Content-Type names; a Refusal(415) for anything but the two remote-write messages. */
export function messageVersion(contentType: string | undefined): Version {
  // no Content-Type: a 1.0 sender that left it out (1.0 receivers never checked it)
  if (contentType === undefined || contentType.trim() === '') return '1.0';
  const [type, ...params] = contentType.split(';').map((p) => p.trim());
  if (type.toLowerCase() !== MEDIA_REMOTE_WRITE) throw new Refusal(415, `Content-Type must be ${MEDIA_REMOTE_WRITE} (got ${JSON.stringify(contentType)})`);
  let proto = V1_PROTO;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq > 0 && p.slice(0, eq).trim().toLowerCase() === 'proto') proto = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  if (proto === V1_PROTO) return '1.0';
  if (proto === V2_PROTO) return '2.0';
  throw new Refusal(415, `unsupported proto ${JSON.stringify(proto)}: this receiver takes ${V1_PROTO} and ${V2_PROTO}`);
}

function intern(map: Map<string, Labels>, labels: Labels): Labels {
  const key = labels.key;
  const found = map.get(key);
  if (found !== undefined) return found;
  if (map.size >= MAX_INTERNED) map.clear();
  map.set(key, labels);
  return labels;
}
