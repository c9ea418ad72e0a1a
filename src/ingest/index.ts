/**
 * Push ingestion: samples pushed in other systems' protocols — every one vmagent accepts — fed
 * to the pipeline as scraped ones are (global relabeling, remote write, gateway views). Each
 * protocol's wire format lives in src/formats/<protocol>/; here is its server glue, one module
 * per protocol of the same shape (`IngestProtocol`), over the shared parts: `Ingester` (labels,
 * limits, batching, self-metrics), `IngestHttp` (routes, tenants, bodies, answers) and the
 * TCP/UDP line listeners.
 */

import type { IngestConfig } from '../config/ingest.js';
import type { MetricMetadata } from '../formats/remotewrite/index.js';
import type { Logger } from '../log/logger.js';
import type { SampleSink } from '../pipeline/index.js';
import type { Registry } from '../selfmetrics/registry.js';
import { AccessRule, protect, type HttpServer } from '../server/index.js';
import type { Closable, IngestContext, IngestProtocol } from './context.js';
import { datadog } from './datadog.js';
import { graphite } from './graphite.js';
import { remoteWrite, type RemoteWriteIn } from './remote-write.js';
import { opentelemetry } from './opentelemetry.js';
import { vmImport } from './import.js';
import { IngestHttp } from './http.js';
import { influx } from './influx.js';
import { opentsdb } from './opentsdb.js';
import { natsIngest } from './nats.js';
import { Ingester, IngestMetrics } from './ingester.js';

export { REMOTE_WRITE_PATH, RECEIVED_JOB, withReceiverAlias } from './remote-write.js';
export type { IngestContext, IngestProtocol } from './context.js';

/** Every protocol, in the order they start. */
const PROTOCOLS: readonly IngestProtocol[] = [remoteWrite, graphite, datadog, influx, opentelemetry, opentsdb, vmImport, natsIngest];

export interface IngestDeps {
  readonly server: HttpServer;
  readonly sink: SampleSink;
  readonly registry: Registry;
  readonly logger: Logger;
}

export interface RunningIngest {
  /** Addresses of the TCP/UDP listeners by protocol (bound ports, for `:0`). */
  readonly listeners: ReadonlyMap<string, string[]>;
  /** Metric metadata received (remote write in), for remote write to send on beside the scrapes'. */
  metadata(): MetricMetadata[];
  close(): Promise<void>;
}

/** Registers the HTTP routes (before the server listens) and opens the listeners the configuration turns on. */
export async function startIngest(config: IngestConfig, deps: IngestDeps): Promise<RunningIngest> {
  const access = config.access === undefined ? undefined : await AccessRule.fromConfig(config.access);
  const http = new IngestHttp(deps.server, access && ((h) => protect(access, h)));
  const metrics = new IngestMetrics(deps.registry);
  const ingesters = new Map<string, Ingester>();
  const ctx: IngestContext = {
    config,
    http,
    server: deps.server,
    sink: deps.sink,
    registry: deps.registry,
    logger: deps.logger,
    ingester(protocol) {
      let i = ingesters.get(protocol);
      if (i === undefined) {
        i = new Ingester({ protocol, sink: deps.sink, metrics, logger: deps.logger, maxLabelsPerSeries: config.max_labels_per_series });
        ingesters.set(protocol, i);
      }
      return i;
    },
  };
  const started: { name: string; parts: Closable[] }[] = [];
  const close = async () => {
    for (const s of started.splice(0).reverse()) for (const p of s.parts) await p.close().catch(() => {});
  };
  try {
    for (const p of PROTOCOLS) {
      try {
        started.push({ name: p.name, parts: await p.start(ctx) });
      } catch (err) {
        // which section's listener it was: two protocols may share a port by mistake
        throw new Error(`ingest.${p.name}: ${(err as Error).message}`, { cause: err });
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  const listeners = new Map<string, string[]>();
  for (const s of started) {
    const addrs = s.parts.flatMap((p) => ('address' in p && typeof p.address === 'string' ? [p.address] : []));
    if (addrs.length > 0) listeners.set(s.name, addrs);
  }
  const received = started.flatMap((s) => s.parts.filter((p): p is RemoteWriteIn => 'metadata' in p && typeof p.metadata === 'function'));
  return { listeners, metadata: () => received.flatMap((r) => r.metadata()), close };
}
