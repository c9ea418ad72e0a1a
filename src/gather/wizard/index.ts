/**
 * Serves the gather wizard: the page at `/`, its script at `/wizard.js` and stylesheet at
 * `/wizard.css`. The page runs script, so it has its own Content-Security-Policy (not the
 * agent pages' no-script one): script, style and fetches from this server only, nothing
 * inline, nothing from outside, no framing.
 */

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { VERSION } from '../../common/version.js';
import { CONTENT_TYPE_HTML } from '../../formats/media-types.js';
import type { HttpServer } from '../../server/http-server.js';
import { sendBody } from '../../server/respond.js';
import { renderWizardPage } from './page.js';
import { WIZARD_JS } from './script.js';
import { WIZARD_CSS } from './style.js';

export const WIZARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
}

function asset(type: string, text: string): Asset {
  const body = Buffer.from(text, 'utf8');
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

function serve(a: Asset) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('Content-Security-Policy', WIZARD_CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', a.etag);
    if (req.headers['if-none-match'] === a.etag) {
      res.statusCode = 304;
      res.end();
      return;
    }
    sendBody(res, 200, a.type, a.body);
  };
}

export function registerWizardPage(server: HttpServer): void {
  const page = serve(asset(CONTENT_TYPE_HTML, renderWizardPage(VERSION)));
  server.get('/', page);
  server.get('/index.html', page);
  server.get('/wizard.js', serve(asset('text/javascript; charset=utf-8', WIZARD_JS)));
  server.get('/wizard.css', serve(asset('text/css; charset=utf-8', WIZARD_CSS)));
}
