/**
 * `ingest.nats`: the consuming end of the stream agents publish to (a `nats://` remote_write
 * URL). A durable pull consumer takes up to `batch` messages at a time; each is a queued
 * remote-write 1.0 request, decoded into the pipeline like a remote write received over HTTP.
 * The batch is acknowledged only once the pipeline says its samples are safe — sent, or on
 * disk and synced, for every remote_write URL (`SampleSink.persisted`) — so a consumer killed
 * at any moment leaves its unacknowledged messages to be redelivered after `ack_wait`, to itself
 * or to another consumer on the same durable: at least once, never lost. A message that is not
 * a remote-write request is terminated (never redelivered), logged and counted.
 */

import type { Consumer, ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import type { IngestConfig } from '../config/ingest.js';
import { WireError } from '../formats/remotewrite/index.js';
import { WriteRequestReceiver } from '../formats/remotewrite/receive.js';
import { SnappyError, uncompress } from '../formats/snappy/index.js';
import { connectNats, ensureConsumer, ensureStream, parseNatsUrl, type NatsAddress } from '../nats/index.js';
import type { Counter } from '../selfmetrics/registry.js';
import type { Closable, IngestContext, IngestProtocol } from './context.js';
import type { Ingester } from './ingester.js';

/** A request decompressed is at most this (as the HTTP receiver's default body limit). */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** How long one pull waits for messages before asking again (and seeing a close). */
const PULL_EXPIRES_MS = 2000;
/** The wait before pulling again after a failure, or while remote write is over its bound. */
const BACKOFF_MS = 1000;

type NatsIngestConfig = NonNullable<IngestConfig['nats']>;

export const natsIngest: IngestProtocol = {
  name: 'nats',
  async start(ctx: IngestContext): Promise<Closable[]> {
    const c = ctx.config.nats;
    if (c === undefined) return [];
    const messages = ctx.registry.counter({
      name: 'tributary_ingest_nats_messages_total',
      help: 'Messages taken from the JetStream consumer, by outcome: acked (samples safe), nak (to be redelivered: the disk queue failed), invalid (not a remote-write request; terminated).',
      labelNames: ['outcome'],
    });
    const redelivered = ctx.registry.counter({
      name: 'tributary_ingest_nats_redelivered_total',
      help: 'Messages JetStream delivered more than once (a consumer died or was slow before acknowledging): their samples may arrive twice.',
    });
    const consumer = new NatsConsumer(parseNatsUrl(c.url), c, ctx.ingester('nats'), messages, redelivered);
    consumer.start();
    return [consumer];
  },
};

class NatsConsumer implements Closable {
  private readonly receiver = new WriteRequestReceiver();
  private nc: NatsConnection | undefined;
  private pulling: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  private readonly log;

  constructor(
    private readonly address: NatsAddress,
    private readonly config: NatsIngestConfig,
    private readonly ingester: Ingester,
    private readonly messages: Counter,
    private readonly redelivered: Counter,
  ) {
    this.log = ingester.log.child({ nats: address.shown, durable: config.durable });
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let consumer: Consumer | undefined;
    let failing = false;
    while (!this.closed) {
      try {
        consumer ??= await this.attach();
        if (failing) this.log.info('consuming again');
        failing = false;
        if (this.ingester.overloaded()) {
          await sleep(BACKOFF_MS);
          continue;
        }
        await this.pullOnce(consumer);
      } catch (err) {
        if (this.closed) break;
        const message = (err as Error).message;
        // a work-queue stream takes one consumer per subject: a second durable name is refused
        const hint = /not unique on workqueue/i.test(message)
          ? { hint: 'the stream is a work queue: every consumer of a subject must use the same durable name (they share the messages; each does not get a copy)' }
          : {};
        if (!failing) this.log.error('cannot consume from JetStream; trying again every second', { err: message, ...hint });
        failing = true;
        // a consumer or stream deleted under us is made again
        if (/not found/i.test((err as Error).message)) consumer = undefined;
        await sleep(BACKOFF_MS);
      }
    }
  }

  private async attach(): Promise<Consumer> {
    this.nc ??= await connectNats(this.address, `tributary ingest ${this.config.durable}`, this.log);
    const jsm = await this.nc.jetstreamManager();
    await ensureStream(jsm, this.address);
    await ensureConsumer(jsm, this.address, this.config.durable, this.config.ack_wait, this.config.max_ack_pending);
    const consumer = await this.nc.jetstream().consumers.get(this.address.stream, this.config.durable);
    this.log.info('consuming from JetStream', { stream: this.address.stream, subject: this.address.subject });
    return consumer;
  }

  private async pullOnce(consumer: Consumer): Promise<void> {
    const msgs = await consumer.fetch({ max_messages: this.config.batch, expires: PULL_EXPIRES_MS });
    this.pulling = msgs;
    const taken: JsMsg[] = [];
    try {
      for await (const m of msgs) {
        if (m.redelivered) this.redelivered.inc();
        if (this.decode(m)) taken.push(m);
      }
    } finally {
      this.pulling = undefined;
    }
    if (taken.length === 0) return;
    // the samples are in the pipeline: acknowledged once remote write has them on disk or sent
    if (await this.ingester.opts.sink.persisted?.() ?? true) {
      for (const m of taken) m.ack();
      this.messages.labels('acked').inc(taken.length);
    } else {
      for (const m of taken) m.nak(BACKOFF_MS);
      this.messages.labels('nak').inc(taken.length);
      this.log.warn('remote write could not make the samples safe (its disk fails): the messages are left to JetStream to redeliver', { messages: taken.length });
    }
  }

  /** Into the pipeline; false for a message that is not a request (terminated). */
  private decode(m: JsMsg): boolean {
    const rows = this.ingester.begin();
    try {
      const raw = uncompress(m.data, MAX_REQUEST_BYTES);
      this.receiver.v1(raw, rows);
      rows.finish();
      return true;
    } catch (err) {
      rows.finish();
      if (!(err instanceof SnappyError) && !(err instanceof WireError)) throw err;
      m.term(err.message);
      this.messages.labels('invalid').inc();
      this.log.error('a message is not a snappy remote-write request; terminated (not redelivered)', { seq: m.seq, err: err.message });
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pulling?.stop();
    await this.loop;
    const nc = this.nc;
    this.nc = undefined;
    await nc?.drain().catch(() => {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
