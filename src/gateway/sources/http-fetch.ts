/**
 * One GET of an exporter's page, the way Prometheus scrapes: its Accept header (OpenMetrics
 * preferred, text as fallback), gzip, a body size limit counted after decompression (a small
 * gzip bomb must not become a large page), and errors that say what went wrong where. Never
 * rejects: the outcome is a page or an error message.
 */

import { createGunzip } from 'node:zlib';
import { pipeline, type Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { VERSION } from '../../runtime/version.js';

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
}

export type FetchResult =
  | { readonly ok: true; readonly body: Buffer; readonly contentType: string | undefined }
  | { readonly ok: false; readonly error: string };

/** Fetches the page; `signal` is the caller's (scrape or shutdown); the timeout is added here. */
export async function fetchPage(spec: FetchSpec, signal: AbortSignal): Promise<FetchResult> {
  const timeout = AbortSignal.timeout(spec.timeoutMs);
  const both = AbortSignal.any([signal, timeout]);
  const abortReason = (): string =>
    timeout.aborted
      ? `timeout after ${spec.timeoutMs / 1000}s fetching ${spec.shownUrl}`
      : `scrape aborted while fetching ${spec.shownUrl}`;
  try {
    const res = await request(spec.url, {
      method: 'GET',
      dispatcher: spec.dispatcher,
      signal: both,
      headers: {
        ...spec.headers,
        accept: ACCEPT_HEADER,
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
    const body = await readLimited(decoded(res.body, gzipped), spec.maxBodyBytes);
    if (body === undefined) {
      discard(res.body);
      return { ok: false, error: tooLarge(spec) };
    }
    return { ok: true, body, contentType };
  } catch (err) {
    if (both.aborted) return { ok: false, error: abortReason() };
    return { ok: false, error: `fetching ${spec.shownUrl}: ${describe(err)}` };
  }
}

function tooLarge(spec: FetchSpec): string {
  return `body from ${spec.shownUrl} exceeds max_body_bytes (${spec.maxBodyBytes} bytes)`;
}

/** The whole stream, or undefined once it passes `limit` bytes. */
async function readLimited(stream: Readable, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      discard(stream);
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
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
