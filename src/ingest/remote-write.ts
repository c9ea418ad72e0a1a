/**
 * `POST /api/v1/write`: Prometheus remote write in, 1.0 and 2.0 — Tributary as a remote-write
 * proxy (`ingest.remote_write.http`, or the older `remote_write_options.receiver.enabled`).
 * The shared ingest path does the rest as for every push protocol: tenant twins
 * `/insert/<t>/prometheus/api/v1/write`, `extra_label`, 429 while the remote-write queues are
 * full, the body decoded under the cap (snappy as one block, or zstd as vmagent also takes),
 * `tributary_ingest_*{protocol="remote_write"}`. Samples keep their timestamps; staleness
 * markers pass through by their exact bits; 1.0 metadata (and 2.0's per-series metadata) joins
 * what remote write sends on (`metadata()`, read by the runtime beside the scrapes' metadata).
 *
 * The message is chosen by Content-Type, as the 2.0 spec says: `application/x-protobuf` with no
 * `proto` parameter or `proto=prometheus.WriteRequest` is 1.0, `proto=io.prometheus.write.v2.Request`
 * is 2.0; any other type or proto is 415, so that a 2.0 sender falls back. Malformed input is 400
 * with the byte offset and what was wrong. Accepted: 204, with 2.0's
 * `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written`.
 *
 * What Tributary cannot carry is never dropped silently: native histogram samples make the
 * request a 400 (the float samples beside them are written, and the headers say how many, as
 * the spec's partial write); exemplars are counted as dropped and reported as not written;
 * a 2.0 series' created timestamp is not kept (Tributary has no place for it).
 */

import type { IngestConfig } from '../config/ingest.js';
import { CONTENT_TYPE_PLAIN, MEDIA_REMOTE_WRITE } from '../formats/media-types.js';
import { WireError, type MetricMetadata } from '../formats/remotewrite/index.js';
import { WriteRequestReceiver, type ReceiveSummary } from '../formats/remotewrite/receive.js';
import type { Closable, IngestContext, IngestProtocol } from './context.js';
import { IngestRefusal } from './http.js';
import { describeRefusals } from './ingester.js';

export const REMOTE_WRITE_PATH = '/api/v1/write';
/** The protocol name, and the `job` the pipeline's consumers see received samples under. */
export const RECEIVED_JOB = 'remote_write';
const V1_PROTO = 'prometheus.WriteRequest';
const V2_PROTO = 'io.prometheus.write.v2.Request';
/** Families whose received metadata is kept for remote write (the most recently received). */
const MAX_METADATA_FAMILIES = 20_000;

type Version = '1.0' | '2.0';

/** The receiver started: what to close, and the metadata received (by family, latest first kept). */
export interface RemoteWriteIn extends Closable {
  metadata(): MetricMetadata[];
}

export const remoteWrite: IngestProtocol = {
  name: RECEIVED_JOB,
  async start(ctx: IngestContext) {
    const c = ctx.config.remote_write;
    if (!c.http) return [];
    const ingester = ctx.ingester(RECEIVED_JOB);
    const log = ingester.log;
    // kept from the standalone receiver: tests and the README name them, and the version split
    // and what was dropped have no place in tributary_ingest_*
    const samples = ctx.registry.counter({
      name: 'tributary_remote_write_received_samples_total',
      help: 'Samples received on /api/v1/write and handed to the pipeline, by protocol version.',
      labelNames: ['version'],
    });
    const dropped = ctx.registry.counter({
      name: 'tributary_remote_write_received_dropped_total',
      help: 'Received items Tributary cannot carry, by kind: histogram (native histogram samples; the request is answered 400) or exemplar.',
      labelNames: ['kind'],
    });
    const receiver = new WriteRequestReceiver();
    const metadata = new Map<string, MetricMetadata>();
    let toldExemplars = false;

    ctx.http.add({
      paths: [REMOTE_WRITE_PATH],
      ingester,
      maxBodyBytes: c.max_body_bytes,
      encodings: ['snappy', 'zstd'],
      read: async ({ req, res, body, rows }) => {
        const version = messageVersion(req.headers['content-type']);
        const raw = await collect(body);
        let got: ReceiveSummary;
        try {
          got = version === '2.0' ? receiver.v2(raw, rows) : receiver.v1(raw, rows);
        } catch (err) {
          if (!(err instanceof WireError)) throw err;
          // what came before the fault is kept (nothing accepted is lost); the glue tells the sender how many
          samples.labels(version).inc(rows.finish().rows);
          throw new IngestRefusal(400, `${version === '2.0' ? V2_PROTO : V1_PROTO}: ${err.message}`);
        }
        for (const m of got.metadata) {
          metadata.delete(m.family);
          if (metadata.size >= MAX_METADATA_FAMILIES) metadata.delete(metadata.keys().next().value!);
          metadata.set(m.family, m);
        }
        const s = rows.finish();
        samples.labels(version).inc(s.rows);
        if (got.exemplars > 0) {
          dropped.labels('exemplar').inc(got.exemplars);
          if (!toldExemplars) log.warn('received exemplars are dropped: Tributary does not carry exemplars (counted in tributary_remote_write_received_dropped_total)');
          toldExemplars = true;
        }
        const headers: Record<string, string> =
          version === '2.0'
            ? {
                'x-prometheus-remote-write-samples-written': String(s.rows),
                'x-prometheus-remote-write-histograms-written': '0',
                'x-prometheus-remote-write-exemplars-written': '0',
              }
            : {};
        const problems: string[] = [];
        if (got.histograms > 0) {
          dropped.labels('histogram').inc(got.histograms);
          problems.push(`${got.histograms} native histogram samples not written: Tributary does not carry native histograms; ${s.rows} float samples written`);
        }
        if (s.invalid > 0) problems.push(describeRefusals(s));
        if (problems.length === 0 && version === '1.0') return; // the glue's 204
        res.writeHead(problems.length > 0 ? 400 : 204, { ...headers, ...(problems.length > 0 ? { 'content-type': CONTENT_TYPE_PLAIN } : {}) });
        res.end(problems.length > 0 ? problems.join('\n') + '\n' : undefined);
      },
    });
    const running: RemoteWriteIn = {
      metadata: () => [...metadata.values()],
      close: async () => {},
    };
    return [running];
  },
};

/** Whole body: protobuf is not streamed (the glue's cap bounds it). */
async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of body) parts.push(b);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** The message a Content-Type names; an IngestRefusal(415) for anything but the two remote-write messages. */
export function messageVersion(contentType: string | undefined): Version {
  // no Content-Type: a 1.0 sender that left it out (1.0 receivers never checked it)
  if (contentType === undefined || contentType.trim() === '') return '1.0';
  const [type, ...params] = contentType.split(';').map((p) => p.trim());
  if (type.toLowerCase() !== MEDIA_REMOTE_WRITE) throw new IngestRefusal(415, `Content-Type must be ${MEDIA_REMOTE_WRITE} (got ${JSON.stringify(contentType)})`);
  let proto = V1_PROTO;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq > 0 && p.slice(0, eq).trim().toLowerCase() === 'proto') proto = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  if (proto === V1_PROTO) return '1.0';
  if (proto === V2_PROTO) return '2.0';
  throw new IngestRefusal(415, `unsupported proto ${JSON.stringify(proto)}: this receiver takes ${V1_PROTO} and ${V2_PROTO}`);
}

/**
 * The `ingest:` section with the older `remote_write_options.receiver` folded in: `enabled`
 * turns the receiver on as `ingest.remote_write.http` does; its `max_body_bytes` applies when
 * only the old key turns it on (with both on, the ingest one).
 */
export function withReceiverAlias(ingest: IngestConfig, receiver: { readonly enabled: boolean; readonly max_body_bytes: number }): IngestConfig {
  if (!receiver.enabled || ingest.remote_write.http) return ingest;
  return { ...ingest, remote_write: { ...ingest.remote_write, http: true, max_body_bytes: receiver.max_body_bytes } };
}
