/**
 * The frame every page shares: document head, the "Tributary" header with navigation from the
 * `PageRegistry`, and one embedded stylesheet. Pages bring only their body. Nothing is loaded
 * from outside and nothing needs JavaScript, so the UI works offline, in text browsers, and
 * under the strict Content-Security-Policy `sendHtml` sets.
 */

import { type Html, html, raw } from './html.js';
import type { PageRegistry } from './pages.js';

export interface PageOptions {
  title: string;
  body: Html;
  pages: PageRegistry;
  /** Path of the page being shown, to mark it in the navigation. */
  active?: string;
  /** Use the whole window's width (wide listings); reading pages keep a line length that reads well. */
  wide?: boolean;
}

/**
 * Plain element styles plus a few classes pages may use: `.muted` for secondary text,
 * `.ok`/`.bad`/`.warn` for states, `table.data` for listings (`.num` cells right-aligned),
 * `dl.facts` for key/value summaries, `.chip` for labels (marked `.added`, `.removed`,
 * `.changed`; a row of them in `.chips` wraps between chips, never inside one: a value too long
 * for the row is cut with an ellipsis and given whole in the chip's title), `.scroll` around a
 * table that may be wider than a narrow window (it scrolls, not the page), `table.fixed` for
 * tables whose column widths are set by their `<colgroup>` (several tables that line up;
 * inside `.scroll` they keep a minimum width), `.break` for cells whose long words (URLs,
 * errors) break anywhere rather than widen the column, `.filters` for a row
 * of links that narrow a listing, `.problem` for an error message, and forms with full-width
 * monospace textareas.
 */
const STYLESHEET = raw(`
:root { color-scheme: light dark; --fg: #1d2125; --muted: #5f6b76; --bg: #fff; --line: #d8dee4;
  --accent: #1f5fa8; --head: #f3f5f7; --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e7ea; --muted: #9aa5b1; --bg: #16191c;
  --line: #333a41; --accent: #6ea8fe; --head: #1e2227; --ok: #56d364; --bad: #ff7b72;
  --warn: #d29922; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1.5rem;
  padding: .6rem 1.25rem; background: var(--head); border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; font-size: 1.1rem; color: var(--fg); text-decoration: none; }
nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: 0; padding: 0; list-style: none; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
nav a[aria-current="page"] { color: var(--fg); font-weight: 600; }
main { max-width: 72rem; padding: 1rem 1.25rem 3rem; }
main.wide { max-width: none; }
.scroll { overflow-x: auto; }
table.fixed { table-layout: fixed; }
.scroll > table.fixed { min-width: 75rem; }
/* where the table scrolls sideways, the last column (a target's error) would start off screen:
   it is shown under the endpoint too */
.narrow-only { display: none; }
@media (max-width: 78rem) { .narrow-only { display: block; margin-top: .25rem; } }
.break { overflow-wrap: anywhere; }
h1 { font-size: 1.4rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; }
a { color: var(--accent); }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { padding: .75rem; overflow-x: auto; background: var(--head); border: 1px solid var(--line); }
table.data { border-collapse: collapse; width: 100%; }
table.data th, table.data td { padding: .35rem .6rem; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
table.data th { background: var(--head); font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1.25rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.muted { color: var(--muted); }
.ok { color: var(--ok); }
.bad { color: var(--bad); }
.warn { color: var(--warn); }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; }
/* contained: a long chip is cut to its cell rather than widening an auto-layout table past the
   window; the minimum keeps a column of chips readable when other columns ask for more */
.chips { display: flex; flex-wrap: wrap; gap: .2rem .3rem; contain: inline-size; min-width: 16rem; }
.chip { display: inline-block; max-width: 100%; padding: 0 .45rem; border: 1px solid var(--line);
  border-radius: .7rem; background: var(--head); font: 12px/1.6 ui-monospace, SFMono-Regular, Menlo,
  Consolas, monospace; white-space: pre; overflow: hidden; text-overflow: ellipsis; }
.chip.added { border-color: var(--ok); color: var(--ok); }
.chip.removed { border-color: var(--bad); color: var(--bad); text-decoration: line-through; }
.chip.changed { border-color: var(--warn); color: var(--warn); }
.filters { display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: 0 0 .75rem; }
.filters a[aria-current] { color: var(--fg); font-weight: 600; text-decoration: none; }
.problem { padding: .5rem .75rem; border-left: 3px solid var(--bad); background: var(--head);
  white-space: pre-wrap; }
form textarea { display: block; width: 100%; margin: .25rem 0 .75rem; padding: .4rem;
  font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--fg);
  background: var(--bg); border: 1px solid var(--line); }
details > summary { cursor: pointer; }
details > summary h2 { display: inline; }
`);

/** A complete HTML document for `sendHtml`. */
export function renderPage(opts: PageOptions): string {
  const links = opts.pages.nav().map(
    (p) =>
      html`<li><a href="${p.path}"${p.path === opts.active ? raw(' aria-current="page"') : ''}>${p.title}</a></li>`,
  );
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · Tributary</title>
<style>${STYLESHEET}</style>
</head>
<body>
<header>
<a class="brand" href="/"${opts.active === '/' ? raw(' aria-current="page"') : ''}>Tributary</a>
<nav aria-label="Pages"><ul>${links}</ul></nav>
</header>
<main${opts.wide ? raw(' class="wide"') : ''}>
<h1>${opts.title}</h1>
${opts.body}
</main>
</body>
</html>
`.value;
}
