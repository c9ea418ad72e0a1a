/**
 * One GET of an exporter's page, the way Prometheus scrapes: its Accept header (OpenMetrics
 * preferred, text as fallback, or the scrape job's protocols), gzip, a body size limit counted
 * after decompression (a small gzip bomb must not become a large page), and errors that say
 * what went wrong where. Never rejects: the outcome is a page (or a streamed body) or an error
 * message.
 */

import { createGunzip } from 'node:zlib';
import { pipeline, type Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { VERSION } from '../runtime/version.js';

export const ACCEPT_HEADER =
  'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,' +
  'text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

const USER_AGENT = `Tributary/${VERSION}`;
const ERROR_EXCERPT_CHARS = 200;

export interface FetchSpec {
  readonly url: URL;
  /** The URL as it may appear in messages: no credentials. */
  readonly shownUrl: string;
  readonly dispatcher: Dispatcher;
  readonly headers: Record<string, string | string[]>;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  /** The Accept header; the gateway's default (OpenMetrics preferred) when absent. */
  readonly accept?: string;
  /** The setting that sets maxBodyBytes, named in the error; default max_body_bytes. */
  readonly limitName?: string;
}

export type FetchResult =
  | { readonly ok: true; readonly body: Buffer; readonly contentType: string | undefined }
  | { readonly ok: false; readonly error: string };

/**
 * Receives a body as it arrives, decompressed. A throw from either method ends the fetch with
 * the thrown message as its error (a parse error, or a content type the consumer refuses).
 */
export interface BodyConsumer {
  begin(contentType: string | undefined): void;
  chunk(data: Buffer): void;
}

export type StreamResult =
  | { readonly ok: true; readonly contentType: string | undefined; readonly bytes: number }
  | { readonly ok: false; readonly error: string };

/** Fetches the page into memory; see `fetchStream`. */
export async function fetchPage(spec: FetchSpec, signal: AbortSignal): Promise<FetchResult> {
  const chunks: Buffer[] = [];
  let type: string | undefined;
  const r = await fetchStream(spec, signal, {
    begin: (contentType) => {
      type = contentType;
    },
    chunk: (data) => {
      chunks.push(data);
    },
  });
  return r.ok ? { ok: true, body: Buffer.concat(chunks, r.bytes), contentType: type } : r;
}

/**
 * One GET whose body goes to `consumer` chunk by chunk, so a large page is never held twice
 * (raw and parsed). `signal` is the caller's (scrape or shutdown); the timeout, which covers
 * the whole body as well as the headers (a trickling target must not hold a scrape open), is
 * added here. Never rejects.
 */
export async function fetchStream(spec: FetchSpec, signal: AbortSignal, consumer: BodyConsumer): Promise<StreamResult> {
  const timeout = AbortSignal.timeout(spec.timeoutMs);
  const both = AbortSignal.any([signal, timeout]);
  const abortReason = (): string =>
    timeout.aborted
      ? `timeout after ${spec.timeoutMs / 1000}s fetching ${spec.shownUrl}`
      : `scrape aborted while fetching ${spec.shownUrl}`;
  let consumerError: Error | undefined;
  try {
    const res = await request(spec.url, {
      method: 'GET',
      dispatcher: spec.dispatcher,
      signal: both,
      headers: {
        ...spec.headers,
        accept: spec.accept ?? ACCEPT_HEADER,
        'accept-encoding': 'gzip',
        'user-agent': USER_AGENT,
        'x-prometheus-scrape-timeout-seconds': String(spec.timeoutMs / 1000),
      },
    });
    const contentType = headerValue(res.headers['content-type']);
    const gzipped = headerValue(res.headers['content-encoding'])?.trim().toLowerCase() === 'gzip';
    if (res.statusCode < 200 || res.statusCode > 299) {
      const excerpt = await readExcerpt(res.body, gzipped);
      return { ok: false, error: `HTTP ${res.statusCode} from ${spec.shownUrl}: ${excerpt}` };
    }
    const declared = Number(headerValue(res.headers['content-length']));
    if (!gzipped && Number.isFinite(declared) && declared > spec.maxBodyBytes) {
      discard(res.body);
      return { ok: false, error: tooLarge(spec) };
    }
    try {
      consumer.begin(contentType);
    } catch (err) {
      discard(res.body);
      return { ok: false, error: (err as Error).message };
    }
    const stream = decoded(res.body, gzipped);
    let total = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > spec.maxBodyBytes) {
        discard(stream);
        discard(res.body);
        return { ok: false, error: tooLarge(spec) };
      }
      try {
        consumer.chunk(chunk);
      } catch (err) {
        consumerError = err as Error;
        discard(stream);
        discard(res.body);
        return { ok: false, error: consumerError.message };
      }
    }
    return { ok: true, contentType, bytes: total };
  } catch (err) {
    if (both.aborted) return { ok: false, error: abortReason() };
    return { ok: false, error: `fetching ${spec.shownUrl}: ${describe(err)}` };
  }
}

function tooLarge(spec: FetchSpec): string {
  return `body from ${spec.shownUrl} exceeds ${spec.limitName ?? 'max_body_bytes'} (${spec.maxBodyBytes} bytes)`;
}

/** The first characters of an error body, on one line; reading stops there. */
async function readExcerpt(body: Readable, gzipped: boolean): Promise<string> {
  try {
    const stream = decoded(body, gzipped);
    let text = '';
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length >= ERROR_EXCERPT_CHARS) break;
    }
    discard(stream);
    discard(body);
    return text.slice(0, ERROR_EXCERPT_CHARS).replace(/\s+/g, ' ').trim();
  } catch {
    return '(body unreadable)';
  }
}

/** Stops reading; undici reports a destroyed body as an error, which nobody is left to hear. */
function discard(stream: Readable): void {
  stream.on('error', () => {});
  stream.destroy();
}

/** The body as sent, or gunzipped; errors on either side reach the reader. */
function decoded(body: Readable, gzipped: boolean): Readable {
  if (!gzipped) return body;
  return pipeline(body, createGunzip(), () => {
    // Errors surface through the returned stream's iterator.
  });
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function describe(err: unknown): string {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } };
  const cause = e.cause && e.cause !== e ? `: ${e.cause.message}` : '';
  return `${e.message}${cause}`;
}
