/**
 * Stream aggregation's cost in the real `tributary` process: 100 targets × 1,014 series (the
 * node_exporter fixture twice, bench/exporter-farm.js in a child process) scraped every 5 s and
 * remote-written to a receiver that answers 204 to everything, (a) as is, (b) with 5 rules that
 * each take every sample — `sum by`, `total`, `increase`, `quantiles`, `histogram_bucket`,
 * 30 s intervals — and `keep_input: true`, so both runs send the same raw samples and (b) only
 * adds the aggregation (its outputs and its state writes included). Per run, after a warm-up
 * that holds a flush: the process's CPU over the window per sample scraped, and its resident
 * memory (now and peak). Runs alternate, `STREAMAGGR_ROUNDS` (default 2) pairs; the figures
 * quoted are each mode's median. Bar (issue 21): ≤ 1.5× CPU per sample, ≤ +50 MB RSS.
 *
 * `npm run bench -- streamaggr`; `STREAMAGGR_WINDOW_S` (default 60) sets the window.
 */

import { spawn } from 'node:child_process';
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

async function once(ports: number[], rw: string, requests: () => number, aggregate: boolean, windowS: number): Promise<Run> {
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
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const child = spawn(process.execPath, [CLI, '--config', file, '--data-dir', join(dir, 'data'), '--listen', address, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; ; i++) {
      if (await fetch(`http://${address}/ready`).then((r) => r.ok, () => false)) break;
      if (i > 200) throw new Error('tributary did not start');
      await sleep(100);
    }
    // warm-up: every target scraped a few times and a 30 s flush behind
    await sleep(35_000);
    const s0 = await scraped(address);
    const c0 = cpuSeconds(child.pid);
    const r0 = requests();
    await sleep(windowS * 1000);
    const cpu = cpuSeconds(child.pid) - c0;
    const samples = (await scraped(address)) - s0;
    return { usPerSample: (cpu * 1e6) / samples, rssMb: status(child.pid!, 'VmRSS'), peakMb: status(child.pid!, 'VmHWM'), samples, requests: requests() - r0 };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runStreamAggrBench(): Promise<void> {
  const fixture = NODE_EXPORTER_PAGE;
  const rounds = Number(process.env.STREAMAGGR_ROUNDS ?? 2);
  const windowS = Number(process.env.STREAMAGGR_WINDOW_S ?? 60);
  const farm = await startExporterFarm([String(TARGETS), '--page', fixture, '2']);
  const rw = await countingReceiver();
  const runs: Record<'plain' | 'aggregated', Run[]> = { plain: [], aggregated: [] };
  try {
    for (let i = 0; i < rounds; i++) {
      for (const mode of ['plain', 'aggregated'] as const) {
        const r = await once(farm.ports, rw.url, rw.requests, mode === 'aggregated', windowS);
        runs[mode].push(r);
        console.log(
          `  ${mode.padEnd(10)} ${r.usPerSample.toFixed(2)} µs CPU/sample, RSS ${r.rssMb.toFixed(0)} MB (peak ${r.peakMb.toFixed(0)} MB), ${r.samples.toLocaleString('en-US')} samples, ${r.requests} requests`,
        );
      }
    }
  } finally {
    farm.stop();
    rw.server.close();
  }
  const m = (mode: 'plain' | 'aggregated', k: keyof Run) => median(runs[mode].map((r) => r[k]));
  const cpu = m('aggregated', 'usPerSample') / m('plain', 'usPerSample');
  const rss = m('aggregated', 'rssMb') - m('plain', 'rssMb');
  const peak = m('aggregated', 'peakMb') - m('plain', 'peakMb');
  console.log(`streamaggr: ${TARGETS} targets × 1,014 series every ${INTERVAL_S} s → remote write; 5 rules on every sample, keep_input; medians of ${rounds}`);
  console.log(`  CPU per sample ${cpu.toFixed(2)}× (bar 1.5×), RSS +${rss.toFixed(0)} MB, peak RSS +${peak.toFixed(0)} MB (bar +50 MB)`);
}
