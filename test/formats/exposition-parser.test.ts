/**
 * Exposition parser edge cases, taken from the two specifications — the Prometheus text format
 * (prometheus/docs, exposition_formats.md) and OpenMetrics 1.0 (OpenMetrics.md, its ABNF) — and
 * from the test vectors of Prometheus' own parsers (model/textparse promparse_test.go and
 * openmetricsparse_test.go). Every success asserts concrete parsed values; every failure asserts
 * line, column and a word of the message, and that lenient mode reports the same position
 * instead of throwing.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../helpers/seeded-random.js';
import { parseFamilies, type ParsedPage } from '../../src/formats/prometheus/families.js';
import { Entry, ExpositionError, newExpositionParser } from '../../src/formats/prometheus/parser.js';
import type { TextFormat } from '../../src/formats/media-types.js';
import type { MetricFamily } from '../../src/model/family.js';

const TEXT: TextFormat = 'prometheus';
const OM: TextFormat = 'openmetrics';
const FORMATS: readonly TextFormat[] = [TEXT, OM];

// ---------------------------------------------------------------- helpers

function parse(page: string, format: TextFormat, lenient = false): ParsedPage {
  return parseFamilies(page, { format, lenient });
}

/** A plain view of a sample: labels as a record (`__name__` included), value, timestamp, exemplar. */
interface PlainSample {
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
  exemplar?: { labels: Record<string, string>; value: number; timestamp?: number };
}

function plainSamples(f: MetricFamily): PlainSample[] {
  return f.metrics.map((m) => {
    const s: PlainSample = { labels: m.labels.toRecord(), value: m.value };
    if (m.timestamp !== undefined) s.timestamp = m.timestamp;
    if (m.exemplar !== undefined) {
      s.exemplar = { labels: m.exemplar.labels.toRecord(), value: m.exemplar.value };
      if (m.exemplar.timestamp !== undefined) s.exemplar.timestamp = m.exemplar.timestamp;
    }
    return s;
  });
}

/** Every sample of the page in order, as `[labels, value, timestamp?]`. */
function allSamples(page: ParsedPage): PlainSample[] {
  return page.families.flatMap(plainSamples);
}

/** `[name, type, sample names]` per family: the grouping at a glance. */
function grouping(page: ParsedPage): [string, string, string[]][] {
  return page.families.map((f) => [f.name, f.type, f.metrics.map((m) => m.labels.metricName)]);
}

function onlyFamily(page: ParsedPage): MetricFamily {
  assert.equal(page.families.length, 1, `expected one family, got ${JSON.stringify(grouping(page))}`);
  return page.families[0];
}

/** The value of the single sample of a one-line page. */
function valueOf(line: string, format: TextFormat): number {
  const page = parse(format === OM ? line + '\n# EOF\n' : line + '\n', format);
  const samples = allSamples(page);
  assert.equal(samples.length, 1);
  return samples[0].value;
}

function timestampOf(line: string, format: TextFormat): number | undefined {
  const page = parse(format === OM ? line + '\n# EOF\n' : line + '\n', format);
  const samples = allSamples(page);
  assert.equal(samples.length, 1);
  return samples[0].timestamp;
}

function strictError(page: string, format: TextFormat): ExpositionError {
  let thrown: unknown;
  try {
    parse(page, format);
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) assert.fail(`expected an ExpositionError for ${JSON.stringify(page)} (${format}), but it parsed`);
  if (!(thrown instanceof ExpositionError)) {
    assert.fail(`expected an ExpositionError for ${JSON.stringify(page)} (${format}), got ${String(thrown)}`);
  }
  return thrown;
}

/**
 * The page fails in strict mode at `line`:`column` with a message matching `word`; in lenient
 * mode it does not throw, counts the line and reports the same position.
 */
function assertError(page: string, format: TextFormat, line: number, column: number, word: RegExp, checkLenient = true): void {
  const err = strictError(page, format);
  assert.deepEqual(
    { line: err.line, column: err.column },
    { line, column },
    `position of the error for ${JSON.stringify(page)} (${format}): ${err.message}`,
  );
  assert.match(err.detail, word, `message for ${JSON.stringify(page)} (${format})`);
  assert.ok(err.message.startsWith(`line ${line}, column ${column}: `), err.message);
  if (!checkLenient) return;

  let lenient: ParsedPage;
  try {
    lenient = parse(page, format, true);
  } catch (e) {
    assert.fail(`lenient mode threw on ${JSON.stringify(page)} (${format}): ${String(e)}`);
  }
  assert.ok(lenient.dropped >= 1, `lenient mode must count the bad line of ${JSON.stringify(page)}`);
  assert.ok(
    lenient.errors.some((e) => e.line === line && e.column === column && word.test(e.detail)),
    `lenient errors for ${JSON.stringify(page)} should include ${line}:${column} ${word}: ${lenient.errors.map((e) => e.message).join(' | ')}`,
  );
}

// ---------------------------------------------------------------- values

test('values: decimals, exponents, NaN and infinities in both formats', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['17', 17],
    ['17.0', 17],
    ['0042', 42],
    ['-3.5', -3.5],
    ['+5', 5],
    ['.5', 0.5],
    ['5.', 5],
    ['1e10', 1e10],
    ['1E-3', 0.001],
    ['1.5e+3', 1500],
    ['4.9351e-05', 4.9351e-5],
    ['7.424100000000001e-05', 7.424100000000001e-5],
    ['1.7976931348623157e308', 1.7976931348623157e308],
    ['5e-324', 5e-324],
    ['2147483648', 2147483648],
    ['1341298465647914', 1341298465647914],
    ['9007199254740993', 9007199254740992], // correctly rounded, not truncated
    ['123456789012345678', 123456789012345680],
    ['NaN', NaN],
    ['nan', NaN],
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
    ['Inf', Infinity],
    ['inf', Infinity],
    ['+inf', Infinity],
    ['Infinity', Infinity],
    ['-infinity', -Infinity],
  ];
  for (const format of [TEXT, OM]) {
    for (const [text, expected] of cases) {
      assert.ok(Object.is(valueOf(`a ${text}`, format), expected), `${format}: ${text} → ${expected}`);
    }
  }
});

test('values: decimal strings parse to exactly what Number() gives (correct rounding)', () => {
  const next = rng(77);
  const digits = (n: number) => {
    let d = '';
    for (let i = 0; i < n; i++) d += String(Math.floor(next() * 10));
    return d;
  };
  const texts: string[] = [];
  for (let i = 0; i < 20000; i++) {
    const intPart = digits(Math.floor(next() * 18));
    const frac = next() < 0.6 ? '.' + digits(Math.floor(next() * 18)) : '';
    const exp = next() < 0.5 ? (next() < 0.5 ? 'e' : 'E') + (['', '+', '-'][Math.floor(next() * 3)]) + String(Math.floor(next() * 330)) : '';
    const sign = ['', '-', '+'][Math.floor(next() * 3)];
    const body = (intPart === '' && (frac === '' || frac === '.') ? '0' : intPart) + frac + exp;
    if (Number.isFinite(Number(sign + body))) texts.push(sign + body); // overflow is an error, tested below
  }
  texts.push('0.1', '0.3', '1.7976931348623157e308', '2.2250738585072014e-308', '4.9e-324', '9007199254740993', '123456789012345.6', '1e22', '1e23', '8.98846567431158e307');
  for (const format of FORMATS) {
    const page = texts.map((t, i) => `v{i="${i}"} ${t}\n`).join('') + (format === OM ? '# EOF\n' : '');
    const values = allSamples(parse(page, format)).map((s) => s.value);
    const wrong: string[] = [];
    texts.forEach((t, i) => {
      const expected = Number(t);
      if (!Object.is(values[i], expected)) wrong.push(`${t} → ${values[i]}, expected ${expected}`);
    });
    assert.deepEqual(wrong.slice(0, 10), [], `${format}: ${wrong.length} values parsed inexactly`);
  }
});

test('values: -0 keeps its sign', () => {
  assert.ok(Object.is(valueOf('a -0', TEXT), -0));
  assert.ok(Object.is(valueOf('a -0.0', OM), -0));
  assert.ok(Object.is(valueOf('a 0', OM), 0));
});

test('values: what Go\'s ParseFloat and the OpenMetrics ABNF reject is an error at the value', () => {
  const bad = ['1_2', '0x1p-3', '0x1P-3', '0x10', 'true', '1e', '1e+', '.', '-', '+', 'e5', 'E5', '.e5', '-e5', 'e+5', '1,5', '1.2.3', '1e5.5', '1e--5', 'Infinit', 'nanx', '++1'];
  for (const v of bad) {
    assertError(`a ${v}\n`, TEXT, 1, 3, /value/);
    assertError(`a{b="c"} ${v}\n# EOF\n`, OM, 1, 10, /value/);
  }
});

test('values: NaN takes no sign (Go\'s ParseFloat rejects "-nan", the ABNF has no [SIGN] before "nan")', () => {
  for (const v of ['-nan', '+NaN', '-NaN']) {
    assertError(`a ${v}\n`, TEXT, 1, 3, /value/);
    assertError(`a ${v}\n# EOF\n`, OM, 1, 3, /value/);
  }
});

test('values: a number outside the float64 range is an error, not +Inf', () => {
  // OpenMetrics: "Floating point numbers MUST fit within the range of a 64-bit floating point
  // value"; Prometheus' ParseFloat reports a range error for these.
  assertError('a 1e400\n', TEXT, 1, 3, /value/);
  assertError('a -1e400\n# EOF\n', OM, 1, 3, /value/);
});

// ---------------------------------------------------------------- timestamps

test('timestamps, text format: integer milliseconds, negative allowed', () => {
  assert.equal(timestampOf('a 1 1395066363000', TEXT), 1395066363000);
  assert.equal(timestampOf('something_weird{problem="division by zero"} +Inf -3982045', TEXT), -3982045);
  assert.equal(timestampOf('a 1 0', TEXT), 0);
  assert.equal(timestampOf('a 1', TEXT), undefined);
  assert.equal(timestampOf('go_goroutines 33  \t123123', TEXT), 123123);
  assert.equal(timestampOf('a 1 9007199254740991', TEXT), 9007199254740991);
});

test('timestamps, text format: anything but an integer is an error at the timestamp', () => {
  for (const ts of ['1.5', '1e3', 'NaN', '+Inf', '-', '1z', '9007199254740993', '0x10']) {
    assertError(`a 1 ${ts}\n`, TEXT, 1, 5, /timestamp/);
  }
  assertError('foo 0 1_2\n', TEXT, 1, 7, /timestamp/);
  assertError('a 1 2 3\n', TEXT, 1, 7, /end of line/);
});

test('timestamps, OpenMetrics: float seconds become exact milliseconds', () => {
  const cases: [string, number][] = [
    ['1520879607.789', 1520879607789],
    ['1520879607', 1520879607000],
    ['1520879607.7', 1520879607700],
    ['1520430000.123', 1520430000123],
    ['123.123', 123123],
    ['-1.5', -1500],
    ['-0.001', -1],
    ['0', 0],
    ['1.5e3', 1500000],
    ['1.', 1000],
    ['.5', 500],
    // decimal digits are taken exactly, not via a float multiplication
    ['1.005', 1005],
    ['0.29', 290],
    ['4.35', 4350],
    ['1604676851.123', 1604676851123],
    // below the millisecond is truncated
    ['1520879607.7899', 1520879607789],
    ['1604676851.123456789', 1604676851123],
  ];
  for (const [text, ms] of cases) assert.equal(timestampOf(`a 1 ${text}`, OM), ms, text);
  const withExemplar = parse('# TYPE foo counter\nfoo_total 17.0 1520879607.789 # {id="counter-test"} 5\n# EOF\n', OM);
  assert.equal(allSamples(withExemplar)[0].timestamp, 1520879607789);
});

test('timestamps, OpenMetrics: NaN, infinities and garbage are errors at the timestamp', () => {
  for (const ts of ['NaN', 'Inf', '+Inf', '-Inf', '1z', '-', '.', '1_2', '1e400', 'abc']) {
    assertError(`a 1 ${ts}\n# EOF\n`, OM, 1, 5, /timestamp/);
  }
});

// ---------------------------------------------------------------- escapes

test('label values: \\\\ \\" \\n are unescaped in both formats', () => {
  const line = 'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9';
  for (const format of [TEXT, OM]) {
    const page = parse(format === OM ? line + '\n# EOF\n' : line + '\n', format);
    assert.deepEqual(allSamples(page), [
      {
        labels: {
          __name__: 'msdos_file_access_time_seconds',
          error: 'Cannot find file:\n"FILE.TXT"',
          path: 'C:\\DIR\\FILE.TXT',
        },
        value: 1.458255915e9,
      },
    ]);
  }
});

test('label values: UTF-8, braces, commas, "#" and NUL bytes are plain characters', () => {
  for (const format of [TEXT, OM]) {
    const page = parse(
      'a{b="é€😀",c="{x=\\"1\\",y}",d="# not a comment",e="abc\u0000",f="a b\tc"} 1\n' + (format === OM ? '# EOF\n' : ''),
      format,
    );
    assert.deepEqual(allSamples(page)[0].labels, {
      __name__: 'a',
      b: 'é€😀',
      c: '{x="1",y}',
      d: '# not a comment',
      e: 'abc\u0000',
      f: 'a b\tc',
    });
  }
});

test('label values: an empty value is the same as no label', () => {
  for (const format of [TEXT, OM]) {
    const page = parse('a{b="",c="1"} 1\n' + (format === OM ? '# EOF\n' : ''), format);
    assert.deepEqual(allSamples(page)[0].labels, { __name__: 'a', c: '1' });
  }
});

test('label values: other escapes are kept verbatim in the text format, an error in OpenMetrics', () => {
  const page = parse('a{b="x\\ty\\a"} 1\n', TEXT);
  assert.equal(allSamples(page)[0].labels.b, 'x\\ty\\a');
  assertError('a{b="x\\ty"} 1\n# EOF\n', OM, 1, 7, /escape/);
  assertError('a{b="\\a"} 1\n# EOF\n', OM, 1, 6, /escape/);
});

test('HELP, text format: \\\\ and \\n are unescaped, other backslashes (\\" too) kept verbatim', () => {
  const page = parse('# HELP a one \\\\ two \\n three \\" four \\x five\n', TEXT);
  assert.equal(onlyFamily(page).help, 'one \\ two \n three \\" four \\x five');
});

test('HELP, OpenMetrics: \\\\ \\n \\" are unescaped; other escapes are an error', () => {
  const page = parse('# HELP foo_seconds Some text and \\n some \\" escaping \\\\ done\n# EOF\n', OM);
  assert.equal(onlyFamily(page).help, 'Some text and \n some " escaping \\ done');
  assertError('# HELP a bad \\x escape\n# EOF\n', OM, 1, 14, /escape/);
});

test('HELP: free text, UTF-8, NUL bytes, several spaces inside, empty', () => {
  assert.equal(onlyFamily(parse('# HELP a x y  z é\n', TEXT)).help, 'x y  z é');
  assert.equal(onlyFamily(parse('# HELP metric foo\u0000bar\n', TEXT)).help, 'foo\u0000bar');
  assert.equal(onlyFamily(parse('# HELP metric foo\u0000bar\n# EOF\n', OM)).help, 'foo\u0000bar');
  // "# HELP nohelp1" and "# HELP nohelp2 " from promparse_test.go
  assert.equal(onlyFamily(parse('# HELP nohelp1\n', TEXT)).help, '');
  assert.equal(onlyFamily(parse('# HELP nohelp2 \n', TEXT)).help, '');
  // OpenMetrics: "an empty HELP MUST be treated as if it was not present"
  assert.equal(onlyFamily(parse('# HELP nohelp1 \n# EOF\n', OM)).help, undefined);
  // OpenMetrics: one space after the name, everything else is the help text
  assert.equal(onlyFamily(parse('# HELP a  leading space\n# EOF\n', OM)).help, ' leading space');
});

// ---------------------------------------------------------------- quoted UTF-8 names

test('quoted names, text format 1.0.0: metric name inside the braces, quoted label names', () => {
  const page = parse(
    [
      '# HELP "my.metric" A dotted metric.',
      '# TYPE "my.metric" gauge',
      '{"my.metric", "lab.el"="v"} 1',
      '{"my.metric",other="w",} 2',
      '{ "my.metric" , "lab.el" = "x" } 3',
      '',
    ].join('\n'),
    TEXT,
  );
  const f = onlyFamily(page);
  assert.equal(f.name, 'my.metric');
  assert.equal(f.type, 'gauge');
  assert.equal(f.help, 'A dotted metric.');
  assert.deepEqual(plainSamples(f), [
    { labels: { __name__: 'my.metric', 'lab.el': 'v' }, value: 1 },
    { labels: { __name__: 'my.metric', other: 'w' }, value: 2 },
    { labels: { __name__: 'my.metric', 'lab.el': 'x' }, value: 3 },
  ]);
});

test('quoted names, OpenMetrics: escapes inside quoted names, quoted label names on bare metrics', () => {
  const page = parse(
    [
      '# TYPE "go.gc_duration_seconds" summary',
      '# UNIT "go.gc_duration_seconds" seconds',
      '# HELP "go.gc_duration_seconds" A summary of the GC invocation durations.',
      '{"go.gc_duration_seconds",quantile="0"} 4.9351e-05',
      '{"go.gc_duration_seconds_sum"} 0.004304266',
      '{"Heizölrückstoßabdämpfung 10€ metric with \\"interesting\\" {character\\nchoices}","strange©™\\n\'quoted\' \\"name\\""="6"} 10.0',
      'plain{"lab.el"="v",b="w"} 1',
      '{"abc"} 7',
      '# EOF',
      '',
    ].join('\n'),
    OM,
  );
  assert.deepEqual(grouping(page), [
    ['go.gc_duration_seconds', 'summary', ['go.gc_duration_seconds', 'go.gc_duration_seconds_sum']],
    ['Heizölrückstoßabdämpfung 10€ metric with "interesting" {character\nchoices}', 'unknown', ['Heizölrückstoßabdämpfung 10€ metric with "interesting" {character\nchoices}']],
    ['plain', 'unknown', ['plain']],
    ['abc', 'unknown', ['abc']],
  ]);
  assert.equal(page.families[0].unit, 'seconds');
  assert.equal(page.families[0].help, 'A summary of the GC invocation durations.');
  assert.deepEqual(plainSamples(page.families[1])[0].labels, {
    __name__: 'Heizölrückstoßabdämpfung 10€ metric with "interesting" {character\nchoices}',
    'strange©™\n\'quoted\' "name"': '6',
  });
  assert.deepEqual(plainSamples(page.families[2])[0].labels, { __name__: 'plain', b: 'w', 'lab.el': 'v' });
});

test('quoted names: errors', () => {
  // the quoted metric name stands inside the braces
  assertError('"a.b" 1\n', TEXT, 1, 1, /brace|name/);
  // labels without any metric name (promparse_test: "metric name not set")
  assertError('{a="ok"} 1\n', TEXT, 1, 1, /metric name/);
  assertError('{b="c"} 1\n# EOF\n', OM, 1, 1, /metric name/);
  // a second quoted string without "=" (promparse_test: `{"a", "b = "c"}`)
  assertError('{"a", "b = "c"}\n', TEXT, 1, 13, /"="/);
  assertError('{"a","b"} 1\n', TEXT, 1, 9, /"="/);
  // the grammar puts the quoted metric name first
  assertError('{a="b","c.d"} 1\n', TEXT, 1, 13, /"="/);
  // a backslash outside quotes (promparse_test: `{"a",b\nc="d"} 1`)
  assertError('{"a",b\\nc="d"} 1\n', TEXT, 1, 7, /"="/);
  // empty names
  assertError('{""} 1\n', TEXT, 1, 2, /empty/);
  assertError('a{""="x"} 1\n', TEXT, 1, 3, /empty/);
  assertError('# TYPE "" gauge\n', TEXT, 1, 8, /empty/);
  // unterminated quoted names
  assertError('{"a 1\n', TEXT, 1, 6, /unterminated/);
  assertError('# TYPE "a gauge\n# EOF\n', OM, 1, 16, /unterminated/);
});

// ---------------------------------------------------------------- names and labels

test('names: legacy character sets', () => {
  const page = parse(
    '_metric_starting_with_underscore 1\nsome:aggregate:rate5m{a_b="c"} 1\ntestmetric{_label_starting_with_underscore="foo",A="a",_="u"} 1\n',
    TEXT,
  );
  assert.deepEqual(allSamples(page), [
    { labels: { __name__: '_metric_starting_with_underscore' }, value: 1 },
    { labels: { __name__: 'some:aggregate:rate5m', a_b: 'c' }, value: 1 },
    { labels: { __name__: 'testmetric', _label_starting_with_underscore: 'foo', A: 'a', _: 'u' }, value: 1 },
  ]);
});

test('names: invalid metric and label names', () => {
  for (const format of [TEXT, OM]) {
    const eof = format === OM ? '# EOF\n' : '';
    assertError(`1a 1\n${eof}`, format, 1, 1, /metric name/);
    assertError(`a-b 1\n${eof}`, format, 1, 2, /"-"/);
    assertError(`a.b{c="d"} 1\n${eof}`, format, 1, 2, /"\."/);
    assertError(`aé 1\n${eof}`, format, 1, 2, /"é"/);
    assertError(`a{1b="x"} 1\n${eof}`, format, 1, 3, /label name/);
    assertError(`a{b:c="x"} 1\n${eof}`, format, 1, 4, /"="/); // ":" is allowed in metric names only
    assertError(`a{b-c="x"} 1\n${eof}`, format, 1, 4, /"="/);
    assertError(`a{é="x"} 1\n${eof}`, format, 1, 3, /label name/);
    assertError(`a{b="1",c-d="1"} 1\n${eof}`, format, 1, 10, /"="/);
    assertError(`a{=""} 0\n${eof}`, format, 1, 3, /label name/);
    assertError(`a{,b="c"} 1\n${eof}`, format, 1, 3, /label name/);
    assertError(`a{b="c",,d="e"} 1\n${eof}`, format, 1, 9, /label name/);
    assertError(`a{b="c"d="e"} 1\n${eof}`, format, 1, 8, /","|"}"/);
    assertError(`a{b='c'} 1\n${eof}`, format, 1, 5, /'"'|label value/);
    assertError(`a{b=c} 1\n${eof}`, format, 1, 5, /label value/);
    assertError(`a{b} 1\n${eof}`, format, 1, 4, /expected "="/);
    assertError(`a{b=="c"} 1\n${eof}`, format, 1, 5, /label value/);
    assertError(`a{b="c"}{d="e"} 1\n${eof}`, format, 1, 9, /space|value/);
    assertError(`# TYPE a-b gauge\n${eof}`, format, 1, 9, /"-"/);
    assertError(`# HELP 1a x\n${eof}`, format, 1, 8, /metric name/);
    assertError(`# TYPE #\n${eof}`, format, 1, 8, /metric name/);
    assertError(`a{b\u0000="hiih"} 1\n${eof}`, format, 1, 4, /"="/);
    assertError(`a\u0000{b="ddd"} 1\n${eof}`, format, 1, 2, /space|value|name/);
    assertError(`a{b=\u0000"ssss"} 1\n${eof}`, format, 1, 5, /label value/);
  }
});

test('labels: a metric name and its labels may be written without labels or with empty braces', () => {
  for (const format of [TEXT, OM]) {
    const page = parse('bar_seconds_count 0\n' + (format === OM ? '# EOF\n' : ''), format);
    const braces = parse('bar_seconds_count{} 0\n' + (format === OM ? '# EOF\n' : ''), format);
    assert.deepEqual(allSamples(page), [{ labels: { __name__: 'bar_seconds_count' }, value: 0 }]);
    assert.deepEqual(allSamples(braces), allSamples(page));
  }
});

test('labels: labels are sorted by name; the written order does not matter', () => {
  const page = parse('wind_speed{c="3",A="2",b="1"} 12345\n', TEXT);
  const m = page.families[0].metrics[0];
  assert.deepEqual(m.labels.kv, ['A', '2', '__name__', 'wind_speed', 'b', '1', 'c', '3']);
});

test('labels: duplicate label names are an error, also when one value is empty', () => {
  for (const format of [TEXT, OM]) {
    const eof = format === OM ? '# EOF\n' : '';
    assertError(`a{b="1",b="2"} 1\n${eof}`, format, 1, 9, /duplicate/);
    assertError(`a{c="1",b="1",c="2"} 1\n${eof}`, format, 1, 15, /duplicate/);
    assertError(`a{b="1","b"="2"} 1\n${eof}`, format, 1, 10, /duplicate/);
    assertError(`a{b="x\\n",b="y"} 1\n${eof}`, format, 1, 11, /duplicate/);
    // an empty value drops the label from the set, but the line still names "b" twice
    assertError(`a{b="",b="x"} 1\n${eof}`, format, 1, 8, /duplicate/);
    assertError(`a{b="x",b=""} 1\n${eof}`, format, 1, 9, /duplicate/);
  }
});

test('labels: "__name__" must not be written as a label', () => {
  for (const format of [TEXT, OM]) {
    const eof = format === OM ? '# EOF\n' : '';
    assertError(`a{__name__="x"} 1\n${eof}`, format, 1, 3, /__name__/);
    assertError(`a{b="c",__name__="a"} 1\n${eof}`, format, 1, 9, /__name__/);
    assertError(`a{__name__=""} 1\n${eof}`, format, 1, 3, /__name__/);
    assertError(`a{"__name__"="x"} 1\n${eof}`, format, 1, 4, /__name__/);
  }
});

test('unterminated label values and lines cut short', () => {
  for (const format of [TEXT, OM]) {
    const eof = format === OM ? '# EOF\n' : '';
    assertError(`a{b="1} 1\n${eof}`, format, 1, 10, /unterminated/);
    assertError(`something_weird{problem="\n${eof}`, format, 1, 26, /unterminated/);
    assertError(`a{b="1\\"} 1\n${eof}`, format, 1, 12, /unterminated/);
    assertError(`a{b=\n${eof}`, format, 1, 5, /label value/);
    assertError(`a{b="c"\n${eof}`, format, 1, 8, /","|"}"/);
    assertError(`a\n${eof}`, format, 1, 2, /value/);
    assertError(`a{b="c"}\n${eof}`, format, 1, 9, /value/);
    assertError(`a \n${eof}`, format, 1, 3, /value/);
  }
  assertError('a{b="1', TEXT, 1, 7, /unterminated/);
  assertError('a', TEXT, 1, 2, /value/);
});

// ---------------------------------------------------------------- text format leniencies

test('text format: blank lines, surrounding whitespace, tabs, spaces around label syntax, trailing comma', () => {
  const page = parse(
    [
      '',
      '   ',
      '# HELP go_gc_duration_seconds A summary of the GC invocation durations.',
      '# \tTYPE go_gc_duration_seconds summary',
      'go_gc_duration_seconds{quantile="0"} 4.9351e-05',
      'go_gc_duration_seconds{quantile="0.25",} 7.424100000000001e-05',
      'go_gc_duration_seconds{quantile="0.5",a="b"} 8.3835e-05',
      'go_gc_duration_seconds{quantile="0.8", a="b"} 8.3835e-05',
      'go_gc_duration_seconds{ quantile="0.9", a="b"} 8.3835e-05',
      '',
      'go_gc_duration_seconds{ quantile="1.0", a="b" } 8.3835e-05',
      'go_gc_duration_seconds { quantile= "2.0", a= "b", } 8.3835e-05',
      'go_gc_duration_seconds { quantile = "3.0", a = "b" } 8.3835e-05',
      '\t go_gc_duration_seconds_count 99 \t',
      'go_gc_duration_seconds_sum\t1\t1000',
      '',
    ].join('\n'),
    TEXT,
  );
  const f = onlyFamily(page);
  assert.equal(f.type, 'summary');
  assert.equal(f.help, 'A summary of the GC invocation durations.');
  assert.deepEqual(
    f.metrics.map((m) => m.labels.toString()),
    [
      'go_gc_duration_seconds{quantile="0"}',
      'go_gc_duration_seconds{quantile="0.25"}',
      'go_gc_duration_seconds{a="b", quantile="0.5"}',
      'go_gc_duration_seconds{a="b", quantile="0.8"}',
      'go_gc_duration_seconds{a="b", quantile="0.9"}',
      'go_gc_duration_seconds{a="b", quantile="1.0"}',
      'go_gc_duration_seconds{a="b", quantile="2.0"}',
      'go_gc_duration_seconds{a="b", quantile="3.0"}',
      'go_gc_duration_seconds_count{}',
      'go_gc_duration_seconds_sum{}',
    ],
  );
  assert.deepEqual(
    f.metrics.map((m) => [m.value, m.timestamp]),
    [
      [4.9351e-5, undefined],
      [7.424100000000001e-5, undefined],
      [8.3835e-5, undefined],
      [8.3835e-5, undefined],
      [8.3835e-5, undefined],
      [8.3835e-5, undefined],
      [8.3835e-5, undefined],
      [8.3835e-5, undefined],
      [99, undefined],
      [1, 1000],
    ],
  );
});

test('text format: plain comments are skipped, including ones that start like HELP', () => {
  const page = parse(
    [
      '# Hrandom comment starting with prefix of HELP',
      '#',
      '# HELPFUL is not HELP',
      '#TYPE a counter',
      '# comment with escaped \\n newline',
      '# comment with escaped \\ escape character',
      '# TYPEWRITER gauge',
      '   # indented comment',
      'a 1',
    ].join('\n'),
    TEXT,
  );
  assert.deepEqual(grouping(page), [['a', 'unknown', ['a']]]);
  assert.equal(page.families[0].help, undefined);
});

test('text format: a missing final newline is accepted, after a sample and after metadata', () => {
  assert.deepEqual(allSamples(parse('a 1\nb{c="d"} 2 3', TEXT)), [
    { labels: { __name__: 'a' }, value: 1 },
    { labels: { __name__: 'b', c: 'd' }, value: 2, timestamp: 3 },
  ]);
  assert.deepEqual(grouping(parse('# TYPE a gauge', TEXT)), [['a', 'gauge', []]]);
  assert.equal(onlyFamily(parse('# HELP a some help', TEXT)).help, 'some help');
  assert.deepEqual(parse('', TEXT), { families: [], dropped: 0, errors: [] });
  assert.deepEqual(parse('\n\n', TEXT).families, []);
});

test('text format: TYPE words; untyped is unknown; OpenMetrics-only types are errors', () => {
  const page = parse(
    '# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d summary\n# TYPE e untyped\n# TYPE f  gauge  \n',
    TEXT,
  );
  assert.deepEqual(
    page.families.map((f) => [f.name, f.type]),
    [
      ['a', 'counter'],
      ['b', 'gauge'],
      ['c', 'histogram'],
      ['d', 'summary'],
      ['e', 'unknown'],
      ['f', 'gauge'],
    ],
  );
  for (const t of ['unknown', 'info', 'stateset', 'gaugehistogram', 'Counter', 'GAUGE']) {
    assertError(`# TYPE a ${t}\n`, TEXT, 1, 10, /type/);
  }
  assertError('# TYPE a gauge extra\n', TEXT, 1, 10, /type/);
  assertError('# TYPE a\n', TEXT, 1, 9, /type/);
  // "# TYPE" without a space after it is an ordinary comment
  assert.deepEqual(parse('# TYPE\n', TEXT).families, []);
});

test('text format: UNIT does not exist, and an exemplar is read but not kept', () => {
  const page = parse('c_total 1 # {a="b"} 1\n', TEXT);
  assert.deepEqual(allSamples(page), [{ labels: { __name__: 'c_total' }, value: 1 }]);
  // "# UNIT" is a plain comment there
  assert.deepEqual(parse('# UNIT a_seconds seconds\na_seconds 1\n', TEXT).families[0].unit, undefined);
});

// Some client libraries write OpenMetrics exemplars into 0.0.4 pages; losing the line would
// take a bucket out of the histogram.
const TEXT_HISTOGRAM_WITH_EXEMPLARS = [
  '# HELP foo Request time.',
  '# TYPE foo histogram',
  'foo_bucket{le="0.1"} 1',
  'foo_bucket{le="0.5"} 3 # {trace_id="abc"} 0.43 1700000000.123',
  'foo_bucket{le="1"} 5 1700000000000 # {trace_id="def",span_id="1"} 0.9 1700000000.5',
  'foo_bucket{le="2"} 6 # {} 1.5',
  'foo_bucket{le="+Inf"}\t7  #\t{ "trace.id" = "x\\"y" }\t+Inf\t1700000001 ',
  'foo_count 7 1700000000000 # {trace_id="ghi"} 3',
  'foo_sum 4.2',
  '',
].join('\n');

test('text format: a bucket line with an exemplar keeps its sample, strict and lenient, with no exemplar attached', () => {
  for (const lenient of [false, true]) {
    const page = parse(TEXT_HISTOGRAM_WITH_EXEMPLARS, TEXT, lenient);
    assert.equal(page.dropped, 0, page.errors.map((e) => e.message).join(' | '));
    assert.deepEqual(grouping(page), [['foo', 'histogram', ['foo_bucket', 'foo_bucket', 'foo_bucket', 'foo_bucket', 'foo_bucket', 'foo_count', 'foo_sum']]]);
    assert.deepEqual(
      allSamples(page).map((s) => [s.labels.le, s.value, s.timestamp]),
      [
        ['0.1', 1, undefined],
        ['0.5', 3, undefined],
        ['1', 5, 1700000000000],
        ['2', 6, undefined],
        ['+Inf', 7, undefined],
        [undefined, 7, 1700000000000],
        [undefined, 4.2, undefined],
      ],
      `lenient: ${lenient}`,
    );
    assert.ok(allSamples(page).every((s) => s.exemplar === undefined));
    assert.ok(page.families[0].metrics.every((m) => m.exemplar === undefined));
  }
});

test('text format: the pull parser reads past an exemplar (after the value or the timestamp); exemplar() stays undefined', () => {
  for (const lazyLabels of [false, true]) {
    const p = newExpositionParser(TEXT_HISTOGRAM_WITH_EXEMPLARS, { format: TEXT, lazyLabels });
    const seen: [string, number, number | undefined, unknown][] = [];
    for (let e = p.next(); e !== Entry.End; e = p.next()) {
      if (e !== Entry.Series) continue;
      seen.push([p.seriesKey(), p.value, p.timestamp, p.exemplar()]);
      // the exemplar's labels must not leak into the series' label set
      assert.deepEqual(Object.keys(p.labels().toRecord()).filter((k) => k !== '__name__' && k !== 'le'), [], p.seriesKey());
    }
    assert.deepEqual(seen, [
      ['foo_bucket{le="0.1"}', 1, undefined, undefined],
      ['foo_bucket{le="0.5"}', 3, undefined, undefined],
      ['foo_bucket{le="1"}', 5, 1700000000000, undefined],
      ['foo_bucket{le="2"}', 6, undefined, undefined],
      ['foo_bucket{le="+Inf"}', 7, undefined, undefined],
      ['foo_count', 7, 1700000000000, undefined],
      ['foo_sum', 4.2, undefined, undefined],
    ]);
  }
});

test('text format: a malformed exemplar is still an error, with its line and column', () => {
  const h = '# TYPE h histogram\n';
  // "# {" unterminated: the label value, then the label set
  assertError(`${h}h_bucket{le="1"} 3 # {trace_id="abc 0.4\n`, TEXT, 2, 40, /unterminated label value/);
  assertError(`${h}h_bucket{le="1"} 3 # {trace_id="abc"\n`, TEXT, 2, 37, /","|"}"/);
  assertError(`${h}h_bucket{le="1"} 3 # {trace_id="abc" 0.4\n`, TEXT, 2, 38, /","|"}"/);
  assertError(`${h}h_bucket{le="1"} 3 # {trace_id=abc} 0.4\n`, TEXT, 2, 32, /label value/);
  // not "# {" at all: a trailing comment is not allowed on a sample line either
  assertError(`${h}h_bucket{le="1"} 3 # trace\n`, TEXT, 2, 20, /# \{/);
  assertError(`${h}h_bucket{le="1"} 3 #\n`, TEXT, 2, 20, /# \{/);
  assertError(`${h}h_bucket{le="1"} 3 1000 #{a="b"} 1\n`, TEXT, 2, 25, /# \{/);
  // value and timestamp of the exemplar
  assertError(`${h}h_bucket{le="1"} 3 # {a="b"}\n`, TEXT, 2, 29, /space before the exemplar value/);
  assertError(`${h}h_bucket{le="1"} 3 # {a="b"} x1\n`, TEXT, 2, 30, /invalid exemplar value "x1"/);
  assertError(`${h}h_bucket{le="1"} 3 1000 # {a="b"} 1_0\n`, TEXT, 2, 35, /invalid exemplar value/);
  assertError(`${h}h_bucket{le="1"} 3 # {a="b"} 1 NaN\n`, TEXT, 2, 32, /invalid exemplar timestamp "NaN"/);
  assertError(`${h}h_bucket{le="1"} 3 # {a="b"} 1 2 3\n`, TEXT, 2, 34, /end of line/);
  assertError(`${h}h_bucket{le="1"} 3 # {a="b",a="c"} 1\n`, TEXT, 2, 29, /duplicate/);
  // the line's own parts are checked as before
  assertError(`${h}h_bucket{le="1"} x # {a="b"} 1\n`, TEXT, 2, 18, /invalid value/);
  // lenient: only the bad line goes, the histogram's other buckets stay
  const page = parse(`${h}h_bucket{le="1"} 3 # {a="b"} 1\nh_bucket{le="2"} 4 # {a="b" 1\nh_bucket{le="+Inf"} 5 # {} 2\n`, TEXT, true);
  assert.equal(page.dropped, 1);
  assert.deepEqual(page.errors.map((e) => [e.line, e.column]), [[3, 29]]);
  assert.deepEqual(allSamples(page).map((s) => [s.labels.le, s.value]), [['1', 3], ['+Inf', 5]]);
});

test('OpenMetrics: exemplars unchanged by the text format\'s tolerance (kept, single spaces only)', () => {
  const c = '# TYPE c counter\n';
  const kept = parse(`${c}c_total 1 # {trace_id="abc"} 0.43 1700000000.123\n# EOF\n`, OM);
  assert.deepEqual(allSamples(kept)[0].exemplar, { labels: { trace_id: 'abc' }, value: 0.43, timestamp: 1700000000123 });
  assertError(`${c}c_total 1 #\t{a="b"} 1\n# EOF\n`, OM, 2, 11, /# \{/);
  assertError(`${c}c_total 1 #  {a="b"} 1\n# EOF\n`, OM, 2, 11, /# \{/);
  assertError(`${c}c_total 1 # {a="b"}  1\n# EOF\n`, OM, 2, 21, /exemplar value/);
  assertError(`${c}c_total 1 # {a="b"}\t1\n# EOF\n`, OM, 2, 20, /space before the exemplar value/);
  assertError(`${c}c_total 1 # {a="b"} 1\t2\n# EOF\n`, OM, 2, 21, /exemplar value/);
  assertError(`${c}c_total 1 # {a="b"} 1 \n# EOF\n`, OM, 2, 23, /exemplar timestamp/);
});

// ---------------------------------------------------------------- OpenMetrics strictness

test('OpenMetrics: exactly one space between tokens, no tabs, no leading or trailing blanks', () => {
  assertError('a  1\n# EOF\n', OM, 1, 3, /value/);
  assertError('a\t1\n# EOF\n', OM, 1, 2, /space/);
  assertError('a 1\t2\n# EOF\n', OM, 1, 4, /space/);
  assertError('a 1  2\n# EOF\n', OM, 1, 5, /timestamp/);
  assertError(' a 1\n# EOF\n', OM, 1, 1, /metric name|"#"/);
  assertError('a 1 2 \n# EOF\n', OM, 1, 6, /end of line/);
  assertError('a 1 1 1\n# EOF\n', OM, 1, 6, /end of line/);
  assertError('a { b="c" } 1\n# EOF\n', OM, 1, 3, /value/);
  assertError('a{ b="c"} 1\n# EOF\n', OM, 1, 3, /label name/);
  assertError('a{b="c" } 1\n# EOF\n', OM, 1, 8, /","|"}"/);
  assertError('a{b = "c"} 1\n# EOF\n', OM, 1, 4, /"="/);
  assertError('{"a", b="c"} 1\n# EOF\n', OM, 1, 6, /label name/);
});

test('OpenMetrics: a blank after the value without a timestamp is an error', () => {
  // ABNF: sample = metricname [labels] SP number [SP timestamp] [exemplar] LF
  assertError('a 1 \n# EOF\n', OM, 1, 4, /end of line|timestamp/);
});

test('OpenMetrics: no blank lines, no trailing comma, no plain comments', () => {
  assertError('a 1\n\n# EOF\n', OM, 2, 1, /empty line/);
  assertError('\n# EOF\n', OM, 1, 1, /empty line/);
  assertError('a{b="1",} 1\n# EOF\n', OM, 1, 9, /label name/);
  assertError('# plain comment\n# EOF\n', OM, 1, 3, /HELP|TYPE/);
  assertError('#\n# EOF\n', OM, 1, 2, /space/);
  assertError('#TYPE a gauge\n# EOF\n', OM, 1, 2, /space/);
  assertError('#  TYPE c counter\n# EOF\n', OM, 1, 3, /HELP|TYPE/);
  assertError('#\tTYPE c counter\n# EOF\n', OM, 1, 2, /space/);
  assertError('# TYPE c  counter\n# EOF\n', OM, 1, 10, /type/);
  assertError('# TYPE c counter \n# EOF\n', OM, 1, 10, /type/);
  assertError('# TYPE  c counter\n# EOF\n', OM, 1, 8, /metric name/);
  assertError('# HELPx a b\n# EOF\n', OM, 1, 7, /space/);
});

test('OpenMetrics: TYPE, UNIT and HELP need their value field (it may be empty, the space may not be missing)', () => {
  assertError('# TYPE \n# EOF\n', OM, 1, 8, /metric name/);
  assertError('# TYPE m\n# EOF\n', OM, 1, 9, /space/);
  assertError('# UNIT \n# EOF\n', OM, 1, 8, /metric name/);
  assertError('# UNIT m\n# EOF\n', OM, 1, 9, /space/);
  assertError('# HELP \n# EOF\n', OM, 1, 8, /metric name/);
  // ABNF: HASH SP help SP metricname SP escaped-string LF; Prometheus: "expected text in HELP"
  assertError('# HELP m\n# EOF\n', OM, 1, 9, /space/);
});

test('OpenMetrics: TYPE words; untyped is not one of them', () => {
  const types = ['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown'];
  const page = parse(types.map((t, i) => `# TYPE m${i} ${t}\n`).join('') + '# EOF\n', OM);
  assert.deepEqual(
    page.families.map((f) => f.type),
    types,
  );
  assertError('# TYPE u untyped\n# EOF\n', OM, 1, 10, /type/);
  assertError('# TYPE u Gauge\n# EOF\n', OM, 1, 10, /type/);
});

// ---------------------------------------------------------------- # EOF

test('OpenMetrics # EOF: required, ends the page, with or without a final newline', () => {
  assert.deepEqual(parse('# EOF\n', OM), { families: [], dropped: 0, errors: [] });
  assert.deepEqual(parse('# EOF', OM), { families: [], dropped: 0, errors: [] });
  assert.deepEqual(allSamples(parse('a 1\n# EOF', OM)), [{ labels: { __name__: 'a' }, value: 1 }]);
});

test('OpenMetrics # EOF: missing is an error on the line after the last', () => {
  assertError('', OM, 1, 1, /EOF/);
  assertError('a 1\n', OM, 2, 1, /EOF/);
  assertError('# TYPE a gauge\na 1\n', OM, 3, 1, /EOF/);
  assertError('a 1', OM, 1, 4, /newline|EOF/);
  assertError('metric_total 1 # {aa="bb"} 4', OM, 1, 29, /newline|EOF/);
  // lenient: the page's samples are kept, the missing EOF is counted
  const lenient = parse('a 1\nb 2\n', OM, true);
  assert.deepEqual(allSamples(lenient).map((s) => s.labels.__name__), ['a', 'b']);
  assert.equal(lenient.dropped, 1);
});

test('OpenMetrics # EOF: anything after it is one error', () => {
  assertError('# EOF\na 1\n', OM, 2, 1, /after "# EOF"/);
  assertError('# EOF\n\n', OM, 2, 1, /after "# EOF"/);
  assertError('a 1\n# EOF\nb 2\nc 3\n', OM, 3, 1, /after "# EOF"/);
  const lenient = parse('a 1\n# EOF\nb 2\nc 3\n', OM, true);
  assert.deepEqual(allSamples(lenient).map((s) => s.labels.__name__), ['a']);
  assert.equal(lenient.dropped, 1, 'everything after # EOF is one error');
  // "# EOFa" is not the EOF marker
  assertError('# EOFa 1\n# EOF\n', OM, 1, 3, /HELP|TYPE|EOF/);
  assertError(' # EOF\n', OM, 1, 1, /metric name|"#"/);
});

test('text format: "# EOF" is only a comment', () => {
  assert.deepEqual(allSamples(parse('# EOF\na 1\n', TEXT)), [{ labels: { __name__: 'a' }, value: 1 }]);
});

// ---------------------------------------------------------------- UNIT

test('OpenMetrics UNIT: must be the suffix of the family name; empty means none', () => {
  const page = parse(
    '# TYPE foo_seconds counter\n# UNIT foo_seconds seconds\n# HELP foo_seconds Total.\nfoo_seconds_total 4.2\n' +
      '# UNIT nounit \n# TYPE go_gc_duration_seconds summary\n# UNIT go_gc_duration_seconds seconds\n# EOF\n',
    OM,
  );
  assert.deepEqual(
    page.families.map((f) => [f.name, f.type, f.unit]),
    [
      ['foo_seconds', 'counter', 'seconds'],
      ['nounit', 'unknown', undefined],
      ['go_gc_duration_seconds', 'summary', 'seconds'],
    ],
  );
  assert.deepEqual(plainSamples(page.families[0]), [{ labels: { __name__: 'foo_seconds_total' }, value: 4.2 }]);
  assertError('# UNIT metric suffix\n# EOF\n', OM, 1, 1, /suffix/);
  assertError('# UNIT metricsuffix suffix\n# EOF\n', OM, 1, 1, /suffix/);
  assertError('# UNIT m suffix\n# EOF\n', OM, 1, 1, /suffix/);
  assertError('# TYPE foo counter\n# UNIT foo seconds\n# EOF\n', OM, 2, 1, /suffix/);
  assertError('# UNIT a-b_s s\n# EOF\n', OM, 1, 9, /"-"/);
  assertError('# UNIT a_s s-x\n# EOF\n', OM, 1, 13, /unit/);
  assertError('# UNIT a_s sé\n# EOF\n', OM, 1, 13, /unit/);
});

// ---------------------------------------------------------------- families and types

test('OpenMetrics: every type groups its samples with the right names', () => {
  const page = parse(
    [
      '# TYPE c counter',
      'c_total 17.0 1520879607.789',
      'c_created 1520430000.123',
      'c_total{a="b"} 1',
      'c_created{a="b"} 1520430000.5',
      '# TYPE g gauge',
      'g 17.0',
      '# TYPE h histogram',
      'h_bucket{le="0.0"} 0',
      'h_bucket{le="1e-05"} 0',
      'h_bucket{le="+Inf"} 17',
      'h_count 17',
      'h_sum 324789.3',
      'h_created 1520430000.123',
      '# TYPE gh gaugehistogram',
      'gh_bucket{le="0.01"} 20.0',
      'gh_bucket{le="+Inf"} 42.0',
      'gh_gcount 42.0',
      'gh_gsum 3289.3',
      '# TYPE s summary',
      's{quantile="0.95"} 123.7',
      's{quantile="0.99"} 150.0',
      's_count 17.0',
      's_sum 324789.3',
      's_created 1520430000.123',
      '# TYPE i info',
      'i_info{name="pretty name",version="8.2.7"} 1',
      '# TYPE ss stateset',
      'ss{ss="a"} 0',
      'ss{entity="controller",ss="bb"} 1',
      '# TYPE u unknown',
      'u 42.23',
      'no_metadata 1',
      '# TYPE fizz_created gauge',
      'fizz_created 17.0',
      '# EOF',
      '',
    ].join('\n'),
    OM,
  );
  assert.deepEqual(grouping(page), [
    ['c', 'counter', ['c_total', 'c_created', 'c_total', 'c_created']],
    ['g', 'gauge', ['g']],
    ['h', 'histogram', ['h_bucket', 'h_bucket', 'h_bucket', 'h_count', 'h_sum', 'h_created']],
    ['gh', 'gaugehistogram', ['gh_bucket', 'gh_bucket', 'gh_gcount', 'gh_gsum']],
    ['s', 'summary', ['s', 's', 's_count', 's_sum', 's_created']],
    ['i', 'info', ['i_info']],
    ['ss', 'stateset', ['ss', 'ss']],
    ['u', 'unknown', ['u']],
    ['no_metadata', 'unknown', ['no_metadata']],
    ['fizz_created', 'gauge', ['fizz_created']],
  ]);
  assert.deepEqual(plainSamples(page.families[0]), [
    { labels: { __name__: 'c_total' }, value: 17, timestamp: 1520879607789 },
    { labels: { __name__: 'c_created' }, value: 1520430000.123 },
    { labels: { __name__: 'c_total', a: 'b' }, value: 1 },
    { labels: { __name__: 'c_created', a: 'b' }, value: 1520430000.5 },
  ]);
  assert.deepEqual(plainSamples(page.families[2]).map((s) => s.labels.le), ['0.0', '1e-05', '+Inf', undefined, undefined, undefined]);
  assert.deepEqual(plainSamples(page.families[5]), [
    { labels: { __name__: 'i_info', name: 'pretty name', version: '8.2.7' }, value: 1 },
  ]);
  assert.deepEqual(plainSamples(page.families[6]), [
    { labels: { __name__: 'ss', ss: 'a' }, value: 0 },
    { labels: { __name__: 'ss', entity: 'controller', ss: 'bb' }, value: 1 },
  ]);
});

test('OpenMetrics: a family of samples without metadata stays one family (counter-like names too)', () => {
  const page = parse('foo_total 17.0\nfoo_total{a="b"} 17.0\n# EOF\n', OM);
  assert.deepEqual(grouping(page), [['foo_total', 'unknown', ['foo_total', 'foo_total']]]);
});

test('text format: counter, gauge, histogram, summary, untyped group with text-format names', () => {
  const page = parse(
    [
      '# HELP http_requests_total The total number of HTTP requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3 1395066363000',
      '# TYPE http_request_duration_seconds histogram',
      'http_request_duration_seconds_bucket{le="0.05"} 24054',
      'http_request_duration_seconds_bucket{le="+Inf"} 144320',
      'http_request_duration_seconds_sum 53423',
      'http_request_duration_seconds_count 144320',
      '# TYPE rpc_duration_seconds summary',
      'rpc_duration_seconds{quantile="0.01"} 3102',
      'rpc_duration_seconds_sum 1.7560473e+07',
      'rpc_duration_seconds_count 2693',
      '# TYPE x untyped',
      'x 1',
      '# TYPE g gauge',
      'g 2',
      'metric_without_timestamp_and_labels 12.47',
      '',
    ].join('\n'),
    TEXT,
  );
  assert.deepEqual(grouping(page), [
    ['http_requests_total', 'counter', ['http_requests_total', 'http_requests_total']],
    [
      'http_request_duration_seconds',
      'histogram',
      ['http_request_duration_seconds_bucket', 'http_request_duration_seconds_bucket', 'http_request_duration_seconds_sum', 'http_request_duration_seconds_count'],
    ],
    ['rpc_duration_seconds', 'summary', ['rpc_duration_seconds', 'rpc_duration_seconds_sum', 'rpc_duration_seconds_count']],
    ['x', 'unknown', ['x']],
    ['g', 'gauge', ['g']],
    ['metric_without_timestamp_and_labels', 'unknown', ['metric_without_timestamp_and_labels']],
  ]);
  assert.equal(page.families[0].help, 'The total number of HTTP requests.');
  assert.deepEqual(plainSamples(page.families[0])[1], {
    labels: { __name__: 'http_requests_total', code: '400', method: 'post' },
    value: 3,
    timestamp: 1395066363000,
  });
});

test('text format: a counter family is named with _total; "# TYPE foo counter" does not claim foo_total', () => {
  const page = parse('# TYPE foo counter\nfoo 1\n# TYPE bar_total counter\nbar_total 2\nbar_created 3\n', TEXT);
  // the text format has no _created samples: bar_created is a family of its own
  assert.deepEqual(grouping(page), [
    ['foo', 'counter', ['foo']],
    ['bar_total', 'counter', ['bar_total']],
    ['bar_created', 'unknown', ['bar_created']],
  ]);
});

test('OpenMetrics: sample names must fit the declared type (no second family of the same name)', () => {
  // A counter's samples are foo_total/foo_created, an info's foo_info, a histogram's have suffixes.
  // A bare "c" sample after "# TYPE c counter" must not open a second family also named "c".
  for (const [page, line, word] of [
    ['# TYPE c counter\nc 1\n# EOF\n', 2, /"c"/],
    ['# TYPE i info\ni{a="b"} 1\n# EOF\n', 2, /"i"/],
    ['# TYPE h histogram\nh 1\n# EOF\n', 2, /"h"/],
    ['# TYPE gh gaugehistogram\ngh_sum 1\n# EOF\n', 2, /"gh(_sum)?"/],
  ] as const) {
    let names: string[] = [];
    try {
      names = parse(page, OM).families.map((f) => f.name);
    } catch (err) {
      assert.ok(err instanceof ExpositionError, String(err));
      assert.equal(err.line, line);
      assert.equal(err.column, 1);
      assert.match(err.detail, word);
      continue;
    }
    assert.equal(new Set(names).size, names.length, `${JSON.stringify(page)} gave two families of one name: ${JSON.stringify(names)}`);
  }
});

test('OpenMetrics: histogram buckets need "le", summary quantiles "quantile", stateset samples their state label', () => {
  assertError('# TYPE h histogram\nh_bucket 1\n# EOF\n', OM, 2, 1, /le/);
  assertError('# TYPE h gaugehistogram\nh_bucket{a="b"} 1\n# EOF\n', OM, 2, 1, /le/);
  assertError('# TYPE s summary\ns 1\n# EOF\n', OM, 2, 1, /quantile/);
  assertError('# TYPE ss stateset\nss{a="b"} 1\n# EOF\n', OM, 2, 1, /stateset/);
});

// ---------------------------------------------------------------- exemplars

test('OpenMetrics exemplars: labels, value, optional timestamp, empty label set', () => {
  const page = parse(
    [
      '# TYPE foo histogram',
      'foo_bucket{le="0.01"} 0',
      'foo_bucket{le="0.1"} 8 # {} 0.054',
      'foo_bucket{le="1"} 11 # {trace_id="KOO5S4vxi0o"} 0.67',
      'foo_bucket{le="10"} 17 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789',
      'foo_bucket{le="+Inf"} 17 123 # {id="x",xx="yy"} NaN -1.5',
      'foo_count 17',
      'foo_sum 324789.3',
      '# TYPE c counter',
      'c_total 17.0 1520879607.789 # {id="counter-test"} 5',
      'c_total{a="b"} 17.0 # {"id.thing"="é\\"\\n"} +Inf',
      '# TYPE g gaugehistogram',
      'g_bucket{le="+Inf"} 1 # {id="gaugehistogram-bucket-test",xx="yy"} 4 123.123',
      '# EOF',
      '',
    ].join('\n'),
    OM,
  );
  const ex = allSamples(page).map((s) => s.exemplar);
  assert.deepEqual(ex, [
    undefined,
    { labels: {}, value: 0.054 },
    { labels: { trace_id: 'KOO5S4vxi0o' }, value: 0.67 },
    { labels: { trace_id: 'oHg5SJYRHA0' }, value: 9.8, timestamp: 1520879607789 },
    { labels: { id: 'x', xx: 'yy' }, value: NaN, timestamp: -1500 },
    undefined,
    undefined,
    { labels: { id: 'counter-test' }, value: 5 },
    { labels: { 'id.thing': 'é"\n' }, value: Infinity },
    { labels: { id: 'gaugehistogram-bucket-test', xx: 'yy' }, value: 4, timestamp: 123123 },
  ]);
  assert.equal(allSamples(page)[4].timestamp, 123000);
  assert.equal(allSamples(page)[7].timestamp, 1520879607789);
});

test('OpenMetrics exemplars: at most 128 characters of label names and values', () => {
  const at = (n: number) => `# TYPE c counter\nc_total 1 # {a="${'x'.repeat(n - 1)}"} 1\n# EOF\n`;
  assert.equal(allSamples(parse(at(128), OM))[0].exemplar?.labels.a.length, 127);
  assertError(at(129), OM, 2, 13, /128/);
  // characters, not UTF-16 units or bytes: 127 emoji and the name "a" are 128
  const emoji = `# TYPE c counter\nc_total 1 # {a="${'😀'.repeat(127)}"} 1\n# EOF\n`;
  assert.equal([...(allSamples(parse(emoji, OM))[0].exemplar?.labels.a ?? '')].length, 127);
});

test('OpenMetrics exemplars: syntax errors', () => {
  const c = '# TYPE c counter\n';
  assertError(`${c}c_total 1 # {aa="bb"}\n# EOF\n`, OM, 2, 22, /exemplar value|space/);
  assertError(`${c}c_total 1 # {aa=bb} 1\n# EOF\n`, OM, 2, 17, /label value/);
  assertError(`${c}c_total 1 # {bb}\n# EOF\n`, OM, 2, 16, /"="/);
  assertError(`${c}c_total 1 # {bb, a="dd"}\n# EOF\n`, OM, 2, 16, /"="/);
  assertError(`${c}c_total 1 # {aa="bb",,cc="dd"} 1\n# EOF\n`, OM, 2, 22, /label name/);
  assertError(`${c}c_total 1 # {aa="bb"} 1_2\n# EOF\n`, OM, 2, 23, /exemplar value/);
  assertError(`${c}c_total 1 # {aa="bb"} true\n# EOF\n`, OM, 2, 23, /exemplar value/);
  assertError(`${c}c_total 1 # {aa="bb",cc=}\n# EOF\n`, OM, 2, 25, /label value/);
  assertError(`${c}c_total 1 # {aa="bb"} 1 NaN\n# EOF\n`, OM, 2, 25, /exemplar timestamp/);
  assertError(`${c}c_total 1 # {aa="bb"} 1 -Inf\n# EOF\n`, OM, 2, 25, /exemplar timestamp/);
  assertError(`${c}c_total 1 # {aa="bb"} 1 2 3\n# EOF\n`, OM, 2, 26, /end of line/);
  assertError(`${c}c_total 1 #{aa="bb"} 1\n# EOF\n`, OM, 2, 11, /# \{/);
  assertError(`${c}c_total 1 # aa="bb" 1\n# EOF\n`, OM, 2, 11, /# \{/);
  assertError(`${c}c_total 1 2 #\n# EOF\n`, OM, 2, 13, /# \{/);
  assertError(`${c}c_total 1 # {a="b",a="c"} 1\n# EOF\n`, OM, 2, 20, /duplicate/);
  assertError(`${c}c_total 1 # {a="\\x"} 1\n# EOF\n`, OM, 2, 17, /escape/);
});

test('OpenMetrics exemplars: only on counter _total and histogram/gaugehistogram _bucket samples', () => {
  assertError('# TYPE g gauge\ng 1 # {a="b"} 1\n# EOF\n', OM, 2, 1, /exemplar/);
  assertError('# TYPE c counter\nc_created 1 # {a="b"} 1\n# EOF\n', OM, 2, 1, /exemplar/);
  assertError('# TYPE h histogram\nh_count 1 # {a="b"} 1\n# EOF\n', OM, 2, 1, /exemplar/);
  assertError('# TYPE s summary\ns_sum 1 # {a="b"} 1\n# EOF\n', OM, 2, 1, /exemplar/);
  assertError('u 1 # {a="b"} 1\n# EOF\n', OM, 1, 1, /exemplar/);
  // lenient: the line is counted and the exemplar dropped
  const lenient = parse('# TYPE g gauge\ng 1 # {a="b"} 1\ng{x="y"} 2\n# EOF\n', OM, true);
  assert.equal(lenient.dropped, 1);
  assert.equal(lenient.errors[0].line, 2);
  assert.ok(allSamples(lenient).every((s) => s.exemplar === undefined));
  assert.ok(allSamples(lenient).some((s) => s.labels.x === 'y'));
});

// ---------------------------------------------------------------- metadata rules

test('duplicate HELP/TYPE/UNIT: strict errors name the first line', () => {
  // identical repeats: strict only (lenient tolerates them, see below)
  assertError('# HELP a x\n# HELP a x\na 1\n', TEXT, 2, 1, /second HELP.*line 1/, false);
  assertError('# TYPE a gauge\n# TYPE a gauge\n# EOF\n', OM, 2, 1, /second TYPE.*line 1/, false);
  assertError('# TYPE a gauge\n# HELP a h\n# TYPE a counter\na 1\n', TEXT, 3, 1, /second TYPE.*line 1/);
  assertError('# TYPE a_b_s gauge\n# UNIT a_b_s s\n# UNIT a_b_s b_s\n# EOF\n', OM, 3, 1, /second UNIT.*line 2/);
  assertError('# HELP a x\n# TYPE a gauge\n# HELP a y\n# EOF\n', OM, 3, 1, /second HELP.*line 1/);
});

test('duplicate HELP/TYPE, lenient: an identical repeat is tolerated, a conflicting one dropped and counted', () => {
  const same = parse('# HELP a x\n# TYPE a gauge\n# HELP a x\n# TYPE a gauge\na 1\n', TEXT, true);
  assert.deepEqual(grouping(same), [['a', 'gauge', ['a']]]);
  assert.equal(same.families[0].help, 'x');
  assert.equal(same.dropped, 0);
  assert.deepEqual(same.errors, []);

  const conflicting = parse('# HELP a x\n# TYPE a gauge\n# HELP a y\n# TYPE a counter\na 1\n', TEXT, true);
  assert.deepEqual(grouping(conflicting), [['a', 'gauge', ['a']]]);
  assert.equal(conflicting.families[0].help, 'x', 'the first HELP wins');
  assert.equal(conflicting.dropped, 2);
  assert.deepEqual(
    conflicting.errors.map((e) => [e.line, e.column]),
    [
      [3, 1],
      [4, 1],
    ],
  );
});

test('samples of one family split apart: merged by name in the text format (as Prometheus and the Pushgateway read them) and in lenient mode; strict OpenMetrics refuses them', () => {
  assert.throws(() => parse('# TYPE c counter\nc_total{a="1"} 1\n# TYPE d gauge\nd 1\nc_total{a="2"} 2\n# EOF\n', OM, false), /line 5, column 1: .*split/);
  for (const lenient of [false, true]) {
    const page = parse('# TYPE a gauge\na{x="1"} 1\nb 1\na{x="2"} 2\nb{y="z"} 3\n', TEXT, lenient);
    assert.deepEqual(grouping(page), [
      ['a', 'gauge', ['a', 'a']],
      ['b', 'unknown', ['b', 'b']],
    ]);
    assert.deepEqual(
      page.families[0].metrics.map((m) => m.value),
      [1, 2],
    );
    assert.equal(page.dropped, 0);
    assert.deepEqual(page.errors, []);
    const histogram = parse('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nx 1\nh_sum 1\n', TEXT, lenient);
    assert.deepEqual(grouping(histogram)[0], ['h', 'histogram', ['h_bucket', 'h_sum']]);
  }
  const om = parse('# TYPE c counter\nc_total{a="1"} 1\n# TYPE d gauge\nd 1\nc_total{a="2"} 2\n# EOF\n', OM, true);
  assert.deepEqual(grouping(om)[0], ['c', 'counter', ['c_total', 'c_total']]);
  assert.equal(om.dropped, 0);
});

test('metadata after samples: strict error; lenient drops the line and keeps the first metadata', () => {
  assertError('a 1\n# TYPE a gauge\n', TEXT, 2, 1, /after its samples/);
  assertError('# TYPE a gauge\na 1\n# HELP a late\n', TEXT, 3, 1, /after its samples/);
  assertError('a 1\n# HELP a x\n# EOF\n', OM, 2, 1, /after its samples/);
  const lenient = parse('# TYPE a gauge\na 1\n# HELP a late\n# TYPE a counter\n', TEXT, true);
  assert.deepEqual(grouping(lenient), [['a', 'gauge', ['a']]]);
  assert.equal(lenient.families[0].help, undefined);
  assert.equal(lenient.dropped, 2);
});

test('metadata of one family separated by another family: strict error; lenient takes it', () => {
  assertError('# TYPE a gauge\n# TYPE b gauge\n# HELP a x\na 1\n', TEXT, 3, 1, /separated/, false);
  const lenient = parse('# TYPE a gauge\n# TYPE b gauge\n# HELP a x\na 1\n', TEXT, true);
  assert.deepEqual(
    lenient.families.map((f) => [f.name, f.type, f.help, f.metrics.length]),
    [
      ['a', 'gauge', 'x', 1],
      ['b', 'gauge', undefined, 0],
    ],
  );
});

// ---------------------------------------------------------------- lenient mode

test('lenient mode: good lines kept, bad lines counted with line and column', () => {
  const page = [
    '# HELP good_total Good.',
    '# TYPE good_total counter',
    'good_total{a="1"} 1',
    'good_total{a="2" 2', // 4: unterminated braces
    'good_total{a="3"} x', // 5: bad value
    'bad-name 3', // 6: invalid metric name
    '# TYPE other bogus', // 7: bad type
    'other{b="1",b="2"} 4', // 8: duplicate label
    'other 5 1.5', // 9: bad timestamp
    'other{c="ok"} 6',
    '',
  ].join('\n');
  const r = parse(page, TEXT, true);
  assert.deepEqual(grouping(r), [
    ['good_total', 'counter', ['good_total']],
    ['other', 'unknown', ['other']],
  ]);
  assert.deepEqual(allSamples(r), [
    { labels: { __name__: 'good_total', a: '1' }, value: 1 },
    { labels: { __name__: 'other', c: 'ok' }, value: 6 },
  ]);
  assert.equal(r.dropped, 6);
  assert.deepEqual(
    r.errors.map((e) => [e.line, e.column]),
    [
      [4, 18],
      [5, 19],
      [6, 4],
      [7, 14],
      [8, 13],
      [9, 9],
    ],
  );
  assert.ok(r.errors.every((e) => e instanceof ExpositionError));
});

test('lenient mode: invalid names found lazily are counted like any other error', () => {
  // name validation may be deferred to labels(); lenient parsing must still drop just that line
  for (const format of [TEXT, OM]) {
    const eof = format === OM ? '# EOF\n' : '';
    const r = parse(`a-b 1\nc{d.e="1"} 2\nf{g="1"} 3\n${eof}`, format, true);
    assert.deepEqual(allSamples(r), [{ labels: { __name__: 'f', g: '1' }, value: 3 }]);
    assert.equal(r.dropped, 2);
    assert.deepEqual(
      r.errors.map((e) => [e.line, e.column]),
      [
        [1, 2],
        [2, 4],
      ],
    );
  }
});

test('lenient mode: every bad line is counted, only the first ten errors are kept', () => {
  const lines: string[] = [];
  for (let i = 0; i < 25; i++) lines.push(`bad{ ${i}`, `good{i="${i}"} ${i}`);
  const r = parse(lines.join('\n') + '\n', TEXT, true);
  assert.equal(r.dropped, 25);
  assert.equal(r.errors.length, 10);
  assert.deepEqual(
    r.errors.map((e) => e.line),
    [1, 3, 5, 7, 9, 11, 13, 15, 17, 19],
  );
  assert.equal(allSamples(r).length, 25);
});

test('lenient mode: an OpenMetrics page with blank lines and text-format habits keeps its samples', () => {
  const r = parse('# TYPE a gauge\n\na  1\na{b="c",} 2\na{b="d"} 3\n# comment\n', OM, true);
  assert.deepEqual(allSamples(r), [{ labels: { __name__: 'a', b: 'd' }, value: 3 }]);
  assert.deepEqual(
    r.errors.map((e) => [e.line, e.column]),
    [
      [2, 1],
      [3, 3],
      [4, 9],
      [6, 3],
      [7, 1],
    ],
  );
  assert.equal(r.dropped, 5);
});

// ---------------------------------------------------------------- pull parser API

test('pull parser: entries, series key, value, timestamp and metadata accessors', () => {
  const p = newExpositionParser(
    '# HELP a_total Help \\n text.\n# TYPE a_total counter\na_total{x="1",y="\\"q\\""} 3 1000\n# plain\n\nb 2.5\n',
    { format: TEXT },
  );
  assert.equal(p.next(), Entry.Help);
  assert.equal(p.line, 1);
  assert.equal(p.metricName(), 'a_total');
  assert.equal(p.help(), 'Help \n text.');
  assert.equal(p.next(), Entry.Type);
  assert.equal(p.metricName(), 'a_total');
  assert.equal(p.type(), 'counter');
  assert.equal(p.next(), Entry.Series);
  assert.equal(p.line, 3);
  assert.equal(p.seriesKey(), 'a_total{x="1",y="\\"q\\""}');
  assert.equal(p.metricName(), 'a_total');
  assert.deepEqual(p.labels().toRecord(), { __name__: 'a_total', x: '1', y: '"q"' });
  assert.equal(p.value, 3);
  assert.equal(p.timestamp, 1000);
  assert.equal(p.exemplar(), undefined);
  assert.equal(p.next(), Entry.Comment);
  assert.equal(p.next(), Entry.Series);
  assert.equal(p.line, 6);
  assert.equal(p.seriesKey(), 'b');
  assert.equal(p.value, 2.5);
  assert.equal(p.timestamp, undefined);
  assert.equal(p.next(), Entry.End);
  assert.equal(p.next(), Entry.End);
});

test('pull parser: OpenMetrics UNIT and exemplar accessors', () => {
  const p = newExpositionParser('# UNIT a_seconds seconds\n# TYPE a_seconds counter\na_seconds_total 1 # {t="x"} 2 3\n# EOF\n', { format: OM });
  assert.equal(p.next(), Entry.Unit);
  assert.equal(p.unit(), 'seconds');
  assert.equal(p.metricName(), 'a_seconds');
  assert.equal(p.next(), Entry.Type);
  assert.equal(p.next(), Entry.Series);
  const ex = p.exemplar();
  assert.deepEqual(ex && { labels: ex.labels.toRecord(), value: ex.value, timestamp: ex.timestamp }, {
    labels: { t: 'x' },
    value: 2,
    timestamp: 3000,
  });
  assert.equal(p.next(), Entry.End);
});

test('pull parser: errors are ExpositionErrors with a position, from next() or from the name accessors', () => {
  for (const [page, line, column, word] of [
    ['a 1\nb-c 2\n', 2, 2, /"-"/],
    ['a 1\nb{c-d="1"} 2\n', 2, 4, /"="/],
    ['a 1\nb{c="1",c="2"} 2\n', 2, 9, /duplicate/],
    ['a 1\nb{1="1"} 2\n', 2, 3, /label name/],
  ] as const) {
    const p = newExpositionParser(page, { format: TEXT });
    let err: unknown;
    try {
      for (let e = p.next(); e !== Entry.End; e = p.next()) if (e === Entry.Series) p.labels();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ExpositionError, `${JSON.stringify(page)}: ${String(err)}`);
    assert.deepEqual([err.line, err.column], [line, column], `${JSON.stringify(page)}: ${err.message}`);
    assert.match(err.detail, word);
  }
});

test('pull parser: lenient next() skips bad lines and counts them', () => {
  const p = newExpositionParser('a 1\nb{ 2\nc 3\n', { format: TEXT, lenient: true });
  const keys: string[] = [];
  for (let e = p.next(); e !== Entry.End; e = p.next()) if (e === Entry.Series) keys.push(p.seriesKey());
  assert.deepEqual(keys, ['a', 'c']);
  assert.equal(p.dropped, 1);
  assert.deepEqual(
    p.errors.map((e) => [e.line, e.column]),
    [[2, 4]],
  );
});

// ---------------------------------------------------------------- fast path = exact path

test('text format: a line parses the same whether its separators are spaces or tabs', () => {
  // Tabs send a line down the character-level path; results and error positions must not differ.
  const series = [
    'a',
    'a{}',
    'a{b="1"}',
    'a{b="1",}',
    'a{b="",c="x"}',
    'a{b="",b="x"}',
    'a{b="x",b=""}',
    'a{b="x",c="y",b=""}',
    'a{b="x",b="y"}',
    'a{__name__="x"}',
    'a{__name__=""}',
    'a-b',
    'a.b',
    'aé',
    'a{b-c="1"}',
    'a{é="1"}',
    'a{1="x"}',
    'a{,}',
    'a{b="1",,c="2"}',
    '{"a.b"}',
    '{"a.b",c="d"}',
    'a{"c.d"="1"}',
    'a{"c"="1",c="2"}',
    'a{"__name__"="x"}',
    'a{b="1"',
    'a{b=1}',
    '{a="1"}',
    'a{b="1"}x',
    'a{_="1"}',
    ':a',
    '1a',
    'a{b="é€"}',
    'a{B="x",b="y"}',
    'a{b="x" c="y"}',
    'a{b=="x"}',
    'a{b="x\\\\"}',
    'a{b="x\\""}',
    'a{b c="x"}',
    'a{_="",_="1"}',
    'a{b="x",b="",c=""}',
  ];
  const outcome = (page: string): string => {
    try {
      return JSON.stringify(allSamples(parse(page, TEXT)));
    } catch (err) {
      assert.ok(err instanceof ExpositionError, String(err));
      return `error at ${err.line}:${err.column}`;
    }
  };
  const mismatches: string[] = [];
  for (const s of series) {
    for (const rest of [['1'], ['1', '1000'], ['NaN', '-5']]) {
      const spaced = outcome([s, ...rest].join(' ') + '\n');
      const tabbed = outcome([s, ...rest].join('\t') + '\n');
      if (tabbed !== spaced) mismatches.push(`${s} ${rest.join(' ')}: with spaces → ${spaced}, with tabs → ${tabbed}`);
    }
  }
  assert.deepEqual(mismatches, []);
});

// ---------------------------------------------------------------- fuzzing

const VALID_OM = `# TYPE h_seconds histogram
# UNIT h_seconds seconds
# HELP h_seconds He\\\\lp \\" \\n x
h_seconds_bucket{le="0.1",p="a\\"b\\\\c\\nd"} 8 # {} 0.054
h_seconds_bucket{le="+Inf",p="a\\"b\\\\c\\nd"} 17 1520879607.789 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789
h_seconds_count{p="a\\"b\\\\c\\nd"} 17
h_seconds_sum{p="a\\"b\\\\c\\nd"} 324789.3
h_seconds_created{p="a\\"b\\\\c\\nd"} 1520430000.123
# TYPE "my.c" counter
{"my.c_total","lab.el"="v"} 1
# TYPE s stateset
s{s="a"} 1
# TYPE i info
i_info{v="é"} 1
# EOF
`;

const VALID_TEXT = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9
{"my.dotted.metric", "error.message"="Not Found"} 1
something_weird{problem="division by zero"} +Inf -3982045
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01",} 3102
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
`;


const FUZZ_ALPHABET = [...' \t\n\r"\\{}=,#+-.eE0123456789abcxyz_:é€😀\u0000\uFEFF', 'HELP', 'TYPE', 'UNIT', 'EOF', '\uD800', 'NaN', 'Inf'];

function mutate(page: string, next: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const at = () => Math.floor(next() * (page.length + 1));
  switch (Math.floor(next() * 7)) {
    case 0:
      return page.slice(0, at()); // truncation
    case 1: {
      const p = at();
      return page.slice(0, p) + pick(FUZZ_ALPHABET) + page.slice(p + 1); // replace
    }
    case 2: {
      const p = at();
      return page.slice(0, p) + pick(FUZZ_ALPHABET) + page.slice(p); // insert
    }
    case 3: {
      const p = at();
      return page.slice(0, p) + page.slice(p + 1 + Math.floor(next() * 8)); // delete a run
    }
    case 4: {
      const lines = page.split('\n');
      const i = Math.floor(next() * lines.length);
      const j = Math.floor(next() * lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]]; // swap lines
      return lines.join('\n');
    }
    case 5: {
      const lines = page.split('\n');
      const i = Math.floor(next() * lines.length);
      lines.splice(i, 0, lines[Math.floor(next() * lines.length)]); // duplicate a line
      return lines.join('\n');
    }
    default: {
      let s = '';
      const n = Math.floor(next() * 120);
      for (let i = 0; i < n; i++) s += pick(FUZZ_ALPHABET); // garbage
      return s;
    }
  }
}

test('fuzz: lenient mode never throws; strict mode throws nothing but positioned ExpositionErrors', () => {
  const next = rng(20240611);
  for (let i = 0; i < 2500; i++) {
    const bases: [TextFormat, string][] = [
      [OM, VALID_OM],
      [TEXT, VALID_TEXT],
    ];
    for (const [format, base] of bases) {
      let page: string = base;
      const rounds = 1 + Math.floor(next() * 3);
      for (let r = 0; r < rounds; r++) page = mutate(page, next);
      for (const f of FORMATS) {
        let lenient: ParsedPage;
        try {
          lenient = parse(page, f, true);
        } catch (err) {
          assert.fail(`lenient ${f} threw on ${JSON.stringify(page)} (mutation of the ${format} page): ${String(err)}`);
        }
        for (const e of lenient.errors) {
          assert.ok(e.line >= 1 && e.column >= 1, `lenient error without a position: ${e.message}`);
        }
        assert.ok(lenient.errors.length <= lenient.dropped);
        try {
          parse(page, f);
        } catch (err) {
          if (!(err instanceof ExpositionError)) {
            assert.fail(`strict ${f} threw a non-ExpositionError on ${JSON.stringify(page)}: ${String(err)}`);
          }
          assert.ok(err.line >= 1 && err.column >= 1, err.message);
          const lineCount = page.split('\n').length + 1;
          assert.ok(err.line <= lineCount, `line ${err.line} beyond the page's ${lineCount} lines`);
        }
      }
    }
  }
});

test('fuzz: the valid pages themselves parse strictly', () => {
  assert.equal(parse(VALID_OM, OM).families.length, 4);
  assert.equal(parse(VALID_TEXT, TEXT).families.length, 5);
});

/**
 * Every series line read in full (key, labels, value, timestamp), or where the error that
 * stopped it is (the two modes may word an error differently: a line the quick pass took
 * apart wrongly fails the name check in one, the exact parser in the other).
 */
function readSeries(page: string, format: TextFormat, lazyLabels: boolean): string[] {
  const out: string[] = [];
  const p = newExpositionParser(page, { format, lazyLabels });
  try {
    for (let e = p.next(); e !== Entry.End; e = p.next()) {
      if (e === Entry.Series) out.push(`${p.seriesKey()} ${p.labels().key} ${p.value} ${p.timestamp}`);
    }
  } catch (err) {
    out.push(`error at ${(err as Error).message.replace(/^(line \d+, column \d+).*$/s, '$1')}`);
  }
  return out;
}

test('fuzz: lazy labels read the same series and fail at the same place as eager ones', () => {
  const next = rng(777);
  for (let i = 0; i < 3000; i++) {
    let page = next() < 0.5 ? VALID_OM : VALID_TEXT;
    const rounds = 1 + Math.floor(next() * 3);
    for (let r = 0; r < rounds; r++) page = mutate(page, next);
    for (const f of FORMATS) {
      assert.deepEqual(readSeries(page, f, true), readSeries(page, f, false), `${f}: ${JSON.stringify(page)}`);
    }
  }
  // a lazily found key that is not the series' real end: the accessor reads the line exactly
  const tricky = 'a{b="x\\"} 1"} 2\nc{d="}\\"} 3",e="f"} 4\n';
  assert.deepEqual(readSeries(tricky, TEXT, true), readSeries(tricky, TEXT, false));
});
