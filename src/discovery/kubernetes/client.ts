/**
 * LIST and WATCH against the Kubernetes API over the outbound HttpClient (TLS, bearer tokens
 * re-read from their files on every request, proxies): a LIST is one JSON document, paged with
 * `limit`/`continue`; a WATCH is a long-lived chunked response of newline-delimited JSON events,
 * read as it arrives. Failures carry the HTTP status, because 410 Gone means the resource
 * version is too old and the caller must list again rather than retry.
 */

import { StringDecoder } from 'node:string_decoder';
import { fetchPage, fetchStream, type HttpClient } from '../../outbound/index.js';
import { MEDIA_JSON } from '../../formats/media-types.js';
import type { KubeObject } from './objects.js';

/** A list page larger than this is refused (a cluster's pods fit many times over). */
const MAX_LIST_BYTES = 512 * 1024 * 1024;
const LIST_TIMEOUT_MS = 60_000;
const PAGE_SIZE = 500;
/** How long past its `timeoutSeconds` a watch may stay open before it is deemed hung. */
const WATCH_GRACE_MS = 30_000;

export class ApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status, or a Status object's `code` from a watch ERROR event. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: KubeObject & { readonly code?: number; readonly message?: string; readonly reason?: string };
}

export interface ListResult {
  readonly items: KubeObject[];
  readonly resourceVersion: string;
}

export class KubeClient {
  constructor(
    /** The API server, path prefix included when it sits behind a proxy. */
    private readonly server: URL,
    private readonly client: HttpClient,
  ) {}

  /** Every page of `path`; throws ApiError. */
  async list(path: string, query: URLSearchParams, signal: AbortSignal): Promise<ListResult> {
    const items: KubeObject[] = [];
    let resourceVersion = '';
    let next: string | undefined;
    do {
      const q = new URLSearchParams(query);
      q.set('limit', String(PAGE_SIZE));
      if (next) q.set('continue', next);
      const url = this.url(path, q);
      const res = await fetchPage(
        {
          url,
          shownUrl: shown(url),
          client: this.client,
          headers: await this.client.headers(),
          accept: MEDIA_JSON,
          timeoutMs: LIST_TIMEOUT_MS,
          timeoutHeader: null,
          maxBodyBytes: MAX_LIST_BYTES,
          limitName: 'the Kubernetes list limit',
        },
        signal,
      );
      if (!res.ok) throw new ApiError(res.error, res.status);
      let doc: { items?: KubeObject[] | null; metadata?: { resourceVersion?: string; continue?: string } };
      try {
        doc = JSON.parse(res.body.toString('utf8'));
      } catch (err) {
        throw new ApiError(`invalid JSON from ${shown(url)}: ${(err as Error).message}`);
      }
      items.push(...(doc.items ?? []));
      resourceVersion = doc.metadata?.resourceVersion ?? '';
      next = doc.metadata?.continue || undefined;
    } while (next);
    return { items, resourceVersion };
  }

  /**
   * Watches `path` from `resourceVersion` until the server ends the stream (after about
   * `timeoutSeconds`), `onEvent` throws, or the connection fails; throws ApiError on failure.
   * Resolves with the number of events seen.
   */
  async watch(
    path: string,
    query: URLSearchParams,
    resourceVersion: string,
    timeoutSeconds: number,
    signal: AbortSignal,
    onEvent: (e: WatchEvent) => void,
  ): Promise<number> {
    const q = new URLSearchParams(query);
    q.set('watch', 'true');
    q.set('resourceVersion', resourceVersion);
    q.set('allowWatchBookmarks', 'true');
    q.set('timeoutSeconds', String(timeoutSeconds));
    const url = this.url(path, q);
    const decoder = new StringDecoder('utf8');
    // the pieces of a line not yet ended: an object of a megabyte arrives in many chunks
    const pending: string[] = [];
    let events = 0;
    let thrown: unknown;
    const line = (text: string): void => {
      if (text.trim() === '') return;
      let e: WatchEvent;
      try {
        e = JSON.parse(text);
      } catch (err) {
        throw new ApiError(`invalid watch event from ${shown(url)}: ${(err as Error).message}`);
      }
      events++;
      onEvent(e);
    };
    const res = await fetchStream(
      {
        url,
        shownUrl: shown(url),
        client: this.client,
        headers: await this.client.headers(),
        accept: MEDIA_JSON,
        // the API server does not compress watches; asking would only cost a gunzip stream
        compression: false,
        timeoutMs: timeoutSeconds * 1000 + WATCH_GRACE_MS,
        timeoutHeader: null,
        maxBodyBytes: Infinity,
      },
      signal,
      {
        begin: () => {},
        chunk: (data) => {
          const text = decoder.write(data);
          try {
            let start = 0;
            for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
              pending.push(text.slice(start, nl));
              start = nl + 1;
              const whole = pending.join('');
              pending.length = 0;
              line(whole);
            }
            if (start < text.length) pending.push(text.slice(start));
          } catch (err) {
            // fetchStream keeps only the message; the status of a 410 ERROR event matters
            thrown = err;
            throw err;
          }
        },
      },
    );
    if (thrown !== undefined) throw thrown;
    if (!res.ok) throw new ApiError(res.error, res.status);
    line(pending.join('') + decoder.end());
    return events;
  }

  private url(path: string, query: URLSearchParams): URL {
    const url = new URL(this.server);
    url.pathname = url.pathname.replace(/\/+$/, '') + path;
    url.search = query.toString();
    return url;
  }
}

/** The URL for messages: no credentials, and not the (long) query. */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
