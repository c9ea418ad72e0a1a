/**
 * Tributary's HTTP side: the server (routing, request metrics, timeouts, graceful shutdown,
 * optional TLS and mTLS), access rules (Basic auth, bearer tokens), listen-address parsing with
 * one-line bind errors, request bodies read under a size cap, response helpers for text, HTML and JSON (and for picking the form a
 * client asked for), and the core endpoints /metrics, /health and /ready. Pages and APIs of
 * other parts register their routes on the same `HttpServer`.
 */
export { HttpServer, answerContinueItself } from './http-server.js';
export type { Handler, HttpServerOptions } from './http-server.js';
export {
  DEFAULT_LISTEN_ADDRESS,
  parseListenAddress,
  formatListenAddress,
  describeBindError,
} from './listen-address.js';
export type { ListenAddress } from './listen-address.js';
export { sendBody, sendText, sendHtml, sendJson, requestedForm } from './respond.js';
export type { ResponseForm } from './respond.js';
export { BodyTooLargeError, readBody } from './request-body.js';
export { registerCoreRoutes, Readiness, acceptsGzip } from './core-routes.js';
export type { CoreRoutesOptions } from './core-routes.js';
export { AccessRule, protect, authenticatedUser, hasOwnAccessRule, REALM } from './access.js';
export type { AccessConfig, AccessResult, AccessRuleOptions, PasswordVerifier } from './access.js';
export { loadServerTls, effectiveClientAuth, handshakeOptions, CLIENT_AUTH_MODES, TLS_MIN_VERSIONS } from './tls.js';
export type { ServerTlsOptions, LoadedServerTls, ClientAuth, TlsMinVersion } from './tls.js';
