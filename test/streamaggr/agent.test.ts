// Stream aggregation in the running agent: pushes in, remote write out into a real
// VictoriaMetrics. A restart in the middle of an interval (SIGTERM, and SIGKILL after a state
// write) gives the same next flushes as an uninterrupted run; per-URL aggregation and
// deduplication of an HA pair; the series limits.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type Started } from '../helpers/cli-process.js';
import { exportSeries, startStorage, type ExportedSeries } from '../helpers/ingest-peers.js';
import { requirePeer, VICTORIA_METRICS } from '../helpers/peers.js';
import { stopProcess } from '../helpers/prometheus-peer.js';
import { waitFor } from '../helpers/scrape-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const INTERVAL = 10_000;

async function push(agent: Started, text: string): Promise<void> {
  const r = await fetch(`http://${agent.address}/api/v1/import/prometheus`, { method: 'POST', body: text });
  assert.equal(r.status, 204, await r.text());
}

async function stateWrites(agent: Started): Promise<number> {
  const page = await (await fetch(`http://${agent.address}/metrics`)).text();
  const m = /^tributary_streamaggr_state_writes_total\{exporter_name="tributary",result="ok",url="global"\} (\d+)/m.exec(page);
  return m ? Number(m[1]) : 0;
}

/** Sleeps until `offset` ms into the next interval. */
async function untilNextInterval(offset: number): Promise<number> {
  const next = Math.ceil((Date.now() + 1) / INTERVAL) * INTERVAL;
  await sleep(next + offset - Date.now());
  return next;
}

function env(t: TestContext): { dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aggr-agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir };
}

test('a restart mid-interval (SIGTERM; SIGKILL after a state write) flushes what an uninterrupted run flushes', async (t) => {
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics')) return;
  const { dir } = env(t);
  const vm = await startStorage(t, join(dir, 'vm'));
  const config = (run: string) => {
    const file = join(dir, `${run}.yml`);
    writeFileSync(
      file,
      `global: { external_labels: { run: "${run}" } }
remote_write:
  - url: ${vm}/api/v1/write
    queue_config: { batch_send_deadline: 200ms }
stream_aggr:
  state_write_interval: 1s
  rules:
    - interval: 10s
      match: '{__name__=~"c|g"}'
      ignore_first_sample_interval: 0s
      outputs: [total, increase, total_prometheus, count_samples, sum_samples, max, last]
    - interval: 10s
      match: g
      by: [run]
      outputs: [sum_samples, count_series, avg]
`,
    );
    return file;
  };
  const start = async (run: string) => {
    const a = await startAgent(['--config', config(run), '--data-dir', join(dir, `data-${run}`), '--ingest-http', 'import']);
    return a;
  };
  const agents: Record<string, Started> = {};
  t.after(async () => {
    for (const a of Object.values(agents)) await stopProcess(a.child);
  });
  for (const run of ['a', 'b', 'c']) agents[run] = await start(run);
  const all = () => Object.values(agents);

  const batch = (k: number) => `c{i="1"} ${100 + 7 * k}\nc{i="2"} ${k === 2 ? 3 : 50 + 11 * k}\ng{i="1"} ${k * 1.5}\ng{i="2"} ${10 - k}\n`;
  // the interval the agents started in is partial (not flushed); the next one is whole
  const t1 = await untilNextInterval(500);
  await Promise.all(all().map((a) => push(a, batch(0))));
  // b and c: a state write after the push, then the stop
  for (const run of ['b', 'c']) {
    const before = await stateWrites(agents[run]);
    await waitFor(`${run}: a state write`, async () => (await stateWrites(agents[run])) > before, 5_000);
  }
  agents.b.child.kill('SIGTERM');
  agents.c.child.kill('SIGKILL');
  await Promise.all([stopProcess(agents.b.child), stopProcess(agents.c.child)]);
  agents.b = await start('b');
  agents.c = await start('c');
  assert.ok(Date.now() < t1 + INTERVAL - 2_000, 'the restarts took too long for this interval');
  await Promise.all(all().map((a) => push(a, batch(1))));
  // the next interval: a counter reset on i="2"
  const t2 = await untilNextInterval(500);
  assert.equal(t2, t1 + INTERVAL);
  await Promise.all(all().map((a) => push(a, batch(2))));
  await untilNextInterval(1_500);

  const byRun = async (run: string): Promise<string[]> => {
    const got: ExportedSeries[] = await exportSeries(vm, `{run="${run}", __name__=~".+:10s.*"}`);
    const out: string[] = [];
    for (const s of got) {
      const { run: _run, ...labels } = s.metric;
      s.timestamps.forEach((ts, k) => {
        if (ts === t2 || ts === t2 + INTERVAL) out.push(`${JSON.stringify(labels)}@${ts - t1} ${s.values[k]}`);
      });
    }
    return out.sort();
  };
  const a = await waitFor('the uninterrupted run\'s two flushes', async () => {
    const got = await byRun('a');
    return got.filter((l) => l.includes(`@${2 * INTERVAL} `)).length > 0 ? got : undefined;
  }, 10_000);
  // hand-computed for the uninterrupted run: counted from 0 at the first sample, then deltas
  assert.ok(a.includes(`{"__name__":"c:10s_total","i":"1"}@${INTERVAL} 107`), a.join('\n'));
  assert.ok(a.includes(`{"__name__":"c:10s_total","i":"2"}@${INTERVAL} 61`), a.join('\n'));
  assert.ok(a.includes(`{"__name__":"c:10s_total","i":"2"}@${2 * INTERVAL} 64`), a.join('\n'));
  assert.ok(a.includes(`{"__name__":"g:10s_by_run_count_series"}@${INTERVAL} 2`), a.join('\n'));
  assert.deepEqual(await byRun('b'), a, 'SIGTERM mid-interval');
  assert.deepEqual(await byRun('c'), a, 'SIGKILL after a state write');
});

test('per-URL aggregation after the URL\'s labels, deduplication of an HA pair, and the series limits', async (t) => {
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics')) return;
  const { dir } = env(t);
  const vm = await startStorage(t, join(dir, 'vm'));
  const file = join(dir, 'tributary.yml');
  writeFileSync(
    file,
    `remote_write:
  - url: ${vm}/api/v1/write
    labels: { dest: raw }
    queue_config: { batch_send_deadline: 200ms }
  - url: ${vm}/api/v1/write
    name: aggregated
    labels: { dest: aggr }
    queue_config: { batch_send_deadline: 200ms }
    stream_aggr:
      dedup_interval: 5s
      drop_input_labels: [replica]
      rules:
        - interval: 10s
          by: [dest]
          outputs: [sum_samples, count_samples]
remote_write_options:
  max_hourly_series: 4
`,
  );
  const agent = await startAgent(['--config', file, '--data-dir', join(dir, 'data'), '--ingest-http', 'import']);
  t.after(() => stopProcess(agent.child));
  await untilNextInterval(300);
  // an HA pair sends the same series (replica differs): one sample per 5 s survives per series;
  // a fifth series is over max_hourly_series and dropped
  const now = Date.now();
  await push(agent, `x{replica="1"} 1 ${now}\nx{replica="2"} 2 ${now}\ny{replica="1"} 10 ${now}\ny{replica="2"} 10 ${now + 1}\nz{replica="1"} 5 ${now}\n`);
  const end = await untilNextInterval(1_500);
  const raw = await exportSeries(vm, '{dest="raw"}');
  assert.deepEqual(
    raw.map((s) => `${s.metric.__name__}{${s.metric.replica}} ${s.values.join(',')}`),
    ['x{1} 1', 'x{2} 2', 'y{1} 10', 'y{2} 10'],
  );
  const aggr = await exportSeries(vm, '{dest="aggr"}');
  // x: the tie goes to the larger value (2); y: the later one (10); z refused by the limit
  assert.deepEqual(
    aggr.map((s) => `${s.metric.__name__} ${s.values.join(',')}@${s.timestamps.join(',')}`).sort(),
    [`x:10s_by_dest_count_samples 1@${end}`, `x:10s_by_dest_sum_samples 2@${end}`, `y:10s_by_dest_count_samples 1@${end}`, `y:10s_by_dest_sum_samples 10@${end}`],
  );
  const page = await (await fetch(`http://${agent.address}/metrics`)).text();
  assert.match(page, /^tributary_remotewrite_series_limit_samples_dropped_total\{exporter_name="tributary",limit="hourly"\} 1$/m);
  assert.match(page, /^tributary_remotewrite_series_limit_current_series\{exporter_name="tributary",limit="hourly"\} 4$/m);
  assert.match(page, /^tributary_streamaggr_matched_samples_total\{exporter_name="tributary",name="none",position="1",url="aggregated"\} 4$/m);
  assert.match(agent.output(), /series dropped: max_hourly_series reached.*z\{replica=\\"1\\"\}/);
});
