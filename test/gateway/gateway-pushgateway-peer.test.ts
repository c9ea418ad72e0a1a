/**
 * Differential tests against the real Prometheus Pushgateway (1.5.1): the same requests go to
 * it and to Tributary's gateway, and what a client can observe is compared — status codes, the
 * pushed series on `/metrics` (without either side's own metrics and without Tributary's
 * `exporter_name` source label), the JSON of `/api/v1/metrics`, and what the Python client
 * raises. `push_time_seconds` and `push_failure_time_seconds` differ in value by nature; they
 * are compared as "0" or "> 0". One Pushgateway and one Tributary serve the whole file, wiped
 * (admin API) before each test.
 */

import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { runForStatus } from '../helpers/gateway-harness.js';
import { CURL, PYTHON3, requirePeer } from '../helpers/peers.js';
import {
  comparable,
  comparableJson,
  delimitedFamilies,
  PROTOBUF_CONTENT_TYPE,
  PUSHGATEWAY,
  send,
  startPushgateway,
  startTributary,
  type Gateway,
  type Reply,
} from '../helpers/pushgateway-peer.js';

const INVALID_PREFIX = 'pushed metrics are invalid or inconsistent with existing metrics: ';

// ------------------------------------------------------------------ the pair, shared by the file

interface Pair {
  pg: Gateway;
  tr: Gateway;
}

let starting: Promise<Pair> | undefined;
const closers: (() => Promise<void>)[] = [];

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

function pair(): Promise<Pair> {
  return (starting ??= (async () => {
    const pg = await startPushgateway({ adminApi: true });
    closers.push(pg.close);
    const tr = await startTributary({ adminApi: true });
    closers.push(tr.close);
    return { pg, tr };
  })());
}

/** Both gateways, empty; undefined when the Pushgateway is not installed (skipped; fails under CI). */
async function fresh(t: TestContext): Promise<Pair | undefined> {
  if (!requirePeer(t, PUSHGATEWAY, 'prometheus-pushgateway')) return undefined;
  const p = await pair();
  const [a, b] = await both(p, 'PUT', '/api/v1/admin/wipe');
  assert.equal(a.status, 202, 'Pushgateway wipe');
  assert.equal(b.status, 202, 'Tributary wipe');
  await assertSamePages(p, 'after the wipe', { empty: true });
  return p;
}

/** The same request to both; [Pushgateway's reply, Tributary's reply]. */
async function both(p: Pair, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<[Reply, Reply]> {
  const a = await send(p.pg.base + path, method, body, headers);
  const b = await send(p.tr.base + path, method, body, headers);
  return [a, b];
}

/** The same request to both, and the same status from both; returns both replies. */
async function same(p: Pair, step: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<[Reply, Reply]> {
  const [a, b] = await both(p, method, path, body, headers);
  assert.equal(b.status, a.status, `${step}: ${method} ${path}: the Pushgateway answered ${a.status} ${JSON.stringify(a.body)}, Tributary ${b.status} ${JSON.stringify(b.body)}`);
  if (a.status === 400 && a.body.startsWith(INVALID_PREFIX)) {
    assert.ok(b.body.startsWith(INVALID_PREFIX), `${step}: Tributary's 400 body does not start with the Pushgateway's prefix: ${JSON.stringify(b.body)}`);
  }
  return [a, b];
}

/** Both /metrics pages, and the same pushed series (and TYPE, HELP) on both. */
async function assertSamePages(p: Pair, step: string, opts: { empty?: boolean } = {}): Promise<string[]> {
  // The Pushgateway answers a DELETE or a wipe with 202 and applies it later from its write
  // queue, so its page may lag the request for a moment; Tributary applies before answering.
  // Read again for up to two seconds before calling a difference one.
  const deadline = Date.now() + 2000;
  for (;;) {
    try {
      return await samePagesOnce(p, step, opts);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function samePagesOnce(p: Pair, step: string, opts: { empty?: boolean }): Promise<string[]> {
  const [a, b] = await Promise.all([send(p.pg.base + '/metrics', 'GET'), send(p.tr.base + '/metrics', 'GET')]);
  assert.equal(a.status, 200, `${step}: Pushgateway /metrics: ${a.body}`);
  assert.equal(b.status, 200, `${step}: Tributary /metrics: ${b.body}`);
  const pg = comparable(a.body, 'pushgateway');
  const tr = comparable(b.body, 'tributary');
  assert.deepEqual(tr.badSourceLabel, [], `${step}: Tributary series whose exporter_name is not their job`);
  // Every difference at once, one line each.
  const diffs: string[] = [];
  const diff = (what: string, mine: string[], theirs: string[]) => {
    for (const x of mine) if (!theirs.includes(x)) diffs.push(`${what} only on Tributary: ${x}`);
    for (const x of theirs) if (!mine.includes(x)) diffs.push(`${what} only on the Pushgateway: ${x}`);
  };
  diff('series', tr.series, pg.series);
  diff('TYPE', tr.types, pg.types);
  diff('HELP', tr.helps, pg.helps);
  assert.deepEqual(diffs, [], `${step}: /metrics differs`);
  if (opts.empty) assert.deepEqual(pg.series, [], `${step}: the Pushgateway still has series`);
  return pg.series;
}

/** Each side's comparable series, without comparing them. */
async function pagesOf(p: Pair): Promise<{ pg: string[]; tr: string[] }> {
  const [a, b] = await Promise.all([send(p.pg.base + '/metrics', 'GET'), send(p.tr.base + '/metrics', 'GET')]);
  return { pg: comparable(a.body, 'pushgateway').series, tr: comparable(b.body, 'tributary').series };
}

/** Both /api/v1/metrics documents, compared as a client reads them (see comparableJson). */
async function assertSameJson(p: Pair, step: string): Promise<void> {
  const [a, b] = await Promise.all([send(p.pg.base + '/api/v1/metrics', 'GET'), send(p.tr.base + '/api/v1/metrics', 'GET')]);
  assert.equal(a.status, 200, `${step}: Pushgateway /api/v1/metrics`);
  assert.equal(b.status, 200, `${step}: Tributary /api/v1/metrics`);
  assert.match(String(b.headers['content-type']), /^application\/json/, `${step}: Tributary's Content-Type`);
  const pgProblems: string[] = [];
  const trProblems: string[] = [];
  const pg = comparableJson(a.body, pgProblems);
  const tr = comparableJson(b.body, trProblems);
  assert.deepEqual(pgProblems, [], `${step}: the Pushgateway's JSON (the checker is wrong)`);
  assert.deepEqual(trProblems, [], `${step}: Tributary's JSON`);
  assert.deepEqual(
    tr.map((g) => g.key),
    pg.map((g) => g.key),
    `${step}: groups (by labels)`,
  );
  // Every difference at once, one line each.
  const diffs: string[] = [];
  for (let i = 0; i < pg.length; i++) {
    const [x, y] = [pg[i], tr[i]];
    if (y.last_push_successful !== x.last_push_successful) diffs.push(`group ${x.key}: last_push_successful: Tributary ${String(y.last_push_successful)}, Pushgateway ${String(x.last_push_successful)}`);
    const names = new Set([...Object.keys(x.families), ...Object.keys(y.families)]);
    for (const name of [...names].sort()) {
      const [fx, fy] = [x.families[name], y.families[name]];
      if (fx === undefined || fy === undefined) {
        diffs.push(`group ${x.key}: family ${name} only on ${fx === undefined ? 'Tributary' : 'the Pushgateway'}`);
        continue;
      }
      if (fy.type !== fx.type) diffs.push(`group ${x.key}: family ${name}: type: Tributary ${String(fy.type)}, Pushgateway ${String(fx.type)}`);
      if (fy.help !== fx.help) diffs.push(`group ${x.key}: family ${name}: help: Tributary ${JSON.stringify(fy.help)}, Pushgateway ${JSON.stringify(fx.help)}`);
      for (const m of fy.metrics) if (!fx.metrics.includes(m)) diffs.push(`group ${x.key}: family ${name}: only on Tributary: ${m}`);
      for (const m of fx.metrics) if (!fy.metrics.includes(m)) diffs.push(`group ${x.key}: family ${name}: only on the Pushgateway: ${m}`);
    }
  }
  assert.deepEqual(diffs, [], `${step}: /api/v1/metrics differs`);
}

/** What a series line of the push-time families looks like after `comparable`. */
function pushTimes(labels: string, push: '0' | '>0', failure: '0' | '>0'): string[] {
  return [`push_failure_time_seconds{${labels}} ${failure}`, `push_time_seconds{${labels}} ${push}`];
}

// ------------------------------------------------------------------ bodies

const TEXT_BODY = [
  '# HELP t_requests_total Requests, with a \\\\ backslash and a \\n newline in the HELP.',
  '# TYPE t_requests_total counter',
  't_requests_total{method="get",path="C:\\\\dir\\\\file"} 17',
  't_requests_total{method="post",nl="line1\\nline2",quote="say \\"hi\\""} 3',
  '# HELP t_temperature A gauge.',
  '# TYPE t_temperature gauge',
  't_temperature{room="kitchen"} 21.5',
  't_temperature{room="hall"} -3.25',
  '# HELP t_latency_seconds A histogram: buckets out of order, no +Inf.',
  '# TYPE t_latency_seconds histogram',
  't_latency_seconds_bucket{le="1"} 5',
  't_latency_seconds_bucket{le="0.1"} 1',
  't_latency_seconds_bucket{le="0.5"} 3',
  't_latency_seconds_sum 2.75',
  't_latency_seconds_count 6',
  '# HELP t_size_bytes A summary.',
  '# TYPE t_size_bytes summary',
  't_size_bytes{quantile="0.5"} 120',
  't_size_bytes{quantile="0.99"} 980.5',
  't_size_bytes_sum 12345',
  't_size_bytes_count 42',
  '# HELP t_untyped An untyped family.',
  '# TYPE t_untyped untyped',
  't_untyped{foo="bar"} 42',
  't_no_type_no_help 7',
  't_big 1234567',
  't_small 0.00001',
  '',
].join('\n');

const PROTOBUF_BODY = delimitedFamilies([
  {
    name: 'pb_counter_total',
    help: 'A protobuf counter.',
    type: 'COUNTER',
    metrics: [
      { labels: { method: 'get' }, value: 17 },
      { labels: { method: 'post' }, value: 3 },
    ],
  },
  { name: 'pb_gauge', help: 'A protobuf gauge.', type: 'GAUGE', metrics: [{ value: 3.5 }] },
  { name: 'pb_untyped', type: 'UNTYPED', metrics: [{ labels: { foo: 'bar' }, value: 42 }] },
  {
    name: 'pb_summary',
    help: 'A protobuf summary.',
    type: 'SUMMARY',
    metrics: [{ summary: { count: 10, sum: 12.5, quantiles: [[0.5, 0.25], [0.99, 1.5]] } }],
  },
  {
    name: 'pb_histogram_no_inf',
    help: 'A protobuf histogram without a +Inf bucket.',
    type: 'HISTOGRAM',
    metrics: [{ histogram: { count: 4, sum: 2.7, buckets: [[0.1, 1], [0.5, 2]] } }],
  },
  {
    name: 'pb_histogram_inf',
    help: 'A protobuf histogram with a +Inf bucket.',
    type: 'HISTOGRAM',
    metrics: [{ labels: { path: '/x' }, histogram: { count: 5, sum: 9, buckets: [[1, 3], [Infinity, 5]] } }],
  },
]);

// ------------------------------------------------------------------ 1. README

/** A shell command line as the README has it; returns curl's status and body. */
async function shell(script: string): Promise<Reply> {
  return { ...(await runForStatus('/bin/sh', ['-c', script])), headers: {} };
}

const CURL_OPTS = `-sS -o - -w '\\n%{http_code}'`;

test('the README examples in a row: same statuses, the first push kept, the same push-time series', async (t) => {
  if (!requirePeer(t, CURL, 'curl')) return;
  const p = await fresh(t);
  if (!p) return;
  const steps: { name: string; script: (base: string) => string; status: number; prefix?: string }[] = [
    {
      name: 'echo | curl',
      script: (base) => `echo "some_metric 3.14" | ${CURL} ${CURL_OPTS} --data-binary @- ${base}/metrics/job/some_job`,
      status: 200,
    },
    {
      name: 'cat <<EOF | curl',
      script: (base) =>
        `cat <<EOF | ${CURL} ${CURL_OPTS} --data-binary @- ${base}/metrics/job/some_job/instance/some_instance\n` +
        '# TYPE some_metric counter\n' +
        'some_metric{label="val1"} 42\n' +
        '# TYPE another_metric gauge\n' +
        '# HELP another_metric Just an example.\n' +
        'another_metric 2398.283\n' +
        'EOF\n',
      status: 400,
      prefix: INVALID_PREFIX,
    },
  ];
  for (const step of steps) {
    const a = await shell(step.script(p.pg.base));
    const b = await shell(step.script(p.tr.base));
    assert.equal(a.status, step.status, `${step.name}: the Pushgateway (the reference) answered ${a.status} ${a.body}`);
    assert.equal(b.status, a.status, `${step.name}: Tributary answered ${b.status} ${JSON.stringify(b.body)}`);
    if (step.prefix) {
      assert.ok(a.body.startsWith(step.prefix), `${step.name}: Pushgateway body ${a.body}`);
      assert.ok(b.body.startsWith(step.prefix), `${step.name}: Tributary body ${JSON.stringify(b.body)}`);
    }
  }
  const series = await assertSamePages(p, 'after both README pushes');
  // The reference itself, as FACTS.md §5a recorded it.
  assert.deepEqual(series, [
    'push_failure_time_seconds{instance="",job="some_job"} 0',
    'push_failure_time_seconds{instance="some_instance",job="some_job"} >0',
    'push_time_seconds{instance="",job="some_job"} >0',
    'push_time_seconds{instance="some_instance",job="some_job"} 0',
    'some_metric{instance="",job="some_job"} 3.14',
  ]);
  await assertSameJson(p, 'after both README pushes');

  // The README's deletes, in its order.
  await same(p, 'README delete', 'DELETE', '/metrics/job/some_job/instance/some_instance');
  await assertSamePages(p, 'after DELETE of {job="some_job",instance="some_instance"}');
  const [del] = await same(p, 'README delete', 'DELETE', '/metrics/job/some_job');
  assert.equal(del.status, 202);
  await assertSamePages(p, 'after DELETE of {job="some_job"}', { empty: true });
});

// ------------------------------------------------------------------ 2. text PUT, POST, DELETE

test('a text push of every type (PUT), a POST replacing one family, a DELETE: the same series after each', async (t) => {
  const p = await fresh(t);
  if (!p) return;
  const path = '/metrics/job/textjob/instance/i1';
  // Each step is a subtest so that one difference does not hide the next; the state carries over.
  await t.test('PUT', async () => {
    const [put] = await same(p, 'PUT', 'PUT', path, TEXT_BODY);
    assert.equal(put.status, 200);
    const series = await assertSamePages(p, 'after the PUT');
    // The reference, for the record: the +Inf bucket is added from the count, escapes survive.
    assert.ok(series.includes('t_latency_seconds_bucket{instance="i1",job="textjob",le="+Inf"} 6'), series.join('\n'));
    assert.ok(series.includes('t_requests_total{instance="i1",job="textjob",method="post",nl="line1\\nline2",quote="say \\"hi\\""} 3'), series.join('\n'));
  });
  await t.test('POST replacing one family', async () => {
    const [post] = await same(p, 'POST', 'POST', path, '# TYPE t_temperature gauge\nt_temperature{room="attic"} 30\n# TYPE t_new gauge\nt_new 1\n');
    assert.equal(post.status, 200);
    const afterPost = await assertSamePages(p, 'after the POST');
    assert.ok(!afterPost.some((s) => s.includes('room="kitchen"')), 'the POST replaced the family whole');
    assert.ok(afterPost.some((s) => s.startsWith('t_size_bytes_sum')), 'the POST kept the other families');
  });
  await t.test('DELETE', async () => {
    // A second group of the same job, which the DELETE must leave alone.
    await same(p, 'PUT other', 'PUT', '/metrics/job/textjob', 'other_group_metric 1\n');
    const [del] = await same(p, 'DELETE', 'DELETE', path);
    assert.equal(del.status, 202);
    const afterDelete = await assertSamePages(p, 'after the DELETE');
    assert.ok(afterDelete.includes('other_group_metric{instance="",job="textjob"} 1'));
    await same(p, 'DELETE missing', 'DELETE', path);
    await same(p, 'DELETE other', 'DELETE', '/metrics/job/textjob');
    await assertSamePages(p, 'after both DELETEs', { empty: true });
  });
});

// ------------------------------------------------------------------ 3. protobuf

test('a delimited protobuf body (counter, gauge, untyped, summary, histograms with and without +Inf): the same series', async (t) => {
  const p = await fresh(t);
  if (!p) return;
  const [put] = await same(p, 'protobuf PUT', 'PUT', '/metrics/job/pb/instance/p1', PROTOBUF_BODY, { 'content-type': PROTOBUF_CONTENT_TYPE });
  assert.equal(put.status, 200);
  const series = await assertSamePages(p, 'after the protobuf PUT');
  assert.ok(series.includes('pb_histogram_no_inf_bucket{instance="p1",job="pb",le="+Inf"} 4'), series.join('\n'));
  assert.equal(series.filter((s) => s.startsWith('pb_histogram_inf_bucket{') && s.includes('le="+Inf"')).length, 1, series.join('\n'));

  // POST of one family, protobuf again: only that family is replaced.
  const [post] = await same(
    p,
    'protobuf POST',
    'POST',
    '/metrics/job/pb/instance/p1',
    delimitedFamilies([{ name: 'pb_gauge', type: 'GAUGE', help: 'A protobuf gauge.', metrics: [{ labels: { x: 'y' }, value: -1 }] }]),
    { 'content-type': PROTOBUF_CONTENT_TYPE },
  );
  assert.equal(post.status, 200);
  await assertSamePages(p, 'after the protobuf POST');
});

// ------------------------------------------------------------------ 4. gzip

test('a gzip-compressed text body is taken on both; corrupt gzip is a 400 on both and changes nothing', async (t) => {
  const p = await fresh(t);
  if (!p) return;
  const gz = gzipSync(TEXT_BODY);
  await t.test('the gzip body (the text body of the PUT test): same series', async () => {
    const [ok] = await same(p, 'gzip PUT', 'PUT', '/metrics/job/gz', gz, { 'content-encoding': 'gzip' });
    assert.equal(ok.status, 200);
    const series = await assertSamePages(p, 'after the gzip PUT');
    assert.ok(series.some((s) => s.startsWith('t_size_bytes_count{instance="",job="gz"}')), series.join('\n'));
  });
  await t.test('corrupt gzip: 400 on both, neither changes (no group, no failure time)', async () => {
    // Each side against its own page before: the gzip subtest compares the two.
    const before = await pagesOf(p);
    // Bodies the Pushgateway refuses. (Not every broken stream is refused there: a stream that
    // ends right after the header, or whose deflate data Go's reader gives up on, can read as
    // an empty or partial body and be taken with 200 — upstream quirks left out here.)
    const corrupt: [string, Buffer][] = [
      ['cut in the middle of the deflate data', gz.subarray(0, Math.floor(gz.length / 2))],
      ['cut inside the gzip header', gz.subarray(0, 5)],
      ['plain text, not gzip', Buffer.from('not_gzip_at_all 1\n')],
    ];
    for (const [what, body] of corrupt) {
      for (const group of ['/metrics/job/gz', '/metrics/job/gz_new']) {
        const [a] = await same(p, `corrupt gzip (${what}) to ${group}`, 'PUT', group, body, { 'content-encoding': 'gzip' });
        assert.equal(a.status, 400, `the Pushgateway (the reference) answered ${a.status} ${a.body}`);
        const now = await pagesOf(p);
        assert.deepEqual(now.pg, before.pg, `the corrupt gzip (${what}) to ${group} changed the Pushgateway (the reference)`);
        assert.deepEqual(now.tr, before.tr, `the corrupt gzip (${what}) to ${group} changed Tributary's page`);
      }
    }
  });
});

// ------------------------------------------------------------------ 5. Python client

const PYTHON_CLIENT = `
import json, sys, time
time.time = lambda: 1700000000.0  # the same _created values in every run
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client import push_to_gateway, pushadd_to_gateway, delete_from_gateway
from urllib.error import HTTPError

def full():
    reg = CollectorRegistry()
    Gauge('job_last_success_unixtime', 'Last time a batch job successfully finished', registry=reg).set(1234.5)
    c = Counter('my_requests', 'Requests', ['method'], registry=reg)
    c.labels('get').inc(3)
    c.labels('post').inc()
    h = Histogram('my_latency_seconds', 'Latency', registry=reg, buckets=(0.1, 1.0))
    h.observe(0.5)
    h.observe(0.05)
    Summary('my_size_bytes', 'Size', registry=reg).observe(10)
    return reg

def partial():
    reg = CollectorRegistry()
    Gauge('job_last_success_unixtime', 'Last time a batch job successfully finished', registry=reg).set(2000)
    Gauge('my_extra', 'Only in the pushadd', ['kind'], registry=reg).labels('a/b').set(7)
    return reg

def conflicting():
    reg = CollectorRegistry()
    Gauge('my_requests_total', 'A gauge where another group has a counter', registry=reg).set(1)
    return reg

KEY = {'path': '/var/tmp', 'instance': 'host1'}
step = sys.argv[1]
out = []
for gw in sys.argv[2:]:
    try:
        if step == 'push':
            push_to_gateway(gw, job='batchA', registry=full(), grouping_key=KEY)
        elif step == 'pushadd':
            pushadd_to_gateway(gw, job='batchA', registry=partial(), grouping_key=KEY)
        elif step == 'conflict':
            push_to_gateway(gw, job='batchB', registry=conflicting(), grouping_key={'path': '/srv'})
        elif step == 'delete':
            delete_from_gateway(gw, job='batchA', grouping_key=KEY)
        elif step == 'delete-conflict':
            delete_from_gateway(gw, job='batchB', grouping_key={'path': '/srv'})
        out.append({'raised': None})
    except HTTPError as e:
        out.append({'raised': 'HTTPError', 'code': e.code})
    except Exception as e:
        out.append({'raised': type(e).__name__, 'message': str(e)})
print(json.dumps(out))
`;

function python(step: string, gateways: string[]): Promise<{ raised: string | null; code?: number; message?: string }[]> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON3, ['-c', PYTHON_CLIENT, step, ...gateways], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`python failed: ${stderr || err.message}`));
      resolve(JSON.parse(stdout));
    });
  });
}

test('Python prometheus_client: push, pushadd, a refused push, delete (grouping key with "/" via @base64)', async (t) => {
  if (!requirePeer(t, PYTHON3, 'python3-prometheus-client')) return;
  const p = await fresh(t);
  if (!p) return;
  const steps: [string, string | null, number | undefined][] = [
    ['push', null, undefined],
    ['pushadd', null, undefined],
    ['conflict', 'HTTPError', 400],
    ['delete', null, undefined],
    ['delete-conflict', null, undefined],
  ];
  for (const [step, raised, code] of steps) {
    await t.test(step, async (st) => {
      const [pg, tr] = await python(step, [p.pg.base, p.tr.base]);
      assert.deepEqual(pg, code === undefined ? { raised } : { raised, code }, `${step}: the Pushgateway (the reference)`);
      await st.test('the client raises the same', () => assert.deepEqual(tr, pg, `${step}: what the client raised against Tributary`));
      await st.test('the same series', async () => {
        const series = await assertSamePages(p, `after ${step}`);
        if (step === 'push') {
          assert.ok(series.includes('my_requests_total{instance="host1",job="batchA",method="get",path="/var/tmp"} 3'), series.join('\n'));
        }
      });
      await st.test('the same /api/v1/metrics', () => assertSameJson(p, `after ${step}`));
    });
  }
  await assertSamePages(p, 'after the deletes', { empty: true });
});

// ------------------------------------------------------------------ 6. validation refusals

test('refused pushes: duplicate series, timestamps, histogram vs _bucket, type conflicts: 400, failure time set, data kept', async (t) => {
  const p = await fresh(t);
  if (!p) return;
  await same(p, 'setup', 'PUT', '/metrics/job/v_existing', '# TYPE keep gauge\nkeep 1\n');
  await assertSamePages(p, 'after the setup');

  const refusals: [string, string, string][] = [
    ['duplicate series, new group', '/metrics/job/v_dup', 'a 1\na 2\n'],
    ['duplicate series, existing group', '/metrics/job/v_existing', 'a 1\na 2\n'],
    ['a timestamp, new group', '/metrics/job/v_ts', 'ts_metric 1 1700000000000\n'],
    ['a timestamp, existing group', '/metrics/job/v_existing', 'ts_metric 1 1700000000000\n'],
  ];
  for (const [what, path, body] of refusals) {
    for (const method of ['PUT', 'POST']) {
      const [a] = await same(p, what, method, path, body);
      assert.equal(a.status, 400, `${what}: the Pushgateway (the reference) answered ${a.status} ${a.body}`);
      await assertSamePages(p, `after ${method} of ${what}`);
    }
  }

  // Histogram `foo` in one group, then gauge `foo_bucket` in another.
  const [h] = await same(p, 'histogram foo', 'PUT', '/metrics/job/v_h', '# TYPE foo histogram\nfoo_bucket{le="1"} 1\nfoo_bucket{le="+Inf"} 1\nfoo_sum 1\nfoo_count 1\n');
  assert.equal(h.status, 200);
  const [g] = await same(p, 'gauge foo_bucket', 'PUT', '/metrics/job/v_g', '# TYPE foo_bucket gauge\nfoo_bucket 5\n');
  assert.equal(g.status, 400);
  await assertSamePages(p, 'after gauge foo_bucket against histogram foo');
  const [c] = await same(p, 'untyped foo_count', 'PUT', '/metrics/job/v_existing', 'foo_count 5\n');
  assert.equal(c.status, 400);
  await assertSamePages(p, 'after untyped foo_count against histogram foo');

  // A TYPE conflict with another group.
  const [c1] = await same(p, 'counter tc', 'PUT', '/metrics/job/v_a', '# TYPE tc counter\ntc 1\n');
  assert.equal(c1.status, 200);
  const [c2] = await same(p, 'gauge tc', 'PUT', '/metrics/job/v_b', '# TYPE tc gauge\ntc 2\n');
  assert.equal(c2.status, 400);
  const [c3] = await same(p, 'gauge tc', 'POST', '/metrics/job/v_a/instance/x', '# TYPE tc gauge\ntc 2\n');
  assert.equal(c3.status, 400);
  const series = await assertSamePages(p, 'after the type conflicts');
  // The reference: refused new groups hold the two timestamps only, push time 0; old data stays.
  for (const job of ['v_dup', 'v_ts', 'v_g', 'v_b']) {
    assert.ok(series.includes(`push_time_seconds{instance="",job="${job}"} 0`), `${job}: ${series.join('\n')}`);
    assert.ok(series.includes(`push_failure_time_seconds{instance="",job="${job}"} >0`), `${job}: ${series.join('\n')}`);
  }
  assert.ok(series.includes('keep{instance="",job="v_existing"} 1'));
  assert.ok(series.includes('push_time_seconds{instance="",job="v_existing"} >0'));
  assert.ok(series.includes('push_failure_time_seconds{instance="",job="v_existing"} >0'));
  await assertSameJson(p, 'after the refusals');
});

// ------------------------------------------------------------------ 7. the JSON API

test('GET /api/v1/metrics: the same groups, families, types, help and metrics', async (t) => {
  const p = await fresh(t);
  if (!p) return;
  await same(p, 'text PUT', 'PUT', '/metrics/job/json_text/instance/i1', TEXT_BODY);
  await same(p, 'text POST', 'POST', '/metrics/job/json_text/instance/i1', '# HELP t_temperature Replaced.\n# TYPE t_temperature gauge\nt_temperature 1\n');
  await same(p, 'protobuf PUT', 'PUT', '/metrics/job/json_pb/instance/p1', PROTOBUF_BODY, { 'content-type': PROTOBUF_CONTENT_TYPE });
  await same(p, 'refused push, new group', 'PUT', '/metrics/job/json_fail', 'a 1\na 2\n');
  await same(p, 'ok push', 'PUT', '/metrics/job/json_okthenfail/zone/z1', 'z 1\n');
  await same(p, 'refused push, existing group', 'POST', '/metrics/job/json_okthenfail/zone/z1', 'z 1 1700000000000\n');
  await same(p, 'grouping labels via @base64', 'PUT', '/metrics/job@base64/bXkvam9i/path@base64/L3Zhci90bXA=', 'b64 1\n');
  // Pages are compared by the other tests; this one is about the JSON.
  await assertSameJson(p, 'GET /api/v1/metrics');
});

test('a grouping label with an empty value (@base64/=): kept as an empty label, as the Pushgateway keeps it', async (t) => {
  const p = await fresh(t);
  if (!p) return;
  const [a] = await same(p, 'PUT', 'PUT', '/metrics/job@base64/bXkvam9i/path@base64/L3Zhci90bXA=/empty@base64/=', 'b64 1\n');
  assert.equal(a.status, 200);
  await t.test('/metrics', async () => {
    const series = await assertSamePages(p, 'after the PUT');
    assert.ok(series.includes('b64{empty="",instance="",job="my/job",path="/var/tmp"} 1'), `the Pushgateway (the reference): ${series.join('\n')}`);
  });
  await t.test('/api/v1/metrics', () => assertSameJson(p, 'after the PUT'));
});

test('GET /api/v1/status has the Pushgateway\'s shape', async (t) => {
  const p = await fresh(t);
  if (!p) return;
  const [a, b] = await both(p, 'GET', '/api/v1/status');
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  const pg = JSON.parse(a.body) as { status: string; data: Record<string, unknown> };
  const tr = JSON.parse(b.body) as { status: string; data: Record<string, unknown> };
  assert.equal(tr.status, 'success');
  assert.deepEqual(Object.keys(tr.data).sort(), Object.keys(pg.data).sort(), 'keys of data');
  const bi = (d: Record<string, unknown>) => d.build_information as Record<string, unknown>;
  assert.deepEqual(Object.keys(bi(tr.data)).sort(), Object.keys(bi(pg.data)).sort(), 'keys of data.build_information');
  for (const [k, v] of Object.entries(bi(tr.data))) assert.equal(typeof v, 'string', `build_information.${k}`);
  const flags = tr.data.flags as Record<string, unknown>;
  assert.ok(flags !== null && typeof flags === 'object' && !Array.isArray(flags), 'data.flags is an object');
  for (const [k, v] of Object.entries(flags)) assert.equal(typeof v, 'string', `flags.${k} is a string, as the Pushgateway's are`);
  assert.equal(typeof tr.data.start_time, 'string');
  assert.ok(!Number.isNaN(Date.parse(tr.data.start_time as string)), `start_time ${String(tr.data.start_time)}`);
});

test('PUT /api/v1/admin/wipe: 202 and everything gone on both; 404 on both without the admin API', async (t) => {
  const p = await fresh(t);
  if (!p) return;
  await same(p, 'PUT', 'PUT', '/metrics/job/w1', 'w 1\n');
  await same(p, 'PUT', 'PUT', '/metrics/job/w2/instance/i', '# TYPE w2 counter\nw2 1\n');
  await same(p, 'refused', 'PUT', '/metrics/job/w3', 'w 1 123\n');
  await assertSamePages(p, 'before the wipe');
  const [a, b] = await same(p, 'wipe', 'PUT', '/api/v1/admin/wipe');
  assert.equal(a.status, 202);
  assert.equal(b.body, '');
  await assertSamePages(p, 'after the wipe', { empty: true });
  const [ja, jb] = await both(p, 'GET', '/api/v1/metrics');
  assert.deepEqual(JSON.parse(jb.body), JSON.parse(ja.body));
  assert.deepEqual(JSON.parse(ja.body), { status: 'success', data: [] });

  // Without the admin API the route does not exist.
  const pg = await startPushgateway({ adminApi: false });
  t.after(() => pg.close());
  const tr = await startTributary({ adminApi: false });
  t.after(() => tr.close());
  const q: Pair = { pg, tr };
  await same(q, 'no admin API', 'PUT', '/metrics/job/w1', 'w 1\n');
  for (const method of ['PUT', 'POST']) {
    const [x] = await same(q, 'wipe without the admin API', method, '/api/v1/admin/wipe');
    assert.equal(x.status, 404);
  }
  await assertSamePages(q, 'after the refused wipe');
});

// ------------------------------------------------------------------ 8. empty body

test('an empty PUT keeps the group with only its push-time series', async (t) => {
  const p = await fresh(t);
  if (!p) return;
  await same(p, 'PUT', 'PUT', '/metrics/job/empty', 'm1 1\nm2 2\n');
  const [a] = await same(p, 'empty PUT', 'PUT', '/metrics/job/empty', '');
  assert.equal(a.status, 200);
  const series = await assertSamePages(p, 'after the empty PUT');
  assert.deepEqual(series, pushTimes('instance="",job="empty"', '>0', '0'));
  await assertSameJson(p, 'after the empty PUT');

  // An empty body to a new group creates it, with the push-time series only.
  const [n] = await same(p, 'empty POST, new group', 'POST', '/metrics/job/empty_new/instance/i', '');
  assert.equal(n.status, 200);
  await assertSamePages(p, 'after the empty POST to a new group');
  await assertSameJson(p, 'after the empty POST to a new group');
});
