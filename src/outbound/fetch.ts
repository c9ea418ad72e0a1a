/**
 * One GET of an exporter's page, the way Prometheus scrapes: its Accept header (OpenMetrics
 * preferred, text as fallback, or the scrape job's protocols), gzip, a body size limit counted
 * after decompression (a small gzip bomb must not become a large page), and errors that say
 * what went wrong where. Never rejects: the outcome is a page (or a streamed body) or an error
 * message.
 */

import { createGunzip, type Gunzip } from 'node:zlib';
import type { Dispatcher } from 'undici';
import type { Http1Pool } from './http1.js';
import type { HttpClient } from './configured-client.js';
import { MAX_REDIRECTS, REDIRECT_STATUSES } from './policy.js';
import { USER_AGENT } from '../common/version.js';
import { DEFAULT_ACCEPT } from '../formats/media-types.js';

const ERROR_EXCERPT_CHARS = 200;

export interface FetchSpec {
  readonly url: URL;
  /** The URL as it may appear in messages: no credentials. */
  readonly shownUrl: string;
  /** The job's or source's connections and settings. */
  readonly client: HttpClient;
  readonly headers: Record<string, string | string[]>;
  readonly timeoutMs: number;
  /** Counted after decompression; Infinity for no limit. */
  readonly maxBodyBytes: number;
  /** The Accept header; the gateway's default (OpenMetrics preferred) when absent. */
  readonly accept?: string;
  /** Ask for gzip (Prometheus' enable_compression); default true. */
  readonly compression?: boolean;
  /** The setting that sets maxBodyBytes, named in the error; default max_body_bytes. */
  readonly limitName?: string;
  /** The header telling the server our timeout; default Prometheus' scrape one, null for none. */
  readonly timeoutHeader?: string | null;
  /** A response header the caller needs (Consul's X-Consul-Index), returned as `header`. */
  readonly responseHeader?: string;
}

export type FetchResult =
  | { readonly ok: true; readonly body: Buffer; readonly contentType: string | undefined; readonly header?: string }
  | { readonly ok: false; readonly error: string; readonly status?: number };

/**
 * Receives a body as it arrives, decompressed. A throw from either method ends the fetch with
 * the thrown message as its error (a parse error, or a content type the consumer refuses).
 */
export interface BodyConsumer {
  /** `length`: the body's size when the response declares it (not compressed), else undefined. */
  begin(contentType: string | undefined, length: number | undefined): void;
  chunk(data: Buffer): void;
}

export type StreamResult =
  | { readonly ok: true; readonly contentType: string | undefined; readonly bytes: number; readonly header?: string }
  /**
   * `tooLarge`: the body passed maxBodyBytes (Prometheus reports scrape_body_size_bytes -1 then).
   * `status`: the HTTP status when the server answered with a non-2xx one (Kubernetes' 410
   * Gone means "list again", not "try again").
   */
  | { readonly ok: false; readonly error: string; readonly tooLarge?: boolean; readonly status?: number };

/** Fetches the page into memory; see `fetchStream`. */
export async function fetchPage(spec: FetchSpec, signal: AbortSignal): Promise<FetchResult> {
  // A chunk may be a view of the transport's reused read buffer: it is copied at once, into
  // one buffer that grows by doubling (one allocation for most pages, no list to join).
  let body = Buffer.allocUnsafe(0);
  let size = 0;
  let type: string | undefined;
  const r = await fetchStream(spec, signal, {
    begin: (contentType, length) => {
      type = contentType;
      if (length !== undefined && length <= spec.maxBodyBytes) body = Buffer.allocUnsafe(length);
    },
    chunk: (data) => {
      if (size + data.length > body.length) {
        const bigger = Buffer.allocUnsafe(Math.max(size + data.length, Math.min(body.length * 2, spec.maxBodyBytes), 64 * 1024));
        body.copy(bigger, 0, 0, size);
        body = bigger;
      }
      size += data.copy(body, size);
    },
  });
  return r.ok ? { ok: true, body: body.subarray(0, size), contentType: type, header: r.header } : r;
}

/**
 * One GET whose body goes to `consumer` chunk by chunk, so a large page is never held twice
 * (raw and parsed). `signal` is the caller's (scrape or shutdown); the timeout, which covers
 * the whole body as well as the headers (a trickling target must not hold a scrape open), is
 * added here. Never rejects.
 *
 * Plain `http://` goes through http1.ts (redirects followed here); TLS and proxies through
 * undici's dispatch handler rather than `request`: no body stream, async iterator or combined
 * abort signal per request — at hundreds of scrapes a second those were a large share of the
 * CPU a scrape costs.
 */
export function fetchStream(spec: FetchSpec, signal: AbortSignal, consumer: BodyConsumer): Promise<StreamResult> {
  return new Promise<StreamResult>((resolve) => {
    let done = false;
    let cancel: (() => void) | undefined;
    /** Stop and restart reading the response: gzip input must not pile up faster than it inflates. */
    let pauseTransport: (() => void) | undefined;
    let resumeTransport: (() => void) | undefined;
    let gunzip: Gunzip | undefined;
    let status = 0;
    let contentType: string | undefined;
    let header: string | undefined;
    let total = 0;
    let excerpt = '';

    const finish = (r: StreamResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (!r.ok) cancel?.();
      gunzip?.destroy();
      resolve(r);
    };
    const fail = (error: string): void => finish({ ok: false, error });
    const failStatus = (): void => finish({ ok: false, error: httpError(status, spec, excerpt), status });
    const failTooLarge = (): void => finish({ ok: false, error: tooLarge(spec), tooLarge: true });
    const onAbort = (): void => fail(`scrape aborted while fetching ${spec.shownUrl}`);
    // The timer is checked again after one turn of the event loop: when the process (or the
    // machine) stalled, timers run before the I/O that arrived meanwhile, and a page that came
    // in time would be failed for the stall.
    const timer = setTimeout(
      () => setImmediate(() => fail(`timeout after ${spec.timeoutMs / 1000}s fetching ${spec.shownUrl}`)),
      spec.timeoutMs,
    );
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });

    const complete = (): void => {
      if (status < 200 || status > 299) failStatus();
      else finish({ ok: true, contentType, bytes: total, header });
    };
    const decodedChunk = (data: Buffer): void => {
      if (done) return;
      if (status < 200 || status > 299) {
        excerpt += data.toString('utf8');
        // enough to show; the rest of an error page is not read
        if (excerpt.length >= ERROR_EXCERPT_CHARS) failStatus();
        return;
      }
      total += data.length;
      if (total > spec.maxBodyBytes) return failTooLarge();
      try {
        consumer.chunk(data);
      } catch (err) {
        fail((err as Error).message);
      }
    };

    // what both transports report, in their order: start, data*, end — or an error
    const response = {
      start(statusCode: number, type: string | undefined, encoding: string | undefined, length: string | undefined, wanted: string | undefined): void {
        if (done) return;
        status = statusCode;
        contentType = type;
        header = wanted;
        const gzipped = encoding?.trim().toLowerCase() === 'gzip';
        const ok = statusCode >= 200 && statusCode <= 299;
        if (ok) {
          const declared = Number(length);
          if (!gzipped && Number.isFinite(declared) && declared > spec.maxBodyBytes) return failTooLarge();
          try {
            consumer.begin(contentType, !gzipped && Number.isFinite(declared) && declared >= 0 ? declared : undefined);
          } catch (err) {
            return fail((err as Error).message);
          }
        }
        if (gzipped) {
          const g = createGunzip();
          gunzip = g;
          g.on('data', decodedChunk);
          // Without this, a fast target's compressed bytes queue in zlib while the parser works
          // through what they inflate to: a 1 GB gzip body was held whole.
          g.on('drain', () => resumeTransport?.());
          g.on('error', (err: Error) => fail(`fetching ${spec.shownUrl}: cannot decompress the gzip body: ${err.message}`));
          g.on('end', () => {
            if (!done) complete();
          });
        }
      },
      // a raw-transport chunk is a view of a reused buffer; zlib reads its input later
      data(chunk: Buffer, reused: boolean): void {
        if (done) return;
        if (gunzip) {
          if (!gunzip.write(reused ? Buffer.from(chunk) : chunk)) pauseTransport?.();
        }
        else decodedChunk(chunk);
      },
      end(): void {
        if (done) return;
        if (gunzip) gunzip.end();
        else complete();
      },
      error(err: Error): void {
        if (!done) fail(`fetching ${spec.shownUrl}: ${describe(err)}`);
      },
    };

    // Ours are defaults: a header the client is configured to send (vmagent's `headers` may
    // name User-Agent, Accept-Encoding, Host, the timeout) replaces ours, whatever its case.
    const headers: Record<string, string | string[]> = {
      accept: spec.accept ?? DEFAULT_ACCEPT,
      'accept-encoding': spec.compression === false ? 'identity' : 'gzip',
      'user-agent': USER_AGENT,
    };
    const timeoutHeader = spec.timeoutHeader === undefined ? 'x-prometheus-scrape-timeout-seconds' : spec.timeoutHeader;
    if (timeoutHeader !== null) headers[timeoutHeader] = String(spec.timeoutMs / 1000);
    for (const [name, value] of Object.entries(spec.headers)) headers[name.toLowerCase()] = value;

    const viaPool = (pool: Http1Pool, url: URL, redirects: number): void => {
      const call = pool.request(
        { method: 'GET', path: url.pathname + url.search, headers },
        {
          onHeaders(statusCode, h) {
            const location = h.get('location');
            if (spec.client.followRedirects && REDIRECT_STATUSES.has(statusCode) && location !== undefined) {
              call.abort();
              if (redirects >= MAX_REDIRECTS) return fail(`fetching ${spec.shownUrl}: more than ${MAX_REDIRECTS} redirects`);
              let next: URL;
              try {
                next = new URL(location, url);
              } catch {
                return fail(`fetching ${spec.shownUrl}: HTTP ${statusCode} to an invalid location ${JSON.stringify(location)}`);
              }
              return send(next, redirects + 1);
            }
            const wanted = spec.responseHeader === undefined ? undefined : h.get(spec.responseHeader.toLowerCase());
            response.start(statusCode, h.get('content-type'), h.get('content-encoding'), h.get('content-length'), wanted);
          },
          onData: (chunk) => response.data(chunk, true),
          onEnd: () => response.end(),
          onError: (err) => response.error(err),
        },
      );
      cancel = call.abort;
      pauseTransport = call.pause;
      resumeTransport = call.resume;
    };

    const viaUndici = (dispatcher: Dispatcher, url: URL): void => {
      let retried = false;
      let controller: Dispatcher.DispatchController | undefined;
      cancel = () => controller?.abort(new Error('fetch ended'));
      pauseTransport = () => controller?.pause();
      resumeTransport = () => controller?.resume();
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c;
          if (done) c.abort(new Error('fetch already ended'));
        },
        onResponseStart(_c, statusCode, h) {
          response.start(
            statusCode,
            headerValue(h['content-type']),
            headerValue(h['content-encoding']),
            headerValue(h['content-length']),
            spec.responseHeader === undefined ? undefined : headerValue(h[spec.responseHeader.toLowerCase()]),
          );
        },
        onResponseData: (_c, chunk) => response.data(chunk, false),
        onResponseEnd: () => response.end(),
        onResponseError(_c, err) {
          if (done) return;
          // Go's transport and vmagent do the same: a keep-alive connection the server closed
          // as the request went out gets one more try on a fresh connection
          if (status === 0 && !retried && isStaleConnection(err)) {
            retried = true;
            controller = undefined;
            dispatch();
            return;
          }
          response.error(err);
        },
      };
      const dispatch = (): void => {
        try {
          dispatcher.dispatch({ origin: url.origin, path: url.pathname + url.search, method: 'GET', headers }, handler);
        } catch (err) {
          response.error(err as Error);
        }
      };
      dispatch();
    };

    const send = (url: URL, redirects: number): void => {
      const pool = spec.client.pool(url);
      if (pool !== undefined) return viaPool(pool, url, redirects);
      spec.client.get().then(
        (dispatcher) => {
          if (!done) viaUndici(dispatcher, url);
        },
        (err: Error) => fail(err.message),
      );
    };
    send(spec.url, 0);
  });
}

const STALE_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function isStaleConnection(err: Error): boolean {
  return STALE_CONNECTION_CODES.has((err as Error & { code?: string }).code ?? '');
}

function httpError(status: number, spec: FetchSpec, excerpt: string): string {
  return `HTTP ${status} from ${spec.shownUrl}: ${excerpt.slice(0, ERROR_EXCERPT_CHARS).replace(/\s+/g, ' ').trim()}`;
}

function tooLarge(spec: FetchSpec): string {
  return `body from ${spec.shownUrl} exceeds ${spec.limitName ?? 'max_body_bytes'} (${spec.maxBodyBytes} bytes)`;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function describe(err: unknown): string {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } };
  const cause = e.cause && e.cause !== e ? `: ${e.cause.message}` : '';
  return `${e.message}${cause}`;
}
