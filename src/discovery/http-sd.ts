/**
 * `http_sd_configs`: GETs a URL every refresh_interval for a JSON list of target groups, as
 * Prometheus' HTTP service discovery does (status 200 and an application/json Content-Type
 * required; the request times out after one refresh_interval). Any failure keeps the last
 * groups. Connections, TLS and authentication come from the gateway's HttpClient so the
 * Prometheus HTTP client keys mean the same everywhere.
 */

import type { HttpSdConfig } from '../config/discovery.js';
import { fetchPage, HttpClient } from '../outbound/index.js';
import type { Logger } from '../log/logger.js';
import { groupsFromDocument } from './group-document.js';
import { MEDIA_JSON } from '../formats/media-types.js';
import { Refresher } from './refresher.js';
import type { Discoverer, FailureHandler, TargetGroup, UpdateHandler } from './target-group.js';

export const URL_LABEL = '__meta_url';

/** Prometheus' check, charset parameter included. */
const JSON_CONTENT_TYPE = /^application\/json(;\s*charset=("utf-8"|utf-8))?$/i;
/** A discovery document larger than this is refused (Prometheus has no limit). */
const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

export class HttpDiscoverer implements Discoverer {
  private readonly client: HttpClient;
  private readonly refresher: Refresher;
  private readonly shownUrl: string;
  private readonly log: Logger;

  constructor(
    private readonly config: HttpSdConfig,
    logger: Logger,
  ) {
    this.client = new HttpClient(config);
    this.shownUrl = redact(config.url);
    this.log = logger.child({ discovery: 'http', url: this.shownUrl });
    this.refresher = new Refresher(config.refresh_interval, (signal) => this.fetch(signal), this.log);
  }

  start(onUpdate: UpdateHandler, onFailure?: FailureHandler): void {
    this.refresher.start(onUpdate, onFailure);
  }

  private async fetch(closing: AbortSignal): Promise<TargetGroup[] | undefined> {
    try {
      return await this.fetchOrThrow(closing);
    } catch (err) {
      if (!closing.aborted) {
        this.log.error('http_sd refresh failed; keeping the previous targets', { err: err as Error });
        this.refresher.failed(err);
      }
      return undefined;
    }
  }

  private async fetchOrThrow(closing: AbortSignal): Promise<TargetGroup[]> {
    const intervalMs = this.config.refresh_interval;
    const res = await fetchPage(
      {
        url: new URL(this.config.url),
        shownUrl: this.shownUrl,
        client: this.client,
        headers: { ...(await this.client.headers()), 'x-prometheus-refresh-interval-seconds': String(intervalMs / 1000) },
        accept: MEDIA_JSON,
        timeoutMs: intervalMs,
        timeoutHeader: null,
        maxBodyBytes: MAX_DOCUMENT_BYTES,
        limitName: 'the discovery document limit',
      },
      closing,
    );
    if (!res.ok) throw new Error(res.error);
    const contentType = res.contentType ?? '';
    if (!JSON_CONTENT_TYPE.test(contentType.trim())) {
      throw new Error(`unsupported Content-Type ${JSON.stringify(contentType)} from ${this.shownUrl}; expected ${MEDIA_JSON}`);
    }
    const text = res.body.toString('utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`invalid JSON from ${this.shownUrl}: ${(err as Error).message}`);
    }
    if (doc === null) throw new Error(`expected a list of target groups from ${this.shownUrl}, got null`);
    // Prometheus labels groups with the URL as configured.
    return groupsFromDocument(doc, this.config.url, { [URL_LABEL]: this.config.url }, { rejectUnknownKeys: false });
  }

  async close(): Promise<void> {
    await this.refresher.close();
    await this.client.close();
  }
}

/** The URL without userinfo, for logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}
