/**
 * Writer and parser against each other: seeded random families of all eight types survive
 * parse(write(families)) exactly in both formats (NaN, ±Inf and -0 included, compared with
 * Object.is), writing a parsed page again gives the identical page, the real node_exporter page
 * round-trips, and a text page converted to OpenMetrics keeps every series.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../helpers/seeded-random.js';
import { readNodeExporterPage as readFixture } from '../helpers/fixtures.js';
import { parseFamilies } from '../../src/formats/prometheus/families.js';
import { formatSeconds, formatValue, PageWriter, writeExposition } from '../../src/formats/prometheus/writer.js';
import { parseNumber } from '../../src/formats/prometheus/lex.js';
import type { TextFormat } from '../../src/formats/media-types.js';
import { Labels } from '../../src/model/labels.js';
import type { Exemplar, MetricFamily, MetricPoint, MetricType } from '../../src/model/family.js';
import { escapeToLegacyName } from '../../src/model/names.js';

const TEXT: TextFormat = 'prometheus';
const OM: TextFormat = 'openmetrics';


// ---------------------------------------------------------------- comparison

interface PlainExemplar {
  labels: string[];
  value: number;
  timestamp?: number;
}
interface PlainPoint {
  labels: string[];
  value: number;
  timestamp?: number;
  exemplar?: PlainExemplar;
}
interface PlainFamily {
  name: string;
  type: MetricType;
  help?: string;
  unit?: string;
  metrics: PlainPoint[];
}

/** Families as plain data (label sets as their flat sorted pairs), for deepStrictEqual. */
function plain(families: readonly MetricFamily[]): PlainFamily[] {
  return families.map((f) => {
    const out: PlainFamily = { name: f.name, type: f.type, metrics: [] };
    if (f.help !== undefined) out.help = f.help;
    if (f.unit !== undefined) out.unit = f.unit;
    for (const m of f.metrics) {
      const p: PlainPoint = { labels: [...m.labels.kv], value: m.value };
      if (m.timestamp !== undefined) p.timestamp = m.timestamp;
      if (m.exemplar !== undefined) {
        p.exemplar = { labels: [...m.exemplar.labels.kv], value: m.exemplar.value };
        if (m.exemplar.timestamp !== undefined) p.exemplar.timestamp = m.exemplar.timestamp;
      }
      out.metrics.push(p);
    }
    return out;
  });
}

/**
 * Deep equality where numbers compare with Object.is (NaN equals NaN, -0 differs from 0), with a
 * path to the first difference: clearer than a diff of a whole page.
 */
function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (typeof a === 'number' && typeof b === 'number') {
    return Object.is(a, b) ? undefined : `${path}: ${formatNum(a)} !== ${formatNum(b)}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: length ${a.length} !== ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) return `${path}: keys ${JSON.stringify(ka)} !== ${JSON.stringify(kb)}`;
    for (const k of ka) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return a === b ? undefined : `${path}: ${JSON.stringify(a)} !== ${JSON.stringify(b)}`;
}

function formatNum(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n);
}

function assertSameFamilies(got: readonly MetricFamily[], expected: readonly MetricFamily[], context: string): void {
  const g = plain(got);
  const e = plain(expected);
  const d = firstDifference(g, e, 'families');
  if (d !== undefined) assert.fail(`${context}\nfirst difference at ${d}`);
  assert.deepStrictEqual(g, e, context); // the same, by node's own rules (Object.is for numbers)
}

// ---------------------------------------------------------------- seeded generator


class Gen {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = rng(seed);
  }

  float(): number {
    return this.next();
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  subset<T>(xs: readonly T[], min = 0): T[] {
    const out = xs.filter(() => this.chance(0.5));
    while (out.length < min) {
      const x = this.pick(xs);
      if (!out.includes(x)) out.push(x);
    }
    return xs.filter((x) => out.includes(x)); // keep the original order
  }

  string(alphabet: readonly string[], min: number, max: number): string {
    let s = '';
    const n = min + this.int(max - min + 1);
    for (let i = 0; i < n; i++) s += this.pick(alphabet);
    return s;
  }
}

const SPECIAL_VALUES = [
  NaN,
  Infinity,
  -Infinity,
  -0,
  0,
  1,
  -1,
  0.1,
  0.1 + 0.2,
  1e-7,
  5e-324,
  -5e-324,
  2.2250738585072014e-308,
  1.7976931348623157e308,
  -1.7976931348623157e308,
  2 ** 31,
  2 ** 31 + 1,
  2 ** 32 + 5,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e21,
  1e22,
  123456789.123,
  1520879607.789,
];

function value(g: Gen): number {
  switch (g.int(4)) {
    case 0:
      return g.pick(SPECIAL_VALUES);
    case 1:
      return g.int(2 ** 40) - 2 ** 39; // integers beyond 2^31
    case 2:
      return (g.float() - 0.5) * 10 ** (g.int(60) - 30); // tiny to huge, full precision
    default:
      return g.int(1000);
  }
}

/** Milliseconds: negative, zero, before and after 2001, never -0. */
function timestampMs(g: Gen): number {
  switch (g.int(4)) {
    case 0:
      return 0;
    case 1:
      return -(1 + g.int(2 ** 40));
    case 2:
      return 1520879607789 + g.int(1000);
    default:
      return g.int(2 ** 45);
  }
}

const VALUE_CHARS = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\t', 'é', '€', '😀', '{', '}', ',', '=', '#', '\u2028', '\r', 'n', '\\n'];
const HELP_CHARS = ['a', 'b', ' ', '\\', '\n', '"', 'é', '😀', '\t', '#', '{', '}', '\\n', 'n'];
const LEGACY_LABELS = ['a', 'path', 'code', 'method', '_x', 'x1', 'Zeta', 'instance'];
const UTF8_LABELS = ['lab.el', 'ключ', 'with space', 'quote"d', 'back\\slash', 'new\nline', 'é'];
const WORDS = ['requests', 'latency', 'size', 'temp', 'queue', 'errors', 'build', 'state'];
const UNITS = ['seconds', 'bytes', 'ratio', 'celsius'];
const BUCKETS = ['0.005', '0.1', '1', '2.5', '10', '1e+06'];
const QUANTILES = ['0', '0.5', '0.9', '0.99', '1'];
const STATES = ['a', 'bb', 'ccc', 'd.e'];

interface GenOptions {
  format: TextFormat;
  /** Names outside the legacy character set (written quoted). */
  utf8: boolean;
  /** Types to draw from. */
  types: readonly MetricType[];
}

function labelValue(g: Gen): string {
  return g.string(VALUE_CHARS, 1, 8);
}

function helpText(g: Gen, format: TextFormat): string {
  // OpenMetrics treats an empty HELP as absent, so it is not a value to round-trip there
  let h = g.string(HELP_CHARS, format === TEXT ? 0 : 1, 16);
  // the text format separates tokens by blanks: a help text cannot start with one
  if (format === TEXT) h = h.replace(/^[ \t]+/, '');
  return h;
}

/** Distinct label sets (without __name__) for the series of one family. */
function labelSets(g: Gen, opts: GenOptions, reserved: readonly string[]): Record<string, string>[] {
  const pool = opts.utf8 ? [...LEGACY_LABELS, ...UTF8_LABELS] : LEGACY_LABELS;
  const names = pool.filter((n) => !reserved.includes(n));
  const n = 1 + g.int(3);
  const sets: Record<string, string>[] = [];
  const keys = new Set<string>();
  for (let i = 0; sets.length < n; i++) {
    const rec: Record<string, string> = {};
    for (const name of g.subset(names).slice(0, 3)) rec[name] = labelValue(g);
    if (i > 5) rec.series = String(i); // enough tries: force a distinct set
    const key = Labels.fromRecord(rec).key;
    if (keys.has(key)) continue;
    keys.add(key);
    sets.push(rec);
  }
  return sets;
}

function exemplar(g: Gen, opts: GenOptions): Exemplar {
  const rec: Record<string, string> = {};
  if (g.chance(0.7)) rec.trace_id = g.string(['0', '1', 'a', 'f', '9'], 8, 16);
  if (g.chance(0.3)) rec[opts.utf8 ? 'span.id' : 'span_id'] = g.string(VALUE_CHARS, 1, 6);
  const ex: Exemplar = { labels: Labels.fromRecord(rec), value: value(g) };
  if (g.chance(0.5)) ex.timestamp = timestampMs(g);
  return ex;
}

function familyName(g: Gen, i: number, opts: GenOptions): string {
  const word = g.pick(WORDS);
  if (opts.utf8 && g.chance(0.4)) return `f${i}.${word}.${g.pick(['é', 'x', 'ü€', 'with space'])}`;
  return `f${i}_${word}`;
}

/** Random families that each format can carry exactly (sample names, labels and suffixes as its rules say). */
function generate(seed: number, opts: GenOptions): MetricFamily[] {
  const g = new Gen(seed);
  const om = opts.format === OM;
  const families: MetricFamily[] = [];
  const count = 1 + g.int(8);
  for (let i = 0; i < count; i++) {
    const type = g.pick(opts.types);
    let name = familyName(g, i, opts);
    let unit: string | undefined;
    if (om && type !== 'info' && type !== 'stateset' && g.chance(0.4)) {
      unit = g.pick(UNITS);
      name += '_' + unit;
    }
    if (!om && type === 'counter') name += '_total';
    const withTs = g.chance(0.3);
    const exemplars = om && g.chance(0.6);
    const metrics: MetricPoint[] = [];
    const point = (sampleName: string, rec: Record<string, string>, v: number, ex = false): void => {
      const m: MetricPoint = { labels: Labels.fromRecord({ ...rec, __name__: sampleName }), value: v };
      if (withTs) m.timestamp = timestampMs(g);
      if (ex && exemplars && g.chance(0.7)) m.exemplar = exemplar(g, opts);
      metrics.push(m);
    };
    const reserved = ['le', 'quantile', name];
    for (const rec of labelSets(g, opts, reserved)) {
      switch (type) {
        case 'counter':
          point(om ? name + '_total' : name, rec, value(g), true);
          if (om && g.chance(0.5)) point(name + '_created', rec, 1520430000 + g.int(1e6) / 1000);
          break;
        case 'gauge':
        case 'unknown':
          point(name, rec, value(g));
          break;
        case 'histogram':
        case 'gaugehistogram': {
          for (const le of [...g.subset(BUCKETS), '+Inf']) point(name + '_bucket', { ...rec, le }, value(g), true);
          const gauge = type === 'gaugehistogram';
          if (g.chance(0.8)) {
            point(name + (gauge ? '_gcount' : '_count'), rec, value(g));
            point(name + (gauge ? '_gsum' : '_sum'), rec, value(g));
          }
          if (om && !gauge && g.chance(0.4)) point(name + '_created', rec, 1520430000.123);
          break;
        }
        case 'summary':
          for (const quantile of g.subset(QUANTILES)) point(name, { ...rec, quantile }, value(g));
          point(name + '_count', rec, value(g));
          point(name + '_sum', rec, value(g));
          if (om && g.chance(0.4)) point(name + '_created', rec, 1520430000.5);
          break;
        case 'info':
          point(name + '_info', { ...rec, version: labelValue(g) }, 1);
          break;
        case 'stateset':
          for (const state of g.subset(STATES, 1)) point(name, { ...rec, [name]: state }, g.chance(0.5) ? 1 : 0);
          break;
      }
    }
    const f: MetricFamily = { name, type, metrics };
    if (g.chance(0.7)) f.help = helpText(g, opts.format);
    if (unit !== undefined) f.unit = unit;
    families.push(f);
  }
  return families;
}

const ALL_TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown'];
const TEXT_TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'unknown'];
/** EXPOSITION_SEEDS=5000 for a longer run. */
const SEEDS = Array.from({ length: Number(process.env.EXPOSITION_SEEDS ?? 150) }, (_, i) => 1000 + i * 7919);

/** parse(write(families)) = families, and write(parse(page)) = page. */
function roundTrip(families: MetricFamily[], format: TextFormat, context: string): string {
  const page = writeExposition(families, { format, utf8Names: true });
  let parsed: MetricFamily[];
  try {
    parsed = parseFamilies(page, { format }).families;
  } catch (err) {
    assert.fail(`${context}: the written page does not parse: ${String(err)}\n${page}`);
  }
  assertSameFamilies(parsed, families, `${context}: parse(write(families)) differs\n${page}`);
  const again = writeExposition(parsed, { format, utf8Names: true });
  assert.equal(again, page, `${context}: writing the parsed page again changed it`);
  return page;
}

// ---------------------------------------------------------------- round trips

test('round trip, OpenMetrics: random families of all eight types', () => {
  let samples = 0;
  const seen = new Set<MetricType>();
  for (const seed of SEEDS) {
    const families = generate(seed, { format: OM, utf8: false, types: ALL_TYPES });
    roundTrip(families, OM, `seed ${seed}`);
    for (const f of families) {
      seen.add(f.type);
      samples += f.metrics.length;
    }
  }
  assert.equal(seen.size, 8, 'the generator covers every type');
  assert.ok(samples > 1000, `only ${samples} samples generated`);
});

test('the generator covers what it claims: exemplars, units, timestamps, specials, escapes, UTF-8 names', () => {
  const all = SEEDS.flatMap((seed) => generate(seed, { format: OM, utf8: true, types: ALL_TYPES }));
  const points = all.flatMap((f) => f.metrics);
  const count = (pred: (m: MetricPoint) => boolean) => points.filter(pred).length;
  assert.ok(count((m) => m.exemplar !== undefined) > 50, 'exemplars');
  assert.ok(count((m) => m.exemplar?.timestamp !== undefined) > 20, 'exemplar timestamps');
  assert.ok(count((m) => m.exemplar !== undefined && m.exemplar.labels.size === 0) > 5, 'empty exemplar label sets');
  assert.ok(count((m) => m.timestamp !== undefined && m.timestamp < 0) > 20, 'negative timestamps');
  assert.ok(count((m) => Number.isNaN(m.value)) > 5, 'NaN');
  assert.ok(count((m) => Object.is(m.value, -0)) > 5, '-0');
  assert.ok(count((m) => m.value === Infinity) > 5 && count((m) => m.value === -Infinity) > 5, '±Inf');
  assert.ok(count((m) => Number.isInteger(m.value) && Math.abs(m.value) > 2 ** 31) > 50, 'integers beyond 2^31');
  assert.ok(count((m) => m.labels.kv.some((v) => /["\\\n\r]/.test(v))) > 100, 'label values needing escapes');
  assert.ok(count((m) => !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(m.labels.metricName)) > 50, 'quoted metric names');
  assert.ok(all.filter((f) => f.unit !== undefined).length > 20, 'units');
  assert.ok(all.filter((f) => f.help !== undefined && /[\\\n"]/.test(f.help)).length > 20, 'HELP with escapes');
});

test('round trip, OpenMetrics: quoted UTF-8 metric and label names', () => {
  for (const seed of SEEDS) {
    roundTrip(generate(seed, { format: OM, utf8: true, types: ALL_TYPES }), OM, `seed ${seed}`);
  }
});

test('round trip, text format: random counter, gauge, histogram, summary and untyped families', () => {
  let samples = 0;
  for (const seed of SEEDS) {
    const families = generate(seed, { format: TEXT, utf8: false, types: TEXT_TYPES });
    roundTrip(families, TEXT, `seed ${seed}`);
    samples += families.reduce((n, f) => n + f.metrics.length, 0);
  }
  assert.ok(samples > 1000, `only ${samples} samples generated`);
});

test('round trip, text format 1.0.0: quoted UTF-8 metric and label names', () => {
  for (const seed of SEEDS) {
    roundTrip(generate(seed, { format: TEXT, utf8: true, types: TEXT_TYPES }), TEXT, `seed ${seed}`);
  }
});

/**
 * What an OpenMetrics family becomes in the text format, by the conventions of Prometheus'
 * client libraries: counters are named with _total, info and stateset become gauges (info named
 * with _info), gaugehistogram a histogram with _sum/_count; _created samples, exemplars and
 * units do not exist there.
 */
function asTextFamily(f: MetricFamily): MetricFamily {
  let name = f.name;
  let type = f.type;
  const rename = new Map<string, string>();
  switch (f.type) {
    case 'counter':
      if (!name.endsWith('_total')) name += '_total';
      break;
    case 'info':
      if (!name.endsWith('_info')) name += '_info';
      type = 'gauge';
      break;
    case 'stateset':
      type = 'gauge';
      break;
    case 'gaugehistogram':
      type = 'histogram';
      rename.set(f.name + '_gsum', f.name + '_sum');
      rename.set(f.name + '_gcount', f.name + '_count');
      break;
    default:
      break;
  }
  const created = f.name + '_created';
  const metrics: MetricPoint[] = [];
  for (const m of f.metrics) {
    const sample = m.labels.metricName;
    if (sample === created && (f.type === 'counter' || f.type === 'histogram' || f.type === 'summary')) continue;
    const shown = rename.get(sample) ?? sample;
    const p: MetricPoint = { labels: Labels.fromRecord({ ...m.labels.toRecord(), __name__: shown }), value: m.value };
    if (m.timestamp !== undefined) p.timestamp = m.timestamp;
    metrics.push(p);
  }
  const out: MetricFamily = { name, type, metrics };
  // tokens are separated by blanks there: a help text cannot start with one
  if (f.help !== undefined) out.help = f.help.replace(/^[ \t]+/, '');
  return out;
}

test('OpenMetrics families written as text: every type translated, every series kept', () => {
  for (const seed of SEEDS) {
    for (const utf8 of [false, true]) {
      const families = generate(seed, { format: OM, utf8, types: ALL_TYPES });
      const page = writeExposition(families, { format: TEXT, utf8Names: true });
      let parsed: MetricFamily[];
      try {
        parsed = parseFamilies(page, { format: TEXT }).families;
      } catch (err) {
        assert.fail(`seed ${seed}: the text page does not parse: ${String(err)}\n${page}`);
      }
      assertSameFamilies(parsed, families.map(asTextFamily), `seed ${seed} (utf8 ${utf8})\n${page}`);
      // the page may differ from the first only by blanks a text HELP cannot start with
      const page2 = writeExposition(parsed, { format: TEXT, utf8Names: true });
      assert.equal(page2, writeExposition(families.map(asTextFamily), { format: TEXT, utf8Names: true }), `seed ${seed}`);
      assert.equal(writeExposition(parseFamilies(page2, { format: TEXT }).families, { format: TEXT, utf8Names: true }), page2, `seed ${seed}: not a fixed point`);
    }
  }
});

test('text families written as OpenMetrics: every series keeps its labels and values', () => {
  for (const seed of SEEDS) {
    const families = generate(seed, { format: TEXT, utf8: true, types: TEXT_TYPES });
    assertTextSeriesSurviveOpenMetrics(families, `seed ${seed}`);
  }
});

// ---------------------------------------------------------------- writer details

test('writer: the exact lines of each format', () => {
  const fam: MetricFamily[] = [
    {
      name: 'req_seconds',
      type: 'histogram',
      help: 'Time "spent" \\ here\nand there.',
      unit: 'seconds',
      metrics: [
        { labels: Labels.fromRecord({ __name__: 'req_seconds_bucket', le: '0.1', path: 'a"b\\c\nd' }), value: 8, exemplar: { labels: Labels.fromRecord({ trace_id: 'KOO5S4vxi0o' }), value: 0.067, timestamp: 1520879607789 } },
        { labels: Labels.fromRecord({ __name__: 'req_seconds_bucket', le: '+Inf', path: 'a"b\\c\nd' }), value: 17, exemplar: { labels: Labels.EMPTY, value: -0 } },
        { labels: Labels.fromRecord({ __name__: 'req_seconds_count', path: 'a"b\\c\nd' }), value: 17, timestamp: -1500 },
        { labels: Labels.fromRecord({ __name__: 'req_seconds_sum', path: 'a"b\\c\nd' }), value: NaN, timestamp: 1 },
        { labels: Labels.fromRecord({ __name__: 'req_seconds_created', path: 'a"b\\c\nd' }), value: 1520430000.123 },
      ],
    },
    {
      name: 'jobs',
      type: 'counter',
      metrics: [
        { labels: Labels.fromRecord({ __name__: 'jobs_total' }), value: -Infinity },
        { labels: Labels.fromRecord({ __name__: 'jobs_total', 'lab.el': 'x' }), value: Infinity, timestamp: 1520879607000 },
      ],
    },
    { name: 'my.gauge', type: 'gauge', metrics: [{ labels: Labels.fromRecord({ __name__: 'my.gauge' }), value: -0 }] },
  ];
  assert.equal(
    writeExposition(fam, { format: OM, utf8Names: true }),
    [
      '# TYPE req_seconds histogram',
      '# UNIT req_seconds seconds',
      '# HELP req_seconds Time \\"spent\\" \\\\ here\\nand there.',
      'req_seconds_bucket{le="0.1",path="a\\"b\\\\c\\nd"} 8 # {trace_id="KOO5S4vxi0o"} 0.067 1520879607.789',
      'req_seconds_bucket{le="+Inf",path="a\\"b\\\\c\\nd"} 17 # {} -0',
      'req_seconds_count{path="a\\"b\\\\c\\nd"} 17 -1.5',
      'req_seconds_sum{path="a\\"b\\\\c\\nd"} NaN 0.001',
      'req_seconds_created{path="a\\"b\\\\c\\nd"} 1520430000.123',
      '# TYPE jobs counter',
      'jobs_total -Inf',
      'jobs_total{"lab.el"="x"} +Inf 1520879607',
      '# TYPE "my.gauge" gauge',
      '{"my.gauge"} -0',
      '# EOF',
      '',
    ].join('\n'),
  );
  assert.equal(
    writeExposition(fam, { format: TEXT, utf8Names: true }),
    [
      '# HELP req_seconds Time "spent" \\\\ here\\nand there.',
      '# TYPE req_seconds histogram',
      'req_seconds_bucket{le="0.1",path="a\\"b\\\\c\\nd"} 8',
      'req_seconds_bucket{le="+Inf",path="a\\"b\\\\c\\nd"} 17',
      'req_seconds_count{path="a\\"b\\\\c\\nd"} 17 -1500',
      'req_seconds_sum{path="a\\"b\\\\c\\nd"} NaN 1',
      '# TYPE jobs_total counter',
      'jobs_total -Inf',
      'jobs_total{"lab.el"="x"} +Inf 1520879607000',
      '# TYPE "my.gauge" gauge',
      '{"my.gauge"} -0',
      '',
    ].join('\n'),
  );
  // without UTF-8 names, names are escaped with underscores (and nothing is quoted)
  assert.equal(
    writeExposition(fam.slice(1), { format: TEXT }),
    ['# TYPE jobs_total counter', 'jobs_total -Inf', 'jobs_total{lab_el="x"} +Inf 1520879607000', '# TYPE my_gauge gauge', 'my_gauge -0', ''].join('\n'),
  );
});

test('writer: quoted names with any UTF-8 character, control characters included, survive both formats', () => {
  // HELP/TYPE/UNIT lines must quote names with the exposition's own escapes (\\ \" \n) like the
  // series lines do: a tab or another control character is written as itself, not as \t or \u0001.
  for (const name of ['tab\there', 'ctl\u0001x', 'bell\u0007', 'del\u007f', 'nl\nq"b\\']) {
    const families: MetricFamily[] = [
      { name, type: 'gauge', help: 'h', metrics: [{ labels: Labels.fromRecord({ __name__: name, [name]: name }), value: 1 }] },
    ];
    for (const format of [TEXT, OM]) roundTrip(families, format, `${format} name ${JSON.stringify(name)}`);
  }
});

test('writer: names escaped to the legacy character set when UTF-8 names are not allowed', () => {
  const families: MetricFamily[] = [
    {
      name: 'my.metric',
      type: 'counter',
      help: 'x',
      metrics: [{ labels: Labels.fromRecord({ __name__: 'my.metric_total', 'lab.el': 'v', ключ: 'w' }), value: 2 }],
    },
  ];
  for (const format of [TEXT, OM]) {
    const page = writeExposition(families, { format });
    assert.ok(!page.includes('"my.metric'), page);
    const parsed = parseFamilies(page, { format }).families;
    const samples = parsed.flatMap((f) => f.metrics.map((m) => m.labels.toRecord()));
    assert.deepEqual(samples, [{ __name__: 'my_metric_total', lab_el: 'v', ____: 'w' }]);
    assert.equal(escapeToLegacyName('ключ', false), '____');
  }
});

test('writer: PageWriter streams the same page as writeExposition', () => {
  const families = generate(42, { format: TEXT, utf8: true, types: TEXT_TYPES });
  const w = new PageWriter({ format: TEXT, utf8Names: true });
  for (const f of families) w.family(f);
  assert.equal(w.finish(), writeExposition(families, { format: TEXT, utf8Names: true }));
  assert.equal(w.finish(), '', 'finish() empties the writer');
});

test('formatValue: shortest text that parses back to the same float64', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '-0'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [1, '1'],
    [0.1, '0.1'],
    [2 ** 53, '9007199254740992'],
    [1e21, '1e+21'],
    [5e-324, '5e-324'],
    [-1.5e-7, '-1.5e-7'],
  ];
  for (const [v, s] of cases) assert.equal(formatValue(v), s);
  const g = new Gen(7);
  for (let i = 0; i < 5000; i++) {
    const v = i < SPECIAL_VALUES.length ? SPECIAL_VALUES[i] : value(g);
    const s = formatValue(v);
    assert.ok(Object.is(parseNumber(s, 0, s.length), v), `${formatNum(v)} → ${s}`);
  }
});

test('formatSeconds: milliseconds as exact OpenMetrics seconds', () => {
  const cases: [number, string][] = [
    [1520879607789, '1520879607.789'],
    [1520879607000, '1520879607'],
    [1520879607700, '1520879607.7'],
    [1520879607010, '1520879607.01'],
    [1, '0.001'],
    [0, '0'],
    [-1, '-0.001'],
    [-1500, '-1.5'],
    [1005, '1.005'],
    [8640000000000000, '8640000000000'],
  ];
  for (const [ms, s] of cases) assert.equal(formatSeconds(ms), s);
  const g = new Gen(9);
  for (let i = 0; i < 5000; i++) {
    const ms = timestampMs(g);
    const page = `a 1 ${formatSeconds(ms)}\n# EOF\n`;
    assert.equal(parseFamilies(page, { format: OM }).families[0].metrics[0].timestamp, ms, page);
  }
});

// ---------------------------------------------------------------- the node_exporter page

test('node_exporter page: parse → write → parse gives the same families; writing is a fixed point', () => {
  const text = readFixture();
  const first = parseFamilies(text, { format: TEXT });
  assert.equal(first.dropped, 0);
  assert.equal(first.families.length, 283);
  assert.equal(
    first.families.reduce((n, f) => n + f.metrics.length, 0),
    507,
  );
  const page = writeExposition(first.families, { format: TEXT });
  const second = parseFamilies(page, { format: TEXT });
  assertSameFamilies(second.families, first.families, 'node_exporter text round trip');
  assert.equal(writeExposition(second.families, { format: TEXT }), page);
  // values the fixture writes in exponent form come back exactly
  const heap = first.families.find((f) => f.name === 'go_memstats_heap_sys_bytes');
  assert.equal(heap?.metrics[0].value, 3866624);
  const gc = first.families.find((f) => f.name === 'go_gc_duration_seconds');
  assert.equal(gc?.type, 'summary');
  assert.deepEqual(
    gc?.metrics.map((m) => m.labels.metricName),
    ['go_gc_duration_seconds', 'go_gc_duration_seconds', 'go_gc_duration_seconds', 'go_gc_duration_seconds', 'go_gc_duration_seconds', 'go_gc_duration_seconds_sum', 'go_gc_duration_seconds_count'],
  );
});

/**
 * Writes text-format families as OpenMetrics, parses them back and checks that every series
 * is there with the same labels, value and timestamp. The OpenMetrics sample name of a text
 * counter ends in _total (appended when the text name lacked it).
 */
function assertTextSeriesSurviveOpenMetrics(families: MetricFamily[], context: string): MetricFamily[] {
  const page = writeExposition(families, { format: OM, utf8Names: true });
  let parsed: MetricFamily[];
  try {
    parsed = parseFamilies(page, { format: OM }).families;
  } catch (err) {
    assert.fail(`${context}: the OpenMetrics page does not parse: ${String(err)}\n${page}`);
  }
  const expected: PlainPoint[] = [];
  for (const f of families) {
    for (const m of f.metrics) {
      const rec = m.labels.toRecord();
      if (f.type === 'counter' && !rec.__name__.endsWith('_total')) rec.__name__ += '_total';
      const p: PlainPoint = { labels: [...Labels.fromRecord(rec).kv], value: m.value };
      if (m.timestamp !== undefined) p.timestamp = m.timestamp;
      expected.push(p);
    }
  }
  const got = plain(parsed).flatMap((f) => f.metrics);
  const d = firstDifference(got, expected, 'series');
  if (d !== undefined) assert.fail(`${context}: ${d}\n${page}`);
  // help texts survive, and the page is a fixed point of parse → write
  const helps = new Map(families.map((f) => [f.name, f.help]));
  for (const f of parsed) {
    const original = helps.get(f.name) ?? helps.get(f.name + '_total');
    // an empty HELP is absent in OpenMetrics
    assert.equal(f.help, original === '' ? undefined : original, `${context}: HELP of ${f.name}`);
  }
  assert.equal(writeExposition(parsed, { format: OM, utf8Names: true }), page, `${context}: not a fixed point`);
  return parsed;
}

test('node_exporter page as OpenMetrics: every series kept, counters named by OpenMetrics rules', () => {
  const text = readFixture();
  const families = parseFamilies(text, { format: TEXT }).families;
  const om = assertTextSeriesSurviveOpenMetrics(families, 'node_exporter');
  const byName = new Map(om.map((f) => [f.name, f]));

  // a counter foo_total becomes the OpenMetrics family foo with samples foo_total
  const frees = byName.get('go_memstats_frees');
  assert.equal(frees?.type, 'counter');
  assert.deepEqual(
    frees?.metrics.map((m) => m.labels.metricName),
    ['go_memstats_frees_total'],
  );
  assert.equal(byName.has('go_memstats_frees_total'), false);

  // ...unless the page already has a family foo: go_memstats_alloc_bytes (gauge) and
  // go_memstats_alloc_bytes_total (counter) must stay two families with their own samples
  const gauge = byName.get('go_memstats_alloc_bytes');
  const counter = byName.get('go_memstats_alloc_bytes_total');
  assert.equal(gauge?.type, 'gauge');
  assert.deepEqual(
    gauge?.metrics.map((m) => [m.labels.metricName, m.value]),
    [['go_memstats_alloc_bytes', 906536]],
  );
  assert.ok(counter, 'go_memstats_alloc_bytes_total is still a family');
  assert.deepEqual(
    counter.metrics.map((m) => [m.labels.metricName, m.value]),
    [['go_memstats_alloc_bytes_total', 906536]],
  );
  assert.equal(counter.help, 'Total number of bytes allocated, even if freed.');

  // untyped families are unknown; every counter is either a counter or that one collision
  assert.ok(om.some((f) => f.name === 'node_netstat_Tcp_InSegs' && f.type === 'unknown'));
  const counters = families.filter((f) => f.type === 'counter').length;
  assert.equal(om.filter((f) => f.type === 'counter').length, counters - 1);
  assert.equal(om.length, families.length);
});

test('node_exporter page, OpenMetrics round trip: parse → write → parse equal, fixed point', () => {
  const families = parseFamilies(readFixture(), { format: TEXT }).families;
  const page = writeExposition(families, { format: OM });
  const first = parseFamilies(page, { format: OM }).families;
  roundTrip(first, OM, 'node_exporter as OpenMetrics');
});
