/**
 * The Influx line protocol into the pipeline, in process: the HTTP paths (naming options, value
 * types, escapes, precisions, db, bad lines quoted with their line numbers while the good ones
 * are kept, 413, gzip, extra_label, tenant paths, /query, /ping), TCP and UDP, and a fuzz test
 * of the parser (mutated valid lines never throw out of it, never hang, and every line is either
 * samples or one refusal).
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { InfluxParser, InfluxSeries, type InfluxOptions } from '../../src/formats/influx/parser.js';
import { parseGoFloatLenient as parseFloatBytes } from '../../src/formats/rows/go-float.js';
import { LineSplitter, type RowSink } from '../../src/formats/rows/index.js';
import type { Labels } from '../../src/model/labels.js';
import { selfMetricValue, waitFor } from '../helpers/scrape-harness.js';
import { rng } from '../helpers/seeded-random.js';
import { startIngest, listenerPort } from '../helpers/ingest-harness.js';

/** Every sample the pipeline got, with its Labels object (identity matters: caches key on it). */

/** Tributary with the Influx paths on (and its TCP/UDP listener), `influx` merged into the block. */
async function start(t: TestContext, influx = '') {
  const { rt, sink } = await startIngest(t, `ingest:\n  influx: {http: true, listen_address: 127.0.0.1:0${influx ? ', ' + influx : ''}}\n`);
  const base = `http://${rt.address}`;
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => fetch(base + path, { method: 'POST', body, headers });
  return { rt, sink, host: '127.0.0.1', port: listenerPort(rt, 'influx'), base, post };
}

test('influx /write: names, tags, escapes, value types, db; a series sent again is the same Labels object', async (t) => {
  const { sink, post } = await start(t);
  const body = [
    '# a comment line',
    '',
    'cpu,host=a,region=eu usage_user=1.5,usage_idle=97i,count=7u,up=t,down=FALSE,name="a string",num="12.5" 1700000000123456789',
    'esc\\ m\\,x,t\\ a=v\\=1\\,2,t2=v\\\\z f\\ 1=1 1700000000000000000',
    ',t=1 bare=4 1700000000000000000',
    'withdb,db=tagdb x=2 1700000000000000000',
    'cpu,host=a,region=eu usage_user=2.5 1700000001000000000',
    'q,t="x" f=1,s="a b,c=d\\" e" 1700000000000000000',
    'neg x=-2i,y=-1.5e3,z=Inf 1700000000000000000',
  ].join('\n');
  const r = await post('/write?db=telegraf', body);
  assert.equal(r.status, 204, await r.text());
  assert.deepEqual(sink.lines(), [
    '{"esc m,x_f 1", db="telegraf", "t a"="v=1,2", t2="v\\\\z"} 1 1700000000000',
    'bare{db="telegraf", t="1"} 4 1700000000000',
    'cpu_count{db="telegraf", host="a", region="eu"} 7 1700000000123',
    'cpu_down{db="telegraf", host="a", region="eu"} 0 1700000000123',
    'cpu_num{db="telegraf", host="a", region="eu"} 12.5 1700000000123',
    'cpu_up{db="telegraf", host="a", region="eu"} 1 1700000000123',
    'cpu_usage_idle{db="telegraf", host="a", region="eu"} 97 1700000000123',
    'cpu_usage_user{db="telegraf", host="a", region="eu"} 1.5 1700000000123',
    'cpu_usage_user{db="telegraf", host="a", region="eu"} 2.5 1700000001000',
    'neg_x{db="telegraf"} -2 1700000000000',
    'neg_y{db="telegraf"} -1500 1700000000000',
    'neg_z{db="telegraf"} Infinity 1700000000000',
    'q_f{db="telegraf", t="\\"x\\""} 1 1700000000000',
    'withdb_x{db="tagdb"} 2 1700000000000',
  ].sort());
  const users = sink.samples.filter((s) => s.labels.metricName === 'cpu_usage_user');
  assert.equal(users.length, 2);
  assert.equal(users[0].labels, users[1].labels, 'the same series is the same Labels object');
  assert.equal(sink.samples[0].job, 'influx');
});

test('influx timestamps: precision ns/u/us/ms/s/m/h, units told by size without one (as vmagent), none or 0 means now', async (t) => {
  const { sink, post } = await start(t);
  const send = async (q: string, line: string) => {
    const r = await post(`/write${q}`, line);
    assert.equal(r.status, 204, await r.text());
  };
  await send('?precision=ns', 'ns x=1 1700000000123999999');
  await send('?precision=u', 'u x=1 1700000000123999');
  await send('?precision=us', 'us x=1 1700000000123999');
  await send('?precision=ms', 'ms x=1 1700000000123');
  await send('?precision=s', 's x=1 1700000000');
  await send('?precision=m', 'm x=1 28333333');
  await send('?precision=h', 'h x=1 472222');
  await send('?precision=ns', 'small x=1 1000000000');
  // no precision: vmagent tells ns, us, ms and s apart by the number's size
  await send('', 'auto_ns x=1 1700000000123456789\nauto_us x=1 1700000000123456\nauto_ms x=1 1700000000123\nauto_s x=1 1700000000');
  const before = Date.now();
  await send('?precision=s', 'now_s x=1\nzero_s x=1 0');
  await send('', 'now x=1');
  const after = Date.now();
  const at = (name: string) => sink.samples.find((s) => s.labels.metricName === name)!.timestampMs;
  assert.equal(at('ns_x'), 1700000000123);
  assert.equal(at('u_x'), 1700000000123);
  assert.equal(at('us_x'), 1700000000123);
  assert.equal(at('ms_x'), 1700000000123);
  assert.equal(at('s_x'), 1700000000000);
  assert.equal(at('m_x'), 28333333 * 60_000);
  assert.equal(at('h_x'), 472222 * 3_600_000);
  assert.equal(at('small_x'), 1000, 'an explicit ns precision is taken at its word');
  assert.equal(at('auto_ns_x'), 1700000000123);
  assert.equal(at('auto_us_x'), 1700000000123);
  assert.equal(at('auto_ms_x'), 1700000000123);
  assert.equal(at('auto_s_x'), 1700000000000);
  for (const n of ['now_s_x', 'zero_s_x']) {
    assert.equal(at(n) % 1000, 0, `${n}: now, cut to the second`);
    assert.ok(at(n) >= Math.floor(before / 1000) * 1000 && at(n) <= after);
  }
  assert.ok(at('now_x') >= before - 1000 && at('now_x') <= after);
});

test('influx trim_timestamp cuts timestamps as vmagent -influxTrimTimestamp', async (t) => {
  const { sink, post } = await start(t, 'trim_timestamp: 1s');
  const r = await post('/write?precision=ms', 'x v=1 1700000000999');
  assert.equal(r.status, 204);
  assert.equal(sink.samples[0].timestampMs, 1700000000000);
});

test('influx naming options: skip_single_field, skip_measurement, separator, db_label', async (t) => {
  await t.test('skip_single_field', async (t) => {
    const { sink, post } = await start(t, 'skip_single_field: true');
    await post('/write', 'one,t=a x=1 1700000000\ntwo x=1,y=2 1700000000\nstr s="x",v=3 1700000000\n,t=b bare=5 1700000000');
    // a string field still counts as a field for the naming, as vmagent counts it
    assert.deepEqual(sink.lines(), ['bare{t="b"} 5 1700000000000', 'one{t="a"} 1 1700000000000', 'str_v{} 3 1700000000000', 'two_x{} 1 1700000000000', 'two_y{} 2 1700000000000']);
  });
  await t.test('skip_measurement and a separator', async (t) => {
    const { sink, post } = await start(t, 'skip_measurement: true');
    await post('/write', 'm,t=a x=1,y=2 1700000000');
    assert.deepEqual(sink.lines(), ['x{t="a"} 1 1700000000000', 'y{t="a"} 2 1700000000000']);
  });
  await t.test('separator', async (t) => {
    const { sink, post } = await start(t, 'measurement_field_separator: "."');
    await post('/write', 'm x=1 1700000000');
    assert.deepEqual(sink.lines(), ['{"m.x"} 1 1700000000000']);
  });
  await t.test('db_label', async (t) => {
    const { sink, post } = await start(t, 'db_label: database');
    await post('/write?db=one', 'm x=1 1700000000\nm,database=own x=2 1700000000');
    assert.deepEqual(sink.lines(), ['m_x{database="one"} 1 1700000000000', 'm_x{database="own"} 2 1700000000000']);
  });
  await t.test('db_label empty: no db label', async (t) => {
    const { sink, post } = await start(t, 'db_label: ""');
    await post('/write?db=one', 'm x=1 1700000000');
    assert.deepEqual(sink.lines(), ['m_x{} 1 1700000000000']);
  });
  await t.test('skip_measurement with skip_single_field: an empty name is refused', async (t) => {
    const { sink, post } = await start(t, 'skip_measurement: true, skip_single_field: true');
    const r = await post('/write', 'm x=1 1700000000\nm x=1,y=2 1700000000');
    assert.equal(r.status, 400);
    assert.match(await r.text(), /line 1: the metric name is empty/);
    assert.deepEqual(sink.lines(), ['x{} 1 1700000000000', 'y{} 2 1700000000000']);
  });
});

test('influx bad lines: 400 quoting line numbers and reasons, the good lines kept and counted', async (t) => {
  const { rt, sink, post } = await start(t);
  const body = [
    'good x=1 1700000000',
    'bad line',
    'good y=2 1700000000',
    'm x=abc 1700000000',
    'm x=1.5i 1700000000',
    'm,tag x=1 1700000000',
    'm x=1 notatime',
    'm x="unterminated 1700000000',
    'm =1 1700000000',
    'm x=-5u 1700000000',
    'm x=99999999999999999999i 1700000000',
    'good z=3',
  ].join('\n');
  const r = await post('/write', body);
  assert.equal(r.status, 400);
  // InfluxDB's shape, so that Telegraf drops the batch rather than sending it again
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  const json = (await r.json()) as { code: string; error: string; message: string };
  assert.equal(json.code, 'invalid');
  assert.equal(json.message, json.error);
  const text = json.error;
  assert.match(text, /^partial write: unable to parse 9 rows refused, 3 accepted:/);
  assert.match(text, /line 2: field "line" has no value/);
  assert.match(text, /line 4: field "x": invalid value "abc"/);
  assert.match(text, /line 5: field "x": invalid integer value "1.5i"/);
  assert.match(text, /line 6: tag "tag" has no value/);
  assert.match(text, /line 7: invalid timestamp "notatime"/);
  assert.match(text, /and 4 more/);
  assert.deepEqual(sink.samples.map((s) => s.labels.metricName).sort(), ['good_x', 'good_y', 'good_z']);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'influx', reason: 'value' }), 6);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'influx', reason: 'syntax' }), 3);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_total', { protocol: 'influx' }), 3);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'influx', code: '400' }), 1);
});

test('influx limits: 413 past max_body_bytes, a line past max_line_bytes refused as too long', async (t) => {
  const { rt, sink, post } = await start(t, 'max_body_bytes: 2KiB, max_line_bytes: 100B');
  const big = Array.from({ length: 100 }, (_, i) => `m,i=${i} x=1 1700000000`).join('\n');
  const r = await post('/write', big);
  assert.equal(r.status, 413);
  const r2 = await post('/write', `ok x=1 1700000000\nlong,t=${'a'.repeat(200)} x=1 1700000000\nok y=2 1700000000\n`);
  assert.equal(r2.status, 400);
  assert.match(await r2.text(), /line 2: line longer than the limit of 100 bytes/);
  assert.deepEqual(sink.samples.map((s) => s.labels.metricName).sort(), ['ok_x', 'ok_y']);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'influx', reason: 'too_long' }), 1);
});

test('influx gzip body, extra_label, tenant path, /api/v2/write with bucket_as_db, PUT', async (t) => {
  const { sink, post, base } = await start(t, 'bucket_as_db: true');
  let r = await post('/influx/write?db=d&extra_label=env=prod&extra_label=db=over', gzipSync('gz,host=a x=1 1700000000'), { 'content-encoding': 'gzip' });
  assert.equal(r.status, 204, await r.text());
  r = await post('/insert/42:7/influx/write', 'tenant x=1 1700000000');
  assert.equal(r.status, 204, await r.text());
  r = await post('/api/v2/write?org=o&bucket=b&precision=s', 'v2 x=1 1700000000');
  assert.equal(r.status, 204, await r.text());
  r = await post('/influx/api/v2/write?org=o&bucket=b&db=explicit&precision=ms', 'v2db x=1 1700000000000');
  assert.equal(r.status, 204, await r.text());
  r = await post('/write?bucket=ignored', 'v1bucket x=1 1700000000');
  assert.equal(r.status, 204, await r.text());
  r = await fetch(`${base}/write`, { method: 'PUT', body: 'put x=1 1700000000' });
  assert.equal(r.status, 204, await r.text());
  assert.deepEqual(sink.lines(), [
    'gz_x{db="over", env="prod", host="a"} 1 1700000000000',
    'put_x{} 1 1700000000000',
    'tenant_x{vm_account_id="42", vm_project_id="7"} 1 1700000000000',
    'v1bucket_x{} 1 1700000000000',
    'v2_x{db="b"} 1 1700000000000',
    'v2db_x{db="explicit"} 1 1700000000000',
  ]);
  r = await post('/write', 'x', { 'content-encoding': 'br' });
  assert.equal(r.status, 415);
});

test('influx /query answers SHOW DATABASES as vmagent; /ping and /influx/ping answer 204', async (t) => {
  const { base } = await start(t);
  for (const path of ['/query?q=SHOW+DATABASES', '/influx/query?q=SHOW%20DATABASES', '/query?q=CREATE+DATABASE+telegraf']) {
    const r = await fetch(base + path);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await r.json(), { results: [{ statement_id: 0, series: [{ name: 'databases', columns: ['name'], values: [['_internal']] }] }] });
  }
  const post = await fetch(`${base}/query`, { method: 'POST', body: 'q=SHOW+DATABASES', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(post.status, 200);
  await post.text();
  for (const path of ['/ping', '/influx/ping']) {
    const r = await fetch(base + path);
    assert.equal(r.status, 204);
    assert.equal(await r.text(), '');
    const h = await fetch(base + path, { method: 'HEAD' });
    assert.equal(h.status, 204);
  }
  const { base: named } = await start(t, 'database_names: [a, b]');
  const r = await fetch(`${named}/query?q=SHOW+DATABASES`);
  const json = (await r.json()) as { results: { series: { values: string[][] }[] }[] };
  assert.deepEqual(json.results[0].series[0].values, [['a'], ['b']]);
});

test('influx over TCP and UDP: lines across chunks, no db, units by size; a bad line is counted and the rest kept', async (t) => {
  const { rt, sink, host, port } = await start(t);
  const sock = connect(port, host);
  await new Promise((r) => sock.once('connect', r));
  sock.write('tcp,host=a x=1,y=2i 17000000001');
  await new Promise((r) => setTimeout(r, 50));
  sock.write('23456789\nbroken\ntcp,host=a x=3 1700000001\n');
  sock.end();
  await waitFor('three TCP samples', () => sink.samples.length >= 3, 5_000);
  await waitFor('the bad line counted', () => selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'influx', reason: 'syntax' }) === 1, 5_000);
  assert.deepEqual(sink.lines(), ['tcp_x{host="a"} 1 1700000000123', 'tcp_x{host="a"} 3 1700000001000', 'tcp_y{host="a"} 2 1700000000123']);

  const udp = createSocket('udp4');
  t.after(() => udp.close());
  udp.send('udp,host=b v=42 1700000002000\nudp,host=b w=t 1700000002000\n', port, host);
  await waitFor('the UDP samples', () => sink.samples.length >= 5, 5_000);
  assert.deepEqual(sink.lines().filter((l) => l.startsWith('udp')), ['udp_v{host="b"} 42 1700000002000', 'udp_w{host="b"} 1 1700000002000']);
});

/** Counts what a parser hands out, checking each sample's shape. */
class Collect implements RowSink {
  readonly now = 1700000000000;
  samples = 0;
  invalids = 0;
  sample(labels: Labels, value: number, ts: number): void {
    assert.ok(labels.metricName !== '' || labels.size > 0);
    assert.equal(typeof value, 'number');
    assert.ok(Number.isInteger(ts), `timestamp ${ts}`);
    this.samples++;
  }
  invalid(line: number, reason: string): void {
    assert.ok(reason.length > 0);
    assert.ok(line > 0);
    this.invalids++;
  }
}

test('influx fuzz: mutated lines never throw out of the parser or hang; the handler always answers', async (t) => {
  const opts: InfluxOptions = { measurementFieldSeparator: '_', skipSingleField: true, skipMeasurement: false, dbLabel: 'db', trimTimestampMs: 1 };
  const seeds = [
    'cpu,host=a,region=eu usage_user=1.5,usage_idle=97i,count=7u,up=t 1700000000123456789',
    'esc\\ m\\,x,t\\ a=v\\=1\\,2 f\\ 1=1,s="a \\" b,c" 1700000000',
    ',t=1 bare=4',
    'm x=-1.5e-3,y=inf,z="12" -5',
  ];
  const alphabet = ' ,=\\"#-+.eiutfTF0123456789\r\t\xff\u00e9';
  const rand = rng(18);
  const series = new InfluxSeries(opts);
  const started = Date.now();
  for (let round = 0; round < 20_000; round++) {
    const chars = [...seeds[round % seeds.length]];
    const edits = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < edits; k++) {
      const at = Math.floor(rand() * (chars.length + 1));
      const op = rand();
      const ch = alphabet[Math.floor(rand() * alphabet.length)];
      if (op < 0.4) chars.splice(at, 1);
      else if (op < 0.8) chars.splice(at, 0, ch);
      else chars[at] = ch;
    }
    const text = chars.join('');
    const out = new Collect();
    const split = new LineSplitter(new InfluxParser(series, rand() < 0.5 ? 'db1' : '', (['auto', 'ns', 's', 'h'] as const)[round % 4]), 1024);
    split.push(Buffer.from(text, 'latin1'), out);
    split.end(out);
    // a line is either refused once or gives samples (a line of only string fields gives none)
    assert.ok(out.invalids <= 1, `${JSON.stringify(text)}: ${out.invalids} refusals`);
  }
  assert.ok(Date.now() - started < 60_000, 'the fuzz rounds finished');

  // random float texts: whatever parseFloatBytes takes is a number Number() reads the same way —
  // to the last bit without an exponent, within vmagent's one unit in the last place with one
  for (let round = 0; round < 5000; round++) {
    const len = 1 + Math.floor(rand() * 8);
    let s = '';
    for (let i = 0; i < len; i++) s += '0123456789.-+eE'[Math.floor(rand() * 15)];
    const b = Buffer.from(s);
    const v = parseFloatBytes(b, 0, b.length);
    if (v === undefined) continue;
    const n = Number(s);
    if (/[eE]/.test(s)) assert.ok(Object.is(v, n) || Math.abs(v - n) <= Math.abs(n) * 2.3e-16, `${s}: ${v} vs ${n}`);
    else assert.ok(Object.is(v, n), `${s}: ${v} vs ${n}`);
  }
  // vmagent's value where an exponent scales a fraction (fastfloat times math.Pow10), not the nearest double
  const at = (s: string) => parseFloatBytes(Buffer.from(s), 0, s.length);
  assert.equal(at('76.6E+14'), 7659999999999999);
  assert.equal(at('7.66E+15'), 7660000000000000);
  assert.equal(at('12345678901234567890'), 12345678901234567000);
  assert.equal(at('1_000'), undefined);

  // and through the HTTP handler: random bytes, always an answer
  const { base } = await start(t);
  for (let round = 0; round < 30; round++) {
    const bytes = Buffer.alloc(200 + Math.floor(rand() * 2000));
    for (let i = 0; i < bytes.length; i++) bytes[i] = rand() < 0.3 ? ' ,=\n"\\'.charCodeAt(Math.floor(rand() * 6)) : Math.floor(rand() * 256);
    const r = await fetch(`${base}/write`, { method: 'POST', body: bytes });
    assert.ok(r.status === 204 || r.status === 400, `status ${r.status}`);
    await r.text();
  }
  const r = await fetch(`${base}/write`, { method: 'POST', body: 'still x=1' });
  assert.equal(r.status, 204);
});
