/**
 * A TCP or Unix socket that apps push to in exporter-proxy's JSON or Cap'n Proto format.
 * This module owns the connections: how many are read at once, how many may wait, how long a
 * sender may pause, how many bytes it may send; the wire format is a WireDecoder and the
 * payloads go to socket-ingest.
 *
 * Both formats are message-based: a message's apps are stored as soon as its last byte is in
 * (a JSON object at its closing `}`, not at EOF), and a connection may carry any number of them.
 * A connection is *reading* while part of a message is held and *idle* between messages.
 *
 * Nothing accepted is dropped unannounced. Clients push in bursts and write their payload as
 * soon as they connect, so a connection over `maxConnections` is not closed but accepted and
 * left unread, in arrival order, until a slot frees (as exporter-proxy does); only past
 * `maxPendingConnections` waiting is one refused — reset, counted and logged. A waiting
 * connection's clocks start when it gets its slot.
 *
 * `readTimeoutMs` is an idle timeout that runs only while part of a message is held: a slow
 * sender is never cut for it while bytes keep coming, one that stalls mid-message is (counted
 * as a timeout). Between messages a connection may stay open for good — persistent senders push
 * every few seconds — unless `idleTimeoutMs` is set; TCP keep-alive reaps dead peers.
 *
 * While connections wait (so every slot is taken) slots are handed on:
 * - a connection idle between messages gives its slot up once it has been idle for
 *   `readTimeoutMs` — or, if it has already delivered a message (it had its turn), for
 *   min(`readTimeoutMs`, 250 ms) — logged at info;
 * - then, if still needed, one that has been inside a single unfinished message for longer than
 *   `readTimeoutMs`, counted from the message's first byte (a trickling sender would otherwise
 *   hold its slot for ever), oldest message first — logged at warn and counted as `make_room`.
 * Idle connections are handed on by their own timers; unfinished messages are checked by one
 * listener timer that runs only while connections wait, due when the oldest message comes of
 * age. When a connection has waited longer than `readTimeoutMs` the listener is saturated:
 * logged at warn once per episode, with the counts, and at info when the queue is empty again;
 * `tributary_gateway_push_connections{state="active"|"waiting"}` shows it while it lasts.
 *
 * Every close we initiate is logged with its reason. Closes for time (idle, stalled, making
 * room, shutdown) and refusals are TCP resets: after a plain close a sender's next write would
 * still seem to succeed and its push vanish unseen (on a Unix socket that write fails anyway).
 *
 * One bad client costs only its own connection: malformed input, an oversized message or a
 * sender that stalls is logged, counted and disconnected while other clients go on.
 */

import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../log/logger.js';
import type { Registry } from '../../selfmetrics/registry.js';
import { describeBindError, formatListenAddress, listenError, parseListenAddress } from '../../server/listen-address.js';
import type { AppStore } from './app-store.js';
import type { CapnpDecoder } from './capnp-protocol.js';
import { JsonDecoder } from './json-protocol.js';
import { pushMetrics, type PushMetrics } from './push-metrics.js';
import { ingestWireMessage, type SocketIngestContext } from './socket-ingest.js';
import { applySocketFileOptions, clearStaleSocket, type UnixSocketFileOptions } from './unix-socket.js';
import { WireError, type WireDecoder, type WireMessage } from './wire-decoder.js';

export type SocketFormat = 'json' | 'capnp';

export type SocketAddress = { tcp: string } | ({ unix: string } & UnixSocketFileOptions);

export const DEFAULT_MAX_PENDING_CONNECTIONS = 4096;

/** Go's default for accepted connections (vmagent's too): a vanished peer is noticed in minutes, not hours. */
const KEEPALIVE_DELAY_MS = 15_000;

/** Refusals come in floods; one line per interval, carrying the count, is enough to act on. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * While connections wait, how long one that has delivered a message may sit idle before its
 * slot goes to a waiting one (at most `readTimeoutMs`). Longer than the gaps inside a burst of
 * writes, short enough that clients that push and keep their connection open are served in a
 * few rounds of this each (500 clients through 64 slots: ~2 s), and that persistent senders
 * pushing more often than `readTimeoutMs` cannot keep waiting connections out for good.
 */
const GIVE_WAY_AFTER_DELIVERY_MS = 250;

export interface SocketListenerOptions {
  /** Label in logs and metrics; defaults to the address or path. */
  name?: string;
  address: SocketAddress;
  format: SocketFormat;
  store: AppStore;
  logger: Logger;
  registry: Registry;
  /** TTL of apps pushed here; 0 = kept until replaced. */
  ttlMs: number;
  /** Apps pushed here also go into the pipeline (remote write). */
  remoteWrite?: boolean;
  /** Bytes per message (a JSON top-level value, a Cap'n Proto frame). */
  maxBytes: number;
  /** Connections read at once; more wait, unread, for a slot. */
  maxConnections: number;
  /** Connections that may wait for a slot; past this one is refused. Default 4096. */
  maxPendingConnections?: number;
  /**
   * How long a sender may pause in the middle of a message; while connections wait, also how long
   * one may stay in one message, or idle without having delivered one, before giving its slot up.
   */
  readTimeoutMs: number;
  /** How long a connection may sit idle between messages; 0 (default) = as long as it likes. */
  idleTimeoutMs?: number;
}

type CloseReason = 'timeout' | 'decode' | 'too_large' | 'idle' | 'make_room' | 'shutdown' | 'failure';

class Connection {
  state: 'new' | 'waiting' | 'active' | 'closed' = 'new';
  /** When it was queued (waiting) or last went idle between messages (active). */
  since = performance.now();
  /** When the first byte of the message being read arrived (meaningful while `reading`). */
  messageStart = 0;
  decoder: WireDecoder | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Part of a message is held; `timer` is the read timeout rather than an idle-stage timer. */
  reading = false;
  /** The peer half-closed: no more input, the connection is finishing. */
  ended = false;
  messages = 0;

  constructor(
    readonly socket: Socket,
    readonly peer: string,
    readonly logger: Logger,
  ) {}

  get held(): number {
    return this.decoder?.held ?? 0;
  }
}

function first<T>(set: Set<T>): T | undefined {
  return set.values().next().value;
}

export class SocketListener {
  readonly name: string;
  private readonly server: Server;
  private readonly logger: Logger;
  private readonly metrics: PushMetrics;
  private readonly tcp: boolean;
  private readonly maxPending: number;
  private readonly idleTimeoutMs: number;
  /** Being read; at most maxConnections. */
  private readonly active = new Set<Connection>();
  /** Accepted and unread, first come first served. */
  private readonly waiting = new Set<Connection>();
  /** Active and idle between messages past their grace (see goIdle), longest first: the first to give way. */
  private readonly evictable = new Set<Connection>();
  private nextId = 0;
  /** While connections wait: since when, how many waited, the longest wait, whether it was logged as saturation. */
  private waitEpisode: { started: number; waited: number; longestMs: number; warned: boolean } | undefined;
  /** Runs while connections wait: hands on slots held by overdue messages, notices saturation. */
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly counts = (): { active: number; waiting: number } => this.connectionCounts();
  private refusedUnlogged = 0;
  private lastRefusalLog = -Infinity;
  private refusalLogTimer: NodeJS.Timeout | undefined;
  private shuttingDown = false;
  private bound = '';
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: SocketListenerOptions) {
    this.name = opts.name ?? ('tcp' in opts.address ? opts.address.tcp : opts.address.unix);
    this.logger = opts.logger.child({ component: 'push-listener', listener: this.name, format: opts.format });
    this.metrics = pushMetrics(opts.registry);
    this.tcp = 'tcp' in opts.address;
    this.maxPending = opts.maxPendingConnections ?? DEFAULT_MAX_PENDING_CONNECTIONS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 0;
    // Half-open: JSON clients half-close and the body is complete only at their FIN. Paused: a
    // connection waiting for a slot must cost kernel buffers only, not ours.
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.onConnection(socket));
  }

  private capnp: typeof CapnpDecoder | undefined;

  /** Binds; resolves with `host:port` or the socket path. */
  async listen(): Promise<string> {
    const a = this.opts.address;
    // capnp-ts costs ~12 MB of memory once loaded: only listeners that speak it load it
    if (this.opts.format !== 'json') this.capnp = (await import('./capnp-protocol.js')).CapnpDecoder;
    if ('unix' in a) await clearStaleSocket(a.unix);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        const where = 'tcp' in a ? a.tcp : a.unix;
        reject('tcp' in a ? listenError(where, describeBindError(err), err) : new Error(`cannot listen on ${where}: ${err.message}`, { cause: err }));
      };
      this.server.once('error', onError);
      this.server.once('listening', () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.logger.error('listener error', { err }));
        resolve();
      });
      if ('tcp' in a) {
        const { host, port } = parseListenAddress(a.tcp);
        this.server.listen({ host, port });
      } else {
        this.server.listen({ path: a.unix });
      }
    });
    if ('unix' in a) {
      try {
        await applySocketFileOptions(a.unix, a);
      } catch (err) {
        await this.close();
        throw new Error(`cannot set up socket ${a.unix}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.bound = this.describeAddress();
    this.metrics.connectionCounts.set(this.name, this.counts);
    this.logger.info('listening', {
      address: this.bound,
      max_connections: this.opts.maxConnections,
      max_pending_connections: this.maxPending,
      read_timeout_ms: this.opts.readTimeoutMs,
      idle_timeout_ms: this.idleTimeoutMs,
    });
    return this.bound;
  }

  /** The bound address (`host:port`) or socket path. */
  address(): string {
    return this.bound || this.describeAddress();
  }

  /** Connections being read and connections waiting for a slot. */
  connectionCounts(): { active: number; waiting: number } {
    return { active: this.active.size, waiting: this.waiting.size };
  }

  /**
   * Stops accepting and cuts open and waiting connections (a half-sent payload is dropped, never
   * half-applied); they are reset, so a sender learns at its next write rather than losing it.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.shuttingDown = true;
    clearTimeout(this.refusalLogTimer);
    clearTimeout(this.waitTimer);
    if (this.metrics.connectionCounts.get(this.name) === this.counts) {
      this.metrics.connectionCounts.delete(this.name);
      this.metrics.connections.remove(this.name, 'active');
      this.metrics.connections.remove(this.name, 'waiting');
    }
    this.logRefusals();
    const active = [...this.active];
    const waiting = [...this.waiting];
    if (active.length + waiting.length > 0) {
      this.logger.info('closing connections for shutdown', { active: active.length, waiting: waiting.length });
    }
    for (const c of active) {
      if (c.held > 0) {
        c.logger.warn('connection closed: shutdown with a message incomplete', { reason: 'shutdown', held_bytes: c.held, messages: c.messages });
      } else {
        c.logger.debug('connection closed: shutdown', { reason: 'shutdown', messages: c.messages });
      }
      this.terminate(c, c.ended ? 'close' : 'reset');
    }
    if (waiting.length > 0) {
      // Their payloads, if sent, are still in the kernel unread: the reset tells each sender.
      this.logger.warn('connections waiting for a slot reset unread at shutdown', { reason: 'shutdown', count: waiting.length });
    }
    for (const c of waiting) this.terminate(c, 'reset');
    this.closing = new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
    return this.closing;
  }

  private describeAddress(): string {
    const a = this.server.address() as AddressInfo | string | null;
    if (a === null) throw new Error('listener is not listening');
    return typeof a === 'string' ? a : formatListenAddress(a.address, a.port);
  }

  private onConnection(socket: Socket): void {
    const peer = socket.remoteAddress === undefined ? 'local' : `${socket.remoteAddress}:${socket.remotePort}`;
    const c = new Connection(socket, peer, this.logger.child({ peer, conn: ++this.nextId }));
    socket.on('error', (err) => c.logger.debug('connection error', { err, held_bytes: c.held }));
    socket.once('close', () => {
      if (c.state === 'closed') return;
      c.logger.debug('connection closed by peer', { state: c.state, held_bytes: c.held, messages: c.messages });
      this.release(c);
    });
    if (this.shuttingDown) return this.terminate(c, 'reset');
    if (this.tcp) socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    if (this.active.size < this.opts.maxConnections) return this.activate(c);
    if (this.waiting.size >= this.maxPending) return this.refuse(c);
    if (this.waiting.size === 0) {
      this.waitEpisode = { started: performance.now(), waited: 0, longestMs: 0, warned: false };
      this.logger.debug('all connection slots busy: new connections wait for one', { max_connections: this.opts.maxConnections });
    }
    this.waitEpisode!.waited++;
    c.state = 'waiting';
    this.waiting.add(c);
    this.makeRoom();
    if (this.waiting.size > 0 && this.waitTimer === undefined) this.scheduleWaitCheck();
  }

  private refuse(c: Connection): void {
    this.metrics.errors.labels(this.name, 'too_many_connections').inc();
    this.refusedUnlogged++;
    if (this.refusalLogTimer === undefined) {
      const wait = this.lastRefusalLog + REFUSAL_LOG_INTERVAL_MS - performance.now();
      if (wait <= 0) {
        this.logRefusals(c.peer);
      } else {
        this.refusalLogTimer = setTimeout(() => {
          this.refusalLogTimer = undefined;
          this.logRefusals();
        }, wait).unref();
      }
    }
    this.terminate(c, 'reset');
  }

  private logRefusals(peer?: string): void {
    if (this.refusedUnlogged === 0) return;
    this.logger.warn('connections refused: too many waiting for a slot', {
      refused: this.refusedUnlogged,
      ...(peer !== undefined ? { peer } : {}),
      max_connections: this.opts.maxConnections,
      max_pending_connections: this.maxPending,
    });
    this.refusedUnlogged = 0;
    this.lastRefusalLog = performance.now();
  }

  private activate(c: Connection): void {
    c.state = 'active';
    this.active.add(c);
    c.decoder = this.opts.format === 'json' ? new JsonDecoder(this.opts.maxBytes) : new this.capnp!(this.opts.maxBytes);
    const ctx: SocketIngestContext = {
      store: this.opts.store,
      logger: c.logger,
      metrics: this.metrics,
      listener: this.name,
      protocol: this.opts.format,
      origin: `${this.address()} from ${c.peer}`,
      ttlMs: this.opts.ttlMs,
      ...(this.opts.remoteWrite ? { remoteWrite: true } : {}),
    };
    const emit = (msg: WireMessage): void => {
      c.messages++;
      ingestWireMessage(msg, ctx);
    };
    c.socket.on('data', (chunk: Buffer) => this.onData(c, chunk, emit));
    c.socket.on('end', () => this.onEnd(c, emit));
    this.goIdle(c);
    c.socket.resume();
  }

  private onData(c: Connection, chunk: Buffer, emit: (msg: WireMessage) => void): void {
    if (c.state !== 'active') return;
    const decoder = c.decoder!;
    const wasIdle = decoder.idle;
    const heldBefore = decoder.held;
    const messagesBefore = c.messages;
    try {
      decoder.write(chunk, emit);
    } catch (err) {
      return this.fail(c, err);
    }
    if (decoder.idle) {
      // Bytes between messages that deliver nothing (JSON whitespace, `{}`) do not count as
      // activity: they must not keep a slot from waiting connections.
      if (!wasIdle || c.messages !== messagesBefore) this.goIdle(c);
      return;
    }
    this.evictable.delete(c);
    // A message began in this chunk unless the one held before simply grew by all of it.
    const newMessage = wasIdle || decoder.held !== heldBefore + chunk.length;
    if (newMessage) c.messageStart = performance.now();
    if (c.reading) {
      c.timer!.refresh();
    } else {
      clearTimeout(c.timer);
      c.reading = true;
      c.timer = setTimeout(() => this.onReadTimeout(c), this.opts.readTimeoutMs);
    }
  }

  private onEnd(c: Connection, emit: (msg: WireMessage) => void): void {
    if (c.state !== 'active') return;
    c.ended = true;
    clearTimeout(c.timer);
    this.evictable.delete(c);
    try {
      c.decoder!.end(emit);
    } catch (err) {
      return this.fail(c, err);
    }
    c.socket.end();
  }

  /**
   * Between messages: after a grace (readTimeoutMs, shorter once it has delivered a message) the
   * slot may go to a waiting connection; after idleTimeoutMs (if set) it closes.
   */
  private goIdle(c: Connection): void {
    this.evictable.delete(c);
    clearTimeout(c.timer);
    c.reading = false;
    c.since = performance.now();
    const read = this.opts.readTimeoutMs;
    const grace = c.messages > 0 ? Math.min(read, GIVE_WAY_AFTER_DELIVERY_MS) : read;
    const idle = this.idleTimeoutMs;
    if (idle > 0 && idle <= grace) {
      c.timer = setTimeout(() => this.onIdleTimeout(c), idle);
      return;
    }
    c.timer = setTimeout(() => {
      if (idle > 0) c.timer = setTimeout(() => this.onIdleTimeout(c), idle - grace);
      this.evictable.add(c);
      this.makeRoom();
    }, grace);
  }

  /**
   * Hands slots to waiting connections (every slot is taken while any wait): first those of
   * connections idle past their grace, longest idle first; then those of connections inside one
   * message for longer than readTimeoutMs, oldest message first.
   */
  private makeRoom(): void {
    for (let c = first(this.evictable); c !== undefined && this.waiting.size > 0; c = first(this.evictable)) {
      c.logger.info('connection closed: idle, its slot given to a waiting connection', {
        reason: 'make_room' satisfies CloseReason,
        idle_ms: Math.round(performance.now() - c.since),
        waiting: this.waiting.size,
        max_connections: this.opts.maxConnections,
        messages: c.messages,
      });
      this.terminate(c, 'reset');
    }
    if (this.waiting.size === 0) return;
    const now = performance.now();
    const due = now - this.opts.readTimeoutMs;
    const overdue: Connection[] = [];
    for (const c of this.active) if (c.reading && c.messageStart <= due) overdue.push(c);
    overdue.sort((a, b) => a.messageStart - b.messageStart);
    for (const c of overdue) {
      if (this.waiting.size === 0) break;
      this.metrics.errors.labels(this.name, 'make_room').inc();
      c.logger.warn('connection closed: one message unfinished for longer than read_timeout, its slot given to a waiting connection', {
        reason: 'make_room' satisfies CloseReason,
        held_bytes: c.held,
        message_ms: Math.round(now - c.messageStart),
        read_timeout_ms: this.opts.readTimeoutMs,
        waiting: this.waiting.size,
        max_connections: this.opts.maxConnections,
        messages: c.messages,
      });
      this.terminate(c, 'reset');
    }
  }

  /**
   * While connections wait: the next time a message held in a slot comes of age (readTimeoutMs
   * after its first byte) or the oldest waiting connection has waited readTimeoutMs. A message
   * that starts later comes of age later than every one running now, so nothing is missed.
   */
  private scheduleWaitCheck(): void {
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    const oldest = first(this.waiting);
    if (oldest === undefined || this.shuttingDown) return;
    const read = this.opts.readTimeoutMs;
    const now = performance.now();
    let next = now + read;
    for (const c of this.active) if (c.reading) next = Math.min(next, c.messageStart + read);
    if (!this.waitEpisode!.warned) next = Math.min(next, oldest.since + read);
    this.waitTimer = setTimeout(() => this.onWaitCheck(), Math.max(1, Math.ceil(next - now))).unref();
  }

  private onWaitCheck(): void {
    this.waitTimer = undefined;
    this.makeRoom();
    const oldest = first(this.waiting);
    if (oldest === undefined) return;
    const episode = this.waitEpisode!;
    const waitedMs = performance.now() - oldest.since;
    if (!episode.warned && waitedMs >= this.opts.readTimeoutMs) {
      episode.warned = true;
      let reading = 0;
      for (const c of this.active) if (c.reading) reading++;
      this.logger.warn('listener saturated: connections waiting for a slot longer than read_timeout', {
        active: this.active.size,
        reading,
        waiting: this.waiting.size,
        longest_wait_ms: Math.round(waitedMs),
        read_timeout_ms: this.opts.readTimeoutMs,
        max_connections: this.opts.maxConnections,
        max_pending_connections: this.maxPending,
      });
    }
    this.scheduleWaitCheck();
  }

  private onIdleTimeout(c: Connection): void {
    c.logger.info('connection closed: idle timeout', {
      reason: 'idle' satisfies CloseReason,
      idle_timeout_ms: this.idleTimeoutMs,
      messages: c.messages,
    });
    this.terminate(c, 'reset');
  }

  private onReadTimeout(c: Connection): void {
    this.metrics.errors.labels(this.name, 'timeout').inc();
    c.logger.warn('connection closed: message incomplete, sender paused longer than read_timeout', {
      reason: 'timeout' satisfies CloseReason,
      read_timeout_ms: this.opts.readTimeoutMs,
      held_bytes: c.held,
      messages: c.messages,
    });
    this.terminate(c, 'reset');
  }

  /** Bad input drops the connection; a bug of ours drops it too, rather than the process. */
  private fail(c: Connection, err: unknown): void {
    if (err instanceof WireError) {
      this.metrics.errors.labels(this.name, err.reason).inc();
      c.logger.warn('connection closed: bad input', { reason: err.reason satisfies CloseReason, error: err.message, messages: c.messages });
    } else {
      c.logger.error('connection closed: handler failed', { reason: 'failure' satisfies CloseReason, err });
    }
    this.terminate(c, 'close');
  }

  /**
   * Ends a connection we give up on. A reset (TCP; on a Unix socket the peer's next write fails
   * anyway) makes the sender's next write fail; after a plain close it would seem to succeed.
   */
  private terminate(c: Connection, how: 'reset' | 'close'): void {
    this.release(c);
    if (how === 'reset' && this.tcp && !c.socket.destroyed) c.socket.resetAndDestroy();
    else c.socket.destroy();
  }

  /** Frees what a connection holds — its slot goes to the first waiting one — once, however it ends. */
  private release(c: Connection): void {
    const was = c.state;
    if (was === 'closed') return;
    c.state = 'closed';
    if (was === 'new') return;
    clearTimeout(c.timer);
    this.evictable.delete(c);
    if (was === 'waiting') this.waiting.delete(c);
    else this.active.delete(c);
    this.promote();
  }

  private promote(): void {
    while (!this.shuttingDown && this.active.size < this.opts.maxConnections) {
      const next = first(this.waiting);
      if (next === undefined) break;
      this.waiting.delete(next);
      this.waitEpisode!.longestMs = Math.max(this.waitEpisode!.longestMs, performance.now() - next.since);
      this.activate(next);
    }
    if (this.waiting.size === 0 && this.waitEpisode !== undefined) {
      const e = this.waitEpisode;
      const fields = { waited: e.waited, longest_wait_ms: Math.round(e.longestMs), duration_ms: Math.round(performance.now() - e.started) };
      // Saturation was announced at warn: its end is worth a line too.
      if (e.warned) this.logger.info('connection slots free again', fields);
      else this.logger.debug('connection slots free again', fields);
      this.waitEpisode = undefined;
      clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
    }
  }
}
