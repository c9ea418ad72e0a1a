/**
 * NATS JetStream, the durable stream between agents and storage: this folder owns the NATS side
 * that remote write (which publishes, remotewrite/jetstream.ts) and ingestion (which consumes,
 * ingest/nats.ts) share — the address form, connecting with endless reconnects, and making sure
 * the stream is there. The stream is a work queue kept on disk, so a message is stored until a
 * consumer acknowledges it and then removed, and several consumers on one durable share the work.
 *
 * Address: `nats://[user:password@]host:port[,host:port…]/<subject>[?stream=NAME&replicas=N]`.
 * The stream defaults to `tributary_<subject>` (dots and wildcards made underscores), one
 * replica; a 3-node NATS cluster wants `replicas=3`, so that a node lost loses no message.
 */

import { createHash } from 'node:crypto';
import type * as Nats from 'nats';
import type { ConnectionOptions, JetStreamManager, NatsConnection } from 'nats';
import type { Logger } from '../log/logger.js';
import type { NatsAddress } from './address.js';

export { isNatsUrl, parseNatsUrl, redactNats, type NatsAddress } from './address.js';

let lib: Promise<typeof Nats> | undefined;

/** The client library, loaded at first use: about 13 MB resident that an agent without NATS never pays. */
export function natsLib(): Promise<typeof Nats> {
  return (lib ??= import('nats'));
}

/**
 * Connects; once connected, keeps reconnecting for as long as the process runs, to the servers
 * given and those the cluster tells about. A first connection that fails rejects (within
 * `timeout`), and the caller tries again later: an agent does not hang at start on a NATS that
 * is down. Connection changes are logged.
 */
export async function connectNats(
  a: NatsAddress,
  name: string,
  log: Logger,
  /** Told when the connection goes down and comes back. */
  onStatus: (up: boolean) => void = () => {},
  extra: Partial<ConnectionOptions> = {},
): Promise<NatsConnection> {
  const nc = await (await natsLib()).connect({
    servers: [...a.servers],
    name,
    user: a.user,
    pass: a.pass,
    maxReconnectAttempts: -1,
    timeout: 5000,
    reconnectTimeWait: 1000,
    pingInterval: 10_000,
    ...extra,
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        onStatus(false);
        log.warn('NATS connection lost; reconnecting', { server: String(s.data) });
      } else if (s.type === 'reconnect') {
        onStatus(true);
        log.info('NATS connection back', { server: String(s.data) });
      }
      else if (s.type === 'error') log.warn('NATS error', { err: String(s.data) });
    }
  })().catch(() => {});
  return nc;
}

/**
 * The stream on disk, a work queue on the subject, created when missing. One that exists is
 * used as it is, as long as it takes the subject: operators may have made it with other limits.
 */
export async function ensureStream(jsm: JetStreamManager, a: NatsAddress): Promise<void> {
  try {
    const info = await jsm.streams.info(a.stream);
    const subjects = info.config.subjects ?? [];
    if (!subjects.some((s) => subjectMatches(s, a.subject))) {
      throw new Error(`stream ${a.stream} exists without subject ${a.subject} (it has ${subjects.join(', ') || 'none'})`);
    }
    return;
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
  }
  const { RetentionPolicy, StorageType } = await natsLib();
  await jsm.streams.add({
    name: a.stream,
    subjects: [a.subject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: a.replicas,
    // a publish retried after a lost acknowledgement is recognised by its message id for this long
    duplicate_window: 2 * 60 * 1_000_000_000,
  });
}

/** The durable pull consumer several agents share; made when missing. */
export async function ensureConsumer(jsm: JetStreamManager, a: NatsAddress, durable: string, ackWaitMs: number, maxAckPending: number): Promise<void> {
  try {
    await jsm.consumers.info(a.stream, durable);
    return;
  } catch (err) {
    if (!/consumer not found/i.test((err as Error).message)) throw err;
  }
  const { AckPolicy, DeliverPolicy } = await natsLib();
  await jsm.consumers.add(a.stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: a.subject,
    ack_wait: ackWaitMs * 1_000_000,
    max_ack_pending: maxAckPending,
  });
}

function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/**
 * A message's id for JetStream's duplicate window: the request's own bytes, so the same queued
 * request published twice (an acknowledgement lost, a restart before the queue noted it) is
 * stored once.
 */
export function messageId(payload: Uint8Array): string {
  return createHash('sha256').update(payload).digest('base64url').slice(0, 32);
}

/** Headers of a published request. */
export const SAMPLES_HEADER = 'Tributary-Samples';
