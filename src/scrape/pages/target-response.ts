/**
 * `/target_response?id=ID`, the "response" link on /targets: what a target answers, fetched
 * now with the target's own scrape request (URL, auth, TLS, headers, Accept, compression,
 * timeout, body_size_limit), as vmagent's target_response does (it scrapes again on demand).
 * Fetching on demand rather than keeping each target's last body means nothing is kept between
 * requests and the scrapes copy nothing: 10,000 targets cost no memory until someone clicks.
 *
 * Shown: the first `RESPONSE_SHOWN_BYTES` of the body after decompression, then, when there was
 * more, a note "truncated at N of M bytes" (the rest is read to count it, not kept). Always
 * text/plain with nosniff and a sandboxing Content-Security-Policy, so a body holding markup is
 * shown as text, never rendered. At most `MAX_IN_FLIGHT` fetches run at once, so what this
 * holds is bounded by MAX_IN_FLIGHT × RESPONSE_SHOWN_BYTES however often it is asked.
 */

import type { HttpServer } from '../../server/http-server.js';
import { sendText } from '../../server/respond.js';
import { CONTENT_TYPE_PLAIN } from '../../formats/media-types.js';
import type { BodyConsumer } from '../../outbound/index.js';
import type { ScrapeStatusSource } from '../status.js';

export const TARGET_RESPONSE_PATH = '/target_response';
/** Enough for the head of any exporter's page and every line of most. */
export const RESPONSE_SHOWN_BYTES = 64 * 1024;
const MAX_IN_FLIGHT = 4;
const ID = /^[0-9a-f]{16}$/;

/** Keeps the first `limit` bytes of a body and counts all of them. */
export class BodyHead implements BodyConsumer {
  private readonly kept: Buffer;
  private size = 0;
  /** Bytes received, after decompression. */
  total = 0;

  constructor(limit: number) {
    this.kept = Buffer.allocUnsafe(limit);
  }

  begin(): void {}

  chunk(data: Buffer): void {
    this.total += data.length;
    // the chunk may be a view of a reused transport buffer: copied, never kept
    if (this.size < this.kept.length) this.size += data.copy(this.kept, this.size, 0, Math.min(data.length, this.kept.length - this.size));
  }

  /** The bytes kept, and the note saying how much was left out when anything was. */
  shown(): Buffer {
    const head = this.kept.subarray(0, this.size);
    if (this.total <= this.size) return head;
    const newline = this.size > 0 && head[this.size - 1] !== 0x0a ? '\n' : '';
    return Buffer.concat([head, Buffer.from(`${newline}\n# Tributary: truncated at ${this.size} of ${this.total} bytes (after decompression)\n`)]);
  }
}

export function registerTargetResponse(server: HttpServer, status: ScrapeStatusSource): void {
  const fetchTarget = status.fetchTargetResponse?.bind(status);
  if (fetchTarget === undefined) return;
  let inFlight = 0;
  server.get(TARGET_RESPONSE_PATH, async (req, res) => {
    // whatever the target sent is text to look at: no sniffing it into HTML, no script, no loads
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    res.setHeader('Cache-Control', 'no-store');
    const id = new URL(req.url ?? '/', 'http://localhost').searchParams.get('id') ?? '';
    if (!ID.test(id)) return sendText(res, 400, `id must be a target's id from /targets (16 hex digits), not ${JSON.stringify(id)}\n`);
    if (inFlight >= MAX_IN_FLIGHT) {
      res.setHeader('Retry-After', '1');
      return sendText(res, 503, `${MAX_IN_FLIGHT} target responses are being fetched already; try again in a moment\n`);
    }
    inFlight++;
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    try {
      const body = new BodyHead(RESPONSE_SHOWN_BYTES);
      const result = await fetchTarget(id, body, gone.signal);
      if (result === undefined) sendText(res, 404, `no running target has id ${id}: it may have gone since /targets was shown\n`);
      else if (!result.ok) sendText(res, 502, `the target did not answer with a page: ${result.error}\n`);
      else {
        res.statusCode = 200;
        res.setHeader('Content-Type', CONTENT_TYPE_PLAIN);
        const shown = body.shown();
        res.setHeader('Content-Length', shown.length);
        res.end(shown);
      }
    } finally {
      inFlight--;
    }
  });
}
