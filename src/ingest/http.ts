/**
 * The HTTP side of push ingestion, shared by every protocol: routes on the main listener (and
 * their multitenant twins `/insert/<accountID>[:<projectID>]/[prometheus/]<path>`, whose tenant
 * becomes the labels `vm_account_id` and `vm_project_id`), `extra_label=name=value` query args,
 * the request body decoded as it streams in (gzip, deflate, zstd; snappy as one block) under a
 * cap on both what arrives and what it decodes to, 429 with `Retry-After` while the remote-write
 * queues are full, and one answer: 204, or 400 quoting the refused rows with their line numbers
 * (the good rows of the request are kept), 413, 415.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, createInflate } from 'node:zlib';
import { Decompress } from 'fzstd';
import { CONTENT_TYPE_PLAIN } from '../formats/media-types.js';
import { SnappyError, SnappyTooLargeError, uncompress } from '../formats/snappy/index.js';
import { answerContinueItself, BodyTooLargeError, readBody, type Handler, type HttpServer } from '../server/index.js';
import { describeRefusals, RETRY_AFTER_SECONDS, type IngestRequest, type Ingester } from './ingester.js';

export type BodyEncoding = 'identity' | 'gzip' | 'deflate' | 'zstd' | 'snappy';
export const ALL_ENCODINGS: readonly BodyEncoding[] = ['identity', 'gzip', 'deflate', 'zstd', 'snappy'];

/** An answer other than the usual ones, thrown by a protocol's reader (or the glue). */
export class IngestRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface IngestCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** The body, decoded, in chunks as they arrive. */
  readonly body: AsyncIterable<Buffer>;
  /** Where the rows go. */
  readonly rows: IngestRequest;
}

export interface IngestRoute {
  readonly paths: readonly string[];
  readonly ingester: Ingester;
  readonly maxBodyBytes: number;
  /** Reads the body into `call.rows`; may answer itself (then the glue does not), or throw an IngestRefusal. */
  readonly read: (call: IngestCall) => Promise<void>;
  readonly encodings?: readonly BodyEncoding[];
  /** The status of a request with no refused row; 204 by default. */
  readonly success?: number;
  readonly methods?: readonly string[];
}

/** Tenant paths strip `/insert/<tenant>` and then, when present, `/prometheus`. */
const TENANT_PREFIX = '/insert/';

export class IngestHttp {
  /** `sendsContinue`: the request came through the main listener, which leaves `100 Continue` to the route (Node sends it on a listener of its own). */
  private readonly byPath = new Map<string, Map<string, (req: IncomingMessage, res: ServerResponse, tenant?: Record<string, string>, sendsContinue?: boolean) => Promise<void>>>();
  private tenantRouted = false;

  /**
   * `server`: the main listener, whose router gets the routes. Without one, the routes are only
   * served through `serve`, by a listener of the protocol's own (OpenTSDB's HTTP ports).
   */
  constructor(
    private readonly server: HttpServer | undefined,
    private readonly protect?: (handler: Handler) => Handler,
  ) {}

  /** Registers a plain route (a GET such as `/ping`) under the ingestion access rule. */
  plain(method: string, path: string, handler: Handler): void {
    if (this.server === undefined) throw new Error('plain routes need the main listener');
    this.server.route(method, path, this.guard(handler));
  }

  /** Answers a request of a listener of its own: the routes added here (and their tenant twins), else 404/405. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const methods = this.byPath.get(path);
    const handle = methods?.get(req.method ?? 'GET');
    if (handle !== undefined) return this.guard((rq, rs) => handle(rq, rs))(req, res);
    if (methods === undefined && path.startsWith(TENANT_PREFIX) && this.byPath.size > 0) return this.guard((rq, rs) => this.tenantRoute(rq, rs))(req, res);
    if (methods !== undefined) res.setHeader('allow', [...methods.keys()].join(', '));
    res.writeHead(methods === undefined ? 404 : 405, { 'content-type': CONTENT_TYPE_PLAIN });
    res.end(methods === undefined ? '404 page not found\n' : '405 method not allowed\n');
  }

  add(route: IngestRoute): void {
    const methods = route.methods ?? ['POST'];
    for (const path of route.paths) {
      for (const method of methods) {
        const handle = (req: IncomingMessage, res: ServerResponse, tenant?: Record<string, string>, sendsContinue = false) => this.handle(route, req, res, tenant, sendsContinue);
        this.server?.route(method, path, answerContinueItself(this.guard((req, res) => handle(req, res, undefined, true))));
        let m = this.byPath.get(path);
        if (m === undefined) this.byPath.set(path, (m = new Map()));
        m.set(method, handle);
      }
    }
    if (!this.tenantRouted && this.server !== undefined) {
      this.tenantRouted = true;
      for (const method of ['POST', 'PUT', 'GET']) this.server.routePrefix(method, TENANT_PREFIX, answerContinueItself(this.guard((req, res) => this.tenantRoute(req, res, true))));
    }
  }

  private guard(handler: Handler): Handler {
    return this.protect ? this.protect(handler) : handler;
  }

  private async tenantRoute(req: IncomingMessage, res: ServerResponse, sendsContinue = false): Promise<void> {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rest = path.slice(TENANT_PREFIX.length);
    const slash = rest.indexOf('/');
    const tenant = parseTenant(slash < 0 ? rest : rest.slice(0, slash));
    const sub = slash < 0 ? '' : rest.slice(slash);
    const found = this.byPath.get(sub) ?? (sub.startsWith('/prometheus/') ? this.byPath.get(sub.slice('/prometheus'.length)) : undefined);
    const handle = found?.get(req.method ?? 'GET');
    if (tenant === undefined || handle === undefined) {
      res.writeHead(tenant === undefined ? 400 : 404, { 'content-type': CONTENT_TYPE_PLAIN });
      res.end(tenant === undefined ? `invalid tenant in ${path}: expected /insert/<accountID>[:<projectID>]/...\n` : '404 page not found\n');
      return;
    }
    await handle(req, res, tenant, sendsContinue);
  }

  private async handle(route: IngestRoute, req: IncomingMessage, res: ServerResponse, tenant: Record<string, string> | undefined, sendsContinue: boolean): Promise<void> {
    const ing = route.ingester;
    const answer = (status: number, text: string, headers: Record<string, string> = {}) => {
      ing.counted(String(status));
      if (res.headersSent) return;
      res.writeHead(status, { ...headers, ...(text ? { 'content-type': CONTENT_TYPE_PLAIN } : {}) });
      res.end(text ? text + '\n' : undefined);
    };
    let rows: IngestRequest | undefined;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const extra = { ...extraLabels(url), ...tenant };
      if (ing.overloaded()) {
        // the body is not read: the connection goes, so the client does not send it for nothing
        res.setHeader('connection', 'close');
        throw new IngestRefusal(429, 'the remote-write queues are full; retry later', { 'retry-after': String(RETRY_AFTER_SECONDS) });
      }
      const encoding = bodyEncoding(req, route.encodings ?? ALL_ENCODINGS);
      // refusals above come before the client sends its body; from here on it is wanted
      if (sendsContinue && /100-continue/i.test(req.headers.expect ?? '')) res.writeContinue();
      rows = ing.begin(extra);
      const body = decodedBody(req, encoding, route.maxBodyBytes);
      await route.read({ req, res, url, body, rows });
      const summary = rows.finish();
      if (res.headersSent || res.writableEnded) {
        ing.counted(String(res.statusCode));
        return;
      }
      if (summary.invalid > 0) answer(400, describeRefusals(summary));
      else answer(route.success ?? 204, '');
    } catch (err) {
      // rows read before a fault (a body past its cap, corrupt compression) were accepted: they
      // go on, and the sender is told how many, so that nothing is either lost or silently kept
      const before = rows?.finish().rows ?? 0;
      if (err instanceof IngestRefusal) {
        if (err.status === 413) res.setHeader('connection', 'close');
        answer(err.status, before > 0 ? `${err.message}; the ${before} rows before it were accepted` : err.message, err.headers);
        return;
      }
      ing.log.error('push request failed', { path: req.url, err: err as Error });
      answer(500, 'internal error');
    }
  }
}

/** `accountID[:projectID]`, both 32-bit unsigned; undefined when it is not one. */
function parseTenant(text: string): Record<string, string> | undefined {
  const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(text);
  if (m === null) return undefined;
  const account = Number(m[1]);
  const project = Number(m[2] ?? '0');
  if (account > 0xffffffff || project > 0xffffffff) return undefined;
  return { vm_account_id: String(account), vm_project_id: String(project) };
}

/** `extra_label=name=value` query args (repeatable). */
export function extraLabels(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of url.searchParams.getAll('extra_label')) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new IngestRefusal(400, `extra_label ${JSON.stringify(arg)}: expected name=value`);
    out[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return out;
}

function bodyEncoding(req: IncomingMessage, allowed: readonly BodyEncoding[]): BodyEncoding {
  const raw = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  const enc = (raw === '' ? 'identity' : raw === 'x-gzip' ? 'gzip' : raw) as BodyEncoding;
  if (!allowed.includes(enc)) throw new IngestRefusal(415, `Content-Encoding ${JSON.stringify(raw)} is not supported here (${allowed.join(', ')})`);
  return enc;
}

function tooLarge(limit: number, what: string): IngestRefusal {
  return new IngestRefusal(413, `${what} is larger than the limit of ${limit} bytes`);
}

/** The body as it arrives, decoded; at most `maxBytes` read and at most `maxBytes` decoded (413 past either). */
export async function* decodedBody(req: IncomingMessage, encoding: BodyEncoding, maxBytes: number): AsyncGenerator<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes, 'request body');
  if (encoding === 'snappy') {
    let raw: Buffer;
    try {
      raw = await readBody(req, maxBytes);
    } catch (err) {
      throw err instanceof BodyTooLargeError ? tooLarge(maxBytes, 'request body') : err;
    }
    try {
      yield uncompress(raw, maxBytes);
    } catch (err) {
      if (err instanceof SnappyTooLargeError) throw tooLarge(maxBytes, 'decompressed request body');
      throw new IngestRefusal(400, err instanceof SnappyError ? err.message : `snappy: ${(err as Error).message}`);
    }
    return;
  }
  let read = 0;
  const counted = async function* (): AsyncGenerator<Buffer> {
    for await (const chunk of chunksOf(req)) {
      read += chunk.length;
      if (read > maxBytes) throw tooLarge(maxBytes, 'request body');
      yield chunk;
    }
  };
  if (encoding === 'identity') {
    yield* counted();
    return;
  }
  let decoded = 0;
  const check = (n: number) => {
    decoded += n;
    if (decoded > maxBytes) throw tooLarge(maxBytes, 'decompressed request body');
  };
  if (encoding === 'zstd') {
    const out: Buffer[] = [];
    const z = new Decompress((data) => void out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength)));
    try {
      for await (const chunk of counted()) {
        z.push(chunk);
        while (out.length > 0) {
          const b = out.shift()!;
          check(b.length);
          yield b;
        }
      }
      z.push(new Uint8Array(0), true);
    } catch (err) {
      if (err instanceof IngestRefusal) throw err;
      throw new IngestRefusal(400, `zstd: ${(err as Error).message}`);
    }
    for (const b of out) {
      check(b.length);
      yield b;
    }
    return;
  }
  const z = encoding === 'gzip' ? createGunzip() : createInflate();
  let stopped = false;
  const pump = (async () => {
    try {
      for await (const chunk of counted()) {
        if (stopped) break;
        if (!z.write(chunk)) {
          await new Promise((r) => {
            z.once('drain', r);
            z.once('close', r);
          });
        }
      }
      if (!stopped) z.end();
    } catch (err) {
      z.destroy(err as Error);
    }
  })();
  try {
    for await (const chunk of z as AsyncIterable<Buffer>) {
      check(chunk.length);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof IngestRefusal) throw err;
    throw new IngestRefusal(400, `${encoding}: ${(err as Error).message}`);
  } finally {
    stopped = true;
    z.destroy();
    await pump;
  }
}

/**
 * The request's chunks, one at a time (the stream paused between them). Leaving early — a
 * limit passed, a refusal — drains the rest without keeping it, rather than destroying the
 * request as a for-await over the stream would, so the answer can still be written.
 */
async function* chunksOf(req: IncomingMessage): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    req.pause();
    poke();
  };
  const onEnd = () => {
    ended = true;
    poke();
  };
  const onError = (err: Error) => {
    failure = err;
    poke();
  };
  const onClose = () => {
    if (!ended) failure ??= new Error('the client closed the connection before the body ended');
    poke();
  };
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('error', onError);
  req.once('close', onClose);
  try {
    for (;;) {
      if (queue.length > 0) {
        yield queue.shift()!;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      const waiting = new Promise<void>((r) => (wake = r));
      req.resume();
      await waiting;
    }
  } finally {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
    if (!ended) req.resume();
  }
}
