/**
 * The gateway's OpenMetrics page read by a strict reader: the Python client's OpenMetrics
 * parser (`prometheus_client.openmetrics.parser`, Debian's python3-prometheus-client), which
 * refuses buckets out of numeric `le` order, a label set's samples split up, a TYPE twice,
 * clashing names and the rest. The page merges the node_exporter fixture (a file), an
 * exporter whose histogram buckets are written in text order rather than numeric order and
 * whose label sets are interleaved, an OpenMetrics exporter (exemplars, `_created`, UNIT,
 * stateset, info), pushed groups, and Tributary's own metrics. The text-format page of the same
 * gateway goes through `promtool check metrics`.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PROMTOOL, PYTHON3, requirePeer } from '../helpers/peers.js';
import { readNodeExporterPage } from '../helpers/fixtures.js';
import { fileSource, gatewayYaml, get, httpSource, promtoolCheck, put, staticExporter, testDir, withTributary } from '../helpers/gateway-harness.js';

const PY_OM_PARSER = '/usr/lib/python3/dist-packages/prometheus_client/openmetrics/parser.py';
const OM_ACCEPT = 'application/openmetrics-text; version=1.0.0';

/** Reads the page on stdin, consumes every family; prints name → [type, samples] as JSON. */
const PY_SCRIPT = `
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = [f.type, len(f.samples)]
print(json.dumps(out))
`;

/** A family's HELP and TYPE lines (no final newline). */
function header(name: string, type: string, help: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}`;
}

/**
 * Sample lines (no final newline) of `name` for two label sets, `label` = each of `sets`,
 * interleaved: per row `[inner value, first set's value, second set's value]`, in the order
 * given, the first set's line then the second's, `inner` (le, quantile) after `label`.
 */
function interleaved(name: string, label: string, sets: [string, string], inner: string, rows: [string, number, number][]): string {
  return rows.map(([v, a, b]) => `${name}{${label}="${sets[0]}",${inner}="${v}"} ${a}\n${name}{${label}="${sets[1]}",${inner}="${v}"} ${b}`).join('\n');
}

// A text-format exporter: the histogram's buckets in text order (`le="10"` before `le="5"`,
// `le="100"` before `le="20"`), its two label sets interleaved, a summary's quantiles out of
// order, a counter without `_total` (OpenMetrics needs one on the sample), an untyped family.
const TEXT_PAGE = `${header('app_latency_seconds', 'histogram', 'Request latency.')}
${interleaved('app_latency_seconds_bucket', 'path', ['/a', '/b'], 'le', [['1', 1, 0], ['10', 3, 2], ['5', 2, 1], ['100', 4, 3], ['20', 4, 3], ['+Inf', 5, 3]])}
app_latency_seconds_sum{path="/a"} 250.5
app_latency_seconds_sum{path="/b"} 40
app_latency_seconds_count{path="/a"} 5
app_latency_seconds_count{path="/b"} 3
${header('app_rpc_seconds', 'summary', 'RPC latency.')}
${interleaved('app_rpc_seconds', 'method', ['get', 'put'], 'quantile', [['0.99', 0.9, 1.9], ['0.5', 0.2, 1.2], ['0.9', 0.5, 1.5]])}
app_rpc_seconds_sum{method="get"} 12
app_rpc_seconds_count{method="get"} 30
app_rpc_seconds_sum{method="put"} 3
app_rpc_seconds_count{method="put"} 2
${header('app_requests', 'counter', 'Requests served.')}
app_requests{code="200"} 10
app_requests{code="500"} 1
${header('app_misc', 'untyped', 'Something untyped.')}
app_misc 3
`;

const OM_PAGE = `# HELP om_jobs Jobs run.
# TYPE om_jobs counter
om_jobs_total{kind="a"} 4 # {trace_id="abc"} 1 1700000000.5
om_jobs_created{kind="a"} 1700000000
# HELP om_size_bytes Size.
# TYPE om_size_bytes gauge
# UNIT om_size_bytes bytes
om_size_bytes 12
# HELP om_lat Latency.
# TYPE om_lat histogram
om_lat_bucket{le="0.1"} 1 # {trace_id="x"} 0.05
om_lat_bucket{le="+Inf"} 2
om_lat_sum 0.3
om_lat_count 2
om_lat_created 1700000000
# HELP om_state State.
# TYPE om_state stateset
om_state{om_state="a"} 1
om_state{om_state="b"} 0
# HELP om_build Build.
# TYPE om_build info
om_build_info{v="1"} 1
# EOF
`;

const PUSH_TEXT = '# HELP batch_records Records processed.\n# TYPE batch_records gauge\nbatch_records{kind="a"} 7\nbatch_records{kind="b"} 8\n# HELP batch_done Whether the batch finished.\n# TYPE batch_done gauge\nbatch_done 1\n';
const PUSH_HISTOGRAM = `# HELP push_lat_seconds Pushed latency.
# TYPE push_lat_seconds histogram
push_lat_seconds_bucket{le="0.5"} 1
push_lat_seconds_bucket{le="0.25"} 0
push_lat_seconds_bucket{le="2.5"} 2
push_lat_seconds_bucket{le="+Inf"} 2
push_lat_seconds_sum 1.5
push_lat_seconds_count 2
`;

/**
 * Runs `fn` against Tributary merging the node_exporter fixture (a file), TEXT_PAGE and OM_PAGE
 * (over HTTP) with two pushed groups (PUSH_TEXT, PUSH_HISTOGRAM); everything is closed afterwards.
 */
async function withMergedGateway(t: TestContext, prefix: string, fn: (base: string) => Promise<void>): Promise<void> {
  const dir = testDir(t, prefix);
  const text = await staticExporter(TEXT_PAGE, 'text/plain; version=0.0.4; charset=utf-8');
  t.after(() => text.close());
  const om = await staticExporter(OM_PAGE, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  t.after(() => om.close());
  const nodeFile = join(dir, 'node_exporter.prom');
  writeFileSync(nodeFile, readNodeExporterPage());
  await withTributary(gatewayYaml({ node: fileSource(nodeFile), app: httpSource(text.url), om: httpSource(om.url) }), async ({ base }) => {
    for (const [path, body] of [['/metrics/job/batch/instance/i1', PUSH_TEXT], ['/metrics/job/hist', PUSH_HISTOGRAM]]) {
      const r = await put(base + path, body);
      assert.equal(r.status, 200, `${path}: ${r.body}`);
    }
    await fn(base);
  });
}

/** Parses a sample line's name and labels (for the order checks); values are not needed. */
function sampleOf(line: string): { name: string; labels: Map<string, string> } {
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  if (brace < 0 || brace > space) return { name: line.slice(0, space), labels: new Map() };
  const labels = new Map<string, string>();
  let i = brace + 1;
  for (;;) {
    const eq = line.indexOf('="', i);
    const name = line.slice(i, eq);
    let j = eq + 2;
    let value = '';
    while (line[j] !== '"') {
      if (line[j] === '\\') {
        value += line[j + 1] === 'n' ? '\n' : line[j + 1];
        j += 2;
      } else value += line[j++];
    }
    labels.set(name, value);
    j++;
    if (line[j] === '}') break;
    i = j + 1; // ','
  }
  return { name: line.slice(0, brace), labels };
}

function leNumber(le: string): number {
  return le === '+Inf' ? Infinity : le === '-Inf' ? -Infinity : Number(le);
}

/**
 * Checks the OpenMetrics page's own structure: per family, each label set's samples stand
 * together (a set left is never seen again), buckets in strictly increasing numeric `le`
 * ending with +Inf, quantiles in increasing order, and `_sum`/`_count`/`_created` after the
 * buckets. Returns a list of problems (empty: fine) and the number of histogram groups seen.
 */
function orderProblems(page: string): { problems: string[]; histogramGroups: number; summaryGroups: number } {
  const problems: string[] = [];
  let family = '';
  let type = '';
  let group: string | undefined;
  let seen = new Set<string>();
  let lastLe = -Infinity;
  let lastQuantile = -Infinity;
  let pastBuckets = false;
  let histogramGroups = 0;
  let summaryGroups = 0;
  for (const line of page.split('\n')) {
    if (line === '' || line === '# EOF') continue;
    const meta = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (meta) {
      family = meta[1];
      type = meta[2];
      group = undefined;
      seen = new Set();
      continue;
    }
    if (line.startsWith('#')) continue;
    const { name, labels } = sampleOf(line);
    const inner = (type === 'histogram' || type === 'gaugehistogram') && name === family + '_bucket' ? 'le' : type === 'summary' && name === family ? 'quantile' : type === 'stateset' ? family : undefined;
    const key = [...labels].filter(([k]) => k !== inner).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
    if (key !== group) {
      if (seen.has(key)) problems.push(`${family}: label set {${key}} split up, again at: ${line}`);
      if (group !== undefined && (type === 'histogram' || type === 'gaugehistogram') && lastLe !== Infinity && !pastBuckets) problems.push(`${family}: {${group}} has no +Inf bucket`);
      seen.add(key);
      group = key;
      lastLe = -Infinity;
      lastQuantile = -Infinity;
      pastBuckets = false;
      if (type === 'histogram' || type === 'gaugehistogram') histogramGroups++;
      if (type === 'summary') summaryGroups++;
    }
    if (inner === 'le') {
      const le = leNumber(labels.get('le') ?? 'NaN');
      if (!(le > lastLe)) problems.push(`${family}: bucket le=${labels.get('le')} after ${lastLe}: ${line}`);
      if (pastBuckets) problems.push(`${family}: bucket after _sum/_count: ${line}`);
      lastLe = le;
    } else if (inner === 'quantile') {
      const q = Number(labels.get('quantile'));
      if (!(q > lastQuantile)) problems.push(`${family}: quantile ${labels.get('quantile')} after ${lastQuantile}: ${line}`);
      if (pastBuckets) problems.push(`${family}: quantile after _sum/_count: ${line}`);
      lastQuantile = q;
    } else if (type === 'histogram' || type === 'gaugehistogram' || type === 'summary') {
      pastBuckets = true;
      if ((type === 'histogram' || type === 'gaugehistogram') && lastLe !== Infinity) problems.push(`${family}: ${name} before the +Inf bucket: ${line}`);
    }
  }
  return { problems, histogramGroups, summaryGroups };
}

test('the order check is not vacuous: it finds buckets in text order and split label sets', () => {
  assert.deepEqual(orderProblems('# TYPE h histogram\nh_bucket{le="1"} 0\nh_bucket{le="+Inf"} 0\nh_sum 0\nh_count 0\n# EOF\n').problems, []);
  assert.equal(orderProblems('# TYPE h histogram\nh_bucket{le="10"} 0\nh_bucket{le="5"} 0\nh_bucket{le="+Inf"} 0\n# EOF\n').problems.length, 1);
  assert.match(orderProblems('# TYPE h histogram\nh_bucket{a="1",le="+Inf"} 0\nh_bucket{a="2",le="+Inf"} 0\nh_sum{a="1"} 0\n# EOF\n').problems.join('\n'), /split up/);
  assert.equal(orderProblems('# TYPE s summary\ns{quantile="0.9"} 0\ns{quantile="0.5"} 0\n# EOF\n').problems.length, 1);
});

test('the Python client\'s OpenMetrics parser accepts the gateway\'s OpenMetrics page: node_exporter, out-of-order buckets, interleaved label sets, an OpenMetrics exporter, pushed groups, Tributary\'s own metrics', { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, PYTHON3, 'python3')) return;
  if (!requirePeer(t, PY_OM_PARSER, 'python3-prometheus-client')) return;
  // The reader is strict where it matters here: buckets in text order are refused.
  const strict = spawnSync(PYTHON3, ['-c', PY_SCRIPT], { input: '# TYPE h histogram\nh_bucket{le="10"} 1\nh_bucket{le="5"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n# EOF\n', encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(strict.status, 0, 'the Python parser accepted buckets out of order');
  assert.match(strict.stderr, /Buckets out of order/);
  await withMergedGateway(t, 'tributary-om-out-', async (base) => {
    // A few requests, so that Tributary's request histogram has observations on several routes.
    for (let i = 0; i < 3; i++) {
      assert.equal((await get(`${base}/metrics`)).status, 200);
      assert.equal((await get(`${base}/apps?format=json`)).status, 200);
    }

    // Twice: the second page is made from the first (copies and patched values).
    for (let round = 0; round < 2; round++) {
      const r = await get(`${base}/metrics`, { Accept: OM_ACCEPT });
      assert.equal(r.status, 200, r.body);
      assert.match(r.contentType, /^application\/openmetrics-text; version=1\.0\.0/);
      const page = r.body;
      assert.ok(page.endsWith('# EOF\n'), `round ${round}: ends with # EOF`);

      const py = spawnSync(PYTHON3, ['-c', PY_SCRIPT], { input: page, encoding: 'utf8', timeout: 30_000 });
      if (py.error) throw py.error;
      assert.equal(py.status, 0, `round ${round}: the Python OpenMetrics parser refused the page:\n${py.stderr}`);
      const families = JSON.parse(py.stdout) as Record<string, [string, number]>;
      // 2 label sets × (6 buckets + _sum + _count)
      assert.deepEqual(families.app_latency_seconds, ['histogram', 16]);
      assert.deepEqual(families.app_rpc_seconds, ['summary', 10]);
      assert.deepEqual(families.app_requests, ['counter', 2]);
      assert.deepEqual(families.app_misc, ['unknown', 1]);
      assert.deepEqual(families.om_jobs, ['counter', 2]);
      assert.deepEqual(families.om_lat, ['histogram', 5]);
      assert.deepEqual(families.om_state, ['stateset', 2]);
      assert.deepEqual(families.om_build, ['info', 1]);
      assert.deepEqual(families.node_cpu_seconds, ['counter', 16]);
      assert.equal(families.go_gc_duration_seconds?.[0], 'summary');
      assert.deepEqual(families.batch_records, ['gauge', 2]);
      assert.deepEqual(families.push_lat_seconds, ['histogram', 6]);
      assert.equal(families.tributary_http_request_duration_seconds?.[0], 'histogram');
      assert.ok(families.tributary_http_request_duration_seconds[1] > 0, 'the request histogram has samples');

      // The page itself: numeric `le` order, each label set's samples together.
      const order = orderProblems(page);
      assert.deepEqual(order.problems, [], `round ${round}`);
      assert.ok(order.histogramGroups >= 2 + 1 + 1 + 2, `histogram label sets checked: ${order.histogramGroups}`);
      assert.ok(order.summaryGroups >= 2, `summary label sets checked: ${order.summaryGroups}`);
      const lat = page.split('\n').filter((l) => l.startsWith('app_latency_seconds_bucket{') && l.includes('path="/a"'));
      assert.deepEqual(lat.map((l) => sampleOf(l).labels.get('le')), ['1', '5', '10', '20', '100', '+Inf']);
      const pushed = page.split('\n').filter((l) => l.startsWith('push_lat_seconds_bucket{'));
      assert.deepEqual(pushed.map((l) => sampleOf(l).labels.get('le')), ['0.25', '0.5', '2.5', '+Inf']);
      const types = [...page.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
      assert.equal(new Set(types).size, types.length, 'one TYPE per family');
    }
  });
});

test('the text-format page of the same sources passes promtool check metrics (no error, no warning beyond the sources\' own)', { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, PROMTOOL, 'prometheus')) return;
  await withMergedGateway(t, 'tributary-om-text-', async (base) => {
    for (let i = 0; i < 3; i++) assert.equal((await get(`${base}/apps?format=json`)).status, 200);

    const allowed = new Set(promtoolCheck(readNodeExporterPage()).lines);
    // The exporter's own text-format counter without `_total`.
    allowed.add('app_requests counter metrics should have "_total" suffix');
    for (let round = 0; round < 2; round++) {
      const r = await get(`${base}/metrics`);
      assert.equal(r.status, 200, r.body);
      const check = promtoolCheck(r.body);
      assert.ok(!check.lines.some((l) => /error while linting/i.test(l)), `round ${round}:\n${check.lines.join('\n')}`);
      assert.ok(check.status === 0 || check.status === 3, `round ${round}: promtool exited ${check.status}:\n${check.lines.join('\n')}`);
      assert.deepEqual(check.lines.filter((l) => !allowed.has(l)), [], `round ${round}: warnings the gateway page adds`);
      // Buckets in numeric order there too.
      const lat = r.body.split('\n').filter((l) => l.startsWith('app_latency_seconds_bucket{') && l.includes('path="/b"'));
      assert.deepEqual(lat.map((l) => sampleOf(l).labels.get('le')), ['1', '5', '10', '20', '100', '+Inf']);
    }
  });
});

test("after the Python client's own pushes (text format: `_created` as gauge families), the OpenMetrics page still reads in its strict parser, with the same series as the text page", { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, PYTHON3, 'python3')) return;
  if (!requirePeer(t, PY_OM_PARSER, 'python3-prometheus-client')) return;
  await withTributary('gateway:\n  push: {default_ttl: 0}\n', async ({ base }) => {
    // Asynchronously: the gateway runs in this process and must answer the client meanwhile.
    const pushed = promisify(execFile)(
      PYTHON3,
      [
        '-c',
        `
import sys
from prometheus_client import CollectorRegistry, Counter, Histogram, Summary, push_to_gateway
r = CollectorRegistry()
c = Counter('omclash_jobs', 'Jobs.', ['kind'], registry=r)
c.labels('a').inc(3)
c.labels('b').inc()
h = Histogram('omclash_seconds', 'Latency.', registry=r, buckets=(0.5, 1.0))
h.observe(0.7)
s = Summary('omclash_size', 'Sizes.', registry=r)
s.observe(5)
push_to_gateway(sys.argv[1], job='omclash', registry=r)
`,
        base.slice('http://'.length),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    await pushed;
    const text = (await get(`${base}/metrics`)).body;
    assert.match(text, /^# TYPE omclash_jobs_created gauge$/m, 'the text page keeps the gauge family the client sent');
    const om = await get(`${base}/metrics`, { Accept: OM_ACCEPT });
    const py = spawnSync(PYTHON3, ['-c', PY_SCRIPT], { input: om.body, encoding: 'utf8', timeout: 30_000 });
    assert.equal(py.status, 0, `the Python OpenMetrics parser refused the page:\n${py.stderr}\n${om.body}`);
    const families = JSON.parse(py.stdout) as Record<string, [string, number]>;
    assert.deepEqual(families.omclash_jobs, ['counter', 4], 'two label sets × (_total, _created)');
    assert.deepEqual(families.omclash_seconds, ['histogram', 6], 'buckets 0.5, 1, +Inf, _count, _sum, _created');
    assert.deepEqual(families.omclash_size, ['summary', 3]);
    assert.equal(families.omclash_jobs_created, undefined);
    // The same series on both pages: only where the `_created` lines stand differs.
    const series = (page: string): string[] => page.split('\n').filter((l) => l.startsWith('omclash_')).map((l) => l.slice(0, l.lastIndexOf(' '))).sort();
    assert.deepEqual(series(om.body), series(text));
  });
});
