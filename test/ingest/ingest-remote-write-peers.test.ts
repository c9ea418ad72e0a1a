/**
 * Remote write in with real senders and real storage: a Prometheus 2.42 and a vmagent 1.79.5
 * scrape a target and remote-write twice — straight into one VictoriaMetrics, and through
 * Tributary (`ingest.remote_write.http`) into another — and the two storages hold the same
 * series, values and timestamps, staleness after the target disappears included. And the
 * differential: the same WriteRequest posted to vmagent and to Tributary, each into its own
 * VictoriaMetrics, gives the same export.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { WriteRequestWriter } from '../../src/formats/remotewrite/index.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { startSideBySide, type SideBySide } from '../helpers/ingest-peers.js';
import { requirePeer, VMAGENT } from '../helpers/peers.js';
import { freePort, PROMETHEUS, startPrometheus, stopProcess } from '../helpers/prometheus-peer.js';
import { startTarget, waitFor } from '../helpers/scrape-harness.js';

const MATCH = '{__name__=~"demo_.*"}';

/** A target whose series exist for its first `alive` scrapes, then it answers 503 (so senders mark them stale). */
async function demoTarget(t: TestContext, alive: number) {
  let n = 0;
  const target = await startTarget((_req, res) => {
    n++;
    if (n > alive) {
      res.writeHead(503);
      res.end('gone\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(
      `# HELP demo_requests_total Requests.\n# TYPE demo_requests_total counter\ndemo_requests_total{code="200"} ${n * 3}\n` +
        `demo_requests_total{code="500"} ${n}\n# TYPE demo_temp gauge\ndemo_temp{room="a b"} ${(n * 0.1).toFixed(1)}\n` +
        (n % 3 === 0 ? '' : `demo_flappy ${n}\n`),
    );
  });
  t.after(() => target.close());
  return { target, scrapes: () => n };
}

/** Staleness markers Tributary passed on, by metric name (from its pipeline). */
function staleSeen(sbs: SideBySide): Set<string> {
  const seen = new Set<string>();
  sbs.runtime.pipeline.add({
    write(_job: string, b: SampleBatch) {
      for (let i = 0; i < b.length; i++) if (b.isStale(i)) seen.add(b.series[i].metricName);
    },
  });
  return seen;
}

async function compareStorages(sbs: SideBySide, minSeries: number) {
  await sbs.settle(minSeries, MATCH);
  const [want, got] = await Promise.all([sbs.vmagent.export(MATCH), sbs.tributary.export(MATCH)]);
  assert.ok(want.length >= minSeries, `the direct copy has the series (${want.length})`);
  assert.deepEqual(got, want);
  return want;
}

test('Prometheus 2.42 remote-writes into Tributary: what reaches storage through Tributary equals its direct copy, staleness and metadata included', { timeout: 150_000 }, async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const stale = staleSeen(sbs);
  const { target, scrapes } = await demoTarget(t, 8);
  const queue = 'queue_config: {batch_send_deadline: 500ms, min_backoff: 100ms}';
  const prom = await startPrometheus(`global: {scrape_interval: 1s, scrape_timeout: 900ms}
scrape_configs:
  - job_name: demo
    static_configs: [{targets: ['${target.address}']}]
remote_write:
  - url: ${sbs.vmagent.storage}/api/v1/write
    ${queue}
  - url: ${sbs.tributary.http}/api/v1/write
    ${queue}
    metadata_config: {send_interval: 1s}
`);
  t.after(() => prom.stop());
  await waitFor('the target gone for a few scrapes', () => scrapes() >= 11, 60_000);
  await waitFor('staleness markers through Tributary', () => stale.has('demo_temp') && stale.has('demo_requests_total'), 20_000);
  const series = await compareStorages(sbs, 4);
  const temp = series.find((s) => s.metric.__name__ === 'demo_temp')!;
  assert.ok(temp.values.length >= 6, `demo_temp has its samples (${temp.values})`);
  assert.equal(temp.values.at(-1) as number | null, null, 'the staleness marker reached storage (exported as null)');
  await waitFor('metadata received', () => sbs.runtime.ingest.metadata().some((m) => m.family === 'demo_requests_total' && m.type === 'counter'), 20_000);
});

test('vmagent 1.79.5 remote-writes into Tributary: the same series in storage as its direct copy, staleness included', { timeout: 150_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs || !requirePeer(t, VMAGENT, 'victoria-metrics')) return;
  const stale = staleSeen(sbs);
  const { target, scrapes } = await demoTarget(t, 8);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-vmagent-src-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'scrape.yml'), `global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: demo\n    static_configs: [{targets: ['${target.address}']}]\n`);
  const port = await freePort();
  const agent = spawn(
    VMAGENT,
    [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-promscrape.config=${join(dir, 'scrape.yml')}`,
      `-remoteWrite.url=${sbs.vmagent.storage}/api/v1/write`,
      `-remoteWrite.url=${sbs.tributary.http}/api/v1/write`,
      `-remoteWrite.tmpDataPath=${join(dir, 'q')}`,
      '-remoteWrite.flushInterval=200ms',
      '-loggerLevel=ERROR',
    ],
    { stdio: 'ignore' },
  );
  t.after(() => stopProcess(agent));
  await waitFor('the target gone for a few scrapes', () => scrapes() >= 11, 60_000);
  await waitFor('staleness markers through Tributary', () => stale.has('demo_temp'), 20_000);
  await compareStorages(sbs, 4);
});

test('differential: the same WriteRequest to vmagent and to Tributary gives the same export (staleness marker, odd values, many series)', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const now = Date.now() - 60_000;
  const b = new SampleBatch(64);
  for (let i = 0; i < 20; i++) b.append(Labels.fromRecord({ __name__: 'demo_many', i: String(i), job: 'diff' }), i * 1.5, now + i);
  b.append(Labels.fromRecord({ __name__: 'demo_odd', v: 'big' }), 1e300, now);
  b.append(Labels.fromRecord({ __name__: 'demo_odd', v: 'neg_zero' }), -0, now);
  b.append(Labels.fromRecord({ __name__: 'demo_odd', v: 'tiny' }), 5e-324, now);
  b.append(Labels.fromRecord({ __name__: 'demo_unicode', city: 'Zürich' }), 1, now);
  b.append(Labels.fromRecord({ __name__: 'demo_stale', x: '1' }), 4, now);
  b.appendStale(Labels.fromRecord({ __name__: 'demo_stale', x: '1' }), now + 1000);
  const w = new WriteRequestWriter(4096);
  w.append(b);
  w.appendMetadata({ family: 'demo_many', type: 'gauge', help: 'Many.' });
  const body = compressSync(w.bytes());
  const post = (base: string) =>
    fetch(`${base}/api/v1/write`, { method: 'POST', body, headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' } }).then((r) => r.status);
  const [a, c] = await Promise.all([post(sbs.vmagent.http), post(sbs.tributary.http)]);
  assert.deepEqual([a, c], [204, 204]);
  await sbs.settle(25, MATCH);
  const [want, got] = await Promise.all([sbs.vmagent.export(MATCH), sbs.tributary.export(MATCH)]);
  assert.equal(want.length, 25);
  // VictoriaMetrics keeps the staleness marker and exports it as null
  assert.deepEqual(got.find((s) => s.metric.__name__ === 'demo_stale')?.values as (number | null)[] | undefined, [4, null]);
  assert.deepEqual(got, want);
});
