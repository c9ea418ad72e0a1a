/**
 * Stream aggregation's cost in the real `tributary` process: 100 targets × 1,014 series (the
 * node_exporter fixture twice, bench/exporter-farm.js in a child process) scraped every 5 s and
 * remote-written to a receiver that answers 204 to everything, (a) as is, (b) with 5 rules that
 * each take every sample — `sum by`, `total`, `increase`, `quantiles`, `histogram_bucket`,
 * 30 s intervals — and `keep_input: true`, so both runs send the same raw samples and (b) only
 * adds the aggregation (its outputs and its state writes included). The two run at the same
 * time, each its own process with its own receiver, over the same window: this machine's CPU
 * time per unit of work drifts by a quarter from one minute to the next, and side by side both
 * see the same drift. Per process, after a warm-up that holds a flush: its CPU over the window
 * per sample scraped, and its resident memory (now and peak). `STREAMAGGR_ROUNDS` (default 3)
 * rounds; the figures quoted are the medians of the rounds' ratios and differences. Bar (issue
 * 21): ≤ 1.5× CPU per sample, ≤ +50 MB RSS.
 *
 * `npm run bench -- streamaggr`; `STREAMAGGR_WINDOW_S` (default 60) sets the window.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_EXPORTER_PAGE } from './fixtures.js';
import { countingReceiver, startExporterFarm } from './harness.js';
import { cpuSeconds, freePort } from './victoria.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const TARGETS = 100;
const INTERVAL_S = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const RULES = `stream_aggr:
  keep_input: true
  rules:
    - { interval: 30s, by: [__name__, shard], outputs: [sum_samples] }
    - { interval: 30s, without: [instance], outputs: [total] }
    - { interval: 30s, without: [instance], outputs: [increase] }
    - { interval: 30s, by: [__name__], outputs: ['quantiles(0.5, 0.9, 0.99)'] }
    - { interval: 30s, without: [instance], outputs: [histogram_bucket] }
`;

const MODES = ['plain', 'aggregated'] as const;
type Mode = (typeof MODES)[number];
type Receiver = Awaited<ReturnType<typeof countingReceiver>>;

interface Run {
  usPerSample: number;
  rssMb: number;
  peakMb: number;
  samples: number;
  requests: number;
}

function status(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

async function scraped(address: string): Promise<number> {
  const page = await (await fetch(`http://${address}/metrics`)).text();
  let n = 0;
  for (const m of page.matchAll(/^tributary_scrape_samples_scraped_total\{[^}]*\} (\S+)$/gm)) n += Number(m[1]);
  return n;
}

interface Started {
  child: ChildProcess;
  address: string;
  dir: string;
}

async function start(ports: number[], rw: string, aggregate: boolean): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-aggr-'));
  const targets = ports.map((p) => `'127.0.0.1:${p}'`).join(', ');
  const file = join(dir, 'tributary.yml');
  writeFileSync(
    file,
    `global: { scrape_interval: ${INTERVAL_S}s, scrape_timeout: ${INTERVAL_S}s }
scrape_configs:
  - job_name: farm
    static_configs: [{ targets: [${targets}] }]
remote_write:
  - url: ${rw}
${aggregate ? RULES : ''}`,
  );
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, [CLI, '--config', file, '--data-dir', join(dir, 'data'), '--listen', address, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; ; i++) {
    if (await fetch(`http://${address}/ready`).then((r) => r.ok, () => false)) break;
    if (i > 200) throw new Error('tributary did not start');
    await sleep(100);
  }
  return { child, address, dir };
}

async function stop(s: Started): Promise<void> {
  if (s.child.exitCode === null) {
    s.child.kill('SIGTERM');
    await new Promise((r) => s.child.once('exit', r));
  }
  rmSync(s.dir, { recursive: true, force: true });
}

/** Both modes at once over one window. */
async function round(ports: number[], receivers: Receiver[], windowS: number): Promise<Record<Mode, Run>> {
  const started: Started[] = [];
  try {
    for (const [i, mode] of MODES.entries()) started.push(await start(ports, receivers[i].url, mode === 'aggregated'));
    // warm-up: every target scraped a few times and a 30 s flush behind
    await sleep(35_000);
    const s0 = await Promise.all(started.map((s) => scraped(s.address)));
    const c0 = started.map((s) => cpuSeconds(s.child.pid));
    const r0 = receivers.map((r) => r.requests());
    await sleep(windowS * 1000);
    const cpu = started.map((s, i) => cpuSeconds(s.child.pid) - c0[i]);
    const samples = await Promise.all(started.map(async (s, i) => (await scraped(s.address)) - s0[i]));
    const run = (i: number): Run => ({
      usPerSample: (cpu[i] * 1e6) / samples[i],
      rssMb: status(started[i].child.pid!, 'VmRSS'),
      peakMb: status(started[i].child.pid!, 'VmHWM'),
      samples: samples[i],
      requests: receivers[i].requests() - r0[i],
    });
    return { plain: run(0), aggregated: run(1) };
  } finally {
    await Promise.all(started.map(stop));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runStreamAggrBench(): Promise<void> {
  const fixture = NODE_EXPORTER_PAGE;
  const rounds = Number(process.env.STREAMAGGR_ROUNDS ?? 3);
  const windowS = Number(process.env.STREAMAGGR_WINDOW_S ?? 60);
  const farm = await startExporterFarm([String(TARGETS), '--page', fixture, '2']);
  const receivers = [await countingReceiver(), await countingReceiver()];
  const ratios: { cpu: number; rss: number; peak: number }[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const r = await round(farm.ports, receivers, windowS);
      for (const mode of MODES) {
        const x = r[mode];
        console.log(
          `  ${mode.padEnd(10)} ${x.usPerSample.toFixed(2)} µs CPU/sample, RSS ${x.rssMb.toFixed(0)} MB (peak ${x.peakMb.toFixed(0)} MB), ${x.samples.toLocaleString('en-US')} samples, ${x.requests} requests`,
        );
      }
      const d = { cpu: r.aggregated.usPerSample / r.plain.usPerSample, rss: r.aggregated.rssMb - r.plain.rssMb, peak: r.aggregated.peakMb - r.plain.peakMb };
      ratios.push(d);
      console.log(`  round ${i + 1}: ${d.cpu.toFixed(2)}× CPU per sample, RSS +${d.rss.toFixed(0)} MB, peak +${d.peak.toFixed(0)} MB`);
    }
  } finally {
    farm.stop();
    for (const r of receivers) r.server.close();
  }
  const m = (k: 'cpu' | 'rss' | 'peak') => median(ratios.map((r) => r[k]));
  console.log(`streamaggr: ${TARGETS} targets × 1,014 series every ${INTERVAL_S} s → remote write; 5 rules on every sample, keep_input; side by side, medians of ${rounds} rounds`);
  console.log(`  CPU per sample ${m('cpu').toFixed(2)}× (bar 1.5×), RSS +${m('rss').toFixed(0)} MB, peak RSS +${m('peak').toFixed(0)} MB (bar +50 MB)`);
}
