/**
 * Remote write: from the sample pipeline to every configured storage. The router applies
 * what all URLs share (global relabeling, external and global labels, replicate or shard by
 * URL); each `remote_write` entry (and each `--remote-write-url`) has its own queue — label
 * stages, sharded senders, disk queue under `<data_dir>/remotewrite/` — so a slow or dead URL
 * holds up only itself. `startRemoteWrite` builds them, their self-metrics and the metadata
 * timers, and removes the queues of URLs no longer configured.
 */

import { join } from 'node:path';
import type { RemoteWriteConfig } from '../config/remote-write.js';
import type { StreamAggrConfig } from '../config/stream-aggr.js';
import { streamAggrEnabled } from '../config/stream-aggr-outputs.js';
import { DirInUseError, lockDir } from '../lock/dir-lock.js';
import { StreamAggregation, StreamAggrMetrics } from '../streamaggr/index.js';
import { SeriesLimits } from './series-limits.js';
import type { RemoteWriteOptions } from '../config/tributary.js';
import type { MetricMetadata } from '../formats/remotewrite/index.js';
import { SampleBatch } from '../model/samples.js';
import type { Logger } from '../log/logger.js';
import type { SinkFanout } from '../pipeline/index.js';
import type { Registry } from '../selfmetrics/registry.js';
import type { DiskFs } from './disk-queue.js';
import { RemoteWriteQueue, type QueueCounters } from './queue.js';
import { QUEUES_SUBDIR, describeUrl, queueDirName, removeUnconfiguredQueues } from './queue-dir.js';
import { RemoteWriteRouter } from './router.js';
import { DISK_OPS } from './spill-queue.js';

export { RemoteWriteQueue } from './queue.js';
export { DiskQueue, nodeDiskFs, type DiskFs } from './disk-queue.js';
export { QueueDirInUseError, queueDirName } from './queue-dir.js';

export interface RemoteWriteDeps {
  readonly pipeline: SinkFanout;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly dataDir: string;
  readonly externalLabels: Readonly<Record<string, string>>;
  readonly options: RemoteWriteOptions;
  /** The global `stream_aggr` section. */
  readonly streamAggr?: StreamAggrConfig;
  /** The metric metadata to send (every `metadata_config.send_interval`). */
  readonly metadata?: () => MetricMetadata[];
  /** The disk queues' file operations (node:fs; a test makes them fail). */
  readonly diskFs?: DiskFs;
}

export interface RunningRemoteWrite {
  readonly queues: readonly RemoteWriteQueue[];
  /**
   * Takes a reloaded configuration: the shared stage (external labels, global relabeling and
   * labels, sharding) is rebuilt; a queue whose entry is unchanged keeps running untouched, one
   * whose entry changed is stopped (what it holds goes to its disk queue) and started again on
   * the new entry, a removed URL's queue is stopped and its directory removed, as at start.
   */
  apply(
    configs: readonly RemoteWriteConfig[],
    externalLabels: Readonly<Record<string, string>>,
    options: RemoteWriteOptions,
    streamAggr?: StreamAggrConfig,
  ): Promise<RemoteWriteChange>;
  /** Queues what is gathered, sends for up to `timeoutMs`, then stops; the rest stays on disk. */
  close(timeoutMs?: number): Promise<void>;
}

/** Queues by what happened to them in `apply`, each named by its URL (without credentials). */
export interface RemoteWriteChange {
  readonly started: string[];
  readonly changed: string[];
  readonly stopped: string[];
  readonly kept: string[];
}

interface QueueSlot {
  /** Everything the queue was built from: equal keys mean the queue can be kept. */
  readonly key: string;
  readonly dir: string;
  readonly config: RemoteWriteConfig;
  readonly url: string;
  readonly queue: RemoteWriteQueue;
}

/** Where the global stream aggregation keeps its state (and its lock). */
export const STREAM_AGGR_SUBDIR = 'streamaggr';

/** Opens every URL's queue (QueueDirInUseError when another process holds one), then starts them. */
export async function startRemoteWrite(configs: readonly RemoteWriteConfig[], deps: RemoteWriteDeps): Promise<RunningRemoteWrite> {
  const root = join(deps.dataDir, QUEUES_SUBDIR);
  const counters = queueCounters(deps.registry);
  const aggrMetrics = new StreamAggrMetrics(deps.registry);
  const limits = new SeriesLimits(deps.registry, deps.logger);
  let slots: QueueSlot[] = [];
  let detach = () => {};
  let timers: NodeJS.Timeout[] = [];
  let router: RemoteWriteRouter | undefined;
  /** While queues are swapped on a reload: what arrives meanwhile (true: an aggregation output, past the shared stages). */
  let held: Array<[string, SampleBatch, boolean]> | undefined;
  let global: { key: string; aggregation: StreamAggregation; release: () => void } | undefined;

  const hold = (job: string, batch: SampleBatch, aggregated: boolean) => {
    const copy = new SampleBatch(Math.max(1, batch.length));
    for (let i = 0; i < batch.length; i++) copy.appendFrom(batch, i, batch.series[i]);
    held!.push([job, copy, aggregated]);
  };
  const emitAggregated = (batch: SampleBatch) => {
    if (held) hold('stream_aggr', batch, true);
    else router?.distribute('stream_aggr', batch);
  };
  /** The global aggregation for `section`: kept when unchanged, else closed (its state written) and opened anew. */
  const setGlobal = async (section: StreamAggrConfig | undefined) => {
    const key = streamAggrEnabled(section) && slots.length > 0 ? JSON.stringify(section) : '';
    if (streamAggrEnabled(section) && slots.length === 0) deps.logger.warn('stream_aggr is configured but there is no remote_write URL: nothing is aggregated');
    if (key === (global?.key ?? '')) return;
    if (global) {
      await global.aggregation.close();
      global.release();
      global = undefined;
    }
    if (!key) return;
    const dir = join(deps.dataDir, STREAM_AGGR_SUBDIR);
    let lock: ReturnType<typeof lockDir>;
    try {
      lock = lockDir(dir, (pid) => `the stream aggregation state in ${dir} is in use by another process (pid ${pid})`);
    } catch (err) {
      if (err instanceof DirInUseError) throw err;
      throw new Error(`the stream aggregation state directory ${dir}: ${(err as Error).message}`);
    }
    const aggregation = new StreamAggregation(section!, {
      scope: 'global',
      stateFile: join(dir, 'global.state'),
      logger: deps.logger,
      metrics: aggrMetrics,
      emit: emitAggregated,
    });
    try {
      await aggregation.open();
    } catch (err) {
      lock.release();
      throw err;
    }
    global = { key, aggregation, release: () => lock.release() };
  };

  const plan = (next: readonly RemoteWriteConfig[]) => {
    const seen = new Map<string, number>();
    return next.map((c) => {
      const id = `${c.name ?? ''}\n${c.url}`;
      const occurrence = seen.get(id) ?? 0;
      seen.set(id, occurrence + 1);
      const dir = queueDirName(c, occurrence);
      return { config: c, dir, key: JSON.stringify([dir, c]) };
    });
  };
  const build = async (p: ReturnType<typeof plan>[number]): Promise<QueueSlot> => {
    const url = p.config.name || describeUrl(p.config);
    const queue = new RemoteWriteQueue(p.config, {
      dir: join(root, p.dir),
      logger: deps.logger,
      counters: counters(url),
      metadata: deps.metadata,
      fs: deps.diskFs,
      aggrMetrics,
    });
    await queue.open();
    queue.start();
    return { key: p.key, dir: p.dir, config: p.config, url, queue };
  };
  const route = (externalLabels: Readonly<Record<string, string>>, options: RemoteWriteOptions) => {
    // detached and attached within one turn, so no batch goes to both routers or to neither
    detach();
    const queues = slots.map((s) => s.queue);
    limits.configure(options);
    router = queues.length > 0 ? new RemoteWriteRouter(queues, options, externalLabels, { limits, aggregation: global?.aggregation }) : undefined;
    detach = router ? deps.pipeline.add(router) : () => {};
    for (const t of timers) clearInterval(t);
    timers = slots.flatMap(({ config }, i) => {
      const m = config.metadata_config;
      if (!m.send || deps.metadata === undefined) return [];
      const metadata = deps.metadata;
      const t = setInterval(() => queues[i].writeMetadata(metadata()), m.send_interval);
      t.unref();
      return [t];
    });
    return router;
  };
  const removeOthers = async (keep: ReadonlySet<string>) => {
    for (const gone of await removeUnconfiguredQueues(root, keep)) {
      deps.logger.warn('removed the disk queue of a remote-write URL no longer configured', { ...gone });
    }
  };

  const first = plan(configs);
  await removeOthers(new Set(first.map((p) => p.dir)));
  try {
    for (const p of first) slots.push(await build(p));
    await setGlobal(deps.streamAggr);
  } catch (err) {
    await Promise.all(slots.map((s) => s.queue.close(0)));
    throw err;
  }
  route(deps.externalLabels, deps.options);

  return {
    get queues() {
      return slots.map((s) => s.queue);
    },
    async apply(next, externalLabels, options, streamAggr) {
      const wanted = plan(next);
      const byKey = new Map(slots.map((s) => [s.key, s]));
      const wantedKeys = new Set(wanted.map((p) => p.key));
      const wantedDirs = new Set(wanted.map((p) => p.dir));
      const change: RemoteWriteChange = { started: [], changed: [], stopped: [], kept: [] };
      const leaving = slots.filter((s) => !wantedKeys.has(s.key));
      // Stopped before their successors start, since a changed entry reuses its directory (and
      // lock); what the scrapes (and the global aggregation) deliver meanwhile is held and then
      // goes through the new router.
      held = [];
      detach();
      detach = deps.pipeline.add({ write: (job, batch) => hold(job, batch, false) });
      if (leaving.length > 0) await Promise.all(leaving.map((s) => s.queue.close(0)));
      for (const s of leaving) if (!wantedDirs.has(s.dir)) change.stopped.push(s.url);
      const before = new Set(slots.map((s) => s.dir));
      const built: QueueSlot[] = [];
      try {
        for (const p of wanted) {
          const kept = byKey.get(p.key);
          if (kept) {
            byKey.delete(p.key);
            built.push(kept);
            change.kept.push(kept.url);
            continue;
          }
          const s = await build(p);
          built.push(s);
          (before.has(p.dir) ? change.changed : change.started).push(s.url);
        }
      } finally {
        // after a queue that cannot start, the unchanged ones not reached yet go on running
        for (const s of byKey.values()) if (wantedKeys.has(s.key)) built.push(s);
        slots = built;
        try {
          await setGlobal(streamAggr);
        } finally {
          const r = route(externalLabels, options);
          const waiting = held;
          held = undefined;
          for (const [job, batch, aggregated] of waiting) {
            if (aggregated) r?.distribute(job, batch);
            else r?.write(job, batch);
          }
        }
      }
      await removeOthers(wantedDirs);
      return change;
    },
    async close(timeoutMs = 5_000) {
      detach();
      for (const t of timers) clearInterval(t);
      // before the queues: its last outputs go to them
      await setGlobal(undefined);
      await Promise.all(slots.map((s) => s.queue.close(timeoutMs)));
    },
  };
}

function queueCounters(r: Registry): (url: string) => QueueCounters {
  const byUrl = (name: string, help: string, extra: string[] = []) => r.counter({ name, help, labelNames: ['url', ...extra] });
  const samples = byUrl('tributary_remotewrite_samples_sent_total', 'Samples the receiver accepted.');
  const bytes = byUrl('tributary_remotewrite_bytes_sent_total', 'Compressed request bytes sent and answered, whatever the answer (2xx, 4xx, 5xx).');
  const requests = byUrl(
    'tributary_remotewrite_requests_total',
    'Requests by status code, or for those without an answer by failure: timeout, refused (connection refused), reset (connection reset or closed), tls (handshake or certificate) or error (anything else).',
    ['code'],
  );
  const retries = byUrl('tributary_remotewrite_retries_total', 'Requests retried after a 5xx, 429 or network error.');
  const dropped = byUrl(
    'tributary_remotewrite_samples_dropped_total',
    'Samples given up, by reason: queue_full (max_disk_usage reached, oldest dropped), disk_full (the disk failed and the memory bound was reached, oldest dropped), too_old (older than sample_age_limit when their turn came), http_<code> (refused by the receiver) or not_written (a 2.0 receiver accepted the request but wrote fewer samples).',
    ['reason'],
  );
  const pending = r.gauge({
    name: 'tributary_remotewrite_pending_bytes',
    help: 'Bytes not yet sent: being gathered into a request (location="memory") or queued on disk, compressed (location="disk").',
    labelNames: ['url', 'location'],
  });
  const diskErrors = byUrl(
    'tributary_remotewrite_disk_errors_total',
    'Disk-queue file operations that failed, by op: open, write (a short write too), fsync, read or close. The requests stay in memory meanwhile (past its bound: samples_dropped_total{reason="disk_full"}).',
    ['op'],
  );
  const age = r.gauge({
    name: 'tributary_remotewrite_oldest_queued_sample_age_seconds',
    help: 'How long ago the oldest sample not yet sent was queued (0: nothing waiting).',
    labelNames: ['url'],
  });
  const duration = r.histogram({
    name: 'tributary_remotewrite_send_duration_seconds',
    help: 'Time from sending a request to reading its whole response.',
    labelNames: ['url'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  return (url) => {
    // at 0 from the start, so that an alert on increase() sees the first one
    for (const op of DISK_OPS) diskErrors.labels(url, op);
    for (const reason of ['queue_full', 'disk_full', 'too_old']) dropped.labels(url, reason);
    return {
      samplesSent: samples.labels(url),
      bytesSent: bytes.labels(url),
      requests: (code) => requests.labels(url, code),
      retries: retries.labels(url),
      dropped: (reason) => dropped.labels(url, reason),
      sendDuration: duration.labels(url),
      pendingMemoryBytes: pending.labels(url, 'memory'),
      pendingDiskBytes: pending.labels(url, 'disk'),
      oldestAge: age.labels(url),
      diskErrors: (op) => diskErrors.labels(url, op),
    };
  };
}
