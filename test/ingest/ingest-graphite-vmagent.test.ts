/**
 * Graphite side by side with vmagent 1.79.5: the same lines over TCP to both, each into its own
 * VictoriaMetrics; the stored series, values and timestamps are the same.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startSideBySide } from '../helpers/ingest-peers.js';

function sendTcp(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(text));
    s.once('close', () => resolve());
    s.once('error', reject);
  });
}

test('graphite: the same lines give the same series in storage as vmagent', { timeout: 90_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const now = Math.floor(Date.now() / 1000) - 60;
  const lines = [
    `cpu.load.1 0.5 ${now}`,
    `cpu.load.1 0.75 ${now + 10}`,
    `disk.used;host=a;mount=/ 123456 ${now}`,
    `disk.used;host=b;mount=/var 42.5 ${now}`,
    `big.value 1e15 ${now}`,
    `neg.value -3.25 ${now}`,
  ].join('\n') + '\n';
  await Promise.all([sendTcp(sbs.vmagent.ports.graphite, lines), sendTcp(sbs.tributary.ports.graphite, lines)]);
  await sbs.settle(5);
  const [want, got] = await Promise.all([sbs.vmagent.export(), sbs.tributary.export()]);
  assert.equal(want.length, 5);
  assert.deepEqual(got, want);
});
