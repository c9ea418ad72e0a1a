/**
 * The running process: loads the configuration, builds the self-metrics registry, the HTTP
 * server with its core routes and pages, and tears them down in order on shutdown. Later parts
 * (gateway sources, scrape manager, remote-write queues) are started here too, between
 * configuration and listening, so that `/ready` only turns true once they are.
 */

import { resolve } from 'node:path';
import type { TributaryConfig } from '../config/schema.js';
import { ConfigError, formatIssue } from '../config/errors.js';
import { resolveConfigIsolated, type ResolvedConfig } from '../config/isolated.js';
import type { Logger } from '../log/logger.js';
import { ProcessCollector, Registry } from '../selfmetrics/index.js';
import { AccessRule, HttpServer, Readiness, registerCoreRoutes, type Handler, type ServerTlsOptions } from '../server/index.js';
import { PageRegistry, registerIndexPage } from '../ui/index.js';
import { VERSION } from './version.js';
import { startGateway, type RunningGateway } from '../gateway/index.js';
import { SinkFanout } from '../pipeline/index.js';
import { ScrapeManager } from '../scrape/index.js';
import { registerScrapePages } from '../scrape/pages/index.js';
import { registerRelabelDebugPages } from '../relabel/debugger/routes.js';
import { startRemoteWrite, type RunningRemoteWrite } from '../remotewrite/index.js';
import { registerRemoteWriteReceiver } from '../ingest/index.js';

export interface RuntimeOptions {
  /** Configuration file; the embedded defaults when absent. */
  configFile?: string;
  /** Overrides `server.listen`. */
  listen?: string;
  /** Overrides `server.data_dir`. */
  dataDir?: string;
  /** Added to `remote_write` as plain entries. */
  remoteWriteUrls?: readonly string[];
  logger: Logger;
  /** Already resolved by the caller (the CLI needs the log settings first); else loaded here. */
  resolved?: ResolvedConfig;
}

export type ReloadResult = { ok: true; started: string[]; changed: string[]; stopped: string[]; kept: string[] } | { ok: false; error: string };

export interface Runtime {
  /** The bound address, `host:port`. */
  readonly address: string;
  readonly config: TributaryConfig;
  readonly registry: Registry;
  readonly server: HttpServer;
  readonly pages: PageRegistry;
  readonly gateway: RunningGateway;
  /** Where scraped samples flow; consumers attach here. */
  readonly pipeline: SinkFanout;
  readonly scrape: ScrapeManager;
  /**
   * Re-reads the configuration file and applies its scrape jobs (unchanged jobs keep running
   * untouched). An invalid file changes nothing: the result says why, the log and
   * `tributary_config_last_reload_successful` too.
   */
  reload(): Promise<ReloadResult>;
  /** Graceful stop: not ready, stop accepting, finish requests in flight (up to `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

/** Sections a reload cannot apply to a running process (sockets, listeners, sources, queues). */
const RESTART_SECTIONS = ['server', 'log', 'gateway', 'remote_write', 'remote_write_options'] as const;

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const log = opts.logger;
  const resolved = opts.resolved ?? (await resolveConfigIsolated(opts));
  const { warnings } = resolved;
  const config = opts.dataDir === undefined ? resolved.config : { ...resolved.config, server: { ...resolved.config.server, data_dir: opts.dataDir } };
  for (const w of warnings) log.warn(w.message, { where: formatIssue({ ...w, message: '' }).replace(/: $/, '') });
  // Token files are read now, before anything needs tearing down, so a bad path stops the start.
  const access = config.server.access === undefined ? undefined : await AccessRule.fromConfig(config.server.access);
  const tlsConfig = config.server.tls;
  const tls: ServerTlsOptions | undefined = tlsConfig && {
    certFile: tlsConfig.cert_file,
    keyFile: tlsConfig.key_file,
    clientCaFile: tlsConfig.client_ca_file,
    clientAuth: tlsConfig.client_auth,
    minVersion: tlsConfig.min_version,
  };

  const registry = new Registry({ logger: log.child({ component: 'selfmetrics' }) });
  const processCollector = new ProcessCollector({ version: VERSION });
  registry.register(processCollector);
  const configLoaded = registry.gauge({
    name: 'tributary_config_last_reload_successful',
    help: 'Whether the last configuration load succeeded (1) or not (0).',
  });
  const configLoadedAt = registry.gauge({
    name: 'tributary_config_last_reload_success_timestamp_seconds',
    help: 'Time of the last successful configuration load, in seconds since the epoch.',
  });
  configLoaded.set(1);
  configLoadedAt.set(Date.now() / 1000);
  const reloads = registry.counter({
    name: 'tributary_config_reloads_total',
    help: 'Configuration reloads (SIGHUP, POST /-/reload), by result.',
    labelNames: ['result'],
  });

  const server = new HttpServer({ registry, logger: log, tls, access });
  const readiness = new Readiness();
  const pages = new PageRegistry();
  const pipeline = new SinkFanout((err) => log.error('a sample consumer failed on a batch', { err: err as Error }));
  const gateway = await startGateway(config.gateway, { registry, logger: log, server, pages, pipeline, dataDir: config.server.data_dir });
  // before the scrapes start, so the first batches already have somewhere to go
  const scrape = new ScrapeManager({ sink: pipeline, logger: log, registry });
  let remoteWrite: RunningRemoteWrite;
  try {
    remoteWrite = startRemoteWrite(config.remote_write, {
      pipeline,
      registry,
      logger: log,
      dataDir: config.server.data_dir,
      externalLabels: config.global.external_labels,
      options: config.remote_write_options,
      metadata: () => scrape.metadata(),
    });
  } catch (err) {
    await gateway.close();
    processCollector.close();
    throw err;
  }
  scrape.apply(config.scrape_configs);
  const receiver = config.remote_write_options.receiver;
  if (receiver.enabled) registerRemoteWriteReceiver(server, { sink: pipeline, registry, logger: log, maxBodyBytes: receiver.max_body_bytes });
  registerScrapePages(server, pages, scrape);
  registerRelabelDebugPages(server, pages);
  let running = config;

  const reload = async (): Promise<ReloadResult> => {
    if (opts.configFile === undefined) {
      return { ok: false, error: 'started on the embedded defaults: there is no configuration file to reload' };
    }
    let next: ResolvedConfig;
    try {
      next = await resolveConfigIsolated(opts);
    } catch (err) {
      const error = err instanceof ConfigError ? err.message : `${opts.configFile}: ${(err as Error).message}`;
      configLoaded.set(0);
      reloads.labels('failure').inc();
      log.error('configuration reload failed; the running configuration stays', { err: error });
      return { ok: false, error };
    }
    for (const w of next.warnings) log.warn(w.message, { where: formatIssue({ ...w, message: '' }).replace(/: $/, '') });
    const summary = scrape.apply(next.config.scrape_configs);
    for (const section of RESTART_SECTIONS) {
      if (JSON.stringify(next.config[section]) !== JSON.stringify(running[section])) {
        log.warn('this section changed; the change takes effect after a restart', { section });
      }
    }
    running = next.config;
    configLoaded.set(1);
    configLoadedAt.set(Date.now() / 1000);
    reloads.labels('success').inc();
    log.info('configuration reloaded', {
      started: summary.started.join(','),
      changed: summary.changed.join(','),
      stopped: summary.stopped.join(','),
      kept: summary.kept.length,
    });
    return { ok: true, ...summary };
  };
  const reloadRoute: Handler = async (_req, res) => {
    const r = await reload();
    res.writeHead(r.ok ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(r.ok ? 'configuration reloaded\n' : `configuration reload failed; the running configuration stays:\n${r.error}\n`);
  };
  server.post('/-/reload', reloadRoute);
  server.route('PUT', '/-/reload', reloadRoute);
  registerCoreRoutes(server, { registry, readiness, metrics: !gateway.servesMetrics });
  registerIndexPage(server, {
    pages,
    version: VERSION,
    configFile: opts.configFile === undefined ? undefined : resolve(opts.configFile),
  });


  let address: string;
  try {
    address = await server.listen(config.server.listen);
  } catch (err) {
    await scrape.close();
    await remoteWrite.close(0);
    await gateway.close();
    processCollector.close();
    throw err;
  }
  readiness.setReady();
  log.info('Tributary started', {
    version: VERSION,
    listen: address,
    scheme: server.scheme,
    access: access === undefined ? 'open' : 'protected',
    config: opts.configFile ?? 'embedded defaults',
    data_dir: config.server.data_dir,
  });

  let closing: Promise<void> | undefined;
  return {
    address,
    config,
    registry,
    server,
    pages,
    gateway,
    pipeline,
    scrape,
    reload,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        readiness.setNotReady('shutting down');
        await server.close(graceMs);
        await scrape.close();
        await remoteWrite.close();
        await gateway.close();
        processCollector.close();
      })();
      return closing;
    },
  };
}
