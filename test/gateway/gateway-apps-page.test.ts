/**
 * /apps with hostile and unusual names: the text table for terminals escapes what a terminal
 * would act on and cuts what would stretch every row, while the HTML and JSON forms keep the
 * names exactly as they are (HTML-escaped, for HTML).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderAppsText, registerAppsPage, type AppsEntry } from '../../src/gateway/apps-page.js';
import { Registry } from '../../src/selfmetrics/index.js';
import { HttpServer } from '../../src/server/index.js';
import { PageRegistry, escapeHtml } from '../../src/ui/index.js';

const NOW = Date.UTC(2024, 0, 2, 3, 4, 5);

function entry(name: string, more: Partial<AppsEntry> = {}): AppsEntry {
  return { name, kind: 'http', origin: 'http://127.0.0.1:9100/metrics', lastUpdateMs: NOW - 1000, ttlMs: 0, series: 3, ...more };
}

/** Table lines without the "Current time" line: the header, then one line per entry. */
function tableLines(text: string): string[] {
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  assert.match(lines[0], /^Current time: /);
  return lines.slice(1);
}

/** Anything a terminal would act on: C0 (newline aside, it ends the lines), DEL, C1, bidi and the like. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

test('renderAppsText: control characters in names, origins and errors are shown escaped, as Go %q shows them', () => {
  const cases: [raw: string, shown: string][] = [
    ['line\nbreak', 'line\\nbreak'],
    ['carriage\rreturn', 'carriage\\rreturn'],
    ['tab\there', 'tab\\there'],
    ['\x1b[31mred\x1b[0m', '\\x1b[31mred\\x1b[0m'],
    ['\x00\x07\x08\x0b\x0c\x7f', '\\x00\\a\\b\\v\\f\\x7f'],
    ['c1\u0085\u009b[2J', 'c1\\u0085\\u009b[2J'],
    ['bidi\u202eevil\u2066', 'bidi\\u202eevil\\u2066'],
    ['zero\u200bwidth\ufeff', 'zero\\u200bwidth\\ufeff'],
    ['line\u2028sep', 'line\\u2028sep'],
    ['tag\u{e0041}', 'tag\\U000e0041'],
    ['lone\ud800surrogate', 'lone\\ud800surrogate'],
  ];
  const entries = cases.map(([raw], i) =>
    entry(raw, { origin: `file ${raw}`, lastError: i === 0 ? 'first line\n  second\tline \x1b[2J' : undefined }),
  );
  const text = renderAppsText(entries, NOW);
  const lines = tableLines(text);
  assert.equal(lines.length, cases.length + 1, text);
  assert.doesNotMatch(text, RAW_CONTROL);
  assert.doesNotMatch(text, LONE_SURROGATE);

  const header = lines[0];
  const col = (h: string) => header.indexOf(h);
  for (const [i, [, shown]] of cases.entries()) {
    const row = lines[i + 1];
    assert.equal(row.slice(0, col('KIND')).trimEnd(), shown, `row ${i}`);
    // every column starts where its header does: the escapes kept the table aligned
    assert.equal(row.slice(col('KIND'), col('ORIGIN')).trimEnd(), 'http', `row ${i}`);
    assert.equal(row.slice(col('ORIGIN'), col('LAST UPDATE (UTC)')).trimEnd(), `file ${shown}`, `row ${i}`);
    assert.equal(row.slice(col('LAST UPDATE (UTC)'), col('TTL')).trimEnd(), '2024-01-02 03:04:04 UTC', `row ${i}`);
    assert.equal(row.slice(col('SERIES'), col('LAST ERROR')).trimEnd(), '3', `row ${i}`);
  }
  // an error's whitespace folds to single spaces; what is left unprintable is escaped
  assert.equal(lines[1].slice(col('LAST ERROR')), 'first line second line \\x1b[2J');
});

test('renderAppsText: a very long name, origin or error is cut with "…", and the table stays aligned', () => {
  const long = 'n'.repeat(10_000);
  const entries = [
    entry(long, { origin: 'o'.repeat(10_000), lastError: 'e'.repeat(10_000) }),
    entry('short', { kind: 'push', protocol: 'pushgateway', key: 'job="x"' }),
    entry('n'.repeat(64)),
    entry('n'.repeat(65)),
  ];
  const lines = tableLines(renderAppsText(entries, NOW));
  const header = lines[0];
  const col = (h: string) => header.indexOf(h);
  assert.equal(col('KIND'), 64 + 2, 'the name column is 64 wide');
  const name = (row: string) => row.slice(0, col('KIND')).trimEnd();
  assert.equal(name(lines[1]), 'n'.repeat(63) + '…');
  assert.equal(name(lines[2]), 'job="x"');
  assert.equal(name(lines[3]), 'n'.repeat(64), 'exactly 64 fits uncut');
  assert.equal(name(lines[4]), 'n'.repeat(63) + '…');
  const origin = lines[1].slice(col('ORIGIN'), col('LAST UPDATE (UTC)')).trimEnd();
  assert.ok(origin.length < 200 && origin.endsWith('…') && /^o+…$/.test(origin), origin);
  const error = lines[1].slice(col('LAST ERROR'));
  assert.ok(error.length < 300 && /^e+…$/.test(error), error);
  for (const row of lines.slice(1)) {
    assert.equal(row.slice(col('LAST UPDATE (UTC)'), col('TTL')).trimEnd(), '2024-01-02 03:04:04 UTC');
    assert.ok(row.length < 500, `row of ${row.length} characters`);
  }
  assert.equal(lines[2].slice(col('KIND'), col('ORIGIN')).trimEnd(), 'push/pushgateway');
});

test('renderAppsText: unicode names are measured in terminal columns and never cut inside a character', () => {
  /** Each name with its width in terminal columns. */
  const names: [string, number][] = [
    ['日本語', 6],
    ['e\u0301te\u0301', 3], // decomposed accents take no column of their own
    ['😀x', 3],
    ['👩‍👩‍👧', 2], // one family emoji, joined with U+200D
    ['plain', 5],
  ];
  const lines = tableLines(renderAppsText(names.map(([n]) => entry(n)), NOW));
  const nameWidth = 6; // 日本語
  for (const [i, [n, w]] of names.entries()) {
    assert.ok(lines[i + 1].startsWith(n + ' '.repeat(nameWidth - w) + '  http  '), JSON.stringify(lines[i + 1]));
  }
  assert.ok(lines[0].startsWith('NAME' + ' '.repeat(nameWidth - 4) + '  KIND'));

  // Long names of characters outside the BMP: cut between characters, never inside a surrogate pair.
  const cut = (name: string) => tableLines(renderAppsText([entry(name), entry('x')], NOW))[1].split('  ')[0];
  const emoji = cut('😀'.repeat(100));
  assert.equal(emoji, '😀'.repeat(31) + '…', 'two columns each: 31 of them and the ellipsis fit in 64');
  const math = cut('𝒳'.repeat(100));
  assert.equal(math, '𝒳'.repeat(63) + '…', 'one column each, two UTF-16 units each');
  const accents = cut('e\u0301'.repeat(100));
  assert.equal(accents, 'e\u0301'.repeat(63) + '…', 'an accent stays with its letter');
  const families = cut('👩‍👩‍👧'.repeat(100));
  assert.equal(families, '👩‍👩‍👧'.repeat(31) + '…', 'a joined emoji is not split');
  const mixed = cut('a' + '😀'.repeat(40));
  assert.equal(mixed, 'a' + '😀'.repeat(31) + '…');
  for (const s of [emoji, math, accents, families, mixed]) assert.doesNotMatch(s, LONE_SURROGATE);
});

test('/apps over HTTP: JSON and HTML keep names exact (HTML escaped by the template), text escapes and cuts', async (t) => {
  const hostile = ['<script>alert(1)</script>\n\x1b[31m&"\'', 'tab\tand\u202ebidi', 'x'.repeat(10_000), '日本語😀'];
  const entries = hostile.map((n, i) => entry(n, { origin: `origin ${n}`, lastError: i === 0 ? `error ${n}` : undefined }));
  const registry = new Registry();
  const server = new HttpServer({ registry });
  registerAppsPage(server, new PageRegistry(), () => entries);
  const address = await server.listen('127.0.0.1:0');
  t.after(() => server.close());
  const base = `http://${address}/apps`;

  const json = await fetch(`${base}?format=json`);
  assert.equal(json.status, 200);
  const body = (await json.json()) as { apps: AppsEntry[] };
  assert.deepEqual(body.apps.map((a) => [a.name, a.origin, a.lastError]), entries.map((e) => [e.name, e.origin, e.lastError]));

  const page = await fetch(base, { headers: { Accept: 'text/html' } });
  assert.equal(page.status, 200);
  const doc = await page.text();
  for (const e of entries) {
    assert.ok(doc.includes(`<td>${escapeHtml(e.name)}</td>`), `HTML has the whole name ${JSON.stringify(e.name.slice(0, 40))}`);
    assert.ok(doc.includes(`<code>${escapeHtml(e.origin)}</code>`));
  }
  assert.ok(doc.includes(`<td>${escapeHtml(`error ${hostile[0]}`)}</td>`));
  assert.doesNotMatch(doc, /<script>/);

  const text = await (await fetch(`${base}?format=text`)).text();
  assert.doesNotMatch(text, RAW_CONTROL);
  const lines = tableLines(text);
  assert.equal(lines.length, 5, text);
  assert.ok(lines[1].startsWith('<script>alert(1)</script>\\n\\x1b[31m&"\'  '), lines[1]);
  assert.ok(lines[2].startsWith('tab\\tand\\u202ebidi  '), lines[2]);
  assert.ok(lines[3].startsWith('x'.repeat(63) + '…  '), lines[3].slice(0, 80));
  assert.ok(lines[4].startsWith('日本語😀'), lines[4]);
  assert.ok(lines.every((l) => l.length < 500));
});
