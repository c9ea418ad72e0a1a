/**
 * One POST of a compressed request to a remote-write URL and what its answer means: 2xx
 * done; 5xx, 429 and network errors to be retried (with the receiver's Retry-After, if any);
 * any other status dropped, counted and logged with the receiver's message. Requests are
 * queued as 1.0; a URL configured for 2.0 converts each one here and falls back to 1.0 when the
 * receiver does not take 2.0 (protocol.ts). The caller owns the retry loop and the queue; this
 * module owns the HTTP side, its per-request metrics and the outage log's events (failures.ts).
 */

import type { RemoteWriteConfig } from '../config/remote-write.js';
import { V2_CONTENT_TYPE, V2_VERSION_HEADER } from '../formats/remotewrite/index.js';
import type { Logger } from '../log/logger.js';
import { HttpClient } from '../outbound/index.js';
import { postBuffer, retryAfterMs } from '../outbound/post.js';
import type { CounterChild, HistogramChild } from '../selfmetrics/registry.js';
import { USER_AGENT } from '../common/version.js';
import { MEDIA_REMOTE_WRITE } from '../formats/media-types.js';
import { classifyNetworkError, OUTAGE_SUMMARY_MS, RESPONSE_EXCERPT_BYTES, type OutageLog } from './failures.js';
import { ProtocolChoice, V2Converter, type MetadataIndex } from './protocol.js';

/** A receiver's Retry-After is honoured up to this; beyond it a mistake is likelier than intent. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

export interface SendCounters {
  readonly samplesSent: CounterChild;
  readonly bytesSent: CounterChild;
  readonly requests: (code: string) => CounterChild;
  readonly dropped: (reason: string) => CounterChild;
  readonly sendDuration: HistogramChild;
}

/** `accepted`: a 2xx, so the receiver read the whole request and nothing of it is still being written. */
export type SendOutcome = { readonly kind: 'done'; readonly accepted?: boolean } | { readonly kind: 'retry'; readonly retryAfterMs?: number };

const DONE: SendOutcome = { kind: 'done' };
const ACCEPTED: SendOutcome = { kind: 'done', accepted: true };
const V1_HEADERS = { 'content-type': MEDIA_REMOTE_WRITE, 'x-prometheus-remote-write-version': '0.1.0' };
const V2_HEADERS = { 'content-type': V2_CONTENT_TYPE, 'x-prometheus-remote-write-version': V2_VERSION_HEADER };
export const SAMPLES_WRITTEN_HEADER = 'x-prometheus-remote-write-samples-written';
const PICKED = ['retry-after', SAMPLES_WRITTEN_HEADER];

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  /** X-Prometheus-Remote-Write-Samples-Written, as sent. */
  readonly samplesWritten: string | undefined;
  readonly text: string;
}

export interface ClientOptions {
  readonly outage: OutageLog;
  /** Metadata attached to 2.0 series; undefined when `metadata_config.send` is off. */
  readonly metadata?: MetadataIndex;
}

/** The request could not be prepared (authentication); nothing was sent. */
class Unprepared extends Error {}

export class RemoteWriteClient {
  private readonly http: HttpClient;
  private readonly url: URL;
  private readonly protocol: ProtocolChoice;
  private readonly v2: V2Converter | undefined;
  /** Refused requests (4xx) since the last line about them. */
  private readonly refusals = { loggedAt: 0, requests: 0, samples: 0 };

  constructor(
    private readonly config: RemoteWriteConfig,
    private readonly counters: SendCounters,
    private readonly log: Logger,
    private readonly opts: ClientOptions,
  ) {
    this.http = new HttpClient(config);
    this.url = new URL(config.url);
    this.protocol = new ProtocolChoice(config.protobuf_message === 'io.prometheus.write.v2.Request', log);
    this.v2 = this.protocol.configuredV2 ? new V2Converter(opts.metadata) : undefined;
  }

  /** Sends one queued (1.0) request; `samples` is what it carries, for the counters. Never throws. */
  async send(block: Buffer, samples: number, stop: AbortSignal): Promise<SendOutcome> {
    let auth: Record<string, string | string[]>;
    try {
      auth = await this.http.headers();
    } catch (err) {
      return this.unprepared(err as Error);
    }
    const base = { ...this.config.headers, ...auth, 'content-encoding': 'snappy', 'user-agent': USER_AGENT };
    // a 400 to 2.0: the same data as 1.0 tells bad data (refused again) from a receiver without 2.0
    let probing = false;
    if (this.v2 !== undefined && this.protocol.useV2) {
      let v2: { body: Buffer; samples: number } | undefined;
      try {
        v2 = this.v2.convert(block);
      } catch (err) {
        this.log.error('cannot convert a queued request to remote write 2.0; sending it as 1.0', { err: (err as Error).message });
      }
      if (v2 !== undefined && v2.samples === 0) return DONE;
      if (v2 !== undefined) {
        const answer = await this.post({ ...base, ...V2_HEADERS }, v2.body, stop);
        if (answer instanceof Error || answer.status >= 500 || answer.status === 429) return this.retryable(answer, stop);
        const { status } = answer;
        if (status === 415) {
          this.protocol.fallBack(`${status}: ${answer.text}`);
        } else if (status >= 200 && status < 300 && answer.samplesWritten === undefined) {
          this.protocol.fallBack(`${status} without ${SAMPLES_WRITTEN_HEADER}: a 1.0 receiver that read the 2.0 request as an empty 1.0 one`);
        } else if (status === 400) {
          probing = true;
        } else if (status >= 200 && status < 300) {
          const written = Number(answer.samplesWritten);
          if (Number.isFinite(written) && written < v2.samples) {
            this.counters.dropped('not_written').inc(v2.samples - written);
            this.log.warn('the receiver wrote fewer samples than sent', { sent: v2.samples, written, response: answer.text });
          }
          return this.accepted(Number.isFinite(written) ? Math.min(written, samples) : samples);
        } else {
          return this.refused(answer, samples);
        }
      }
    }
    const answer = await this.post({ ...base, ...V1_HEADERS }, block, stop);
    if (answer instanceof Error || answer.status >= 500 || answer.status === 429) return this.retryable(answer, stop);
    if (answer.status >= 200 && answer.status < 300) {
      if (probing) this.protocol.fallBack('400 to the 2.0 request, the same data accepted as 1.0');
      return this.accepted(samples);
    }
    return this.refused(answer, samples);
  }

  private accepted(samples: number): SendOutcome {
    this.counters.samplesSent.inc(samples);
    this.opts.outage.succeeded();
    return ACCEPTED;
  }

  /** A failure to be retried: counted by kind and told to the outage log. */
  private retryable(answer: Answer | Error, stop: AbortSignal): SendOutcome {
    if (answer instanceof Unprepared) return this.unprepared(answer);
    if (answer instanceof Error) {
      if (stop.aborted) return { kind: 'retry' };
      const code = classifyNetworkError(answer);
      this.counters.requests(code).inc();
      this.opts.outage.failed({ reason: code, detail: answer.message });
      return { kind: 'retry' };
    }
    this.opts.outage.failed({ reason: `http_${answer.status}`, status: answer.status, detail: answer.text });
    return { kind: 'retry', retryAfterMs: retryAfter(answer.retryAfter) };
  }

  /**
   * No request could be made (a token endpoint down, sigv4 credentials missing, an auth kind
   * Tributary cannot do): retried, and told to the outage log like any failure, once per episode.
   */
  private unprepared(err: Error): SendOutcome {
    this.opts.outage.failed({ reason: 'auth', detail: err.message });
    return { kind: 'retry' };
  }

  private refused(answer: Answer, samples: number): SendOutcome {
    const { status } = answer;
    // the receiver answered: whatever outage there was is over
    this.opts.outage.succeeded();
    this.counters.dropped(`http_${status}`).inc(samples);
    // a receiver that refuses everything would log every request: the first, then one line a minute
    const now = Date.now();
    const r = this.refusals;
    r.requests++;
    r.samples += samples;
    if (now - r.loggedAt >= OUTAGE_SUMMARY_MS) {
      const repeated = r.loggedAt === 0 ? {} : { refused_requests_since_last_line: r.requests, samples_dropped_since_last_line: r.samples };
      this.log.warn('the receiver refused a request; its samples are dropped', { status, samples, response: answer.text, ...repeated });
      r.loggedAt = now;
      r.requests = 0;
      r.samples = 0;
    }
    return DONE;
  }

  /**
   * One POST and its answer, counted (requests by status, bytes whenever an answer came: the
   * bytes crossed the wire whatever the receiver made of them). Via undici where the plain
   * pool does not serve the URL, and to follow a redirect (follow_redirects), re-sending the body.
   */
  private async post(headers: Record<string, string | string[]>, body: Buffer, stop: AbortSignal): Promise<Answer | Error> {
    try {
      // last: sigv4 signs the headers above and this body
      Object.assign(headers, await this.http.requestHeaders('POST', this.url, headers, body));
    } catch (err) {
      return new Unprepared((err as Error).message);
    }
    const stopwatch = this.counters.sendDuration.startTimer();
    const got = await postBuffer(this.http, {
      url: this.url,
      headers,
      body,
      timeoutMs: this.config.remote_timeout,
      stop,
      pick: PICKED,
      excerptBytes: RESPONSE_EXCERPT_BYTES,
      followRedirects: this.config.follow_redirects,
    });
    const answer: Answer | Error = got instanceof Error ? got : { status: got.status, retryAfter: got.headers['retry-after'], samplesWritten: got.headers[SAMPLES_WRITTEN_HEADER], text: got.text };
    stopwatch();
    if (!(answer instanceof Error)) {
      this.counters.requests(String(answer.status)).inc();
      this.counters.bytesSent.inc(body.length);
    }
    return answer;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/** Retry-After in seconds or as an HTTP date, capped at MAX_RETRY_AFTER_MS. */
export function retryAfter(s: string | undefined): number | undefined {
  return retryAfterMs(s, MAX_RETRY_AFTER_MS);
}
