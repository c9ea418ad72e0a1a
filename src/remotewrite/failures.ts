/**
 * What a failed remote-write request was, and how an outage is told in the log. A retried
 * failure used to be logged at debug only, so a dead receiver was silent at the default level;
 * logging every retry instead would write a line per backoff per shard. So an outage is an
 * episode: its first failure is logged with the reason (refused, timeout, reset, tls, the
 * status and the start of the receiver's answer), then one summary a minute while it lasts
 * (failures, retries, age of the oldest sample waiting), then the recovery with its duration.
 */

import type { Logger } from '../log/logger.js';

/** `requests_total` codes for requests that got no answer. */
export type NetworkErrorCode = 'timeout' | 'refused' | 'reset' | 'tls' | 'error';

/** How often an outage still going on is summarised. */
export const OUTAGE_SUMMARY_MS = 60_000;
/** Of a receiver's answer, what is logged with a failure. */
export const RESPONSE_EXCERPT_BYTES = 256;

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** The kind of a network failure, from the error's code (or its cause's: undici wraps them). */
export function classifyNetworkError(err: Error): NetworkErrorCode {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = (e as Error & { cause?: unknown }).cause, depth++) {
    const code = String((e as Error & { code?: unknown }).code ?? '');
    if (e.name === 'TimeoutError' || code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || /^timeout/.test(e.message)) return 'timeout';
    if (code === 'ECONNREFUSED') return 'refused';
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'ECONNABORTED') return 'reset';
    if (TLS_CODES.test(code) || /\b(TLS|SSL|certificate)\b/i.test(e.message)) return 'tls';
  }
  return 'error';
}

/** One failed attempt: a network error or a status that is retried. */
export interface Failure {
  /** `refused`, `timeout`, `reset`, `tls`, `error` or `http_<status>`. */
  readonly reason: string;
  readonly status?: number;
  /** The network error's message, or the start of the receiver's answer. */
  readonly detail: string;
}

/**
 * One URL's outage state. `failed` and `succeeded` come from the sender after each attempt;
 * `tick` (from the queue's timer) writes the summary when a minute passed without a failure
 * writing it, as a Retry-After of minutes leaves long gaps between attempts.
 */
export class OutageLog {
  private since = 0;
  private failures = 0;
  private retries = 0;
  private lastSummary = 0;
  private lastFailure: Failure | undefined;
  private summaryFailures = 0;

  constructor(
    private readonly log: Logger,
    /** Seconds the oldest sample not yet sent has waited. */
    private readonly oldestAge: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  get inOutage(): boolean {
    return this.since > 0;
  }

  failed(f: Failure): void {
    const now = this.now();
    this.lastFailure = f;
    this.failures++;
    if (this.since === 0) {
      this.since = this.lastSummary = now;
      this.summaryFailures = 0;
      this.log.warn('remote write failed; retrying until the receiver accepts (a summary follows every minute)', {
        reason: f.reason,
        ...(f.status !== undefined ? { status: f.status } : {}),
        detail: f.detail,
      });
      return;
    }
    this.tick();
  }

  /** A retry was scheduled. */
  retried(): void {
    if (this.since > 0) this.retries++;
  }

  succeeded(): void {
    if (this.since === 0) return;
    const now = this.now();
    this.log.info('remote write recovered', {
      outage_seconds: Math.round((now - this.since) / 100) / 10,
      failures: this.failures,
      retries: this.retries,
    });
    this.since = 0;
    this.failures = 0;
    this.retries = 0;
    this.lastFailure = undefined;
  }

  tick(): void {
    const now = this.now();
    if (this.since === 0 || now - this.lastSummary < OUTAGE_SUMMARY_MS) return;
    this.lastSummary = now;
    const f = this.lastFailure;
    this.log.warn('remote write still failing', {
      for_seconds: Math.round((now - this.since) / 1000),
      failures: this.failures,
      failures_last_minute: this.failures - this.summaryFailures,
      retries: this.retries,
      oldest_pending_seconds: Math.round(this.oldestAge()),
      last_reason: f?.reason,
      last_detail: f?.detail,
    });
    this.summaryFailures = this.failures;
  }
}
