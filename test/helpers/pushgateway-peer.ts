/**
 * The real Prometheus Pushgateway as a peer, next to Tributary's gateway, for differential
 * tests: start both, send them the same requests, and compare what a client can observe — the
 * series on `/metrics` and the JSON of `/api/v1/metrics` — once each side's own metrics and the
 * documented differences (Tributary's `exporter_name` source label, the push-time values) are
 * taken out.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import type { Runtime } from '../../src/runtime/runtime.js';
import { sendRaw, sleep, startTributary as startTributaryFromYaml } from './gateway-harness.js';
import { freePort } from './prometheus-peer.js';

export const PUSHGATEWAY = '/usr/bin/prometheus-pushgateway';
export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

// ------------------------------------------------------------------ HTTP

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with exactly the headers given (no Content-Type unless asked for). */
export async function send(url: string, method: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await sendRaw(url, method, body, headers);
  return { ...r, body: r.body.toString('utf8') };
}

// ------------------------------------------------------------------ the two gateways

export interface Gateway {
  /** `http://127.0.0.1:PORT` */
  base: string;
  close(): Promise<void>;
}

/**
 * The real Pushgateway on a free port, without persistence (Debian's build has a default file,
 * so `--persistence.file=` is passed explicitly), with the admin API when asked for.
 */
export async function startPushgateway(opts: { adminApi: boolean }): Promise<Gateway> {
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const args = [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', ...(opts.adminApi ? ['--web.enable-admin-api'] : [])];
    const child: ChildProcess = spawn(PUSHGATEWAY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d) => (log += d));
    let exited = false;
    child.once('exit', () => (exited = true));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) {
      try {
        const r = await send(`${base}/-/ready`, 'GET');
        if (r.status === 200) {
          return {
            base,
            close: () =>
              new Promise<void>((resolve) => {
                if (child.exitCode !== null || child.signalCode !== null) return resolve();
                child.once('exit', () => resolve());
                child.kill('SIGTERM');
              }),
          };
        }
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    if (!exited) child.kill('SIGKILL');
    lastError = log;
  }
  throw new Error(`the Pushgateway did not start: ${lastError}`);
}

/** Tributary's gateway in-process on 127.0.0.1:0, groups kept until deleted (no TTL), as the Pushgateway keeps them. */
export async function startTributary(opts: { adminApi: boolean }): Promise<Gateway & { runtime: Runtime }> {
  const { runtime, base } = await startTributaryFromYaml(`gateway:\n  push:\n    default_ttl: 0\n    http:\n      enable_admin_api: ${opts.adminApi}\n`);
  return { runtime, base, close: () => runtime.close(100) };
}

// ------------------------------------------------------------------ the text page

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Page {
  series: Series[];
  types: Map<string, string>;
  helps: Map<string, string>;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** A text-format (0.0.4) page: samples, TYPE and HELP lines. Throws on a line it cannot read. */
export function parsePage(text: string): Page {
  const series: Series[] = [];
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (m === null) continue;
      if (m[1] === 'TYPE') types.set(m[2], (m[3] ?? '').trim());
      else helps.set(m[2], unescapeHelp(m[3] ?? ''));
      continue;
    }
    let i = 0;
    while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i])) i++;
    const name = line.slice(0, i);
    if (name === '') throw new Error(`cannot read the sample line ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      for (;;) {
        while (line[i] === ' ' || line[i] === ',') i++;
        if (line[i] === '}') {
          i++;
          break;
        }
        const start = i;
        while (i < line.length && /[a-zA-Z0-9_]/.test(line[i])) i++;
        const lname = line.slice(start, i);
        if (lname === '' || line[i] !== '=' || line[i + 1] !== '"') throw new Error(`cannot read the labels of ${JSON.stringify(line)}`);
        i += 2;
        let value = '';
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\') {
            const c = line[i + 1];
            value += c === 'n' ? '\n' : c;
            i += 2;
          } else value += line[i++];
        }
        if (line[i] !== '"') throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
        i++;
        labels[lname] = value;
      }
    }
    const rest = line.slice(i).trim().split(/\s+/);
    series.push({ name, labels, value: parseValue(rest[0]) });
  }
  return { series, types, helps };
}

function parseValue(s: string): number {
  if (/^[+]?inf$/i.test(s)) return Infinity;
  if (/^-inf$/i.test(s)) return -Infinity;
  if (/^nan$/i.test(s)) return NaN;
  const v = Number(s);
  if (Number.isNaN(v)) throw new Error(`not a sample value: ${JSON.stringify(s)}`);
  return v;
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function seriesKey(name: string, labels: Record<string, string>): string {
  const body = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
  return `${name}{${body}}`;
}

export const PUSH_TIME_FAMILIES = new Set(['push_time_seconds', 'push_failure_time_seconds']);

/** Families the Pushgateway exposes about itself. */
const PGW_OWN = /^(go_|process_|pushgateway_|promhttp_)/;
/** Families Tributary exposes about itself. */
const TRIBUTARY_OWN = /^(tributary_|process_)/;
export const SOURCE_LABEL = 'exporter_name';

export interface Comparable {
  /** `name{sorted labels} value`, sorted; push-time values as `0` or `>0`. */
  series: string[];
  /** `family type` for the families with series. */
  types: string[];
  /** `family: help` for the families with series and a HELP line. */
  helps: string[];
  /** Tributary only: series whose source label is not their job label (a documented difference gone wrong). */
  badSourceLabel: string[];
}

/**
 * What a client can compare of a page: the pushed series without either side's own families,
 * and without Tributary's source label (checked on the way: it must be the series' job).
 */
export function comparable(text: string, side: 'pushgateway' | 'tributary'): Comparable {
  const page = parsePage(text);
  const own = side === 'pushgateway' ? PGW_OWN : TRIBUTARY_OWN;
  const series: string[] = [];
  const families = new Set<string>();
  const badSourceLabel: string[] = [];
  for (const s of page.series) {
    if (own.test(s.name)) continue;
    const labels = { ...s.labels };
    if (side === 'tributary') {
      const source = labels[SOURCE_LABEL];
      if (source === 'tributary') continue; // its self metrics
      if (source !== labels.job) badSourceLabel.push(seriesKey(s.name, s.labels));
      delete labels[SOURCE_LABEL];
    }
    const family = familyOf(s.name, page.types);
    families.add(family);
    const value = PUSH_TIME_FAMILIES.has(s.name) ? (s.value === 0 ? '0' : s.value > 0 ? '>0' : valueText(s.value)) : valueText(s.value);
    series.push(`${seriesKey(s.name, labels)} ${value}`);
  }
  const types = [...families].map((f) => `${f} ${page.types.get(f) ?? '(no TYPE)'}`);
  const helps = [...families].filter((f) => page.helps.has(f) && page.helps.get(f) !== '').map((f) => `${f}: ${page.helps.get(f)}`);
  return { series: series.sort(), types: types.sort(), helps: helps.sort(), badSourceLabel };
}

/** The family a sample belongs to, by the TYPE lines of the page. */
function familyOf(name: string, types: ReadonlyMap<string, string>): string {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const t = types.get(base);
    if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
  }
  return name;
}

// ------------------------------------------------------------------ the JSON API

export interface JsonGroup {
  /** Canonical grouping labels. */
  key: string;
  last_push_successful: unknown;
  families: Record<string, { type: unknown; help: unknown; metrics: string[] }>;
}

/**
 * `/api/v1/metrics` as a client compares it: groups keyed by their grouping labels; per family
 * its type, help and metrics (as a sorted list of canonical objects); time stamps only checked
 * to be dates, push-time values only as `0` or `>0`.
 */
export function comparableJson(text: string, problems: string[]): JsonGroup[] {
  const doc = JSON.parse(text) as { status?: unknown; data?: unknown };
  if (doc.status !== 'success') problems.push(`status is ${JSON.stringify(doc.status)}`);
  if (!Array.isArray(doc.data)) {
    problems.push('data is not an array');
    return [];
  }
  const groups: JsonGroup[] = [];
  for (const g of doc.data as Record<string, unknown>[]) {
    const labels = g.labels as Record<string, string>;
    const key = seriesKey('', labels ?? {});
    const families: JsonGroup['families'] = {};
    for (const [name, raw] of Object.entries(g)) {
      if (name === 'labels' || name === 'last_push_successful') continue;
      const f = raw as { time_stamp?: unknown; type?: unknown; help?: unknown; metrics?: unknown };
      if (typeof f.time_stamp !== 'string' || Number.isNaN(Date.parse(f.time_stamp))) {
        problems.push(`group ${key} family ${name}: time_stamp ${JSON.stringify(f.time_stamp)} is not a date`);
      }
      const keys = Object.keys(f).filter((k) => !['time_stamp', 'type', 'help', 'metrics'].includes(k));
      if (keys.length > 0) problems.push(`group ${key} family ${name}: unexpected keys ${keys.join(', ')}`);
      const metrics = Array.isArray(f.metrics) ? (f.metrics as Record<string, unknown>[]) : [];
      if (!Array.isArray(f.metrics)) problems.push(`group ${key} family ${name}: metrics is not an array`);
      families[name] = {
        type: f.type,
        help: f.help,
        metrics: metrics
          .map((m) => {
            const c = canonical(m) as Record<string, unknown>;
            if (PUSH_TIME_FAMILIES.has(name) && typeof c.value === 'string') c.value = Number(c.value) === 0 ? '0' : Number(c.value) > 0 ? '>0' : c.value;
            return JSON.stringify(c);
          })
          .sort(),
      };
    }
    groups.push({ key, last_push_successful: g.last_push_successful, families });
  }
  return groups.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Objects with their keys sorted, all the way down (JSON map order is not for clients to rely on). */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

// ------------------------------------------------------------------ protobuf by hand

/** Hand-written protobuf writer for `io.prometheus.client.MetricFamily` (metrics.proto). */
export function uvarint(n: number | bigint): Buffer {
  let v = BigInt(n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

const fieldKey = (field: number, wire: number) => uvarint((field << 3) | wire);
const bytesField = (field: number, b: Buffer) => Buffer.concat([fieldKey(field, 2), uvarint(b.length), b]);
const stringField = (field: number, s: string) => bytesField(field, Buffer.from(s, 'utf8'));
const varintField = (field: number, n: number | bigint) => Buffer.concat([fieldKey(field, 0), uvarint(n)]);
function doubleField(field: number, v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return Buffer.concat([fieldKey(field, 1), b]);
}

export type PbType = 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'UNTYPED' | 'HISTOGRAM';
const PB_TYPE: Record<PbType, number> = { COUNTER: 0, GAUGE: 1, SUMMARY: 2, UNTYPED: 3, HISTOGRAM: 4 };

export interface PbMetric {
  labels?: Record<string, string>;
  /** counter, gauge, untyped */
  value?: number;
  summary?: { count: number; sum: number; quantiles: [number, number][] };
  histogram?: { count: number; sum: number; buckets: [upperBound: number, cumulativeCount: number][] };
}

export interface PbFamily {
  name: string;
  help?: string;
  type: PbType;
  metrics: PbMetric[];
}

function pbMetric(type: PbType, m: PbMetric): Buffer {
  const parts: Buffer[] = [];
  for (const [n, v] of Object.entries(m.labels ?? {})) parts.push(bytesField(1, Buffer.concat([stringField(1, n), stringField(2, v)])));
  if (type === 'GAUGE') parts.push(bytesField(2, doubleField(1, m.value ?? 0)));
  if (type === 'COUNTER') parts.push(bytesField(3, doubleField(1, m.value ?? 0)));
  if (type === 'UNTYPED') parts.push(bytesField(5, doubleField(1, m.value ?? 0)));
  if (type === 'SUMMARY') {
    const s = m.summary!;
    const q = s.quantiles.map(([quantile, value]) => bytesField(3, Buffer.concat([doubleField(1, quantile), doubleField(2, value)])));
    parts.push(bytesField(4, Buffer.concat([varintField(1, s.count), doubleField(2, s.sum), ...q])));
  }
  if (type === 'HISTOGRAM') {
    const h = m.histogram!;
    const b = h.buckets.map(([bound, count]) => bytesField(3, Buffer.concat([varintField(1, count), doubleField(2, bound)])));
    parts.push(bytesField(7, Buffer.concat([varintField(1, h.count), doubleField(2, h.sum), ...b])));
  }
  return Buffer.concat(parts);
}

/** Families as delimited MetricFamily messages: each preceded by its length as a uvarint. */
export function delimitedFamilies(families: readonly PbFamily[]): Buffer {
  const out: Buffer[] = [];
  for (const f of families) {
    const msg = Buffer.concat([
      stringField(1, f.name),
      ...(f.help !== undefined ? [stringField(2, f.help)] : []),
      varintField(3, PB_TYPE[f.type]),
      ...f.metrics.map((m) => bytesField(4, pbMetric(f.type, m))),
    ]);
    out.push(uvarint(msg.length), msg);
  }
  return Buffer.concat(out);
}
