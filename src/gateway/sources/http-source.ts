/**
 * An HTTP exporter as a gateway source. `on_scrape` fetches during each scrape (bounded by the
 * source's timeout and the scrape's signal) and shows no data when that fails, since a stale
 * page would pass for a live one; `poll` fetches every interval in the background and serves
 * the last good page, marked not ok, when a poll fails (exporter-proxy's behaviour, without its
 * keying by `ip:port`: every configured URL is its own source).
 */

import type { HttpSourceConfig } from '../../config/gateway-sources.js';
import type { Logger } from '../../log/logger.js';
import type { GatewaySource, ScrapeContext, SourceKind, SourceSnapshot } from '../source.js';
import { HttpClient } from '../../outbound/index.js';
import { fetchPage } from '../../outbound/fetch.js';
import { PageState, formatOfContentType, type OnFailure } from './page-state.js';
import { Poller } from './poller.js';

export class HttpSource implements GatewaySource {
  readonly kind: SourceKind = 'http';
  readonly origin: string;
  private readonly page = new PageState();
  private readonly client: HttpClient;
  private readonly poller: Poller | undefined;
  private readonly log: Logger;
  private readonly closing = new AbortController();

  constructor(
    readonly name: string,
    private readonly config: HttpSourceConfig,
    logger: Logger,
  ) {
    this.origin = redactUrl(config.url);
    this.log = logger.child({ source: name, kind: 'http' });
    this.client = new HttpClient(config);
    if (config.mode === 'poll') {
      this.poller = new Poller(config.interval, async (signal) => {
        await this.fetchOnce(signal, undefined, 'keep-last-good');
      });
      this.poller.start();
    }
  }

  /** Fetches that failed since start. */
  get failures(): number {
    return this.page.failures;
  }

  async snapshot(ctx: ScrapeContext): Promise<SourceSnapshot> {
    if (this.poller) return this.poller.latest(this.page, ctx.signal, this.config.timeout);
    const signal = AbortSignal.any([ctx.signal, this.closing.signal]);
    return this.fetchOnce(signal, this.config.forward_params ? ctx.params : undefined, 'no-data');
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.poller?.close();
    await this.client.close();
  }

  private async fetchOnce(
    signal: AbortSignal,
    params: URLSearchParams | undefined,
    onFailure: OnFailure,
  ): Promise<SourceSnapshot> {
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    let result;
    try {
      const url = new URL(this.config.url);
      for (const [k, v] of params ?? []) url.searchParams.append(k, v);
      result = await fetchPage(
        {
          url,
          shownUrl: this.origin,
          client: this.client,
          headers: await this.client.headers(),
          timeoutMs: this.config.timeout,
          maxBodyBytes: this.config.max_body_bytes,
        },
        signal,
      );
    } catch (err) {
      // Unreadable TLS or credential files: retried on the next attempt.
      result = { ok: false as const, error: (err as Error).message };
    }
    if (result.ok) return this.page.accept(result.body, formatOfContentType(result.contentType), seconds(), onFailure);
    this.log.debug('fetch failed', { err: result.error });
    return this.page.fail(result.error, seconds(), onFailure);
  }
}

/** Credentials in a URL must not reach logs, errors or /apps. */
function redactUrl(raw: string): string {
  const url = new URL(raw);
  if (url.username || url.password) {
    url.username = '';
    url.password = '';
  }
  return url.toString();
}
