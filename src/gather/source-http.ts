/**
 * Gather's requests to a source over the project's outbound client (outbound/configured-client.ts:
 * plain `http://` on its HTTP/1.1 pools, TLS on its undici agent, authentication headers from its
 * settings): one request at a time with its body handed out as an async iterable that reads
 * only as fast as it is consumed (the transport is paused while a small queue is full), so an
 * export of any size streams through with flat memory. Per request a timeout until the answer
 * starts and between its chunks (not over the whole body: a long export is fine while it
 * flows), the caller's abort signal stopping it at once, and every failure turned into a
 * `SourceError` of the right kind with the server's own words.
 */

import { X509Certificate } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { HttpClient } from '../outbound/configured-client.js';
import type { HttpClientSettings } from '../outbound/client-settings.js';
import { shownUrl } from '../outbound/shown-url.js';
import { USER_AGENT } from '../common/version.js';
import { SourceError, type ConnectionConfig, type SourceErrorKind } from './types.js';

export const DEFAULT_TIMEOUT_MS = 60_000;
/** Bytes read ahead of the consumer before the transport is paused. */
const HIGH_WATER = 1024 * 1024;
/**
 * The pooled HTTP/1.1 client hands out views of its one shared read buffer, valid only during
 * the call: they are copied into a slab this large, and the slab's filled part is handed on as
 * one chunk (a view, never copied again) once the consumer asks or it holds `MIN_HANDOUT`. One
 * copy per byte and one queue entry per ~64 KiB instead of a Buffer per transport chunk (a few
 * KiB each: their allocation and collection were most of an export's main-thread time). Not
 * larger: glibc maps larger allocations afresh (page faults on every byte: at 1 MiB six times
 * the cost of the copy), while 128 KiB ones mostly come back from its heap.
 */
const SLAB = 128 * 1024;
const MIN_HANDOUT = 64 * 1024;
/** Enough of an error page to show. */
const ERROR_BODY_CHARS = 8_192;
/** Bodies read whole (JSON answers of the query API) are capped: a preview or a count is not gigabytes. */
export const MAX_JSON_BYTES = 512 * 1024 * 1024;

export interface SourceResponse {
  readonly status: number;
  /** A redirect's target (redirects are not followed: validation names the URL to use instead). */
  readonly location?: string;
  readonly body: AsyncIterable<Buffer>;
}

export interface RequestOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** The client settings a connection calls for: its auth as headers, its TLS choices. */
export function clientSettings(c: ConnectionConfig, userInfo?: { username: string; password: string }): HttpClientSettings {
  const a = c.auth;
  const ca = c.tls?.ca !== undefined && c.tls.ca.trim() !== '' ? c.tls.ca : undefined;
  const tls = ca !== undefined || c.tls?.insecureSkipVerify ? { ca, insecure_skip_verify: c.tls?.insecureSkipVerify ?? false } : undefined;
  const base = { follow_redirects: false, enable_http2: false, tls_config: tls };
  if (a?.type === 'basic') return { ...base, basic_auth: { username: a.username, password: a.password } };
  if (a?.type === 'bearer') return { ...base, authorization: { type: 'Bearer', credentials: a.token } };
  if (a?.type === 'header') return { ...base, override_headers: { [a.name.toLowerCase()]: a.value } };
  if (userInfo !== undefined) return { ...base, basic_auth: userInfo };
  return base;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** What is wrong with a connection's auth or TLS settings (that would only fail later, less clearly), or undefined. */
export function connectionProblem(c: ConnectionConfig): string | undefined {
  if (c.tls?.ca !== undefined && c.tls.ca.trim() !== '') {
    try {
      new X509Certificate(c.tls.ca);
    } catch (err) {
      return `TLS: the CA is not a PEM certificate (-----BEGIN CERTIFICATE-----…): ${(err as Error).message}`;
    }
  }
  const a = c.auth;
  if (a === undefined || a.type === 'none') return undefined;
  if (a.type === 'basic') {
    if (a.username.includes(':')) return 'basic auth: the username must not contain ":"';
    if (!HEADER_VALUE.test(a.username) || !HEADER_VALUE.test(a.password)) return 'basic auth: the username or password holds a line break or control character';
  } else if (a.type === 'bearer') {
    if (a.token.trim() === '') return 'bearer auth: the token is empty';
    if (!HEADER_VALUE.test(a.token)) return 'bearer auth: the token holds a line break or control character';
  } else if (a.type === 'header') {
    if (!HEADER_NAME.test(a.name)) return `custom header: ${JSON.stringify(a.name)} is not an HTTP header name`;
    if (!HEADER_VALUE.test(a.value)) return `custom header ${a.name}: the value holds a line break or control character`;
  }
  return undefined;
}

export class SourceHttp {
  private readonly client: HttpClient;

  constructor(
    settings: HttpClientSettings,
    private readonly timeoutMs: number,
    /**
     * Ask for gzip: `auto` does for remote hosts only — over loopback compressing costs both
     * sides CPU and saves nothing, across a network an export shrinks about tenfold.
     */
    private readonly compression: boolean | 'auto' = 'auto',
  ) {
    this.client = new HttpClient(settings);
  }

  /**
   * GET `url` with `params` (POST as a form when the query would be too long for a URL). The
   * answer's status is returned whatever it is; a failure to get one throws SourceError.
   */
  async request(url: string, params: URLSearchParams | undefined, opts: RequestOptions = {}): Promise<SourceResponse> {
    const query = params?.toString() ?? '';
    const post = query.length > 4_096;
    const target = new URL(url + (query !== '' && !post ? `?${query}` : ''));
    const shown = shownUrl(url);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const signal = opts.signal;
    if (signal?.aborted) throw new SourceError('canceled', `canceled before requesting ${shown}`);
    const headers: Record<string, string | string[]> = {
      'user-agent': USER_AGENT,
      accept: 'application/json, */*',
      'accept-encoding': (this.compression === 'auto' ? !isLoopback(target.hostname) : this.compression) ? 'gzip' : 'identity',
      ...(await this.headers(shown)),
    };
    const body = post ? Buffer.from(query) : undefined;
    if (post) headers['content-type'] = 'application/x-www-form-urlencoded';
    return new Promise<SourceResponse>((resolve, reject) => {
      const queue: Buffer[] = [];
      let queued = 0;
      let ended = false;
      let failure: SourceError | undefined;
      let waiting: (() => void) | undefined;
      let paused = false;
      let started = false;
      let abort: () => void = () => {};
      let pause: () => void = () => {};
      let resume: () => void = () => {};
      let timer: NodeJS.Timeout | undefined;
      let deadline = 0;
      // copied bytes not yet queued: slab[slabFrom, slabUsed)
      let slab: Buffer | undefined;
      let slabFrom = 0;
      let slabUsed = 0;

      const wake = (): void => {
        const w = waiting;
        waiting = undefined;
        w?.();
      };
      const disarm = (): void => {
        clearTimeout(timer);
        timer = undefined;
      };
      const fail = (err: SourceError): void => {
        if (failure !== undefined || ended) return;
        failure = err;
        disarm();
        signal?.removeEventListener('abort', onAbort);
        abort();
        if (!started) reject(err);
        wake();
      };
      const onAbort = (): void => fail(new SourceError('canceled', `canceled while reading ${shown}`));
      // the timer runs while the source owes us bytes, not while we hold it paused; a chunk only
      // moves the deadline (one timer per timeout, not a new one per chunk)
      const check = (): void => {
        const left = deadline - performance.now();
        if (left > 0) timer = setTimeout(check, left);
        else {
          timer = undefined;
          setImmediate(() => fail(new SourceError('timeout', `timeout: no answer from ${shown} within ${timeoutMs / 1000}s`)));
        }
      };
      const arm = (): void => {
        deadline = performance.now() + timeoutMs;
        timer ??= setTimeout(check, timeoutMs);
      };
      const handOut = (): void => {
        if (slab === undefined || slabUsed === slabFrom) return;
        queue.push(slab.subarray(slabFrom, slabUsed));
        slabFrom = slabUsed;
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      arm();

      const iterate = async function* (): AsyncGenerator<Buffer> {
        try {
          for (;;) {
            // an abort after the body arrived whole still stops the reader at once
            if (signal?.aborted && failure === undefined) failure = new SourceError('canceled', `canceled while reading ${shown}`);
            if (failure !== undefined) throw failure;
            if (queue.length === 0) handOut();
            if (queue.length > 0) {
              const c = queue.shift()!;
              queued -= c.length;
              if (paused && queued < HIGH_WATER / 2) {
                paused = false;
                arm();
                resume();
              }
              yield c;
              continue;
            }
            if (ended) return;
            await new Promise<void>((r) => (waiting = r));
          }
        } finally {
          // a consumer that stops early (break, throw) lets the connection go
          if (!ended && failure === undefined) {
            failure = new SourceError('canceled', `stopped reading ${shown}`);
            disarm();
            signal?.removeEventListener('abort', onAbort);
            abort();
          }
        }
      };

      const events = {
        start: (status: number, location: string | undefined, encoding: string | undefined): void => {
          if (failure !== undefined) return;
          started = true;
          arm();
          const gzipped = encoding?.trim().toLowerCase() === 'gzip';
          resolve({ status, location, body: gzipped ? gunzip(iterate(), shown) : iterate() });
        },
        data: (chunk: Buffer, copy: boolean): void => {
          if (failure !== undefined || ended) return;
          if (copy) {
            if (slab === undefined || slabUsed + chunk.length > slab.length) {
              handOut();
              slab = Buffer.allocUnsafe(Math.max(SLAB, chunk.length));
              slabFrom = slabUsed = 0;
            }
            slabUsed += chunk.copy(slab, slabUsed);
            if (slabUsed - slabFrom >= MIN_HANDOUT) handOut();
          } else queue.push(chunk);
          queued += chunk.length;
          if (queued >= HIGH_WATER && !paused) {
            paused = true;
            disarm();
            pause();
          } else arm();
          wake();
        },
        end: (): void => {
          if (failure !== undefined || ended) return;
          handOut();
          ended = true;
          disarm();
          signal?.removeEventListener('abort', onAbort);
          wake();
        },
        error: (err: Error): void => fail(networkError(err, shown)),
      };

      const pool = this.client.pool(target);
      if (pool !== undefined) {
        const call = pool.request(
          { method: post ? 'POST' : 'GET', path: target.pathname + target.search, headers, body },
          {
            onHeaders: (status, h) => events.start(status, h.get('location'), h.get('content-encoding')),
            onData: (c) => events.data(c, true),
            onEnd: () => events.end(),
            onError: (err) => events.error(err),
          },
        );
        abort = call.abort;
        pause = call.pause;
        resume = call.resume;
        return;
      }
      let controller: Dispatcher.DispatchController | undefined;
      abort = () => controller?.abort(new Error('request ended'));
      pause = () => controller?.pause();
      resume = () => controller?.resume();
      this.client.get().then(
        (dispatcher) => {
          if (failure !== undefined) return;
          try {
            dispatcher.dispatch(
              { origin: target.origin, path: target.pathname + target.search, method: post ? 'POST' : 'GET', headers, body },
              {
                onRequestStart: (c) => {
                  controller = c;
                  if (failure !== undefined) c.abort(new Error('request ended'));
                },
                onResponseStart: (_c, status, h) => {
                  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
                  events.start(status, one(h['location']), one(h['content-encoding']));
                },
                onResponseData: (_c, chunk) => events.data(chunk, false),
                onResponseEnd: () => events.end(),
                onResponseError: (_c, err) => events.error(err),
              },
            );
          } catch (err) {
            events.error(err as Error);
          }
        },
        (err: Error) => fail(new SourceError('network', `${shown}: ${err.message}`)),
      );
    });
  }

  /**
   * A JSON answer of the Prometheus API (`{"status":"success","data":…}`), read whole; any other
   * answer throws SourceError with the server's error text.
   */
  async json<T>(url: string, params: URLSearchParams | undefined, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(url, params, opts);
    if (res.status < 200 || res.status > 299) throw await statusError(res, shownUrl(url));
    const text = await readText(res.body, MAX_JSON_BYTES, shownUrl(url));
    let parsed: { status?: string; data?: T; error?: string };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new SourceError('http', `${shownUrl(url)} did not answer JSON: ${excerpt(text)}`, res.status);
    }
    if (parsed.status !== 'success') throw classified(res.status, `${shownUrl(url)}: ${parsed.error ?? excerpt(text)}`);
    return parsed.data as T;
  }

  private async headers(shown: string): Promise<Record<string, string | string[]>> {
    try {
      return await this.client.headers();
    } catch (err) {
      throw new SourceError('auth', `${shown}: ${(err as Error).message}`);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/**
 * A gzip body decompressed as it is read: node's stream plumbing carries the consumer's pace
 * back to the transport (the gunzip stream stops pulling, the queue fills, the socket pauses).
 */
async function* gunzip(raw: AsyncIterable<Buffer>, shown: string): AsyncGenerator<Buffer> {
  const source = Readable.from(raw, { objectMode: false });
  const g = createGunzip();
  source.on('error', (err) => g.destroy(err));
  source.pipe(g);
  try {
    for await (const c of g) yield c as Buffer;
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError('http', `cannot decompress the gzip answer of ${shown}: ${(err as Error).message}`);
  } finally {
    source.destroy();
    g.destroy();
  }
}

/** The body as text, at most `max` bytes (more throws). */
export async function readText(body: AsyncIterable<Buffer>, max: number, shown: string): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.length;
    if (size > max) throw new SourceError('http', `the answer of ${shown} is larger than ${max} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts, size).toString('utf8');
}

/** A non-2xx answer as a SourceError, its kind from the status and the server's text. */
export async function statusError(res: SourceResponse, shown: string): Promise<SourceError> {
  let text = '';
  try {
    for await (const c of res.body) {
      text += c.toString('utf8');
      if (text.length >= ERROR_BODY_CHARS) break;
    }
  } catch {
    // what arrived is enough to say what went wrong
  }
  // a Prometheus API error is JSON: show its message, not the envelope
  let message = text;
  try {
    const j = JSON.parse(text) as { error?: string };
    if (typeof j.error === 'string') message = j.error;
  } catch {
    // not JSON: the text as it is
  }
  // classified on the whole text: VictoriaMetrics names the limit after a long preamble
  const moved = res.location !== undefined ? ` (redirected to ${shownUrl(res.location)})` : '';
  return classified(res.status, `HTTP ${res.status} from ${shown}${moved}: ${excerpt(message)}`, message);
}

function excerpt(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  // VictoriaMetrics puts the cause last, after the request and the filters
  return t.length > 600 ? `${t.slice(0, 200)} … ${t.slice(-400)}` : t;
}

const TOO_MANY = [
  'the number of matching timeseries exceeds',
  'the number of unique timeseries exceeds',
  'too many timeseries',
  'maxuniquetimeseries',
  'search.maxexportseries',
  'search.maxseries',
  'would load too many samples',
  'cannot select more than',
  'maxsamplesperquery',
  'the number of raw samples',
];

/** The kind of a failed answer: limits and timeouts first (they make an export split its batch). */
export function classified(status: number | undefined, message: string, detail = message): SourceError {
  const m = detail.toLowerCase();
  let kind: SourceErrorKind;
  if (TOO_MANY.some((s) => m.includes(s))) kind = 'too_many_series';
  else if (
    m.includes('timeout exceeded') ||
    m.includes('query timed out') ||
    m.includes('deadline exceeded') ||
    m.includes('maxqueryduration') ||
    status === 504 ||
    (status === 503 && /time(d)? ?out/.test(m))
  )
    kind = 'timeout';
  else if (status === 401 || status === 403 || m.includes('cannot find the provided auth token') || m.includes('missing `authorization`') || m.includes('unauthorized'))
    kind = 'auth';
  else if (status === 404) kind = 'not_found';
  else kind = 'http';
  return new SourceError(kind, message, status);
}

function networkError(err: Error, shown: string): SourceError {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  const cause = e.cause && e.cause !== e && !e.message.includes(e.cause.message) ? `: ${e.cause.message}` : '';
  const text = `${e.message}${cause}`;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT') {
    return new SourceError('timeout', `timeout talking to ${shown}: ${text}`);
  }
  return new SourceError('network', `cannot reach ${shown}: ${code !== '' && !text.includes(code) ? `${code} ` : ''}${text}`);
}
