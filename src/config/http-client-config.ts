/**
 * The HTTP client settings Prometheus inlines into scrape configs, remote write, HTTP service
 * discovery and more (prometheus/common's HTTPClientConfig): authentication, TLS, proxies and
 * extra headers. Besides the keys, this module enforces the same exclusions Prometheus does
 * (one authentication method, a file or an inline secret but not both, ...) and folds the
 * deprecated `bearer_token*` keys into `authorization`, so consumers read one form.
 */

import * as z from 'zod';
import { JWT_BEARER_GRANT, TLS_VERSIONS } from '../outbound/client-settings.js';
import { AT_KEY, bool, nonEmptyText, text, textList, textMap, urlProblem } from './fields.js';


export const tlsConfigSchema = z
  .strictObject({
    ca: text.optional(),
    ca_file: text.optional(),
    ca_ref: text.optional(),
    cert: text.optional(),
    cert_file: text.optional(),
    cert_ref: text.optional(),
    key: text.optional(),
    key_file: text.optional(),
    key_ref: text.optional(),
    server_name: text.optional(),
    insecure_skip_verify: bool.optional(),
    min_version: z.enum(TLS_VERSIONS).optional(),
    max_version: z.enum(TLS_VERSIONS).optional(),
    next_protos: textList.optional(),
  })
  .superRefine((t, ctx) => {
    atMostOne(ctx, t, ['ca', 'ca_file', 'ca_ref']);
    atMostOne(ctx, t, ['cert', 'cert_file', 'cert_ref']);
    atMostOne(ctx, t, ['key', 'key_file', 'key_ref']);
    const hasCert = !!(t.cert || t.cert_file || t.cert_ref);
    const hasKey = !!(t.key || t.key_file || t.key_ref);
    if (hasCert && !hasKey)
      ctx.addIssue({ code: 'custom', message: 'a client certificate needs a key (key or key_file)' });
    if (hasKey && !hasCert)
      ctx.addIssue({ code: 'custom', message: 'a client key needs a certificate (cert or cert_file)' });
    if (
      t.min_version &&
      t.max_version &&
      TLS_VERSIONS.indexOf(t.max_version) < TLS_VERSIONS.indexOf(t.min_version)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['max_version'],
        message: 'max_version must not be lower than min_version',
      });
    }
  });

export const basicAuthSchema = z
  .strictObject({
    username: text.optional(),
    username_file: text.optional(),
    username_ref: text.optional(),
    password: text.optional(),
    password_file: text.optional(),
    password_ref: text.optional(),
  })
  .superRefine((b, ctx) => {
    atMostOne(ctx, b, ['username', 'username_file', 'username_ref']);
    atMostOne(ctx, b, ['password', 'password_file', 'password_ref']);
  });

export const authorizationSchema = z
  .strictObject({
    type: text.optional(),
    credentials: text.optional(),
    credentials_file: text.optional(),
    credentials_ref: text.optional(),
  })
  .superRefine((a, ctx) => {
    atMostOne(ctx, a, ['credentials', 'credentials_file', 'credentials_ref']);
    if (a.type?.trim().toLowerCase() === 'basic') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: 'authorization type cannot be "basic"; use basic_auth instead',
      });
    }
  });

const PROXY_SCHEMES = ['http:', 'https:', 'socks5:'];

const proxyShape = {
  proxy_url: z
    .string()
    .superRefine((s, ctx) => {
      const problem = urlProblem(s, PROXY_SCHEMES);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  no_proxy: text.optional(),
  proxy_from_environment: bool.optional(),
  proxy_connect_header: z.record(z.string(), textList).optional(),
};

/** Request headers Prometheus sets itself, which configs may not override. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'host',
  'content-encoding',
  'content-length',
  'content-type',
  'user-agent',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'www-authenticate',
  'accept-encoding',
  'x-prometheus-remote-write-version',
  'x-prometheus-remote-read-version',
  'x-prometheus-scrape-timeout-seconds',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
]);

export function isReservedHeader(name: string): boolean {
  return RESERVED_HEADERS.has(name.toLowerCase());
}

const httpHeadersSchema = z
  .record(
    z.string(),
    z.strictObject({
      values: textList.optional(),
      secrets: textList.optional(),
      files: textList.optional(),
    }),
  )
  .superRefine((headers, ctx) => {
    for (const name of Object.keys(headers)) {
      if (isReservedHeader(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `header ${JSON.stringify(name)} is set by Tributary and cannot be configured`,
          params: AT_KEY,
        });
      }
    }
  });

const oauth2Schema = z
  .strictObject({
    client_id: nonEmptyText,
    client_secret: text.optional(),
    client_secret_file: text.optional(),
    client_secret_ref: text.optional(),
    scopes: textList.optional(),
    token_url: nonEmptyText,
    endpoint_params: textMap.optional(),
    tls_config: tlsConfigSchema.optional(),
    // JWT bearer grant (newer prometheus/common).
    grant_type: text.optional(),
    audience: text.optional(),
    iss: text.optional(),
    claims: z.record(z.string(), z.unknown()).optional(),
    signature_algorithm: text.optional(),
    client_certificate_key_id: text.optional(),
    client_certificate_key: text.optional(),
    client_certificate_key_file: text.optional(),
    client_certificate_key_ref: text.optional(),
    ...proxyShape,
    http_headers: httpHeadersSchema.optional(),
  })
  .superRefine((o, ctx) => {
    atMostOne(ctx, o, ['client_secret', 'client_secret_file', 'client_secret_ref']);
    atMostOne(ctx, o, ['client_certificate_key', 'client_certificate_key_file', 'client_certificate_key_ref']);
    if (o.grant_type && o.grant_type !== 'client_credentials' && o.grant_type !== JWT_BEARER_GRANT) {
      ctx.addIssue({
        code: 'custom',
        path: ['grant_type'],
        message: `grant_type must be client_credentials or ${JWT_BEARER_GRANT}`,
        params: AT_KEY,
      });
    }
    if (o.signature_algorithm && !['RS256', 'RS384', 'RS512'].includes(o.signature_algorithm)) {
      ctx.addIssue({
        code: 'custom',
        path: ['signature_algorithm'],
        message: 'valid signature algorithms are RS256, RS384 and RS512',
        params: AT_KEY,
      });
    }
    checkProxy(o, ctx);
  });

/** Keys only the JWT-bearer grant reads. */
const JWT_GRANT_KEYS = ['audience', 'iss', 'claims', 'signature_algorithm', 'client_certificate_key_id', 'client_certificate_key', 'client_certificate_key_file'] as const;

/** What an `oauth2` block at `at` loads with but Tributary does not act on. */
export function oauth2Warnings(o: OAuth2Config, at: readonly (string | number)[]): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const key of ['client_secret_ref', 'client_certificate_key_ref'] as const) {
    if (o[key] !== undefined) out.push({ path: [...at, key], message: 'secret references need a secret manager, which Tributary does not have; ignored' });
  }
  if (o.grant_type !== JWT_BEARER_GRANT) {
    for (const key of JWT_GRANT_KEYS) {
      if (o[key] !== undefined) out.push({ path: [...at, key], message: `only used with grant_type ${JWT_BEARER_GRANT}; ignored` });
    }
  }
  return out;
}

/**
 * The inline HTTP client keys. `enable_http2` defaults differ by use (true for scraping, false
 * for remote write), hence the parameter.
 */
export function httpClientShape(defaults: { enable_http2: boolean }) {
  return {
    basic_auth: basicAuthSchema.optional(),
    authorization: authorizationSchema.optional(),
    oauth2: oauth2Schema.optional(),
    /** Deprecated in Prometheus; folded into `authorization` by `normalizeHttpClient`. */
    bearer_token: text.optional(),
    bearer_token_file: text.optional(),
    tls_config: tlsConfigSchema.optional(),
    follow_redirects: bool.default(true),
    enable_http2: bool.default(defaults.enable_http2),
    ...proxyShape,
    http_headers: httpHeadersSchema.optional(),
  };
}

const httpClientSchema = z.strictObject(httpClientShape({ enable_http2: true }));
type RawHttpClient = z.output<typeof httpClientSchema>;

export type TlsConfig = z.output<typeof tlsConfigSchema>;
export type BasicAuthConfig = z.output<typeof basicAuthSchema>;
export type OAuth2Config = z.output<typeof oauth2Schema>;
export type AuthorizationConfig = Omit<z.output<typeof authorizationSchema>, 'type'> & { type: string };
/** HTTP client settings after `normalizeHttpClient`: no `bearer_token*`, `authorization.type` set. */
export type HttpClientConfig = Omit<RawHttpClient, 'bearer_token' | 'bearer_token_file' | 'authorization'> & {
  authorization?: AuthorizationConfig;
};

/** Prometheus' cross-key rules for the inline HTTP client keys of `c`; issues land on `c`'s keys. */
export function checkHttpClient(c: RawHttpClient, ctx: z.RefinementCtx): void {
  if (c.bearer_token && c.bearer_token_file) {
    ctx.addIssue({
      code: 'custom',
      path: ['bearer_token_file'],
      message: 'at most one of bearer_token and bearer_token_file may be set',
      params: AT_KEY,
    });
  }
  const bearer = c.bearer_token ? 'bearer_token' : c.bearer_token_file ? 'bearer_token_file' : undefined;
  if (bearer && (c.basic_auth || c.oauth2)) {
    ctx.addIssue({
      code: 'custom',
      path: [bearer],
      message: `${bearer} cannot be combined with ${c.basic_auth ? 'basic_auth' : 'oauth2'}`,
      params: AT_KEY,
    });
  }
  if (c.authorization) {
    if (bearer) {
      ctx.addIssue({
        code: 'custom',
        path: [bearer],
        message: `${bearer} cannot be combined with authorization`,
        params: AT_KEY,
      });
    }
    if (c.basic_auth || c.oauth2) {
      ctx.addIssue({
        code: 'custom',
        path: ['authorization'],
        message: `authorization cannot be combined with ${c.basic_auth ? 'basic_auth' : 'oauth2'}`,
        params: AT_KEY,
      });
    }
  }
  if (c.oauth2 && c.basic_auth) {
    ctx.addIssue({
      code: 'custom',
      path: ['oauth2'],
      message: 'oauth2 cannot be combined with basic_auth',
      params: AT_KEY,
    });
  }
  checkProxy(c, ctx);
}

function checkProxy(
  c: {
    proxy_url?: string;
    no_proxy?: string;
    proxy_from_environment?: boolean;
    proxy_connect_header?: unknown;
  },
  ctx: z.RefinementCtx,
): void {
  if (c.proxy_connect_header && !c.proxy_url && !c.proxy_from_environment) {
    ctx.addIssue({
      code: 'custom',
      path: ['proxy_connect_header'],
      message: 'proxy_connect_header needs proxy_url or proxy_from_environment',
      params: AT_KEY,
    });
  }
  if (c.proxy_from_environment && c.proxy_url) {
    ctx.addIssue({
      code: 'custom',
      path: ['proxy_url'],
      message: 'proxy_url cannot be combined with proxy_from_environment',
      params: AT_KEY,
    });
  }
  if (c.no_proxy && c.proxy_from_environment) {
    ctx.addIssue({
      code: 'custom',
      path: ['no_proxy'],
      message: 'no_proxy cannot be combined with proxy_from_environment (set NO_PROXY instead)',
      params: AT_KEY,
    });
  } else if (c.no_proxy && !c.proxy_url) {
    ctx.addIssue({ code: 'custom', path: ['no_proxy'], message: 'no_proxy needs proxy_url', params: AT_KEY });
  }
}

/**
 * Folds `bearer_token` / `bearer_token_file` into `authorization` (type Bearer) and gives
 * `authorization.type` its default, as Prometheus does after loading.
 */
export function normalizeHttpClient<T extends RawHttpClient>(
  c: T,
): Omit<T, 'bearer_token' | 'bearer_token_file' | 'authorization'> & { authorization?: AuthorizationConfig } {
  const { bearer_token, bearer_token_file, authorization, ...rest } = c;
  let auth: AuthorizationConfig | undefined;
  if (authorization) auth = { ...authorization, type: authorization.type?.trim() || 'Bearer' };
  else if (bearer_token) auth = { type: 'Bearer', credentials: bearer_token };
  else if (bearer_token_file) auth = { type: 'Bearer', credentials_file: bearer_token_file };
  return auth ? { ...rest, authorization: auth } : rest;
}

/** Reports every set key beyond the first of `keys` (Prometheus: "at most one of ..."). */
export function atMostOne<T extends object>(
  ctx: z.RefinementCtx,
  obj: T,
  keys: readonly (keyof T & string)[],
): void {
  const set = keys.filter((k) => obj[k] !== undefined && obj[k] !== '');
  if (set.length > 1) {
    const list = keys.slice(0, -1).join(', ') + ' and ' + keys[keys.length - 1];
    ctx.addIssue({
      code: 'custom',
      path: [set[1]],
      message: `at most one of ${list} may be set`,
      params: AT_KEY,
    });
  }
}
