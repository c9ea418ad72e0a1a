/**
 * The Pushgateway's JSON API, for the tools and UIs built on it: `GET /api/v1/metrics` (every
 * group with its families, as the Pushgateway 1.5 shapes them: numbers as Go-formatted
 * strings, histograms and summaries as one object per label set, `push_time_seconds` and
 * `push_failure_time_seconds` among the families), `GET /api/v1/status`, and `PUT
 * /api/v1/admin/wipe` (only when the admin API is enabled, as with the Pushgateway's
 * `--web.enable-admin-api`; otherwise the route does not exist: 404). Only groups pushed over
 * the Pushgateway API are listed; socket apps are not Pushgateway groups.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricFamily, MetricType } from '../../model/family.js';
import { METRIC_NAME } from '../../model/labels.js';
import type { Logger } from '../../log/logger.js';
import type { Handler, HttpServer } from '../../server/http-server.js';
import { sampleGroup } from '../../formats/prometheus/order.js';
import { formatGoFloat } from '../../formats/protobuf/gofloat.js';
import { VERSION } from '../../common/version.js';
import { MEDIA_JSON } from '../../formats/media-types.js';
import { PUSH_FAILURE_TIME, PUSH_TIME, shownFamilies, type AppStore, type PushedApp } from './app-store.js';
import { blankLabelsOf } from './pushgateway-families.js';

export interface PushgatewayJsonOptions {
  store: AppStore;
  logger: Logger;
  guard: (h: Handler) => Handler;
  adminApi: boolean;
  flags: Readonly<Record<string, string>>;
}

const STARTED = new Date();

export function registerPushgatewayJson(server: HttpServer, opts: PushgatewayJsonOptions): void {
  // Browsers ask first (CORS preflight): the Pushgateway answers every API path's OPTIONS.
  const preflight: Handler = (_req, res) => sendApiJson(res, 200, undefined);
  // (Not for the wipe route while the admin API is off: it must not exist at all then, 404.)
  for (const path of ['/api/v1/metrics', '/api/v1/status', ...(opts.adminApi ? ['/api/v1/admin/wipe'] : [])]) server.route('OPTIONS', path, preflight);
  server.get(
    '/api/v1/metrics',
    opts.guard((_req, res) => {
      const data = opts.store.list().filter((a) => a.protocol === 'pushgateway').map(groupJson);
      sendApiJson(res, 200, { status: 'success', data });
    }),
  );
  server.get(
    '/api/v1/status',
    opts.guard((_req, res) => {
      sendApiJson(res, 200, {
        status: 'success',
        data: {
          build_information: { branch: '', buildDate: '', buildUser: '', goVersion: `node ${process.version}`, revision: '', version: VERSION },
          flags: sortedObject(opts.flags),
          start_time: STARTED.toISOString(),
        },
      });
    }),
  );
  if (opts.adminApi) {
    server.route(
      'PUT',
      '/api/v1/admin/wipe',
      opts.guard((req: IncomingMessage, res: ServerResponse) => {
        const n = opts.store.wipe();
        opts.logger.info('pushed groups wiped', { count: n, peer: req.socket.remoteAddress });
        res.statusCode = 202;
        res.end();
      }),
    );
  }
}

function sendApiJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': MEDIA_JSON,
    'cache-control': 'no-cache, no-store, must-revalidate',
    'access-control-allow-origin': '*',
    'access-control-allow-headers': 'Accept, Authorization, Content-Type, Origin',
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-expose-headers': 'Date',
  });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/** One group: its grouping labels, whether the last push went through, and every family. */
function groupJson(app: PushedApp): Record<string, unknown> {
  const group: Record<string, unknown> = {
    labels: app.groupingLabels,
    last_push_successful: app.failureTimeMs <= app.pushTimeMs,
  };
  const blank = blankLabelsOf(app.groupingLabels);
  // What was stored: the pushed families (not completed as the page shows them), and the push times.
  const times = shownFamilies(app).filter((f) => f.name === PUSH_TIME || f.name === PUSH_FAILURE_TIME);
  for (const f of [...app.families, ...times]) {
    const written =
      f.name === PUSH_FAILURE_TIME ? app.failureTimeMs || app.pushTimeMs : f.name === PUSH_TIME ? app.pushTimeMs || app.failureTimeMs : (app.familyTimes.get(f.name) ?? app.pushTimeMs);
    group[f.name] = familyJson(f, written, blank);
  }
  return sortedObject(group);
}

const TYPE_NAMES: Record<MetricType, string> = {
  counter: 'COUNTER',
  gauge: 'GAUGE',
  summary: 'SUMMARY',
  histogram: 'HISTOGRAM',
  gaugehistogram: 'GAUGE_HISTOGRAM',
  unknown: 'UNTYPED',
  info: 'GAUGE',
  stateset: 'GAUGE',
};

function familyJson(f: MetricFamily, writtenMs: number, blank: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { time_stamp: new Date(writtenMs).toISOString(), type: TYPE_NAMES[f.type] };
  if (f.help !== undefined && f.help !== '') out.help = f.help;
  out.metrics = f.type === 'histogram' || f.type === 'gaugehistogram' || f.type === 'summary' ? compositeMetrics(f, blank) : simpleMetrics(f, blank);
  return out;
}

/**
 * A counter's, gauge's or untyped family's samples; a counter's `_created` (OpenMetrics) is its
 * creation time, not another reading of it, and the Pushgateway's model has no place for it.
 */
function simpleMetrics(f: MetricFamily, blank: readonly string[]): Record<string, unknown>[] {
  const created = f.type === 'counter' ? f.name + '_created' : undefined;
  return f.metrics.filter((m) => m.labels.metricName !== created).map((m) => ({ labels: labelsJson(m.labels.kv, blank), value: goNumber(m.value) }));
}

/** A histogram's or summary's samples folded into one object per label set, as the Pushgateway stores them. */
function compositeMetrics(f: MetricFamily, blank: readonly string[]): Record<string, unknown>[] {
  const byGroup = new Map<string, { labels: readonly string[]; parts: Record<string, string>; sum: string; count: string }>();
  const histogram = f.type !== 'summary';
  for (const m of f.metrics) {
    const key = sampleGroup(f.name, f.type, m.labels);
    let g = byGroup.get(key);
    if (g === undefined) {
      const kv = m.labels.kv;
      const inner = histogram ? 'le' : 'quantile';
      const labels: string[] = [];
      for (let i = 0; i < kv.length; i += 2) if (kv[i] !== METRIC_NAME && kv[i] !== inner) labels.push(kv[i], kv[i + 1]);
      byGroup.set(key, (g = { labels, parts: {}, sum: '0', count: '0' }));
    }
    const suffix = m.labels.metricName.slice(f.name.length);
    if (suffix === '_sum' || suffix === '_gsum') g.sum = goNumber(m.value);
    else if (suffix === '_count' || suffix === '_gcount') g.count = goNumber(m.value);
    else if (histogram && suffix === '_bucket') g.parts[m.labels.get('le') ?? ''] = goNumber(m.value);
    else if (!histogram && suffix === '') g.parts[m.labels.get('quantile') ?? ''] = goNumber(m.value);
  }
  return [...byGroup.values()].map((g) =>
    sortedObject({ [histogram ? 'buckets' : 'quantiles']: sortedObject(g.parts), count: g.count, labels: labelsJson(g.labels, blank), sum: g.sum }),
  );
}

/** A series' labels without its name, with the blank ones it lacks (`instance: ""`), as the Pushgateway stores them. */
function labelsJson(kv: readonly string[], blank: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of blank) out[name] = '';
  for (let i = 0; i < kv.length; i += 2) if (kv[i] !== METRIC_NAME) out[kv[i]] = kv[i + 1];
  return sortedObject(out);
}

/** Go's `fmt.Sprint(float64)`: expfmt's formatting, except that -0 keeps its sign. */
function goNumber(v: number): string {
  return v === 0 && 1 / v < 0 ? '-0' : formatGoFloat(v);
}

/**
 * Keys in byte order, as Go's encoding/json writes a map — except integer-like keys (a bucket
 * `le` of "1"), which a JavaScript object always lists first; JSON readers do not care.
 */
function sortedObject<T>(o: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = o[k];
  return out;
}
