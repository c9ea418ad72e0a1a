/**
 * One POST of a whole body, for senders that own their retries (remote write, import): the
 * plain-HTTP pool for `http://`, undici otherwise (and for a redirect the caller follows), a
 * timeout over the whole exchange, the answer's status, the headers asked for and the start of
 * its text. Never throws: a network failure, the timeout or a stop is returned as an Error.
 */

import type { HttpClient } from './configured-client.js';
import type { Http1Pool } from './http1.js';

export interface PostAnswer {
  readonly status: number;
  /** The headers asked for (lower case), as sent; absent ones undefined. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The start of the body, at most `excerptBytes`. */
  readonly text: string;
}

export interface PostSpec {
  readonly url: URL;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
  readonly timeoutMs: number;
  readonly stop: AbortSignal;
  /** Header names (lower case) to hand back. */
  readonly pick: readonly string[];
  readonly excerptBytes: number;
  /** Take a 3xx to undici, which follows it. */
  readonly followRedirects?: boolean;
}

export async function postBuffer(http: HttpClient, spec: PostSpec): Promise<PostAnswer | Error> {
  const pool = http.pool(spec.url);
  let answer = pool ? await viaPool(pool, spec) : undefined;
  if (answer === undefined || (!(answer instanceof Error) && answer.status >= 300 && answer.status < 400 && spec.followRedirects)) {
    answer = await viaUndici(http, spec);
  }
  return answer;
}

function viaPool(pool: Http1Pool, spec: PostSpec): Promise<PostAnswer | Error> {
  return new Promise((resolve) => {
    let status = 0;
    const picked: Record<string, string | undefined> = {};
    let text = '';
    const settle = (a: PostAnswer | Error): void => {
      clearTimeout(timer);
      spec.stop.removeEventListener('abort', onStop);
      resolve(a);
    };
    const call = pool.request(
      { method: 'POST', path: spec.url.pathname + spec.url.search, headers: spec.headers, body: spec.body },
      {
        onHeaders(s, h) {
          status = s;
          for (const name of spec.pick) picked[name] = h.get(name);
        },
        onData(chunk) {
          if (text.length < spec.excerptBytes) text += chunk.toString('utf8', 0, spec.excerptBytes);
        },
        onEnd: () => settle({ status, headers: picked, text: text.slice(0, spec.excerptBytes) }),
        onError: (err) => settle(err),
      },
    );
    const abort = (why: string): void => {
      call.abort();
      settle(new Error(why));
    };
    const timer = setTimeout(() => abort(`timeout after ${spec.timeoutMs / 1000}s`), spec.timeoutMs);
    const onStop = (): void => abort('stopped');
    if (spec.stop.aborted) onStop();
    else spec.stop.addEventListener('abort', onStop, { once: true });
  });
}

async function viaUndici(http: HttpClient, spec: PostSpec): Promise<PostAnswer | Error> {
  // A timer of our own, not AbortSignal.timeout(): a timeout signal reachable only through
  // AbortSignal.any() can be collected before it fires (nodejs/node#57736), and the POST would
  // then wait on a silent receiver for ever.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DOMException(`timeout after ${spec.timeoutMs / 1000}s`, 'TimeoutError')), spec.timeoutMs);
  try {
    const dispatcher = await http.get();
    const res = await dispatcher.request({
      origin: spec.url.origin,
      path: spec.url.pathname + spec.url.search,
      method: 'POST',
      headers: spec.headers,
      body: spec.body,
      signal: AbortSignal.any([spec.stop, deadline.signal]),
    });
    const text = await res.body.text();
    const first = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h);
    const picked: Record<string, string | undefined> = {};
    for (const name of spec.pick) picked[name] = first(res.headers[name]);
    return { status: res.statusCode, headers: picked, text: text.slice(0, spec.excerptBytes) };
  } catch (err) {
    return err as Error;
  } finally {
    clearTimeout(timer);
  }
}

/** A Retry-After header, in seconds or as an HTTP date, in ms, capped at `capMs`. */
export function retryAfterMs(s: string | undefined, capMs: number): number | undefined {
  if (!s) return undefined;
  const secs = Number(s);
  if (Number.isFinite(secs)) return Math.max(0, Math.min(secs * 1000, capMs));
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, Math.min(at - Date.now(), capMs)) : undefined;
}
