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
import type { RemoteWriteOptions } from '../config/tributary.js';
import type { MetricMetadata } from '../formats/remotewrite/index.js';
import type { Logger } from '../log/logger.js';
import type { SinkFanout } from '../pipeline/index.js';
import type { Registry } from '../selfmetrics/registry.js';
import type { DiskFs } from './disk-queue.js';
import { RemoteWriteQueue, type QueueCounters } from './queue.js';
import { QUEUES_SUBDIR, describeUrl, queueDirName, removeUnconfiguredQueues } from './queue-dir.js';
import { RemoteWriteRouter } from './router.js';

export { RemoteWriteQueue } from './queue.js';
export { DiskQueue, type DiskFs } from './disk-queue.js';
export { QueueDirInUseError, queueDirName } from './queue-dir.js';

export interface RemoteWriteDeps {
  readonly pipeline: SinkFanout;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly dataDir: string;
  readonly externalLabels: Readonly<Record<string, string>>;
  readonly options: RemoteWriteOptions;
  /** The metric metadata to send (every `metadata_config.send_interval`). */
  readonly metadata?: () => MetricMetadata[];
  /** The disk queues' file operations (node:fs; a test makes them fail). */
  readonly diskFs?: DiskFs;
}

export interface RunningRemoteWrite {
  readonly queues: readonly RemoteWriteQueue[];
  /** Queues what is gathered, sends for up to `timeoutMs`, then stops; the rest stays on disk. */
  close(timeoutMs?: number): Promise<void>;
}

export function startRemoteWrite(configs: readonly RemoteWriteConfig[], deps: RemoteWriteDeps): RunningRemoteWrite {
  const root = join(deps.dataDir, QUEUES_SUBDIR);
  const dirs = configs.map(queueDirName);
  for (const gone of removeUnconfiguredQueues(root, new Set(dirs))) {
    deps.logger.warn('removed the disk queue of a remote-write URL no longer configured', { ...gone });
  }
  const counters = queueCounters(deps.registry);
  const queues: RemoteWriteQueue[] = [];
  // the series cache keeps one predecessor per series: the first URL that wants it owns it
  const owner = configs.findIndex((c) => c.queue_config.compression === 'fast');
  try {
    configs.forEach((c, i) => {
      queues.push(
        new RemoteWriteQueue(c, {
          dir: join(root, dirs[i]),
          logger: deps.logger,
          counters: counters(c.name || describeUrl(c)),
          ownsSeriesCodes: i === owner,
          fs: deps.diskFs,
        }),
      );
    });
  } catch (err) {
    for (const q of queues) void q.close(0);
    throw err;
  }
  const detach = queues.length > 0 ? deps.pipeline.add(new RemoteWriteRouter(queues, deps.options, deps.externalLabels)) : () => {};
  const timers = configs.flatMap((c, i) => {
    const m = c.metadata_config;
    if (!m.send || deps.metadata === undefined) return [];
    const metadata = deps.metadata;
    const t = setInterval(() => queues[i].writeMetadata(metadata()), m.send_interval);
    t.unref();
    return [t];
  });
  return {
    queues,
    async close(timeoutMs = 5_000) {
      detach();
      for (const t of timers) clearInterval(t);
      await Promise.all(queues.map((q) => q.close(timeoutMs)));
    },
  };
}

function queueCounters(r: Registry): (url: string) => QueueCounters {
  const byUrl = (name: string, help: string, extra: string[] = []) => r.counter({ name, help, labelNames: ['url', ...extra] });
  const samples = byUrl('tributary_remotewrite_samples_sent_total', 'Samples the receiver accepted.');
  const bytes = byUrl('tributary_remotewrite_bytes_sent_total', 'Compressed request bytes the receiver accepted.');
  const requests = byUrl('tributary_remotewrite_requests_total', 'Requests by status code ("error": no response).', ['code']);
  const retries = byUrl('tributary_remotewrite_retries_total', 'Requests retried after a 5xx, 429 or network error.');
  const dropped = byUrl(
    'tributary_remotewrite_samples_dropped_total',
    'Samples given up, by reason: queue_full (max_disk_usage reached, oldest dropped), disk_full (the disk failed and the memory bound was reached, oldest dropped), too_old (older than sample_age_limit when their turn came) or http_<code> (refused by the receiver).',
    ['reason'],
  );
  const pending = r.gauge({
    name: 'tributary_remotewrite_pending_bytes',
    help: 'Bytes not yet sent: being gathered into a request (location="memory") or queued on disk, compressed (location="disk").',
    labelNames: ['url', 'location'],
  });
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
  return (url) => ({
    samplesSent: samples.labels(url),
    bytesSent: bytes.labels(url),
    requests: (code) => requests.labels(url, code),
    retries: retries.labels(url),
    dropped: (reason) => dropped.labels(url, reason),
    sendDuration: duration.labels(url),
    pendingMemoryBytes: pending.labels(url, 'memory'),
    pendingDiskBytes: pending.labels(url, 'disk'),
    oldestAge: age.labels(url),
  });
}
