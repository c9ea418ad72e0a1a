/**
 * What a typed connection reaches: VictoriaMetrics (single node or a cluster's vmselect path,
 * told apart by the path; it answers `/api/v1/export`) or Prometheus (no export API; its
 * `/api/v1/status/buildinfo` names the version). Every URL tried is recorded with its answer,
 * and a failure comes with the hint an operator needs — the cluster's `/select/<tenant>/prometheus`,
 * credentials, the CA, the host and port.
 */

import { SourceError, type ConnectionConfig, type SourceErrorKind, type SourceInfo, type ValidateAttempt, type ValidateResult } from './types.js';
import { normalizeSourceUrl, type SourceUrl } from './source-url.js';
import { connectionProblem, clientSettings, DEFAULT_TIMEOUT_MS, readText, SourceHttp, statusError } from './source-http.js';

/** A failed validation's kind, for openSource's SourceError. */
export interface Validated extends ValidateResult {
  readonly kind?: SourceErrorKind;
}

interface Probe {
  readonly ok: boolean;
  readonly status?: number;
  readonly text?: string;
  readonly error?: SourceError;
}

export async function validateConnection(c: ConnectionConfig): Promise<Validated> {
  let url: SourceUrl;
  try {
    url = normalizeSourceUrl(c.url, c.tenant);
  } catch (err) {
    const e = err as SourceError;
    return { ok: false, attempts: [], error: e.message, hint: 'check the URL: http(s)://host:port, with /select/<tenant>/prometheus for a vmselect', kind: 'http' };
  }
  const problem = connectionProblem(c);
  if (problem !== undefined) return { ok: false, attempts: [], error: problem, hint: problem.startsWith('TLS') ? 'give the CA certificate as PEM' : 'check the authentication settings', kind: problem.startsWith('TLS') ? 'http' : 'auth' };
  const timeoutMs = c.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) return { ok: false, attempts: [], error: `timeout ${timeoutMs} ms: want a positive number of milliseconds`, hint: 'check the timeout', kind: 'http' };
  const http = new SourceHttp(clientSettings(c, url.userInfo), timeoutMs);
  const attempts: ValidateAttempt[] = [];
  const probe = async (target: string, params?: URLSearchParams, record = true): Promise<Probe> => {
    let p: Probe;
    try {
      const res = await http.request(target, params);
      if (res.status >= 200 && res.status <= 299) p = { ok: true, status: res.status, text: await readText(res.body, 16 * 1024 * 1024, target) };
      else {
        const error = await statusError(res, target);
        p = { ok: false, status: res.status, error };
      }
    } catch (err) {
      p = { ok: false, error: err instanceof SourceError ? err : new SourceError('network', (err as Error).message) };
    }
    if (record) attempts.push({ url: target + (params ? `?${params}` : ''), ok: p.ok, status: p.status, error: p.error?.message });
    return p;
  };
  try {
    const base = url.apiBase;
    const query = await probe(`${base}/api/v1/query`, new URLSearchParams({ query: 'vm_app_version' }));
    if (!query.ok) {
      const e = query.error!;
      let hint = hintFor(e, c, url);
      // a vmselect (or a vmauth routing only tenant paths) answers at its root with "unsupported path"
      if (!url.clusterPath && url.tenant === undefined && (e.kind === 'http' || e.kind === 'not_found') && (e.status === 404 || /unsupported path|missing route/i.test(e.message))) {
        const tenant0 = `${base}/select/0/prometheus`;
        const retry = await probe(`${tenant0}/api/v1/query`, new URLSearchParams({ query: 'vm_app_version' }));
        hint = retry.ok
          ? `vmselect requires /select/<tenant>/prometheus: ${tenant0} answers (tenant 0) — use that URL or set the tenant`
          : 'vmselect requires /select/<tenant>/prometheus: add it to the URL (e.g. /select/0/prometheus) or set the tenant';
      }
      return { ok: false, attempts, error: e.message, hint, kind: e.kind };
    }
    let version = versionFromQuery(query.text ?? '');
    const now = Date.now();
    const exportProbe = await probe(
      `${base}/api/v1/export`,
      new URLSearchParams({ 'match[]': '{__name__="tributary_gather_probe"}', start: ((now - 60_000) / 1000).toFixed(3), end: (now / 1000).toFixed(3) }),
    );
    if (exportProbe.ok) {
      if (version === undefined) {
        // the server's own page: a single node serves it at its root, a vmselect at its origin
        const root = url.clusterPath ? new URL(base).origin : base.replace(/\/prometheus$/, '');
        const page = await probe(`${root}/metrics`);
        if (page.ok) version = versionFromMetricsPage(page.text ?? '');
      }
      const info: SourceInfo = { flavour: url.clusterPath ? 'victoriametrics-cluster' : 'victoriametrics-single', version: version ?? 'unknown', apiBase: base, exportApi: true };
      return { ok: true, source: info, attempts };
    }
    // no export API: Prometheus (its build info names a revision and Go version; VictoriaMetrics
    // answers {} or a made-up Prometheus version for Grafana), or VictoriaMetrics behind a
    // vmauth that routes the query API only — read then with range-vector queries too
    const build = await probe(`${base}/api/v1/status/buildinfo`);
    let data: { version?: unknown; revision?: unknown; goVersion?: unknown } = {};
    if (build.ok) {
      try {
        data = (JSON.parse(build.text ?? '') as { data?: typeof data }).data ?? {};
      } catch {
        // not Prometheus' answer
      }
    }
    const prometheus = typeof data.version === 'string' && data.version !== '' && (data.revision !== undefined || data.goVersion !== undefined);
    if (!prometheus && (version !== undefined || (build.ok && data.version === undefined))) {
      const flavour = url.clusterPath ? 'victoriametrics-cluster' : 'victoriametrics-single';
      return { ok: true, source: { flavour, version: version ?? 'unknown', apiBase: base, exportApi: false }, attempts };
    }
    const promVersion = typeof data.version === 'string' && data.version !== '' ? data.version : 'unknown';
    return { ok: true, source: { flavour: 'prometheus', version: promVersion, apiBase: base, exportApi: false }, attempts };
  } finally {
    await http.close();
  }
}

/** `v1.93.4` from the `vm_app_version` series of an instant query's answer (the source's own component first). */
function versionFromQuery(text: string): string | undefined {
  try {
    const r = (JSON.parse(text) as { data?: { result?: { metric?: Record<string, string> }[] } }).data?.result ?? [];
    const labels = r.map((s) => s.metric ?? {});
    const own = labels.find((m) => /^(victoria-metrics|vmselect)-/.test(m.version ?? '')) ?? labels[0];
    return own === undefined ? undefined : versionOf(own.short_version, own.version);
  } catch {
    return undefined;
  }
}

function versionFromMetricsPage(text: string): string | undefined {
  const line = /^vm_app_version\{([^}]*)\}/m.exec(text);
  if (line === null) return undefined;
  const short = /short_version="([^"]*)"/.exec(line[1])?.[1];
  const full = /(?:^|,\s*)version="([^"]*)"/.exec(line[1])?.[1];
  // only the storage's own page: a vmauth or proxy in front answers /metrics with its own version
  return /^(victoria-metrics|vmselect)-/.test(full ?? '') ? versionOf(short, full) : undefined;
}

function versionOf(short: string | undefined, full: string | undefined): string | undefined {
  if (short !== undefined && short !== '') return short;
  const m = /-(v\d+\.\d+\.\d+)/.exec(full ?? '');
  return m?.[1];
}

const TLS_TROUBLE = /certificate|self[- ]signed|unable to verify|CERT_|DEPTH_ZERO|UNABLE_TO_GET_ISSUER|altname/i;

/** What the user most likely has to change after `e`. */
export function hintFor(e: SourceError, c: ConnectionConfig, url: SourceUrl): string {
  const m = e.message;
  if (e.kind === 'auth') {
    return (c.auth === undefined || c.auth.type === 'none') && url.userInfo === undefined
      ? 'the source wants credentials: choose basic auth, a bearer token or a header'
      : 'the credentials were refused: check the username and password, the token or the header';
  }
  if (TLS_TROUBLE.test(m)) return "the server's certificate is not trusted: give the CA certificate (PEM) that signed it, or skip TLS verification";
  if (/wrong version number|EPROTO|packet length too long/i.test(m)) return 'the server does not speak TLS on this port: use http://';
  if (/HTTP request to an HTTPS server/i.test(m)) return 'the server speaks TLS on this port: use https://';
  const moved = /\(redirected to ([^)\s]+)\)/.exec(m);
  // the redirect of an API request: the base is what to type
  if (moved !== null) return `the server redirects to ${moved[1].replace(/\/api\/v1\/.*$/, '')}: use that URL`;
  if (e.kind === 'network') {
    if (/ECONNREFUSED/.test(m)) return 'nothing listens there: check the host and port (VictoriaMetrics 8428, vmselect 8481, vmauth 8427, Prometheus 9090)';
    if (/ENOTFOUND|EAI_AGAIN/.test(m)) return 'the host name does not resolve: check the host';
    return 'the server cannot be reached: check the host, port and any firewall or proxy on the way';
  }
  if (e.kind === 'timeout') return 'no answer in time: check the host and port and any firewall, or raise the timeout';
  if (e.kind === 'not_found') {
    return url.clusterPath
      ? 'no Prometheus API under this path: a vmselect answers under /select/<tenant>/prometheus'
      : 'no Prometheus API under this path: give the server root (VictoriaMetrics, Prometheus) or /select/<tenant>/prometheus (vmselect)';
  }
  return 'the source answered with an error: check the URL and that it is VictoriaMetrics or Prometheus';
}
