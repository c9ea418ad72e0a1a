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
import type { Handler, HttpServer } from '../server/http-server.js';
import type { PageRegistry } from '../ui/pages.js';
import type { AppStore } from './push/app-store.js';
import { PushIngestion } from './push/push-ingestion.js';
import { createSource } from './sources/index.js';
import { Gateway, SELF_SOURCE, type ConfiguredSource, type GatewayPath } from './gateway.js';
import { LatestSamples, type SinkFanout } from '../pipeline/index.js';

export interface GatewayDeps {
  registry: Registry;
  logger: Logger;
  server: HttpServer;
  pages: PageRegistry;
  /** Where scrape jobs' samples flow (needed when a source has `scrape:`), and pushes with `remote_write: true` go. */
  pipeline?: SinkFanout;
  /** Extra sources (besides the configured ones), e.g. for tests and benchmarks. */
  sources?: readonly ConfiguredSource[];
  /** Where pushed apps are saved across restarts; none: they are held in memory only. */
  dataDir?: string;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly store: AppStore;
  /** Whether a gateway path serves `/metrics` (then the core route must not). */
  readonly servesMetrics: boolean;
  /** Addresses of the push socket listeners, once bound. */
  readonly listeners: readonly string[];
  close(): Promise<void>;
}

/**
 * Builds the gateway and registers its routes (paths, /apps, the Pushgateway API); binds the
 * push socket listeners. Call before the HTTP server listens; `close` after it has stopped.
 */
export async function startGateway(config: GatewayConfig, deps: GatewayDeps): Promise<RunningGateway> {
  const log = deps.logger.child({ component: 'gateway' });
  // Access rules first: a bad token file must stop the start before sources spawn anything.
  const rules = await Promise.all(config.paths.map((p) => (p.access ? AccessRule.fromConfig(p.access) : undefined)));
  const pushRule = config.push.http.access ? await AccessRule.fromConfig(config.push.http.access) : undefined;
  // A pushed app named like a source, or like Tributary itself, would share its source label:
  // its series would pass for theirs, and replace them where they coincide.
  const taken = new Set([SELF_SOURCE, ...config.sources.map((s) => s.name), ...(deps.sources ?? []).map((s) => s.source.name)]);
  let gateway: Gateway | undefined;
  const push = new PushIngestion(config.push, {
    server: deps.server,
    logger: log,
    registry: deps.registry,
    ...(deps.dataDir !== undefined ? { dataDir: deps.dataDir } : {}),
    ...(deps.pipeline !== undefined ? { pipeline: deps.pipeline, sourceLabelName: config.source_label } : {}),
    ...(pushRule ? { protect: (h: Handler) => protect(pushRule, h) } : {}),
    reserved: {
      reservedName: (name) =>
        taken.has(name)
          ? `the name ${JSON.stringify(name)} is taken by ${name === SELF_SOURCE ? "Tributary's own metrics" : 'a configured source'}: pushed apps and groups need another name (job)`
          : undefined,
      reservedFamily: (name) => gateway?.exposedFamily(name),
    },
  });
  const store = push.store;
  // One view for all scrape sources: each scraped batch is then looked at once, not per source.
  const scrapeJobs = new Set(config.sources.flatMap((s) => (s.scrape ? [s.scrape.job] : [])));
  const scraped = scrapeJobs.size > 0 && deps.pipeline ? new LatestSamples(scrapeJobs) : undefined;
  const detach = scraped && deps.pipeline?.add(scraped);
  const sources: ConfiguredSource[] = [
    ...(deps.sources ?? []),
    ...config.sources.map((s) => ({ source: createSource(s, log, scraped), labels: s.labels, sourceLabel: s.source_label })),
  ];
  const paths: GatewayPath[] = [];
  config.paths.forEach((p, i) => {
    const rule = rules[i];
    paths.push({
      path: p.path,
      ...(p.sources ? { sources: p.sources } : {}),
      pushedApps: p.pushed_apps,
      selfMetrics: p.self_metrics,
      timeoutMs: p.timeout,
      ...(rule ? { protect: (h) => protect(rule, h) } : {}),
    });
  });
  gateway = new Gateway({
    registry: deps.registry,
    logger: deps.logger,
    sources,
    store,
    sourceLabelName: config.source_label,
    paths,
  });
  gateway.register(deps.server, deps.pages);
  let listeners: string[];
  try {
    listeners = await push.start();
  } catch (err) {
    detach?.();
    await gateway.close();
    throw err;
  }
  return {
    gateway,
    store,
    servesMetrics: paths.some((p) => p.path === '/metrics'),
    listeners,
    close: async () => {
      detach?.();
      await push.close();
      await gateway.close();
    },
  };
}
