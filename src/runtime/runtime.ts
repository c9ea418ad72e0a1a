/**
 * The running process: loads the configuration, builds the self-metrics registry, the HTTP
 * server with its core routes and pages, and tears them down in order on shutdown or when a
 * later part fails to start (one list of closers). Later parts (gateway sources, scrape
 * manager, remote-write queues) are started here too, between configuration and listening,
 * so that `/ready` only turns true once they are.
 */

import { resolve } from 'node:path';
import type { TributaryConfig } from '../config/schema.js';
import { ConfigError, formatIssue } from '../config/errors.js';
import { resolveConfigIsolated, type ResolvedConfig } from '../config/isolated.js';
import type { Logger } from '../log/logger.js';
import { ProcessCollector, Registry } from '../selfmetrics/index.js';
import { AccessRule, HttpServer, Readiness, registerCoreRoutes, type Handler, type ServerTlsOptions } from '../server/index.js';
import { PageRegistry, registerIndexPage } from '../ui/index.js';
import { VERSION } from '../common/version.js';
import { SELF_SCRAPE_JOB, selfScrapeTarget } from '../config/self-scrape.js';
import { startGateway, type RunningGateway } from '../gateway/index.js';
import { SinkFanout } from '../pipeline/index.js';
import { ClusterMembership, ScrapeManager } from '../scrape/index.js';
import { registerScrapePages } from '../scrape/pages/index.js';
import { registerRelabelDebugPages } from '../relabel/debugger/routes.js';
import { startRemoteWrite, type RemoteWriteChange } from '../remotewrite/index.js';
import { startIngest, withReceiverAlias, type RunningIngest } from '../ingest/index.js';
import { CONTENT_TYPE_PLAIN } from '../formats/media-types.js';

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

export type ReloadResult =
  | {
      ok: true;
      started: string[];
      changed: string[];
      stopped: string[];
      kept: string[];
      /** What the remote-write URLs went through, as for the scrape jobs. */
      remoteWrite: RemoteWriteChange;
      /** Sections that differ from what the process runs with, which a restart would apply. */
      restartNeeded: string[];
    }
  | { ok: false; error: string };

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
  /** Push ingestion (its TCP/UDP listeners' addresses). */
  readonly ingest: RunningIngest;
  /**
   * Re-reads the configuration file and applies what Prometheus applies on reload: scrape jobs
   * (unchanged jobs keep running untouched), `global` (external labels included) and the
   * remote-write URLs with their shared options. The sections a running process cannot take
   * over (RESTART_SECTIONS) are compared with what it runs with and each difference is said
   * loudly, in the log and the result. An invalid file changes nothing: the result says why,
   * the log and `tributary_config_last_reload_successful` too.
   */
  reload(): Promise<ReloadResult>;
  /** Graceful stop: not ready, stop accepting, finish requests in flight (up to `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

/**
 * Sections a reload cannot apply to a running process: the listener with its TLS and access
 * rule and the data directory, the logger every part was built with, and the gateway's sources
 * and sockets. Everything else is applied on reload.
 */
const RESTART_SECTIONS = ['server', 'log', 'gateway', 'ingest'] as const;

/** The message for a restart section that differs; also the reload response's line. */
export function restartMessage(section: string): string {
  return `${section} changed; takes effect after a restart`;
}

/**
 * What the process started, closed in reverse order of starting: on a stop, and when a later
 * part fails to start (then with no grace: nothing was served yet). One list for every way
 * out, so a part added later is closed on all of them. Parts are registered so that reverse
 * order is shutdown order: readiness off first, then the listener (requests in flight finish),
 * the scrapes (their last batches still reach remote write), remote write (flushes to disk),
 * the gateway, the process metrics.
 */
class Closers {
  private readonly parts: { readonly name: string; readonly close: (how: Shutdown) => unknown }[] = [];

  add(name: string, close: (how: Shutdown) => unknown): void {
    this.parts.push({ name, close });
  }

  /** Closes every part, even after one fails; rejects with the first failure once all are done. */
  async closeAll(how: Shutdown, log: Logger): Promise<void> {
    let first: unknown;
    for (const part of this.parts.splice(0).reverse()) {
      try {
        await part.close(how);
      } catch (err) {
        log.error('closing a part failed', { part: part.name, err: err as Error });
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  /** After a failed start: closes what was started, then rethrows the failure (a close's own failure is only logged). */
  async failed(err: unknown, log: Logger): Promise<never> {
    await this.closeAll({ graceMs: 0, failedStart: true }, log).catch(() => {});
    throw err;
  }
}

interface Shutdown {
  /** How long requests in flight may take to finish. */
  readonly graceMs: number;
  /** A start that failed: nothing was served, so nothing waits (remote write spills to disk at once). */
  readonly failedStart: boolean;
}

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

  const closers = new Closers();
  try {
    const registry = new Registry({ logger: log.child({ component: 'selfmetrics' }) });
    const processCollector = new ProcessCollector({ version: VERSION });
    closers.add('process metrics', () => processCollector.close());
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
    closers.add('gateway', () => gateway.close());
    const scrape = new ScrapeManager({ sink: pipeline, logger: log, registry });
    // before the scrapes start, so the first batches already have somewhere to go
    let ingestRef: RunningIngest | undefined;
    const remoteWrite = await startRemoteWrite(config.remote_write, {
      pipeline,
      registry,
      logger: log,
      dataDir: config.server.data_dir,
      externalLabels: config.global.external_labels,
      options: config.remote_write_options,
      streamAggr: config.stream_aggr,
      // what remote write in received joins what the scrapes found (ingest starts below)
      metadata: () => (ingestRef === undefined ? scrape.metadata() : [...scrape.metadata(), ...ingestRef.metadata()]),
    });
    // a stop tries to send what is queued first (remote write's own timeout)
    closers.add('remote write', (how) => (how.failedStart ? remoteWrite.close(0) : remoteWrite.close()));
    closers.add('scrape', () => scrape.close());
    // On the embedded defaults the self-scrape waits for the bound address (below).
    const selfScrape = opts.configFile === undefined;
    if (!selfScrape) scrape.apply(config.scrape_configs, new ClusterMembership(config.cluster));
    // after remote write, so a stop closes the listeners before the queues flush
    const ingest = await startIngest(withReceiverAlias(config.ingest, config.remote_write_options.receiver), { server, sink: pipeline, registry, logger: log });
    ingestRef = ingest;
    closers.add('ingest', () => ingest.close());
    registerScrapePages(server, pages, scrape);
    registerRelabelDebugPages(server, pages);

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
      let remoteWriteChange: RemoteWriteChange;
      try {
        remoteWriteChange = await remoteWrite.apply(next.config.remote_write, next.config.global.external_labels, next.config.remote_write_options, next.config.stream_aggr);
      } catch (err) {
        configLoaded.set(0);
        reloads.labels('failure').inc();
        const error = `remote_write: ${(err as Error).message}`;
        log.error('configuration reload failed: remote write could not take the new configuration', { err: error });
        return { ok: false, error };
      }
      const summary = scrape.apply(next.config.scrape_configs, new ClusterMembership(next.config.cluster));
      // Compared with what the process runs with, not with the last file read: a reverted
      // change is no longer a difference.
      const restartNeeded = RESTART_SECTIONS.filter((section) => JSON.stringify(next.config[section]) !== JSON.stringify(config[section]));
      for (const section of restartNeeded) log.warn(restartMessage(section), { section });
      configLoaded.set(1);
      configLoadedAt.set(Date.now() / 1000);
      reloads.labels('success').inc();
      log.info('configuration reloaded', {
        started: summary.started.join(','),
        changed: summary.changed.join(','),
        stopped: summary.stopped.join(','),
        kept: summary.kept.length,
        remote_write_started: remoteWriteChange.started.join(','),
        remote_write_changed: remoteWriteChange.changed.join(','),
        remote_write_stopped: remoteWriteChange.stopped.join(','),
      });
      return { ok: true, ...summary, remoteWrite: remoteWriteChange, restartNeeded: restartNeeded.map(restartMessage) };
    };
    const reloadRoute: Handler = async (_req, res) => {
      const r = await reload();
      res.writeHead(r.ok ? 200 : 400, { 'content-type': CONTENT_TYPE_PLAIN });
      res.end(
        r.ok
          ? `configuration reloaded\n${r.restartNeeded.map((m) => `warning: ${m}\n`).join('')}`
          : `configuration reload failed; the running configuration stays:\n${r.error}\n`,
      );
    };
    server.post('/-/reload', reloadRoute);
    server.route('PUT', '/-/reload', reloadRoute);
    registerCoreRoutes(server, { registry, readiness, metrics: !gateway.servesMetrics });
    registerIndexPage(server, {
      pages,
      version: VERSION,
      configFile: opts.configFile === undefined ? undefined : resolve(opts.configFile),
    });


    const address = await server.listen(config.server.listen);
    closers.add('http server', (how) => server.close(how.graceMs));
    if (selfScrape) {
      const target = selfScrapeTarget(address);
      scrape.apply(
        config.scrape_configs.map((c) =>
          c.job_name === SELF_SCRAPE_JOB ? { ...c, static_configs: [{ targets: [target], labels: {} }] } : c,
        ),
        new ClusterMembership(config.cluster),
      );
    }
    readiness.setReady();
    closers.add('readiness', () => readiness.setNotReady('shutting down'));
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
      ingest,
      reload,
      close(graceMs = 10_000) {
        closing ??= closers.closeAll({ graceMs, failedStart: false }, log);
        return closing;
      },
    };
  } catch (err) {
    return closers.failed(err, log);
  }
}
