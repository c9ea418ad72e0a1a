/**
 * The connection side of outbound HTTP, one client per gateway source, scrape job or
 * remote-write URL (so keep-alive connections serve only its targets, and two configurations
 * never share state): plain `http://` without a proxy over http1.ts pools, one per origin;
 * everything else over an undici Agent built from the Prometheus-style `tls_config` and
 * `proxy_url` — loaded only then, as most agents never need it. Plus the request headers its
 * authentication, `http_headers` and vmagent `headers` settings call for: these replace the
 * caller's own value of a header (User-Agent, Accept-Encoding, Host...), and the authentication
 * keys replace a configured Authorization (vmagent 1.79 sends basic_auth's over its `headers`).
 *
 * Credential files are read on every request, as Prometheus does, so rotated tokens are picked
 * up without a reload; TLS files are read once, when the agent is first needed. An `oauth2`
 * block gets one token source per client (oauth2.ts), so every target of a job shares a token;
 * remote write's `sigv4` signs each request (sigv4.ts) in `requestHeaders`, and the cloud
 * kinds Tributary cannot do (`azuread`, `google_iam`) refuse there, so that a URL that wants
 * them is never sent data without.
 */

import { readFile } from 'node:fs/promises';
import type { Agent, Dispatcher } from 'undici';
import { UNSUPPORTED_REMOTE_WRITE_AUTH, type HttpClientSettings, type TlsSettings, type TlsVersion } from './client-settings.js';
import { Http1Pool } from './http1.js';
import { KEEP_ALIVE_MS, MAX_REDIRECTS } from './policy.js';
import { OAuth2TokenSource } from './oauth2.js';
import { SigV4Signer } from './sigv4.js';
import { proxyAgentOptions } from './proxy.js';

const TLS_VERSION: Record<TlsVersion, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};

export class HttpClient {
  private dispatcher: Promise<Dispatcher> | undefined;
  private agent: Dispatcher | undefined;
  private readonly pools = new Map<string, Http1Pool>();
  private readonly oauth2: OAuth2TokenSource | undefined;
  private readonly signer: SigV4Signer | undefined;

  constructor(private readonly config: HttpClientSettings) {
    this.oauth2 = config.oauth2 ? new OAuth2TokenSource(config.oauth2) : undefined;
    this.signer = config.sigv4 ? new SigV4Signer(config.sigv4) : undefined;
  }

  get followRedirects(): boolean {
    return this.config.follow_redirects;
  }

  /** The plain-HTTP pool for `url`, or undefined when it needs undici (TLS, a proxy). */
  pool(url: URL): Http1Pool | undefined {
    if (url.protocol !== 'http:' || this.config.proxy_url) return undefined;
    const key = url.host;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = Http1Pool.forUrl(url);
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Closes the pool of an origin no longer used (a target that went away). */
  forget(url: URL): void {
    this.pools.get(url.host)?.close();
    this.pools.delete(url.host);
  }

  /** The undici dispatcher; rejects (with the file named) when a TLS file cannot be read. */
  get(): Promise<Dispatcher> {
    // one agent even when several requests ask at once; a failure is retried on the next ask
    this.dispatcher ??= this.build().catch((err: Error) => {
      this.dispatcher = undefined;
      throw err;
    });
    return this.dispatcher;
  }

  private async build(): Promise<Dispatcher> {
    const connect = await tlsOptions(this.config.tls_config);
    const { Agent, ProxyAgent, interceptors } = await import('undici');
    const options = {
      connect,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      // undici closes an idle connection this long before the server's announced keep-alive
      // timeout (2s by default). Scrape intervals often equal that timeout (5s in Node's
      // server), so the default closed every connection just before the next scrape and each
      // scrape paid a new TCP handshake. Keeping it to the end is safe: a request that meets
      // the server's close is retried once on a new connection (fetch.ts).
      keepAliveTimeoutThreshold: 0,
      allowH2: this.config.enable_http2,
    };
    const agent = this.config.proxy_url
      ? new ProxyAgent({
          ...options,
          uri: this.config.proxy_url,
          // Prometheus and vmagent send a plain-http target's request to the proxy in absolute
          // form (`GET http://host:port/metrics`) and tunnel only https; undici 7 tunnels
          // everything by default, which a proxy limiting CONNECT to port 443 (Squid's
          // default) refuses. An https proxy_url still tunnels: undici forwards in absolute
          // form only over a plain-http proxy connection.
          proxyTunnel: false,
          requestTls: connect as Record<string, unknown>,
          ...(await proxyAgentOptions(this.config)),
        })
      : new Agent(options);
    this.agent = agent;
    return this.config.follow_redirects ? agent.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS })) : agent;
  }

  /** Authentication and configured headers; throws when a credentials file cannot be read. */
  async headers(): Promise<Record<string, string | string[]>> {
    const c = this.config;
    const out: Record<string, string | string[]> = {};
    // vmagent's disable_keepalive: the server closes the connection after the answer
    if (c.disable_keepalive) out['connection'] = 'close';
    for (const [name, h] of Object.entries(c.http_headers ?? {})) {
      const values = [...(h.values ?? []), ...(h.secrets ?? [])];
      for (const f of h.files ?? []) values.push((await readSecret(f, `http_headers.${name}`)).trim());
      if (values.length > 0) out[name] = values;
    }
    Object.assign(out, c.override_headers);
    if (c.basic_auth) {
      const b = c.basic_auth;
      const user = b.username_file ? await readSecret(b.username_file, 'basic_auth.username_file') : b.username ?? '';
      const pass = b.password_file ? await readSecret(b.password_file, 'basic_auth.password_file') : b.password ?? '';
      out['authorization'] = 'Basic ' + Buffer.from(`${user.trim()}:${pass.trim()}`).toString('base64');
    } else if (c.authorization) {
      const a = c.authorization;
      const cred = a.credentials_file
        ? await readSecret(a.credentials_file, 'authorization.credentials_file')
        : a.credentials ?? '';
      out['authorization'] = `${a.type} ${cred.trim()}`;
    } else if (this.oauth2) {
      out['authorization'] = await this.oauth2.authorization();
    }
    return out;
  }

  /**
   * Headers that depend on the whole request (sigv4 signs method, URL, headers and body): to
   * be added last. Throws when the request must not go out (no credentials, or a kind of
   * authentication Tributary does not implement).
   */
  async requestHeaders(method: string, url: URL, headers: Readonly<Record<string, string | readonly string[]>>, body: Buffer): Promise<Record<string, string>> {
    for (const kind of UNSUPPORTED_REMOTE_WRITE_AUTH) {
      if (this.config[kind] !== undefined) {
        throw new Error(`${kind} authentication is not supported by Tributary: nothing is sent to ${url.origin}${url.pathname}; the data stays queued`);
      }
    }
    return this.signer ? this.signer.sign(method, url, headers, body) : {};
  }

  async close(): Promise<void> {
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
    const agent = this.agent;
    this.agent = this.dispatcher = undefined;
    await Promise.all([agent?.close(), this.oauth2?.close()]);
  }
}

export async function readSecret(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

async function readTlsFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new Error(`cannot read tls_config.${what} ${path}: ${(err as Error).message}`);
  }
}

type ConnectOptions = Agent.Options['connect'] & object;

export async function tlsOptions(t: TlsSettings | undefined): Promise<ConnectOptions> {
  if (!t) return {};
  const opts: Record<string, unknown> = {};
  if (t.ca) opts.ca = t.ca;
  else if (t.ca_file) opts.ca = await readTlsFile(t.ca_file, 'ca_file');
  if (t.cert) opts.cert = t.cert;
  else if (t.cert_file) opts.cert = await readTlsFile(t.cert_file, 'cert_file');
  if (t.key) opts.key = t.key;
  else if (t.key_file) opts.key = await readTlsFile(t.key_file, 'key_file');
  if (t.server_name) opts.servername = t.server_name;
  if (t.insecure_skip_verify) opts.rejectUnauthorized = false;
  if (t.min_version) opts.minVersion = TLS_VERSION[t.min_version];
  if (t.max_version) opts.maxVersion = TLS_VERSION[t.max_version];
  if (t.next_protos) opts.ALPNProtocols = t.next_protos;
  return opts as ConnectOptions;
}
