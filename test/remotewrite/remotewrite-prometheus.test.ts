/**
 * Remote write into a real Prometheus (`--web.enable-remote-write-receiver`), which stores
 * float64 values as they are: every sample the scrapes produced comes back from its query API
 * bit for bit — awkward decimals, the largest and the smallest double — at its exact timestamp.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { requirePeer } from '../helpers/peers.js';
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus-peer.js';
import { assertSameSamples, RecordingSink, selfMetricValue, startTarget, waitFor } from '../helpers/scrape-harness.js';
import { Labels } from '../../src/model/labels.js';
import { tempDataDir } from '../helpers/fixtures.js';

test('every scraped sample arrives in Prometheus bit for bit', { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const prom = await startPrometheus('global: {}\n', ['--web.enable-remote-write-receiver']);
  t.after(() => prom.stop());
  let n = 0;
  const target = await startTarget((_req, res) => {
    n++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`rw_dec{k="v"} ${n * 0.1}\nrw_max 1.7976931348623157e308\nrw_min 5e-324\nrw_neg -${n}.0000000000000002\n`);
  });
  t.after(() => target.close());
  const dir = mkdtempSync(join(tmpdir(), 'tributary-rwprom-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tributary.yml');
  writeFileSync(
    file,
    `global:
  scrape_interval: 500ms
scrape_configs:
  - job_name: exact
    static_configs: [{targets: ['${target.address}']}]
remote_write:
  - url: ${prom.url}/api/v1/write
`,
  );
  const runtime = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger: silentLogger, dataDir: tempDataDir() });
  const sink = new RecordingSink();
  runtime.pipeline.add(sink);
  await waitFor('four scrapes', () => sink.batches.length >= 4, 15_000);
  await runtime.close();

  const sent = sink.samplesBySeries();
  type Matrix = { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
  const query = encodeURIComponent('{job="exact"}[10m]');
  const got = new Map<string, Map<number, number>>();
  await waitFor('all samples queryable', async () => {
    const data = await prom.api<Matrix>(`/api/v1/query?query=${query}`);
    got.clear();
    for (const r of data.result) {
      const key = Labels.fromRecord(r.metric).toString();
      // Prometheus gives seconds with millisecond decimals: back to exact milliseconds
      got.set(key, new Map(r.values.map(([ts, v]) => [Math.round(ts * 1000), Number(v)])));
    }
    return [...sent].every(([k, m]) => got.get(k)?.size === m.size);
  }, 15_000);
  assertSameSamples(got, sent);
  assert.equal(got.get(`rw_min{instance="${target.address}", job="exact"}`)?.values().next().value, 5e-324);
});

test('a real receiver refusing samples (400, out of order): dropped and counted, never retried, later data still delivered', { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const prom = await startPrometheus('global: {}\n', ['--web.enable-remote-write-receiver']);
  t.after(() => prom.stop());
  // the page's own timestamps go backwards on every scrape: Prometheus refuses each but the first
  let n = 0;
  const base = Date.now();
  const target = await startTarget((_req, res) => {
    n++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`rw_backwards ${n} ${base - n * 1000}\n`);
  });
  t.after(() => target.close());
  const dir = mkdtempSync(join(tmpdir(), 'tributary-rw400-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tributary.yml');
  writeFileSync(
    file,
    `global:
  scrape_interval: 300ms
scrape_configs:
  - job_name: backwards
    metric_relabel_configs: [{source_labels: [__name__], regex: 'rw_backwards', action: keep}]
    static_configs: [{targets: ['${target.address}']}]
remote_write:
  - url: ${prom.url}/api/v1/write
    queue_config: {senders: 1, batch_send_deadline: 100ms}
`,
  );
  const runtime = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger: silentLogger, dataDir: tempDataDir() });
  const sink = new RecordingSink();
  runtime.pipeline.add(sink);
  const url = `${prom.url}/api/v1/write`;
  const metric = (name: string, labels: Record<string, string>) => selfMetricValue(runtime.registry, name, { url, ...labels }) ?? 0;
  await waitFor('three refused requests', () => metric('tributary_remotewrite_requests_total', { code: '400' }) >= 3, 20_000);
  await runtime.close();
  const refused = metric('tributary_remotewrite_requests_total', { code: '400' });
  assert.equal(metric('tributary_remotewrite_retries_total', {}), 0, 'a 400 is never retried');
  const dropped = metric('tributary_remotewrite_samples_dropped_total', { reason: 'http_400' });
  const sent = metric('tributary_remotewrite_samples_sent_total', {});
  // Prometheus refuses a request as a whole: its in-order samples (up, ...) go with it
  assert.ok(dropped >= refused, `the refused requests' samples are counted (${dropped})`);
  const produced = sink.batches.reduce((k, b) => k + b.samples.length, 0);
  assert.equal(sent + dropped, produced, 'every sample was either accepted or counted as dropped');
  const data = await prom.api<{ result: { value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent('rw_backwards')}&time=${base / 1000}`);
  assert.equal(data.result[0]?.value[1], '1', 'what the receiver accepted is stored');
});
