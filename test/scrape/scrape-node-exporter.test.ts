/**
 * A real node_exporter (Debian's prometheus-node-exporter) as the scrape target, on a real
 * schedule: through the scrape manager (labels, counters, the auto series against the page
 * fetched directly, metric relabeling), and through the `tributary` command, whose gateway
 * shows the scraped job on its /metrics.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SCRAPE_PROTOCOLS } from '../../src/config/scrape.js';
import { acceptHeader } from '../../src/scrape/index.js';
import { startAgent } from '../helpers/cli-process.js';
import { NODE_EXPORTER, requirePeer } from '../helpers/peers.js';
import { freePort } from '../helpers/prometheus-peer.js';
import { startScraping, waitFor, type RecordedSample } from '../helpers/scrape-harness.js';

/** Collectors whose set of series does not change from one scrape to the next. */
const COLLECTORS = ['cpu', 'meminfo', 'loadavg', 'filesystem'];

/** Polls `url` until `ok` accepts its body; returns that body. */
async function pageWhen(url: string, ok: (body: string) => boolean, timeoutMs: number, headers: Record<string, string> = {}): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(url, { headers });
      last = `HTTP ${res.status}\n${await res.text()}`;
      if (res.ok && ok(last.slice(last.indexOf('\n') + 1))) return last.slice(last.indexOf('\n') + 1);
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} not as expected after ${timeoutMs} ms; last answer:\n${last.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts node_exporter on a free port of 127.0.0.1 with COLLECTORS only; returns host:port once it answers. */
async function startNodeExporter(t: TestContext): Promise<string> {
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn(
    NODE_EXPORTER,
    [`--web.listen-address=${address}`, '--collector.disable-defaults', ...COLLECTORS.map((c) => `--collector.${c}`)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  await Promise.race([
    pageWhen(`http://${address}/metrics`, (body) => body.includes('node_load1'), 10_000),
    exited.then(([code]) => {
      throw new Error(`node_exporter exited (${code}): ${stderr}`);
    }),
  ]);
  return address;
}

/** Configuration text scraping node_exporter at `address` once a second as job "node"; more jobs may follow. */
const nodeJob = (address: string): string => `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['${address}']
`;

/** Sample lines of an exposition page: neither comments nor blank. */
const sampleLines = (page: string): string[] => page.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));

const valueOf = (batch: RecordedSample[], series: string): number | undefined => batch.find((s) => s.series === series)?.value;

test('node_exporter on a 1 s schedule: up, labels, counters, sample counts as on the page, metric relabeling', async (t) => {
  if (!requirePeer(t, NODE_EXPORTER, 'prometheus-node-exporter')) return;
  const ne = await startNodeExporter(t);
  const h = await startScraping(`${nodeJob(ne)}  - job_name: load
    static_configs:
      - targets: ['${ne}']
    metric_relabel_configs:
      - {source_labels: [__name__], regex: node_load1, action: keep}
`);
  t.after(() => h.close());
  const [node] = await h.loops('node');
  const [load] = await h.loops('load');
  await waitFor('three scrapes of node, one of load', () => node.scrapes >= 3 && load.scrapes >= 1, 6000);
  await h.close();

  const target = `{instance="${ne}", job="node"}`;
  const batches = h.sink.batches.filter((b) => b.job === 'node').map((b) => b.samples);
  assert.ok(batches.length >= 3, `${batches.length} scrapes`);
  for (const b of batches) assert.equal(valueOf(b, `up${target}`), 1, node.status().lastError);
  assert.equal(node.status().health, 'up');

  // the schedule: one scrape a second
  const times = batches.map((b) => b.find((s) => s.series === `up${target}`)!.ts);
  for (let i = 1; i < times.length; i++) {
    // room for a loaded machine; a skipped tick would show as ~2000 ms
    assert.ok(Math.abs(times[i] - times[i - 1] - 1000) <= 400, `scrape times ${times.join(', ')}`);
  }

  // CPU time: job, instance, cpu and mode on every series, never decreasing between scrapes
  const cpuSeries = /^node_cpu_seconds_total\{cpu="(\d+)", instance="([^"]+)", job="node", mode="(\w+)"\}$/;
  const cpu = batches.map((b) => new Map(b.filter((s) => s.series.startsWith('node_cpu_seconds_total{')).map((s) => [s.series, s.value])));
  const modes = new Set<string>();
  for (const series of cpu[0].keys()) {
    const m = cpuSeries.exec(series);
    assert.ok(m, series);
    assert.equal(m[2], ne);
    modes.add(m[3]);
  }
  for (const mode of ['idle', 'user', 'system']) assert.ok(modes.has(mode), `mode ${mode} in ${[...modes].join(',')}`);
  for (let i = 1; i < cpu.length; i++) {
    assert.deepEqual([...cpu[i].keys()].sort(), [...cpu[0].keys()].sort(), 'the same CPU series every scrape');
    for (const [series, v] of cpu[i]) assert.ok(v >= cpu[i - 1].get(series)!, `${series} went from ${cpu[i - 1].get(series)} to ${v}`);
  }
  const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  assert.ok(total(cpu.at(-1)!) > total(cpu[0]), 'CPU time goes on between the first and the last scrape');

  // scrape_samples_scraped: the sample lines of the page as node_exporter serves it (same
  // Accept header). Values change between fetches, the set of series of these collectors does not.
  const direct = sampleLines(await pageWhen(`http://${ne}/metrics`, () => true, 2000, { accept: acceptHeader(DEFAULT_SCRAPE_PROTOCOLS) }));
  assert.ok(direct.length > 50, `${direct.length} sample lines`);
  const last = batches.at(-1)!;
  assert.equal(valueOf(last, `scrape_samples_scraped${target}`), direct.length);
  assert.equal(valueOf(last, `scrape_samples_post_metric_relabeling${target}`), direct.length);
  const fromPage = last.filter((s) => !s.series.startsWith('up{') && !s.series.startsWith('scrape_'));
  assert.equal(fromPage.length, direct.length, 'every line of the page became one sample');
  assert.equal(valueOf(batches[0], `scrape_series_added${target}`), direct.length);
  assert.equal(valueOf(last, `scrape_series_added${target}`), 0);

  // metric relabeling keeps node_load1 alone: counted before and after
  const loadTarget = `{instance="${ne}", job="load"}`;
  const loadBatch = h.sink.batches.filter((b) => b.job === 'load').at(-1)!.samples;
  assert.equal(valueOf(loadBatch, `up${loadTarget}`), 1);
  assert.equal(valueOf(loadBatch, `scrape_samples_scraped${loadTarget}`), direct.length);
  assert.equal(valueOf(loadBatch, `scrape_samples_post_metric_relabeling${loadTarget}`), 1);
  const kept = loadBatch.filter((s) => !s.series.startsWith('up{') && !s.series.startsWith('scrape_'));
  assert.deepEqual(kept.map((s) => s.series), [`node_load1${loadTarget}`]);
  assert.ok(Number.isFinite(kept[0].value) && kept[0].value >= 0, `node_load1 ${kept[0].value}`);
});

test('the tributary command scrapes node_exporter and serves the job on its /metrics', async (t) => {
  if (!requirePeer(t, NODE_EXPORTER, 'prometheus-node-exporter')) return;
  const ne = await startNodeExporter(t);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-node-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'tributary.yml');
  writeFileSync(
    config,
    `${nodeJob(ne)}gateway:
  sources:
    - {name: node, source_label: false, scrape: {job: node}}
`,
  );
  const agent = await startAgent(['--config', config]);
  const exited = once(agent.child, 'exit') as Promise<[number | null]>;
  t.after(() => {
    if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
  });
  const labels = `\\{instance="${ne.replace(/\./g, '\\.')}",job="node"\\}`;
  const load = new RegExp(`^node_load1${labels} \\d+(\\.\\d+)?(e[-+]?\\d+)? \\d+$`, 'm');
  const up = new RegExp(`^up${labels} 1 (\\d+)$`, 'm');
  const page = await pageWhen(`http://${agent.address}/metrics`, (body) => load.test(body) && up.test(body), 5000);
  // federation-style: each series with the time of the scrape that produced it
  const scrapedAt = Number(up.exec(page)![1]);
  assert.ok(Math.abs(Date.now() - scrapedAt) < 5000, `up scraped at ${scrapedAt}, now ${Date.now()}`);
  assert.match(page, /^node_cpu_seconds_total\{cpu="\d+",instance="[^"]+",job="node",mode="idle"\} /m);
  // Tributary's own metrics share the page, and count the job's scrapes
  const scrapes = /^tributary_scrapes_total\{[^}]*job="node"[^}]*\} (\d+)/m.exec(page);
  assert.ok(scrapes && Number(scrapes[1]) >= 1, 'tributary_scrapes_total for the job');

  agent.child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, agent.output());
});
