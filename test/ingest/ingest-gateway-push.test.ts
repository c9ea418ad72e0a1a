/**
 * Gateway pushes into the pipeline (`remote_write: true` on a socket listener or the
 * Pushgateway API): a push lands in a remote-write receiver labelled as on the gateway page
 * (grouping key, source label) at the push time; a delete, an expiry or a push without some
 * series sends staleness markers; with the switch off (the default) nothing leaves.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { receiver } from '../helpers/remotewrite-harness.js';
import { waitFor } from '../helpers/scrape-harness.js';
import { startIngest } from '../helpers/ingest-harness.js';

async function start(t: import('node:test').TestContext, push: string, extra = '') {
  const { rt, sink } = await startIngest(t, `gateway:\n  push:\n    persistence: false\n${push}\n${extra}`);
  return { rt, sink };
}

function sendJson(address: string, msg: unknown): Promise<void> {
  const [host, port] = address.split(/:(?=\d+$)/);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), host, () => s.end(JSON.stringify(msg)));
    s.once('close', () => resolve());
    s.once('error', reject);
  });
}

test('Pushgateway API with remote_write: true: the group reaches a remote-write receiver labelled as on the page; DELETE sends staleness markers', async (t) => {
  const out = await receiver(() => ({ status: 204 }));
  t.after(() => out.close());
  const { rt } = await start(
    t,
    `    http: {remote_write: true}`,
    `remote_write:\n  - url: ${out.url}\n    queue_config: {batch_send_deadline: 100ms}\n    metadata_config: {send: false}\n`,
  );
  const base = `http://${rt.address}/metrics/job/batch/instance/host-1`;
  const before = Date.now();
  const put = await fetch(base, { method: 'PUT', body: '# TYPE jobs_done counter\njobs_done{kind="a"} 3\njobs_done{kind="b"} 4\nlast_run 17\n' });
  assert.equal(put.status, 200);
  // the page's labels
  const page = await (await fetch(`http://${rt.address}/metrics`)).text();
  assert.match(page, /jobs_done\{[^}]*exporter_name="batch"[^}]*instance="host-1"[^}]*job="batch"[^}]*kind="a"[^}]*\} 3/);
  const series = () => out.got.flatMap((g) => g.body.timeseries.flatMap((s) => s.samples.map((x) => ({ labels: s.labels.toString(), value: x.value, stale: x.stale, ts: x.timestampMs }))));
  await waitFor('the pushed samples', () => series().filter((s) => !s.stale).length >= 3, 10_000);
  const got = series().filter((s) => s.labels.includes('exporter_name="batch"'));
  assert.deepEqual(
    got.map((s) => [s.labels, s.value]).sort(),
    [
      ['jobs_done{exporter_name="batch", instance="host-1", job="batch", kind="a"}', 3],
      ['jobs_done{exporter_name="batch", instance="host-1", job="batch", kind="b"}', 4],
      ['last_run{exporter_name="batch", instance="host-1", job="batch"}', 17],
    ],
  );
  assert.ok(got.every((s) => s.ts >= before && s.ts <= Date.now()), 'stamped with the push time');
  assert.equal((await fetch(base, { method: 'DELETE' })).status, 202);
  await waitFor('staleness markers', () => series().filter((s) => s.stale).length >= 3, 10_000);
  assert.deepEqual(
    series()
      .filter((s) => s.stale)
      .map((s) => s.labels)
      .sort(),
    got.map((s) => s.labels).sort(),
  );
});

test('socket listener with remote_write: true: an app\'s series, the same Labels object push after push, stale when a push drops them or the app expires; a listener without it sends nothing', async (t) => {
  const { rt, sink } = await start(
    t,
    `    listeners:\n      - {tcp: 127.0.0.1:0, format: json, remote_write: true, ttl: 1s}\n      - {tcp: 127.0.0.1:0, format: json, name: quiet}`,
  );
  const [on, off] = rt.gateway.listeners;
  await sendJson(on, { appA: 'temp{room="k"} 21.5\nhum 40\n' });
  await waitFor('the first push', () => sink.of('push').length >= 2, 5_000);
  await sendJson(on, { appA: 'temp{room="k"} 22\n' });
  await waitFor('the second push and a stale marker', () => sink.of('push').length >= 4, 5_000);
  const p = sink.of('push');
  assert.deepEqual(
    p.slice(0, 4).map((s) => [s.labels.toString(), s.stale ? 'stale' : s.value]),
    [
      ['temp{exporter_name="appA", room="k"}', 21.5],
      ['hum{exporter_name="appA"}', 40],
      ['temp{exporter_name="appA", room="k"}', 22],
      ['hum{exporter_name="appA"}', 'stale'],
    ],
  );
  assert.equal(p[0].labels, p[2].labels, 'a series pushed again is the same Labels object');
  await sendJson(off, { appB: 'quiet_metric 1\n' });
  await waitFor('appB stored', () => rt.gateway.store.get('appB') !== undefined, 5_000);
  // the gateway expires apps every few seconds: appA's TTL of 1s passes and its series end
  await waitFor('appA expired: stale marker', () => sink.of('push').some((s, i) => i >= 4 && s.stale && s.labels.metricName === 'temp'), 15_000);
  assert.ok(!sink.samples.some((s) => s.labels.toString().includes('appB')), 'remote_write: false sends nothing');
});

test('remote_write left out (the default): pushes over the API stay on the gateway page only', async (t) => {
  const { rt, sink } = await start(t, `    http: {enabled: true}`);
  assert.equal((await fetch(`http://${rt.address}/metrics/job/j`, { method: 'PUT', body: 'm 1\n' })).status, 200);
  assert.match(await (await fetch(`http://${rt.address}/metrics`)).text(), /^m\{[^}]*job="j"[^}]*\} 1$/m);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sink.of('push').length, 0);
});
