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
import { silentLogger } from '../src/log/logger.js';
import { startRuntime } from '../src/runtime/runtime.js';
import { requirePeer } from './peers.js';
import { PROMETHEUS, startPrometheus } from './prometheus-peer.js';
import { assertSameSamples, RecordingSink, startTarget, waitFor } from './scrape-harness.js';
import { Labels } from '../src/model/labels.js';

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
  const runtime = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger: silentLogger });
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
