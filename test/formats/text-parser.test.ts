/**
 * The text-format parser on its own (TextParser): what the text format 0.0.4 allows that
 * OpenMetrics does not — blank lines, leading and repeated blanks, tabs, free comments, a last
 * line without a newline, escapes kept verbatim, a trailing comma — and what it refuses that
 * OpenMetrics takes (fractional timestamps, OpenMetrics-only types). The edge cases both formats
 * share are in exposition-parser.test.ts.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Entry, ExpositionError } from '../../src/formats/prometheus/lex.js';
import { newExpositionParser, type ParserOptions } from '../../src/formats/prometheus/parser.js';
import { TextParser } from '../../src/formats/prometheus/text-parser.js';
import { OpenMetricsParser } from '../../src/formats/prometheus/openmetrics-parser.js';

interface Seen {
  kind: Entry;
  name: string;
  value?: number;
  timestamp?: number;
  labels?: Record<string, string>;
  help?: string;
  type?: string;
}

/** Every entry of `page`, read the way the scrape pipeline and the family collector read them. */
function entries(page: string, opts: Partial<ParserOptions> = {}): Seen[] {
  const p = new TextParser(page, { format: 'prometheus', ...opts });
  const out: Seen[] = [];
  for (let e = p.next(); e !== Entry.End; e = p.next()) {
    if (e === Entry.Comment) out.push({ kind: e, name: '' });
    else if (e === Entry.Series) {
      const labels = p.labels().toRecord();
      out.push({ kind: e, name: p.metricName(), value: p.value, ...(p.timestamp !== undefined ? { timestamp: p.timestamp } : {}), labels });
    } else if (e === Entry.Help) out.push({ kind: e, name: p.metricName(), help: p.help() });
    else out.push({ kind: e, name: p.metricName(), type: p.type() });
  }
  return out;
}

function errorOf(page: string): ExpositionError {
  try {
    entries(page);
  } catch (err) {
    assert.ok(err instanceof ExpositionError, String(err));
    return err;
  }
  assert.fail(`expected ${JSON.stringify(page)} to be refused`);
}

test('the factory gives the text parser for the text format, the OpenMetrics parser for OpenMetrics', () => {
  assert.ok(newExpositionParser('a 1\n', { format: 'prometheus' }) instanceof TextParser);
  assert.ok(newExpositionParser('a 1\n# EOF\n', { format: 'openmetrics' }) instanceof OpenMetricsParser);
});

test('blank lines, leading blanks, tabs and repeated spaces are separators, and the last line needs no newline', () => {
  const got = entries('\n  \n\t# HELP a  the help\n# TYPE\ta\tgauge \na\t{b = "c" , d="e",}\t 1   17\n\n  x 2');
  assert.deepEqual(got, [
    { kind: Entry.Help, name: 'a', help: 'the help' },
    { kind: Entry.Type, name: 'a', type: 'gauge' },
    { kind: Entry.Series, name: 'a', value: 1, timestamp: 17, labels: { __name__: 'a', b: 'c', d: 'e' } },
    { kind: Entry.Series, name: 'x', value: 2, labels: { __name__: 'x' } },
  ]);
});

test('any other # line is a comment — "# UNIT", "# EOF" and "# HELPFUL" included — and nothing ends the page', () => {
  const p = new TextParser('# a comment\n# UNIT a seconds\n# HELPFUL text\n# EOF\na 1\n', { format: 'prometheus' });
  const kinds: Entry[] = [];
  for (let e = p.next(); e !== Entry.End; e = p.next()) kinds.push(e);
  assert.deepEqual(kinds, [Entry.Comment, Entry.Comment, Entry.Comment, Entry.Comment, Entry.Series]);
  assert.equal(p.sawEof, false);
  assert.equal(p.value, 1);
});

test('types: untyped is unknown; OpenMetrics-only types are refused', () => {
  assert.deepEqual(entries('# TYPE a untyped\n').map((e) => e.type), ['unknown']);
  for (const t of ['info', 'stateset', 'gaugehistogram', 'unknown']) {
    const err = errorOf(`# TYPE a ${t}\n`);
    assert.equal(err.column, 10);
    assert.match(err.detail, /invalid metric type/);
  }
});

test('timestamps are integer milliseconds: a fraction is refused at the timestamp', () => {
  assert.equal(entries('a 1 -1700000000123\n')[0].timestamp, -1700000000123);
  const err = errorOf('a 1 1.5\n');
  assert.deepEqual([err.line, err.column], [1, 5]);
  assert.match(err.detail, /integer of milliseconds/);
});

test('escapes other than \\\\ \\" \\n are kept verbatim in label values; HELP keeps \\" verbatim', () => {
  const got = entries('# HELP a say \\"hi\\"\\n\na{b="x\\ty\\"z"} 1\n');
  assert.equal(got[0].help, 'say \\"hi\\"\n');
  assert.equal(got[1].labels?.b, 'x\\ty"z');
});

test('an exemplar after a sample is checked and dropped', () => {
  const p = new TextParser('a_total 1 # {trace_id="x"} 2 1.5\n', { format: 'prometheus' });
  assert.equal(p.next(), Entry.Series);
  assert.equal(p.value, 1);
  assert.equal(p.exemplar(), undefined);
  const err = errorOf('a_total 1 # {trace_id="x"} two\n');
  assert.deepEqual([err.line, err.column], [1, 28]);
  assert.match(err.detail, /invalid exemplar value/);
});

test('lenient: a bad line is skipped and counted, the next ones still read', () => {
  const p = new TextParser('a 1\nb{ 2\n\tc 3\n', { format: 'prometheus', lenient: true });
  const names: string[] = [];
  for (let e = p.next(); e !== Entry.End; e = p.next()) names.push(p.metricName());
  assert.deepEqual(names, ['a', 'c']);
  assert.equal(p.dropped, 1);
  assert.deepEqual([p.errors[0].line, p.errors[0].column], [2, 4]);
});
