/**
 * Where `tributary import` writes: VictoriaMetrics' `/api/v1/import` (single node, a cluster's
 * `/insert/<tenant>/prometheus`, either behind vmauth) or any Prometheus remote-write receiver
 * (Prometheus with `--web.enable-remote-write-receiver`, Mimir, Thanos receive, VictoriaMetrics,
 * Tributary). What the target is, what it keeps (retention, labels per series, what a
 * Prometheus head still takes) and where its query API is are found here (`probeTarget`); one
 * POST of one chunk and what its answer means (`send`); the instant queries verification and a
 * resume's de-duplication read (`query`).
 */

import { parse as parseYaml } from 'yaml';
import { USER_AGENT } from '../common/version.js';
import { MEDIA_REMOTE_WRITE } from '../formats/media-types.js';
import { HttpClient } from '../outbound/index.js';
import { postBuffer, retryAfterMs } from '../outbound/post.js';
import { clientSettings, connectionProblem, readText, SourceHttp, statusError, DEFAULT_TIMEOUT_MS } from './source-http.js';
import { validateConnection } from './source-validate.js';
import { SourceError, redactSecrets, secretsOf, type ConnectionConfig } from './types.js';

export type ImportProtocol = 'vm-import' | 'remote-write';

export interface TargetConfig extends ConnectionConfig {
  /** Default: from the URL's path, else what the server turns out to be. */
  readonly protocol?: ImportProtocol;
  /** Where verification and a resume's check query (a Prometheus API root); default derived from the URL. */
  readonly queryUrl?: string;
  /** Given by the user where the target's own cannot be read (a cluster's vmstorage, a proxy). */
  readonly retentionMs?: number;
  readonly maxLabels?: number;
}

export interface TargetInfo {
  readonly protocol: ImportProtocol;
  readonly flavour: 'victoriametrics-single' | 'victoriametrics-cluster' | 'prometheus' | 'unknown';
  readonly version: string;
  /** The URL every chunk is POSTed to (no credentials). */
  readonly writeUrl: string;
  /** A Prometheus API root for queries, when known. */
  readonly queryBase?: string;
  readonly tenant?: string;
  /** Samples older than now minus this are refused (VictoriaMetrics) or deleted at the next compaction (Prometheus). */
  readonly retentionMs?: number;
  readonly retentionFrom?: string;
  /** Labels per series, `__name__` included, the target keeps. */
  readonly maxLabels?: number;
  /** VictoriaMetrics refuses samples more than this past now (2 days). */
  readonly futureMs?: number;
  /** Prometheus: the newest sample of its head, and how far behind it a sample is still taken (1 h, or the out-of-order window). */
  readonly headMaxMs?: number;
  readonly toleranceMs?: number;
  readonly oooWindowMs?: number;
  /** What could not be read, in words. */
  readonly notes: readonly string[];
}

export type SendResult =
  | { readonly kind: 'ok' }
  /** `status`: the answer's, when there was one (none: a network error or a timeout). */
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number; readonly status?: number }
  | { readonly kind: 'refused'; readonly status: number; readonly message: string };

const MONTH_MS = 31 * 86_400_000;
const VM_FUTURE_MS = 2 * 86_400_000;
/** Prometheus takes samples no older than its head's newest minus half a block (2 h). */
const PROMETHEUS_HEAD_TOLERANCE_MS = 3_600_000;
const PROMETHEUS_DEFAULT_RETENTION_MS = 15 * 86_400_000;
const EXCERPT = 1024;
/** A VictoriaMetrics cluster tenant an insert path takes: `accountID[:projectID]`. */
const TENANT = /^\d+(:\d+)?$/;
const REMOTE_WRITE_PATH = /\/(api\/v1\/(write|push|receive)|receive|push|write)$/;

/** A target as configured: the write URL and its kind, before anything is asked of it. */
interface Resolved {
  readonly protocol?: ImportProtocol;
  readonly writeUrl?: string;
  readonly queryBase?: string;
  readonly tenant?: string;
  readonly cluster: boolean;
}

/** Throws SourceError (`http`) for a URL that cannot be a target. */
function resolveUrl(c: TargetConfig): Resolved {
  let u: URL;
  try {
    u = new URL(c.url);
  } catch {
    throw new SourceError('http', `${JSON.stringify(c.url)} is not a URL: want http(s)://host:port[/path]`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SourceError('http', `${c.url}: only http:// and https:// targets`);
  if (u.username !== '' || u.password !== '') throw new SourceError('http', `${u.origin}: credentials in the URL are refused (ps and logs show them); give them as basic auth`);
  const path = u.pathname.replace(/\/+$/, '');
  const origin = u.origin;
  const tenant = c.tenant?.trim() === '' ? undefined : c.tenant?.trim();
  if (tenant !== undefined && !TENANT.test(tenant)) throw new SourceError('http', `tenant ${JSON.stringify(tenant)}: want accountID or accountID:projectID (digits), e.g. 0 or 42:1`);
  const insert = /^(.*)\/insert\/([^/]+)(\/prometheus)?(\/api\/v1\/import)?$/.exec(path);
  if (insert !== null) {
    const t = insert[2];
    if (!TENANT.test(t)) throw new SourceError('http', `${c.url}: tenant ${JSON.stringify(t)} in /insert/<tenant>/ is not accountID or accountID:projectID`);
    if (tenant !== undefined && tenant !== t) throw new SourceError('http', `${c.url} names tenant ${t}, --tenant says ${tenant}`);
    return { protocol: 'vm-import', writeUrl: `${origin}${insert[1]}/insert/${t}/prometheus/api/v1/import`, queryBase: `${origin}${insert[1]}/select/${t}/prometheus`, tenant: t, cluster: true };
  }
  if (REMOTE_WRITE_PATH.test(path) && c.protocol !== 'vm-import') {
    const base = path.replace(/\/api\/v1\/(write|push|receive)$/, '');
    return { protocol: 'remote-write', writeUrl: `${origin}${path}${u.search}`, queryBase: path.endsWith('/api/v1/write') ? `${origin}${base}` : undefined, tenant, cluster: false };
  }
  if (path.endsWith('/api/v1/import')) {
    return { protocol: 'vm-import', writeUrl: `${origin}${path}`, queryBase: `${origin}${path.slice(0, -'/api/v1/import'.length)}`, tenant, cluster: false };
  }
  if (tenant !== undefined) {
    return { protocol: 'vm-import', writeUrl: `${origin}${path}/insert/${tenant}/prometheus/api/v1/import`, queryBase: `${origin}${path}/select/${tenant}/prometheus`, tenant, cluster: true };
  }
  return { protocol: c.protocol, queryBase: `${origin}${path}`, cluster: false };
}

export class ImportTarget {
  private readonly client: HttpClient;
  private readonly queries: SourceHttp;
  private readonly timeoutMs: number;
  private readonly secrets: string[];
  private info_: TargetInfo | undefined;
  private writeUrl: URL | undefined;

  constructor(private readonly config: TargetConfig) {
    const problem = connectionProblem(config);
    if (problem !== undefined) throw new SourceError('auth', problem);
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.client = new HttpClient(clientSettings(config));
    this.queries = new SourceHttp(clientSettings(config), this.timeoutMs);
    this.secrets = secretsOf(config);
  }

  get info(): TargetInfo {
    if (this.info_ === undefined) throw new Error('ImportTarget: probe() first');
    return this.info_;
  }

  /** What the target is and what it keeps; throws SourceError when it cannot take an import at all. */
  async probe(): Promise<TargetInfo> {
    const r = resolveUrl(this.config);
    const notes: string[] = [];
    let protocol = r.protocol;
    let writeUrl = r.writeUrl;
    let queryBase = this.config.queryUrl?.replace(/\/+$/, '') ?? r.queryBase;
    // a URL naming its path (`/api/v1/import`, `/insert/<t>/`, a remote-write path) says what it is
    let flavour: TargetInfo['flavour'] = r.cluster ? 'victoriametrics-cluster' : r.protocol === 'vm-import' ? 'victoriametrics-single' : 'unknown';
    let version = 'unknown';
    if (writeUrl === undefined || protocol === undefined) {
      // a server's root: what it is decides how it is written to
      const v = await validateConnection({ ...this.config, url: r.queryBase ?? this.config.url, tenant: undefined });
      if (!v.ok || v.source === undefined) {
        const hint = targetHint(v.kind, v.error ?? '', this.config) ?? v.hint?.replace(/\bthe source\b/g, 'the target');
        throw new SourceError(v.kind ?? 'http', `${v.error ?? 'no answer'}${hint ? ` (${hint})` : ''}`);
      }
      flavour = v.source.flavour;
      version = v.source.version;
      const base = v.source.apiBase;
      queryBase = this.config.queryUrl?.replace(/\/+$/, '') ?? base;
      if (flavour === 'prometheus') {
        protocol ??= 'remote-write';
        writeUrl ??= protocol === 'remote-write' ? `${base}/api/v1/write` : `${base}/api/v1/import`;
      } else if (flavour === 'victoriametrics-cluster') {
        protocol ??= 'vm-import';
        const ins = base.replace(/\/select\/([^/]+)\/prometheus$/, '/insert/$1/prometheus');
        writeUrl ??= protocol === 'vm-import' ? `${ins}/api/v1/import` : `${ins}/api/v1/write`;
      } else {
        protocol ??= 'vm-import';
        writeUrl ??= protocol === 'vm-import' ? `${base}/api/v1/import` : `${base}/api/v1/write`;
      }
    }
    this.writeUrl = new URL(writeUrl);
    const limits = await this.limits(flavour, queryBase, notes);
    if (protocol === 'remote-write') await this.checkReceiver();
    this.info_ = { protocol, flavour, version, writeUrl, queryBase, tenant: r.tenant, notes, ...limits };
    return this.info_;
  }

  private async limits(flavour: TargetInfo['flavour'], queryBase: string | undefined, notes: string[]): Promise<Partial<TargetInfo>> {
    const given = { retentionMs: this.config.retentionMs, maxLabels: this.config.maxLabels };
    const out: { -readonly [K in keyof TargetInfo]?: TargetInfo[K] } = {};
    if (flavour === 'prometheus' && queryBase !== undefined) {
      const flags = await this.json(`${queryBase}/api/v1/status/flags`);
      const ret = typeof flags?.['storage.tsdb.retention.time'] === 'string' ? promDuration(flags['storage.tsdb.retention.time']) : undefined;
      if (flags === undefined) notes.push('retention: /api/v1/status/flags did not answer; assumed 15d');
      out.retentionMs = ret !== undefined && ret > 0 ? ret : PROMETHEUS_DEFAULT_RETENTION_MS;
      out.retentionFrom = ret !== undefined && ret > 0 ? `storage.tsdb.retention.time=${flags!['storage.tsdb.retention.time']}` : 'storage.tsdb.retention.time default, 15d';
      const cfg = await this.json(`${queryBase}/api/v1/status/config`);
      let ooo = 0;
      try {
        const doc = parseYaml(String(cfg?.yaml ?? '')) as { storage?: { tsdb?: { out_of_order_time_window?: string } } } | null;
        ooo = promDuration(doc?.storage?.tsdb?.out_of_order_time_window ?? '0s') ?? 0;
      } catch {
        notes.push('out_of_order_time_window: the configuration did not parse; assumed 0s');
      }
      out.oooWindowMs = ooo;
      out.toleranceMs = Math.max(PROMETHEUS_HEAD_TOLERANCE_MS, ooo);
      const tsdb = await this.json(`${queryBase}/api/v1/status/tsdb`);
      const head = tsdb?.headStats as { numSeries?: number; maxTime?: number } | undefined;
      if (head !== undefined && (head.numSeries ?? 0) > 0 && typeof head.maxTime === 'number' && head.maxTime > 0) out.headMaxMs = head.maxTime;
      if (tsdb === undefined) notes.push("the head's time range (/api/v1/status/tsdb) did not answer");
    } else if (flavour.startsWith('victoriametrics')) {
      out.futureMs = VM_FUTURE_MS;
      const origin = queryBase !== undefined ? new URL(queryBase).origin : undefined;
      // the flags of the server that answers: every flag with its value on its /metrics page
      // (`flag{name=…, value=…, is_set=…}`); a vmauth or proxy in front answers with its own,
      // which hold no retention — then it is unknown, not the default
      const root = flavour === 'victoriametrics-single' && queryBase !== undefined ? queryBase.replace(/\/prometheus$/, '') : origin;
      const page = root !== undefined ? await this.text(`${root}/metrics`) : undefined;
      const flag = (name: string): { value: string; set: boolean } | undefined => {
        const m = new RegExp(`^flag\\{name="${name.replace(/\./g, '\\.')}", value="([^"]*)", is_set="(true|false)"\\}`, 'm').exec(page ?? '');
        return m === null ? undefined : { value: m[1], set: m[2] === 'true' };
      };
      const ret = flag('retentionPeriod');
      if (ret !== undefined) {
        out.retentionMs = vmRetention(ret.value);
        out.retentionFrom = `-retentionPeriod=${ret.value}${ret.set ? '' : ' (not set: the default)'}`;
      } else if (given.retentionMs === undefined) {
        notes.push(
          flavour === 'victoriametrics-cluster'
            ? "retention: a cluster's vmstorage keeps it, out of reach through vminsert; give --retention to check against it"
            : `retention: not found on ${root ?? 'the server'}/metrics (not a VictoriaMetrics single node's own page: a vmauth or proxy in front, or a path before /api/v1/import); give --retention to check against it`,
        );
      }
      const labels = flag('maxLabelsPerTimeseries');
      if (labels !== undefined) out.maxLabels = Number(labels.value);
      const dedup = flag('dedup.minScrapeInterval');
      if (dedup !== undefined && !/^0s?$/.test(dedup.value)) notes.push(`-dedup.minScrapeInterval=${dedup.value}: the target keeps one sample per ${dedup.value} of a series, so verification may count fewer than were sent`);
    }
    if (given.retentionMs !== undefined) {
      out.retentionMs = given.retentionMs;
      out.retentionFrom = '--retention';
    }
    if (given.maxLabels !== undefined) out.maxLabels = given.maxLabels;
    return out;
  }

  /** Prometheus answers a remote write to a receiver that is off with 404: said before anything is read. */
  private async checkReceiver(): Promise<void> {
    // the POST has its own timeout: an aborted signal would read as a cancel
    const r = await this.post(EMPTY_WRITE_REQUEST, 'remote-write', new AbortController().signal);
    if (r.kind === 'refused' && r.status === 404) {
      throw new SourceError('not_found', `${this.shown()}: 404 ${r.message.trim()}${/enable-remote-write-receiver/.test(r.message) ? '' : ' (a Prometheus needs --web.enable-remote-write-receiver)'}`, 404);
    }
    if (r.kind === 'refused' && (r.status === 401 || r.status === 403)) throw new SourceError('auth', `${this.shown()}: ${r.status} ${r.message.trim()}`, r.status);
    if (r.kind === 'retry' && r.status === undefined) throw new SourceError(/timeout/.test(r.reason) ? 'timeout' : 'network', `${this.shown()}: ${r.reason} (an empty remote-write request, to see that the receiver is there)`);
  }

  /** One chunk; never throws. */
  send(body: Buffer, signal: AbortSignal): Promise<SendResult> {
    return this.post(body, this.info.protocol, signal);
  }

  private async post(body: Buffer, protocol: ImportProtocol, signal: AbortSignal): Promise<SendResult> {
    const url = this.writeUrl!;
    let headers: Record<string, string | string[]>;
    try {
      headers = {
        'user-agent': USER_AGENT,
        ...(protocol === 'vm-import' ? { 'content-type': 'application/jsonl' } : { 'content-type': MEDIA_REMOTE_WRITE, 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' }),
        ...this.tenantHeaders(),
        ...(await this.client.headers()),
      };
      Object.assign(headers, await this.client.requestHeaders('POST', url, headers, body));
    } catch (err) {
      return { kind: 'refused', status: 0, message: this.redact((err as Error).message) };
    }
    const a = await postBuffer(this.client, { url, headers, body, timeoutMs: this.timeoutMs, stop: signal, pick: ['retry-after'], excerptBytes: EXCERPT });
    if (a instanceof Error) return { kind: 'retry', reason: this.redact(a.message) };
    if (a.status >= 200 && a.status < 300) return { kind: 'ok' };
    const message = this.redact(a.text.trim());
    if (a.status >= 500 || a.status === 429) return { kind: 'retry', reason: `${a.status} ${message}`, retryAfterMs: retryAfterMs(a.headers['retry-after'], 300_000), status: a.status };
    return { kind: 'refused', status: a.status, message };
  }

  private tenantHeaders(): Record<string, string> {
    const t = this.info_?.tenant ?? resolveUrl(this.config).tenant;
    if (t === undefined) return {};
    const [account, project = '0'] = t.split(':');
    return { 'x-vm-tenantid': t, 'x-vm-accountid': account, 'x-vm-projectid': project };
  }

  /** GET of the query API (`/api/v1/query`, `/api/v1/export`, …) as text; throws SourceError on a failed answer. */
  async query(path: string, params: URLSearchParams, maxBytes = 512 << 20): Promise<string> {
    const base = this.info.queryBase;
    if (base === undefined) throw new SourceError('http', 'the target has no query API Tributary knows of: give --query-url (a Prometheus API root: http://vmselect:8481/select/0/prometheus, http://prometheus:9090)');
    const url = `${base}${path}`;
    const res = await this.queries.request(url, params, {});
    if (res.status < 200 || res.status > 299) throw await statusError(res, url);
    return readText(res.body, maxBytes, url);
  }

  /** Ask a VictoriaMetrics single node to make what it took searchable (a no-op elsewhere). */
  async flush(): Promise<void> {
    const base = this.info.queryBase;
    if (this.info.flavour !== 'victoriametrics-single' || base === undefined) return;
    await this.text(`${base.replace(/\/prometheus$/, '')}/internal/force_flush`);
  }

  shown(): string {
    return this.writeUrl?.toString() ?? this.config.url;
  }

  private redact(s: string): string {
    return redactSecrets(s, this.secrets);
  }

  private async text(url: string): Promise<string | undefined> {
    try {
      const res = await this.queries.request(url, undefined, { timeoutMs: Math.min(this.timeoutMs, 10_000) });
      if (res.status < 200 || res.status > 299) {
        for await (const _ of res.body) void _;
        return undefined;
      }
      return await readText(res.body, 4 << 20, url);
    } catch {
      return undefined;
    }
  }

  private async json(url: string): Promise<Record<string, unknown> | undefined> {
    const t = await this.text(url);
    if (t === undefined) return undefined;
    try {
      return (JSON.parse(t) as { data?: Record<string, unknown> }).data;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.client.close(), this.queries.close()]);
  }
}

/** What to change when a target's root did not answer as VictoriaMetrics or Prometheus (gather's hints speak of sources and vmselect). */
function targetHint(kind: string | undefined, message: string, c: TargetConfig): string | undefined {
  if (kind === 'auth') {
    return c.auth === undefined || c.auth.type === 'none'
      ? 'the target wants credentials: --basic-auth-user with --basic-auth-password-file, --bearer-token-file, or --header'
      : 'the credentials were refused: check the user and password, the token or the header';
  }
  if (/ECONNREFUSED/.test(message)) return 'nothing listens there: check the host and port (VictoriaMetrics 8428, vminsert 8480, vmauth 8427, Prometheus 9090)';
  if (kind === 'not_found' || /unsupported path|missing route/i.test(message)) {
    return 'no import API here: give a VictoriaMetrics single node\'s root, a vminsert\'s /insert/<tenant>/prometheus, or a remote-write URL (…/api/v1/write, …/api/v1/push)';
  }
  return undefined;
}

/** snappy of an empty WriteRequest: one literal of length 0. */
const EMPTY_WRITE_REQUEST = Buffer.from([0x00]);

/** VictoriaMetrics' -retentionPeriod: a number of months (31 days), or with h, d, w, y. */
export function vmRetention(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([hdwy]?)$/.exec(s.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = { '': MONTH_MS, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 }[m[2] as '' | 'h' | 'd' | 'w' | 'y'];
  return n * unit;
}

/** A Prometheus duration (`15d`, `1h30m`, `0s`) in ms. */
export function promDuration(s: string): number | undefined {
  const re = /(\d+)(ms|y|w|d|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (let m; (m = re.exec(s)) !== null; ) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 }[m[2] as 'ms']!;
    matched += m[0];
  }
  return matched === s.trim() && s.trim() !== '' ? total : undefined;
}

