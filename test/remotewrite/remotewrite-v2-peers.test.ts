/**
 * Remote write 2.0 against receivers that do not know it: the VictoriaMetrics and the
 * Prometheus 2.42 (`--web.enable-remote-write-receiver`) Debian ships. Whatever they answer a
 * 2.0 request (the log line says; neither sends the written-count header), the sender falls back
 * to 1.0 and every sample is stored.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { requirePeer, VICTORIA_METRICS } from '../helpers/peers.js';
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus-peer.js';
import { capturingLogger, startQueues } from '../helpers/remotewrite-harness.js';
import { waitFor } from '../helpers/scrape-harness.js';
import { startVictoriaMetricsFor } from '../helpers/vm-peer.js';

const SERIES = 20;
const ROUNDS = 5;

/** ROUNDS batches of SERIES series, one second apart in time, all recent. */
function send(pipeline: { write(job: string, b: SampleBatch): void }, t0: number): void {
  for (let round = 0; round < ROUNDS; round++) {
    const b = new SampleBatch(SERIES);
    for (let i = 0; i < SERIES; i++) b.append(Labels.fromRecord({ __name__: 'v2_fallback', i: String(i) }), round * 100 + i, t0 + round * 1000);
    pipeline.write('job', b);
  }
}

function fallbackReason(lines: Record<string, unknown>[]): string {
  const l = lines.find((x) => String(x.msg).startsWith('the receiver does not take remote write 2.0'));
  assert.ok(l, `a fallback was logged: ${JSON.stringify(lines)}`);
  return String(l.reason);
}

/**
 * Sends the test's samples to `url` configured for 2.0 and waits until everything was
 * accepted; returns their first timestamp and the fallback's logged reason.
 */
async function sendAsV2(t: TestContext, url: string): Promise<{ t0: number; reason: string }> {
  const { logger, lines } = capturingLogger();
  const { rw, pipeline } = await startQueues(
    t,
    `remote_write:\n  - url: ${url}\n    protobuf_message: io.prometheus.write.v2.Request\n    queue_config: {senders: 2, max_samples_per_send: 30}\n`,
    undefined,
    logger,
  );
  const t0 = Date.now() - 60_000;
  send(pipeline, t0);
  assert.ok((await Promise.all(rw.queues.map((q) => q.flush(15_000)))).every(Boolean), 'everything sent');
  await rw.close();
  return { t0, reason: fallbackReason(lines) };
}

test('VictoriaMetrics (Debian): 2.0 falls back to 1.0 and every sample is stored', { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics')) return;
  const vmUrl = await startVictoriaMetricsFor(t);
  const { reason } = await sendAsV2(t, `${vmUrl}/api/v1/write`);
  t.diagnostic(`VictoriaMetrics answered a 2.0 request: ${reason}`);
  let count = 0;
  await waitFor('all samples exported', async () => {
    await fetch(`${vmUrl}/internal/force_flush`).catch(() => {});
    const res = await fetch(`${vmUrl}/api/v1/export?match[]=v2_fallback`);
    count = 0;
    for (const line of (await res.text()).split('\n').filter(Boolean)) count += (JSON.parse(line) as { values: number[] }).values.length;
    return count === SERIES * ROUNDS;
  }, 20_000).catch(() => {});
  assert.equal(count, SERIES * ROUNDS);
});

test('Prometheus 2.42 receiver: 2.0 falls back to 1.0 and every sample is stored', { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const prom = await startPrometheus('global: {}\n', ['--web.enable-remote-write-receiver']);
  t.after(() => prom.stop());
  const { t0, reason } = await sendAsV2(t, `${prom.url}/api/v1/write`);
  t.diagnostic(`Prometheus 2.42 answered a 2.0 request: ${reason}`);
  type Matrix = { result: { values: [number, string][] }[] };
  let count = 0;
  await waitFor('all samples queryable', async () => {
    const data = await prom.api<Matrix>(`/api/v1/query?query=${encodeURIComponent('v2_fallback[10m]')}&time=${(t0 + 10_000) / 1000}`);
    count = data.result.reduce((n, r) => n + r.values.length, 0);
    return count === SERIES * ROUNDS;
  }, 20_000).catch(() => {});
  assert.equal(count, SERIES * ROUNDS);
});
