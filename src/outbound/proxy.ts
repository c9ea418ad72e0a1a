/**
 * vmagent's proxy client keys (`proxy_authorization`, `proxy_basic_auth`, `proxy_bearer_token`,
 * `proxy_bearer_token_file`, `proxy_tls_config`, `proxy_headers`) and Prometheus'
 * `proxy_connect_header`: how Tributary talks to the proxy itself, as opposed to the target
 * behind it. Read when the job's proxy agent is built (a rotated token file is picked up on the
 * next reload).
 *
 * vmagent's keys reach the proxy on every request, tunnelled (CONNECT, https targets) or not
 * (absolute form, http targets). `proxy_connect_header` goes with CONNECT only, as in Go's
 * transport (Prometheus' ProxyConnectHeader): a plain-http target's request does not carry it.
 */

import type { Dispatcher } from 'undici';
import type { ProxyClientSettings } from './client-settings.js';
import { readSecret, tlsOptions } from './configured-client.js';

type ConnectHeaders = Record<string, string | string[]>;

/**
 * ProxyAgent's `token` (the Proxy-Authorization value), `headers` and `proxyTls`, and for
 * `proxy_connect_header` a `clientFactory` whose CONNECTs carry it (undici puts its `headers`
 * on both kinds of request, and has no option for CONNECT's alone).
 */
export async function proxyAgentOptions(c: ProxyClientSettings): Promise<ProxyOptions> {
  const out: ProxyOptions = {};
  if (c.proxy_basic_auth) {
    const b = c.proxy_basic_auth;
    const user = b.username_file ? await readSecret(b.username_file, 'proxy_basic_auth.username_file') : b.username ?? '';
    const pass = b.password_file ? await readSecret(b.password_file, 'proxy_basic_auth.password_file') : b.password ?? '';
    out.token = 'Basic ' + Buffer.from(`${user.trim()}:${pass.trim()}`).toString('base64');
  } else if (c.proxy_authorization) {
    const a = c.proxy_authorization;
    const cred = a.credentials_file ? await readSecret(a.credentials_file, 'proxy_authorization.credentials_file') : a.credentials ?? '';
    out.token = `${a.type?.trim() || 'Bearer'} ${cred.trim()}`;
  } else if (c.proxy_bearer_token) {
    out.token = `Bearer ${c.proxy_bearer_token.trim()}`;
  } else if (c.proxy_bearer_token_file) {
    out.token = `Bearer ${(await readSecret(c.proxy_bearer_token_file, 'proxy_bearer_token_file')).trim()}`;
  }
  if (c.proxy_headers && c.proxy_headers.length > 0) {
    out.headers = {};
    for (const line of c.proxy_headers) {
      const at = line.indexOf(':');
      if (at > 0) out.headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
    }
  }
  if (c.proxy_tls_config) out.proxyTls = (await tlsOptions(c.proxy_tls_config)) as Record<string, unknown>;
  const connectHeaders = Object.entries(c.proxy_connect_header ?? {}).filter(([, v]) => v.length > 0);
  if (connectHeaders.length > 0) {
    const extra: ConnectHeaders = Object.fromEntries(connectHeaders.map(([n, v]) => [n.toLowerCase(), [...v]]));
    const { Pool } = await import('undici');
    out.clientFactory = (origin, opts) => withConnectHeaders(new Pool(origin, opts), extra);
  }
  return out;
}

interface ProxyOptions {
  token?: string;
  headers?: Record<string, string>;
  proxyTls?: Record<string, unknown>;
  clientFactory?: (origin: URL, opts: object) => Dispatcher;
}

/** `pool`, its CONNECT requests (ProxyAgent's tunnels) carrying `extra` besides their own headers. */
function withConnectHeaders<D extends Dispatcher>(pool: D, extra: ConnectHeaders): D {
  const connect = pool.connect.bind(pool) as (opts: Dispatcher.ConnectOptions, ...rest: unknown[]) => unknown;
  (pool as { connect: unknown }).connect = (opts: Dispatcher.ConnectOptions, ...rest: unknown[]) =>
    connect({ ...opts, headers: { ...extra, ...(opts.headers as ConnectHeaders | undefined) } }, ...rest);
  return pool;
}
