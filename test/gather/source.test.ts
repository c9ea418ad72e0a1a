/**
 * Gather's sources against real servers (test/helpers/gather-peers.ts): a VictoriaMetrics single
 * node and a Prometheus holding one known dataset, a cluster-path stand-in with vmauth checking
 * basic auth and bearer tokens, an https proxy with a self-signed CA, a dead port and a server
 * that never answers. Validation (flavour, version, attempts, hints), discovery, query checks,
 * previews and exports compared sample by sample with the dataset, in batches whose edges fall
 * on sample timestamps.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openSource, validateSource } from '../../src/gather/source.js';
import { clientSettings, SourceHttp } from '../../src/gather/source-http.js';
import { wholeLines } from '../../src/gather/source-lines.js';
import { request as httpRequest } from 'node:http';
import { SourceError, type Selection, type Source } from '../../src/gather/types.js';
import {
  datasetSlice,
  gatherPeersMissing,
  parseExportLines,
  seriesKey,
  startClusterStandIn,
  startGatherPeers,
  startTlsProxy,
  type GatherPeers,
  type RunningPeer,
  type TlsProxy,
} from '../helpers/gather-peers.js';
import { freePort } from '../helpers/prometheus-peer.js';

const missing = gatherPeersMissing();

let peers: GatherPeers;
let cluster: RunningPeer;
let authed: RunningPeer;
let tls: TlsProxy;
let silent: Server;
let silentUrl: string;
const sockets = new Set<Socket>();

before(async () => {
  if (missing !== undefined) return;
  peers = await startGatherPeers();
  [cluster, authed, tls] = await Promise.all([
    startClusterStandIn(peers.vm.url),
    startClusterStandIn(peers.vm.url, { users: [{ username: 'support', password: 's3cret' }, { bearerToken: 'tok-123' }] }),
    startTlsProxy(peers.vm.url),
  ]);
  // accepts connections and never answers
  silent = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});

after(async () => {
  if (missing !== undefined) return;
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => silent?.close(() => r()));
  await Promise.all([cluster?.stop(), authed?.stop(), tls?.stop()]);
  await peers?.stop();
});

async function collect(source: Source, selection: Selection, startMs: number, endMs: number, windowMs: number): Promise<{ text: string; chunks: number }> {
  let text = '';
  let chunks = 0;
  for (let from = startMs; from < endMs; from += windowMs) {
    for await (const c of source.exportLines(selection, from, Math.min(endMs, from + windowMs), new AbortController().signal)) {
      assert.equal(c[c.length - 1], 0x0a, 'a chunk ends with a whole line');
      text += c.toString('utf8');
      chunks++;
    }
  }
  return { text, chunks };
}

async function rejectsKind(p: Promise<unknown>, kind: SourceError['kind']): Promise<SourceError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SourceError, `a SourceError, got ${err}`);
    assert.equal(err.kind, kind, err.message);
    return err;
  }
  assert.fail(`expected a ${kind} SourceError`);
}

async function drain(it: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of it) {
    // read everything
  }
}

describe('gather sources against VictoriaMetrics and Prometheus', { skip: missing }, () => {
  test('validation tells VictoriaMetrics single, the cluster path and Prometheus apart', async () => {
    const vm = await validateSource({ url: peers.vm.url + '/' });
    assert.equal(vm.ok, true, JSON.stringify(vm));
    assert.equal(vm.source?.flavour, 'victoriametrics-single');
    assert.equal(vm.source?.apiBase, peers.vm.url);
    assert.equal(vm.source?.exportApi, true);
    // Debian's build leaves vm_app_version's version empty
    assert.equal(vm.source?.version, 'unknown');
    assert.ok(vm.attempts.some((a) => a.url.startsWith(`${peers.vm.url}/api/v1/export`) && a.ok));

    const prom = await validateSource({ url: peers.prom.url });
    assert.equal(prom.ok, true, JSON.stringify(prom));
    assert.deepEqual(prom.source, { flavour: 'prometheus', version: '2.42.0+ds', apiBase: peers.prom.url, exportApi: false });
    assert.ok(prom.attempts.some((a) => a.url.startsWith(`${peers.prom.url}/api/v1/export`) && !a.ok && a.status === 404));

    const viaPath = await validateSource({ url: `${cluster.url}/select/0/prometheus/` });
    assert.equal(viaPath.source?.flavour, 'victoriametrics-cluster');
    assert.equal(viaPath.source?.apiBase, `${cluster.url}/select/0/prometheus`);
    const viaTenant = await validateSource({ url: cluster.url, tenant: '7' });
    assert.equal(viaTenant.source?.apiBase, `${cluster.url}/select/7/prometheus`);
  });

  test('a vmselect root without /select/<tenant>/prometheus fails with the hint, every attempt listed', async () => {
    const r = await validateSource({ url: cluster.url });
    assert.equal(r.ok, false);
    assert.match(r.hint ?? '', /vmselect requires \/select\/<tenant>\/prometheus/);
    assert.match(r.hint ?? '', new RegExp(`${cluster.url}/select/0/prometheus answers`));
    assert.deepEqual(
      r.attempts.map((a) => [a.url.split('?')[0], a.ok, a.status]),
      [
        [`${cluster.url}/api/v1/query`, false, 400],
        [`${cluster.url}/select/0/prometheus/api/v1/query`, true, 200],
      ],
    );
    assert.match(r.error ?? '', /unsupported path/);
  });

  test('basic auth and bearer tokens through vmauth; wrong or missing credentials are an auth error with a hint', async () => {
    const url = `${authed.url}/select/0/prometheus`;
    const basic = await validateSource({ url, auth: { type: 'basic', username: 'support', password: 's3cret' } });
    assert.equal(basic.ok, true, JSON.stringify(basic));
    assert.equal(basic.source?.flavour, 'victoriametrics-cluster');
    const bearer = await validateSource({ url, auth: { type: 'bearer', token: 'tok-123' } });
    assert.equal(bearer.ok, true, JSON.stringify(bearer));
    const header = await validateSource({ url, auth: { type: 'header', name: 'Authorization', value: 'Bearer tok-123' } });
    assert.equal(header.ok, true, JSON.stringify(header));

    const inUrl = await validateSource({ url: url.replace('http://', 'http://support:s3cret@') });
    assert.equal(inUrl.ok, true, JSON.stringify(inUrl));
    assert.ok(!JSON.stringify(inUrl).includes('s3cret'), 'credentials typed into the URL are not shown');

    const wrong = await validateSource({ url, auth: { type: 'basic', username: 'support', password: 'nope' } });
    assert.equal(wrong.ok, false);
    assert.match(wrong.hint ?? '', /credentials were refused/);
    assert.ok(!JSON.stringify(wrong).includes('nope'), 'the password is not echoed');
    const none = await validateSource({ url });
    assert.equal(none.ok, false);
    assert.match(none.hint ?? '', /wants credentials/);
    await rejectsKind(openSource({ url, auth: { type: 'bearer', token: 'wrong' } }), 'auth');

    // the source opened with credentials exports through vmauth
    const src = await openSource({ url, auth: { type: 'bearer', token: 'tok-123' } });
    try {
      const { text } = await collect(src, { selectors: ['{__name__="up"}'] }, peers.dataset.startMs, peers.dataset.endMs, 3_600_000);
      assert.deepEqual(parseExportLines(text), datasetSlice(peers.dataset, peers.dataset.startMs, peers.dataset.endMs, (m) => m.__name__ === 'up'));
    } finally {
      await src.close();
    }
  });

  test('TLS: a CA given is trusted, skip-verify works, an unknown CA fails with the hint', async () => {
    const withCa = await validateSource({ url: tls.url, tls: { ca: tls.caPem } });
    assert.equal(withCa.ok, true, JSON.stringify(withCa));
    assert.equal(withCa.source?.apiBase, tls.url);
    const skip = await validateSource({ url: tls.url, tls: { insecureSkipVerify: true } });
    assert.equal(skip.ok, true, JSON.stringify(skip));
    const untrusted = await validateSource({ url: tls.url });
    assert.equal(untrusted.ok, false);
    assert.match(untrusted.hint ?? '', /certificate is not trusted.*CA certificate/);
    assert.match(untrusted.attempts[0].error ?? '', /certificate/i);
    const plain = await validateSource({ url: tls.url.replace('https:', 'http:') });
    assert.equal(plain.ok, false);

    const src = await openSource({ url: tls.url, tls: { ca: tls.caPem } });
    try {
      const { text } = await collect(src, { selectors: ['{job="vmselect"}'] }, peers.dataset.startMs, peers.dataset.endMs, 1_800_000);
      assert.deepEqual(parseExportLines(text), datasetSlice(peers.dataset, peers.dataset.startMs, peers.dataset.endMs, (m) => m.job === 'vmselect'));
    } finally {
      await src.close();
    }
  });

  test('a dead port: a network error and the host/port hint', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await validateSource({ url });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /ECONNREFUSED/);
    assert.match(r.hint ?? '', /check the host and port/);
    assert.equal(r.attempts.length, 1);
    await rejectsKind(openSource({ url }), 'network');
  });

  test('discovery finds the dataset\'s jobs, components, instances and series exactly', async () => {
    const { startMs, endMs, jobs } = peers.dataset;
    for (const [url, flavour] of [
      [peers.vm.url, 'vm'],
      [peers.prom.url, 'prom'],
    ] as const) {
      const src = await openSource({ url });
      try {
        const d = await src.discover(startMs, endMs);
        const want = jobs
          .map((j) => ({ job: j.job, component: flavour === 'vm' ? j.component : 'unknown', instances: j.instances.length, series: j.series }))
          .sort((a, b) => (a.job < b.job ? -1 : 1));
        assert.deepEqual([...d.jobs].sort((a, b) => (a.job < b.job ? -1 : 1)), want, flavour);
        assert.equal(d.totalSeries, peers.dataset.series.length);
        assert.equal(d.estimated, undefined, 'counted, not estimated');
        const node = d.components.find((c) => c.component === 'unknown');
        assert.ok(node, 'jobs without vm_app_version are component unknown');
        if (flavour === 'vm') {
          assert.deepEqual(node, { component: 'unknown', jobs: 1, instances: 4, series: jobs.find((j) => j.job === 'node')!.series });
          assert.deepEqual(d.components.map((c) => c.component).sort(), ['unknown', 'vmagent', 'vmselect', 'vmstorage']);
        }
        // a range before the data holds nothing
        const empty = await src.discover(startMs - 7_200_000, startMs - 3_600_000);
        assert.equal(empty.totalSeries, 0, flavour);
      } finally {
        await src.close();
      }
    }
  });

  test('label names and values of a selection over the range, as the dataset has them, on both flavours', async () => {
    const { startMs, endMs, series } = peers.dataset;
    const vmselect = series.filter((s) => s.metric.job === 'vmselect');
    const names = (xs: typeof series) => [...new Set(xs.flatMap((s) => Object.keys(s.metric)))].filter((n) => n !== '__name__').sort();
    const values = (xs: typeof series, l: string) => [...new Set(xs.flatMap((s) => (s.metric[l] === undefined ? [] : [s.metric[l]])))].sort();
    for (const url of [peers.vm.url, peers.prom.url]) {
      const src = await openSource({ url });
      try {
        assert.deepEqual(await src.labelNames({ selectors: ['{job="vmselect"}'] }, startMs, endMs), names(vmselect), url);
        assert.deepEqual(await src.labelValues('instance', { selectors: ['{job="vmselect"}'] }, startMs, endMs), values(vmselect, 'instance'), url);
        assert.deepEqual(await src.labelValues('instance', { selectors: [] }, startMs, endMs), values(series, 'instance'), `${url}: every series`);
      } finally {
        await src.close();
      }
    }
  });

  test('query checks: selectors counted over the range, parse errors in the server\'s words', async () => {
    const { startMs, endMs } = peers.dataset;
    const nodeSeries = peers.dataset.jobs.find((j) => j.job === 'node')!.series;
    for (const url of [peers.vm.url, peers.prom.url]) {
      const src = await openSource({ url });
      try {
        assert.deepEqual(await src.validateQuery({ selectors: ['{job="node"}'] }, startMs, endMs), { ok: true, series: nodeSeries });
        assert.deepEqual(await src.validateQuery({ selectors: ['up'] }, startMs, endMs), { ok: true, series: 10 });
        const fn = await src.validateQuery({ selectors: ['rate(up[5m])'] }, startMs, endMs);
        assert.equal(fn.ok, false);
        assert.match(fn.error ?? '', /not a series selector/);
        const broken = await src.validateQuery({ selectors: ['{job=~"("}'] }, startMs, endMs);
        assert.equal(broken.ok, false, url);
        assert.match(broken.error ?? '', /HTTP 4\d\d.*(missing closing|parse|regexp)/i);
        assert.deepEqual(await src.validateQuery({ query: 'sum(up)', stepMs: 60_000 }, startMs, endMs), { ok: true, series: 1 });
        assert.deepEqual(await src.validateQuery({ query: 'sum by (job) (up)', stepMs: 60_000 }, startMs, endMs), { ok: true, series: 4 });
        assert.deepEqual(await src.validateQuery({ query: 'time()', stepMs: 60_000 }, startMs, endMs), { ok: true, series: 1 });
        const q = await src.validateQuery({ query: 'sum(up', stepMs: 60_000 }, startMs, endMs);
        assert.equal(q.ok, false);
        assert.match(q.error ?? '', /parse|unexpected|unclosed/i);
      } finally {
        await src.close();
      }
    }
  });

  test('preview: at most `limit` series, parsed, equal to the dataset', async () => {
    const { startMs, endMs } = peers.dataset;
    const want = new Map(peers.dataset.series.filter((s) => s.metric.__name__ === 'special_values').map((s) => [seriesKey(s.metric), s]));
    for (const url of [peers.vm.url, peers.prom.url]) {
      const src = await openSource({ url });
      try {
        const got = await src.sample({ selectors: ['special_values'] }, startMs, endMs, 3);
        assert.equal(got.length, 3, url);
        for (const s of got) {
          const w = want.get(seriesKey(s.metric));
          assert.ok(w, `${url}: ${JSON.stringify(s.metric)} is in the dataset`);
          assert.deepEqual([s.values, s.timestamps], [w.values, w.timestamps], url);
        }
        assert.ok(got.some((s) => s.values.includes(Infinity) && s.values.includes(-Infinity)));
        const q = await src.sample({ query: 'count(up)', stepMs: 60_000 }, startMs + 600_000, startMs + 1_200_000, 5);
        assert.deepEqual(q.map((s) => [s.metric, s.values.length, new Set(s.values)]), [[{}, 10, new Set([10])]], url);
      } finally {
        await src.close();
      }
    }
  });

  test('export: VictoriaMetrics and Prometheus return exactly the dataset in 5-minute batches (edges on sample times)', async () => {
    const { startMs, endMs } = peers.dataset;
    const want = datasetSlice(peers.dataset, startMs, endMs);
    for (const url of [peers.vm.url, peers.prom.url]) {
      const src = await openSource({ url });
      try {
        const { text, chunks } = await collect(src, { selectors: ['{__name__=~".+"}'] }, startMs, endMs, 300_000);
        assert.ok(chunks >= 24, `${url}: ${chunks} chunks`);
        const got = parseExportLines(text);
        assert.equal(got.length, want.length, url);
        assert.equal(got.reduce((n, s) => n + s.timestamps.length, 0), peers.dataset.samples, url);
        assert.deepEqual(got, want, url);
      } finally {
        await src.close();
      }
    }
  });

  test('export of an odd window and overlapping selectors: every sample once', async () => {
    const { startMs } = peers.dataset;
    const from = startMs + 123_457;
    const to = from + 47 * 60_000 + 1;
    const keep = (m: Readonly<Record<string, string>>): boolean => m.job === 'node' || m.__name__ === 'up';
    const want = datasetSlice(peers.dataset, from, to, keep);
    for (const url of [peers.vm.url, peers.prom.url]) {
      const src = await openSource({ url });
      try {
        const { text } = await collect(src, { selectors: ['{job="node"}', '{__name__="up"}'] }, from, to, 7 * 60_000 + 333);
        assert.deepEqual(parseExportLines(text), want, url);
      } finally {
        await src.close();
      }
    }
  });

  test('query mode: query_range on the step grid, batch edges between grid points lose or repeat nothing', async () => {
    const { startMs } = peers.dataset;
    const from = startMs + 600_000;
    const to = from + 1_800_000;
    for (const url of [peers.vm.url, peers.prom.url]) {
      const src = await openSource({ url });
      try {
        const { text } = await collect(src, { query: 'count(up)', stepMs: 60_000 }, from, to, 7 * 60_000 + 500);
        const got = parseExportLines(text);
        assert.equal(got.length, 1, url);
        assert.deepEqual(got[0].timestamps, Array.from({ length: 30 }, (_, i) => from + i * 60_000), url);
        assert.ok(got[0].values.every((v) => v === 10), `${url}: ${got[0].values}`);
      } finally {
        await src.close();
      }
    }
  });

  test('a source that does not answer in time: kind timeout; an abort cancels at once', async () => {
    const info = { flavour: 'victoriametrics-single' as const, version: 'unknown', apiBase: silentUrl, exportApi: true };
    const src = await openSource({ url: silentUrl, timeoutMs: 300 }, info);
    try {
      const t0 = Date.now();
      const e = await rejectsKind(drain(src.exportLines({ selectors: ['up'] }, 0, 60_000, new AbortController().signal)), 'timeout');
      assert.match(e.message, /0\.3s/);
      assert.ok(Date.now() - t0 < 5_000);
      await rejectsKind(src.discover(0, 60_000), 'timeout');
    } finally {
      await src.close();
    }
    const slow = await openSource({ url: silentUrl, timeoutMs: 60_000 }, info);
    try {
      const ac = new AbortController();
      const t0 = Date.now();
      setTimeout(() => ac.abort(), 100);
      await rejectsKind(drain(slow.exportLines({ selectors: ['up'] }, 0, 60_000, ac.signal)), 'canceled');
      assert.ok(Date.now() - t0 < 2_000, 'canceled at once');
    } finally {
      await slow.close();
    }
    const v = await validateSource({ url: silentUrl, timeoutMs: 300 });
    assert.equal(v.ok, false);
    assert.match(v.hint ?? '', /no answer in time/);
  });

  test('an abort in the middle of a streaming export stops it', async () => {
    const src = await openSource({ url: peers.vm.url });
    try {
      const ac = new AbortController();
      let got = 0;
      const e = await rejectsKind(
        (async () => {
          for await (const c of src.exportLines({ selectors: ['{__name__=~".+"}'] }, peers.dataset.startMs, peers.dataset.endMs, ac.signal)) {
            got += c.length;
            ac.abort();
          }
        })(),
        'canceled',
      );
      // the whole export is over 10 MB: the first chunk came long before its end
      assert.ok(got > 0 && got < 1024 * 1024, `${got} bytes before the abort`);
      assert.match(e.message, /canceled/);
    } finally {
      await src.close();
    }
  });

  test('version from vm_app_version (the storage\'s own component first); a redirect is named in the hint', async () => {
    const stub = createHttpServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/old/api/v1/query') {
        res.writeHead(301, { location: `http://127.0.0.1:${(stub.address() as AddressInfo).port}/api/v1/query` });
        return res.end();
      }
      if (path === '/api/v1/query') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({
            status: 'success',
            data: {
              resultType: 'vector',
              result: [
                { metric: { __name__: 'vm_app_version', job: 'st', version: 'vmstorage-20230902-003338-tags-v1.93.3-cluster-0-g1' }, value: [1, '1'] },
                { metric: { __name__: 'vm_app_version', job: 'vm', version: 'victoria-metrics-20230902-003338-tags-v1.93.4-0-gabc' }, value: [1, '1'] },
              ],
            },
          }),
        );
      }
      if (path === '/api/v1/export') return res.end();
      res.writeHead(404).end('404 page not found');
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    try {
      const v = await validateSource({ url });
      assert.deepEqual(v.source, { flavour: 'victoriametrics-single', version: 'v1.93.4', apiBase: url, exportApi: true });
      const moved = await validateSource({ url: `${url}/old` });
      assert.equal(moved.ok, false);
      assert.equal(moved.attempts[0].status, 301);
      assert.equal(moved.hint, `the server redirects to ${url}: use that URL`);
    } finally {
      await new Promise<void>((r) => stub.close(() => r()));
    }
  });

  test('gzip: asked for when compression is on, decompressed as it streams, equal to the plain export', async () => {
    // a recording proxy: what encoding did the server answer with?
    const encodings: (string | undefined)[] = [];
    const proxy = createHttpServer((req, res) => {
      const t = new URL(peers.vm.url);
      const up = httpRequest({ hostname: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        encodings.push(r.headers['content-encoding']);
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const params = new URLSearchParams({ 'match[]': '{job="node"}', start: String(peers.dataset.startMs / 1000), end: String((peers.dataset.endMs - 1) / 1000) });
    const read = async (compression: boolean): Promise<string> => {
      const http = new SourceHttp(clientSettings({ url }), 10_000, compression);
      try {
        const res = await http.request(`${url}/api/v1/export`, params);
        assert.equal(res.status, 200);
        let text = '';
        for await (const c of wholeLines(res.body)) text += c.toString();
        return text;
      } finally {
        await http.close();
      }
    };
    try {
      const zipped = await read(true);
      const plain = await read(false);
      assert.deepEqual(encodings, ['gzip', undefined]);
      assert.ok(plain.length > 1_000_000);
      // (VictoriaMetrics' series order differs between two exports)
      assert.equal(zipped.length, plain.length);
      assert.deepEqual(parseExportLines(zipped), datasetSlice(peers.dataset, peers.dataset.startMs, peers.dataset.endMs, (m) => m.job === 'node'));
      // an abort in the middle of a gzip body
      const http = new SourceHttp(clientSettings({ url }), 10_000, true);
      try {
        const ac = new AbortController();
        const res = await http.request(`${url}/api/v1/export`, params, { signal: ac.signal });
        await rejectsKind(
          (async () => {
            for await (const _ of res.body) ac.abort();
          })(),
          'canceled',
        );
      } finally {
        await http.close();
      }
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  test('VictoriaMetrics behind a proxy without the export API: found as VictoriaMetrics, read exactly with range-vector queries', async () => {
    const proxy = createHttpServer((req, res) => {
      if ((req.url ?? '').startsWith('/api/v1/export')) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        return res.end(`missing route for ${JSON.stringify(req.url)}`);
      }
      const t = new URL(peers.vm.url);
      const up = httpRequest({ hostname: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const v = await validateSource({ url });
      assert.deepEqual(v.source, { flavour: 'victoriametrics-single', version: 'unknown', apiBase: url, exportApi: false });
      const src = await openSource({ url }, v.source);
      try {
        const { startMs, endMs } = peers.dataset;
        const keep = (m: Readonly<Record<string, string>>): boolean => m.job === 'vmselect';
        const { text } = await collect(src, { selectors: ['{job="vmselect"}'] }, startMs, endMs, 25 * 60_000);
        assert.deepEqual(parseExportLines(text), datasetSlice(peers.dataset, startMs, endMs, keep));
        const d = await src.discover(startMs, endMs);
        assert.deepEqual(d.jobs.find((j) => j.job === 'vmselect'), { job: 'vmselect', component: 'vmselect', instances: 2, series: peers.dataset.jobs.find((j) => j.job === 'vmselect')!.series });
        // a preview over more than an hour: each series whole, though read an hour at a time
        const sample = await src.sample({ selectors: ['up'] }, startMs, endMs, 2);
        assert.equal(sample.length, 2);
        for (const s of sample) assert.equal(s.timestamps.length, (endMs - startMs) / peers.dataset.stepMs);
      } finally {
        await src.close();
      }
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});
