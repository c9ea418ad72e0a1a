/**
 * Known lines read from the bytes (formats/prometheus/known-lines.ts) against the string
 * parser: the same values and timestamps for every line it takes, a stop at the start of every
 * line it must leave to the parser, and — driven by the series cache through the page reader,
 * as a scrape drives them — the same samples, series and errors (with the page's line numbers)
 * as the parser alone, however the page is cut into chunks.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KnownTextLines } from '../../src/formats/prometheus/known-lines.js';
import { Entry, newExpositionParser } from '../../src/formats/prometheus/parser.js';
import { Labels } from '../../src/model/labels.js';
import { PageReader } from '../../src/scrape/page-reader.js';
import { SeriesCache, type SeriesRules } from '../../src/scrape/series-cache.js';
import { readNodeExporterPage } from '../helpers/fixtures.js';
import { rng as seededRandom } from '../helpers/seeded-random.js';

const RULES: SeriesRules = { honorLabels: false, relabeler: undefined, labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 0 };

interface Parsed {
  key: string;
  value: number;
  timestamp: number | undefined;
}

function parseAll(page: string, format: 'prometheus' | 'openmetrics' = 'prometheus'): Parsed[] {
  const out: Parsed[] = [];
  const p = newExpositionParser(page, { format, lazyLabels: true });
  for (let e = p.next(); e !== Entry.End; e = p.next()) if (e === Entry.Series) out.push({ key: p.seriesKey(), value: p.value, timestamp: p.timestamp });
  return out;
}

/** Reads `page` expecting `keys` in order; what it took and where it stopped. */
function readKnown(page: string, keys: readonly string[], openMetrics = false) {
  const b = Buffer.from(page, 'latin1');
  const k = new KnownTextLines();
  const got: Parsed[] = [];
  const stop = k.read(
    b,
    0,
    b.length,
    {
      expectedKey: () => keys[got.length],
      onExpected: (r) => void got.push({ key: keys[got.length], value: r.value, timestamp: r.timestamp }),
    },
    openMetrics,
  );
  return { got, stop, lines: k.lines };
}

/** Values compared with Object.is (NaN, -0), and timestamps. */
function assertSameSamples(got: readonly Parsed[], want: readonly Parsed[]): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Object.is(got[i].value, want[i].value), `${want[i].key}: ${got[i].value} vs ${want[i].value}`);
    assert.equal(got[i].timestamp, want[i].timestamp, want[i].key);
  }
}

test('known lines: every value and timestamp form reads as the string parser reads it', () => {
  const values = ['0', '1', '-1', '+7', '-0', '123456789012345', '1234567890123456789', '0.25', '-3.5e-7', '1.446020e+06', '1E3', '.5', '5.', 'NaN', '+Inf', '-Inf', 'inf', '+infinity', '9'.repeat(20)];
  let page = '# HELP m A metric.\n# TYPE m gauge\n\n# a comment\n#no space\n# HELPFUL text\n# HELP m\n';
  values.forEach((v, i) => (page += `m{i="${i}"} ${v}\n`));
  page += 'm{i="t1"} 1 1700000000000\nm{i="t2"} 2   -5  \nm{i="t3"} 3  \nm_total 4\nm_x{a="sp ace",b="q\\"uote"} 5\n';
  const want = parseAll(page);
  const { got, stop, lines } = readKnown(page, want.map((w) => w.key));
  assert.equal(stop, page.length, 'every line taken');
  assert.equal(lines, page.split('\n').length - 1);
  assertSameSamples(got, want);
});

test('known lines: the first line it must not take stops it at that line, whether the parser accepts it or not', () => {
  const head = '# TYPE a counter\na 1\n';
  const cases: [string, string[]][] = [
    ['b 2\n', ['a', 'c']], // not the expected series
    ['a_total 2\n', ['a', 'a']], // the expected key is only a prefix
    ['a {x="1"} 2\n', ['a', 'a']], // labels after a blank
    ['a\t2\n', ['a', 'a']],
    ['  a 2\n', ['a', 'a']],
    ['a 2 # {t="1"} 1\n', ['a', 'a']], // an exemplar
    ['a 1e400\n', ['a', 'a']],
    ['a two\n', ['a', 'a']],
    ['a 2 1.5\n', ['a', 'a']],
    ['a 2 3 4\n', ['a', 'a']],
    ['a 2\r\n', ['a', 'a']],
    ['# TYPE a bogus\n', ['a']],
    ['# TYPE a\n', ['a']],
    ['# TYPE a counter\r\n', ['a']],
    ['# HELP 1a text\n', ['a']],
    ['# HELP\ta text\n', ['a']],
    ['# HELP "a" text\n', ['a']],
    ['#\tHELP a text\n', ['a']],
  ];
  for (const [tail, keys] of cases) {
    const page = head + tail + 'a 3\n';
    const { stop, lines } = readKnown(page, keys);
    assert.equal(stop, head.length, JSON.stringify(tail));
    assert.equal(lines, 2, JSON.stringify(tail));
  }
  // nothing expected: a series line stops it, comments before it do not
  assert.equal(readKnown('# HELP a x\n\na 1\n', []).stop, '# HELP a x\n\n'.length);
});

test('known lines, OpenMetrics: values and timestamps (seconds) as its parser reads them; it stops at "# EOF"', () => {
  const values = ['0', '-1', '123456789012345', '0.25', '-3.5e-7', '1.446020e+06', 'NaN', '+Inf', '-Inf', '9'.repeat(20)];
  let page = '# HELP m A metric, "quoted".\n# TYPE m gauge\n# UNIT m seconds\n';
  values.forEach((v, i) => (page += `m{i="${i}"} ${v}\n`));
  page += 'm{i="t1"} 1 1700000000.123\nm{i="t2"} 2 -5\nm{i="t3"} 3 1.5e9\nm_x{a="sp ace",b="q\\"uote"} 5\n';
  const body = page;
  page += '# EOF\n';
  const want = parseAll(page, 'openmetrics');
  const { got, stop, lines } = readKnown(page, want.map((w) => w.key), true);
  assert.equal(stop, body.length, 'every line up to "# EOF" taken, that one left to the parser');
  assert.equal(lines, body.split('\n').length - 1);
  assertSameSamples(got, want);
});

test('known lines, OpenMetrics: its stricter lines are left to its parser', () => {
  const head = '# TYPE a counter\na_total 1\n';
  const cases = [
    '\n',
    'a_total  2\n',
    'a_total 2 \n',
    'a_total 2 1700000000 \n',
    'a_total 2 # {t="1"} 1\n',
    'a_total 2 17e\n',
    '# a comment\n',
    '#  HELP a text\n',
    '# HELP a text \\x\n',
    '# HELP  a text\n',
    '# TYPE a gauge \n',
    '# TYPE a untyped\n',
    '# UNIT a sec-onds\n',
    '# HELP a\n',
    '# EOF\n',
  ];
  for (const tail of cases) {
    const page = head + tail + 'a_total 3\n';
    const { stop, lines } = readKnown(page, ['a_total', 'a_total'], true);
    assert.equal(stop, head.length, JSON.stringify(tail));
    assert.equal(lines, 2, JSON.stringify(tail));
  }
});

/** A scrape of `pages` through a page reader cut at random, with or without the byte path. */
function scrapeSeries(pages: string[], known: boolean, seed: number, contentType = 'text/plain; version=0.0.4') {
  const rng = seededRandom(seed);
  const cache = new SeriesCache(Labels.fromRecord({ job: 'j', instance: 'h:1' }), RULES);
  const rounds: string[][] = [];
  let fromBytes = 0;
  for (const page of pages) {
    const out: string[] = [];
    cache.begin();
    const reader = new PageReader(
      (p) => {
        const ref = cache.lookup(p);
        out.push(`${ref === null ? 'dup' : ref === undefined ? 'dropped' : ref.key} ${p.value} ${p.timestamp}`);
      },
      undefined,
      undefined,
      known
        ? {
            expectedKey: () => cache.expectedLine(),
            onExpected: (r) => {
              fromBytes++;
              const ref = cache.lookupExpected();
              out.push(`${ref === null ? 'dup' : ref === undefined ? 'dropped' : ref.key} ${r.value} ${r.timestamp}`);
            },
          }
        : undefined,
    );
    let ok = true;
    try {
      reader.begin(contentType);
      const b = Buffer.from(page);
      for (let at = 0; at < b.length; ) {
        const n = 1 + Math.floor(rng() * 3000);
        reader.chunk(b.subarray(at, at + n));
        at += n;
      }
      reader.end();
    } catch (err) {
      ok = false;
      out.push(`error: ${(err as Error).message}`);
    }
    const stale: string[] = [];
    cache.finish(ok, false, (l) => stale.push(l.key));
    out.push(`stale: ${stale.sort().join('|')}`, `added: ${cache.added}`, `duplicates: ${cache.duplicates}`);
    rounds.push(out);
  }
  return { rounds, fromBytes };
}

test('known lines through the page reader and the series cache: the samples, series and errors of the parser alone', () => {
  const page = readNodeExporterPage();
  const bump = (text: string, by: number) =>
    text
      .split('\n')
      .map((l) => (l === '' || l.startsWith('#') ? l : `${l.slice(0, l.lastIndexOf(' '))} ${Number(l.slice(l.lastIndexOf(' ') + 1)) + by}`))
      .join('\n');
  /** The page with its k-th series line rewritten by `f`. */
  const edit = (text: string, k: number, f: (line: string) => string) => {
    let seen = -1;
    return text
      .split('\n')
      .map((l) => (l !== '' && !l.startsWith('#') && ++seen === k ? f(l) : l))
      .join('\n');
  };
  const perPage = page.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  const pages = [
    page,
    bump(page, 1),
    edit(bump(page, 2), 40, (l) => `${l}\nnew_metric{x="1"} 5`), // a line appears
    edit(bump(page, 3), 10, () => '# gone'), // one goes
    edit(bump(page, 4), 100, (l) => `${l}\n${l}`), // a duplicate
    edit(bump(page, 5), 300, () => 'bad{x=} 1'), // a bad line far into the page
    bump(page, 6).replace('# TYPE node_load1 gauge', '# TYPE node_load1 gaugey'),
    bump(page, 7),
    bump(page, 8).split('\n').reverse().join('\n') + '\n', // another order altogether
    bump(page, 9) + 'late 1 1700000000000\n',
  ];
  for (const seed of [1, 2, 3]) {
    const known = scrapeSeries(pages, true, seed);
    assert.deepEqual(known.rounds, scrapeSeries(pages, false, seed).rounds);
    // the pages that repeat the last one's lines (the second and the eighth) came mostly from
    // the bytes, so the comparison is not vacuous
    assert.ok(known.fromBytes > 2 * 0.8 * perPage, `${known.fromBytes} lines read from the bytes`);
  }
  const withErrors = scrapeSeries(pages, true, 4).rounds.flat();
  assert.ok(withErrors.some((l) => /^error: line \d{3}, column 7: expected .\"/.test(l)), 'the bad line is reported with the page line number');
  assert.ok(withErrors.some((l) => /invalid metric type "gaugey"/.test(l)));

  // the same pages as OpenMetrics (its type words, "# EOF" last): the same again
  const om = (text: string) => text.replace(/ untyped$/gm, ' unknown').replace(/\n*$/, '\n# EOF\n');
  const omPages = pages.map(om);
  const OM = 'application/openmetrics-text; version=1.0.0';
  for (const seed of [5, 6]) {
    const known = scrapeSeries(omPages, true, seed, OM);
    assert.deepEqual(known.rounds, scrapeSeries(omPages, false, seed, OM).rounds);
    assert.ok(known.fromBytes > 2 * 0.8 * perPage, `OpenMetrics: ${known.fromBytes} lines read from the bytes`);
  }
  const omRounds = scrapeSeries(omPages, true, 7, OM).rounds;
  assert.ok(!omRounds[1].some((l) => l.startsWith('error')), 'a clean OpenMetrics page reads without errors');
  // after "# EOF" nothing may come, whichever path reads the rest
  const afterEof = scrapeSeries([omPages[0], omPages[1] + 'late 1\n'], true, 8, OM).rounds[1];
  assert.ok(afterEof.some((l) => /unexpected content after "# EOF"/.test(l)), afterEof.filter((l) => l.startsWith('error')).join());
});
