/**
 * The endpoints every Tributary serves: /metrics (self-metrics, in the format and encoding the
 * scraper asked for), /health (the process answers) and /ready (it is prepared to do its job,
 * or why not).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { negotiateExposition, parseQualityList } from '../formats/media-types.js';
import { writeExposition } from '../formats/prometheus/writer.js';
import type { Registry } from '../selfmetrics/registry.js';
import type { Handler, HttpServer } from './http-server.js';
import { sendBody, sendText } from './respond.js';

const gzip = promisify(gzipCallback);

/** Whether the process is ready to serve, and if not, a reason to show on /ready. */
export class Readiness {
  private reason: string | undefined;

  constructor(initialReason = 'starting') {
    this.reason = initialReason;
  }

  setReady(): void {
    this.reason = undefined;
  }

  setNotReady(reason: string): void {
    this.reason = reason;
  }

  get ready(): boolean {
    return this.reason === undefined;
  }

  /** Why the process is not ready; undefined when it is. */
  get notReadyReason(): string | undefined {
    return this.reason;
  }
}

/**
 * True when an Accept-Encoding header allows gzip: listed with q > 0, or covered by `*` with
 * q > 0 and not listed itself. `gzip;q=0` is a refusal.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let gzipQ: number | undefined;
  let starQ: number | undefined;
  for (const { type: coding, q } of parseQualityList(header)) {
    if (coding === 'gzip' || coding === 'x-gzip') gzipQ = Math.max(gzipQ ?? 0, q);
    else if (coding === '*') starQ = q;
  }
  if (gzipQ !== undefined) return gzipQ > 0;
  return starQ !== undefined && starQ > 0;
}

/** A header that may have come several times, as one comma-joined value. */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

export interface CoreRoutesOptions {
  registry: Registry;
  readiness: Readiness;
  /** Serve the registry on /metrics; false when a gateway path serves /metrics (with these metrics in it). */
  metrics?: boolean;
}

/**
 * Sends an exposition page: gzip when the client accepts it, `Vary` so caches keep the variants
 * apart. Shared by /metrics and the gateway's paths.
 */
export async function sendExposition(req: IncomingMessage, res: ServerResponse, page: string | Buffer, contentType: string): Promise<void> {
  let body = typeof page === 'string' ? Buffer.from(page, 'utf8') : page;
  res.setHeader('Vary', 'Accept, Accept-Encoding');
  if (acceptsGzip(headerValue(req.headers['accept-encoding']))) {
    body = await gzip(body);
    res.setHeader('Content-Encoding', 'gzip');
  }
  sendBody(res, 200, contentType, body);
}

function registerMetricsRoute(server: HttpServer, registry: Registry): void {
  server.get('/metrics', async (req, res) => {
    const negotiated = negotiateExposition(headerValue(req.headers.accept));
    const page = writeExposition(registry.collect(), { format: negotiated.format, utf8Names: negotiated.utf8Names });
    await sendExposition(req, res, page, negotiated.contentType);
  });
}

/** Adds GET /metrics (unless a gateway path serves it), /health and /ready to `server`. */
export function registerCoreRoutes(server: HttpServer, opts: CoreRoutesOptions): void {
  const { registry, readiness } = opts;
  if (opts.metrics !== false) registerMetricsRoute(server, registry);

  const health: Handler = (_req, res) => {
    sendText(res, 200, 'OK\n');
  };
  const ready: Handler = (_req, res) => {
    const reason = readiness.notReadyReason;
    if (reason === undefined) sendText(res, 200, 'OK\n');
    else sendText(res, 503, `not ready: ${reason}\n`);
  };
  // `/-/healthy` and `/-/ready` as Prometheus and the Pushgateway name them, for probes written for those.
  server.get('/health', health);
  server.get('/-/healthy', health);
  server.get('/ready', ready);
  server.get('/-/ready', ready);
}
