/**
 * `tributary import` against real servers: a bundle made by `tributary gather` from a
 * VictoriaMetrics holding a known dataset, imported into a second, empty VictoriaMetrics and
 * into a Prometheus with its remote-write receiver on, every series and value read back and
 * compared; an import killed with SIGKILL and run again, complete and without a sample twice;
 * samples outside a VictoriaMetrics' retention refused, dropped or shifted; and, against a
 * small recording server standing in for a VictoriaMetrics cluster (its paths and headers are
 * what is tested), tenants, authentication, retries and a refusal. Bad inputs (a cut ZIP, a
 * bundle without metrics, a damaged deflate stream, a malformed line) are refused with file and
 * line before anything is sent.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CLI, runCli } from '../helpers/cli-process.js';
import { gatherPeersMissing, makeDataset, parseExportLines, seriesKey, spawnLogged, startTlsProxy, startVictoriaMetrics, waitUp, type Dataset, type DatasetSeries, type RunningPeer } from '../helpers/gather-peers.js';
import { VICTORIA_METRICS } from '../helpers/peers.js';
import { freePort, PROMETHEUS, stopProcess } from '../helpers/prometheus-peer.js';
import { unzipBundle, UNZIP } from './unzip.js';
import { uncompress } from '../../src/formats/snappy/index.js';
import { parseWriteRequest } from '../../src/formats/remotewrite/index.js';

const missing = gatherPeersMissing() ?? (existsSync(UNZIP) ? undefined : `${UNZIP} is missing`);

interface Server2 {
  readonly url: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

/** A server process on `port` with a data folder of its own, up once `ready` answers. */
async function serve(bin: string, args: (dir: string) => string[], port: number, ready: string): Promise<Server2> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-import-peer-'));
  const { child, log } = spawnLogged(bin, args(dir));
  const url = `http://127.0.0.1:${port}`;
  await waitUp(bin, `${url}${ready}`, child, log);
  return {
    url,
    log,
    stop: async () => {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An empty VictoriaMetrics single node. */
async function emptyVm(flags: string[] = []): Promise<Server2> {
  const port = await freePort();
  const retention = flags.some((f) => f.startsWith('-retentionPeriod')) ? [] : ['-retentionPeriod=100y'];
  return serve(VICTORIA_METRICS, (dir) => [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-loggerLevel=ERROR', '-search.disableCache', '-search.latencyOffset=0s', ...retention, ...flags], port, '/health');
}

/** An empty Prometheus with the remote-write receiver on, scraping nothing. */
async function receivingPrometheus(): Promise<Server2> {
  return receivingPrometheusOn(await freePort(), 'global:\n  scrape_interval: 1m\n');
}

/** As receivingPrometheus, on a port chosen before (its config may name it). */
async function receivingPrometheusOn(port: number, config: string): Promise<Server2> {
  return serve(
    PROMETHEUS,
    (dir) => {
      writeFileSync(join(dir, 'prometheus.yml'), config);
      return [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver', '--log.level=warn'];
    },
    port,
    '/-/ready',
  );
}

/** Everything a VictoriaMetrics holds, as series (throws on a sample twice). */
async function exportAll(url: string): Promise<DatasetSeries[]> {
  await fetch(`${url}/internal/force_flush`);
  const r = await fetch(`${url}/api/v1/export?match[]=${encodeURIComponent('{__name__=~".+"}')}`);
  assert.equal(r.status, 200);
  return parseExportLines(await r.text());
}

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** Records every request; `answer` decides the status (and text) of each POST. */
async function recorder(answer: (r: Recorded, n: number) => [number, string] = () => [204, '']): Promise<{ url: string; requests: Recorded[]; stop: () => Promise<void> }> {
  const requests: Recorded[] = [];
  let posts = 0;
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const r = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(parts) };
      requests.push(r);
      if (req.method !== 'POST') {
        res.writeHead(404).end('no such page');
        return;
      }
      const [status, text] = answer(r, posts++);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, stop: () => new Promise((r) => server.close(() => r())) };
}

function linesOf(requests: Recorded[]): string[] {
  return requests
    .filter((r) => r.method === 'POST' && r.path.endsWith('/api/v1/import'))
    .flatMap((r) => r.body.toString().split('\n'))
    .filter((l) => l !== '');
}

/** A file of one line: one sample a minute ago. */
function oneSample(path: string): string {
  writeFileSync(path, `{"metric":{"__name__":"t"},"values":[1],"timestamps":[${Date.now() - 60_000}]}\n`);
  return path;
}

/** Runs an import of `input` and kills it (SIGKILL) once the target has taken part of it. */
async function killMidway(input: string, args: string[], name: string): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'import', input, ...args], { stdio: 'ignore' });
  const folder = dirname(input);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = readdirSync(folder).find((f) => f.startsWith(`${name}.import-`) && f.endsWith('.json'));
    let acked = 0;
    try {
      acked = state !== undefined ? ((JSON.parse(readFileSync(join(folder, state), 'utf8')) as { ackedOffset?: number }).ackedOffset ?? 0) : 0;
    } catch {
      // being replaced
    }
    if (acked > 100_000) break;
    assert.ok(Date.now() < deadline && child.exitCode === null, 'the import ended before it could be killed');
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tributary-import-'));
}

describe('tributary import', { skip: missing }, () => {
  let d: Dataset;
  let source: RunningPeer;
  let dir: string;
  let bundle: string;
  let bundleSeries: DatasetSeries[];

  before(async () => {
    d = makeDataset({ hours: 1 });
    source = await startVictoriaMetrics(d);
    dir = tmp();
    bundle = join(dir, 'bundle.zip');
    const g = await runCli(['gather', '--url', source.url, '--from', String(d.startMs / 1000), '--to', String(d.endMs / 1000), '-o', bundle, '--data-dir', join(dir, 'data')]);
    assert.equal(g.code, 0, g.stderr);
    bundleSeries = parseExportLines(unzipBundle(bundle).metrics);
    assert.equal(bundleSeries.length, d.series.length);
  });

  after(async () => {
    await source?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a gather bundle into an empty VictoriaMetrics: every series and value, verified', async () => {
    const vm = await emptyVm();
    try {
      const r = await runCli(['import', bundle, '--url', vm.url, '--data-dir', join(dir, 'd1')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, new RegExp(`verification: series ${d.series.length} of ${d.series.length}, samples ${d.samples} of ${d.samples}: complete`));
      assert.match(r.stderr, /target: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/import \(victoriametrics-single/);
      assert.deepEqual(await exportAll(vm.url), bundleSeries);
      // complete: no resume point left beside the bundle
      assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.import-')), []);
    } finally {
      await vm.stop();
    }
  });

  test('the same bundle into Prometheus by remote write: every series and value', async () => {
    const prom = await receivingPrometheus();
    try {
      const r = await runCli(['import', bundle, '--url', prom.url, '--data-dir', join(dir, 'd2')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stderr, /\(prometheus 2\.42[^,]*, remote-write\)/);
      assert.match(r.stdout, /: complete/);
      const q = await fetch(`${prom.url}/api/v1/query?${new URLSearchParams({ query: `{__name__=~".+"}[${Math.ceil((d.endMs - d.startMs) / 1000) + 60}s]`, time: String(d.endMs / 1000) })}`);
      const body = (await q.json()) as { data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
      const got = body.data.result
        .map((s) => ({
          metric: Object.fromEntries(Object.entries(s.metric).sort(([a], [b]) => (a < b ? -1 : 1))),
          timestamps: s.values.map((v) => Math.round(v[0] * 1000)),
          values: s.values.map((v) => (v[1] === "+Inf" ? Infinity : v[1] === "-Inf" ? -Infinity : Number(v[1]))),
        }))
        .sort((a, b) => (seriesKey(a.metric) < seriesKey(b.metric) ? -1 : 1));
      assert.equal(got.length, bundleSeries.length);
      assert.deepEqual(got, bundleSeries.map((s) => ({ metric: s.metric, timestamps: [...s.timestamps], values: [...s.values] })));
    } finally {
      await prom.stop();
    }
  });

  test("a Prometheus with recent data: its head's window refuses older samples; an out-of-order window takes them", async () => {
    for (const ooo of [undefined, '3h']) {
      // it scrapes itself every second: its head ends now
      const port = await freePort();
      const config = `global:\n  scrape_interval: 1s\n${ooo ? `storage:\n  tsdb:\n    out_of_order_time_window: ${ooo}\n` : ''}scrape_configs:\n  - job_name: self\n    static_configs: [{targets: ['127.0.0.1:${port}']}]\n`;
      const prom = await receivingPrometheusOn(port, config);
      try {
        for (let i = 0; i < 100; i++) {
          const t = (await (await fetch(`${prom.url}/api/v1/status/tsdb`)).json()) as { data: { headStats: { numSeries: number } } };
          if (t.data.headStats.numSeries > 0) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const r = await runCli(['import', bundle, '--url', prom.url, '--data-dir', join(dir, 'd11')]);
        if (ooo === undefined) {
          assert.equal(r.code, 1);
          assert.match(r.stderr, /samples are older than [^ ]+ \(the Prometheus head ends at [^ ]+ and takes samples at most 1h older; set storage\.tsdb\.out_of_order_time_window/);
        } else {
          assert.equal(r.code, 0, r.stderr + r.stdout);
          assert.match(r.stdout, /: complete/);
        }
      } finally {
        await prom.stop();
      }
    }
  });

  test('lines not in time order into Prometheus: sent in passes of half its window, every sample arrives', async () => {
    const prom = await receivingPrometheus();
    try {
      // one line per series over 4 h (as a plain export of a long range writes them), in small requests
      const f = join(dir, 'long.jsonl');
      const minute = 60_000;
      const end = Math.floor((Date.now() - 10 * minute) / minute) * minute;
      const lines = Array.from({ length: 30 }, (_, s) => JSON.stringify({ metric: { __name__: 'long_range', s: String(s) }, values: Array.from({ length: 240 }, (_, k) => k + s), timestamps: Array.from({ length: 240 }, (_, k) => end - (239 - k) * minute) }));
      writeFileSync(f, lines.join('\n') + '\n');
      const r = await runCli(['import', f, '--url', prom.url, '--chunk-size', '8192', '--data-dir', join(dir, 'd12')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stderr, /it is sent in 8 passes of 30m of time each/);
      assert.match(r.stdout, /verification: series 30 of 30, samples 7200 of 7200: complete/);
    } finally {
      await prom.stop();
    }
  });

  test('killed with SIGKILL mid-way and run again: complete, no sample twice', async () => {
    const vm = await emptyVm();
    const copy = join(dir, 'killed.zip');
    writeFileSync(copy, readFileSync(bundle));
    try {
      await killMidway(copy, ['--url', vm.url, '--chunk-size', '8192', '--concurrency', '2', '--data-dir', join(dir, 'd3')], 'killed.zip');
      const before = await exportAll(vm.url);
      const had = before.reduce((n, s) => n + s.timestamps.length, 0);
      assert.ok(had > 0 && had < d.samples, `part arrived before the kill (${had} of ${d.samples})`);
      const r = await runCli(['import', copy, '--url', vm.url, '--data-dir', join(dir, 'd3')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /resumed at byte \d+/);
      assert.match(r.stdout, /: complete/);
      // parseExportLines throws on a sample seen twice
      assert.deepEqual(await exportAll(vm.url), bundleSeries);
    } finally {
      await vm.stop();
    }
  });

  test('into Prometheus, killed with SIGKILL and run again: complete, nothing refused as out of order', async () => {
    const prom = await receivingPrometheus();
    const copy = join(dir, 'killed-rw.zip');
    writeFileSync(copy, readFileSync(bundle));
    try {
      await killMidway(copy, ['--url', prom.url, '--chunk-size', '8192', '--data-dir', join(dir, 'd13')], 'killed-rw.zip');
      const r = await runCli(['import', copy, '--url', prom.url, '--data-dir', join(dir, 'd13')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /resumed at byte \d+/);
      assert.match(r.stdout, new RegExp(`verification: series ${d.series.length} of ${d.series.length}, samples ${d.samples} of ${d.samples}: complete`));
    } finally {
      await prom.stop();
    }
  });

  test('a chunk whose answer timed out is not sent twice: what arrived is asked for first', async () => {
    const vm = await emptyVm();
    // answers the first import only after the client has given up on it (VictoriaMetrics took it)
    let posts = 0;
    const slow = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', async () => {
        const up = await fetch(vm.url + (req.url ?? '/'), { method: req.method, headers: { 'content-type': String(req.headers['content-type'] ?? '') }, body: req.method === 'POST' ? Buffer.concat(parts) : undefined });
        const body = Buffer.from(await up.arrayBuffer());
        if (req.method === 'POST' && req.url?.endsWith('/api/v1/import') && posts++ === 0) await new Promise((r) => setTimeout(r, 2500));
        res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'text/plain' }).end(body);
      });
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      const r = await runCli(['import', bundle, '--url', url, '--timeout', '1s', '--concurrency', '1', '--data-dir', join(dir, 'd14')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /: complete/);
      assert.ok(posts >= 2, 'the timed-out chunk was sent again');
      // parseExportLines throws on a sample seen twice
      assert.deepEqual(await exportAll(vm.url), bundleSeries);
    } finally {
      await new Promise<void>((r) => slow.close(() => r()));
      await vm.stop();
    }
  });

  test('over TLS with the CA given: imported and verified; without it refused with the reason', async () => {
    const vm = await emptyVm();
    const proxy = await startTlsProxy(vm.url);
    try {
      const ca = join(dir, 'ca.pem');
      writeFileSync(ca, proxy.caPem);
      const untrusted = await runCli(['import', bundle, '--url', proxy.url, '--data-dir', join(dir, 'd10')]);
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stderr, /certificate/i);
      const r = await runCli(['import', bundle, '--url', proxy.url, '--ca-file', ca, '--data-dir', join(dir, 'd10')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /: complete/);
      assert.equal((await exportAll(vm.url)).length, d.series.length);
    } finally {
      await proxy.stop();
      await vm.stop();
    }
  });

  test('retention: refused with the choices, dropped, or shifted inside', async () => {
    const vm = await emptyVm(['-retentionPeriod=1d']);
    try {
      const now = Date.now();
      const hour = 3_600_000;
      // 20 series, hourly from 48 h ago: the older half is past a 1-day retention
      const old = join(dir, 'old.jsonl');
      const lines: string[] = [];
      const base = Math.floor((now - 48 * hour) / 60_000) * 60_000;
      for (let s = 0; s < 20; s++) lines.push(JSON.stringify({ metric: { __name__: 'ret_test', s: String(s) }, values: Array.from({ length: 48 }, (_, k) => k), timestamps: Array.from({ length: 48 }, (_, k) => base + k * hour) }));
      writeFileSync(old, lines.join('\n') + '\n');
      const refused = await runCli(['import', old, '--url', vm.url, '--data-dir', join(dir, 'd4')]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /samples are older than the target's retention \(-retentionPeriod=1d/);
      assert.match(refused.stderr, /Choose --outside drop/);
      assert.equal((await exportAll(vm.url)).length, 0, 'nothing imported');
      const dropped = await runCli(['import', old, '--url', vm.url, '--outside', 'drop', '--data-dir', join(dir, 'd4')]);
      assert.equal(dropped.code, 0, dropped.stderr);
      const kept = await exportAll(vm.url);
      assert.equal(kept.length, 20);
      const cutoff = now - 24 * hour;
      for (const s of kept) for (const t of s.timestamps) assert.ok(t >= cutoff - 60_000, `${t} is inside the retention`);
      const inside = lines.length * 48 - kept.reduce((n, s) => n + s.timestamps.filter((t) => t < cutoff).length, 0);
      assert.ok(inside > 0);

      // six hours of 40 h ago: shifted forward into the retention, whole minutes, every value kept
      const vm2 = await emptyVm(['-retentionPeriod=1d']);
      try {
        const shiftable = join(dir, 'shift.jsonl');
        const start = Math.floor((now - 40 * hour) / 60_000) * 60_000;
        writeFileSync(shiftable, JSON.stringify({ metric: { __name__: 'shift_test' }, values: [1, 2, 3, 4, 5, 6], timestamps: [0, 1, 2, 3, 4, 5].map((k) => start + k * hour) }) + '\n');
        // a shift given is checked as it lands: 10 h is not enough for 40 h old samples and a day's retention
        const short = await runCli(['import', shiftable, '--url', vm2.url, '--shift', '10h', '--data-dir', join(dir, 'd5')]);
        assert.equal(short.code, 1);
        assert.match(short.stderr, /samples are after the shift by 10h older than the target's retention/);
        const r = await runCli(['import', shiftable, '--url', vm2.url, '--outside', 'shift', '--data-dir', join(dir, 'd5')]);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.match(r.stderr, /suggested shift: /);
        const [s] = await exportAll(vm2.url);
        assert.deepEqual(s.values, [1, 2, 3, 4, 5, 6]);
        const by = s.timestamps[0] - start;
        assert.ok(by > 0 && by % 60_000 === 0, `shifted by whole minutes (${by})`);
        assert.deepEqual(s.timestamps, [0, 1, 2, 3, 4, 5].map((k) => start + by + k * hour));
        assert.ok(s.timestamps[5] <= Date.now(), 'not into the future');
      } finally {
        await vm2.stop();
      }
    } finally {
      await vm.stop();
    }
  });

  test('tenants: /insert/<tenant>/prometheus paths and the X-Vm-* headers; basic auth', async () => {
    const rec = await recorder();
    try {
      const small = oneSample(join(dir, 'small.jsonl'));
      const a = await runCli(['import', small, '--url', rec.url, '--tenant', '42:7', '--verify', 'false', '--retention', '30d', '--data-dir', join(dir, 'd6')]);
      assert.equal(a.code, 0, a.stderr);
      const post = rec.requests.filter((r) => r.method === 'POST');
      assert.deepEqual(post.map((r) => r.path), ['/insert/42:7/prometheus/api/v1/import']);
      assert.equal(post[0].headers['x-vm-tenantid'], '42:7');
      assert.equal(post[0].headers['x-vm-accountid'], '42');
      assert.equal(post[0].headers['x-vm-projectid'], '7');
      assert.equal(post[0].headers['content-type'], 'application/jsonl');
      rec.requests.length = 0;
      const pw = join(dir, 'pw');
      writeFileSync(pw, 's3cret\n');
      const b = await runCli(['import', small, '--url', `${rec.url}/insert/5/prometheus`, '--basic-auth-user', 'ops', '--basic-auth-password-file', pw, '--verify', 'false', '--data-dir', join(dir, 'd6')]);
      assert.equal(b.code, 0, b.stderr);
      const p2 = rec.requests.filter((r) => r.method === 'POST');
      assert.deepEqual(p2.map((r) => r.path), ['/insert/5/prometheus/api/v1/import']);
      assert.equal(p2[0].headers.authorization, `Basic ${Buffer.from('ops:s3cret').toString('base64')}`);
      assert.doesNotMatch(b.stderr + b.stdout, /s3cret/);
    } finally {
      await rec.stop();
    }
    // a server that quotes the Authorization header it refused (vmauth does): not shown either
    const echo = await recorder((r) => [401, `cannot find the provided auth token ${JSON.stringify(r.headers.authorization)} in config`]);
    try {
      const pw = join(dir, 'pw2');
      writeFileSync(pw, 'wrongpass\n');
      const r = await runCli(['import', oneSample(join(dir, 'echo.jsonl')), '--url', `${echo.url}/insert/5/prometheus`, '--basic-auth-user', 'ops', '--basic-auth-password-file', pw, '--verify', 'false', '--data-dir', join(dir, 'd6')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot find the provided auth token/);
      assert.doesNotMatch(r.stderr + r.stdout, new RegExp(Buffer.from('ops:wrongpass').toString('base64')));
      assert.doesNotMatch(r.stderr + r.stdout, /wrongpass/);
    } finally {
      await echo.stop();
    }
  });

  test('remote write to any receiver: snappy 1.0 requests, each series in time order', async () => {
    const rec = await recorder();
    try {
      const f = join(dir, 'unordered.jsonl');
      const t0 = Date.now() - 3_600_000;
      // the same series on two lines, the later samples first: one TimeSeries per request, sorted
      writeFileSync(f, [JSON.stringify({ metric: { __name__: 'rw', a: 'b' }, values: [3, 4], timestamps: [t0 + 3000, t0 + 4000] }), JSON.stringify({ metric: { __name__: 'rw', a: 'b' }, values: [1, 2], timestamps: [t0 + 1000, t0 + 2000] })].join('\n') + '\n');
      const r = await runCli(['import', f, '--url', `${rec.url}/api/v1/push`, '--verify', 'false', '--data-dir', join(dir, 'd7')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const posts = rec.requests.filter((q) => q.method === 'POST' && q.body.length > 1);
      assert.equal(posts.length, 1);
      assert.equal(posts[0].headers['content-encoding'], 'snappy');
      assert.equal(posts[0].headers['x-prometheus-remote-write-version'], '0.1.0');
      const req = parseWriteRequest(uncompress(posts[0].body));
      assert.equal(req.timeseries.length, 1);
      assert.deepEqual(req.timeseries[0].samples.map((s) => [s.timestampMs, s.value]), [1, 2, 3, 4].map((k) => [t0 + k * 1000, k]));
    } finally {
      await rec.stop();
    }
  });

  test('5xx and 429 are retried; a 4xx stops with the receiver\'s words', async () => {
    const small = oneSample(join(dir, 'retry.jsonl'));
    const flaky = await recorder((_r, n) => (n === 0 ? [503, 'busy'] : n === 1 ? [429, 'slow down'] : [204, '']));
    try {
      const r = await runCli(['import', small, '--url', `${flaky.url}/api/v1/import`, '--verify', 'false', '--retention', '30d', '--data-dir', join(dir, 'd8')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.equal(linesOf(flaky.requests).length, 3, 'sent until taken');
      assert.match(r.stderr, /retrying a request \(\d so far\): (503 busy|429 slow down)/);
      assert.match(r.stdout, /2 requests sent again after a failure/);
    } finally {
      await flaky.stop();
    }
    const refusing = await recorder(() => [400, 'cannot parse JSON line: bad thing']);
    try {
      const r = await runCli(['import', small, '--url', `${refusing.url}/api/v1/import`, '--verify', 'false', '--retention', '30d', '--data-dir', join(dir, 'd8')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /refused a chunk: 400 cannot parse JSON line: bad thing/);
      assert.equal(linesOf(refusing.requests).length, 1, 'not retried');
      // refused before the target took anything: nothing to resume, no resume point left behind
      assert.ok(!readdirSync(dir).some((f) => f.startsWith('retry.jsonl.import-')), 'no resume point');
      assert.doesNotMatch(r.stderr, /run the same command again/);
    } finally {
      await refusing.stop();
    }
  });

  test('the resume point on a full disk: said once, the import goes on and completes', async (t) => {
    if (process.getuid?.() !== 0 && !process.env.CI) return t.skip('mounting a tmpfs needs root (the tests run as root in CI)');
    const small = join(dir, 'fulldisk');
    mkdirSync(small);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small], { encoding: 'utf8' });
    assert.equal(m.status, 0, `mount a tmpfs: ${m.stderr}`);
    t.after(() => {
      if (spawnSync('umount', [small]).status !== 0) spawnSync('umount', ['-l', small]);
    });
    const input = join(small, 'lines.jsonl');
    const at = Date.now() - 3_600_000;
    writeFileSync(input, Array.from({ length: 400 }, (_, i) => JSON.stringify({ metric: { __name__: 'fd', i: String(i) }, values: [i], timestamps: [at] })).join('\n') + '\n');
    // the disk fills once the import has begun (its resume point written): every later write fails
    let filled = false;
    const rec = await recorder(() => {
      if (!filled) {
        filled = true;
        spawnSync('dd', ['if=/dev/zero', `of=${join(small, 'filler')}`, 'bs=4k'], { encoding: 'utf8' });
      }
      return [204, ''];
    });
    try {
      const r = await runCli(['import', input, '--url', `${rec.url}/api/v1/import`, '--chunk-size', '4096', '--concurrency', '1', '--verify', 'false', '--retention', '30d', '--data-dir', join(dir, 'd15')]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stderr, /warning: cannot write the resume point .*lines\.jsonl\.import-[0-9a-f]+\.json \(.*no space left.*\): if the import stops now it cannot go on from there/i);
      assert.equal(r.stderr.match(/warning: cannot write the resume point/g)?.length, 1, 'said once');
      assert.equal(linesOf(rec.requests).length, 400, 'every line delivered');
    } finally {
      await rec.stop();
    }
  });

  test('bad inputs are refused with file and line before anything is sent', async () => {
    const rec = await recorder();
    try {
      const run = (file: string, ...more: string[]) => runCli(['import', file, '--url', `${rec.url}/api/v1/import`, '--verify', 'false', '--retention', '30d', '--data-dir', join(dir, 'd9'), ...more]);
      const cut = join(dir, 'cut.zip');
      writeFileSync(cut, readFileSync(bundle).subarray(0, 5000));
      let r = await run(cut);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cut\.zip: not a ZIP archive, or cut short: no end of central directory record/);

      const noMetrics = join(dir, 'nometrics.zip');
      const zdir = tmp();
      writeFileSync(join(zdir, 'a.txt'), 'hello');
      execFileSync('python3', ['-c', `import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1],'w')\nz.write(sys.argv[2],'a.txt')\nz.close()`, noMetrics, join(zdir, 'a.txt')]);
      r = await run(noMetrics);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /nometrics\.zip: the bundle has no metrics\.jsonl \(its entries: a\.txt\)/);

      // a damaged byte in the middle of the deflated metrics: the CRC or the inflate says so
      const damaged = join(dir, 'damaged.zip');
      const bytes = Buffer.from(readFileSync(bundle));
      for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length / 2) + i] ^= 0x55;
      writeFileSync(damaged, bytes);
      r = await run(damaged);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /damaged\.zip: metrics\.jsonl: corrupt ZIP/);

      const badLine = join(dir, 'badline.jsonl');
      const t = Date.now() - 60_000;
      writeFileSync(badLine, [`{"metric":{"__name__":"a"},"values":[1],"timestamps":[${t}]}`, `{"metric":{"__name__":"b"},"values":[2],"timestamps":[${t}]}`, `{"metric":{"__name__":"c"},"values":[3,4],"timestamps":[${t}]}`, `{"metric":{"__name__":"d"},"values":[5],"timestamps":[${t}]}`].join('\n') + '\n');
      r = await run(badLine);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /badline\.jsonl:3: `timestamps` array size must match `values` array size/);
      assert.equal(linesOf(rec.requests).length, 0, 'nothing sent from a bad input');

      r = await run(badLine, '--skip-bad-lines');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /1 bad lines skipped/);
      assert.deepEqual(linesOf(rec.requests).map((l) => JSON.parse(l).metric.__name__), ['a', 'b', 'd']);

      // gzip'ed lines are read as such
      rec.requests.length = 0;
      const gz = join(dir, 'lines.jsonl.gz');
      writeFileSync(gz, gzipSync(readFileSync(badLine)));
      assert.equal(gunzipSync(readFileSync(gz)).length, readFileSync(badLine).length);
      r = await run(gz, '--skip-bad-lines');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.equal(linesOf(rec.requests).length, 3);

      // --dry-run sends nothing
      rec.requests.length = 0;
      r = await run(gz, '--dry-run');
      assert.equal(r.code, 1);
      assert.match(r.stdout, /preflight: not ready: 1 bad line/);
      assert.equal(linesOf(rec.requests).length, 0);
    } finally {
      await rec.stop();
    }
  });
});
