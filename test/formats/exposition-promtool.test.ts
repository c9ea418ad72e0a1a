/**
 * The text-format writer checked by Prometheus' own tool: `promtool check metrics` (Debian
 * package "prometheus") parses the page with Prometheus' text parser and lints it. Lint-clean
 * families must pass without a word; the node_exporter page, round-tripped, may only draw the
 * warnings node_exporter's own names already draw. Also: content negotiation for the Accept
 * headers real scrapers send.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../helpers/seeded-random.js';
import { readNodeExporterPage as readFixture } from '../helpers/fixtures.js';
import { spawnSync } from 'node:child_process';
import { parseFamilies } from '../../src/formats/prometheus/families.js';
import { writeExposition } from '../../src/formats/prometheus/writer.js';
import {
  CONTENT_TYPE_OPENMETRICS_100,
  CONTENT_TYPE_TEXT_004,
  negotiateExposition,
  type NegotiatedFormat,
} from '../../src/formats/media-types.js';
import { Labels } from '../../src/model/labels.js';
import type { MetricFamily, MetricPoint, MetricType } from '../../src/model/family.js';

// ---------------------------------------------------------------- promtool

interface PromtoolResult {
  status: number | null;
  output: string;
}

function findPromtool(): string | undefined {
  for (const candidate of [process.env.PROMTOOL, 'promtool', '/usr/bin/promtool']) {
    if (!candidate) continue;
    const r = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (!r.error && r.status === 0) return candidate;
  }
  return undefined;
}

const PROMTOOL = findPromtool();

/** The promtool binary, or undefined after skipping the test (failing it in CI). */
function promtoolOrSkip(t: TestContext): string | undefined {
  if (PROMTOOL !== undefined) return PROMTOOL;
  if (process.env.CI === 'true') {
    assert.fail('promtool is required in CI: install the Debian package "prometheus" (/usr/bin/promtool)');
  }
  t.skip('promtool not found (Debian package "prometheus"); set CI=true to make this a failure');
  return undefined;
}

function checkMetrics(promtool: string, page: string): PromtoolResult {
  const r = spawnSync(promtool, ['check', 'metrics'], { input: page, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: (r.stdout ?? '') + (r.stderr ?? '') };
}


// ---------------------------------------------------------------- lint-clean families


const VALUE_CHARS = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\t', 'é', '€', '😀', '{', '}', ',', '=', '#', '\r', 'n'];
const HELP_CHARS = ['a', 'b', ' ', '\\', '\n', '"', 'é', '😀', '\t', '#', 'n'];
const LABELS = ['path', 'code', 'method', 'instance', 'shard_id', 'zone'];
const WORDS = ['http_requests', 'queue_wait', 'cache_lookups', 'disk_reads', 'rpc_calls', 'jobs', 'builds', 'flushes'];
const VALUES = [NaN, Infinity, -Infinity, -0, 0, 1, 0.1, 5e-324, 1.7976931348623157e308, 2 ** 31 + 1, 2 ** 53, 1e21, 123.456];

/**
 * Families promlint has nothing to say about: snake_case names with base units, counters with
 * _total, HELP on everything, "le" and "quantile" only where they belong. OpenMetrics-only
 * types are included; the writer turns them into text types. Some names are dotted UTF-8 names,
 * which the writer escapes because promtool's parser predates quoted names.
 */
function lintCleanFamilies(seed: number): MetricFamily[] {
  const next = rng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const str = (alphabet: readonly string[], min: number, max: number) => {
    let s = '';
    for (let i = min + int(max - min + 1); i > 0; i--) s += pick(alphabet);
    return s;
  };
  const value = () => (next() < 0.5 ? pick(VALUES) : (next() - 0.5) * 10 ** (int(40) - 20));
  const types: MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'unknown', 'info', 'stateset', 'gaugehistogram'];
  const families: MetricFamily[] = [];
  for (let i = 0, n = 2 + int(7); i < n; i++) {
    const type = pick(types);
    const dotted = next() < 0.25;
    const stem = `tributary${dotted ? '.' : '_'}f${i}_${pick(WORDS)}`;
    const name =
      type === 'counter'
        ? stem + '_total'
        : type === 'histogram' || type === 'summary' || type === 'gaugehistogram'
          ? stem + '_seconds'
          : type === 'gauge'
            ? stem + '_bytes'
            : stem;
    const withTs = next() < 0.3;
    const metrics: MetricPoint[] = [];
    const point = (sample: string, rec: Record<string, string>, v: number) => {
      const m: MetricPoint = { labels: Labels.fromRecord({ ...rec, __name__: sample }), value: v };
      if (withTs) m.timestamp = int(2 ** 42) - 2 ** 40;
      metrics.push(m);
    };
    const sets = new Map<string, Record<string, string>>();
    for (let k = 1 + int(3), tries = 0; sets.size < k && tries < 20; tries++) {
      const rec: Record<string, string> = {};
      for (const l of LABELS) if (next() < 0.3) rec[l] = str(VALUE_CHARS, 1, 6);
      sets.set(Labels.fromRecord(rec).key, rec);
    }
    for (const rec of sets.values()) {
      switch (type) {
        case 'counter':
        case 'gauge':
        case 'unknown':
          point(name, rec, value());
          break;
        case 'histogram':
        case 'gaugehistogram': {
          for (const le of ['0.005', '0.1', '1', '10', '+Inf']) if (le === '+Inf' || next() < 0.5) point(name + '_bucket', { ...rec, le }, value());
          const g = type === 'gaugehistogram';
          point(name + (g ? '_gsum' : '_sum'), rec, value());
          point(name + (g ? '_gcount' : '_count'), rec, value());
          break;
        }
        case 'summary':
          for (const quantile of ['0', '0.5', '0.99', '1']) if (next() < 0.5) point(name, { ...rec, quantile }, value());
          point(name + '_sum', rec, value());
          point(name + '_count', rec, value());
          break;
        case 'info':
          point(name + '_info', { ...rec, version: str(VALUE_CHARS, 1, 6) }, 1);
          break;
        case 'stateset':
          for (const state of ['ok', 'degraded', 'down']) point(name, { ...rec, [name.replace(/\./g, '_')]: state }, int(2));
          break;
      }
    }
    const help = 'H' + str(HELP_CHARS, 0, 20); // non-empty: promlint wants HELP
    families.push({ name, type, help, metrics });
  }
  return families;
}

test('promtool check metrics: the text writer\'s pages of lint-clean families pass without a word', (t) => {
  const promtool = promtoolOrSkip(t);
  if (promtool === undefined) return;
  for (let seed = 1; seed <= 40; seed++) {
    const families = lintCleanFamilies(seed * 104729);
    const page = writeExposition(families, { format: 'prometheus' });
    const r = checkMetrics(promtool, page);
    assert.equal(r.output, '', `seed ${seed}: promtool said:\n${r.output}\npage:\n${page}`);
    assert.equal(r.status, 0, `seed ${seed}: promtool exited ${r.status}\n${page}`);
    // and the page means to us what it means to promtool: it parses back (strictly)
    parseFamilies(page, { format: 'prometheus' });
  }
});

test('promtool check metrics: a page of every value and escape the writer produces', (t) => {
  const promtool = promtoolOrSkip(t);
  if (promtool === undefined) return;
  const families: MetricFamily[] = [
    {
      name: 'tributary_escapes_bytes',
      type: 'gauge',
      help: 'Backslash \\ newline \n quote " tab \t emoji 😀.',
      metrics: [
        { labels: Labels.fromRecord({ __name__: 'tributary_escapes_bytes', path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' }), value: NaN },
        { labels: Labels.fromRecord({ __name__: 'tributary_escapes_bytes', path: 'x' }), value: -0, timestamp: -3982045 },
        { labels: Labels.fromRecord({ __name__: 'tributary_escapes_bytes', path: 'y' }), value: Infinity, timestamp: 1395066363000 },
        { labels: Labels.fromRecord({ __name__: 'tributary_escapes_bytes', path: 'z' }), value: -Infinity },
        { labels: Labels.fromRecord({ __name__: 'tributary_escapes_bytes', path: 'w' }), value: 5e-324 },
      ],
    },
  ];
  const page = writeExposition(families, { format: 'prometheus' });
  const r = checkMetrics(promtool, page);
  assert.equal(r.output, '', page);
  assert.equal(r.status, 0, page);
});

/** Lint lines promtool prints for a page (one per problem), without the trailing status. */
function lintLines(output: string): Set<string> {
  return new Set(
    output
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== ''),
  );
}

test('promtool check metrics: the node_exporter page round-tripped has no errors and no new warnings', (t) => {
  const promtool = promtoolOrSkip(t);
  if (promtool === undefined) return;
  const text = readFixture();
  const page = writeExposition(parseFamilies(text, { format: 'prometheus' }).families, { format: 'prometheus' });
  const original = checkMetrics(promtool, text);
  const written = checkMetrics(promtool, page);
  // 0: clean; 3: lint warnings only (node_exporter's camelCase names); 1: parse error
  assert.ok(written.status === 0 || written.status === 3, `promtool exited ${written.status}:\n${written.output}`);
  assert.ok(!/error while linting/i.test(written.output), written.output);
  assert.equal(written.status, original.status, 'the same verdict as for the original page');
  const before = lintLines(original.output);
  const added = [...lintLines(written.output)].filter((l) => !before.has(l));
  assert.deepEqual(added, [], 'lint warnings the round trip introduced');
});

test('promtool check metrics: the node_exporter page through OpenMetrics and back to text still parses', (t) => {
  const promtool = promtoolOrSkip(t);
  if (promtool === undefined) return;
  const families = parseFamilies(readFixture(), { format: 'prometheus' }).families;
  const om = parseFamilies(writeExposition(families, { format: 'openmetrics' }), { format: 'openmetrics' }).families;
  const page = writeExposition(om, { format: 'prometheus' });
  const r = checkMetrics(promtool, page);
  assert.ok(r.status === 0 || r.status === 3, `promtool exited ${r.status}:\n${r.output}`);
  assert.ok(!/error while linting/i.test(r.output), r.output);
});

test('promtool check metrics really rejects broken pages (the check is not vacuous)', (t) => {
  const promtool = promtoolOrSkip(t);
  if (promtool === undefined) return;
  const broken = checkMetrics(promtool, 'a{ 1\n');
  assert.equal(broken.status, 1);
  assert.match(broken.output, /error while linting/);
  const lint = checkMetrics(promtool, '# TYPE a counter\na 1\n');
  assert.equal(lint.status, 3);
  assert.match(lint.output, /_total/);
});

// ---------------------------------------------------------------- content negotiation

const TEXT_004: NegotiatedFormat = { format: 'prometheus', contentType: CONTENT_TYPE_TEXT_004, utf8Names: false };
const OM_100: NegotiatedFormat = { format: 'openmetrics', contentType: CONTENT_TYPE_OPENMETRICS_100, utf8Names: false };
const OM_100_UTF8: NegotiatedFormat = {
  format: 'openmetrics',
  contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8',
  utf8Names: true,
};
const OM_001: NegotiatedFormat = {
  format: 'openmetrics',
  contentType: 'application/openmetrics-text; version=0.0.1; charset=utf-8',
  utf8Names: false,
};
const TEXT_100_UTF8: NegotiatedFormat = {
  format: 'prometheus',
  contentType: 'text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8',
  utf8Names: true,
};

test('negotiation: the Accept headers of real scrapers', () => {
  const cases: [string, string | undefined, NegotiatedFormat][] = [
    [
      'Prometheus 2.43+ (OpenMetrics first)',
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      OM_100,
    ],
    ['Prometheus 2.x before 2.43', 'application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', OM_001],
    [
      'Prometheus 3 default (escaping=allow-utf-8)',
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      OM_100_UTF8,
    ],
    [
      'Prometheus 3 with protobuf first: skip what we cannot write',
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
      OM_100_UTF8,
    ],
    [
      'Prometheus 3 configured for the text format only',
      'text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      TEXT_100_UTF8,
    ],
    ['Prometheus 3 with UTF-8 off (escaping=underscores)', 'application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,*/*;q=0.1', OM_100],
    ['curl', '*/*', TEXT_004],
    ['browser', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', TEXT_004],
    ['no header', undefined, TEXT_004],
    ['empty header', '', TEXT_004],
    ['text/plain without a version', 'text/plain', TEXT_004],
    ['text/* wildcard', 'text/*', TEXT_004],
    ['text/plain 0.0.4', 'text/plain; version=0.0.4', TEXT_004],
    ['OpenMetrics without a version is 1.0.0', 'application/openmetrics-text', OM_100],
    ['OpenMetrics 0.0.1 on its own', 'application/openmetrics-text;version=0.0.1', OM_001],
    ['OpenMetrics 0.0.1 with spaces', 'application/openmetrics-text; version=0.0.1', OM_001],
    ['case-insensitive type and parameter names', 'Application/OpenMetrics-Text; Version=1.0.0', OM_100],
    ['quoted parameter values', 'application/openmetrics-text; version="1.0.0"', OM_100],
  ];
  for (const [what, accept, expected] of cases) {
    assert.deepEqual(negotiateExposition(accept), expected, `${what}: ${accept}`);
  }
});

test('negotiation: q values order the offers; q=0 means "not acceptable"', () => {
  const cases: [string, string, NegotiatedFormat][] = [
    ['q=0 refuses OpenMetrics', 'application/openmetrics-text;version=1.0.0;q=0,text/plain;version=0.0.4', TEXT_004],
    ['q=0.0 refuses it too', 'application/openmetrics-text;q=0.0, */*;q=0.1', TEXT_004],
    ['q=0 on the only offer falls back to the text format', 'application/openmetrics-text;q=0', TEXT_004],
    ['a later offer with a higher q wins', 'text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.9', OM_100],
    ['no q is q=1', 'text/plain;version=0.0.4;q=0.99,application/openmetrics-text', OM_100],
    ['equal q: the first listed wins', 'text/plain;version=0.0.4;q=0.5,application/openmetrics-text;q=0.5', TEXT_004],
    ['an invalid q refuses the offer', 'application/openmetrics-text;q=abc,text/plain', TEXT_004],
    ['q above 1 counts as 1', 'text/plain;q=0.9,application/openmetrics-text;q=5', OM_100],
  ];
  for (const [what, accept, expected] of cases) {
    assert.deepEqual(negotiateExposition(accept), expected, `${what}: ${accept}`);
  }
});

test('negotiation: unsupported versions and types are skipped, not answered', () => {
  const cases: [string, string, NegotiatedFormat][] = [
    ['OpenMetrics 2.0.0 is not spoken: next offer', 'application/openmetrics-text;version=2.0.0,text/plain;version=0.0.4;q=0.5', TEXT_004],
    ['OpenMetrics 2.0.0 alone: the default', 'application/openmetrics-text;version=2.0.0', TEXT_004],
    ['text/plain 0.0.5 is not spoken', 'text/plain;version=0.0.5,application/openmetrics-text;q=0.1', OM_100],
    ['protobuf alone: the default', 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited', TEXT_004],
    ['JSON alone: the default', 'application/json', TEXT_004],
    ['garbage: the default', ';;;,,,=;q', TEXT_004],
  ];
  for (const [what, accept, expected] of cases) {
    assert.deepEqual(negotiateExposition(accept), expected, `${what}: ${accept}`);
  }
});

test('negotiation: what it picks is what the writer and parser agree on', () => {
  const families: MetricFamily[] = [
    {
      name: 'my.requests',
      type: 'counter',
      help: 'Requests.',
      metrics: [{ labels: Labels.fromRecord({ __name__: 'my.requests_total', 'http.method': 'GET' }), value: 3 }],
    },
  ];
  const prom3 = negotiateExposition(
    'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
  );
  const utf8Page = writeExposition(families, prom3);
  assert.equal(utf8Page, '# TYPE "my.requests" counter\n# HELP "my.requests" Requests.\n{"my.requests_total","http.method"="GET"} 3\n# EOF\n');
  const prom2 = negotiateExposition('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
  const legacyPage = writeExposition(families, prom2);
  assert.equal(legacyPage, '# TYPE my_requests counter\n# HELP my_requests Requests.\nmy_requests_total{http_method="GET"} 3\n# EOF\n');
  for (const [page, n] of [
    [utf8Page, prom3],
    [legacyPage, prom2],
  ] as const) {
    assert.equal(parseFamilies(page, { format: n.format }).families[0].metrics[0].value, 3);
  }
});
