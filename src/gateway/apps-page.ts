/**
 * `/apps`: every gateway source and pushed app with its kind, origin, last update (UTC), TTL,
 * last error and series count. One table in three forms: HTML for browsers, JSON
 * (`Accept: application/json` or `?format=json`) for tools, and plain text for curl.
 */

import type { HttpServer } from '../server/http-server.js';
import { requestedForm, sendHtml, sendJson, sendText } from '../server/respond.js';
import { html } from '../ui/html.js';
import { renderPage } from '../ui/layout.js';
import type { PageRegistry } from '../ui/pages.js';
import type { SourceKind } from './source.js';

export interface AppsEntry {
  name: string;
  /** Pushed apps: the grouping key or app name that identifies them. */
  key?: string;
  kind: SourceKind;
  protocol?: string;
  origin: string;
  /** ms since the epoch; 0 = never. */
  lastUpdateMs: number;
  /** 0 = does not expire. */
  ttlMs: number;
  series: number;
  lastError?: string;
}

function utc(ms: number): string {
  return ms === 0 ? 'never' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function ttl(ms: number): string {
  if (ms === 0) return 'none';
  const s = Math.round(ms / 1000);
  return s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;
}

/** A fixed-width table, the way exporter-proxy's /apps looks in a terminal. */
export function renderAppsText(entries: readonly AppsEntry[], now: number): string {
  const head = ['NAME', 'KIND', 'ORIGIN', 'LAST UPDATE (UTC)', 'TTL', 'SERIES', 'LAST ERROR'];
  const rows = entries.map((e) => [e.key ?? e.name, e.protocol ? `${e.kind}/${e.protocol}` : e.kind, e.origin, utc(e.lastUpdateMs), ttl(e.ttlMs), String(e.series), (e.lastError ?? '').replace(/\s+/g, ' ')]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return `Current time: ${utc(now)}\n` + [line(head), ...rows.map(line)].join('\n') + '\n';
}

export function registerAppsPage(server: HttpServer, pages: PageRegistry, entries: () => AppsEntry[]): void {
  pages.add({ path: '/apps', title: 'Apps', description: 'Gateway sources and pushed apps: origin, last update, TTL, errors.' });
  server.get('/apps', (req, res) => {
    const list = entries();
    const now = Date.now();
    const form = requestedForm(req);
    if (form === 'json') {
      sendJson(res, 200, {
        now: new Date(now).toISOString(),
        apps: list.map((e) => ({
          ...e,
          lastUpdate: e.lastUpdateMs === 0 ? null : new Date(e.lastUpdateMs).toISOString(),
          ttlSeconds: e.ttlMs / 1000,
        })),
      });
      return;
    }
    if (form === 'text') {
      sendText(res, 200, renderAppsText(list, now));
      return;
    }
    const rows = list.map(
      (e) => html`<tr><td>${e.key ?? e.name}</td><td>${e.kind}${e.protocol ? ` (${e.protocol})` : ''}</td><td><code>${e.origin}</code></td><td>${utc(e.lastUpdateMs)}</td><td>${ttl(e.ttlMs)}</td><td class="num">${e.series}</td><td>${e.lastError ?? ''}</td></tr>`,
    );
    const body = html`<p class="muted">Current time: ${utc(now)} · ${list.length} sources and apps · <a href="/apps?format=json">JSON</a> · <a href="/apps?format=text">text</a></p>
<table class="data">
<thead><tr><th>Name</th><th>Kind</th><th>Origin</th><th>Last update</th><th>TTL</th><th>Series</th><th>Last error</th></tr></thead>
<tbody>
${list.length === 0 ? html`<tr><td colspan="7" class="muted">No sources configured and no apps pushed.</td></tr>` : rows}
</tbody>
</table>`;
    sendHtml(res, 200, renderPage({ title: 'Apps', body, pages, active: '/apps' }));
  });
}
