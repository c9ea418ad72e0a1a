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

/**
 * Characters a terminal would act on or hide rather than show: C0 and C1 controls, DEL, format
 * characters (bidi overrides, zero-width spaces, invisible tags), line and paragraph separators
 * and lone surrogates. The joiners U+200C and U+200D are left alone: emoji sequences and
 * several scripts need them, and they move nothing.
 */
const UNPRINTABLE = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'gu');

const SHORT_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };

/** One character as Go's %q writes it: \n, \x1b, \u0085, \U000e0041. */
function escapeChar(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  const short = SHORT_ESCAPES[cp];
  if (short !== undefined) return short;
  if (cp < 0x80) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

/** East Asian wide and fullwidth ranges, and emoji shown as pictures: two terminal columns. */
const WIDE =
  /^(?:[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]|\p{Emoji_Presentation}|.*\ufe0f)/u;
const COMBINING_ONLY = /^[\p{M}\u200c\u200d]+$/u;

const graphemes = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : undefined;

/** What the user perceives as characters, so that a cut never splits one (nor a surrogate pair). */
function clusters(text: string): string[] {
  if (graphemes === undefined) return Array.from(text);
  const out: string[] = [];
  for (const { segment } of graphemes.segment(text)) out.push(segment);
  return out;
}

interface Cell {
  text: string;
  /** Terminal columns it takes. */
  width: number;
}

/**
 * A table cell: unprintable characters escaped, and cut to `max` columns with "…" so that one
 * long name cannot stretch every row.
 */
function textCell(value: string, max: number): Cell {
  // the common case: printable ASCII, as wide as it is long
  if (/^[\x20-\x7e]*$/.test(value)) {
    return value.length <= max ? { text: value, width: value.length } : { text: value.slice(0, max - 1) + '…', width: max };
  }
  const parts: string[] = [];
  const widths: number[] = [];
  let total = 0;
  for (const g of clusters(value)) {
    let text = g;
    let width: number;
    if (UNPRINTABLE.test(g)) {
      text = g.replace(UNPRINTABLE_ALL, escapeChar);
      width = Array.from(text).length;
    } else {
      width = WIDE.test(g) ? 2 : COMBINING_ONLY.test(g) ? 0 : 1;
    }
    parts.push(text);
    widths.push(width);
    total += width;
  }
  if (total <= max) return { text: parts.join(''), width: total };
  let text = '';
  let width = 0;
  for (let i = 0; i < parts.length && width + widths[i] + 1 <= max; i++) {
    text += parts[i];
    width += widths[i];
  }
  return { text: text + '…', width: width + 1 };
}

/** Columns of the text table and the widest each may get. */
const TEXT_COLUMNS: readonly (readonly [head: string, max: number])[] = [
  ['NAME', 64],
  ['KIND', 32],
  ['ORIGIN', 96],
  ['LAST UPDATE (UTC)', 32],
  ['TTL', 16],
  ['SERIES', 16],
  ['LAST ERROR', 160],
];

/**
 * A fixed-width table, the way exporter-proxy's /apps looks in a terminal. Names, origins and
 * errors come from configuration, pushers and remote ends: nothing in them may reach the
 * terminal as a control sequence or break a row. Runs of whitespace in an error (multi-line
 * messages) fold to one space; other unprintable characters are shown escaped.
 */
export function renderAppsText(entries: readonly AppsEntry[], now: number): string {
  const head = TEXT_COLUMNS.map(([h]) => ({ text: h, width: h.length }));
  const rows = entries.map((e) =>
    [
      e.key ?? e.name,
      e.protocol ? `${e.kind}/${e.protocol}` : e.kind,
      e.origin,
      utc(e.lastUpdateMs),
      ttl(e.ttlMs),
      String(e.series),
      (e.lastError ?? '').replace(/\s+/g, ' '),
    ].map((v, i) => textCell(v, TEXT_COLUMNS[i][1])),
  );
  const widths = head.map((h, i) => Math.max(h.width, ...rows.map((r) => r[i].width)));
  const line = (cells: Cell[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c.text : c.text + ' '.repeat(widths[i] - c.width)))
      .join('  ')
      .trimEnd();
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
