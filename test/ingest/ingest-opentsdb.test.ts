/**
 * OpenTSDB into the pipeline over real sockets: telnet `put` over TCP and UDP, HTTP `/api/put`
 * on the telnet port (switched on the first byte), on a port of its own and on the main
 * listener; refused rows counted and quoted, the good ones kept; and fuzzing of both parsers.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { gzipSync } from 'node:zlib';
import { OpenTsdbJsonParser } from '../../src/formats/opentsdb/json.js';
import { OpenTsdbTelnetParser } from '../../src/formats/opentsdb/parser.js';
import { LineSplitter } from '../../src/formats/rows/index.js';
import type { Labels } from '../../src/model/labels.js';
import { selfMetricValue, waitFor } from '../helpers/scrape-harness.js';
import { rng } from '../helpers/seeded-random.js';
import { sendTcp } from '../helpers/ingest-peers.js';
import { mutate, startIngest, listenerPort } from '../helpers/ingest-harness.js';

async function start(t: TestContext, extra = '') {
  const { rt, sink } = await startIngest(t, `ingest:\n  opentsdb: {http: true, listen_address: 127.0.0.1:0, http_listen_address: 127.0.0.1:0${extra}}\n`);
  return { rt, sink, telnet: listenerPort(rt, 'opentsdb', 1), http: listenerPort(rt, 'opentsdb', 0), main: rt.address };
}

const T = 1_700_000_000;

test('opentsdb telnet over TCP: names, tags, seconds and milliseconds; a bad line is counted, the rest kept', async (t) => {
  const { rt, sink, telnet } = await start(t);
  await sendTcp(
    telnet,
    [
      `put sys.cpu.user ${T} 42.5 host=web01 cpu=0`,
      `put sys.cpu.user ${T}123 43 host=web01 cpu=0`,
      `put  sys.load  ${T}  1.5   host=a  empty=  =x`,
      `put broken ${T} 1 novalue`,
      `put sys.cpu.user ${T + 10} 44 host=web01 cpu=0`,
      `put no.tags ${T} 7`,
      `version`,
    ].join('\n') + '\n',
  );
  await waitFor('five samples', () => sink.samples.length >= 5, 5_000);
  assert.deepEqual(sink.rows(), [
    ['{"sys.cpu.user", cpu="0", host="web01"}', 42.5, T * 1000],
    ['{"sys.cpu.user", cpu="0", host="web01"}', 43, T * 1000 + 123],
    ['{"sys.load", host="a"}', 1.5, T * 1000],
    ['{"sys.cpu.user", cpu="0", host="web01"}', 44, (T + 10) * 1000],
    ['{"no.tags"}', 7, T * 1000],
  ]);
  assert.equal(sink.samples[0].labels, sink.samples[3].labels, 'a series sent again is the same Labels object');
  assert.equal(sink.samples[0].job, 'opentsdb');
  await waitFor('the bad lines counted', () => selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'opentsdb', reason: 'syntax' }) === 2, 5_000);
});

test('opentsdb telnet over UDP; a timestamp of 0 means now', async (t) => {
  const { sink, telnet } = await start(t);
  const udp = createSocket('udp4');
  t.after(() => udp.close());
  const before = Date.now();
  udp.send(`put udp.metric 0 42 a=b\nput udp.metric ${T} 1 a=b\n`, telnet, '127.0.0.1');
  await waitFor('the samples', () => sink.samples.length >= 2, 5_000);
  assert.equal(sink.samples[0].labels.toString(), '{"udp.metric", a="b"}');
  assert.ok(sink.samples[0].timestampMs >= Math.floor(before / 1000) * 1000 && sink.samples[0].timestampMs <= Date.now());
  assert.equal(sink.samples[0].timestampMs % 1000, 0);
  assert.equal(sink.samples[1].timestampMs, T * 1000);
});

test('opentsdb HTTP /api/put on the telnet port, the port of its own and the main listener', async (t) => {
  const { rt, sink, telnet, http, main } = await start(t);
  const body = (metric: string) => JSON.stringify([{ metric, timestamp: T, value: 1, tags: { host: 'a' } }, { metric, timestamp: `${T}500`, value: '2.5', tags: { host: 'a' } }]);
  for (const [where, base] of [
    ['telnet', `http://127.0.0.1:${telnet}`],
    ['own', `http://127.0.0.1:${http}`],
    ['main', `http://${main}`],
  ] as const) {
    const r = await fetch(`${base}/api/put`, { method: 'POST', body: body(`http.${where}`) });
    assert.equal(r.status, 204, `${where}: ${await r.text()}`);
    // a second request on the same (kept-alive) connection
    const r2 = await fetch(`${base}/api/put?extra_label=via=${where}`, { method: 'POST', body: gzipSync(body(`http.${where}.gz`)), headers: { 'content-encoding': 'gzip' } });
    assert.equal(r2.status, 204, `${where} gzip: ${await r2.text()}`);
  }
  await waitFor('twelve samples', () => sink.samples.length >= 12, 5_000);
  const rows = sink.rows().sort();
  assert.deepEqual(rows.filter((r) => r[0].startsWith('{"http.telnet')), [
    ['{"http.telnet", host="a"}', 1, T * 1000],
    ['{"http.telnet", host="a"}', 2.5, T * 1000 + 500],
    ['{"http.telnet.gz", host="a", via="telnet"}', 1, T * 1000],
    ['{"http.telnet.gz", host="a", via="telnet"}', 2.5, T * 1000 + 500],
  ]);
  assert.equal(rows.length, 12);
  assert.equal(sink.samples[0].job, 'opentsdb_http');
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'opentsdb_http', code: '204' }), 6);
});

test('opentsdb HTTP: refused objects are quoted in a 400 and the good ones kept; a syntax error keeps nothing', async (t) => {
  const { sink, http, telnet } = await start(t);
  const r = await fetch(`http://127.0.0.1:${http}/api/put`, {
    method: 'POST',
    body: JSON.stringify([{ metric: 'ok.one', timestamp: T, value: 1 }, { metric: 'bad', value: 'abc' }, { value: 1 }, 5, { metric: 'ok.two', timestamp: T, value: 2, tags: { a: 'b', e: '' } }, { metric: 'bad.tag', value: 1, tags: { n: 1 } }]),
  });
  assert.equal(r.status, 400);
  const text = await r.text();
  assert.match(text, /4 rows refused, 2 accepted/);
  assert.match(text, /element 2: invalid "value" "abc"/);
  assert.match(text, /element 3: missing "metric"/);
  assert.match(text, /element 6: tag "n"/);
  await waitFor('the good rows', () => sink.samples.length >= 2, 5_000);
  assert.deepEqual(sink.rows(), [
    ['{"ok.one"}', 1, T * 1000],
    ['{"ok.two", a="b"}', 2, T * 1000],
  ]);
  const bad = await fetch(`http://127.0.0.1:${telnet}/api/put`, { method: 'POST', body: `[{"metric":"lost","timestamp":${T},"value":1}, nope]` });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /invalid JSON/);
  const notFound = await fetch(`http://127.0.0.1:${http}/other`, { method: 'POST', body: '{}' });
  assert.equal(notFound.status, 404);
  const tenant = await fetch(`http://127.0.0.1:${http}/insert/5:6/api/put`, { method: 'POST', body: `{"metric":"tenant.m","timestamp":${T},"value":3}` });
  assert.equal(tenant.status, 204);
  await waitFor('the tenant row', () => sink.samples.length >= 3, 5_000);
  assert.equal(sink.samples[2].labels.toString(), '{"tenant.m", vm_account_id="5", vm_project_id="6"}');
  assert.ok(!sink.rows().some((r) => r[0] === '{"lost"}'));
});

test('opentsdb: the telnet port stays telnet for anything but an uppercase first byte', async (t) => {
  const { sink, telnet } = await start(t);
  await sendTcp(telnet, `version\nput after.version ${T} 1\n`);
  await sendTcp(telnet, ` put leading.blank ${T} 2\n`);
  await waitFor('both', () => sink.samples.length >= 2, 5_000);
  assert.deepEqual(sink.rows().map((r) => r[0]).sort(), ['{"after.version"}', '{"leading.blank"}']);
});

function checkingSink(seen: string[]) {
  return {
    now: 1_800_000_000_000,
    sample(labels: Labels, value: number, ts: number) {
      assert.equal(typeof value, 'number');
      assert.ok(Number.isInteger(ts), `timestamp ${ts}`);
      seen.push(`${labels.toString()} ${value} ${ts}`);
    },
    invalid(_line: number, reason: string) {
      assert.ok(reason.length > 0);
      seen.push(`invalid ${reason}`);
    },
  };
}

test('opentsdb telnet fuzz: mutated lines never throw or hang, and chunking does not change what is read', () => {
  const rand = rng(4242);
  const base = `put sys.cpu ${T} 1.5 host=a cpu=0\nput  m  ${T}123  -2e3  k=v=w  e=\n put x 0 nan\r\nput y ${T}.5 inf a=b \n`;
  const specials = [' ', '\t', '=', '\n', '\r', 'put ', '-', '.', 'e', '+', 'inf', 'nan', '0', '9'.repeat(30), '==', '\u00e4', '\x00'];
  const started = Date.now();
  for (let i = 0; i < 3000; i++) {
    const input = mutate(rand, base, specials);
    const runs: string[][] = [];
    for (const step of [input.length, 3]) {
      const seen: string[] = [];
      const sink = checkingSink(seen);
      const splitter = new LineSplitter(new OpenTsdbTelnetParser({ trimTimestampMs: i % 3 === 0 ? 60_000 : 1000 }), 256);
      for (let p = 0; p < input.length; p += step) splitter.push(input.subarray(p, p + step), sink);
      splitter.end(sink);
      runs.push(seen);
    }
    assert.deepEqual(runs[1], runs[0], `input ${JSON.stringify(input.toString('latin1'))}`);
  }
  assert.ok(Date.now() - started < 60_000);
});

test('opentsdb JSON fuzz: mutated bodies never throw or hang; a syntax error reads nothing', () => {
  const rand = rng(4243);
  const base = JSON.stringify([
    { metric: 'sys.cpu', timestamp: T, value: 1.5, tags: { host: 'a', cpu: '0' } },
    { metric: 'm\u00e4\n', timestamp: `${T}123`, value: '-2e3', tags: {} },
    { metric: 'x', value: 3, extra: [1, { a: [null, true, false] }] },
  ]);
  const specials = ['{', '}', '[', ']', ',', ':', '"', '\\', '\\u00', 'NaN', '-Inf', 'null', 'true', '"metric":', '"tags":{"a":"b"}', '0', '1e999', ' ', '\x00', '['.repeat(400)];
  const started = Date.now();
  for (let i = 0; i < 3000; i++) {
    const input = mutate(rand, base, specials);
    const runs: string[][] = [];
    for (let k = 0; k < 2; k++) {
      const seen: string[] = [];
      const err = new OpenTsdbJsonParser({ trimTimestampMs: 1 }).parse(input, checkingSink(seen));
      if (err !== undefined) assert.deepEqual(seen, [], 'a syntax error reads nothing');
      runs.push([...seen, String(err)]);
    }
    assert.deepEqual(runs[1], runs[0]);
    // what JSON.parse accepts, the parser must too (fastjson is a superset)
    let valid = true;
    try {
      JSON.parse(input.toString('utf8'));
    } catch {
      valid = false;
    }
    if (valid && input.toString('utf8') === input.toString('latin1')) assert.equal(runs[0][runs[0].length - 1], 'undefined', `refused valid JSON ${input.toString('utf8')}`);
  }
  assert.ok(Date.now() - started < 60_000);
});

test('opentsdb HTTP on the telnet port: a client that half-closes after its request still gets the answer', async (t) => {
  const { sink, telnet } = await start(t);
  const { connect } = await import('node:net');
  const body = `{"metric":"half.closed","timestamp":${T},"value":1}`;
  const answer = await new Promise<string>((resolve, reject) => {
    let got = '';
    const s = connect(telnet, '127.0.0.1', () => s.end(`POST /api/put HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`));
    s.on('data', (c: Buffer) => (got += c.toString()));
    s.once('close', () => resolve(got));
    s.once('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 204/);
  await waitFor('the sample', () => sink.samples.length >= 1, 5_000);
  assert.equal(sink.samples[0].labels.toString(), '{"half.closed"}');
});
