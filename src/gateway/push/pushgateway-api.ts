/**
 * The Pushgateway's push API on the gateway's HTTP server: `PUT` replaces a group, `POST`
 * replaces the pushed families within it, `DELETE` drops it, all on
 * `/metrics/job/<job>{/<label>/<value>}` (with `@base64` names as the Pushgateway has them).
 *
 * Compatible where clients can tell: 200 for an accepted PUT/POST, 202 for DELETE, 400 with a
 * reason for a malformed path or body (here with `line L, column C`), no timestamps allowed,
 * grouping labels overriding pushed labels of the same name. Different where users asked for it:
 * groups expire (listener default TTL, or the push's own `X-Tributary-TTL: 30s`), and store
 * limits answer 429. Not served: the Pushgateway's protobuf body (415), its `push_time_seconds`
 * series, its query API and UI.
 *
 * A refused push never touches the group's data: the previous payload stays exposed and the
 * refusal is recorded on the app for /apps.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from '../../config/duration.js';
import type { TextFormat } from '../../formats/prometheus/negotiate.js';
import type { Logger } from '../../log/logger.js';
import type { Registry } from '../../selfmetrics/registry.js';
import type { HttpServer } from '../../server/http-server.js';
import { sendText } from '../../server/respond.js';
import { AppStore, PushLimitError } from './app-store.js';
import { GroupingKeyError, parseGroupingPath, type GroupingKey } from './grouping-key.js';
import { pushMetrics, type PushErrorReason } from './push-metrics.js';
import { applyGroupingLabels, parseStrict, PushedTextError, rejectTimestamps } from './pushed-text.js';
import { BodyTooLargeError, readBody } from './request-body.js';

export interface PushgatewayApiOptions {
  store: AppStore;
  logger: Logger;
  registry: Registry;
  /** TTL of a group pushed without `X-Tributary-TTL`; 0 = kept until deleted. */
  defaultTtlMs: number;
  maxBodyBytes: number;
}

export const TTL_HEADER = 'x-tributary-ttl';
const PREFIX = '/metrics/';
/** The listener label of HTTP pushes in push metrics. */
const LISTENER = 'http';

/** Registers PUT, POST and DELETE below `/metrics/job`. */
export function registerPushgatewayRoutes(server: HttpServer, opts: PushgatewayApiOptions): void {
  const logger = opts.logger.child({ component: 'pushgateway-api' });
  const metrics = pushMetrics(opts.registry);

  const fail = (res: ServerResponse, status: number, reason: PushErrorReason, message: string, fields: Record<string, unknown>): void => {
    metrics.errors.labels(LISTENER, reason).inc();
    logger.warn('push refused', { status, reason, error: message, ...fields });
    if (status === 413) res.setHeader('Connection', 'close');
    sendText(res, status, message + '\n');
  };

  const push = (mode: 'replace' | 'merge') => async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const peer = describePeer(req);
    const group = groupOf(req);
    if (group instanceof GroupingKeyError) return fail(res, 400, 'bad_request', group.message, { peer, method: req.method });
    const fields = { peer, method: req.method, group: group.key };

    let ttlMs = opts.defaultTtlMs;
    const ttlHeader = req.headers[TTL_HEADER];
    if (typeof ttlHeader === 'string') {
      try {
        ttlMs = parseDuration(ttlHeader.trim());
      } catch (err) {
        return fail(res, 400, 'bad_request', `${TTL_HEADER}: ${(err as Error).message}`, fields);
      }
    }

    const format = bodyFormat(req.headers['content-type']);
    if (format === undefined) {
      return fail(res, 415, 'bad_request', 'only the Prometheus text format and OpenMetrics are accepted, not protobuf', fields);
    }

    let body: Buffer;
    try {
      body = await readBody(req, opts.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return fail(res, 413, 'too_large', err.message, fields);
      throw err;
    }

    let families;
    try {
      const text = decodeUtf8(body);
      families = parseStrict(text, format).families;
      rejectTimestamps(families);
    } catch (err) {
      if (!(err instanceof PushedTextError)) throw err;
      const message = `pushed metrics are invalid: ${err.message}`;
      opts.store.reject(group.key, message);
      return fail(res, 400, 'parse', message, fields);
    }

    try {
      opts.store.push({
        key: group.key,
        name: group.job,
        groupingLabels: group.labels,
        protocol: 'pushgateway',
        origin: `HTTP push from ${peer}`,
        families: applyGroupingLabels(families, group.labels),
        ttlMs,
        mode,
      });
    } catch (err) {
      if (!(err instanceof PushLimitError)) throw err;
      opts.store.reject(group.key, err.message);
      return fail(res, 429, 'limit', err.message, fields);
    }
    metrics.pushes.labels(LISTENER, 'pushgateway').inc();
    logger.debug('push accepted', { ...fields, families: families.length, ttl_ms: ttlMs });
    res.statusCode = 200;
    res.end();
  };

  const remove = (req: IncomingMessage, res: ServerResponse): void => {
    const group = groupOf(req);
    if (group instanceof GroupingKeyError) return fail(res, 400, 'bad_request', group.message, { peer: describePeer(req), method: 'DELETE' });
    const existed = opts.store.delete(group.key);
    logger.debug('group deleted', { peer: describePeer(req), group: group.key, existed });
    // The Pushgateway answers 202 whether or not the group existed.
    res.statusCode = 202;
    res.end();
  };

  // One prefix covers both `/metrics/job/` and `/metrics/job@base64/`.
  server.routePrefix('PUT', '/metrics/job', push('replace'));
  server.routePrefix('POST', '/metrics/job', push('merge'));
  server.routePrefix('DELETE', '/metrics/job', remove);
}

function groupOf(req: IncomingMessage): GroupingKey | GroupingKeyError {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  try {
    return parseGroupingPath(path.slice(PREFIX.length));
  } catch (err) {
    if (err instanceof GroupingKeyError) return err;
    throw err;
  }
}

/** OpenMetrics by its media type, protobuf refused, anything else read as the text format. */
function bodyFormat(contentType: string | undefined): TextFormat | undefined {
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (media === 'application/openmetrics-text') return 'openmetrics';
  if (media === 'application/vnd.google.protobuf') return undefined;
  return 'prometheus';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new PushedTextError('the body is not valid UTF-8');
  }
}

function describePeer(req: IncomingMessage): string {
  const s = req.socket;
  return s.remoteAddress === undefined ? 'unknown' : `${s.remoteAddress}:${s.remotePort}`;
}
