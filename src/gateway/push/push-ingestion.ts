/**
 * Push ingestion assembled from the `push:` config section: the app store with its limits, its
 * persistence under the data directory, the Pushgateway routes on the gateway's HTTP server,
 * and one SocketListener per configured listener. The one object to start at boot and close
 * at shutdown.
 */

import type { PushConfig, PushListenerConfig } from '../../config/gateway-push.js';
import type { Logger } from '../../log/logger.js';
import type { Registry } from '../../selfmetrics/registry.js';
import type { Handler, HttpServer } from '../../server/http-server.js';
import { join } from 'node:path';
import { AppStore, type AppStoreOptions } from './app-store.js';
import { AppPersistence, APPS_SUBDIR } from './persistence.js';
import { registerPushgatewayRoutes } from './pushgateway-api.js';
import { SocketListener, type SocketAddress } from './socket-listener.js';
import { PushPipeline } from './push-pipeline.js';
import type { SampleSink } from '../../pipeline/sink.js';

export interface PushIngestionDeps {
  /** Where the Pushgateway routes go (when `http.enabled`); routes must be added before it listens. */
  server?: HttpServer;
  logger: Logger;
  registry: Registry;
  /** Where pushed apps are kept across restarts (`push.persistence`); none: only in memory. */
  dataDir?: string;
  /** Access control around the Pushgateway routes (`push.http.access`). */
  protect?: (handler: Handler) => Handler;
  /** Names and families pushes may not take (see AppStoreOptions). */
  reserved?: AppStoreOptions;
  /** For tests: the store's clock. */
  now?: () => number;
  /** The pipeline, for listeners and the API with `remote_write: true`. */
  pipeline?: SampleSink;
  /** The gateway's `source_label`, which pushed series carry into the pipeline as on the page. */
  sourceLabelName?: string;
}

export class PushIngestion {
  readonly store: AppStore;
  readonly listeners: readonly SocketListener[];
  private readonly persistence: AppPersistence | undefined;
  private readonly toPipeline: PushPipeline | undefined;

  constructor(config: PushConfig, deps: PushIngestionDeps) {
    this.store = new AppStore({ maxApps: config.max_apps, maxSeries: config.max_series }, deps.now, deps.reserved);
    const appsDir = config.persistence && deps.dataDir !== undefined ? join(deps.dataDir, APPS_SUBDIR) : undefined;
    if (appsDir !== undefined) this.persistence = new AppPersistence(appsDir, this.store, deps.logger, deps.registry, config.persistence_interval);
    if (config.http.enabled && deps.server) {
      const httpTtl = config.http.ttl ?? config.default_ttl;
      registerPushgatewayRoutes(deps.server, {
        store: this.store,
        logger: deps.logger,
        registry: deps.registry,
        defaultTtlMs: httpTtl,
        maxBodyBytes: config.max_body_bytes,
        adminApi: config.http.enable_admin_api,
        remoteWrite: config.http.remote_write,
        ...(deps.protect ? { protect: deps.protect } : {}),
        // The Pushgateway's flags that have a counterpart here, under its names.
        flags: {
          'persistence.file': appsDir ?? '',
          'persistence.interval': `${config.persistence_interval / 1000}s`,
          'push.disable-consistency-check': 'false',
          'web.enable-admin-api': String(config.http.enable_admin_api),
          'tributary.push.ttl': `${httpTtl / 1000}s`,
          'tributary.push.max_body_bytes': String(config.max_body_bytes),
        },
      });
    }
    const anyRemoteWrite = (config.http.enabled && config.http.remote_write) || config.listeners.some((l) => l.remote_write);
    if (anyRemoteWrite && deps.pipeline !== undefined) this.toPipeline = new PushPipeline(this.store, deps.pipeline, deps.sourceLabelName ?? '');
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
          remoteWrite: l.remote_write,
          maxBytes: l.max_bytes ?? config.max_body_bytes,
          maxConnections: l.max_connections,
          maxPendingConnections: l.max_pending_connections,
          readTimeoutMs: l.read_timeout,
          idleTimeoutMs: l.idle_timeout,
        }),
    );
  }

  /**
   * Restores the saved apps, then binds every listener; if one fails, the ones already bound
   * are closed again.
   */
  async start(): Promise<string[]> {
    await this.persistence?.start();
    const bound: string[] = [];
    try {
      for (const l of this.listeners) bound.push(await l.listen());
    } catch (err) {
      await this.close();
      throw err;
    }
    return bound;
  }

  /** Stops the listeners, then saves what changed. */
  async close(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.close()));
    this.toPipeline?.close();
    await this.persistence?.close();
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
