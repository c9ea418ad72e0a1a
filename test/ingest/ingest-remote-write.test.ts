/**
 * Remote write in, in process: 1.0 requests (snappy and zstd) into the pipeline with their
 * timestamps and staleness markers' bits, the per-series cache (a series sent again is the same
 * Labels object), tenant paths and extra labels, the request and row counters, metadata sent on
 * to the remote-write URLs, 429 with Retry-After while the queue is full, and a fuzz run.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { parseConfigText } from '../../src/config/index.js';
import { WriteRequestWriter, type MetricMetadata } from '../../src/formats/remotewrite/index.js';
import { WriteRequestReceiver } from '../../src/formats/remotewrite/receive.js';
import { silentLogger } from '../../src/log/logger.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { tempDataDir } from '../helpers/fixtures.js';
import { receiver } from '../helpers/remotewrite-harness.js';
import { selfMetricValue, waitFor } from '../helpers/scrape-harness.js';
import { rng as seededRandom } from '../helpers/seeded-random.js';
import { startIngest } from '../helpers/ingest-harness.js';

type Row = [Record<string, string>, number | 'stale', number];

/** A 1.0 WriteRequest (uncompressed), metadata after the series. */
function writeRequest(rows: Row[], metadata: MetricMetadata[] = []): Buffer {
  const b = new SampleBatch(rows.length);
  for (const [l, v, ts] of rows) {
    if (v === 'stale') b.appendStale(Labels.fromRecord(l), ts);
    else b.append(Labels.fromRecord(l), v, ts);
  }
  const w = new WriteRequestWriter(1024);
  w.append(b);
  for (const m of metadata) w.appendMetadata(m);
  return Buffer.from(w.bytes());
}

async function start(t: import('node:test').TestContext, extra = '') {
  const { rt, sink } = await startIngest(t, `ingest:\n  remote_write: {http: true}\n${extra}`);
  const post = async (path: string, body: Buffer, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://${rt.address}${path}`, { method: 'POST', body, headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', ...headers } });
    return { status: res.status, text: (await res.text()).trim(), headers: res.headers };
  };
  return { rt, sink, post };
}

test('1.0 snappy: values, timestamps, staleness markers by their bits; the same Labels object for a series sent again; rows and requests counted', async (t) => {
  const { rt, sink, post } = await start(t);
  const req = writeRequest([
    [{ __name__: 'up', job: 'a', instance: 'x:1' }, 1, 1_700_000_000_000],
    [{ __name__: 'temp', room: 'b' }, -2.5, 1_700_000_000_500],
    [{ __name__: 'up', job: 'a', instance: 'x:1' }, 'stale', 1_700_000_015_000],
    [{ __name__: 'neg_ts' }, 3, -5],
  ]);
  assert.equal((await post('/api/v1/write', compressSync(req))).status, 204);
  assert.equal((await post('/api/v1/write', compressSync(req))).status, 204);
  assert.equal(sink.samples.length, 8);
  assert.deepEqual(
    sink.samples.slice(0, 4).map((s) => [s.labels.toString(), s.stale ? 'stale' : s.value, s.timestampMs, s.job]),
    [
      ['up{instance="x:1", job="a"}', 1, 1_700_000_000_000, 'remote_write'],
      ['temp{room="b"}', -2.5, 1_700_000_000_500, 'remote_write'],
      ['up{instance="x:1", job="a"}', 'stale', 1_700_000_015_000, 'remote_write'],
      ['neg_ts{}', 3, -5, 'remote_write'],
    ],
  );
  assert.equal(sink.samples[0].labels, sink.samples[2].labels, 'same series in one request: same object');
  assert.equal(sink.samples[0].labels, sink.samples[4].labels, 'and in the next request');
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_total', { protocol: 'remote_write' }), 8);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'remote_write', code: '204' }), 2);
  assert.equal(selfMetricValue(rt.registry, 'tributary_remote_write_received_samples_total', { version: '1.0' }), 8);
});

test('zstd body (as vmagent sends), tenant path and extra_label; gzip and identity are 415', async (t) => {
  const { rt, sink, post } = await start(t);
  const req = writeRequest([[{ __name__: 'z', k: 'v' }, 7, 1_700_000_000_000]]);
  const zstd = execFileSync('zstd', ['-q', '-c'], { input: req });
  assert.equal((await post('/insert/12:3/prometheus/api/v1/write?extra_label=dc=eu', zstd, { 'content-encoding': 'zstd' })).status, 204);
  assert.deepEqual(sink.samples.map((s) => [s.labels.toString(), s.value]), [['z{dc="eu", k="v", vm_account_id="12", vm_project_id="3"}', 7]]);
  assert.equal((await post('/api/v1/write', req, { 'content-encoding': 'gzip' })).status, 415);
  assert.equal((await post('/api/v1/write', req, { 'content-encoding': '' })).status, 415);
  const badZstd = await post('/api/v1/write', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]), { 'content-encoding': 'zstd' });
  assert.equal(badZstd.status, 400);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'remote_write', code: '415' }), 2);
});

test('a series without labels is a refused row (400 naming it), the others kept; malformed protobuf a 400 naming the byte', async (t) => {
  const { rt, sink, post } = await start(t);
  const good = writeRequest([[{ __name__: 'ok' }, 1, 1000]]);
  // a TimeSeries with only a sample: 0x0a len { 0x12 len { 0x09 <8 bytes> 0x10 ts } }
  const sample = Buffer.concat([Buffer.from([0x09]), Buffer.alloc(8), Buffer.from([0x10, 0x01])]);
  const bare = Buffer.concat([Buffer.from([0x0a, sample.length + 2, 0x12, sample.length]), sample]);
  const r = await post('/api/v1/write', compressSync(Buffer.concat([good, bare])));
  assert.equal(r.status, 400);
  assert.match(r.text, /1 row refused, 1 accepted:\nseries 1 has no labels/);
  assert.equal(sink.samples.length, 1);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'remote_write', reason: 'syntax' }), 1);
  const truncated = await post('/api/v1/write', compressSync(Buffer.concat([good, Buffer.from([0x0a, 0x40, 0x0a])])));
  assert.equal(truncated.status, 400);
  assert.match(truncated.text, /^prometheus\.WriteRequest: byte \d+: .*; the 1 rows before it were accepted$/);
});

test('metadata of a 1.0 request is sent on to the remote-write URLs beside the samples', async (t) => {
  const out = await receiver(() => ({ status: 204 }));
  t.after(() => out.close());
  const { post } = await start(
    t,
    `remote_write:\n  - url: ${out.url}\n    queue_config: {batch_send_deadline: 100ms}\n    metadata_config: {send_interval: 200ms}\n`,
  );
  const req = writeRequest([[{ __name__: 'http_requests_total', code: '200' }, 5, Date.now()]], [{ family: 'http_requests_total', type: 'counter', help: 'Requests.', unit: '' }]);
  assert.equal((await post('/api/v1/write', compressSync(req))).status, 204);
  await waitFor('metadata sent on', () => out.got.some((g) => g.body.metadata.some((m) => m.family === 'http_requests_total')), 10_000);
  const m = out.got.flatMap((g) => g.body.metadata).find((x) => x.family === 'http_requests_total')!;
  assert.deepEqual([m.type, m.help], ['counter', 'Requests.']);
  await waitFor('samples sent on', () => out.got.some((g) => g.body.timeseries.some((s) => s.labels.metricName === 'http_requests_total')), 10_000);
});

test('remote_write_options.receiver.enabled still turns it on, with its max_body_bytes', async (t) => {
  const dir = tempDataDir();
  const file = join(dir, 't.yml');
  writeFileSync(file, `server: {listen: 127.0.0.1:0, data_dir: ${dir}}\nremote_write_options:\n  receiver: {enabled: true, max_body_bytes: 2KiB}\n`);
  const rt = await startRuntime({ configFile: file, logger: silentLogger });
  t.after(() => rt.close(0));
  const post = (body: Buffer) => fetch(`http://${rt.address}/api/v1/write`, { method: 'POST', body, headers: { 'content-encoding': 'snappy' } }).then((r) => r.status);
  assert.equal(await post(compressSync(writeRequest([[{ __name__: 'a' }, 1, 1]]))), 204);
  assert.equal(await post(Buffer.alloc(3000)), 413);
});

test('the old key loads with a deprecation warning naming the new one; the new key loads without', () => {
  const old = parseConfigText(`remote_write_options:\n  receiver: {enabled: true}\n`, 'old.yml');
  const w = old.warnings.filter((x) => x.path === 'remote_write_options.receiver.enabled');
  assert.equal(w.length, 1);
  assert.match(w[0].message, /deprecated: use ingest\.remote_write\.http/);
  assert.deepEqual(parseConfigText(`ingest:\n  remote_write: {http: true, max_body_bytes: 1MiB}\n`, 'new.yml').warnings, []);
});

test('429 with Retry-After while the remote-write queue is full (a dead receiver, a tiny disk bound); nothing taken then', async (t) => {
  const { rt, post } = await start(
    t,
    `remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n    queue_config: {max_disk_usage: 1MiB, senders: 1, batch_send_deadline: 100ms, min_backoff: 1s, max_backoff: 5s}\n`,
  );
  const rand = seededRandom(7);
  let got429: { status: number; headers: Headers } | undefined;
  for (let i = 0; i < 200 && got429 === undefined; i++) {
    const rows: Row[] = [];
    for (let j = 0; j < 5000; j++) rows.push([{ __name__: 'filler', id: `${i}-${j}`, r: rand().toString(36) }, rand(), Date.now()]);
    const r = await post('/api/v1/write', compressSync(writeRequest(rows)));
    if (r.status === 429) got429 = r;
    else assert.equal(r.status, 204);
    if (i % 5 === 4) await new Promise((res) => setTimeout(res, 150));
  }
  assert.ok(got429, 'the queue filled and the sender was told to wait');
  assert.equal(got429.headers.get('retry-after'), '10');
  const rows = selfMetricValue(rt.registry, 'tributary_ingest_rows_total', { protocol: 'remote_write' });
  const again = await post('/api/v1/write', compressSync(writeRequest([[{ __name__: 'late' }, 1, Date.now()]])));
  assert.equal(again.status, 429);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_total', { protocol: 'remote_write' }), rows, 'a refused request adds nothing');
  assert.ok((selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'remote_write', code: '429' }) ?? 0) >= 2);
});

test('fuzz: mutated 1.0 and 2.0 requests never throw anything but a WireError and never hang', () => {
  const rand = seededRandom(42);
  const base = writeRequest(
    [
      [{ __name__: 'up', job: 'a' }, 1, 1000],
      [{ __name__: 'x', v: 'café' }, 'stale', 2000],
    ],
    [{ family: 'up', type: 'gauge', help: 'Up.' }],
  );
  const rx = new WriteRequestReceiver(100);
  const sink = { n: 0, sample() { this.n++; }, stale() { this.n++; }, invalid() {} };
  for (let i = 0; i < 20_000; i++) {
    const b = Buffer.from(base);
    const flips = 1 + Math.floor(rand() * 4);
    for (let j = 0; j < flips; j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    const cut = rand() < 0.2 ? b.subarray(0, Math.floor(rand() * b.length)) : b;
    for (const v of ['v1', 'v2'] as const) {
      try {
        rx[v](cut, sink);
      } catch (err) {
        assert.equal((err as Error).name, 'WireError', `${v} ${cut.toString('hex')}: ${(err as Error).stack}`);
      }
    }
  }
});

test('series cache: labels split around a sample, or in another order, are the same series; a different series is not', () => {
  const field = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag, body.length]), body]);
  const label = (n: string, v: string) => field(0x0a, Buffer.concat([field(0x0a, Buffer.from(n)), field(0x12, Buffer.from(v))]));
  const sample = (v: number, ts: number) => {
    const b = Buffer.alloc(9);
    b[0] = 0x09;
    b.writeDoubleLE(v, 1);
    return field(0x12, Buffer.concat([b, Buffer.from([0x10, ts])]));
  };
  const series = (...parts: Buffer[]) => field(0x0a, Buffer.concat(parts));
  const rx = new WriteRequestReceiver(100);
  const got: Labels[] = [];
  const sink = { sample: (l: Labels) => void got.push(l), stale: () => {}, invalid: () => assert.fail('no refusal') };
  rx.v1(series(label('__name__', 'a'), label('k', 'v'), sample(1, 1)), sink);
  rx.v1(series(label('__name__', 'a'), sample(2, 2), label('k', 'v')), sink);
  rx.v1(series(label('__name__', 'a'), sample(3, 3), label('k', 'v')), sink);
  rx.v1(series(label('k', 'v'), label('__name__', 'a'), sample(4, 4)), sink);
  rx.v1(series(label('__name__', 'a'), label('k', 'w'), sample(5, 5)), sink);
  assert.deepEqual(got.map((l) => l.toString()), ['a{k="v"}', 'a{k="v"}', 'a{k="v"}', 'a{k="v"}', 'a{k="w"}']);
  assert.equal(got[1], got[2], 'split labels: cached under their gathered bytes');
  assert.equal(got[0], got[1], 'gathered split labels are the bytes of the contiguous ones');
  assert.notEqual(got[4], got[0]);
});
