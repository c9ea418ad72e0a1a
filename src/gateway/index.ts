/**
 * The gateway part of Tributary: one scrape endpoint for many sources — HTTP exporters, files
 * and scripts pulled on scrape or on a schedule, apps pushing over sockets or the Pushgateway
 * API — merged into one page per exposition path, with per-source health and /apps.
 * `startGateway` builds it from the `gateway:` configuration and registers its routes.
 */

import type { GatewayConfig } from '../config/gateway.js';
import type { Logger } from '../log/logger.js';
import type { Registry } from '../selfmetrics/registry.js';
import { AccessRule, protect } from '../server/access.js';
import type { HttpServer } from '../server/http-server.js';
import type { PageRegistry } from '../ui/pages.js';
import { AppStore } from './push/app-store.js';
import { registerPushgatewayRoutes } from './push/pushgateway-api.js';
import { Gateway, type ConfiguredSource, type GatewayPath } from './gateway.js';

export interface GatewayDeps {
  registry: Registry;
  logger: Logger;
  server: HttpServer;
  pages: PageRegistry;
  /** Extra sources (besides the configured ones), e.g. for tests and benchmarks. */
  sources?: readonly ConfiguredSource[];
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly store: AppStore;
  /** Whether a gateway path serves `/metrics` (then the core route must not). */
  readonly servesMetrics: boolean;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, deps: GatewayDeps): Promise<RunningGateway> {
  const log = deps.logger.child({ component: 'gateway' });
  const store = new AppStore({ maxApps: config.push.max_apps, maxSeries: config.push.max_series });
  const sources: ConfiguredSource[] = [...(deps.sources ?? [])];
  const paths: GatewayPath[] = [];
  for (const p of config.paths) {
    const rule = p.access ? await AccessRule.fromConfig(p.access) : undefined;
    paths.push({
      path: p.path,
      ...(p.sources ? { sources: p.sources } : {}),
      pushedApps: p.pushed_apps,
      selfMetrics: p.self_metrics,
      timeoutMs: p.timeout,
      ...(rule ? { protect: (h) => protect(rule, h) } : {}),
    });
  }
  const gateway = new Gateway({
    registry: deps.registry,
    logger: deps.logger,
    sources,
    store,
    sourceLabelName: config.source_label,
    paths,
  });
  gateway.register(deps.server, deps.pages);
  if (config.push.http.enabled) {
    registerPushgatewayRoutes(deps.server, {
      store,
      logger: log,
      registry: deps.registry,
      defaultTtlMs: config.push.default_ttl,
      maxBodyBytes: config.push.max_body_bytes,
    });
  }
  return {
    gateway,
    store,
    servesMetrics: paths.some((p) => p.path === '/metrics'),
    close: () => gateway.close(),
  };
}
