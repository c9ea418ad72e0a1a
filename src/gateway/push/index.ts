/**
 * Push ingestion for the gateway: apps push exposition text over the Pushgateway-style HTTP
 * API or over TCP/Unix sockets (exporter-proxy's JSON and Cap'n Proto formats), and the
 * AppStore holds each app's last good payload until it is replaced, deleted or expires.
 */

export { AppStore, PushLimitError, DEFAULT_APP_STORE_LIMITS, countSeries } from './app-store.js';
export type { AppStoreLimits, PushedApp, PushProtocol, PushRequest } from './app-store.js';
export { registerPushgatewayRoutes, TTL_HEADER, type PushgatewayApiOptions } from './pushgateway-api.js';
export { SocketListener, type SocketAddress, type SocketFormat, type SocketListenerOptions } from './socket-listener.js';
export { parseGroupingPath, renderGroupingKey, GroupingKeyError, type GroupingKey } from './grouping-key.js';
export { InboundMetrics } from './inbound-metrics.capnp.js';
export { pushMetrics, type PushMetrics } from './push-metrics.js';
export { PushIngestion, type PushIngestionDeps } from './push-ingestion.js';
