/**
 * vmagent's proxy client keys (`proxy_authorization`, `proxy_basic_auth`, `proxy_bearer_token`,
 * `proxy_bearer_token_file`, `proxy_tls_config`, `proxy_headers`): how Tributary talks to the
 * proxy itself, as opposed to the target behind it. Read when the job's proxy agent is built
 * (a rotated token file is picked up on the next reload).
 */

import type { AuthorizationConfig, BasicAuthConfig, TlsConfig } from '../config/http-client.js';
import { readSecret, tlsOptions } from './http-client.js';

export interface ProxyClientSettings {
  readonly proxy_authorization?: Omit<AuthorizationConfig, 'type'> & { type?: string | undefined };
  readonly proxy_basic_auth?: BasicAuthConfig;
  readonly proxy_bearer_token?: string;
  readonly proxy_bearer_token_file?: string;
  readonly proxy_tls_config?: TlsConfig;
  readonly proxy_headers?: readonly string[];
}

/** ProxyAgent's `token` (the Proxy-Authorization value), `headers` and `proxyTls`. */
export async function proxyAgentOptions(c: ProxyClientSettings): Promise<{
  token?: string;
  headers?: Record<string, string>;
  proxyTls?: Record<string, unknown>;
}> {
  const out: { token?: string; headers?: Record<string, string>; proxyTls?: Record<string, unknown> } = {};
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
  return out;
}
