/**
 * TCP and UDP listeners for the line protocols (Influx, Graphite, OpenTSDB telnet): one address,
 * both transports, as vmagent's `-influxListenAddr`, `-graphiteListenAddr`, `-opentsdbListenAddr`.
 * A TCP connection is a stream of lines cut by a `LineSplitter` of its own; each UDP datagram is
 * a whole set of lines. Rows go through the protocol's `Ingester` as HTTP pushes do.
 *
 * Backpressure: while the remote-write queues are full a TCP connection stops being read (the
 * sender's writes block in its kernel buffer) and is read again once they drain. UDP cannot be
 * held back: datagrams are still taken, and the queue counts what it must drop.
 * Refused rows cannot be answered on these protocols: they are counted and logged (the first of
 * each connection at warn, with its line number).
 */

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { isIPv6 } from 'node:net';
import { LineSplitter, type LineFormat } from '../formats/rows/index.js';
import { describeBindError, formatListenAddress, listenError, parseListenAddress } from '../server/listen-address.js';
import type { Ingester, IngestRequest } from './ingester.js';

/** How often a paused connection checks whether the queues drained. */
const OVERLOAD_POLL_MS = 500;
const MAX_DATAGRAM = 64 * 1024;

export interface LineListenerOptions {
  readonly address: string;
  readonly ingester: Ingester;
  /** A fresh parser per connection or datagram (parsers may keep per-series caches shared across them). */
  readonly format: () => LineFormat;
  readonly maxLineBytes: number;
  /**
   * The first chunk of a TCP connection; return true to take the socket over (OpenTSDB serves
   * HTTP on its telnet port). The chunk must then be put back (`socket.unshift`).
   */
  readonly takeOver?: (socket: Socket, first: Buffer) => boolean;
  readonly udp?: boolean;
}

export interface RunningLineListener {
  /** Bound `host:port` (TCP; UDP binds the same port). */
  readonly address: string;
  close(): Promise<void>;
}

export async function startLineListener(opts: LineListenerOptions): Promise<RunningLineListener> {
  const { host, port } = parseListenAddress(opts.address);
  const ing = opts.ingester;
  const sockets = new Set<Socket>();
  const tcp = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(socket, opts);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', (err) => reject(listenError(opts.address, describeBindError(err), err)));
    tcp.listen({ host, port }, () => resolve());
  });
  const bound = tcp.address() as { address: string; port: number };
  let udp: UdpSocket | undefined;
  if (opts.udp ?? true) {
    try {
      udp = await bindUdp(host, bound.port, opts);
    } catch (err) {
      await closeTcp(tcp, sockets);
      throw listenError(opts.address, `udp: ${describeBindError(err)}`, err);
    }
  }
  ing.log.info('listening', { address: formatListenAddress(bound.address, bound.port), udp: udp !== undefined });
  return {
    address: formatListenAddress(bound.address, bound.port),
    async close() {
      udp?.close();
      await closeTcp(tcp, sockets);
    },
  };
}

function closeTcp(tcp: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    tcp.close(() => resolve());
    for (const s of sockets) s.destroy();
  });
}

function serveConnection(socket: Socket, opts: LineListenerOptions): void {
  const ing = opts.ingester;
  const splitter = new LineSplitter(opts.format(), opts.maxLineBytes);
  let first = true;
  let refused = 0;
  let ended = false;
  let waiting: NodeJS.Timeout | undefined;
  // a chunk that arrived while the queues were full: taken once they drain (the socket is paused
  // meanwhile, so it is at most one per connection)
  const held: Buffer[] = [];
  socket.setNoDelay(true);
  const report = (rows: IngestRequest) => {
    const s = rows.finish();
    if (s.invalid > 0) {
      if (refused === 0) ing.log.warn('pushed rows refused', { remote: socket.remoteAddress, first: s.refusals[0], refused: s.invalid });
      refused += s.invalid;
    }
  };
  const take = (chunk: Buffer): boolean => {
    if (first) {
      first = false;
      if (opts.takeOver?.(socket, chunk)) {
        socket.removeAllListeners('data');
        socket.removeAllListeners('end');
        return false;
      }
    }
    const rows = ing.begin();
    splitter.push(chunk, rows);
    report(rows);
    return true;
  };
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    const rows = ing.begin();
    splitter.end(rows);
    report(rows);
    socket.end();
  };
  const wait = () => {
    socket.pause();
    waiting ??= setTimeout(() => {
      waiting = undefined;
      drain();
    }, OVERLOAD_POLL_MS);
  };
  const drain = () => {
    while (held.length > 0) {
      if (ing.overloaded()) return wait();
      if (!take(held.shift()!)) return;
    }
    if (ended) finish();
    else socket.resume();
  };
  // checked before anything is read, so that no connection gets even one chunk past a full queue
  if (ing.overloaded()) wait();
  socket.on('data', (chunk: Buffer) => {
    if (held.length > 0 || ing.overloaded()) {
      held.push(chunk);
      wait();
      return;
    }
    take(chunk);
  });
  // the end of a connection whose last chunk is held (the socket closes on its own then): the
  // held bytes were read, so they are still taken once the queues drain
  socket.on('end', () => {
    ended = true;
    if (held.length === 0) finish();
  });
  socket.on('error', (err) => ing.log.debug('connection error', { remote: socket.remoteAddress, err }));
  socket.once('close', () => {
    if (held.length === 0) clearTimeout(waiting);
    ing.counted('tcp');
  });
}

function bindUdp(host: string | undefined, port: number, opts: LineListenerOptions): Promise<UdpSocket> {
  const ing = opts.ingester;
  const udp = createSocket({ type: host !== undefined && isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const format = opts.format();
  udp.on('message', (msg) => {
    ing.counted('udp');
    const splitter = new LineSplitter(format, Math.min(opts.maxLineBytes, MAX_DATAGRAM));
    const rows = ing.begin();
    splitter.push(msg, rows);
    splitter.end(rows);
    const s = rows.finish();
    if (s.invalid > 0) ing.log.debug('pushed rows refused', { transport: 'udp', first: s.refusals[0], refused: s.invalid });
  });
  return new Promise((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ address: host, port }, () => {
      udp.off('error', reject);
      udp.on('error', (err) => ing.log.warn('udp listener error', { err }));
      resolve(udp);
    });
  });
}
