/**
 * Remote write into a real VictoriaMetrics single node (Debian's): every sample the scrapes
 * produced arrives with its exact value and timestamp, queried back through VictoriaMetrics'
 * export API.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { requirePeer, VICTORIA_METRICS } from '../helpers/peers.js';
import { freePort, stopProcess } from '../helpers/prometheus-peer.js';
import { assertSameSamples, RecordingSink, startTarget, waitFor } from '../helpers/scrape-harness.js';
import { Labels } from '../../src/model/labels.js';
import { tempDataDir } from '../helpers/fixtures.js';


test('every scraped sample arrives in VictoriaMetrics with its exact value and timestamp', { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics')) return;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-vm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const vm = spawn(VICTORIA_METRICS, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${join(dir, 'vm')}`, '-loggerLevel=ERROR'], {
    stdio: 'ignore',
  });
  t.after(() => stopProcess(vm));
  const vmUrl = `http://127.0.0.1:${port}`;
  await waitFor('VictoriaMetrics up', () => fetch(`${vmUrl}/health`).then((r) => r.ok, () => false), 20_000);

  let n = 0;
  const target = await startTarget((_req, res) => {
    n++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    // VictoriaMetrics keeps 12 significant decimal digits (its storage is decimal), so the
    // values are ones it stores exactly; full float64 exactness is checked against Prometheus
    res.end(`rw_gauge{k="v"} ${n * 1.5}\nrw_big 123456789012\nrw_tiny 0.000123\nrw_neg -${n}.25\n`);
  });
  t.after(() => target.close());
  const file = join(dir, 'tributary.yml');
  writeFileSync(
    file,
    `global:
  scrape_interval: 500ms
  external_labels: {site: lab}
scrape_configs:
  - job_name: app
    static_configs: [{targets: ['${target.address}']}]
remote_write:
  - url: ${vmUrl}/api/v1/write
`,
  );
  const runtime = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger: silentLogger, dataDir: tempDataDir() });
  const sink = new RecordingSink();
  runtime.pipeline.add(sink);
  await waitFor('four scrapes', () => sink.batches.length >= 4, 15_000);
  await runtime.close();

  const expected = sink.batches.reduce((n, b) => n + b.samples.filter((s) => !s.stale).length, 0);
  type Exported = { metric: Record<string, string>; values: number[]; timestamps: number[] };
  let exported: Exported[] = [];
  // VictoriaMetrics makes new rows searchable in the background: ask it to, until all are there
  await waitFor(`${expected} samples in VictoriaMetrics`, async () => {
    await fetch(`${vmUrl}/internal/force_flush`);
    const text = await (await fetch(`${vmUrl}/api/v1/export?match[]=${encodeURIComponent('{job="app"}')}`)).text();
    exported = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Exported);
    return exported.reduce((n, r) => n + r.values.length, 0) >= expected;
  }, 15_000).catch(() => {});

  // what was stored, keyed like what was sent: the external label checked, then set aside
  const got = new Map<string, Map<number, number>>();
  for (const row of exported) {
    assert.equal(row.metric.site, 'lab');
    const key = Labels.fromRecord(row.metric).without('site').toString();
    got.set(key, new Map(row.timestamps.map((ts, i) => [ts, row.values[i]])));
  }
  assertSameSamples(got, sink.samplesBySeries());
  assert.ok(got.has(`rw_tiny{instance="${target.address}", job="app"}`));
});
