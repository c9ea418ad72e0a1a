/**
 * The import paths in process: the JSON-lines, CSV and Prometheus-text parsers on their own
 * (values, errors with line numbers, the series cache, Go time layouts, the writer's round trip,
 * fuzzed input), then over HTTP into the pipeline — bad lines answered 400 with their numbers
 * and the good ones kept, gzip, extra_label, the tenant path.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CsvFormatError, CsvParser, parseCsvFormat } from '../../src/formats/csv/parser.js';
import { GoLayout, GoLayoutError } from '../../src/formats/csv/go-time.js';
import { JsonLineParser } from '../../src/formats/jsonline/parser.js';
import { jsonLine } from '../../src/formats/jsonline/writer.js';
import { PrometheusImportCache, PrometheusImportLines } from '../../src/formats/prometheus-import/parser.js';
import { LineSplitter, type LineFormat, type RowSink } from '../../src/formats/rows/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { Labels } from '../../src/model/labels.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { tempDataDir } from '../helpers/fixtures.js';
import { selfMetricValue } from '../helpers/scrape-harness.js';
import { rng } from '../helpers/seeded-random.js';
import { startIngest } from '../helpers/ingest-harness.js';

const NOW = 1_700_000_000_000;

class Rows implements RowSink {
  readonly now = NOW;
  readonly samples: { labels: Labels; value: number; ts: number }[] = [];
  readonly bad: { line: number; reason: string; fault?: string }[] = [];
  sample(labels: Labels, value: number, ts: number): void {
    this.samples.push({ labels, value, ts });
  }
  invalid(line: number, reason: string, fault?: string): void {
    this.bad.push({ line, reason, fault });
  }
  get flat(): [string, number, number][] {
    return this.samples.map((s) => [s.labels.toString(), s.value, s.ts]);
  }
}

function feed(format: LineFormat, text: string | Buffer, maxLine = 1 << 20, chunk = 0): Rows {
  const rows = new Rows();
  const sp = new LineSplitter(format, maxLine);
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  if (chunk > 0) for (let i = 0; i < buf.length; i += chunk) sp.push(buf.subarray(i, i + chunk), rows);
  else sp.push(buf, rows);
  sp.end(rows);
  if (format instanceof PrometheusImportLines) format.flush(rows);
  return rows;
}

// ---- JSON lines

test('jsonline: series, values, timestamps; the same metric bytes give the same Labels object', () => {
  const p = new JsonLineParser();
  const r = feed(
    p,
    [
      '{"metric":{"__name__":"m","k":"v"},"values":[1,2.5,-3e2],"timestamps":[1000,2000,3000]}',
      '  {"timestamps":[4000], "values":[ 7 ] , "metric":{"__name__":"m","k":"v"}, "extra":{"a":[1,{"b":null}]}}  ',
      '{"metric":{"__name__":"m","k":"v"},"values":[+Inf,-inf,NaN,null,"Infinity","-Inf","NaN",0.1,00,1e400],"timestamps":[1,2,3,4,5,6,7,8,9,10]}',
      '{"metric":{"__name__":"esc","v":"a\\"b\\\\c\\u00e9\\n","e":""},"values":[123456789012345678901234],"timestamps":[-5]}',
    ].join('\n'),
  );
  assert.deepEqual(r.bad, []);
  assert.deepEqual(r.flat.slice(0, 4), [
    ['m{k="v"}', 1, 1000],
    ['m{k="v"}', 2.5, 2000],
    ['m{k="v"}', -300, 3000],
    ['m{k="v"}', 7, 4000],
  ]);
  assert.equal(r.samples[0].labels, r.samples[3].labels);
  assert.deepEqual(
    r.samples.slice(4, 14).map((s) => s.value),
    [Infinity, -Infinity, NaN, NaN, Infinity, -Infinity, NaN, 0.1, 0, Infinity],
  );
  assert.equal(r.samples[4].labels, r.samples[0].labels);
  assert.equal(r.samples[14].labels.get('v'), 'a"b\\cé\n');
  assert.equal(r.samples[14].labels.has('e'), false);
  assert.equal(r.samples[14].value, 123456789012345678901234);
  assert.equal(r.samples[14].ts, -5);
  // a "}" inside a label value: still one series, one Labels object
  const braces = feed(p, '{"metric":{"__name__":"b","v":"x}y"},"values":[1],"timestamps":[1]}\n'.repeat(3));
  assert.equal(braces.samples.length, 3);
  assert.equal(braces.samples[0].labels.get('v'), 'x}y');
  assert.equal(braces.samples[2].labels, braces.samples[0].labels);
});

test('jsonline: numbers are read exactly (the fast path agrees with Number())', () => {
  const random = rng(7);
  const texts: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const x = (random() - 0.5) * 10 ** Math.floor(random() * 30 - 15);
    texts.push(random() < 0.3 ? x.toExponential(Math.floor(random() * 16)) : random() < 0.5 ? x.toFixed(Math.floor(random() * 10)) : String(x));
  }
  const line = `{"metric":{"__name__":"n"},"values":[${texts.join(',')}],"timestamps":[${texts.map((_, i) => i).join(',')}]}`;
  const r = feed(new JsonLineParser(), line);
  assert.deepEqual(r.bad, []);
  assert.deepEqual(
    r.samples.map((s) => s.value),
    texts.map(Number),
  );
});

test('jsonline: the export-shaped path and the general loop read the same lines alike', () => {
  const random = rng(99);
  const tokens = ['1', '-2.5', '1e3', '+Inf', '-Inf', 'NaN', 'null', '"NaN"', '0.000001', '123456789012345678', '1.', 'x', '', '1.5e'];
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const n = 1 + Math.floor(random() * 4);
    const vs = Array.from({ length: n }, () => tokens[Math.floor(random() * tokens.length)]);
    const ts = Array.from({ length: n + (random() < 0.1 ? 1 : 0) }, () => (random() < 0.1 ? '1.5' : String(Math.floor(random() * 1e13))));
    lines.push(`{"metric":{"__name__":"m${i % 7}","k":"${i % 3}"},"values":[${vs.join(',')}],"timestamps":[${ts.join(',')}]}`);
  }
  const fast = feed(new JsonLineParser(), lines.join('\n'));
  // a blank after the first brace sends every line to the general loop
  const general = feed(new JsonLineParser(), lines.map((l) => `{ ${l.slice(1)}`).join('\n'));
  assert.deepEqual(fast.flat, general.flat);
  assert.deepEqual(fast.bad, general.bad.map((b) => ({ ...b, reason: b.reason.replace(/column (\d+)/, (_, c: string) => `column ${Number(c) - 1}`) })));
  assert.ok(fast.samples.length > 1000 && fast.bad.length > 100);
});

test('jsonline: the guess by line number from the request before never gives a line the wrong series', () => {
  const p = new JsonLineParser();
  const a = '{"metric":{"__name__":"m","k":"a"},"values":[1],"timestamps":[1]}';
  const b = '{"metric":{"__name__":"m","k":"b"},"values":[2],"timestamps":[2]}';
  const c = '{"metric":{"__name__":"m","k":"c}"},"values":[3],"timestamps":[3]}';
  const first = feed(p, [a, b, c].join('\n'));
  const again = feed(p, [a, b, c].join('\n'));
  const swapped = feed(p, [b, a, c, a].join('\n'));
  assert.deepEqual(
    swapped.flat,
    [
      ['m{k="b"}', 2, 2],
      ['m{k="a"}', 1, 1],
      ['m{k="c}"}', 3, 3],
      ['m{k="a"}', 1, 1],
    ],
  );
  for (let i = 0; i < 3; i++) assert.equal(again.samples[i].labels, first.samples[i].labels);
  assert.equal(swapped.samples[0].labels, first.samples[1].labels);
  assert.equal(swapped.samples[3].labels, first.samples[0].labels);
});

test('jsonline: refused lines name the line and the reason; the good lines around them are kept', () => {
  const p = new JsonLineParser();
  const ok = '{"metric":{"__name__":"ok"},"values":[1],"timestamps":[1]}';
  const cases: [string, RegExp][] = [
    ['{"metric":{"__name__":"a"},"values":[1,2],"timestamps":[1]}', /`timestamps` array size must match `values` array size; got 1; want 2/],
    ['{"values":[1],"timestamps":[1]}', /missing `metric` object/],
    ['{"metric":{},"values":[1],"timestamps":[1]}', /`metric` has no labels/],
    ['{"metric":{"__name__":"a"},"timestamps":[1]}', /missing `values` array/],
    ['{"metric":{"__name__":"a"},"values":[1]}', /missing `timestamps` array/],
    ['{"metric":{"__name__":"a"},"values":[],"timestamps":[]}', /missing `values` array/],
    ['{"metric":{"__name__":"a"},"values":[1],"timestamps":[1.5]}', /timestamp "1.5": expected integer milliseconds/],
    ['{"metric":{"__name__":"a"},"values":[1],"timestamps":["1"]}', /cannot parse timestamp at position 0/],
    ['{"metric":{"__name__":"a"},"values":[true],"timestamps":[1]}', /cannot parse value at position 0: "true"/],
    ['{"metric":{"__name__":"a"},"values":["12"],"timestamps":[1]}', /unsupported string "12"/],
    ['{"metric":{"__name__":"a"},"values":[0x10],"timestamps":[1]}', /cannot parse value at position 0/],
    ['{"metric":{"__name__":"a","n":5},"values":[1],"timestamps":[1]}', /label "n": the value must be a string/],
    ['{"metric":{"__name__":"a"},"values":[1],"timestamps":[1]', /unexpected end of line/],
    ['{"metric":{"__name__":"a"},"values":[1],"timestamps":[1]} x', /unexpected text after the JSON object at column 59/],
    ['not json', /expected a JSON object at column 1/],
    ['{"metric":{"__name__":"a},"values":[1],"timestamps":[1]}', /./],
    ['{"metric":{"__name__":"a"},"values":[1],"timestamps":[99999999999999999999]}', /out of range/],
  ];
  const text = [ok, ...cases.map((c) => c[0]), ok].join('\n');
  const r = feed(p, text);
  assert.equal(r.samples.length, 2);
  assert.equal(r.bad.length, cases.length);
  cases.forEach(([line, re], i) => {
    assert.equal(r.bad[i].line, i + 2, line);
    assert.match(r.bad[i].reason, re, line);
  });
});

test('jsonline: the writer writes the export format, and the parser reads it back', () => {
  const labels = Labels.fromRecord({ __name__: 'rt_metric', A: 'upper', job: 'j', q: 'quote " and \\ and é\n' });
  const values = [1, -2.5, 1e-300, 123456789.123, Infinity, -Infinity, 0];
  const ts = [1, 2, 3, 4, 5, 6, 1_700_000_000_123];
  const line = jsonLine(labels, values, ts);
  assert.ok(line.startsWith('{"metric":{"__name__":"rt_metric","A":"upper","job":"j","q":'), line);
  assert.ok(line.includes('+Inf,-Inf'), line);
  const r = feed(new JsonLineParser(), line + '\n' + jsonLine(labels, [NaN], [9]));
  assert.deepEqual(r.bad, []);
  assert.equal(r.samples[0].labels.toString(), labels.toString());
  assert.deepEqual(r.samples.map((s) => s.value), [...values, NaN]);
  assert.deepEqual(r.samples.map((s) => s.ts), [...ts, 9]);
  assert.throws(() => jsonLine(labels, [1], []));
});

test('jsonline: a line over max_line_bytes is refused as too long, the next one read', () => {
  const ok = '{"metric":{"__name__":"ok"},"values":[1],"timestamps":[1]}';
  const long = `{"metric":{"__name__":"long"},"values":[${'1,'.repeat(200)}1],"timestamps":[1]}`;
  const r = feed(new JsonLineParser(), `${long}\n${ok}\n`, 256, 64);
  assert.equal(r.samples.length, 1);
  assert.equal(r.bad[0].line, 1);
  assert.equal(r.bad[0].fault, 'too_long');
});

// ---- CSV

test('csv: the format argument; errors name the entry', () => {
  const cols = parseCsvFormat('2:metric:ask,3:metric:bid,1:label:ticker,4:time:unix_s');
  assert.equal(cols.length, 4);
  assert.equal(cols[0]?.label, 'ticker');
  assert.equal(cols[1]?.metric, 'ask');
  assert.equal(parseCsvFormat('1:metric:a:b')[0]?.metric, 'a:b');
  assert.equal(parseCsvFormat('3:metric:x').length, 3);
  const bad: [string, RegExp][] = [
    ['', /entry #1 "": expected <column_pos>:<column_type>:<extension>/],
    ['1:label:x', /no 'metric' column/],
    ['1:metric:', /entry #1 "1:metric:": the metric name cannot be empty/],
    ['1:metric:a,2:label:', /entry #2 "2:label:": the label name cannot be empty/],
    ['0:metric:a', /cannot be smaller than 1/],
    ['x:metric:a', /<column_pos> "x" is not a number/],
    ['70000:metric:a', /cannot be bigger than 65536/],
    ['1:foo:a', /unknown <column_type> "foo"/],
    ['1:metric:a,1:label:b', /entry #2 "1:label:b": column 1 is described twice/],
    ['1:metric:a,2:time:unix_s,3:time:unix_ms', /entry #3 .*a second time column/],
    ['1:metric:a,2:time:bogus', /entry #2 .*unknown time format "bogus"/],
    ['1:metric:a,2:time:custom:Mon Jan 2 15:04:05 MST 2006', /entry #2 .*"MST" \(a zone abbreviation/],
    ['1:metric:a,2:time:custom:2006.002', /"002" \(day of the year\) is not supported/],
  ];
  for (const [spec, re] of bad) {
    assert.throws(
      () => parseCsvFormat(spec),
      (err: Error) => err instanceof CsvFormatError && re.test(err.message),
      spec,
    );
  }
});

test('csv: rows, quoted fields, several metric columns, refused lines as vmagent 1.79 refuses them', () => {
  const p = new CsvParser(parseCsvFormat('1:label:ticker,2:metric:ask,3:metric:bid,4:time:unix_s'));
  const r = feed(
    p,
    [
      'GOOG,1.23,4.56,1700000000',
      '"MS""FT",1,2,1700000001',
      '"a,b",7,8,1700000002,extra,"cols"',
      ',11,12,1700000003',
      'NAN1,NaN,+Inf,0',
      'AAPL,,3,1700000000',
      'IBM,9',
      'ORCL,bad,5,1700000000',
      'SAP,5,6,notatime',
      '"unterminated,5,6,1700000000',
      '"x"y,5,6,1700000000',
      ' SP , 13 ,14,1700000000',
      'GOOG,2,3,1700000010',
    ].join('\r\n'),
  );
  assert.deepEqual(r.flat.slice(0, 8), [
    ['ask{ticker="GOOG"}', 1.23, 1700000000000],
    ['bid{ticker="GOOG"}', 4.56, 1700000000000],
    ['ask{ticker="MS\\"FT"}', 1, 1700000001000],
    ['bid{ticker="MS\\"FT"}', 2, 1700000001000],
    ['ask{ticker="a,b"}', 7, 1700000002000],
    ['bid{ticker="a,b"}', 8, 1700000002000],
    ['ask{}', 11, 1700000003000],
    ['bid{}', 12, 1700000003000],
  ]);
  assert.ok(Number.isNaN(r.samples[8].value));
  assert.equal(r.samples[8].ts, NOW, 'a 0 timestamp means now');
  assert.equal(r.samples[9].value, Infinity);
  assert.equal(r.samples.length, 12);
  assert.equal(r.samples[10].labels, r.samples[0].labels, 'a series seen before is the same Labels object');
  assert.deepEqual(
    r.bad.map((b) => b.line),
    [6, 7, 8, 9, 10, 11, 12],
  );
  assert.match(r.bad[0].reason, /cannot parse the value of "ask" \(column 2\) from ""/);
  assert.match(r.bad[1].reason, /missing columns: got 2, the format names 4/);
  assert.match(r.bad[3].reason, /cannot parse timestamp "notatime"/);
  assert.match(r.bad[4].reason, /missing closing quote/);
  assert.match(r.bad[5].reason, /missing comma after the quoted field/);
});

test('csv: the series cache — label columns apart or together, quoted or not — never mixes rows up', () => {
  const apart = new CsvParser(parseCsvFormat('1:label:a,2:metric:m,3:label:b'));
  const r = feed(apart, ['x\u0001,1,y', 'x,2,\u0001y', 'x,3,y', 'x\u0001,4,y'].join('\n'));
  assert.deepEqual(
    r.samples.map((s) => [s.labels.get('a'), s.labels.get('b'), s.value]),
    [
      ['x\u0001', 'y', 1],
      ['x', '\u0001y', 2],
      ['x', 'y', 3],
      ['x\u0001', 'y', 4],
    ],
  );
  assert.equal(r.samples[3].labels, r.samples[0].labels);
  const together = new CsvParser(parseCsvFormat('1:label:a,2:label:b,3:metric:m,4:metric:n'));
  const t = feed(together, ['"x,y",z,1,2', 'x,"y,z",3,4', '"x,y",z,5,6', '"q""",,7,8'].join('\n'));
  assert.deepEqual(
    t.samples.map((s) => [s.labels.toString(), s.value]),
    [
      ['m{a="x,y", b="z"}', 1],
      ['n{a="x,y", b="z"}', 2],
      ['m{a="x", b="y,z"}', 3],
      ['n{a="x", b="y,z"}', 4],
      ['m{a="x,y", b="z"}', 5],
      ['n{a="x,y", b="z"}', 6],
      ['m{a="q\\""}', 7],
      ['n{a="q\\""}', 8],
    ],
  );
  assert.equal(t.samples[4].labels, t.samples[0].labels);
});

test('csv: numbers read from the bytes agree with the text path; the guess by line never gives a row the wrong series', () => {
  const texts = ['0', '-0', '5', '-12.25', '0.1', '00012', '1.', '.5', '+5', '1e3', '123456789012345', '1234567890123456', '12345678901234.5', '1234567890123.45', '9007199254740993', 'NaN', '-Inf', '1.2.3', '-', '0x1', '1_0'];
  const p = new CsvParser(parseCsvFormat('1:label:t,2:metric:m,3:time:unix_ms'));
  const r = feed(p, texts.map((t, i) => `x${i},${t},${1700000000000 + i}`).join('\n'));
  const want = texts.map((t) => (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t) ? Number(t) : /^[+-]?(?:inf|nan)$/i.test(t) ? (t.toLowerCase().endsWith('nan') ? NaN : t.startsWith('-') ? -Infinity : Infinity) : undefined));
  assert.deepEqual(
    r.samples.map((s) => s.value),
    want.filter((v) => v !== undefined),
  );
  assert.equal(r.bad.length, want.filter((v) => v === undefined).length);
  const ns = feed(new CsvParser(parseCsvFormat('1:metric:m,2:time:unix_ns,3:label:a')), '1,1700000000123456789,x\n2,123456789012345,y\n3,-1500000,z\n');
  assert.deepEqual(
    ns.samples.map((s) => s.ts),
    [1700000000123, 123456789, -1],
  );
  const q = new CsvParser(parseCsvFormat('1:label:a,2:label:b,3:metric:m'));
  const first = feed(q, 'a,b,1\nc,d,2\n"e",f,3\n');
  const swapped = feed(q, 'c,d,4\na,b,5\n"e",f,6\ne,f,7\n');
  assert.deepEqual(
    swapped.flat.map(([l, v]) => [l, v]),
    [
      ['m{a="c", b="d"}', 4],
      ['m{a="a", b="b"}', 5],
      ['m{a="e", b="f"}', 6],
      ['m{a="e", b="f"}', 7],
    ],
  );
  assert.equal(swapped.samples[0].labels, first.samples[1].labels);
  assert.equal(swapped.samples[1].labels, first.samples[0].labels);
  assert.equal(swapped.samples[2].labels, first.samples[2].labels);
});

test('csv: time formats — unix_ms, unix_ns, rfc3339, custom Go layouts; no time column means now', () => {
  const one = (fmt: string, text: string) => feed(new CsvParser(parseCsvFormat(`1:metric:m,2:time:${fmt}`)), `1,${text}`);
  assert.equal(one('unix_ms', '1700000000123').samples[0].ts, 1700000000123);
  assert.equal(one('unix_ns', '1700000000123456789').samples[0].ts, 1700000000123);
  assert.equal(one('rfc3339', '2023-11-14T22:13:20Z').samples[0].ts, 1700000000000);
  assert.equal(one('rfc3339', '2023-11-14T23:13:20.5+01:00').samples[0].ts, 1700000000500);
  assert.equal(one('custom:2006-01-02 15:04:05', '2023-11-14 22:13:20').samples[0].ts, 1700000000000);
  assert.equal(one('custom:02/Jan/2006:15:04:05 -0700', '14/Nov/2023:14:13:20 -0800').samples[0].ts, 1700000000000);
  assert.equal(one('custom:Jan _2 2006 3:04:05.000PM', 'Nov 14 2023 10:13:20.250PM').samples[0].ts, 1700000000250);
  assert.match(one('rfc3339', '2023-11-14').bad[0].reason, /cannot parse "2023-11-14" as "2006-01-02T15:04:05Z07:00"/);
  assert.match(one('custom:2006-01-02', '2023-02-30').bad[0].reason, /day out of range/);
  assert.equal(feed(new CsvParser(parseCsvFormat('1:metric:m')), '5').samples[0].ts, NOW);
});

test('go layouts: as time.Parse reads them', () => {
  const ms = (layout: string, v: string) => new GoLayout(layout).parse(v);
  assert.equal(ms('2006-01-02T15:04:05Z07:00', '1970-01-01T00:00:00Z'), 0);
  assert.equal(ms('2006-01-02T15:04:05.999999999Z07:00', '2023-11-14T22:13:20.123456789Z'), 1700000000123);
  assert.equal(ms('2006-01-02T15:04:05.999Z07:00', '2023-11-14T22:13:20Z'), 1700000000000);
  assert.equal(ms('Monday, 02-Jan-06 15:04:05 Z0700', 'Tuesday, 14-Nov-23 22:13:20 Z'), 1700000000000);
  assert.equal(ms('January 2, 2006 3:04 pm', 'November 14, 2023 10:13 pm'), 1699999980000);
  assert.equal(ms('20060102150405', '20231114221320'), 1700000000000);
  assert.throws(() => ms('2006-01-02', '2023-11-14x'), /extra text "x"/);
  assert.throws(() => ms('15:04', '24:00'), /hour out of range/);
  assert.throws(() => new GoLayout('MST'), GoLayoutError);
});

// ---- Prometheus text

test('prometheus import: every sample line, its timestamp or the default; bad lines with their numbers', () => {
  const series = new PrometheusImportCache();
  const text = [
    '# HELP h_seconds a histogram',
    '# TYPE h_seconds histogram',
    'h_seconds_bucket{le="0.5"} 1',
    'h_seconds_bucket{le="+Inf"} 3',
    'h_seconds_sum 1.5',
    'h_seconds_count 3 1700000000999',
    '',
    'bad line here',
    'esc{v="a\\"b\\\\c\\nd",e=""} 4',
    'h_seconds_count 4',
  ].join('\n');
  const r = feed(new PrometheusImportLines(series, 1_600_000_000_000), text);
  assert.deepEqual(r.flat.slice(0, 5), [
    ['h_seconds_bucket{le="0.5"}', 1, 1_600_000_000_000],
    ['h_seconds_bucket{le="+Inf"}', 3, 1_600_000_000_000],
    ['h_seconds_sum{}', 1.5, 1_600_000_000_000],
    ['h_seconds_count{}', 3, 1700000000999],
    ['esc{v="a\\"b\\\\c\\nd"}', 4, 1_600_000_000_000],
  ]);
  assert.equal(r.samples[5].labels, r.samples[3].labels);
  assert.equal(r.bad.length, 1);
  assert.equal(r.bad[0].line, 8);
  // no default: now; the cache is shared with the request before
  const r2 = feed(new PrometheusImportLines(series, 0), 'h_seconds_sum 2\n');
  assert.equal(r2.samples[0].ts, NOW);
  assert.equal(r2.samples[0].labels, r.samples[2].labels);
});

test('prometheus import: a known series is read without the parser, and anything unusual about its line still is', () => {
  const series = new PrometheusImportCache();
  const first = feed(new PrometheusImportLines(series, 5), 'k{a="é",b="x} y"} 1\nplain 2\n');
  assert.deepEqual(first.bad, []);
  const r = feed(
    new PrometheusImportLines(series, 5),
    ['k{a="é",b="x} y"} 3 77', 'plain 4', 'plain\t5', 'plain  6', 'plain x', 'plain 7 1 2', 'new{z="1"} 8', 'plain 9', '# TYPE plain gauge', '# HELP anything at all'].join('\n'),
  );
  assert.deepEqual(
    r.flat,
    [
      ['k{a="é", b="x} y"}', 3, 77],
      ['plain{}', 4, 5],
      ['plain{}', 5, 5],
      ['plain{}', 6, 5],
      ['new{z="1"}', 8, 5],
      ['plain{}', 9, 5],
    ],
  );
  assert.equal(r.samples[0].labels, first.samples[0].labels);
  assert.equal(r.samples[1].labels, first.samples[1].labels);
  assert.equal(r.samples[5].labels, first.samples[1].labels);
  assert.deepEqual(
    r.bad.map((b) => b.line),
    [5, 6],
  );
});

test('prometheus import: the guess by line number from the request before never gives a line the wrong series', () => {
  const cache = new PrometheusImportCache();
  const first = feed(new PrometheusImportLines(cache, 5), 'm{k="a"} 1\nm{k="b"} 2\nm 3\n');
  const swapped = feed(new PrometheusImportLines(cache, 5), 'm{k="b"} 2\nm 3\nm{k="a"} 1\nm{k="a"} 4\n');
  assert.deepEqual(
    swapped.flat,
    [
      ['m{k="b"}', 2, 5],
      ['m{}', 3, 5],
      ['m{k="a"}', 1, 5],
      ['m{k="a"}', 4, 5],
    ],
  );
  assert.equal(swapped.samples[0].labels, first.samples[1].labels);
  assert.equal(swapped.samples[2].labels, first.samples[0].labels);
  assert.equal(swapped.samples[1].labels, first.samples[2].labels);
});

test('prometheus import: line numbers stay right across pieces of a large body', () => {
  const lines: string[] = [];
  for (let i = 0; i < 20000; i++) lines.push(i % 5000 === 4999 ? `broken{ ${i}` : `m{i="${i % 10}"} ${i}`);
  const r = feed(new PrometheusImportLines(new PrometheusImportCache(), 0), lines.join('\n'), 1 << 20, 1000);
  assert.equal(r.samples.length, 19996);
  assert.deepEqual(
    r.bad.map((b) => b.line),
    [5000, 10000, 15000, 20000],
  );
});

test('the line parsers stay linear when the byte they look for is in no later line (one-column CSV, no-label text, no "}" at all)', () => {
  const bodies: [() => LineFormat, string][] = [
    [() => new CsvParser(parseCsvFormat('1:metric:m')), '5\n'],
    [() => new CsvParser(parseCsvFormat('1:metric:m')), '"5\n'],
    [() => new PrometheusImportLines(new PrometheusImportCache(), 1), 'plain 5\n'],
    [() => new JsonLineParser(), '{"a\n'],
  ];
  const cpuMs = (format: LineFormat, line: string, n: number) => {
    const body = Buffer.from(line.repeat(n));
    let rows = 0;
    const count: RowSink = { now: 1, sample: () => void rows++, invalid: () => void rows++ };
    const started = process.cpuUsage();
    // the body as one chunk (a large decoded block): a search running to the chunk's end per line is quadratic
    const sp = new LineSplitter(format, 1 << 20);
    sp.push(body, count);
    sp.end(count);
    if (format instanceof PrometheusImportLines) format.flush(count);
    const used = process.cpuUsage(started);
    assert.equal(rows, n, line);
    return (used.user + used.system) / 1000;
  };
  for (const [make, line] of bodies) {
    const format = make();
    cpuMs(format, line, 20_000);
    const one = cpuMs(format, line, 200_000);
    const four = cpuMs(format, line, 800_000);
    // four times the lines: about four times the work (sixteen when quadratic)
    assert.ok(four < 9 * Math.max(one, 40), `${JSON.stringify(line)}: ${one.toFixed(0)} ms, then ${four.toFixed(0)} ms for four times the lines`);
  }
});

// ---- fuzz: mutated valid input never throws and never hangs

function mutate(random: () => number, seed: string): Buffer {
  const b = Buffer.from(seed);
  const out: number[] = [...b];
  const n = 1 + Math.floor(random() * 6);
  const alphabet = '{}[]",:\\ 0123456789.eE+-naNIf\n\r\tux"';
  for (let k = 0; k < n; k++) {
    const at = Math.floor(random() * (out.length + 1));
    const op = random();
    if (op < 0.3) out.splice(at, 1);
    else if (op < 0.6) out.splice(at, 0, alphabet.charCodeAt(Math.floor(random() * alphabet.length)));
    else if (op < 0.8) out[at] = Math.floor(random() * 256);
    else out.splice(at, 0, ...out.slice(Math.floor(random() * out.length), Math.floor(random() * out.length)));
  }
  return Buffer.from(out.map((x) => x & 0xff));
}

test('fuzz: the three parsers never throw on mutated input, and finish', () => {
  const seeds: [() => LineFormat, string][] = [
    [
      () => new JsonLineParser(),
      '{"metric":{"__name__":"m","k":"v\\"x"},"values":[1,2.5e3,+Inf,null,"NaN"],"timestamps":[1,2,3,4,5]}\n{"metric":{"a":"b"},"values":[-1],"timestamps":[9],"x":[{"y":1}]}\n',
    ],
    [() => new CsvParser(parseCsvFormat('1:label:t,2:metric:a,3:metric:b,4:time:rfc3339')), 'x,1,2,2023-11-14T22:13:20Z\n"q""x",3,4,2023-11-14T22:13:20.5+01:00\n'],
    [() => new CsvParser(parseCsvFormat('1:metric:a,2:time:custom:Jan _2 2006 3:04:05.000PM -0700')), '5,Nov 14 2023 10:13:20.250PM +0100\n'],
    [() => new PrometheusImportLines(new PrometheusImportCache(), 0), '# TYPE m counter\nm{a="b",c="d\\n"} 1 1700000000000\nx 2\n'],
  ];
  const random = rng(18);
  const until = Date.now() + 4000;
  let runs = 0;
  while (Date.now() < until) {
    for (const [make, seed] of seeds) {
      const input = mutate(random, seed.repeat(1 + Math.floor(random() * 3)));
      const started = Date.now();
      const r = feed(make(), input, 4096, 1 + Math.floor(random() * 64));
      for (const s of r.samples) assert.ok(s.labels instanceof Labels && typeof s.value === 'number' && Number.isFinite(s.ts), input.toString('latin1'));
      assert.ok(Date.now() - started < 1000, `slow on ${JSON.stringify(input.toString('latin1'))}`);
      runs++;
    }
  }
  assert.ok(runs > 100);
});

// ---- over HTTP into the pipeline

async function start(t: import('node:test').TestContext, extra = '') {
  const { rt, sink } = await startIngest(t, `ingest:\n  import: {http: true${extra}}\n`);
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`http://${rt.address}${path}`, { method: 'POST', body, headers }).then(async (r) => ({ status: r.status, text: await r.text() }));
  return { rt, sink, post };
}

test('http: /api/v1/import — 204; a bad line → 400 quoting its number, the good lines kept; gzip; extra_label; tenant path', async (t) => {
  const { rt, sink, post } = await start(t);
  const good = '{"metric":{"__name__":"up","job":"a"},"values":[1,0],"timestamps":[1700000000000,1700000010000]}\n';
  assert.deepEqual(await post('/api/v1/import', good), { status: 204, text: '' });
  assert.equal(sink.samples.length, 2);
  assert.equal(sink.samples[0].job, 'jsonline');

  const r = await post('/api/v1/import', good + '{"metric":{"__name__":"x"},"values":[1,2],"timestamps":[1]}\n' + good);
  assert.equal(r.status, 400);
  assert.match(r.text, /1 row refused, 4 accepted:\nline 2: `timestamps` array size must match `values` array size; got 1; want 2/);
  assert.equal(sink.samples.length, 6);

  assert.equal((await post('/api/v1/import?extra_label=env=prod', gzipSync(good), { 'content-encoding': 'gzip' })).status, 204);
  assert.equal(sink.samples[6].labels.toString(), 'up{env="prod", job="a"}');

  assert.equal((await post('/insert/0/prometheus/api/v1/import', good)).status, 204);
  assert.equal(sink.samples[8].labels.toString(), 'up{job="a", vm_account_id="0", vm_project_id="0"}');
  assert.equal((await post('/insert/3:4/api/v1/import', good)).status, 204);
  assert.equal(sink.samples[10].labels.get('vm_project_id'), '4');

  assert.equal((await post('/api/v1/import', good, { 'content-encoding': 'snappy' })).status, 415);
  const put = await fetch(`http://${rt.address}/api/v1/import`, { method: 'PUT', body: good });
  assert.equal(put.status, 204);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_total', { protocol: 'jsonline' }), 14);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'jsonline', reason: 'syntax' }), 1);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'jsonline', code: '400' }), 1);
});

test('http: /api/v1/import/csv — format errors are 400 naming the entry; rows arrive', async (t) => {
  const { sink, post } = await start(t);
  const bad = await post('/api/v1/import/csv?format=1:label:t,2:metric:', 'x,1\n');
  assert.equal(bad.status, 400);
  assert.match(bad.text, /cannot parse the `format` query arg: format entry #2 "2:metric:": the metric name cannot be empty/);
  const noFormat = await post('/api/v1/import/csv', 'x,1\n');
  assert.equal(noFormat.status, 400);
  const ok = await post('/api/v1/import/csv?format=2:metric:ask,3:metric:bid,1:label:ticker,4:time:unix_ms&extra_label=src=csv', 'GOOG,1.5,2.5,1700000000000\nMSFT,3,,1700000000000\n');
  assert.equal(ok.status, 400);
  assert.match(ok.text, /line 2: cannot parse the value of "bid" \(column 3\) from ""/);
  assert.deepEqual(
    sink.samples.map((s) => [s.labels.toString(), s.value, s.timestampMs, s.job]),
    [
      ['ask{src="csv", ticker="GOOG"}', 1.5, 1700000000000, 'csv'],
      ['bid{src="csv", ticker="GOOG"}', 2.5, 1700000000000, 'csv'],
    ],
  );
});

test('http: /api/v1/import/prometheus — the timestamp arg (ms) for lines without one; a bad arg is 400', async (t) => {
  const { sink, post } = await start(t);
  assert.equal((await post('/api/v1/import/prometheus?timestamp=1700000000000', 'a 1\nb{x="y"} 2 1600000000000\n')).status, 204);
  assert.deepEqual(
    sink.samples.map((s) => [s.labels.toString(), s.value, s.timestampMs, s.job]),
    [
      ['a{}', 1, 1700000000000, 'prometheus_import'],
      ['b{x="y"}', 2, 1600000000000, 'prometheus_import'],
    ],
  );
  const bad = await post('/api/v1/import/prometheus?timestamp=1.5', 'a 1\n');
  assert.equal(bad.status, 400);
  assert.match(bad.text, /cannot parse `timestamp=1.5` query arg/);
  const lines = await post('/insert/1/prometheus/api/v1/import/prometheus', 'a 1\nnot a line\n', {});
  assert.equal(lines.status, 400);
  assert.match(lines.text, /line 2: /);
  assert.equal(sink.samples[2].labels.toString(), 'a{vm_account_id="1", vm_project_id="0"}');
});

test('http: the import paths are off unless ingest.import.http is set', async (t) => {
  const dir = tempDataDir();
  const file = join(dir, 'tributary.yml');
  writeFileSync(file, `server: {listen: 127.0.0.1:0, data_dir: ${dir}}\n`);
  const rt = await startRuntime({ configFile: file, logger: silentLogger });
  t.after(() => rt.close(0));
  const r = await fetch(`http://${rt.address}/api/v1/import`, { method: 'POST', body: 'x' });
  assert.equal(r.status, 404);
});

test('http: a body over max_body_bytes is 413', async (t) => {
  const { post } = await start(t, ', max_body_bytes: 2KiB');
  const line = '{"metric":{"__name__":"up"},"values":[1],"timestamps":[1]}\n';
  const r = await post('/api/v1/import', line.repeat(100));
  assert.equal(r.status, 413);
});

test('fuzz over HTTP: mutated bodies on the three paths are answered 204 or 400, never 500, and the server goes on', async (t) => {
  const { rt, post } = await start(t);
  const random = rng(1806);
  const bodies: [string, string][] = [
    ['/api/v1/import', '{"metric":{"__name__":"f","k":"v"},"values":[1,+Inf,2.5],"timestamps":[1700000000000,1700000000001,1700000000002]}\n'],
    ['/api/v1/import/csv?format=1:label:t,2:metric:a,3:time:rfc3339', 'x,1,2023-11-14T22:13:20Z\n"y""z",2.5,2023-11-14T22:13:20.5+01:00\n'],
    ['/api/v1/import/prometheus?timestamp=1700000000000', '# TYPE f counter\nf{a="b"} 1\nf{a="c\\n"} 2 1700000000000\n'],
  ];
  for (let i = 0; i < 60; i++) {
    const [path, seed] = bodies[i % bodies.length];
    const r = await post(path, mutate(random, seed.repeat(1 + (i % 4))));
    assert.ok(r.status === 204 || r.status === 400, `${path}: ${r.status} ${r.text}`);
  }
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'jsonline', code: '500' }), 0);
  assert.equal((await post('/api/v1/import', bodies[0][1])).status, 204);
});
