/**
 * The settings an outbound HTTP client acts on, declared here, below the configuration: the
 * keys of Prometheus' `http_config` (prometheus/common's HTTPClientConfig) as this folder reads
 * them, with vmagent's extras. The configuration's parsed sections (config/http-client-config.ts)
 * are handed in as they are and must fit these shapes; the compiler checks that where the
 * configuration builds a client. Only the keys a client reads are listed.
 */

import type { SigV4Config } from './sigv4.js';

/** OAuth 2.0's JWT-bearer grant (RFC 7523), which newer prometheus/common offers besides client_credentials. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Cloud authentication kinds Tributary does not implement (sigv4 it does): a client refuses to send. */
export const UNSUPPORTED_REMOTE_WRITE_AUTH = ['azuread', 'google_iam'] as const;

/** `tls_config`'s version names, Go's crypto/tls spelling as prometheus/common reads them. */
export const TLS_VERSIONS = ['TLS10', 'TLS11', 'TLS12', 'TLS13'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export interface TlsSettings {
  readonly ca?: string | undefined;
  readonly ca_file?: string | undefined;
  readonly cert?: string | undefined;
  readonly cert_file?: string | undefined;
  readonly key?: string | undefined;
  readonly key_file?: string | undefined;
  readonly server_name?: string | undefined;
  readonly insecure_skip_verify?: boolean | undefined;
  readonly min_version?: TlsVersion | undefined;
  readonly max_version?: TlsVersion | undefined;
  readonly next_protos?: readonly string[] | undefined;
}

export interface BasicAuthSettings {
  readonly username?: string | undefined;
  readonly username_file?: string | undefined;
  readonly password?: string | undefined;
  readonly password_file?: string | undefined;
}

export interface AuthorizationSettings {
  /** `Bearer` unless configured (the configuration fills it in). */
  readonly type: string;
  readonly credentials?: string | undefined;
  readonly credentials_file?: string | undefined;
}

/** `http_headers`: each header's values, secrets and files, sent in that order. */
export type HeaderSettings = Readonly<
  Record<string, { readonly values?: readonly string[] | undefined; readonly secrets?: readonly string[] | undefined; readonly files?: readonly string[] | undefined }>
>;

export interface OAuth2Settings {
  readonly client_id: string;
  readonly client_secret?: string | undefined;
  readonly client_secret_file?: string | undefined;
  readonly scopes?: readonly string[] | undefined;
  readonly token_url: string;
  readonly endpoint_params?: Readonly<Record<string, string>> | undefined;
  readonly grant_type?: string | undefined;
  readonly audience?: string | undefined;
  readonly iss?: string | undefined;
  readonly claims?: Readonly<Record<string, unknown>> | undefined;
  readonly signature_algorithm?: string | undefined;
  readonly client_certificate_key_id?: string | undefined;
  readonly client_certificate_key?: string | undefined;
  readonly client_certificate_key_file?: string | undefined;
  /** The token endpoint's own connection settings, not the job's. */
  readonly tls_config?: TlsSettings | undefined;
  readonly proxy_url?: string | undefined;
  readonly proxy_connect_header?: Readonly<Record<string, readonly string[]>> | undefined;
  readonly http_headers?: HeaderSettings | undefined;
}

/** vmagent's keys for talking to the proxy itself (proxy.ts), and Prometheus' `proxy_connect_header`. */
export interface ProxyClientSettings {
  readonly proxy_authorization?: { readonly type?: string | undefined; readonly credentials?: string | undefined; readonly credentials_file?: string | undefined };
  readonly proxy_basic_auth?: BasicAuthSettings;
  readonly proxy_bearer_token?: string;
  readonly proxy_bearer_token_file?: string;
  readonly proxy_tls_config?: TlsSettings;
  readonly proxy_headers?: readonly string[];
  readonly proxy_connect_header?: Readonly<Record<string, readonly string[]>> | undefined;
}

/** One client's settings; gateway sources, discovery, scrape jobs and remote-write URLs all carry them. */
export interface HttpClientSettings extends ProxyClientSettings {
  readonly basic_auth?: BasicAuthSettings | undefined;
  readonly authorization?: AuthorizationSettings | undefined;
  readonly oauth2?: OAuth2Settings | undefined;
  readonly tls_config?: TlsSettings | undefined;
  readonly follow_redirects: boolean;
  readonly enable_http2: boolean;
  readonly http_headers?: HeaderSettings | undefined;
  readonly proxy_url?: string | undefined;
  readonly disable_keepalive?: boolean;
  /** vmagent's `headers`, lower-case names: sent in place of any value of the same header. */
  readonly override_headers?: Readonly<Record<string, string>> | undefined;
  /** Remote write only: request signing and the cloud authentication kinds. */
  readonly sigv4?: SigV4Config | undefined;
  readonly azuread?: unknown;
  readonly google_iam?: unknown;
}
