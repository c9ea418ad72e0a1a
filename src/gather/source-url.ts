/**
 * Where a typed source URL points: the Prometheus-compatible API base gather sends every
 * request under, in the URL forms vmgather accepts — `/select/<tenant>/prometheus` (a
 * VictoriaMetrics cluster's vmselect), `/<digits>` (a tenant path of a vmauth or proxy:
 * `/<digits>/prometheus`), any path holding `/prometheus`, or a plain root or path prefix (a
 * single node, Prometheus, a reverse proxy under a prefix). A pasted API path
 * (`…/api/v1/query?…`) is cut back to its base. Bad input gets an error saying what is wrong.
 */

import { SourceError } from './types.js';

export interface SourceUrl {
  /** No trailing slash; credentials, query and fragment removed. */
  readonly apiBase: string;
  /** The URL names a tenant (`/select/<t>/prometheus` or `/<digits>`), or the config's tenant was applied. */
  readonly tenant: string | undefined;
  /** `/select/<tenant>/prometheus`: a vmselect (or something routing as one). */
  readonly clusterPath: boolean;
  /** Credentials typed into the URL (`http://user:pass@host`), taken out of it for the auth settings. */
  readonly userInfo?: { readonly username: string; readonly password: string };
}

/** `accountID[:projectID]`, or `multitenant` (a vmselect reading every tenant, VictoriaMetrics 1.104+). */
const TENANT = /^(\d+(:\d+)?|multitenant)$/;

/** Throws SourceError(kind `http`) with what is wrong with the URL or the tenant. */
export function normalizeSourceUrl(raw: string, tenant?: string): SourceUrl {
  const typed = raw.trim();
  if (typed === '') throw new SourceError('http', 'the source URL is empty: give e.g. http://victoriametrics:8428 or http://prometheus:9090');
  if (tenant !== undefined && tenant.trim() !== '' && !TENANT.test(tenant.trim())) {
    throw new SourceError('http', `tenant ${JSON.stringify(tenant)} is not a VictoriaMetrics tenant: want accountID or accountID:projectID (digits), e.g. 0 or 42:1, or multitenant`);
  }
  // a bare host:port is what people type most often
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(typed) ? typed : `http://${typed}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new SourceError('http', `${JSON.stringify(raw)} is not a URL: want http(s)://host:port[/path]`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new SourceError('http', `${JSON.stringify(raw)}: scheme ${u.protocol.slice(0, -1)} is not supported, want http or https`);
  }
  if (u.hostname === '') throw new SourceError('http', `${JSON.stringify(raw)} names no host`);
  const userInfo = u.username !== '' ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
  let path = u.pathname.replace(/\/{2,}/g, '/');
  // a pasted API URL: keep what stands before the API
  path = path.replace(/\/(api\/v1|federate|metrics)(\/.*)?$/, '');
  path = path.replace(/\/+$/, '');
  const origin = `${u.protocol}//${u.host}`;
  const configTenant = tenant?.trim() === '' ? undefined : tenant?.trim();

  const select = /^(.*?)\/select\/([^/]+)(?:\/prometheus)?(?:\/.*)?$/.exec(path);
  if (select !== null) {
    const t = select[2];
    if (!TENANT.test(t)) {
      throw new SourceError('http', `${JSON.stringify(raw)}: tenant ${JSON.stringify(t)} in /select/<tenant>/prometheus is not accountID or accountID:projectID (digits) or multitenant`);
    }
    return { apiBase: `${origin}${select[1]}/select/${t}/prometheus`, tenant: t, clusterPath: true, userInfo };
  }
  const digits = /^(.*?)\/(\d+(?::\d+)?)(?:\/prometheus)?$/.exec(path);
  if (digits !== null) return { apiBase: `${origin}${digits[1]}/${digits[2]}/prometheus`, tenant: digits[2], clusterPath: false, userInfo };
  if (/\/prometheus(\/|$)/.test(path)) {
    // everything up to and including /prometheus (the rest is an API path)
    const base = path.slice(0, path.indexOf('/prometheus') + '/prometheus'.length);
    return { apiBase: `${origin}${base}`, tenant: undefined, clusterPath: false, userInfo };
  }
  if (configTenant !== undefined) {
    return { apiBase: `${origin}${path}/select/${configTenant}/prometheus`, tenant: configTenant, clusterPath: true, userInfo };
  }
  return { apiBase: `${origin}${path}`, tenant: undefined, clusterPath: false, userInfo };
}
