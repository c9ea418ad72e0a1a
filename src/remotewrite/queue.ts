/**
 * One remote-write destination. Samples from the pipeline pass this URL's label stages (its
 * `labels`, then `write_relabel_configs`, cached per series) and are split by series hash over
 * `senders` shards, so each series always travels through the same shard and its samples stay
 * in timestamp order however many requests are in flight. Each shard gathers a compressed
 * WriteRequest (`compression: fast`: snappy written as it encodes, from per-series cached
 * records; `small`: encoded, then compressed whole) until it holds `max_samples_per_send`
 * samples or has gathered for half a `batch_send_deadline`, and pushes it to the shard's
 * SpillQueue (spill-queue.ts: memory in front of the disk queue); the shard's sender sends one
 * request at a time, the oldest first.
 *
 * Records still unsent (the one in flight too) when three quarters of `batch_send_deadline`
 * old are spilled to the shard's disk queue, so no sample is held only in memory for longer than
 * `batch_send_deadline` — the most a `kill -9` loses — a slow or dead receiver costs disk
 * rather than memory, and a restart sends what was queued; a receiver that keeps up costs no
 * disk writes. Failures: 5xx, 429 and network errors are retried with exponential backoff
 * (queue_config min_backoff to max_backoff) and jitter, honouring Retry-After; other 4xx are
 * dropped and counted. An outage is logged once, summarised every minute, and its end logged
 * (failures.ts). Requests are queued as 1.0 whatever the URL is sent (protocol.ts).
 *
 * A disk that fails (ENOSPC, EIO: any error opening, writing, syncing or reading the queue's
 * files) stops nothing: the spill queue keeps the records in memory up to MAX_MEMORY_BYTES per
 * sender and drops the oldest past it (`reason="disk_full"`). Every error is counted by operation
 * (`tributary_remotewrite_disk_errors_total{op}`); the senders share one disk, so a failure is an
 * episode of the queue's: its first error is logged with the operation, path and errno, and its
 * end (with what every sender dropped) once each failing sender wrote and synced again.
 *
 * Lifecycle: the constructor touches no file and starts no timer; `open` takes the directory's
 * lock (QueueDirInUseError when another process holds it) and opens the shards' spill queues,
 * `start` starts the senders and the timer, `close` stops them.
 */

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RemoteWriteConfig } from '../config/remote-write.js';
import {
  CompressingWriteRequestWriter,
  SnappyWriteRequestWriter,
  type MetricMetadata,
  type PayloadAlloc,
  type RequestEncoder,
} from '../formats/remotewrite/index.js';
import type { Logger } from '../log/logger.js';
import { SampleBatch } from '../model/samples.js';
import type { SampleSink } from '../pipeline/index.js';
import type { LabelsProcessor } from '../relabel/index.js';
import type { CounterChild, GaugeChild } from '../selfmetrics/registry.js';
import { RemoteWriteClient, type SendCounters, type SendOutcome } from './client.js';
import { JetStreamClient } from './jetstream.js';
import { isNatsUrl } from '../nats/index.js';
import { OutageLog } from './failures.js';
import { MetadataIndex } from './protocol.js';
import type { DiskFs } from './disk-queue.js';
import { describeUrl, lockQueueDir } from './queue-dir.js';
import { SpillQueue, type DiskOp, type SpillRecord } from './spill-queue.js';
import { applyStages, compileStages } from './stages.js';
import { streamAggrEnabled } from '../config/stream-aggr-outputs.js';
import { StreamAggregation, type StreamAggrMetrics } from '../streamaggr/index.js';

const DROPPED_AS_TOO_OLD: SendOutcome = { kind: 'done' };
/** Compressed requests a sender holds in memory before writing them to disk (or dropping the oldest, when the disk fails). */
const MAX_MEMORY_BYTES = 4 * 1024 * 1024;

export interface QueueCounters extends SendCounters {
  readonly retries: CounterChild;
  readonly pendingMemoryBytes: GaugeChild;
  readonly pendingDiskBytes: GaugeChild;
  readonly oldestAge: GaugeChild;
  readonly diskErrors: (op: DiskOp) => CounterChild;
}

export interface QueueOptions {
  /** This URL's own directory (see queue-dir.ts). */
  readonly dir: string;
  readonly logger: Logger;
  readonly counters: QueueCounters;
  /** The scrapes' metric metadata, attached to series sent as remote write 2.0. */
  readonly metadata?: () => readonly MetricMetadata[];
  /** The disk queues' file operations (a test makes them fail). */
  readonly fs?: DiskFs;
  /** Where this URL's stream aggregation (`stream_aggr`) counts. */
  readonly aggrMetrics?: StreamAggrMetrics;
}

/** This URL's aggregation state, beside its shards in the queue's directory (and removed with it). */
export const STREAM_AGGR_STATE = 'streamaggr.state';

/** Shard directories are `s00`, `s01`, …; ones beyond `senders` (it was lowered) are drained, then removed. */
const SHARD_DIR = /^s(\d{2})$/;

/**
 * Request buffers given back once a receiver accepted them, for the requests sealed next. A
 * request lives from its seal to its acknowledgement, long enough to leave V8's young
 * generation, so a buffer per request was freed only by the next full collection: at a few
 * requests a second, 10 MB of dead requests between two. Only buffers this pool handed out
 * come back, and only when the spill queue no longer holds them (spill-queue.ts `ack`).
 */
class PayloadPool {
  private readonly free: Buffer[] = [];
  private readonly mine = new WeakSet<ArrayBufferLike>();

  constructor(private readonly keep: number) {}

  readonly take: PayloadAlloc = (bytes) => {
    const free = this.free;
    for (let i = free.length - 1; i >= 0; i--) {
      if (free[i].length >= bytes) return free.splice(i, 1)[0].subarray(0, bytes);
    }
    // rounded up, so that a request a little longer than the last still finds one
    const whole = Buffer.allocUnsafeSlow(Math.ceil((bytes + 1) / PAYLOAD_ROUNDING) * PAYLOAD_ROUNDING);
    this.mine.add(whole.buffer);
    return whole.subarray(0, bytes);
  };

  readonly give = (payload: Buffer): void => {
    if (this.free.length < this.keep && this.mine.has(payload.buffer)) this.free.push(Buffer.from(payload.buffer));
  };
}

const PAYLOAD_ROUNDING = 16 * 1024;

class Shard {
  /** When the first sample of the request being gathered arrived. */
  startedAt = 0;
  /** When the request being sent was created (0: none). */
  headCreatedAt = 0;
  wake: (() => void) | undefined;
  loop: Promise<void> = Promise.resolve();
  /** Its spill and sync of the last tick are still running. */
  ticking = false;

  constructor(
    readonly dir: string,
    readonly queue: SpillQueue,
    /** Takes no new samples; removed once sent. */
    readonly retired: boolean,
    readonly writer: RequestEncoder,
  ) {}

  notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

export class RemoteWriteQueue implements SampleSink {
  readonly name: string;
  private readonly client: Pick<RemoteWriteClient, 'send' | 'close'>;
  private readonly stages: LabelsProcessor | undefined;
  private readonly scratch = new SampleBatch(1024);
  private readonly passed = new SampleBatch(1024);
  /** This URL's stream aggregation and deduplication, after its label stages. */
  private aggregation: StreamAggregation | undefined;
  private readonly shards: Shard[] = [];
  private readonly payloads = new PayloadPool(4);
  /** The shards that take new samples: the first `senders` (none before `open`). */
  private active: Shard[] = [];
  private readonly maxSamples: number;
  /** batch_send_deadline: how long a sample may be held only in memory. */
  private readonly deadline: number;
  private ticker: NodeJS.Timeout | undefined;
  private closed = false;
  /** The disk fails for some senders: since when, how many, what the recovered ones dropped. */
  private diskEpisode: { since: number; shards: number; dropped: number } | undefined;
  /** Samples a full queue dropped since the last log line about it. */
  private fullDrops: { samples: number; loggedAt: number } | undefined;
  private readonly stop = new AbortController();
  private readonly log: Logger;
  private unlock: () => void = () => {};
  private readonly outage: OutageLog;

  constructor(
    private readonly config: RemoteWriteConfig,
    private readonly opts: QueueOptions,
  ) {
    this.name = config.name || describeUrl(config);
    this.log = opts.logger.child({ remote_write: this.name });
    this.outage = new OutageLog(this.log, () => this.oldestAgeSeconds());
    const metadata = opts.metadata && config.metadata_config.send ? new MetadataIndex(opts.metadata) : undefined;
    this.client = isNatsUrl(config.url)
      ? new JetStreamClient(config, opts.counters, this.log, this.outage)
      : new RemoteWriteClient(config, opts.counters, this.log, { outage: this.outage, metadata });
    this.maxSamples = config.queue_config.max_samples_per_send;
    this.deadline = config.queue_config.batch_send_deadline;
    this.stages = compileStages([{ addLabels: config.labels }, { relabel: config.write_relabel_configs }]);
  }

  /**
   * Takes the queue's directory and opens its shards' spill queues. Throws QueueDirInUseError
   * when another process holds the directory (nothing is left open then); a disk that fails is
   * logged and counted, and the queue runs from memory.
   */
  async open(): Promise<void> {
    try {
      this.unlock = lockQueueDir(this.opts.dir, this.config, this.log);
      const q = this.config.queue_config;
      await this.openShards(q.senders, q.max_disk_usage);
      const section = this.config.stream_aggr;
      if (streamAggrEnabled(section)) {
        this.aggregation = new StreamAggregation(section, {
          scope: this.name,
          stateFile: join(this.opts.dir, STREAM_AGGR_STATE),
          logger: this.log,
          metrics: this.opts.aggrMetrics,
          emit: (batch) => this.append(batch),
        });
        await this.aggregation.open();
      }
    } catch (err) {
      await Promise.all(this.shards.map((s) => s.queue.close()));
      this.shards.length = 0;
      this.unlock();
      await this.client.close();
      throw err;
    }
    this.active = this.shards.filter((s) => !s.retired);
    this.updateGauges();
  }

  /** Starts the senders and the timer that seals, spills and syncs. */
  start(): void {
    for (const s of this.shards) s.loop = this.run(s);
    this.ticker = setInterval(() => this.tick(), this.deadline / 4);
    this.ticker.unref();
  }

  /** A sender's queue is at its bound: more now would push its oldest data out. */
  overloaded(): boolean {
    for (const s of this.active) if (s.queue.full) return true;
    return false;
  }

  write(_job: string, batch: SampleBatch): void {
    if (this.closed) return;
    let source = this.stages ? applyStages(this.stages, batch, this.scratch) : batch;
    if (this.aggregation) source = this.aggregation.process(source, this.passed);
    this.append(source);
  }

  /** Samples past the label stages (and the aggregation) into the senders' requests. */
  private append(source: SampleBatch): void {
    if (this.closed) return;
    const shards = this.active;
    const n = shards.length;
    for (let i = 0; i < source.length; i++) {
      const shard = n === 1 ? shards[0] : shards[(source.series[i].hash >>> 0) % n];
      const w = shard.writer;
      if (w.samples === 0) shard.startedAt = Date.now();
      w.appendOne(source, i);
      if (w.samples >= this.maxSamples) this.seal(shard);
    }
  }

  /** Queues metadata, in requests of at most `max_samples_per_send` entries, on the first shard. */
  writeMetadata(metadata: readonly MetricMetadata[]): void {
    if (this.closed || metadata.length === 0) return;
    const w = new CompressingWriteRequestWriter(64 * 1024);
    const shard = this.active[0];
    const perRequest = Math.max(1, this.config.metadata_config.max_samples_per_send);
    for (let i = 0; i < metadata.length; i += perRequest) {
      w.reset();
      for (const m of metadata.slice(i, i + perRequest)) w.appendMetadata(m);
      shard.queue.push({ payload: w.finish(), samples: 0, createdAt: Date.now() });
    }
    shard.notify();
  }

  /**
   * Resolves true once every sample written before the call is sent or written to disk and
   * synced, so it survives a `kill -9`; false when the disk fails (it is then only in memory).
   * A consumer that must not acknowledge before that (the NATS ingest) waits on it. A receiver
   * that keeps up is given as long as the timer would (¾ of batch_send_deadline) to take the
   * records, so they need no disk; what it has not taken by then is written and synced.
   */
  async persisted(): Promise<boolean> {
    if (this.closed) return false;
    for (const s of this.active) this.seal(s);
    const until = Date.now() + (this.deadline * 3) / 4;
    while (!this.closed && this.shards.some((s) => !s.queue.empty) && Date.now() < until) await sleep(5, this.stop.signal);
    const results = await Promise.all(
      this.shards.map(async (s) => {
        if (s.queue.empty) return true;
        await s.queue.spill(Infinity);
        await s.queue.sync();
        return !s.queue.diskFailing;
      }),
    );
    return !this.closed && results.every(Boolean);
  }

  /** Queues what is gathered and waits until everything queued was sent (or `timeoutMs` passed). */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    for (const s of this.active) this.seal(s);
    const deadline = Date.now() + timeoutMs;
    while (this.shards.some((s) => !s.queue.empty)) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  /**
   * Queues what is gathered, gives the senders up to `timeoutMs` to send the backlog, then stops
   * them; what is left stays on disk for the next start.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    // its last outputs (flush_on_shutdown) and the samples it could not save go out with the rest
    await this.aggregation?.close();
    await this.flush(timeoutMs);
    this.closed = true;
    clearInterval(this.ticker);
    this.stop.abort();
    for (const s of this.shards) s.notify();
    await Promise.all(this.shards.map((s) => s.loop));
    for (const s of this.shards) {
      // the disk's last chance: what it does not take now is lost, so counted and logged
      const lost = await s.queue.close();
      if (lost > 0) this.log.error('stopping with the disk queue unwritable: samples not sent are lost', { dir: s.dir, samples: lost });
    }
    this.unlock();
    await this.client.close();
  }

  private async openShards(senders: number, maxDiskUsage: number): Promise<void> {
    let names: string[] = [];
    try {
      names = await readdir(this.opts.dir);
    } catch {
      // none yet, or a disk that fails: the spill queues find out and say so
    }
    const existing = names
      .map((n) => SHARD_DIR.exec(n))
      .filter((m) => m !== null)
      .map((m) => Number(m[1]));
    const count = Math.max(senders, ...existing.map((i) => i + 1));
    const perShard = Math.floor(maxDiskUsage / senders);
    // small segments under a small bound, so dropping the oldest one drops a small part
    const segmentBytes = Math.max(64 * 1024, Math.min(32 * 1024 * 1024, Math.floor(perShard / 8)));
    for (let i = 0; i < count; i++) {
      const retired = i >= senders;
      if (retired && !existing.includes(i)) continue;
      const dir = join(this.opts.dir, `s${String(i).padStart(2, '0')}`);
      const { queue, report } = await SpillQueue.open({
        dir,
        maxDiskBytes: perShard,
        segmentBytes,
        maxMemoryBytes: MAX_MEMORY_BYTES,
        retryMs: this.deadline,
        fs: this.opts.fs,
        events: {
          dropped: (reason, samples) => this.dropped(reason, samples),
          diskFailed: (op, err, first) => this.diskFailed(dir, op, err, first),
          diskRecovered: (dropped) => this.diskRecovered(dropped),
        },
      });
      if (report.tornBytes > 0) {
        this.log.warn('the disk queue had a damaged last record (an unclean stop); it was cut off', { dir, bytes: report.tornBytes });
      }
      if (report.pendingBytes > 0) this.log.info('sending what was queued before the restart', { dir, bytes: report.pendingBytes });
      // `fast`: snappy-writer.ts, whose series codes each sender keeps for itself
      const writer = this.config.queue_config.compression === 'fast' ? new SnappyWriteRequestWriter(64 * 1024) : new CompressingWriteRequestWriter(64 * 1024);
      this.shards.push(new Shard(dir, queue, retired, writer));
    }
  }

  private seal(shard: Shard): void {
    const w = shard.writer;
    if (w.samples === 0) return;
    shard.queue.push({ payload: w.finish(this.payloads.take), samples: w.samples, createdAt: shard.startedAt });
    w.reset();
    shard.notify();
  }

  /**
   * A disk error, counted. The senders share one disk, so an episode is the queue's: logged
   * when its first sender fails, ended (and logged, with what every sender dropped) when the
   * last one has written again.
   */
  /**
   * Samples given up for room are counted; those a full queue drops (`queue_full`) are also said
   * in the log at most once a minute, with how many since the last line, so that a queue at its
   * bound is never a silent loss (`disk_full` drops are said by the disk episode's own lines).
   */
  private dropped(reason: 'queue_full' | 'disk_full', samples: number): void {
    this.opts.counters.dropped(reason).inc(samples);
    if (reason !== 'queue_full') return;
    const d = (this.fullDrops ??= { samples: 0, loggedAt: 0 });
    d.samples += samples;
    const now = Date.now();
    if (now - d.loggedAt < 60_000) return;
    this.log.warn('the queue is at its max_disk_usage: its oldest data is dropped to make room (tributary_remotewrite_samples_dropped_total{reason="queue_full"})', { dropped: d.samples });
    d.loggedAt = now;
    d.samples = 0;
  }

  private diskFailed(dir: string, op: DiskOp, err: Error, first: boolean): void {
    this.opts.counters.diskErrors(op).inc();
    if (!first) return;
    if (this.diskEpisode !== undefined) {
      this.diskEpisode.shards++;
      return;
    }
    this.diskEpisode = { since: Date.now(), shards: 1, dropped: 0 };
    this.log.error('the disk queue fails; unsent data is kept in memory (the oldest dropped past its bound) and the disk tried again', {
      dir,
      op,
      ...errorFields(err),
      memory_bound_bytes: MAX_MEMORY_BYTES,
      retry_seconds: this.deadline / 1000,
    });
  }

  /** A sender's disk works again: a record was written and synced since its last failure. */
  private diskRecovered(dropped: number): void {
    const e = this.diskEpisode;
    if (e === undefined) return;
    e.dropped += dropped;
    if (--e.shards > 0) return;
    this.diskEpisode = undefined;
    this.log.info('the disk queue is written again', {
      dir: this.opts.dir,
      failing_seconds: Math.round((Date.now() - e.since) / 1000),
      dropped_samples: e.dropped,
    });
  }

  /**
   * Every quarter of batch_send_deadline: requests gathering for half of it are sealed, and
   * records unsent for three quarters of it go to disk and are synced — so no sample is kept
   * only in memory for longer than batch_send_deadline, which bounds what a `kill -9` loses.
   * A sealed record gets at least a tick for its sender before it is written: a receiver that
   * keeps up is sent nearly everything before it would be. The file work runs in the
   * background; a shard whose previous tick's work is still running (a slow disk) skips this one.
   */
  private tick(): void {
    const now = Date.now();
    const sealBefore = now - this.deadline / 2;
    for (const s of this.active) if (s.writer.samples > 0 && s.startedAt <= sealBefore) this.seal(s);
    const spillBefore = now - (this.deadline * 3) / 4;
    for (const s of this.shards) {
      if (s.ticking) continue;
      s.ticking = true;
      void s.queue
        .spill(spillBefore + 1)
        .then(() => (this.closed ? undefined : s.queue.sync()))
        .finally(() => (s.ticking = false));
    }
    this.updateGauges();
    this.outage.tick();
  }

  private updateGauges(): void {
    let memory = 0;
    let disk = 0;
    for (const s of this.shards) {
      memory += s.writer.size + s.queue.memoryBytes;
      disk += s.queue.diskBytes;
    }
    const c = this.opts.counters;
    c.pendingMemoryBytes.set(memory);
    c.pendingDiskBytes.set(disk);
    c.oldestAge.set(this.oldestAgeSeconds());
  }

  /** How long the oldest sample not yet sent has waited (0: none waits). */
  private oldestAgeSeconds(): number {
    let oldest = Infinity;
    for (const s of this.shards) {
      if (s.queue.diskBytes > 0 && s.headCreatedAt > 0) oldest = Math.min(oldest, s.headCreatedAt);
      else if (s.queue.oldestInMemory > 0) oldest = Math.min(oldest, s.queue.oldestInMemory);
      else if (s.writer.samples > 0) oldest = Math.min(oldest, s.startedAt);
    }
    return oldest === Infinity ? 0 : Math.max(0, (Date.now() - oldest) / 1000);
  }

  private async run(shard: Shard): Promise<void> {
    const signal = this.stop.signal;
    const { min_backoff: minBackoff, max_backoff: maxBackoff } = this.config.queue_config;
    const ageLimit = this.config.queue_config.sample_age_limit;
    let backoff = minBackoff;
    while (!signal.aborted) {
      let rec: SpillRecord | undefined;
      try {
        rec = await shard.queue.next();
      } catch {
        // counted and logged through the spill queue's events; the disk is read again later
        await sleep(maxBackoff, signal);
        continue;
      }
      if (rec === undefined) {
        shard.headCreatedAt = 0;
        if (shard.retired) return this.retire(shard);
        await new Promise<void>((r) => (shard.wake = r));
        continue;
      }
      shard.headCreatedAt = rec.createdAt;
      let outcome: SendOutcome;
      if (ageLimit > 0 && rec.createdAt > 0 && Date.now() - rec.createdAt > ageLimit) {
        this.opts.counters.dropped('too_old').inc(rec.samples);
        outcome = DROPPED_AS_TOO_OLD;
      } else {
        outcome = await this.client.send(rec.payload, rec.samples, signal);
      }
      if (signal.aborted) return;
      if (outcome.kind === 'retry') {
        this.opts.counters.retries.inc();
        this.outage.retried();
        const wait = outcome.retryAfterMs ?? Math.min(backoff * (0.75 + Math.random() / 2), maxBackoff);
        backoff = Math.min(backoff * 2, maxBackoff);
        await sleep(wait, signal);
        continue;
      }
      backoff = minBackoff;
      await shard.queue.ack(outcome.kind === 'done' && outcome.accepted ? this.payloads.give : undefined);
      this.updateGauges();
    }
  }

  private async retire(shard: Shard): Promise<void> {
    await shard.queue.close();
    try {
      await rm(shard.dir, { recursive: true, force: true });
    } catch (err) {
      // sent to its end: what is left on disk is only files, removed at a later start
      this.log.warn('cannot remove a retired shard directory', { dir: shard.dir, ...errorFields(err) });
    }
    this.shards.splice(this.shards.indexOf(shard), 1);
    this.log.info('a shard left over from a higher `senders` setting was sent and removed', { dir: shard.dir });
  }
}

/** An fs error's path and errno for the log (the message already names both). */
function errorFields(err: unknown): Record<string, string> {
  const e = err as NodeJS.ErrnoException;
  return { err: e.message, ...(e.code ? { code: e.code } : {}), ...(e.path ? { path: e.path } : {}) };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
