/**
 * The OpenMetrics parser on its own (OpenMetricsParser): the stricter grammar — `# EOF` required
 * and final, one space between fields, no blank lines or free comments, strict escapes, no
 * trailing comma, a newline after every line — and what only OpenMetrics has: UNIT, its own
 * types, timestamps in seconds, exemplars, `_created`. The edge cases both formats share are
 * in exposition-parser.test.ts.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Entry, ExpositionError } from '../../src/formats/prometheus/lex.js';
import { parseFamilies } from '../../src/formats/prometheus/families.js';
import type { ParserOptions } from '../../src/formats/prometheus/parser.js';
import { OpenMetricsParser } from '../../src/formats/prometheus/openmetrics-parser.js';
import { TextParser } from '../../src/formats/prometheus/text-parser.js';

function readAll(page: string, opts: Partial<ParserOptions> = {}): OpenMetricsParser {
  const p = new OpenMetricsParser(page, { format: 'openmetrics', ...opts });
  for (let e = p.next(); e !== Entry.End; e = p.next()) if (e === Entry.Series) p.labels();
  return p;
}

function errorOf(page: string, opts: Partial<ParserOptions> = {}): ExpositionError {
  try {
    readAll(page, opts);
  } catch (err) {
    assert.ok(err instanceof ExpositionError, String(err));
    return err;
  }
  assert.fail(`expected ${JSON.stringify(page)} to be refused`);
}

/** Whether the text parser reads `page` without an error. */
function textAccepts(page: string): boolean {
  const p = new TextParser(page, { format: 'prometheus' });
  try {
    for (let e = p.next(); e !== Entry.End; e = p.next()) if (e === Entry.Series) p.labels();
    return true;
  } catch {
    return false;
  }
}

test('"# EOF" is required at the end, once, when the last piece is read', () => {
  const err = errorOf('a 1\n');
  assert.deepEqual([err.line, err.column], [2, 1]);
  assert.match(err.detail, /expected "# EOF"/);
  // a piece that is not the last may end without it
  assert.equal(readAll('a 1\n', { final: false }).sawEof, false);
  assert.equal(readAll('a 1\n# EOF\n').sawEof, true);
  assert.equal(readAll('a 1\n# EOF').sawEof, true);
});

test('nothing may follow "# EOF", in the same piece or a later one', () => {
  const err = errorOf('a 1\n# EOF\nb 2\n');
  assert.deepEqual([err.line, err.column], [3, 1]);
  assert.match(err.detail, /after "# EOF"/);
  const later = errorOf('b 2\n', { afterEof: true, startLine: 5 });
  assert.deepEqual([later.line, later.column], [6, 1]);
});

test('what the text format takes and OpenMetrics refuses', () => {
  const cases: [page: string, line: number, column: number, word: RegExp][] = [
    ['a 1\n\nb 1\n# EOF\n', 2, 1, /empty line/],
    ['# a comment\n# EOF\n', 1, 3, /HELP, TYPE, UNIT or EOF/],
    ['a\t1\n# EOF\n', 1, 2, /space before the value/],
    ['a  1\n# EOF\n', 1, 3, /invalid value|expected a value/],
    [' a 1\n# EOF\n', 1, 1, /metric name/],
    ['a{b="c",} 1\n# EOF\n', 1, 9, /label name after ","/],
    ['a{b="x\\ty"} 1\n# EOF\n', 1, 7, /invalid escape/],
    ['a 1 \n# EOF\n', 1, 4, /unexpected blank/],
    ['# TYPE a untyped\n# EOF\n', 1, 10, /invalid metric type/],
    ['a 1\n# EOF\nb 1', 3, 1, /after "# EOF"/],
  ];
  for (const [page, line, column, word] of cases) {
    const textPage = page.replace(/# EOF\n?/, '');
    assert.ok(textAccepts(textPage), `text format takes ${JSON.stringify(textPage)}`);
    const err = errorOf(page);
    assert.deepEqual([err.line, err.column], [line, column], `${JSON.stringify(page)}: ${err.message}`);
    assert.match(err.detail, word, JSON.stringify(page));
  }
  // the last line needs its newline, even without "# EOF" after it
  const err = errorOf('a 1', { final: false });
  assert.match(err.detail, /newline/);
});

test('what OpenMetrics takes and the text format refuses: fractional-second timestamps, its own types', () => {
  const p = new OpenMetricsParser('# TYPE a info\n# TYPE b stateset\n# TYPE c gaugehistogram\nd 1 1700000000.1239\n# EOF\n', { format: 'openmetrics' });
  const types: string[] = [];
  for (let e = p.next(); e !== Entry.End; e = p.next()) if (e === Entry.Type) types.push(p.type());
  assert.deepEqual(types, ['info', 'stateset', 'gaugehistogram']);
  assert.equal(p.timestamp, 1700000000123); // seconds to milliseconds exactly, below a millisecond truncated
  assert.equal(textAccepts('d 1 1700000000.1239\n'), false);
  assert.equal(textAccepts('# TYPE a info\n'), false);
});

test('UNIT: read as its own entry; only name characters', () => {
  const p = new OpenMetricsParser('# UNIT a_seconds seconds\n# EOF\n', { format: 'openmetrics' });
  assert.equal(p.next(), Entry.Unit);
  assert.deepEqual([p.metricName(), p.unit()], ['a_seconds', 'seconds']);
  const err = errorOf('# UNIT a_x x-y\n# EOF\n');
  assert.deepEqual([err.line, err.column], [1, 13]);
  assert.match(err.detail, /invalid unit/);
});

test('exemplars are kept: labels, value and timestamp in seconds', () => {
  const p = new OpenMetricsParser('a_total 1 # {trace_id="x",span="y"} 2.5 1700000000.5\nb_bucket{le="1"} 3 1 # {t="z"} 4\n# EOF\n', { format: 'openmetrics' });
  assert.equal(p.next(), Entry.Series);
  const ex = p.exemplar();
  assert.ok(ex);
  assert.equal(ex.labels.get('trace_id'), 'x');
  assert.equal(ex.labels.get('span'), 'y');
  assert.equal(ex.value, 2.5);
  assert.equal(ex.timestamp, 1700000000500);
  // the series' own labels are not disturbed by the exemplar's
  assert.equal(p.labels().get('trace_id'), undefined);
  assert.equal(p.next(), Entry.Series);
  assert.deepEqual([p.labels().get('le'), p.value, p.timestamp, p.exemplar()?.value, p.exemplar()?.timestamp], ['1', 3, 1000, 4, undefined]);
});

test('an exemplar\'s labels are at most 128 characters', () => {
  const ok = 'x'.repeat(127);
  assert.equal(readAll(`a_total 1 # {t="${ok}"} 1\n# EOF\n`).sawEof, true);
  const err = errorOf(`a_total 1 # {t="${ok}xx"} 1\n# EOF\n`);
  assert.deepEqual([err.line, err.column], [1, 13]);
  assert.match(err.detail, /130 characters, more than the 128/);
});

test('_created belongs to its counter family in OpenMetrics; in the text format it is a family of its own', () => {
  const page = '# TYPE a counter\na_total 1\na_created 1.7e9\n';
  const om = parseFamilies(page + '# EOF\n', { format: 'openmetrics' }).families;
  assert.deepEqual(om.map((f) => [f.name, f.type, f.metrics.map((m) => m.labels.metricName)]), [['a', 'counter', ['a_total', 'a_created']]]);
  const text = parseFamilies(page, { format: 'prometheus' }).families;
  assert.deepEqual(text.map((f) => f.name), ['a', 'a_total', 'a_created']);
});
