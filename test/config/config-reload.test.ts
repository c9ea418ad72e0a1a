/**
 * What a reload applies beyond scrape jobs, as Prometheus does: `global.external_labels` and the
 * remote-write URL list, seen in what real receivers get; and the sections that need a restart,
 * said in the log and the reload response — but only while they differ from what runs, so a
 * restored file reloads quietly.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../src/log/logger.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { receiver } from '../helpers/remotewrite-harness.js';
import { startTarget, waitFor } from '../helpers/scrape-harness.js';
import { tempDataDir } from '../helpers/fixtures.js';

async function post(address: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${address}${path}`, { method: 'POST' });
  return { status: res.status, body: await res.text() };
}

/** The values of `label` on the series named `name` a receiver got, in arrival order. */
function labelValues(got: Awaited<ReturnType<typeof receiver>>['got'], name: string, label: string): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (const r of got) for (const s of r.body.timeseries) if (s.labels.get('__name__') === name) out.push(s.labels.get(label));
  return out;
}

test('reload applies external_labels and the remote_write URL list; restart-only sections warn until restored', async (t) => {
  const target = await startTarget();
  target.page('m 1\n');
  const a = await receiver(() => ({ status: 204 }));
  const b = await receiver(() => ({ status: 204 }));
  const dir = mkdtempSync(join(tmpdir(), 'tributary-config-reload-'));
  t.after(async () => {
    await target.close();
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'tributary.yml');
  const write = (region: string, urls: string[], level = 'info', perRequest = 2000) =>
    writeFileSync(
      file,
      `global:
  scrape_interval: 200ms
  scrape_timeout: 200ms
  external_labels: {region: ${region}}
scrape_configs:
  - job_name: t
    static_configs: [{targets: ['${target.address}']}]
remote_write:
${urls.map((u) => `  - url: ${u}\n    queue_config: {batch_send_deadline: 50ms, max_samples_per_send: ${perRequest}}\n`).join('')}
log:
  level: ${level}
`,
    );
  write('eu', [a.url]);
  const lines: string[] = [];
  const logger = new Logger('info', 'json', { write: (l: string) => void lines.push(l) });
  const runtime = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger, dataDir: tempDataDir() });
  t.after(() => runtime.close(0));
  await waitFor('a gets region=eu', () => labelValues(a.got, 'm', 'region').includes('eu'), 10_000);

  // external_labels changed and a second URL added
  write('us', [a.url, b.url]);
  const r1 = await post(runtime.address, '/-/reload');
  assert.equal(r1.status, 200, r1.body);
  assert.doesNotMatch(r1.body, /restart/, 'nothing here needs a restart');
  const sentBefore = a.got.length;
  await waitFor('a gets region=us', () => labelValues(a.got.slice(sentBefore), 'm', 'region').includes('us'), 10_000);
  await waitFor('b gets region=us', () => labelValues(b.got, 'm', 'region').includes('us'), 10_000);
  const n = a.got.length;
  await waitFor('a few more requests to a', () => a.got.length >= n + 3, 10_000);
  assert.deepEqual([...new Set(labelValues(a.got.slice(n), 'm', 'region'))], ['us'], 'the old external label is not sent any more');

  // URL a removed: it gets nothing more, b goes on
  write('us', [b.url]);
  const r2 = await post(runtime.address, '/-/reload');
  assert.equal(r2.status, 200, r2.body);
  const aFinal = a.requests();
  const bBefore = b.got.length;
  await waitFor('b goes on', () => b.got.length >= bBefore + 3, 10_000);
  assert.equal(a.requests(), aFinal, 'a removed URL gets no more requests');

  // b's entry changed: its queue restarts on the same disk queue and goes on sending
  write('us', [b.url], 'info', 500);
  const changed = await post(runtime.address, '/-/reload');
  assert.equal(changed.status, 200, changed.body);
  const bChanged = b.got.length;
  await waitFor('b goes on after its entry changed', () => b.got.length >= bChanged + 3, 10_000);

  // a section that needs a restart: said in the response and the log
  write('us', [b.url], 'debug');
  const r3 = await post(runtime.address, '/-/reload');
  assert.equal(r3.status, 200, r3.body);
  assert.match(r3.body, /warning: log changed; takes effect after a restart/);
  assert.ok(lines.some((l) => l.includes('log changed; takes effect after a restart')));

  // a refused file, then the original restored: no restart warning any more
  writeFileSync(file, 'global: {scrape_intervall: 1s}\n');
  assert.equal((await post(runtime.address, '/-/reload')).status, 400);
  write('us', [b.url]);
  const logged = lines.length;
  const r4 = await post(runtime.address, '/-/reload');
  assert.equal(r4.status, 200, r4.body);
  assert.doesNotMatch(r4.body, /restart/, r4.body);
  assert.ok(!lines.slice(logged).some((l) => l.includes('takes effect after a restart')), lines.slice(logged).join('\n'));
});
