/**
 * Outbound HTTP to exporters and targets: the per-job or per-source connection settings
 * (keep-alive agent, TLS, proxy, authentication headers) and the one GET every pull uses —
 * gateway HTTP sources, HTTP service discovery and the scrape loop — with Prometheus' Accept
 * header, gzip, timeouts covering the whole body, a decompressed-size limit, and a streaming
 * form that hands the body to a parser chunk by chunk.
 */
export { HttpClient } from './configured-client.js';
export {
  JWT_BEARER_GRANT,
  UNSUPPORTED_REMOTE_WRITE_AUTH,
  type AuthorizationSettings,
  type BasicAuthSettings,
  type HttpClientSettings,
  type OAuth2Settings,
  type TlsSettings,
} from './client-settings.js';
export { fetchPage, fetchStream, type BodyConsumer, type FetchResult, type FetchSpec, type StreamResult } from './fetch.js';
export { shownUrl } from './shown-url.js';
