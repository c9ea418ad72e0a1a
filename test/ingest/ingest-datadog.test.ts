/**
 * DataDog ingestion in process: v1 and v2 JSON and the agent's protobuf into the pipeline, named as
 * vmagent 1.79.5 names them; a bad series counted and quoted while the others are kept; gzip and
 * deflate bodies, extra_label and tenant paths; the agent's other calls answered as vmagent; the
 * parsers fuzzed with mutated bodies.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, gzipSync } from 'node:zlib';
import { selfMetricValue, waitFor } from '../helpers/scrape-harness.js';
import { rng } from '../helpers/seeded-random.js';
import { DatadogBodyError, DatadogParser, sanitizeMetricName } from '../../src/formats/datadog/parser.js';
import { encodeMetricPayload, MetricPayloadReader } from '../../src/formats/datadog/proto.js';
import type { RowSink } from '../../src/formats/rows/index.js';
import { startIngest } from '../helpers/ingest-harness.js';

async function start(t: import('node:test').TestContext, datadog = '{http: true}') {
  const { rt, sink } = await startIngest(t, `ingest:\n  datadog: ${datadog}\n`);
  const base = `http://${rt.address}`;
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(base + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { rt, sink, base, post };
}

const T = 1_700_000_000;

test('datadog v1: host, device, tags to labels as vmagent names them; 202 {"status":"ok"}; a series sent again is the same Labels', async (t) => {
  const { sink, post } = await start(t);
  const body = {
    series: [
      { metric: 'system.load.1', host: 'web-1', tags: ['env:prod', 'role:db:primary', 'standalone', 'host:other', 'dup:a', 'dup:b', ':nameless', 'empty:'], points: [[T, 0.5], [T + 10.2345, 0.75]] },
      { metric: 'system.disk.used', host: 'web-1', device: 'sda1', tags: [], points: [[T, 1e9]], type: 'gauge', interval: 10 },
      { metric: 'no.host', points: [[T, 3, 999]] },
      { metric: 'system.load.1', host: 'web-1', tags: ['env:prod', 'role:db:primary', 'standalone', 'host:other', 'dup:a', 'dup:b', ':nameless', 'empty:'], points: [[T + 20, 1]] },
    ],
  };
  const r = await post('/datadog/api/v1/series', JSON.stringify(body));
  assert.equal(r.status, 202);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.deepEqual(await r.json(), { status: 'ok' });
  await waitFor('samples', () => sink.samples.length >= 5);
  const load = '{"system.load.1", dup="b", env="prod", exported_host="other", host="web-1", role="db:primary", standalone="no_label_value"}';
  assert.deepEqual(sink.rows(), [
    [load, 0.5, T * 1000],
    [load, 0.75, T * 1000 + 10234],
    ['{"system.disk.used", device="sda1", host="web-1"}', 1e9, T * 1000],
    ['{"no.host"}', 3, T * 1000],
    [load, 1, (T + 20) * 1000],
  ]);
  assert.equal(sink.samples[0].labels, sink.samples[4].labels);
});

test('datadog v1: a zero or negative timestamp is now, in whole seconds', async (t) => {
  const { sink, post } = await start(t);
  const before = Math.floor(Date.now() / 1000) * 1000;
  const r = await post('/datadog/api/v1/series', JSON.stringify({ series: [{ metric: 'm', host: 'h', points: [[0, 1], [-5, 2]] }] }));
  assert.equal(r.status, 202);
  await waitFor('samples', () => sink.samples.length >= 2);
  for (const s of sink.samples) {
    assert.ok(s.timestampMs >= before && s.timestampMs <= Date.now(), String(s.timestampMs));
    assert.equal(s.timestampMs % 1000, 0);
  }
});

test('datadog v1: bad series and points are counted and quoted, the good ones kept', async (t) => {
  const { rt, sink, post } = await start(t);
  const body = JSON.stringify({
    series: [
      { metric: 'good.one', host: 'h', points: [[T, 1]] },
      { metric: 5, host: 'h', points: [[T, 2]] },
      { metric: 'bad.tags', tags: 'env:prod', points: [[T, 3]] },
      { metric: 'bad.points', host: 'h', points: [[T, '4'], [T, null], [T], 'x', [T, 5]] },
      { metric: '', host: 'h', points: [[T, 6]] },
      'not a series',
      { metric: 'good.two', host: 'h', points: [[T, 7]] },
    ],
  });
  const r = await post('/datadog/api/v1/series', body);
  assert.equal(r.status, 400);
  const text = await r.text();
  assert.match(text, /^8 rows refused, 3 accepted:/);
  assert.match(text, /series 2: "metric" is not a string/);
  assert.match(text, /series 3 \("bad.tags"\): "tags" is not an array/);
  assert.match(text, /series 4 \("bad.points"\) point 1: invalid value "4"/);
  assert.match(text, /series 4 \("bad.points"\) point 2: invalid value null/);
  assert.match(text, /… and 3 more/);
  await waitFor('samples', () => sink.samples.length >= 3);
  assert.deepEqual(sink.rows(), [
    ['{"good.one", host="h"}', 1, T * 1000],
    ['{"bad.points", host="h"}', 5, T * 1000],
    ['{"good.two", host="h"}', 7, T * 1000],
  ]);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'datadog', reason: 'value' }), 2);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'datadog', reason: 'syntax' }), 6);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'datadog', code: '400' }), 1);

  const notJson = await post('/datadog/api/v1/series', '{"series": [');
  assert.equal(notJson.status, 400);
  assert.match(await notJson.text(), /the body is not JSON/);
  const empty = await post('/datadog/api/v1/series', '{}');
  assert.equal(empty.status, 202);
});

test('datadog: gzip and deflate (zlib) bodies; extra_label and tenant paths', async (t) => {
  const { sink, post } = await start(t);
  const one = (metric: string) => JSON.stringify({ series: [{ metric, host: 'h', tags: ['env:x'], points: [[T, 1]] }] });
  assert.equal((await post('/datadog/api/v1/series', gzipSync(one('gz')), { 'content-encoding': 'gzip' })).status, 202);
  assert.equal((await post('/datadog/api/v1/series', deflateSync(one('zl')), { 'content-encoding': 'deflate' })).status, 202);
  assert.equal((await post('/datadog/api/v1/series?extra_label=env=override&extra_label=dc=eu', one('extra'))).status, 202);
  assert.equal((await post('/insert/5:7/datadog/api/v1/series', one('tenant'))).status, 202);
  assert.equal((await post('/datadog/api/v1/series', Buffer.from('not deflate'), { 'content-encoding': 'deflate' })).status, 400);
  await waitFor('samples', () => sink.samples.length >= 4);
  assert.deepEqual(
    sink.rows().map((r) => r[0]),
    [
      'gz{env="x", host="h"}',
      'zl{env="x", host="h"}',
      'extra{dc="eu", env="override", host="h"}',
      'tenant{env="x", host="h", vm_account_id="5", vm_project_id="7"}',
    ],
  );
});

test('datadog v2: JSON with resources and point objects, and the agent\'s protobuf', async (t) => {
  const { rt, sink, post } = await start(t);
  const json = {
    series: [
      {
        metric: 'app.requests',
        type: 1,
        points: [{ timestamp: T, value: 12 }, { timestamp: T + 10, value: 13 }],
        tags: ['env:prod', 'host:tagged'],
        resources: [{ name: 'web-1', type: 'host' }, { name: 'eu', type: 'region' }],
        unit: 'request',
      },
      { metric: 'app.bad', points: [{ timestamp: T, value: 'x' }] },
    ],
  };
  const r = await post('/datadog/api/v2/series', JSON.stringify(json));
  assert.equal(r.status, 400);
  assert.match(await r.text(), /series 2 \("app.bad"\) point 1: invalid value "x"/);
  const pb = encodeMetricPayload([
    { metric: 'agent.cpu', type: 3, tags: ['env:prod', 'core:0'], resources: [{ type: 'host', name: 'web-2' }], points: [{ timestamp: T, value: 0.25 }, { timestamp: T + 15, value: -1.5 }] },
    { metric: 'agent.mem', points: [{ timestamp: T, value: 1024 }] },
  ]);
  const p = await post('/datadog/api/v2/series', deflateSync(pb), { 'content-type': 'application/x-protobuf', 'content-encoding': 'deflate' });
  assert.equal(p.status, 202);
  assert.deepEqual(await p.json(), { errors: [] });
  const garbage = await post('/datadog/api/v2/series', Buffer.from([0x0a, 0x02, 0x12, 0x10]), { 'content-type': 'application/x-protobuf' });
  assert.equal(garbage.status, 400);
  assert.match(await garbage.text(), /series 1: malformed protobuf/);
  await waitFor('samples', () => sink.samples.length >= 5);
  assert.deepEqual(sink.rows(), [
    ['{"app.requests", env="prod", exported_host="tagged", host="web-1", region="eu"}', 12, T * 1000],
    ['{"app.requests", env="prod", exported_host="tagged", host="web-1", region="eu"}', 13, (T + 10) * 1000],
    ['{"agent.cpu", core="0", env="prod", host="web-2"}', 0.25, T * 1000],
    ['{"agent.cpu", core="0", env="prod", host="web-2"}', -1.5, (T + 15) * 1000],
    ['{"agent.mem"}', 1024, T * 1000],
  ]);
  assert.ok(selfMetricValue(rt.registry, 'tributary_ingest_rows_total', { protocol: 'datadog' }) >= 5);
});

test('datadog: the agent\'s other calls are answered as vmagent 1.79.5 answers them', async (t) => {
  const { base } = await start(t);
  const cases: [string, string, number, unknown][] = [
    ['GET', '/datadog/api/v1/validate', 200, { valid: true }],
    ['POST', '/datadog/api/v1/validate', 200, { valid: true }],
    ['POST', '/datadog/api/v1/check_run', 202, { status: 'ok' }],
    ['POST', '/datadog/intake', 200, {}],
    ['POST', '/datadog/api/v1/metadata', 200, {}],
  ];
  for (const [method, path, status, body] of cases) {
    const r = await fetch(base + path, { method, body: method === 'POST' ? '{"x":1}' : undefined });
    assert.equal(r.status, status, `${method} ${path}`);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.deepEqual(await r.json(), body);
  }
});

test('datadog: paths are off unless ingest.datadog.http; sanitize_metric_name as newer vmagents', async (t) => {
  const off = await start(t, '{http: false}');
  assert.equal((await off.post('/datadog/api/v1/series', '{}')).status, 404);
  const on = await start(t, '{http: true, sanitize_metric_name: true}');
  assert.equal((await on.post('/datadog/api/v1/series', JSON.stringify({ series: [{ metric: 'my-app.req!!count_', host: 'h', points: [[T, 1]] }] }))).status, 202);
  await waitFor('sample', () => on.sink.samples.length >= 1);
  assert.equal(on.sink.samples[0].labels.toString(), '{"my_app.req_count_", host="h"}');
});

test('sanitizeMetricName: VictoriaMetrics\' test vectors', () => {
  const cases: [string, string][] = [
    ['before.dot.metric!.name', 'before.dot.metric.name'],
    ['after.dot.metric.!name', 'after.dot.metric.name'],
    ['in.the.middle.met!ric.name', 'in.the.middle.met_ric.name'],
    ['before.and.after.and.middle.met!ric!.!name', 'before.and.after.and.middle.met_ric.name'],
    ['many.consecutive.met!!!!ric!!.!!name', 'many.consecutive.met_ric.name'],
    ['many.non.consecutive.m!e!t!r!i!c!.!name', 'many.non.consecutive.m_e_t_r_i_c.name'],
    ['how.about.underscores_.!_metric!_!.__!!name', 'how.about.underscores.metric.name'],
    ['how.about.underscores.middle.met!_!_ric.name', 'how.about.underscores.middle.met_ric.name'],
  ];
  for (const [input, want] of cases) assert.equal(sanitizeMetricName(input), want, input);
});

/** A sink that only counts, for the fuzz. */
function countingSink(): RowSink & { rows: number; bad: number } {
  return {
    now: Date.now(),
    rows: 0,
    bad: 0,
    sample() {
      this.rows++;
    },
    invalid() {
      this.bad++;
    },
  };
}

function mutate(src: Buffer, rand: () => number): Buffer {
  const b = Buffer.from(src);
  const n = 1 + Math.floor(rand() * 4);
  let out = b;
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * out.length);
    const op = rand();
    if (op < 0.4) out[at] = Math.floor(rand() * 256);
    else if (op < 0.6) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    else if (op < 0.8) out = Buffer.concat([out.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), out.subarray(at)]);
    else out = out.subarray(0, at);
  }
  return out;
}

test('datadog fuzz: mutated v1, v2 and protobuf bodies never throw out of the parser nor hang', () => {
  const parser = new DatadogParser({ sanitizeMetricName: true });
  const reader = new MetricPayloadReader(parser);
  const rand = rng(18);
  const v1 = Buffer.from(JSON.stringify({ series: [{ metric: 'a.b', host: 'h', device: 'd', tags: ['k:v', 'x', 'host:y'], points: [[T, 1], [T + 1, 2.5]] }, { metric: 'c', points: [[0, -1]] }] }));
  const v2 = Buffer.from(JSON.stringify({ series: [{ metric: 'a.b', type: 3, tags: ['k:v'], resources: [{ type: 'host', name: 'h' }], points: [{ timestamp: T, value: 1 }] }] }));
  const pb = encodeMetricPayload([
    { metric: 'a.b', type: 3, tags: ['k:v', 'z'], resources: [{ type: 'host', name: 'h' }], points: [{ timestamp: T, value: 1 }, { timestamp: -1, value: 2 }] },
    { metric: 'c', points: [{ timestamp: T, value: 3 }] },
  ]);
  const started = Date.now();
  let rows = 0;
  let bad = 0;
  for (let i = 0; i < 3000; i++) {
    for (const [kind, src] of [['v1', v1], ['v2', v2], ['pb', pb]] as const) {
      const body = mutate(src, rand);
      const out = countingSink();
      try {
        if (kind === 'v1') parser.v1(body, out);
        else if (kind === 'v2') parser.v2(body, out);
        else reader.read(body, out);
      } catch (err) {
        if (!(err instanceof DatadogBodyError)) throw new Error(`${kind} threw on ${body.toString('base64')}: ${(err as Error).stack}`);
        out.bad++;
      }
      rows += out.rows;
      bad += out.bad;
    }
  }
  assert.ok(rows > 0 && bad > 0, `some mutations parse, some do not (${rows} rows, ${bad} refused)`);
  assert.ok(Date.now() - started < 60_000, 'no hang');
});

/** Everything a parse hands its sink, for comparing two parses. */
function recordingSink(now: number): RowSink & { got: string[] } {
  return {
    now,
    got: [],
    sample(labels, value, ts) {
      this.got.push(`${labels.toString()} ${value} ${ts}`);
    },
    invalid(line, reason, fault) {
      this.got.push(`refused ${line} ${fault ?? 'syntax'}: ${reason}`);
    },
  };
}

/** Whether the body was JSON at all (mutations should give both kinds). */
function compareJsonPaths(body: Buffer, fast: DatadogParser, slow: DatadogParser, v2 = false): 'valid' | 'invalid' {
  const now = 1_700_000_123_456;
  const a = recordingSink(now);
  const b = recordingSink(now);
  let errA: string | undefined;
  let errB: string | undefined;
  try {
    if (v2) fast.v2(body, a);
    else fast.v1(body, a);
  } catch (err) {
    if (!(err instanceof DatadogBodyError)) throw err;
    errA = err.message;
  }
  try {
    if (v2) slow.v2Slow(body, b);
    else slow.v1Slow(body, b);
  } catch (err) {
    if (!(err instanceof DatadogBodyError)) throw err;
    errB = err.message;
  }
  assert.deepEqual([errA === undefined, a.got], [errB === undefined, b.got], `fast and slow paths differ on ${JSON.stringify(body.toString('latin1'))}`);
  try {
    JSON.parse(body.toString('utf8'));
    return 'valid';
  } catch {
    return 'invalid';
  }
}

test('datadog v1 fast path: the byte scan gives what JSON.parse gives, on odd but valid bodies and on mutated ones', () => {
  const fast = new DatadogParser({ sanitizeMetricName: false });
  const slow = new DatadogParser({ sanitizeMetricName: false });
  const odd = [
    '{"series":[{"metric":"a","\\u0070oints":[[1700000000,1]],"points":[[1700000000,2]]}]}',
    '{"series":[{"metric":"a","metric":"b","host":"h","points":[[1700000000,2]]}]}',
    '{"series":[{"metric":"a","points":[[1700000000,2]],"points":[[1700000001,3]]}]}',
    '{"series":[{"metric":"a"}],"series":[{"metric":"b","points":[[1700000000,1]]}]}',
    ' \n{ "series" : [ { "points" : [ [ 1700000000.25 , -0.5 ] , [1700000001,1e3,7] ] , "metric" : "ws\\"q\\u00e9" , "tags" : [ "a:b" , "c" ] } ] } \n',
    '{"series":[{"metric":"nums","points":[[1700000000,123456789012345678],[1700000000,0.1],[1700000000,1.7976931348623157e308],[1700000000,1e400],[1700000000,-0],[1700000000,5e-324],[1700000000.0000001,0.30000000000000004]]}]}',
    '{"series":[{"metric":"x","points":null},{"metric":"y","points":[]},{"metric":"z","type":{"a":[1,{"b":null}],"c":true},"points":[[0,1]]}]}',
    '{"series":[{"metric":5,"points":[]},{"metric":"","points":[[1700000000,1]]},{"metric":"","points":[]},{"points":[[1700000000,1]]}]}',
    '{"series":[{"metric":"a","points":[[1700000000,1]]}],"other":[1,2,{"x":"y"}]}',
    '{"series":null}',
    '{}',
    '[]',
    '{"series":[{"metric":"a","points":[[1700000000,1]]},]}',
    '{"series":[{"metric":"a","points":[[1700000000,"1"]]}]}',
  ];
  for (const text of odd) compareJsonPaths(Buffer.from(text), fast, slow);
  assert.equal(fast.scannedBodies, 8, 'the valid odd bodies without duplicate or escaped keys take the fast path');
  const rand = rng(1879);
  const base = Buffer.from(JSON.stringify({ series: [{ metric: 'a.b', host: 'h', device: 'd', tags: ['k:v', 'x', 'host:y', ':z'], points: [[T, 1], [T + 1.5, 2.5e3]] }, { metric: 'c', tags: [], points: [[0, -1]] }, { metric: '', points: [[T, 1]] }] }));
  const taken = { valid: 0, invalid: 0 };
  for (let i = 0; i < 4000; i++) taken[compareJsonPaths(mutate(base, rand), fast, slow)]++;
  assert.ok(taken.valid > 50 && taken.invalid > 50, JSON.stringify(taken));
  assert.ok(fast.scannedBodies > 50 + 8, `fast path taken ${fast.scannedBodies} times`);
});

test('datadog v2 JSON fast path: the byte scan gives what JSON.parse gives', () => {
  const fast = new DatadogParser({ sanitizeMetricName: true });
  const slow = new DatadogParser({ sanitizeMetricName: true });
  const odd = [
    '{"series":[{"metric":"a","points":[{"value":1,"timestamp":1700000000},{"timestamp":null,"value":2},{"value":3,"extra":[1]}],"resources":[{"type":"host","name":"h"},{"name":"x"}],"tags":["k:v","host:z"]}]}',
    '{"series":[{"metric":"a","points":[{"timestamp":1700000000}]}]}',
    '{"series":[{"metric":"a","points":[{"timestamp":1700000000,"value":1,"value":2}]}]}',
    '{"series":[{"metric":"a","points":[{}]}]}',
    '{"series":[{"metric":"a","resources":"host","points":[{"timestamp":1700000000,"value":1}]}]}',
    '{"series":[{"metric":"a b!c","type":3,"unit":"s","points":[{"timestamp":1700000000.5,"value":1e-3}]}]}',
  ];
  for (const text of odd) compareJsonPaths(Buffer.from(text), fast, slow, true);
  assert.equal(fast.scannedBodies, 3);
  const rand = rng(2);
  const base = Buffer.from(JSON.stringify({ series: [{ metric: 'a.b', type: 3, tags: ['k:v', 'x'], resources: [{ type: 'host', name: 'h' }], points: [{ timestamp: T, value: 1 }, { timestamp: T + 1, value: -2.5 }] }, { metric: 'c', points: [{ value: 4 }] }] }));
  const taken = { valid: 0, invalid: 0 };
  for (let i = 0; i < 3000; i++) taken[compareJsonPaths(mutate(base, rand), fast, slow, true)]++;
  assert.ok(taken.valid > 50 && taken.invalid > 50, JSON.stringify(taken));
  assert.ok(fast.scannedBodies > 50, `fast path taken ${fast.scannedBodies} times`);
});

test('datadog fuzz over HTTP: mutated bodies get 202 or 400, never 500, and the server stays up', async (t) => {
  const { post } = await start(t);
  const rand = rng(7);
  const v1 = Buffer.from(JSON.stringify({ series: [{ metric: 'a', host: 'h', tags: ['k:v'], points: [[T, 1]] }] }));
  const pb = encodeMetricPayload([{ metric: 'a', tags: ['k:v'], points: [{ timestamp: T, value: 1 }] }]);
  for (let i = 0; i < 150; i++) {
    const proto = i % 2 === 1;
    const body = mutate(proto ? pb : v1, rand);
    const r = await post(proto ? '/datadog/api/v2/series' : '/datadog/api/v1/series', body, proto ? { 'content-type': 'application/x-protobuf' } : {});
    await r.arrayBuffer();
    assert.ok(r.status === 202 || r.status === 400, `status ${r.status}`);
  }
  assert.equal((await post('/datadog/api/v1/series', v1)).status, 202);
});
