/**
 * The Pushgateway's API on the gateway's HTTP server: `PUT` replaces a group, `POST` replaces
 * the pushed families within it, `DELETE` drops it, all on
 * `/metrics/job/<job>{/<label>/<value>}` (with `@base64` names as the Pushgateway has them);
 * `GET /api/v1/metrics` and `GET /api/v1/status` in its JSON shape, and `PUT
 * /api/v1/admin/wipe` when the admin API is enabled (pushgateway-json.ts).
 *
 * Compatible where clients can tell: bodies in the text format, OpenMetrics or delimited
 * protobuf (client_golang's default), gzip-compressed or not; 200 for an accepted PUT/POST,
 * 202 for DELETE; 400 for a body that does not parse (nothing changes) and for one that the
 * store refuses — timestamps, a series twice, a TYPE or name that clashes with another group
 * (the Pushgateway's `pushed metrics are invalid or inconsistent with existing metrics: ...`,
 * which also sets the group's `push_failure_time_seconds`); grouping labels override pushed
 * labels of the same name. Different where users asked for it: groups may expire (the HTTP
 * TTL, or the push's own `X-Tributary-TTL: 30s`; 0 keeps them until deleted), store limits
 * answer 429, and a body over `max_body_bytes` (also once decompressed) 413.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from '../../config/duration.js';
import type { Logger } from '../../log/logger.js';
import type { Registry } from '../../selfmetrics/registry.js';
import type { Handler, HttpServer } from '../../server/http-server.js';
import { sendText } from '../../server/respond.js';
import { AppStore, INVALID_PREFIX, PushInvalidError, PushLimitError } from './app-store.js';
import { GroupingKeyError, parseGroupingPath, type GroupingKey } from './grouping-key.js';
import { pushMetrics, type PushErrorReason } from './push-metrics.js';
import { applyGroupingLabels } from './pushed-text.js';
import { parsePushBody, PushBodyError, pushBodyFormat, readPushBody } from './push-body.js';
import { registerPushgatewayJson } from './pushgateway-json.js';
import { BodyTooLargeError } from '../../server/request-body.js';

export interface PushgatewayApiOptions {
  store: AppStore;
  logger: Logger;
  registry: Registry;
  /** TTL of a group pushed without `X-Tributary-TTL`; 0 = kept until deleted. */
  defaultTtlMs: number;
  maxBodyBytes: number;
  /** Serve `PUT /api/v1/admin/wipe`. */
  adminApi?: boolean;
  /** Groups pushed here also go into the pipeline (remote write). */
  remoteWrite?: boolean;
  /** Access control around every route of the API. */
  protect?: (handler: Handler) => Handler;
  /** Settings shown by `/api/v1/status` as the Pushgateway shows its flags. */
  flags?: Readonly<Record<string, string>>;
}

export const TTL_HEADER = 'x-tributary-ttl';
const PREFIX = '/metrics/';
/** The listener label of HTTP pushes in push metrics. */
const LISTENER = 'http';

/** Registers PUT, POST and DELETE below `/metrics/job`, and the JSON API. */
export function registerPushgatewayRoutes(server: HttpServer, opts: PushgatewayApiOptions): void {
  const logger = opts.logger.child({ component: 'pushgateway-api' });
  const metrics = pushMetrics(opts.registry);
  const guard = opts.protect ?? ((h: Handler) => h);

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

    const request = { key: group.key, name: group.job, groupingLabels: group.labels, protocol: 'pushgateway' as const, origin: `HTTP push from ${peer}`, ttlMs, ...(opts.remoteWrite ? { remoteWrite: true } : {}) };
    let families;
    try {
      const body = await readPushBody(req, opts.maxBodyBytes);
      families = await parsePushBody(body, pushBodyFormat(req.headers['content-type']), opts.store.limits.maxSeries);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return fail(res, 413, 'too_large', err.message, fields);
      if (err instanceof PushBodyError && err.invalid) {
        // Readable, but its metrics break a rule: a failed push of the group, as in the Pushgateway.
        opts.store.refused(request, err.message);
        return fail(res, 400, 'invalid', INVALID_PREFIX + err.message, fields);
      }
      if (err instanceof PushBodyError) {
        // Nothing changes (as in the Pushgateway), but /apps shows why the last push failed.
        opts.store.reject(group.key, err.message);
        return fail(res, err.status, err.status === 400 ? 'parse' : 'bad_request', err.message, fields);
      }
      if (res.destroyed || req.socket.destroyed) {
        // The client went away mid-upload: nothing was taken, and nobody is left to tell.
        logger.debug('push abandoned by the client before its body was complete', { ...fields, err: (err as Error).message });
        return;
      }
      throw err;
    }

    try {
      opts.store.push({ ...request, families: applyGroupingLabels(families, group.labels), mode });
    } catch (err) {
      if (err instanceof PushInvalidError) return fail(res, 400, 'invalid', err.message, fields);
      if (err instanceof PushLimitError) return fail(res, 429, 'limit', err.message, fields);
      throw err;
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
  server.routePrefix('PUT', '/metrics/job', guard(push('replace')));
  server.routePrefix('POST', '/metrics/job', guard(push('merge')));
  server.routePrefix('DELETE', '/metrics/job', guard(remove));
  registerPushgatewayJson(server, { store: opts.store, logger, guard, adminApi: opts.adminApi ?? false, flags: opts.flags ?? {} });
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

function describePeer(req: IncomingMessage): string {
  const s = req.socket;
  return s.remoteAddress === undefined ? 'unknown' : `${s.remoteAddress}:${s.remotePort}`;
}
