/**
 * The parts every push protocol shares, over a real HTTP server: line framing across chunks
 * and its limit, tenant paths and `extra_label` to labels, bodies in every encoding decoded as
 * they stream under the cap (413 past it, on either side of decompression), 415 for an unknown
 * encoding, 400 quoting the refused lines while the good ones are kept, 429 with Retry-After
 * while the remote-write queues are full, `max_labels_per_series`.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import { LineSplitter, type LineFormat, type RowSink } from '../../src/formats/rows/index.js';
import { compress as snappyCompress } from '../../src/formats/snappy/index.js';
import { Labels } from '../../src/model/labels.js';
import type { SampleBatch } from '../../src/model/samples.js';
import { silentLogger } from '../../src/log/logger.js';
import { IngestHttp } from '../../src/ingest/http.js';
import { Ingester, IngestMetrics } from '../../src/ingest/ingester.js';
import { Registry } from '../../src/selfmetrics/index.js';
import { HttpServer } from '../../src/server/index.js';
import { selfMetricValue } from '../helpers/scrape-harness.js';

/** `name value` per line; anything else is refused. */
const simple: LineFormat = {
  line(buf, start, end, lineNo, out) {
    const [name, value, extra] = buf.toString('utf8', start, end).split(' ');
    if (!name || value === undefined || extra !== undefined || Number.isNaN(Number(value))) return out.invalid(lineNo, `bad line ${JSON.stringify(buf.toString('utf8', start, end))}`);
    out.sample(Labels.fromRecord({ __name__: name }), Number(value), out.now);
  },
};

class Rows implements RowSink {
  readonly now = 1000;
  readonly got: string[] = [];
  readonly refused: string[] = [];
  sample(labels: Labels, value: number): void {
    this.got.push(`${labels.metricName}=${value}`);
  }
  invalid(line: number, reason: string, fault = 'syntax'): void {
    this.refused.push(`${line}:${fault}:${reason}`);
  }
}

test('LineSplitter: lines cut anywhere across chunks, CRLF, a last line without newline, empty lines skipped (a line of spaces is the format\'s to judge)', () => {
  const text = 'a 1\r\nb 2\n\n  \ncc 3\nd 4';
  for (let cut = 0; cut <= text.length; cut++) {
    const rows = new Rows();
    const s = new LineSplitter(simple, 100);
    s.push(Buffer.from(text.slice(0, cut)), rows);
    s.push(Buffer.from(text.slice(cut)), rows);
    s.end(rows);
    assert.deepEqual(rows.got, ['a=1', 'b=2', 'cc=3', 'd=4'], `cut at ${cut}`);
    assert.deepEqual(rows.refused, [`4:syntax:bad line "  "`], `cut at ${cut}`);
  }
});

test('LineSplitter: a line over the limit is refused as too_long with its number and skipped, never held; the next line is read', () => {
  const rows = new Rows();
  const s = new LineSplitter(simple, 8);
  s.push(Buffer.from('a 1\nthis line is far too long'), rows);
  s.push(Buffer.from(' and goes on\nb 2\n'), rows);
  s.push(Buffer.from('c 3\n' + 'x'.repeat(20) + '\nd 4\n'), rows);
  s.end(rows);
  assert.deepEqual(rows.got, ['a=1', 'b=2', 'c=3', 'd=4']);
  assert.deepEqual(rows.refused, ['2:too_long:line longer than the limit of 8 bytes', '5:too_long:line longer than the limit of 8 bytes']);
});

interface Setup {
  url: string;
  registry: Registry;
  batches: { job: string; series: string[]; values: number[] }[];
  overloaded: { now: boolean };
}

async function setup(t: import('node:test').TestContext, maxBodyBytes = 1024 * 1024, maxLabels = 30): Promise<Setup> {
  const registry = new Registry({ logger: silentLogger });
  const server = new HttpServer({ registry, logger: silentLogger });
  const batches: Setup['batches'] = [];
  const overloaded = { now: false };
  const sink = {
    write(job: string, b: SampleBatch) {
      batches.push({ job, series: Array.from({ length: b.length }, (_, i) => b.series[i].toString()), values: Array.from(b.values.subarray(0, b.length)) });
    },
    overloaded: () => overloaded.now,
  };
  const ingester = new Ingester({ protocol: 'simple', sink, metrics: new IngestMetrics(registry), logger: silentLogger, maxLabelsPerSeries: maxLabels });
  const http = new IngestHttp(server);
  http.add({
    paths: ['/simple/write'],
    ingester,
    maxBodyBytes,
    async read({ body, rows }) {
      const s = new LineSplitter(simple, 1024);
      for await (const chunk of body) s.push(chunk, rows);
      s.end(rows);
    },
  });
  const address = await server.listen('127.0.0.1:0');
  t.after(() => server.close(0));
  return { url: `http://${address}`, registry, batches, overloaded };
}

function post(url: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a request with bad lines: 400 quoting each with its line number, the good lines kept and counted', async (t) => {
  const s = await setup(t);
  const r = await post(`${s.url}/simple/write`, 'a 1\nb x\nc 3\nd\n');
  assert.equal(r.status, 400);
  assert.match(r.text, /^2 rows refused, 2 accepted:\nline 2: bad line "b x"\nline 4: bad line "d"\n$/);
  assert.deepEqual(s.batches.flatMap((b) => b.series), ['a', 'c'].map((n) => Labels.fromRecord({ __name__: n }).toString()));
  assert.equal(selfMetricValue(s.registry, 'tributary_ingest_rows_total', { protocol: 'simple' }), 2);
  assert.equal(selfMetricValue(s.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'simple', reason: 'syntax' }), 2);
  assert.equal(selfMetricValue(s.registry, 'tributary_ingest_requests_total', { protocol: 'simple', code: '400' }), 1);
  const ok = await post(`${s.url}/simple/write`, 'e 5\n');
  assert.equal(ok.status, 204);
  assert.equal(selfMetricValue(s.registry, 'tributary_ingest_requests_total', { protocol: 'simple', code: '204' }), 1);
  assert.equal(s.batches.at(-1)!.job, 'simple');
});

test('every body encoding decodes to the same rows; an unknown one is 415, a corrupt one 400', async (t) => {
  const s = await setup(t);
  const body = Buffer.from('a 1\nb 2\n');
  const { compress: zstdCompress } = await zstdFixture();
  for (const [enc, data] of [
    ['', body],
    ['gzip', gzipSync(body)],
    ['deflate', deflateSync(body)],
    ['snappy', snappyCompress(body)],
    ['zstd', zstdCompress],
  ] as const) {
    s.batches.length = 0;
    const r = await post(`${s.url}/simple/write`, data, enc ? { 'content-encoding': enc } : {});
    assert.equal(r.status, 204, `${enc}: ${r.text}`);
    assert.deepEqual(s.batches.flatMap((b) => b.values), [1, 2], enc);
  }
  assert.equal((await post(`${s.url}/simple/write`, body, { 'content-encoding': 'br' })).status, 415);
  const bad = await post(`${s.url}/simple/write`, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /^gzip: /);
});

/** A zstd frame of "a 1\nb 2\n" (zstd(1): `printf 'a 1\nb 2\n' | zstd -c | base64`). */
async function zstdFixture(): Promise<{ compress: Buffer }> {
  return { compress: Buffer.from('KLUv/QRYQQAAYSAxCmIgMgpUTE0L', 'base64') };
}

test('413 past the cap, before decompression (declared or streamed) and after it (a gzip bomb)', async (t) => {
  const s = await setup(t, 4096);
  const big = Buffer.from('a 1\n'.repeat(2000));
  const declared = await post(`${s.url}/simple/write`, big);
  assert.equal(declared.status, 413);
  const bomb = gzipSync(big);
  assert.ok(bomb.length < 4096);
  const r = await post(`${s.url}/simple/write`, bomb, { 'content-encoding': 'gzip' });
  assert.equal(r.status, 413);
  assert.match(r.text, /decompressed request body is larger than the limit of 4096 bytes/);
});

test('tenant paths and extra_label become labels; a malformed tenant or extra_label is 400', async (t) => {
  const s = await setup(t);
  assert.equal((await post(`${s.url}/insert/42:7/simple/write?extra_label=env=prod&extra_label=a=override`, 'a 1\n')).status, 204);
  assert.equal((await post(`${s.url}/insert/5/prometheus/simple/write`, 'b 2\n')).status, 204);
  assert.deepEqual(
    s.batches.flatMap((b) => b.series),
    [
      Labels.fromRecord({ __name__: 'a', a: 'override', env: 'prod', vm_account_id: '42', vm_project_id: '7' }).toString(),
      Labels.fromRecord({ __name__: 'b', vm_account_id: '5', vm_project_id: '0' }).toString(),
    ],
  );
  assert.equal((await post(`${s.url}/insert/abc/simple/write`, 'a 1\n')).status, 400);
  assert.equal((await post(`${s.url}/insert/1/nothing/here`, 'a 1\n')).status, 404);
  assert.equal((await post(`${s.url}/simple/write?extra_label=novalue`, 'a 1\n')).status, 400);
});

test('429 with Retry-After while the remote-write queues are full; accepted again once they drain', async (t) => {
  const s = await setup(t);
  s.overloaded.now = true;
  const r = await post(`${s.url}/simple/write`, 'a 1\n');
  assert.equal(r.status, 429);
  assert.equal(r.headers['retry-after'], '10');
  assert.equal(s.batches.length, 0);
  s.overloaded.now = false;
  assert.equal((await post(`${s.url}/simple/write`, 'a 1\n')).status, 204);
  assert.equal(s.batches.length, 1);
});

test('a series with more labels than max_labels_per_series is refused (too_many_labels), not cut', async (t) => {
  const s = await setup(t, 1024 * 1024, 3);
  const r = await post(`${s.url}/simple/write?extra_label=a=1&extra_label=b=2`, 'x 1\n');
  assert.equal(r.status, 204);
  const r2 = await post(`${s.url}/simple/write?extra_label=a=1&extra_label=b=2&extra_label=c=3`, 'x 1\n');
  assert.equal(r2.status, 400);
  assert.match(r2.text, /has 4 labels, more than max_labels_per_series \(3\)/);
  assert.equal(selfMetricValue(s.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'simple', reason: 'too_many_labels' }), 1);
});

test('a body that passes the cap as it streams: 413, and the rows read before it are handed on and said', async (t) => {
  const s = await setup(t, 4096);
  const r = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(`${s.url}/simple/write`, { method: 'POST' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    // chunked, no Content-Length: the cap is found while reading
    for (let i = 0; i < 20; i++) req.write('a 1\n'.repeat(100));
    req.end();
  });
  assert.equal(r.status, 413);
  const m = /the (\d+) rows before it were accepted/.exec(r.text);
  assert.ok(m, r.text);
  const handed = s.batches.reduce((n, b) => n + b.values.length, 0);
  assert.equal(handed, Number(m[1]));
  assert.ok(handed > 0 && handed <= 1024);
  assert.equal(selfMetricValue(s.registry, 'tributary_ingest_rows_total', { protocol: 'simple' }), handed);
});

test('TCP while the queues are full: nothing is read from a new connection or a busy one until they drain, then every line arrives', async (t) => {
  const { startLineListener } = await import('../../src/ingest/listeners.js');
  const { connect } = await import('node:net');
  const registry = new Registry({ logger: silentLogger });
  const got: number[] = [];
  const overloaded = { now: true };
  const sink = {
    write(_job: string, b: SampleBatch) {
      for (let i = 0; i < b.length; i++) got.push(b.values[i]);
    },
    overloaded: () => overloaded.now,
  };
  const ingester = new Ingester({ protocol: 'simple', sink, metrics: new IngestMetrics(registry), logger: silentLogger, maxLabelsPerSeries: 30 });
  const listener = await startLineListener({ address: '127.0.0.1:0', ingester, format: () => simple, maxLineBytes: 1024, udp: false });
  t.after(() => listener.close());
  const port = Number(listener.address.split(':').at(-1));
  const lines = Array.from({ length: 300 }, (_, i) => `m ${i}\n`).join('');
  const clients = await Promise.all(
    Array.from({ length: 20 }, () => new Promise<import('node:net').Socket>((resolve) => {
      const c = connect(port, '127.0.0.1', () => resolve(c));
    })),
  );
  for (const c of clients) c.end(lines);
  await new Promise((r) => setTimeout(r, 1_200));
  assert.equal(got.length, 0, 'nothing taken while the queues are full');
  overloaded.now = false;
  const deadline = Date.now() + 10_000;
  while (got.length < 20 * 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(got.length, 20 * 300, 'every line of every connection once they drain');
  for (const c of clients) c.destroy();
});

test('Expect: 100-continue: a refused push is answered before the body is sent (no 100); an accepted one gets its 100, then its answer', async (t) => {
  const s = await setup(t);
  const { connect } = await import('node:net');
  const port = Number(new URL(s.url).port);
  /** Sends the head only; resolves with what came back within 600 ms, then the body is sent. */
  const exchange = (body: string) =>
    new Promise<{ before: string; after: string }>((resolve, reject) => {
      const c = connect(port, '127.0.0.1');
      let got = '';
      c.on('data', (d) => (got += d.toString()));
      c.on('error', reject);
      c.write(`POST /simple/write HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
      setTimeout(() => {
        const before = got;
        if (!c.destroyed) c.write(body);
        setTimeout(() => {
          c.destroy();
          resolve({ before, after: got });
        }, 400);
      }, 600);
    });
  s.overloaded.now = true;
  const refused = await exchange('a 1\n');
  assert.match(refused.before, /^HTTP\/1\.1 429 /, 'the 429 comes before any body is sent');
  assert.doesNotMatch(refused.before, /100 Continue/);
  s.overloaded.now = false;
  const ok = await exchange('a 1\n');
  assert.match(ok.before, /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
  assert.match(ok.after, /HTTP\/1\.1 204 /);
  assert.equal(s.batches.flatMap((b) => b.values).length, 1);
});
