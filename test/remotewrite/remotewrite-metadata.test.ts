/**
 * Metric metadata, end to end through the real `tributary` process: a scraped page's TYPE,
 * HELP and UNIT reach the receiver every metadata_config.send_interval, in requests of at most
 * metadata_config.max_samples_per_send entries; `send: false` sends none.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../helpers/cli-process.js';
import { receiver } from '../helpers/remotewrite-harness.js';
import { startTarget, waitFor } from '../helpers/scrape-harness.js';

const PAGE = `# HELP app_requests Requests served.
# TYPE app_requests counter
app_requests_total{code="200"} 10
# HELP app_temperature_celsius Temperature.
# TYPE app_temperature_celsius gauge
# UNIT app_temperature_celsius celsius
app_temperature_celsius 21.5
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{le="1"} 1
app_latency_seconds_bucket{le="+Inf"} 2
app_latency_seconds_sum 1.5
app_latency_seconds_count 2
# EOF
`;

test('metadata of scraped families is sent every send_interval, max_samples_per_send per request', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-metadata-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const target = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/openmetrics-text; version=1.0.0' });
    res.end(PAGE);
  });
  t.after(() => target.close());
  const withMeta = await receiver(() => ({ status: 204 }));
  const without = await receiver(() => ({ status: 204 }));
  t.after(() => withMeta.close());
  t.after(() => without.close());
  const config = join(dir, 'tributary.yml');
  writeFileSync(
    config,
    `global: {scrape_interval: 500ms}
scrape_configs:
  - job_name: app
    static_configs: [{targets: ['${target.address}']}]
remote_write:
  - url: ${withMeta.url}
    metadata_config: {send_interval: 1s, max_samples_per_send: 2}
  - url: ${without.url}
    metadata_config: {send: false}
`,
  );
  const agent = await startAgent(['--config', config, '--data-dir', join(dir, 'data')]);
  t.after(() => agent.child.kill('SIGKILL'));

  const metadataRequests = () => withMeta.got.filter((r) => r.body.metadata.length > 0);
  // two rounds: the metadata is sent again, not once
  await waitFor('two rounds of metadata', () => metadataRequests().length >= 4, 20_000);
  const requests = metadataRequests();
  assert.ok(requests.every((r) => r.body.metadata.length <= 2 && r.body.timeseries.length === 0), 'metadata requests carry at most 2 entries and no samples');
  const seen = new Map(requests.flatMap((r) => r.body.metadata).map((m) => [m.family, m]));
  assert.deepEqual(seen.get('app_requests'), { type: 'counter', family: 'app_requests', help: 'Requests served.' });
  assert.deepEqual(seen.get('app_temperature_celsius'), { type: 'gauge', family: 'app_temperature_celsius', help: 'Temperature.', unit: 'celsius' });
  assert.equal(seen.get('app_latency_seconds')?.type, 'histogram');
  assert.ok(without.got.length > 0, 'the second URL got samples');
  assert.ok(without.got.every((r) => r.body.metadata.length === 0), 'send: false sends no metadata');
});
