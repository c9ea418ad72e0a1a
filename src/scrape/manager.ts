/**
 * All scrape jobs of the configuration, and reloading them: `apply` compares each job's new
 * config with the running one; an unchanged job keeps its pool (discovery, loops, caches) as
 * is, a changed job gets a new pool that takes the old one's targets over without a gap, a
 * removed job stops and its series go stale, a new job starts.
 */

import { type BodyConsumer, HttpClient, type StreamResult } from '../outbound/index.js';
import type { ScrapeConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { SampleSink } from '../pipeline/index.js';
import { Relabeler } from '../relabel/index.js';
import type { Registry } from '../selfmetrics/registry.js';
import { acceptHeader } from '../formats/media-types.js';
import type { JobContext, JobCounters } from './scrape-loop.js';
import type { SeriesRules } from './series-cache.js';
import { MetadataStore } from './metadata.js';
import { RelabelDebugLog } from './relabel-debug.js';
import type { MetricMetadata } from '../formats/remotewrite/index.js';
import { ScrapePool, type DiscovererFactory } from './scrape-pool.js';
import { ClusterMembership, SINGLE_MEMBER } from './cluster.js';
import { targetId, type ScrapePoolStatus, type ScrapeStatusSource } from './status.js';

/**
 * Used when neither the job nor `global` has the key body_size_limit at all. Prometheus has no
 * default cap; vmagent's is 16 MiB. A cap keeps an endless body from costing CPU until the
 * timeout, and 64 MiB leaves room for the largest real exporters (kube-state-metrics on big
 * clusters). Written out, 0 means no limit, as in Prometheus (see the config's resolution).
 */
export const DEFAULT_BODY_SIZE_LIMIT = 64 * 1024 * 1024;

export interface ScrapeManagerDeps {
  readonly sink: SampleSink;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Replaces the discoverers built from the config (tests). */
  readonly discover?: DiscovererFactory;
}

interface RunningPool {
  readonly pool: ScrapePool;
  /** The config it runs, serialized: equal keys mean nothing to change. */
  readonly key: string;
  readonly context: JobContext;
}

export class ScrapeManager implements ScrapeStatusSource {
  private running = new Map<string, RunningPool>();
  private cluster: ClusterMembership = SINGLE_MEMBER;
  private readonly log: Logger;
  private readonly counters: (job: string) => JobCounters;

  constructor(private readonly deps: ScrapeManagerDeps) {
    this.log = deps.logger.child({ component: 'scrape' });
    const r = deps.registry;
    const byJob = (name: string, help: string) => r.counter({ name, help, labelNames: ['job'] });
    const scrapes = byJob('tributary_scrapes_total', 'Scrapes done, by job.');
    const failed = byJob('tributary_scrapes_failed_total', 'Scrapes that failed (target down), by job.');
    const scraped = byJob(
      'tributary_scrape_samples_scraped_total',
      'Samples read from scraped pages, before metric relabeling, by job.',
    );
    const added = byJob(
      'tributary_scrape_samples_post_metric_relabeling_total',
      'Samples passed on from successful scrapes after metric relabeling, by job.',
    );
    const stale = byJob('tributary_scrape_stale_markers_total', 'Staleness markers written for series that disappeared, by job.');
    const duplicates = byJob(
      'tributary_scrape_duplicate_series_total',
      'Samples dropped because the page had the same series line earlier (the first value is kept), by job.',
    );
    const fallback = byJob(
      'tributary_scrape_fallback_content_type_total',
      'Scrapes whose page had no (or an unsupported) Content-Type and was read in the fallback format, by job.',
    );
    const discoveryFailures = byJob(
      'tributary_discovery_failures_total',
      'Failed refreshes of service discovery (a file unreadable, an API unreachable, a lookup failed), by job; the last targets stand meanwhile.',
    );
    this.counters = (job) => ({
      scrapes: scrapes.labels(job),
      failed: failed.labels(job),
      samplesScraped: scraped.labels(job),
      samplesAdded: added.labels(job),
      staleMarkers: stale.labels(job),
      duplicates: duplicates.labels(job),
      fallbackContentType: fallback.labels(job),
      discoveryFailures: discoveryFailures.labels(job),
    });
    r.gauge({
      name: 'tributary_scrape_targets',
      help: 'Targets by job and health (up, down, unknown = not scraped yet), and dropped by relabeling.',
      labelNames: ['job', 'state'],
      collect: (g) => {
        g.reset();
        for (const p of this.pools()) {
          const counts = { up: 0, down: 0, unknown: 0, dropped: p.droppedCount };
          for (const t of p.active) counts[t.health]++;
          for (const [state, n] of Object.entries(counts)) g.labels(p.name, state).set(n);
        }
      },
    });
    r.gauge({
      name: 'tributary_scrape_targets_other_members',
      help: 'Targets of the job that other members of the scrape cluster scrape (cluster.members_count), not this one.',
      labelNames: ['job'],
      collect: (g) => {
        g.reset();
        for (const p of this.pools()) g.labels(p.name).set(p.otherMembers.length);
      },
    });
    r.gauge({
      name: 'tributary_scrape_cluster_member',
      help: 'This member of the scrape cluster: its member_num, with the cluster size and replication factor as labels.',
      labelNames: ['members_count', 'replication_factor'],
      collect: (g) => {
        g.reset();
        g.labels(String(this.cluster.count), String(this.cluster.replicas)).set(this.cluster.self);
      },
    });
  }

  /**
   * Starts, keeps, replaces or stops pools so that the running jobs are `configs`, sharded by
   * `cluster`. A new sharding replaces every pool: each hands the targets it keeps to its
   * successor without a gap and lets go of those another member now owns without ending their
   * series, since they continue there.
   */
  apply(
    configs: readonly ScrapeConfig[],
    cluster: ClusterMembership = SINGLE_MEMBER,
  ): { started: string[]; changed: string[]; stopped: string[]; kept: string[] } {
    const next = new Map<string, RunningPool>();
    const summary = { started: [] as string[], changed: [] as string[], stopped: [] as string[], kept: [] as string[] };
    this.cluster = cluster;
    for (const cfg of configs) {
      const key = `${cluster.key}\n${configKey(cfg)}`;
      const old = this.running.get(cfg.job_name);
      if (old && old.key === key) {
        next.set(cfg.job_name, old);
        summary.kept.push(cfg.job_name);
        continue;
      }
      // unchanged series rules are shared, so that a handed-over loop keeps its series cache
      const rules = old && seriesRulesKey(old.pool.config) === seriesRulesKey(cfg) ? old.context.rules : undefined;
      const context = this.jobContext(cfg, rules);
      const pool = new ScrapePool(cfg, context, this.deps.discover, old?.pool);
      pool.start();
      next.set(cfg.job_name, { pool, key, context });
      (old ? summary.changed : summary.started).push(cfg.job_name);
    }
    for (const [name, old] of this.running) {
      if (!next.has(name)) {
        summary.stopped.push(name);
        void old.pool.stop(true);
      }
    }
    this.running = next;
    return summary;
  }

  /** Resolves when every job has built its targets once. */
  async ready(): Promise<void> {
    await Promise.all([...this.running.values()].map((r) => r.pool.ready()));
  }

  pool(job: string): ScrapePool | undefined {
    return this.running.get(job)?.pool;
  }

  pools(): ScrapePoolStatus[] {
    return [...this.running.values()].map((r) => r.pool.status());
  }

  fetchTargetResponse(id: string, consumer: BodyConsumer, signal: AbortSignal): Promise<StreamResult | undefined> {
    for (const r of this.running.values()) {
      for (const loop of r.pool.activeLoops()) if (targetId(loop.status()) === id) return loop.fetchNow(consumer, signal);
    }
    return Promise.resolve(undefined);
  }

  /** Stops everything without staleness markers (a restart must not end every series). */
  async close(): Promise<void> {
    const pools = [...this.running.values()];
    this.running.clear();
    await Promise.all(pools.map((r) => r.pool.stop(false)));
  }

  /** Metric metadata of every running job, one entry per family name. */
  metadata(): MetricMetadata[] {
    const seen = new Set<string>();
    const out: MetricMetadata[] = [];
    for (const r of this.running.values()) {
      for (const m of r.context.metadata.list()) {
        if (seen.has(m.family)) continue;
        seen.add(m.family);
        out.push(m);
      }
    }
    return out;
  }

  private jobContext(cfg: ScrapeConfig, rules?: SeriesRules): JobContext {
    return {
      name: cfg.job_name,
      client: new HttpClient(cfg),
      rules: rules ?? {
        honorLabels: cfg.honor_labels,
        relabeler: cfg.metric_relabel_debug
          ? new RelabelDebugLog(cfg.metric_relabel_configs, this.log.child({ job: cfg.job_name }), 'metric_relabel_debug')
          : cfg.metric_relabel_configs.length > 0
            ? Relabeler.compile(cfg.metric_relabel_configs)
            : undefined,
        labelLimit: cfg.label_limit ?? 0,
        labelNameLengthLimit: cfg.label_name_length_limit ?? 0,
        labelValueLengthLimit: cfg.label_value_length_limit ?? 0,
      },
      metadata: new MetadataStore(),
      honorTimestamps: cfg.honor_timestamps,
      trackTimestampsStaleness: cfg.track_timestamps_staleness,
      accept: acceptHeader(cfg.scrape_protocols),
      fallbackProtocol: cfg.fallback_scrape_protocol,
      bodySizeLimit: cfg.body_size_limit === undefined ? DEFAULT_BODY_SIZE_LIMIT : cfg.body_size_limit || Infinity,
      extraMetrics: cfg.extra_scrape_metrics,
      compression: cfg.enable_compression,
      noStaleMarkers: cfg.no_stale_markers,
      sink: this.deps.sink,
      log: this.log.child({ job: cfg.job_name }),
      counters: this.counters(cfg.job_name),
      cluster: this.cluster,
    };
  }
}

/** What decides the series a page line becomes (the series cache's rules, and honored timestamps). */
function seriesRulesKey(cfg: ScrapeConfig): string {
  return configKey({
    honor_labels: cfg.honor_labels,
    honor_timestamps: cfg.honor_timestamps,
    metric_relabel_configs: cfg.metric_relabel_configs,
    metric_relabel_debug: cfg.metric_relabel_debug,
    label_limit: cfg.label_limit,
    label_name_length_limit: cfg.label_name_length_limit,
    label_value_length_limit: cfg.label_value_length_limit,
  });
}

/** Regexes serialize as `{}`; their source must count, or a changed regex would look unchanged. */
function configKey(cfg: Partial<ScrapeConfig>): string {
  return JSON.stringify(cfg, (_k, v: unknown) => (v instanceof RegExp ? `/${v.source}/${v.flags}` : v));
}
