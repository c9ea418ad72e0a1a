/**
 * Remote write: one queue per `remote_write` entry (and per `--remote-write-url`), each fed by
 * the sample pipeline, relabeling for its URL, encoding and sending on its own — a slow or dead
 * URL holds up only its own queue. `startRemoteWrite` builds the queues and their self-metrics
 * and attaches them to the pipeline.
 */

import type { RemoteWriteConfig } from '../config/remote-write.js';
import type { Logger } from '../log/logger.js';
import type { SinkFanout } from '../pipeline/index.js';
import type { Registry } from '../selfmetrics/registry.js';
import { RemoteWriteQueue, type QueueCounters } from './queue.js';

export { RemoteWriteQueue } from './queue.js';

export interface RemoteWriteDeps {
  readonly pipeline: SinkFanout;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly externalLabels: Readonly<Record<string, string>>;
}

export interface RunningRemoteWrite {
  readonly queues: readonly RemoteWriteQueue[];
  /** Sends what is gathered (within `timeoutMs`), then stops. */
  close(timeoutMs?: number): Promise<void>;
}

export function startRemoteWrite(configs: readonly RemoteWriteConfig[], deps: RemoteWriteDeps): RunningRemoteWrite {
  const r = deps.registry;
  const byUrl = (name: string, help: string, extra: string[] = []) => r.counter({ name, help, labelNames: ['url', ...extra] });
  const samples = byUrl('tributary_remotewrite_samples_sent_total', 'Samples the receiver accepted.');
  const bytes = byUrl('tributary_remotewrite_bytes_sent_total', 'Compressed request bytes the receiver accepted.');
  const requests = byUrl('tributary_remotewrite_requests_total', 'Requests by status code ("error": no response).', ['code']);
  const retries = byUrl('tributary_remotewrite_retries_total', 'Requests retried after a 5xx, 429 or network error.');
  const dropped = byUrl('tributary_remotewrite_samples_dropped_total', 'Samples given up, by reason.', ['reason']);
  const pending = r.gauge({
    name: 'tributary_remotewrite_pending_bytes',
    help: 'Compressed bytes waiting to be sent.',
    labelNames: ['url'],
  });
  const queues = configs.map((c) => {
    const name = c.name || c.url;
    const counters: QueueCounters = {
      samplesSent: samples.labels(name),
      bytesSent: bytes.labels(name),
      requests: (code) => requests.labels(name, code),
      retries: retries.labels(name),
      dropped: (reason) => dropped.labels(name, reason),
      pendingBytes: pending.labels(name),
    };
    return new RemoteWriteQueue(c, { externalLabels: deps.externalLabels, logger: deps.logger, counters });
  });
  const detach = queues.map((q) => deps.pipeline.add(q));
  return {
    queues,
    async close(timeoutMs = 5_000) {
      for (const d of detach) d();
      await Promise.all(queues.map((q) => q.close(timeoutMs)));
    },
  };
}
