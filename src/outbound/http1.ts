/**
 * Plain HTTP/1.1 for the hot paths — scrapes and remote-write POSTs to `http://` URLs without
 * a proxy: keep-alive connections per origin, every socket reading into one shared 64 KiB
 * buffer (net's `onread`), and a response parser for the status line, headers and the three
 * body framings (content-length, chunked, until close). TLS, proxies and HTTP/2 go through
 * undici (configured-client.ts).
 *
 * Why not undici here: its per-read buffers and per-request objects are given back only by a
 * full GC, so at a few hundred scrapes a second the agent's RSS was two to three times what the
 * live heap needs, and the objects cost as much CPU as parsing the page. Body bytes handed to
 * a handler are a view of the shared buffer, valid only during the call.
 */

import { connect, type Socket } from 'node:net';
import { KEEP_ALIVE_MS } from './policy.js';

export type ResponseHeaders = ReadonlyMap<string, string>;

/** What a request's caller is told, in this order: headers, data*, then end or error — once. */
export interface Http1Handler {
  onHeaders(status: number, headers: ResponseHeaders): void;
  /** A view of a reused buffer: copy what must outlive the call. */
  onData(chunk: Buffer): void;
  onEnd(): void;
  onError(err: Error): void;
}

export interface Http1Request {
  readonly method: 'GET' | 'POST';
  /** Path and query, as sent. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: Buffer;
}

export interface Http1Call {
  /** Stops the request and closes its connection; the handler hears nothing more. */
  abort(): void;
  /** Stops reading the response until `resume` (a consumer that cannot keep up). */
  pause(): void;
  resume(): void;
}

/** Status line and headers; a longer head is not an exporter's answer. */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4096;

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const CRLFCRLF = Buffer.from('\r\n\r\n');
const HEADER_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** An error with a Node-style code, so callers can tell a stale connection from a refusal. */
export class Http1Error extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Keep-alive connections to one host:port. */
export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private closed = false;

  constructor(
    readonly hostname: string,
    readonly port: number,
    /** The Host header: host[:port] as the URL spells it. */
    readonly host: string,
  ) {}

  static forUrl(url: URL): Http1Pool {
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    return new Http1Pool(hostname, Number(url.port || 80), url.host);
  }

  /** Sends a request. A reused connection the server had closed gets one more try on a new one. */
  request(req: Http1Request, handler: Http1Handler): Http1Call {
    let head: Buffer;
    try {
      head = requestHead(req, this.host);
    } catch (err) {
      queueMicrotask(() => handler.onError(err as Error));
      return { abort: () => {}, pause: () => {}, resume: () => {} };
    }
    let conn: Connection | undefined;
    let aborted = false;
    const start = (fresh: boolean): void => {
      if (this.closed) return handler.onError(new Http1Error('client closed', 'ECANCELED'));
      conn = fresh ? undefined : this.idle.pop();
      conn ??= this.open();
      conn.start(head, req.body, {
        onHeaders: (s, h) => handler.onHeaders(s, h),
        onData: (c) => handler.onData(c),
        onEnd: () => handler.onEnd(),
        onError: (err, stale) => {
          if (stale && !fresh && !aborted) start(true);
          else handler.onError(err);
        },
      });
    };
    start(false);
    return {
      abort: () => {
        aborted = true;
        conn?.abort();
      },
      pause: () => conn?.pause(),
      resume: () => conn?.resume(),
    };
  }

  close(): void {
    this.closed = true;
    for (const c of this.all) c.destroy();
    this.idle.length = 0;
  }

  private open(): Connection {
    const conn = new Connection(this.hostname, this.port, (c) => this.release(c), (c) => this.forget(c));
    this.all.add(conn);
    return conn;
  }

  private release(c: Connection): void {
    if (this.closed) return c.destroy();
    this.idle.push(c);
  }

  private forget(c: Connection): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }
}

interface ConnectionHandler extends Omit<Http1Handler, 'onError'> {
  /** `stale`: nothing of a response arrived on a connection that had served one before. */
  onError(err: Error, stale: boolean): void;
}

const enum State {
  Idle,
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
  UntilClose,
  Done,
}

class Connection {
  private readonly socket: Socket;
  private handler: ConnectionHandler | undefined;
  private state = State.Idle;
  private served = 0;
  private gotBytes = false;
  private head: Buffer | undefined;
  private remaining = 0;
  private line = '';
  private keepAlive = false;
  private dead = false;

  constructor(
    hostname: string,
    port: number,
    private readonly onIdle: (c: Connection) => void,
    private readonly onGone: (c: Connection) => void,
  ) {
    this.socket = connect({
      host: hostname,
      port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          this.read(buf as Buffer, n);
          return true;
        },
      },
    });
    this.socket.on('error', (err: Error & { code?: string }) => this.fail(err));
    this.socket.on('end', () => this.ended());
    this.socket.on('close', () => this.ended());
    this.socket.on('timeout', () => this.destroy());
  }

  start(head: Buffer, body: Buffer | undefined, handler: ConnectionHandler): void {
    this.handler = handler;
    this.state = State.Head;
    this.gotBytes = false;
    this.head = undefined;
    this.socket.setTimeout(0);
    this.socket.ref();
    // the last response may have ended while its consumer had reading paused
    this.socket.resume();
    if (this.dead) return this.fail(new Http1Error('socket closed', 'ECONNRESET'));
    this.socket.cork();
    this.socket.write(head);
    if (body !== undefined && body.length > 0) this.socket.write(body);
    this.socket.uncork();
  }

  abort(): void {
    this.handler = undefined;
    this.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    if (!this.dead) {
      this.dead = true;
      this.socket.destroy();
      this.onGone(this);
    }
  }

  private ended(): void {
    if (this.state === State.UntilClose) {
      this.state = State.Done;
      const h = this.handler;
      this.handler = undefined;
      this.destroy();
      h?.onEnd();
      return;
    }
    this.fail(new Http1Error(`the server closed the connection ${this.where()}`, 'ECONNRESET'));
  }

  private where(): string {
    switch (this.state) {
      case State.Head:
        return this.head === undefined ? 'before answering' : 'in the middle of the response head';
      case State.Length:
        return `with ${this.remaining} body bytes still to come`;
      case State.Idle:
      case State.Done:
        return 'while idle';
      default:
        return 'before the last chunk';
    }
  }

  private fail(err: Error & { code?: string }): void {
    const h = this.handler;
    this.handler = undefined;
    const stale = !this.gotBytes && this.served > 0 && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
    this.destroy();
    if (h && this.state !== State.Done && this.state !== State.Idle) h.onError(err, stale);
  }

  private read(buf: Buffer, n: number): void {
    if (this.handler === undefined) {
      // bytes nobody asked for: the connection cannot be trusted for another request
      if (n > 0) this.destroy();
      return;
    }
    this.gotBytes = true;
    let at = 0;
    while (at < n && this.handler !== undefined) {
      switch (this.state) {
        case State.Head:
          at = this.readHead(buf, at, n);
          break;
        case State.Length:
          at = this.body(buf, at, n);
          if (this.remaining === 0) this.finish(at < n);
          break;
        case State.UntilClose:
          this.handler.onData(buf.subarray(at, n));
          at = n;
          break;
        case State.ChunkData:
          at = this.body(buf, at, n);
          if (this.remaining === 0) {
            this.state = State.ChunkDataEnd;
            this.line = '';
          }
          break;
        case State.ChunkSize:
        case State.ChunkDataEnd:
        case State.Trailer:
          at = this.readChunkLine(buf, at, n);
          break;
        default:
          return this.protocolError('data after the response');
      }
    }
  }

  /** Hands on up to `remaining` body bytes from `at`; returns where it stopped. */
  private body(buf: Buffer, at: number, n: number): number {
    const take = Math.min(this.remaining, n - at);
    this.remaining -= take;
    this.handler!.onData(buf.subarray(at, at + take));
    return at + take;
  }

  /** Collects the head across reads; parses it once the blank line is in. */
  private readHead(buf: Buffer, at: number, n: number): number {
    const part = buf.subarray(at, n);
    if (this.head === undefined) {
      // Mostly the whole head is in the first read: parse it in place instead of copying the
      // read (body bytes included) out of the shared buffer first.
      const end = part.indexOf(CRLFCRLF);
      if (end >= 0 && end <= MAX_HEAD_BYTES) {
        this.parseHead(part.toString('latin1', 0, end));
        return at + end + 4;
      }
    }
    const head = this.head === undefined ? Buffer.from(part) : Buffer.concat([this.head, part]);
    // the blank line may straddle two reads: search from just before the new bytes
    const from = this.head === undefined ? 0 : Math.max(0, this.head.length - 3);
    const end = head.indexOf(CRLFCRLF, from);
    if (end < 0) {
      if (head.length > MAX_HEAD_BYTES) this.protocolError(`response head over ${MAX_HEAD_BYTES} bytes`);
      else this.head = head;
      return n;
    }
    this.head = undefined;
    if (end > MAX_HEAD_BYTES) {
      this.protocolError(`response head over ${MAX_HEAD_BYTES} bytes`);
      return n;
    }
    const consumed = end + 4 - (head.length - part.length);
    this.parseHead(head.toString('latin1', 0, end));
    return at + consumed;
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]);
    if (!m) return this.protocolError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0].slice(0, 80))}`);
    const status = Number(m[2]);
    // 100 Continue and 103 Early Hints come before the real answer
    if (status >= 100 && status < 200 && status !== 101) return;
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) return this.protocolError(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const had = headers.get(name);
      headers.set(name, had === undefined ? value : `${had}, ${value}`);
    }
    const connection = headers.get('connection')?.toLowerCase() ?? '';
    this.keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    if (status === 101) return this.protocolError('the server switched protocols');
    if (status === 204 || status === 304) this.state = State.Done;
    else if (te !== undefined) {
      // Only chunked alone, as Go's net/http (vmagent, Prometheus) accepts: a coding before it
      // (`gzip, chunked`) would leave the body still encoded once the chunks are undone.
      if (te.trim().toLowerCase() !== 'chunked') return this.protocolError(`unsupported transfer-encoding ${JSON.stringify(te)}: only chunked is decoded`);
      this.state = State.ChunkSize;
      this.line = '';
    } else if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) return this.protocolError(`bad content-length ${JSON.stringify(cl)}`);
      this.remaining = Number(cl);
      this.state = this.remaining === 0 ? State.Done : State.Length;
    } else {
      this.state = State.UntilClose;
      this.keepAlive = false;
    }
    this.handler!.onHeaders(status, headers);
    if (this.state === State.Done && this.handler !== undefined) this.finish(false);
  }

  /** Chunk sizes, the CRLF after each chunk and trailers: short lines read byte by byte. */
  private readChunkLine(buf: Buffer, at: number, n: number): number {
    while (at < n) {
      const b = buf[at++];
      if (b !== 0x0a) {
        if (this.line.length >= MAX_CHUNK_LINE) {
          this.protocolError('chunk line too long');
          return n;
        }
        if (b !== 0x0d) this.line += String.fromCharCode(b);
        continue;
      }
      const line = this.line;
      this.line = '';
      if (this.state === State.ChunkDataEnd) {
        if (line !== '') this.protocolError('missing CRLF after a chunk');
        else this.state = State.ChunkSize;
        return at;
      }
      if (this.state === State.Trailer) {
        if (line === '') this.finish(at < n);
        return at;
      }
      const hex = line.split(';', 1)[0].trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) {
        this.protocolError(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
        return n;
      }
      this.remaining = parseInt(hex, 16);
      this.state = this.remaining === 0 ? State.Trailer : State.ChunkData;
      return at;
    }
    return at;
  }

  private finish(extraBytes: boolean): void {
    const h = this.handler;
    this.handler = undefined;
    this.state = State.Idle;
    this.served++;
    if (this.keepAlive && !extraBytes && !this.dead) {
      this.socket.setTimeout(KEEP_ALIVE_MS);
      // an idle connection must not keep the process alive
      this.socket.unref();
      this.onIdle(this);
    } else this.destroy();
    h?.onEnd();
  }

  private protocolError(message: string): void {
    this.fail(new Http1Error(`invalid HTTP response: ${message}`, 'HPE_INVALID'));
  }
}

/** The request line and headers, checked: a CR or LF from a config value must not split them. */
function requestHead(req: Http1Request, host: string): Buffer {
  // a configured Host (vmagent's `headers`) names the authority instead of the address
  const hasHost = Object.keys(req.headers).some((n) => n.toLowerCase() === 'host');
  let head = `${req.method} ${req.path} HTTP/1.1\r\n${hasHost ? '' : `host: ${host}\r\n`}`;
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HEADER_NAME.test(name)) throw new Http1Error(`invalid header name ${JSON.stringify(name)}`, 'ERR_INVALID_HTTP_TOKEN');
    for (const v of typeof value === 'string' ? [value] : value) {
      if (!HEADER_TEXT.test(v)) throw new Http1Error(`invalid character in header ${name}`, 'ERR_INVALID_CHAR');
      head += `${name}: ${v}\r\n`;
    }
  }
  if (req.body !== undefined) head += `content-length: ${req.body.length}\r\n`;
  return Buffer.from(head + '\r\n', 'latin1');
}
