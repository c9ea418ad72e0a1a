/**
 * A remote-write URL of the form `nats://…/<subject>` (src/nats): each queued request, as it is
 * (snappy-compressed remote write 1.0), is published to the JetStream stream and counts as sent
 * only when JetStream has acknowledged storing it. Until then the queue keeps it, on disk past
 * batch_send_deadline, so a NATS outage only delays. The message id is the request's hash: a
 * publish repeated after a lost acknowledgement is stored once. The same counters and outage
 * log as an HTTP URL; requests are counted by outcome (`ack`, `duplicate`, `timeout`, `error`).
 */

import type { NatsConnection, JetStreamClient as JetStream } from 'nats';
import type { RemoteWriteConfig } from '../config/remote-write.js';
import type { Logger } from '../log/logger.js';
import { connectNats, ensureStream, messageId, natsLib, parseNatsUrl, SAMPLES_HEADER, type NatsAddress } from '../nats/index.js';
import type { SendCounters, SendOutcome } from './client.js';
import type { OutageLog } from './failures.js';

const DONE: SendOutcome = { kind: 'done' };
const RETRY: SendOutcome = { kind: 'retry' };

export class JetStreamClient {
  private readonly address: NatsAddress;
  private connecting: Promise<{ nc: NatsConnection; js: JetStream }> | undefined;
  private streamReady = false;
  private closed = false;
  /** Between a disconnect and the reconnect: a publish would only wait in the client's buffer. */
  private down = false;

  constructor(
    private readonly config: RemoteWriteConfig,
    private readonly counters: SendCounters,
    private readonly log: Logger,
    private readonly outage: OutageLog,
  ) {
    this.address = parseNatsUrl(config.url);
  }

  /** Publishes one queued request and waits for JetStream's acknowledgement. Never throws. */
  async send(block: Buffer, samples: number, stop: AbortSignal): Promise<SendOutcome> {
    if (stop.aborted || this.closed) return RETRY;
    if (this.down) return this.failed('connect', new Error('the NATS connection is down; reconnecting'), stop);
    let js: JetStream;
    try {
      const c = await this.connection();
      js = c.js;
      if (!this.streamReady) {
        await ensureStream(await c.nc.jetstreamManager(), this.address);
        this.streamReady = true;
      }
    } catch (err) {
      return this.failed('connect', err as Error, stop);
    }
    const h = (await natsLib()).headers();
    h.set(SAMPLES_HEADER, String(samples));
    const stopwatch = this.counters.sendDuration.startTimer();
    try {
      const ack = await untilStopped(
        js.publish(this.address.subject, block, {
          msgID: messageId(block),
          headers: h,
          timeout: this.config.remote_timeout,
          expect: { streamName: this.address.stream },
        }),
        stop,
      );
      stopwatch();
      // stopping: the request stays queued; published meanwhile, its id makes the next start's copy a duplicate
      if (ack === undefined) return RETRY;
      this.counters.requests(ack.duplicate ? 'duplicate' : 'ack').inc();
      this.counters.bytesSent.inc(block.length);
      this.counters.samplesSent.inc(samples);
      this.outage.succeeded();
      return DONE;
    } catch (err) {
      stopwatch();
      const e = err as Error & { code?: string };
      // a stream deleted under us is made again at the next try
      if (/stream not found|no responders/i.test(e.message) || e.code === '503') this.streamReady = false;
      return this.failed(e.code === 'TIMEOUT' || /timeout/i.test(e.message) ? 'timeout' : 'error', e, stop);
    }
  }

  private failed(code: string, err: Error, stop: AbortSignal): SendOutcome {
    if (stop.aborted) return RETRY;
    this.counters.requests(code).inc();
    this.outage.failed({ reason: `nats_${code}`, detail: err.message });
    return RETRY;
  }

  private connection(): Promise<{ nc: NatsConnection; js: JetStream }> {
    this.connecting ??= connectNats(this.address, `tributary remote_write ${this.address.subject}`, this.log, (up) => (this.down = !up)).then(
      (nc) => ({ nc, js: nc.jetstream() }),
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.connecting;
    this.connecting = undefined;
    if (c === undefined) return;
    try {
      await (await c).nc.drain();
    } catch {
      // never connected, or already closed: nothing is pending on it (the queue keeps what was not acknowledged)
    }
  }
}

/** The promise's value, or undefined as soon as `stop` is aborted (the promise goes on unheeded). */
function untilStopped<T>(p: Promise<T>, stop: AbortSignal): Promise<T | undefined> {
  if (stop.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onStop = () => resolve(undefined);
    stop.addEventListener('abort', onStop, { once: true });
    p.then(
      (v) => {
        stop.removeEventListener('abort', onStop);
        resolve(v);
      },
      (err: unknown) => {
        stop.removeEventListener('abort', onStop);
        reject(err);
      },
    );
  });
}
