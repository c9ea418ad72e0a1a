/**
 * The gateway: one or more exposition paths, each serving its own set of sources merged into
 * one page, plus the pushed apps and Tributary's own metrics. A scrape of a path collects every
 * source in parallel under the path's deadline; a failing or slow source is reported in its
 * health series and never fails the scrape.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import { negotiateExposition } from '../formats/media-types.js';
import type { Registry, Gauge } from '../selfmetrics/registry.js';
import type { Handler, HttpServer } from '../server/http-server.js';
import { headerValue, sendExposition } from '../server/core-routes.js';
import type { PageRegistry } from '../ui/pages.js';
import { countSeries, type AppStore } from './push/app-store.js';
import { blankLabelsOf } from './push/pushgateway-families.js';
import { frameFromFamilies, type PageFrame, type PageLayout } from '../model/frame.js';
import type { MetricType } from '../model/family.js';
import { PageMerger, type Contribution } from './merge.js';
import { SourceHealth } from './health.js';
import { EMPTY_SNAPSHOT, nextVersion, type GatewaySource, type SourceKind, type SourceSnapshot } from './source.js';
import { registerAppsPage, type AppsEntry } from './apps-page.js';

/** A configured source with the labels it adds. */
export interface ConfiguredSource {
  readonly source: GatewaySource;
  /** Static labels added to every series of the source. */
  readonly labels: Readonly<Record<string, string>>;
  /** Whether the source label is added (it can be turned off per source). */
  readonly sourceLabel: boolean;
}

export interface GatewayPath {
  readonly path: string;
  /** Names of the configured sources served here; undefined: all of them. */
  readonly sources?: readonly string[];
  /** Whether pushed apps are served here. */
  readonly pushedApps: boolean;
  /** Whether Tributary's own metrics (and the sources' health) are served here. */
  readonly selfMetrics: boolean;
  /** Deadline for collecting the sources of one scrape. */
  readonly timeoutMs: number;
  /** Access control for the path (authentication), applied around the handler. */
  readonly protect?: (handler: Handler) => Handler;
}

export interface GatewayOptions {
  registry: Registry;
  logger: Logger;
  sources: readonly ConfiguredSource[];
  store: AppStore;
  /** Name of the source label; '' turns it off everywhere. */
  sourceLabelName: string;
  paths: readonly GatewayPath[];
  /** How often expired pushed apps are swept (they are also skipped at every scrape). */
  expireIntervalMs?: number;
}

/** Value of the source label on Tributary's own metrics. */
export const SELF_SOURCE = 'tributary';

/**
 * How long a page may take: the path's timeout, or less when the scraper's own timeout
 * (Prometheus' `X-Prometheus-Scrape-Timeout-Seconds`) is shorter — minus a margin for merging,
 * writing and the network, so that the scraper gets the page in time and does not mark the
 * whole target down for one slow source.
 */
export function pageDeadlineMs(pathTimeoutMs: number, scrapeTimeoutSeconds: number | undefined): number {
  if (scrapeTimeoutSeconds === undefined) return pathTimeoutMs;
  const scraper = scrapeTimeoutSeconds * 1000;
  return Math.max(1, Math.min(pathTimeoutMs, scraper - Math.min(500, scraper / 4)));
}

export class Gateway {
  private readonly merger = new Map<string, PageMerger>();
  private readonly health: SourceHealth;
  private readonly lastSeen = new Map<string, SourceSnapshot>();
  private readonly conflictsLogged = new Set<string>();
  private readonly conflictGauge: Gauge;
  private readonly helpConflictGauge: Gauge;
  private readonly duplicateGauge: Gauge;
  private readonly expireTimer: NodeJS.Timeout;
  private readonly log: Logger;
  /** Tributary's own metrics as last rendered: their layout is kept while the same series exist. */
  private selfFrame: PageFrame | undefined;
  private readonly layoutTypes = new Map<string, { id: number; types: Map<string, MetricType> }>();

  constructor(private readonly opts: GatewayOptions) {
    this.log = opts.logger.child({ component: 'gateway' });
    const names = new Set<string>();
    for (const s of opts.sources) {
      if (names.has(s.source.name)) throw new Error(`gateway source name ${JSON.stringify(s.source.name)} is used twice`);
      names.add(s.source.name);
    }
    for (const p of opts.paths) {
      for (const n of p.sources ?? []) {
        if (!names.has(n)) throw new Error(`gateway path ${p.path} names an unknown source ${JSON.stringify(n)}`);
      }
    }
    this.health = new SourceHealth(opts.registry);
    opts.registry.gauge({
      name: 'tributary_gateway_pushed_apps',
      help: 'Pushed apps currently exposed.',
      collect: (g) => g.set(opts.store.size),
    });
    opts.registry.gauge({
      name: 'tributary_gateway_pushed_series',
      help: 'Series held for pushed apps.',
      collect: (g) => g.set(opts.store.series),
    });
    this.conflictGauge = opts.registry.gauge({
      name: 'tributary_gateway_type_conflicts',
      help: 'Families left out of the last page of a path because their TYPE differed from the first source that has them.',
      labelNames: ['path'],
    });
    this.helpConflictGauge = opts.registry.gauge({
      name: 'tributary_gateway_help_conflicts',
      help: 'Families on the last page of a path whose HELP differed between sources (the first was kept).',
      labelNames: ['path'],
    });
    this.duplicateGauge = opts.registry.gauge({
      name: 'tributary_gateway_duplicate_series',
      help: 'Series identical after labelling that the last page of a path exposed once.',
      labelNames: ['path'],
    });
    this.expireTimer = setInterval(() => {
      const n = opts.store.expire();
      if (n > 0) this.log.info('pushed apps expired', { count: n });
    }, opts.expireIntervalMs ?? 5_000);
    this.expireTimer.unref();
  }

  /**
   * A family the page already shows from a configured source (as last read) or from
   * Tributary's own metrics, with its type and where it comes from: a push must not contradict
   * it, or the merge would leave the push's family out of the page after it was accepted.
   */
  exposedFamily(name: string): { type: MetricType; owner: string } | undefined {
    const frame = (this.selfFrame ??= frameFromFamilies(this.opts.registry.collect()));
    const self = this.typesOf(SELF_SOURCE, frame.layout).get(name);
    if (self !== undefined) return { type: self, owner: "Tributary's own metrics" };
    for (const s of this.opts.sources) {
      const layout = this.lastSeen.get(s.source.name)?.frame.layout;
      const type = layout === undefined ? undefined : this.typesOf(s.source.name, layout).get(name);
      if (type !== undefined) return { type, owner: `source ${JSON.stringify(s.source.name)}` };
    }
    return undefined;
  }

  /** Family name → type of a layout, built once per layout. */
  private typesOf(owner: string, layout: PageLayout): ReadonlyMap<string, MetricType> {
    let t = this.layoutTypes.get(owner);
    if (t?.id !== layout.id) {
      t = { id: layout.id, types: new Map(layout.families.map((f) => [f.name, f.type])) };
      this.layoutTypes.set(owner, t);
    }
    return t.types;
  }

  /** Registers every exposition path and /apps on the server. */
  register(server: HttpServer, pages: PageRegistry): void {
    for (const p of this.opts.paths) {
      const handler: Handler = (req, res) => this.serve(p, req, res);
      server.get(p.path, p.protect ? p.protect(handler) : handler);
      if (p.path !== '/metrics') pages.add({ path: p.path, title: p.path, description: 'Gateway exposition path.', nav: false });
    }
    registerAppsPage(server, pages, () => this.appsEntries());
  }

  async close(): Promise<void> {
    clearInterval(this.expireTimer);
    await Promise.all(this.opts.sources.map((s) => s.source.close()));
  }

  /**
   * The page of one path, as a scraper gets it; exported for tests and benchmarks.
   * `scrapeTimeoutSeconds` is the scraper's own timeout (Prometheus' header): the page is
   * answered before it, whatever the sources do. Call `release` once the body is no longer
   * read (sent): its memory is then used for a later page.
   */
  async page(
    path: GatewayPath,
    accept: string | undefined,
    params: URLSearchParams,
    signal?: AbortSignal,
    scrapeTimeoutSeconds?: number,
  ): Promise<{ body: Buffer; contentType: string; release: () => void }> {
    const timeoutMs = pageDeadlineMs(path.timeoutMs, scrapeTimeoutSeconds);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
    // A source that has not answered by the deadline is left out of this page (its health
    // says so); the scrape is never held for it.
    const late = new Promise<void>((resolve) => combined.addEventListener('abort', () => resolve(), { once: true }));
    const sources = this.opts.sources.filter((s) => path.sources === undefined || path.sources.includes(s.source.name));
    let snapshots: SourceSnapshot[];
    try {
      snapshots = await Promise.all(
        sources.map((s) =>
          Promise.race([
            s.source.snapshot({ signal: combined, params }).catch((err: unknown): SourceSnapshot => ({ ...EMPTY_SNAPSHOT, error: (err as Error).message })),
            late.then((): SourceSnapshot => ({
              ...EMPTY_SNAPSHOT,
              lastSuccessMs: this.lastSeen.get(s.source.name)?.lastSuccessMs ?? 0,
              durationSeconds: timeoutMs / 1000,
              error: `no answer within the page deadline of ${timeoutMs / 1000}s`,
            })),
          ]),
        ),
      );
    } finally {
      clearTimeout(timer);
    }
    const contributions: Contribution[] = [];
    const live = new Map<string, SourceKind>();
    const label = this.opts.sourceLabelName;
    sources.forEach((s, i) => {
      const snap = snapshots[i];
      this.lastSeen.set(s.source.name, snap);
      live.set(s.source.name, s.source.kind);
      this.health.observe(s.source.name, s.source.kind, snap, snap.frame.layout.size);
      contributions.push({
        id: 'source:' + s.source.name,
        staticLabels: s.labels,
        ...(s.sourceLabel && label !== '' ? { sourceLabel: { name: label, value: s.source.name } } : {}),
        snapshot: snap,
      });
    });
    if (path.pushedApps) {
      for (const app of this.opts.store.list()) {
        live.set(app.name, 'push');
        contributions.push({
          id: 'app:' + app.key,
          // The Pushgateway API stamps the grouping labels onto the series at ingest.
          staticLabels: {},
          ...(app.protocol === 'pushgateway' ? { blankLabels: blankLabelsOf(app.groupingLabels) } : {}),
          ...(label !== '' ? { sourceLabel: { name: label, value: app.name } } : {}),
          snapshot: app.snapshot,
        });
      }
    }
    // Keep health series of sources other paths serve; drop those of apps that are gone.
    for (const s of this.opts.sources) live.set(s.source.name, s.source.kind);
    this.health.retain(live);

    const negotiated = negotiateExposition(accept);
    let merger = this.merger.get(path.path);
    if (!merger) this.merger.set(path.path, (merger = new PageMerger()));
    if (path.selfMetrics) {
      // Rendered after the sources' health was updated, so the page shows this scrape's.
      this.selfFrame = frameFromFamilies(this.opts.registry.collect(), this.selfFrame?.layout);
      contributions.push({
        id: 'self',
        staticLabels: {},
        ...(label !== '' ? { sourceLabel: { name: label, value: SELF_SOURCE } } : {}),
        snapshot: { ...EMPTY_SNAPSHOT, ok: true, frame: this.selfFrame, version: nextVersion() },
      });
    }
    const { page, stats, release } = merger.render(contributions, { format: negotiated.format, utf8Names: negotiated.utf8Names });
    this.conflictGauge.labels(path.path).set(this.logConflicts(path, stats.typeConflicts, 'family left out: TYPE conflict'));
    this.helpConflictGauge.labels(path.path).set(this.logConflicts(path, stats.helpConflicts, 'HELP conflict: the first source\'s HELP is kept'));
    this.duplicateGauge.labels(path.path).set(stats.duplicateSeries);
    return { body: page, contentType: negotiated.contentType, release };
  }

  /** Logs each conflict once (not at every scrape); returns how many there are now. */
  private logConflicts(path: GatewayPath, conflicts: ReadonlyMap<string, readonly string[]>, message: string): number {
    let n = 0;
    for (const [id, list] of conflicts) {
      for (const what of list) {
        n++;
        const key = path.path + '\u0000' + id + '\u0000' + what;
        if (this.conflictsLogged.has(key)) continue;
        this.conflictsLogged.add(key);
        this.log.warn(message, { path: path.path, contribution: id, conflict: what });
      }
    }
    return n;
  }

  private async serve(path: GatewayPath, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableEnded) gone.abort();
    };
    res.on('close', onClose);
    const scrapeTimeout = Number(headerValue(req.headers['x-prometheus-scrape-timeout-seconds']));
    const { body, contentType, release } = await this.page(
      path,
      headerValue(req.headers.accept),
      url.searchParams,
      gone.signal,
      Number.isFinite(scrapeTimeout) && scrapeTimeout > 0 ? scrapeTimeout : undefined,
    );
    res.off('close', onClose);
    try {
      await sendExposition(req, res, body, contentType);
    } finally {
      // The page's buffer is written into again for a later page once nothing reads it: not a
      // compression under way (awaited above), not the socket still sending it.
      if (res.writableFinished || res.destroyed) release();
      else res.once('close', release);
    }
  }

  /** Every source and pushed app, for /apps. */
  private appsEntries(): AppsEntry[] {
    const out: AppsEntry[] = [];
    for (const s of this.opts.sources) {
      const snap = this.lastSeen.get(s.source.name) ?? EMPTY_SNAPSHOT;
      out.push({
        name: s.source.name,
        kind: s.source.kind,
        origin: s.source.origin,
        lastUpdateMs: snap.lastSuccessMs,
        ttlMs: 0,
        series: snap.frame.layout.size,
        ...(snap.error !== undefined ? { lastError: snap.error } : {}),
      });
    }
    for (const app of this.opts.store.list()) {
      out.push({
        name: app.name,
        key: app.key,
        kind: 'push',
        protocol: app.protocol,
        origin: app.origin,
        lastUpdateMs: app.updatedMs,
        ttlMs: app.ttlMs,
        // The pusher's series; an HTTP group's push-time series are the gateway's own.
        series: countSeries(app.families),
        ...(app.lastError !== undefined ? { lastError: app.lastError } : app.snapshot.error !== undefined ? { lastError: app.snapshot.error } : {}),
      });
    }
    return out;
  }
}
