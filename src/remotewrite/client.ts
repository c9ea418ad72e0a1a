/**
 * One POST of a compressed WriteRequest to a remote-write URL and what its answer means: 2xx
 * done; 5xx, 429 and network errors to be retried (with the receiver's Retry-After, if any);
 * any other status dropped, counted and logged with the receiver's message. The caller owns
 * the retry loop and the queue; this module owns the HTTP side and its per-request metrics.
 */

import type { Dispatcher } from 'undici';
import type { RemoteWriteConfig } from '../config/remote-write.js';
import type { Logger } from '../log/logger.js';
import { HttpClient } from '../outbound/index.js';
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
    let dispatcher: Dispatcher;
    let auth: Record<string, string | string[]>;
    try {
      dispatcher = await this.http.get();
      auth = await this.http.headers();
    } catch (err) {
      this.log.error('cannot prepare the remote-write request', { err: (err as Error).message });
      return { kind: 'retry' };
    }
    const stopwatch = this.counters.sendDuration.startTimer();
    try {
      const res = await dispatcher.request({
        origin: this.url.origin,
        path: this.path,
        method: 'POST',
        headers: {
          ...this.config.headers,
          ...auth,
          'content-encoding': 'snappy',
          'content-type': 'application/x-protobuf',
          'user-agent': `Tributary/${VERSION}`,
          'x-prometheus-remote-write-version': '0.1.0',
        },
        body: block,
        signal: AbortSignal.any([stop, AbortSignal.timeout(this.config.remote_timeout)]),
      });
      const text = await res.body.text();
      stopwatch();
      const status = res.statusCode;
      this.counters.requests(String(status)).inc();
      if (status >= 200 && status < 300) {
        this.counters.bytesSent.inc(block.length);
        this.counters.samplesSent.inc(samples);
        return DONE;
      }
      if (status >= 500 || status === 429) return { kind: 'retry', retryAfterMs: retryAfter(res.headers['retry-after']) };
      this.counters.dropped(`http_${status}`).inc(samples);
      this.log.warn('the receiver refused a request; its samples are dropped', { status, samples, response: text.slice(0, 300) });
      return DONE;
    } catch (err) {
      if (stop.aborted) return { kind: 'retry' };
      this.counters.requests('error').inc();
      this.log.debug('remote write failed; will retry', { err: (err as Error).message });
      return { kind: 'retry' };
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/** Retry-After in seconds or as an HTTP date, capped at MAX_RETRY_AFTER_MS. */
export function retryAfter(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const secs = Number(s);
  if (Number.isFinite(secs)) return Math.max(0, Math.min(secs * 1000, MAX_RETRY_AFTER_MS));
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, Math.min(at - Date.now(), MAX_RETRY_AFTER_MS)) : undefined;
}
