/**
 * Push ingestion assembled from the `push:` config section: the app store with its limits, the
 * Pushgateway routes on the gateway's HTTP server, and one SocketListener per configured
 * listener. The one object to start at boot and close at shutdown.
 */

import type { PushConfig, PushListenerConfig } from '../../config/gateway-push.js';
import type { Logger } from '../../log/logger.js';
import type { Registry } from '../../selfmetrics/registry.js';
import type { HttpServer } from '../../server/http-server.js';
import { AppStore } from './app-store.js';
import { registerPushgatewayRoutes } from './pushgateway-api.js';
import { SocketListener, type SocketAddress } from './socket-listener.js';

export interface PushIngestionDeps {
  /** Where the Pushgateway routes go (when `http.enabled`); routes must be added before it listens. */
  server?: HttpServer;
  logger: Logger;
  registry: Registry;
  /** For tests: the store's clock. */
  now?: () => number;
}

export class PushIngestion {
  readonly store: AppStore;
  readonly listeners: readonly SocketListener[];

  constructor(config: PushConfig, deps: PushIngestionDeps) {
    this.store = new AppStore({ maxApps: config.max_apps, maxSeries: config.max_series }, deps.now);
    if (config.http.enabled && deps.server) {
      registerPushgatewayRoutes(deps.server, {
        store: this.store,
        logger: deps.logger,
        registry: deps.registry,
        defaultTtlMs: config.default_ttl,
        maxBodyBytes: config.max_body_bytes,
      });
    }
    this.listeners = config.listeners.map(
      (l) =>
        new SocketListener({
          ...(l.name !== undefined ? { name: l.name } : {}),
          address: socketAddress(l),
          format: l.format,
          store: this.store,
          logger: deps.logger,
          registry: deps.registry,
          ttlMs: l.ttl ?? config.default_ttl,
          maxBytes: l.max_bytes ?? config.max_body_bytes,
          maxConnections: l.max_connections,
          readTimeoutMs: l.read_timeout,
        }),
    );
  }

  /** Binds every listener; if one fails, the ones already bound are closed again. */
  async start(): Promise<string[]> {
    const bound: string[] = [];
    try {
      for (const l of this.listeners) bound.push(await l.listen());
    } catch (err) {
      await this.close();
      throw err;
    }
    return bound;
  }

  async close(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.close()));
  }
}

function socketAddress(l: PushListenerConfig): SocketAddress {
  if (l.tcp !== undefined) return { tcp: l.tcp };
  return {
    unix: l.unix!,
    ...(l.unix_socket_mode !== undefined ? { mode: l.unix_socket_mode } : {}),
    ...(l.unix_socket_owner !== undefined ? { owner: l.unix_socket_owner } : {}),
    ...(l.unix_socket_group !== undefined ? { group: l.unix_socket_group } : {}),
  };
}
