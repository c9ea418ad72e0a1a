/**
 * A TCP or Unix socket that apps push to in exporter-proxy's JSON or Cap'n Proto format.
 * This module owns the connections: how many may be open, how long a sender may take, how many
 * bytes it may send; the wire format is a WireDecoder and the payloads go to socket-ingest.
 *
 * One bad client costs only its own connection: malformed input, an oversized message or a
 * sender that stalls is logged, counted and disconnected while other clients go on. A sender
 * gets `readTimeoutMs` for each message (JSON: the whole connection), counted from the end of
 * the previous one, so neither trickling bytes nor sitting idle can hold a connection slot.
 */

import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../log/logger.js';
import type { Registry } from '../../selfmetrics/registry.js';
import { describeBindError, formatListenAddress, listenError, parseListenAddress } from '../../server/listen-address.js';
import type { AppStore } from './app-store.js';
import type { CapnpDecoder } from './capnp-protocol.js';
import { JsonDecoder } from './json-protocol.js';
import { pushMetrics, type PushMetrics } from './push-metrics.js';
import { ingestWireMessage } from './socket-ingest.js';
import { applySocketFileOptions, clearStaleSocket, type UnixSocketFileOptions } from './unix-socket.js';
import { WireError, type WireDecoder, type WireMessage } from './wire-decoder.js';

export type SocketFormat = 'json' | 'capnp';

export type SocketAddress = { tcp: string } | ({ unix: string } & UnixSocketFileOptions);

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
  /** JSON: bytes per connection; Cap'n Proto: bytes per message. */
  maxBytes: number;
  maxConnections: number;
  /** Time a sender has for each message (JSON: the whole body). */
  readTimeoutMs: number;
}

export class SocketListener {
  readonly name: string;
  private readonly server: Server;
  private readonly logger: Logger;
  private readonly metrics: PushMetrics;
  private readonly connections = new Set<Socket>();
  private bound = '';
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: SocketListenerOptions) {
    this.name = opts.name ?? ('tcp' in opts.address ? opts.address.tcp : opts.address.unix);
    this.logger = opts.logger.child({ component: 'push-listener', listener: this.name, format: opts.format });
    this.metrics = pushMetrics(opts.registry);
    // Half-open: JSON clients half-close and the body is complete only at their FIN.
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
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
    this.logger.info('listening', { address: this.bound });
    return this.bound;
  }

  /** The bound address (`host:port`) or socket path. */
  address(): string {
    return this.bound || this.describeAddress();
  }

  /** Stops accepting and cuts open connections (a half-sent payload is dropped, never half-applied). */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      for (const s of this.connections) s.destroy();
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
    if (this.connections.size >= this.opts.maxConnections) {
      this.metrics.errors.labels(this.name, 'too_many_connections').inc();
      this.logger.warn('connection refused: too many connections', { peer, limit: this.opts.maxConnections });
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    const decoder: WireDecoder =
      this.opts.format === 'json' ? new JsonDecoder(this.opts.maxBytes) : new this.capnp!(this.opts.maxBytes);
    const ctx = {
      store: this.opts.store,
      logger: this.logger.child({ peer }),
      metrics: this.metrics,
      listener: this.name,
      protocol: this.opts.format,
      origin: `${this.address()} from ${peer}`,
      ttlMs: this.opts.ttlMs,
    };
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(onTimeout, this.opts.readTimeoutMs);
    };
    const emit = (msg: WireMessage): void => {
      ingestWireMessage(msg, ctx);
      arm(); // the next message gets its own time
    };
    const drop = (reason: 'decode' | 'too_large' | 'timeout', error: string): void => {
      this.metrics.errors.labels(this.name, reason).inc();
      ctx.logger.warn('connection closed: bad input', { reason, error });
      socket.destroy();
    };
    /** Bad input drops the connection; a bug of ours drops it too, rather than the process. */
    const onFailure = (err: unknown): void => {
      if (err instanceof WireError) return drop(err.reason, err.message);
      ctx.logger.error('connection handler failed', { err });
      socket.destroy();
    };
    const onTimeout = (): void => {
      if (decoder.idle) {
        // Nothing half-sent: an idle client, not a faulty one.
        ctx.logger.debug('idle connection closed');
        socket.destroy();
      } else {
        drop('timeout', `message not complete within ${this.opts.readTimeoutMs} ms`);
      }
    };
    arm();
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.write(chunk, emit);
      } catch (err) {
        onFailure(err);
      }
    });
    socket.on('end', () => {
      try {
        decoder.end(emit);
      } catch (err) {
        onFailure(err);
        return;
      }
      socket.end();
    });
    socket.on('error', (err) => ctx.logger.debug('connection error', { err }));
    socket.once('close', () => {
      clearTimeout(timer);
      this.connections.delete(socket);
    });
  }
}
