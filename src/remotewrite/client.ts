/**
 * One POST of a compressed WriteRequest to a remote-write URL and what its answer means: 2xx
 * done; 5xx, 429 and network errors to be retried (with the receiver's Retry-After, if any);
 * any other status dropped, counted and logged with the receiver's message. The caller owns
 * the retry loop and the queue; this module owns the HTTP side and its per-request metrics.
 */

import type { RemoteWriteConfig } from '../config/remote-write.js';
import type { Logger } from '../log/logger.js';
import { HttpClient } from '../outbound/index.js';
import type { Http1Pool } from '../outbound/http1.js';
import type { CounterChild, HistogramChild } from '../selfmetrics/registry.js';
import { VERSION } from '../runtime/version.js';

/** A receiver's Retry-After is honoured up to this; beyond it a mistake is likelier than intent. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

export interface SendCounters {
  readonly samplesSent: CounterChild;
  readonly bytesSent: CounterChild;
  readonly requests: (code: string) => CounterChild;
  readonly dropped: (reason: string) => CounterChild;
  readonly sendDuration: HistogramChild;
}

export type SendOutcome = { readonly kind: 'done' } | { readonly kind: 'retry'; readonly retryAfterMs?: number };

const DONE: SendOutcome = { kind: 'done' };
const USER_AGENT = `Tributary/${VERSION}`;
/** Of a receiver's answer, what is logged with a refused request. */
const RESPONSE_EXCERPT_CHARS = 300;

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly text: string;
}

export class RemoteWriteClient {
  private readonly http: HttpClient;
  private readonly url: URL;
  private readonly path: string;

  constructor(
    private readonly config: RemoteWriteConfig,
    private readonly counters: SendCounters,
    private readonly log: Logger,
  ) {
    this.http = new HttpClient(config);
    this.url = new URL(config.url);
    this.path = this.url.pathname + this.url.search;
  }

  /** Sends one request; `samples` is what it carries, for the counters. Never throws. */
  async send(block: Buffer, samples: number, stop: AbortSignal): Promise<SendOutcome> {
    let headers: Record<string, string | string[]>;
    try {
      headers = {
        ...this.config.headers,
        ...(await this.http.headers()),
        'content-encoding': 'snappy',
        'content-type': 'application/x-protobuf',
        'user-agent': USER_AGENT,
        'x-prometheus-remote-write-version': '0.1.0',
      };
      // last: sigv4 signs the headers above
      Object.assign(headers, await this.http.requestHeaders('POST', this.url, headers, block));
    } catch (err) {
      this.log.error('cannot prepare the remote-write request', { err: (err as Error).message });
      return { kind: 'retry' };
    }
    const stopwatch = this.counters.sendDuration.startTimer();
    const pool = this.http.pool(this.url);
    let answer = pool ? await this.post(pool, headers, block, stop) : undefined;
    // a redirect: undici follows it (follow_redirects), re-sending the body
    if (answer === undefined || (!(answer instanceof Error) && answer.status >= 300 && answer.status < 400 && this.config.follow_redirects)) {
      answer = await this.postViaUndici(headers, block, stop);
    }
    stopwatch();
    if (answer instanceof Error) {
      if (stop.aborted) return { kind: 'retry' };
      this.counters.requests('error').inc();
      this.log.debug('remote write failed; will retry', { err: answer.message });
      return { kind: 'retry' };
    }
    const { status } = answer;
    this.counters.requests(String(status)).inc();
    if (status >= 200 && status < 300) {
      this.counters.bytesSent.inc(block.length);
      this.counters.samplesSent.inc(samples);
      return DONE;
    }
    if (status >= 500 || status === 429) return { kind: 'retry', retryAfterMs: retryAfter(answer.retryAfter) };
    this.counters.dropped(`http_${status}`).inc(samples);
    this.log.warn('the receiver refused a request; its samples are dropped', { status, samples, response: answer.text });
    return DONE;
  }

  /** One POST over the plain-HTTP pool; an Error for network failures and the timeout. */
  private post(pool: Http1Pool, headers: Record<string, string | string[]>, body: Buffer, stop: AbortSignal): Promise<Answer | Error> {
    return new Promise((resolve) => {
      let status = 0;
      let retryAfterHeader: string | undefined;
      let text = '';
      const settle = (a: Answer | Error): void => {
        clearTimeout(timer);
        stop.removeEventListener('abort', onStop);
        resolve(a);
      };
      const call = pool.request(
        { method: 'POST', path: this.path, headers, body },
        {
          onHeaders(s, h) {
            status = s;
            retryAfterHeader = h.get('retry-after');
          },
          onData(chunk) {
            if (text.length < RESPONSE_EXCERPT_CHARS) text += chunk.toString('utf8', 0, RESPONSE_EXCERPT_CHARS);
          },
          onEnd: () => settle({ status, retryAfter: retryAfterHeader, text: text.slice(0, RESPONSE_EXCERPT_CHARS) }),
          onError: (err) => settle(err),
        },
      );
      const abort = (why: string): void => {
        call.abort();
        settle(new Error(why));
      };
      const timer = setTimeout(() => abort(`timeout after ${this.config.remote_timeout / 1000}s`), this.config.remote_timeout);
      const onStop = (): void => abort('stopped');
      stop.addEventListener('abort', onStop, { once: true });
    });
  }

  private async postViaUndici(headers: Record<string, string | string[]>, body: Buffer, stop: AbortSignal): Promise<Answer | Error> {
    try {
      const dispatcher = await this.http.get();
      const res = await dispatcher.request({
        origin: this.url.origin,
        path: this.path,
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.any([stop, AbortSignal.timeout(this.config.remote_timeout)]),
      });
      const text = await res.body.text();
      const h = res.headers['retry-after'];
      return { status: res.statusCode, retryAfter: Array.isArray(h) ? h[0] : h, text: text.slice(0, RESPONSE_EXCERPT_CHARS) };
    } catch (err) {
      return err as Error;
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/** Retry-After in seconds or as an HTTP date, capped at MAX_RETRY_AFTER_MS. */
export function retryAfter(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const secs = Number(s);
  if (Number.isFinite(secs)) return Math.max(0, Math.min(secs * 1000, MAX_RETRY_AFTER_MS));
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, Math.min(at - Date.now(), MAX_RETRY_AFTER_MS)) : undefined;
}
