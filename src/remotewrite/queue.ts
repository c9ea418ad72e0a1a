/**
 * One remote-write destination: samples from the pipeline are relabeled for this URL (external
 * labels, `write_relabel_configs`, both cached per series), encoded into WriteRequests of up to
 * `max_samples_per_send` samples (or whatever a flush interval gathered), snappy-compressed, and
 * sent one request at a time, in order, so every series' samples arrive in timestamp order.
 * Failures: 5xx, 429 and network errors are retried with exponential backoff and jitter,
 * honouring Retry-After; other 4xx are dropped and counted.
 *
 * This first version keeps its backlog in memory, bounded (the oldest blocks go first, counted);
 * the disk queue replaces that bound next.
 */

import { compressSync } from 'snappy';
import type { Dispatcher } from 'undici';
import type { RemoteWriteConfig } from '../config/remote-write.js';
import { WriteRequestWriter } from '../formats/remotewrite/index.js';
import type { Logger } from '../log/logger.js';
import { Labels, LabelsBuilder } from '../model/labels.js';
import { SampleBatch } from '../model/samples.js';
import { HttpClient } from '../outbound/index.js';
import type { SampleSink } from '../pipeline/index.js';
import { CachedRelabeler, Relabeler, type LabelsProcessor } from '../relabel/index.js';
import type { CounterChild, GaugeChild } from '../selfmetrics/registry.js';
import { VERSION } from '../runtime/version.js';

export interface QueueCounters {
  readonly samplesSent: CounterChild;
  readonly bytesSent: CounterChild;
  readonly requests: (code: string) => CounterChild;
  readonly retries: CounterChild;
  readonly dropped: (reason: string) => CounterChild;
  readonly pendingBytes: GaugeChild;
}

export interface QueueOptions {
  readonly externalLabels: Readonly<Record<string, string>>;
  /** How long samples may wait for a fuller request; 1 s like vmagent's flush interval. */
  readonly flushIntervalMs?: number;
  /** Backlog kept in memory before the oldest requests are dropped. */
  readonly maxPendingBytes?: number;
  readonly logger: Logger;
  readonly counters: QueueCounters;
}

const MAX_BACKOFF_MS = 60_000;
const MIN_BACKOFF_MS = 1_000;

/** Adds the external labels a series does not have itself (Prometheus' rule). */
class ExternalLabels implements LabelsProcessor {
  private readonly lb = new LabelsBuilder();
  constructor(private readonly extra: readonly [string, string][]) {}
  process(labels: Labels): Labels {
    let missing = false;
    for (const [n] of this.extra) if (labels.get(n) === undefined) missing = true;
    if (!missing) return labels;
    const lb = this.lb.reset(labels);
    for (const [n, v] of this.extra) if (lb.get(n) === undefined) lb.set(n, v);
    return lb.build();
  }
}

class Chain implements LabelsProcessor {
  constructor(private readonly steps: readonly LabelsProcessor[]) {}
  process(labels: Labels): Labels | undefined {
    let l: Labels | undefined = labels;
    for (const s of this.steps) {
      l = s.process(l);
      if (l === undefined) return undefined;
    }
    return l;
  }
}

export class RemoteWriteQueue implements SampleSink {
  readonly name: string;
  private readonly client: HttpClient;
  private readonly transform: LabelsProcessor | undefined;
  private readonly writer = new WriteRequestWriter();
  private readonly scratch = new SampleBatch(1024);
  private readonly pending: { block: Buffer; samples: number }[] = [];
  private pendingBytes = 0;
  private readonly maxSamples: number;
  private readonly flushIntervalMs: number;
  private readonly maxPendingBytes: number;
  private flushTimer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closed = false;
  private readonly stop = new AbortController();
  private readonly log: Logger;
  private readonly url: URL;

  constructor(
    private readonly config: RemoteWriteConfig,
    private readonly opts: QueueOptions,
  ) {
    this.url = new URL(config.url);
    this.name = config.name || redact(this.url);
    this.client = new HttpClient(config);
    this.log = opts.logger.child({ remote_write: this.name });
    this.maxSamples = Math.max(1, config.queue_config.max_samples_per_send);
    this.flushIntervalMs = opts.flushIntervalMs ?? 1_000;
    this.maxPendingBytes = opts.maxPendingBytes ?? 256 * 1024 * 1024;
    const steps: LabelsProcessor[] = [];
    const extra = Object.entries(opts.externalLabels);
    if (extra.length > 0) steps.push(new ExternalLabels(extra));
    if (config.write_relabel_configs.length > 0) steps.push(Relabeler.compile(config.write_relabel_configs));
    this.transform = steps.length > 0 ? new CachedRelabeler(steps.length === 1 ? steps[0] : new Chain(steps)) : undefined;
  }

  write(_job: string, batch: SampleBatch): void {
    if (this.closed) return;
    let source = batch;
    if (this.transform) {
      const s = this.scratch;
      s.reset();
      for (let i = 0; i < batch.length; i++) {
        const l = this.transform.process(batch.series[i]);
        if (l === undefined) continue;
        if (batch.isStale(i)) s.appendStale(l, batch.timestamps[i]);
        else s.append(l, batch.values[i], batch.timestamps[i]);
      }
      source = s;
    }
    let from = 0;
    while (from < source.length) {
      const room = this.maxSamples - this.writer.samples;
      const to = Math.min(source.length, from + room);
      this.writer.append(source, from, to);
      from = to;
      if (this.writer.samples >= this.maxSamples) this.seal();
    }
    if (this.writer.samples > 0 && this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.seal();
      }, this.flushIntervalMs);
    }
  }

  /** Sends what is gathered and waits for the backlog to drain (or `timeoutMs` to pass). */
  async flush(timeoutMs = 10_000): Promise<void> {
    this.seal();
    const deadline = Date.now() + timeoutMs;
    while ((this.pending.length > 0 || this.sending) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(timeoutMs = 5_000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    clearTimeout(this.flushTimer);
    this.stop.abort();
    await this.sending;
    await this.client.close();
  }

  private seal(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.writer.samples === 0) return;
    const block = compressSync(this.writer.bytes());
    this.pending.push({ block, samples: this.writer.samples });
    this.writer.reset();
    this.pendingBytes += block.length;
    while (this.pendingBytes > this.maxPendingBytes && this.pending.length > 1) {
      const old = this.pending.shift()!;
      this.pendingBytes -= old.block.length;
      this.opts.counters.dropped('queue_full').inc(old.samples);
    }
    this.opts.counters.pendingBytes.set(this.pendingBytes);
    this.sending ??= this.drain().finally(() => {
      this.sending = undefined;
    });
  }

  private async drain(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (this.pending.length > 0 && !this.stop.signal.aborted) {
      const { block, samples } = this.pending[0];
      const outcome = await this.send(block, samples);
      if (outcome.kind === 'retry') {
        this.opts.counters.retries.inc();
        const wait = outcome.retryAfterMs ?? backoff * (0.5 + Math.random());
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        await sleep(wait, this.stop.signal);
        continue;
      }
      backoff = MIN_BACKOFF_MS;
      this.pending.shift();
      this.pendingBytes -= block.length;
      this.opts.counters.pendingBytes.set(this.pendingBytes);
    }
  }

  private async send(block: Buffer, samples: number): Promise<{ kind: 'done' } | { kind: 'retry'; retryAfterMs?: number }> {
    let dispatcher: Dispatcher;
    let headers: Record<string, string | string[]>;
    try {
      dispatcher = await this.client.get();
      headers = await this.client.headers();
    } catch (err) {
      this.log.error('cannot prepare the remote-write request', { err: (err as Error).message });
      return { kind: 'retry' };
    }
    try {
      const res = await dispatcher.request({
        origin: this.url.origin,
        path: this.url.pathname + this.url.search,
        method: 'POST',
        headers: {
          ...this.config.headers,
          ...headers,
          'content-encoding': 'snappy',
          'content-type': 'application/x-protobuf',
          'user-agent': `Tributary/${VERSION}`,
          'x-prometheus-remote-write-version': '0.1.0',
        },
        body: block,
        signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(this.config.remote_timeout)]),
      });
      const text = await res.body.text();
      const code = String(res.statusCode);
      this.opts.counters.requests(code).inc();
      if (res.statusCode >= 200 && res.statusCode < 300) {
        this.opts.counters.bytesSent.inc(block.length);
        this.opts.counters.samplesSent.inc(samples);
        return { kind: 'done' };
      }
      if (res.statusCode >= 500 || res.statusCode === 429) {
        return { kind: 'retry', retryAfterMs: retryAfter(res.headers['retry-after']) };
      }
      this.opts.counters.dropped(`http_${code}`).inc(samples);
      this.log.warn('the receiver refused a request; its samples are dropped', {
        status: res.statusCode,
        response: text.slice(0, 300),
      });
      return { kind: 'done' };
    } catch (err) {
      if (this.stop.signal.aborted) return { kind: 'done' };
      this.opts.counters.requests('error').inc();
      this.log.debug('remote write failed; will retry', { err: (err as Error).message });
      return { kind: 'retry' };
    }
  }
}

function retryAfter(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const secs = Number(s);
  if (Number.isFinite(secs)) return Math.min(secs * 1000, MAX_BACKOFF_MS);
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, Math.min(at - Date.now(), MAX_BACKOFF_MS)) : undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

function redact(url: URL): string {
  const u = new URL(url.href);
  u.username = u.password = '';
  return u.href;
}
