/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) for a job's or URL's requests, the way
 * prometheus/common's oauth2RoundTripper does it on top of golang.org/x/oauth2's
 * clientcredentials: one token source per configuration, shared by every request of it; the
 * token cached until 10 s before its `expires_in`; a new token once `client_secret_file`
 * changes; client id and secret as HTTP Basic auth first, then (when the server refuses that)
 * as form fields, the style that worked remembered; `scopes` space-joined into `scope`;
 * `endpoint_params` added to the form. A token is not dropped on a 401 from the target, as in
 * Prometheus: only expiry or a changed secret fetch a new one.
 *
 * With `grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1, newer
 * prometheus/common), the request carries instead a JWT `assertion` signed with
 * `client_certificate_key` (RS256, RS384 or RS512): iss `iss` or the client id, sub the client
 * id, aud `audience` or the token URL, 10 minutes' validity, `scope` and `claims` added.
 *
 * The token request goes out over a client of its own, built from the oauth2 block's
 * `tls_config`, `proxy_url` and `http_headers` (not the job's). Errors name the token URL and
 * the server's answer, never the secret.
 */

import { createSign, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { JWT_BEARER_GRANT, type OAuth2Settings } from './client-settings.js';
import { USER_AGENT } from '../common/version.js';
import { MEDIA_FORM, MEDIA_TEXT, mediaTypeOf } from '../formats/media-types.js';
import { HttpClient } from './configured-client.js';
import { shownUrl } from './shown-url.js';

/** golang.org/x/oauth2's expiryDelta: a token this close to its expiry is replaced. */
export const EXPIRY_MARGIN_MS = 10_000;
/** The token request's own bound; the requests waiting for it have theirs. */
const TOKEN_TIMEOUT_MS = 10_000;
const ERROR_EXCERPT_CHARS = 200;
const CLIENT_CREDENTIALS = 'client_credentials';
/** prometheus/common's lifetime of a JWT assertion. */
const ASSERTION_LIFETIME_S = 600;

interface Token {
  /** The Authorization header value: type and token. */
  readonly header: string;
  /** Epoch ms after which it is no longer used; Infinity when the server gave no expires_in. */
  readonly expiresAt: number;
}

/** Where the client id and secret go; `none` for the JWT grant, whose assertion is the credential. */
type AuthStyle = 'header' | 'params' | 'none';

export class OAuth2TokenSource {
  private token: Token | undefined;
  private pending: Promise<Token> | undefined;
  private lastSecret: string | undefined;
  /** Found by the first successful request, as x/oauth2's auto-detection does. */
  private style: AuthStyle | undefined;
  private readonly http: HttpClient;
  /** Token requests sent, for tests and the curious. */
  requests = 0;

  constructor(private readonly config: OAuth2Settings) {
    this.http = new HttpClient({
      tls_config: config.tls_config,
      proxy_url: config.proxy_url,
      proxy_connect_header: config.proxy_connect_header,
      http_headers: config.http_headers,
      follow_redirects: true,
      enable_http2: false,
    });
  }

  /** The Authorization header value; rejects with a message naming the token URL on failure. */
  async authorization(): Promise<string> {
    const secret = await this.secret();
    if (secret !== this.lastSecret) {
      // a rotated secret: the token (and a fetch under way) belong to the old one
      this.lastSecret = secret;
      this.token = undefined;
      this.pending = undefined;
    }
    const t = this.token;
    if (t !== undefined && Date.now() < t.expiresAt - EXPIRY_MARGIN_MS) return t.header;
    // every request waiting now shares one token request
    if (this.pending === undefined) {
      const p = this.fetch(secret).finally(() => {
        if (this.pending === p) this.pending = undefined;
      });
      this.pending = p;
    }
    const token = await this.pending;
    if (this.lastSecret === secret) this.token = token;
    return token.header;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** The client secret, or the JWT grant's private key: a file is read on every request. */
  private async secret(): Promise<string> {
    const c = this.config;
    const jwt = c.grant_type === JWT_BEARER_GRANT;
    const file = jwt ? c.client_certificate_key_file : c.client_secret_file;
    if (!file) return (jwt ? c.client_certificate_key : c.client_secret) ?? '';
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new Error(`unable to read oauth2 ${jwt ? 'client certificate key' : 'client secret'} ${file}: ${(err as Error).message}`);
    }
  }

  private async fetch(secret: string): Promise<Token> {
    const c = this.config;
    const grant = c.grant_type || CLIENT_CREDENTIALS;
    if (grant !== CLIENT_CREDENTIALS && grant !== JWT_BEARER_GRANT) {
      throw new Error(`oauth2 grant_type ${JSON.stringify(grant)} is not supported; no token for ${shownUrl(c.token_url)}`);
    }
    const scope = c.scopes && c.scopes.length > 0 ? c.scopes.join(' ') : undefined;
    const form: [string, string][] = [['grant_type', grant]];
    if (grant === JWT_BEARER_GRANT) form.push(['assertion', this.assertion(secret, scope)]);
    if (scope !== undefined) form.push(['scope', scope]);
    for (const [k, v] of Object.entries(c.endpoint_params ?? {})) {
      // x/oauth2 lets endpoint_params override grant_type only
      if (k === 'grant_type') form[0] = [k, v];
      else if (form.some(([name]) => name === k)) throw new Error(`oauth2: cannot overwrite parameter ${JSON.stringify(k)}`);
      else form.push([k, v]);
    }
    if (grant === JWT_BEARER_GRANT) return this.request(form, secret, 'none');
    if (this.style !== undefined) return this.request(form, secret, this.style);
    try {
      const token = await this.request(form, secret, 'header');
      this.style = 'header';
      return token;
    } catch (first) {
      // the server may want the credentials in the form instead (RFC 6749 allows both)
      try {
        const token = await this.request(form, secret, 'params');
        this.style = 'params';
        return token;
      } catch {
        throw first;
      }
    }
  }

  private async request(form: readonly [string, string][], secret: string, style: AuthStyle): Promise<Token> {
    const c = this.config;
    const url = new URL(c.token_url);
    const fields = [...form];
    const headers: Record<string, string | string[]> = {
      ...(await this.http.headers()),
      'content-type': MEDIA_FORM,
      'user-agent': USER_AGENT,
    };
    if (style === 'header') {
      headers['authorization'] = 'Basic ' + Buffer.from(`${formEscape(c.client_id)}:${formEscape(secret)}`).toString('base64');
    } else if (style === 'params') {
      fields.push(['client_id', c.client_id]);
      if (secret !== '') fields.push(['client_secret', secret]);
    }
    this.requests++;
    let status: number;
    let contentType: string;
    let text: string;
    try {
      const dispatcher = await this.http.get();
      const res = await dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'POST',
        headers,
        body: encodeForm(fields),
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
      status = res.statusCode;
      const h = res.headers['content-type'];
      contentType = (Array.isArray(h) ? h[0] : h) ?? '';
      text = await res.body.text();
    } catch (err) {
      const e = err as Error & { cause?: Error };
      throw new Error(`oauth2: cannot fetch token from ${shownUrl(c.token_url)}: ${e.message}${e.cause ? `: ${e.cause.message}` : ''}`);
    }
    if (status < 200 || status > 299) {
      const excerpt = text.slice(0, ERROR_EXCERPT_CHARS).replace(/\s+/g, ' ').trim();
      throw new Error(`oauth2: cannot fetch token from ${shownUrl(c.token_url)}: HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`);
    }
    return parseTokenResponse(text, contentType, shownUrl(c.token_url));
  }

  /** RFC 7523's signed JWT, as prometheus/common builds it. */
  private assertion(privateKey: string, scope: string | undefined): string {
    const c = this.config;
    const alg = c.signature_algorithm || 'RS256';
    const now = Math.floor(Date.now() / 1000);
    const header: Record<string, string> = { alg, typ: 'JWT' };
    if (c.client_certificate_key_id) header.kid = c.client_certificate_key_id;
    const claims: Record<string, unknown> = {
      iss: c.iss || c.client_id,
      sub: c.client_id,
      jti: randomUUID(),
      aud: c.audience || c.token_url,
      iat: now,
      exp: now + ASSERTION_LIFETIME_S,
      ...(scope !== undefined ? { scope } : {}),
      ...c.claims,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    let signature: string;
    try {
      signature = createSign(`RSA-SHA${alg.slice(2)}`).update(signingInput).sign(privateKey, 'base64url');
    } catch (err) {
      throw new Error(`oauth2: cannot sign the JWT assertion with client_certificate_key: ${(err as Error).message}`);
    }
    return `${signingInput}.${signature}`;
  }
}

function base64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

/** A token endpoint's answer: JSON, or a form for the servers (GitHub's once) that send one. */
export function parseTokenResponse(text: string, contentType: string, where: string): Token {
  const media = mediaTypeOf(contentType);
  let accessToken: string;
  let type: string;
  let expiresIn: number;
  if (media === MEDIA_FORM || media === MEDIA_TEXT) {
    const vals = new URLSearchParams(text);
    accessToken = vals.get('access_token') ?? '';
    type = vals.get('token_type') ?? '';
    expiresIn = Number.parseInt(vals.get('expires_in') ?? '', 10);
  } else {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`oauth2: cannot parse the token response from ${where}: ${(err as Error).message}`);
    }
    accessToken = typeof json.access_token === 'string' ? json.access_token : '';
    type = typeof json.token_type === 'string' ? json.token_type : '';
    expiresIn = Number(json.expires_in);
  }
  if (accessToken === '') throw new Error(`oauth2: the token response from ${where} has no access_token`);
  return {
    header: `${tokenType(type)} ${accessToken}`,
    expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? Date.now() + expiresIn * 1000 : Infinity,
  };
}

/** x/oauth2's Token.Type(): the usual types capitalized as RFC 6750 spells them, Bearer by default. */
function tokenType(t: string): string {
  switch (t.toLowerCase()) {
    case '':
    case 'bearer':
      return 'Bearer';
    case 'mac':
      return 'MAC';
    case 'basic':
      return 'Basic';
    default:
      return t;
  }
}

/** Go's url.QueryEscape: what x/oauth2 applies to the id and secret before Basic auth, and to form values. */
export function formEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}

/** Go's url.Values.Encode: keys sorted. */
function encodeForm(fields: readonly [string, string][]): string {
  return [...fields]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${formEscape(k)}=${formEscape(v)}`)
    .join('&');
}
