/**
 * One job (Prometheus' scrape pool): runs the job's discoverers, turns their groups into
 * targets through target relabeling, and keeps exactly one scrape loop per distinct target —
 * a target that is rediscovered unchanged keeps its loop, a new one gets a loop, a vanished
 * one is stopped and its series marked stale.
 *
 * On reload a changed job gets a new pool that takes over from the old one at its first sync:
 * a target both have — the same labels and URL, even if its interval, timeout or limits
 * changed — is handed from the old loop to the new one (the old loop's series inherited for
 * staleness, the phase kept: the hash modulo the interval), so it is scraped on its usual
 * schedule with no gap and its continuing series get no staleness marker; the old pool's
 * other targets go stale then. Until that first sync the old pool keeps scraping. A target
 * whose interval discovery changes (a `__scrape_interval__` label) is handed over the same way.
 */

import type { ScrapeConfig } from '../config/schema.js';
import { createDiscoverers, type Discoverer, type TargetGroup } from '../discovery/index.js';
import type { Logger } from '../log/logger.js';
import type { Labels } from '../model/labels.js';
import { Relabeler } from '../relabel/index.js';
import { ScrapeLoop, type JobContext } from './scrape-loop.js';
import type { DiscoveryProblem, DroppedTargetStatus, OtherMemberTargetStatus, ScrapePoolStatus } from './status.js';
import { RelabelDebugLog } from './relabel-debug.js';
import { targetsFromGroup, type ScrapeTarget, type TargetRelabeler } from './target.js';

/** How long the first sync waits for discoverers that have not reported yet. */
const FIRST_SYNC_WAIT_MS = 5_000;
/** Later updates are coalesced over this long, so a burst of file changes syncs once. */
const SYNC_DEBOUNCE_MS = 100;

export type DiscovererFactory = (cfg: ScrapeConfig, log: Logger) => Discoverer[];

export class ScrapePool {
  private readonly discoverers: Discoverer[];
  private readonly relabeler: TargetRelabeler;
  private readonly groups = new Map<number, TargetGroup[]>();
  /** Discoverers whose last refresh failed (their last groups stand), by index. */
  private readonly failing = new Map<number, DiscoveryProblem>();
  private readonly loops = new Map<string, ScrapeLoop>();
  private dropped: DroppedTargetStatus[] = [];
  private otherMembers: OtherMemberTargetStatus[] = [];
  private droppedCount = 0;
  private limitError: string | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private firstSyncDone = false;
  private closed = false;
  private lastErrors = new Set<string>();
  private readonly firstSync: Promise<void>;
  private resolveFirstSync!: () => void;

  constructor(
    readonly config: ScrapeConfig,
    private readonly job: JobContext,
    discover: DiscovererFactory = createDiscoverers,
    /** The pool this one replaces on reload; retired at the first sync. */
    private predecessor?: ScrapePool,
  ) {
    this.relabeler = config.relabel_debug
      ? new RelabelDebugLog(config.relabel_configs, job.log, 'relabel_debug')
      : Relabeler.compile(config.relabel_configs);
    this.discoverers = discover(config, job.log);
    this.firstSync = new Promise((resolve) => {
      this.resolveFirstSync = resolve;
    });
  }

  get name(): string {
    return this.config.job_name;
  }

  start(): void {
    this.discoverers.forEach((d, i) =>
      d.start(
        (groups) => this.onUpdate(i, groups),
        (problem) => this.onProblem(i, problem),
      ),
    );
    if (this.discoverers.length === 0) this.sync();
    else this.syncTimer = setTimeout(() => this.sync(), FIRST_SYNC_WAIT_MS);
  }

  /** Resolves once targets have been built the first time. */
  ready(): Promise<void> {
    return this.firstSync;
  }

  /** The running loops, for tests and status. */
  activeLoops(): ScrapeLoop[] {
    return [...this.loops.values()];
  }

  status(): ScrapePoolStatus {
    return {
      name: this.name,
      relabelConfigs: this.config.relabel_configs,
      active: [...this.loops.values()].map((l) => {
        const s = l.status();
        return this.limitError ? { ...s, health: 'down' as const, lastError: this.limitError } : s;
      }),
      dropped: this.dropped,
      droppedCount: this.droppedCount,
      otherMembers: this.otherMembers,
      discoveryProblems: [...this.failing.values()],
    };
  }

  /**
   * Stops discovery and every loop. `stale`: the job is gone (its series end now); otherwise
   * the process is stopping or a successor took the loops over.
   */
  async stop(stale: boolean): Promise<void> {
    this.closed = true;
    clearTimeout(this.syncTimer);
    this.resolveFirstSync();
    await Promise.all(this.discoverers.map((d) => d.close().catch(() => {})));
    const loops = [...this.loops.values()];
    this.loops.clear();
    await Promise.all(loops.map((l) => l.stop(stale)));
    const pred = this.predecessor;
    this.predecessor = undefined;
    await pred?.stop(stale);
    await this.job.client.close();
  }

  private onProblem(index: number, problem: string | undefined): void {
    if (this.closed) return;
    if (problem === undefined) {
      this.failing.delete(index);
      return;
    }
    this.job.counters.discoveryFailures.inc();
    const since = this.failing.get(index)?.sinceMs ?? Date.now();
    this.failing.set(index, { message: problem, sinceMs: since });
  }

  private onUpdate(index: number, groups: TargetGroup[]): void {
    if (this.closed) return;
    this.groups.set(index, groups);
    if (!this.firstSyncDone) {
      if (this.groups.size < this.discoverers.length) return;
      clearTimeout(this.syncTimer);
      this.sync();
      return;
    }
    clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => this.sync(), SYNC_DEBOUNCE_MS);
  }

  private sync(): void {
    if (this.closed) return;
    this.firstSyncDone = true;
    const wanted = new Map<string, ScrapeTarget>();
    const dropped: DroppedTargetStatus[] = [];
    let droppedCount = 0;
    const errors = new Set<string>();
    const keepDropped = this.config.keep_dropped_targets ?? 0;
    const cluster = this.job.cluster;
    const otherMembers: OtherMemberTargetStatus[] = [];
    // series of targets another member scrapes now continue there: they must not go stale here
    const elsewhere = new Set<string>();
    for (const groups of this.groups.values()) {
      for (const group of groups) {
        for (const r of targetsFromGroup(group, this.config, this.relabeler)) {
          if (r.kind === 'target') {
            const t = r.target;
            if (wanted.has(t.identity) || elsewhere.has(t.seriesKey)) continue;
            if (cluster.ownsAll) {
              wanted.set(t.identity, t);
              continue;
            }
            const members = cluster.owners(t.seriesKey);
            if (members.includes(cluster.self)) {
              wanted.set(t.identity, t);
            } else {
              elsewhere.add(t.seriesKey);
              otherMembers.push({ scrapeUrl: t.shownUrl, discoveredLabels: t.discovered, labels: t.labels, members });
            }
          } else if (r.kind === 'dropped') {
            droppedCount++;
            if (keepDropped === 0 || dropped.length < keepDropped) dropped.push({ scrapePool: this.name, discoveredLabels: r.discovered });
          } else {
            errors.add(`${r.error} (target ${describe(r.discovered)})`);
          }
        }
      }
    }
    for (const e of errors) if (!this.lastErrors.has(e)) this.job.log.warn('cannot build a scrape target', { err: e });
    this.lastErrors = errors;
    this.dropped = dropped;
    this.droppedCount = droppedCount;
    this.otherMembers = otherMembers;
    const limit = this.config.target_limit ?? 0;
    // loops built while over the limit were never started: they are replaced by ones that are
    const wasOverLimit = this.limitError !== undefined;
    this.limitError =
      limit > 0 && wanted.size > limit ? `target_limit exceeded (number of targets: ${wanted.size}, limit: ${limit})` : undefined;
    if (this.limitError) this.job.log.error('scrape pool over its target limit: no target is scraped', { err: this.limitError });

    const predecessor = this.predecessor;
    this.predecessor = undefined;
    const leaving: ScrapeLoop[] = [];
    for (const [id, loop] of this.loops) {
      if (!wanted.has(id) || this.limitError || wasOverLimit) {
        this.loops.delete(id);
        leaving.push(loop);
      }
    }
    const inherited = predecessor?.retire() ?? [];
    // a target scraped differently now (interval, timeout, limits) but with the same series is
    // handed over, from this pool's loop or a predecessor's, first come first served
    const heirs = new Map<string, ScrapeLoop>();
    if (!this.limitError) {
      for (const loop of [...leaving, ...inherited]) {
        if (!heirs.has(loop.target.seriesKey)) heirs.set(loop.target.seriesKey, loop);
      }
    }
    const handedOver = new Set<ScrapeLoop>();
    const handovers: Promise<void>[] = [];
    for (const [id, target] of wanted) {
      if (this.loops.has(id)) continue;
      const loop = new ScrapeLoop(target, this.job);
      this.loops.set(id, loop);
      const old = heirs.get(target.seriesKey);
      if (old) {
        heirs.delete(target.seriesKey);
        handedOver.add(old);
        handovers.push(
          old.handOver().then((pendingAt) => {
            loop.inherit(old);
            if (!this.closed && !this.limitError) loop.start(pendingAt);
          }),
        );
      } else if (!this.limitError) {
        loop.start();
      }
    }
    const gone = leaving.filter((l) => !handedOver.has(l));
    const stale = (l: ScrapeLoop) => !elsewhere.has(l.target.seriesKey);
    void Promise.all(gone.map((l) => l.stop(stale(l)))).then(() => this.closeIdleOrigins(gone));
    // the predecessor's client serves the scrapes in flight until their handover is done
    const ended = inherited.filter((l) => !handedOver.has(l));
    if (predecessor) void Promise.all([...handovers, ...ended.map((l) => l.stop(stale(l)))]).then(() => predecessor.stop(true));
    this.resolveFirstSync();
  }

  /** Keep-alive connections to hosts no target of this pool has any more (pods that came and went). */
  private closeIdleOrigins(gone: readonly ScrapeLoop[]): void {
    if (this.closed || gone.length === 0) return;
    const hosts = new Set<string>();
    for (const l of this.loops.values()) hosts.add(l.target.url.host);
    for (const l of gone) if (!hosts.has(l.target.url.host)) this.job.client.forget(l.target.url);
  }

  /**
   * Gives every loop, its own and its predecessors', to a successor pool, which hands each
   * target over or ends it; this pool syncs no more (its stop() follows the handovers).
   */
  private retire(): ScrapeLoop[] {
    this.closed = true;
    clearTimeout(this.syncTimer);
    const loops = [...this.loops.values()];
    this.loops.clear();
    const pred = this.predecessor;
    return pred ? [...loops, ...pred.retire()] : loops;
  }
}

function describe(labels: Labels): string {
  return labels.get('__address__') ?? labels.toString();
}
