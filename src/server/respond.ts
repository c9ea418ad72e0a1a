/**
 * Writing whole responses: text, HTML pages and JSON, each with a complete Content-Type and
 * Content-Length, and choosing among them for pages served in several forms. HTML goes out
 * with a Content-Security-Policy that allows only the inline stylesheet, so that even an
 * escaping mistake cannot run script or load outside content.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { acceptsMediaType, CONTENT_TYPE_HTML, CONTENT_TYPE_JSON, CONTENT_TYPE_PLAIN, MEDIA_HTML, MEDIA_JSON } from '../formats/media-types.js';

const HTML_CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function sendBody(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', buf.length);
  res.end(buf);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  sendBody(res, status, CONTENT_TYPE_PLAIN, text);
}

/** Sends a complete HTML document; status pages always reflect the present, so no caching. */
export function sendHtml(res: ServerResponse, status: number, document: string): void {
  res.setHeader('Content-Security-Policy', HTML_CSP);
  res.setHeader('Cache-Control', 'no-store');
  sendBody(res, status, CONTENT_TYPE_HTML, document);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.setHeader('Cache-Control', 'no-store');
  sendBody(res, status, CONTENT_TYPE_JSON, JSON.stringify(value) + '\n');
}

export type ResponseForm = 'html' | 'json' | 'text';

/**
 * The form a client asked for: `?format=html|json|text` first, then the Accept header; anything
 * else gets text, since that is curl (which accepts anything) and browsers always name
 * text/html.
 */
export function requestedForm(req: IncomingMessage): ResponseForm {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const asked = url.searchParams.get('format');
  if (asked === 'json' || asked === 'text' || asked === 'html') return asked;
  const accept = String(req.headers.accept ?? '');
  if (acceptsMediaType(accept, MEDIA_JSON)) return 'json';
  if (acceptsMediaType(accept, MEDIA_HTML)) return 'html';
  return 'text';
}
