/**
 * `npm run bench:gather`: gather's export throughput against its limit, in one run on one
 * VictoriaMetrics (/usr/bin/victoria-metrics, filled here through /api/v1/import): a plain
 * `curl -s -o file '<vm>/api/v1/export?match[]=…&start=…&end=…'` of the range (what the server
 * can hand out at all) beside `tributary gather` (dist/cli.js, one-shot, obfuscation on:
 * instance, job and a label) of the same range into a ZIP — samples per second of each, their
 * ratio (bar: ≥ 0.7), and Tributary's peak RSS (VmHWM) for the range and for a range 10× shorter
 * (memory must stay flat: the export streams, so the 10× larger range must not cost 10× the RSS).
 *
 * Two gather runs are measured: with the automatic batch window (what a user gets without
 * `--batch-window`: it starts at vmgather's window — 5 min for ranges over 6 h — and grows while
 * batches come back small and quick; the bar applies to this one) and with a fixed `--window`
 * (default 1h). VictoriaMetrics spends ~0.2 s of CPU per export request of 10k series whatever
 * its window, so the number of requests shows in the ratio; curl makes one.
 *
 * The default size — 10,000 series × 12 h at 15 s (28.8 M samples, ~530 MiB of export lines) —
 * is large enough that the fixed start-up of gather (Node's start, validation, discovery, the
 * first sight of every series: ~0.6 s) is not what is measured, and keeps the whole run (filling
 * included) within about two minutes on two cores.
 *
 *   npm run bench:gather -- [--series 10000] [--hours 12] [--step 15s] [--window 1h] [--repeat 2] [--json]
 *
 * Quote the ratio from one run, not absolute figures: the machines are shared and noisy.
 */

import { spawn, execFile as execFileCb } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const execFile = promisify(execFileCb);
const VM = '/usr/bin/victoria-metrics';
const CURL = '/usr/bin/curl';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');

const { values: opt } = parseArgs({
  options: {
    series: { type: 'string', default: '10000' },
    hours: { type: 'string', default: '12' },
    window: { type: 'string', default: '1h' },
    step: { type: 'string', default: '15' },
    repeat: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const SERIES = Number(opt.series);
const HOURS = Number(opt.hours);
const STEP_MS = Number(String(opt.step).replace(/s$/, '')) * 1000;
const REPEAT = Number(opt.repeat);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startVm(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-gather-vm-'));
  const child = spawn(VM, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=100y', '-loggerLevel=ERROR', '-search.maxExportSeries=10000000'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (i > 200) throw new Error('victoria-metrics did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** N series × the range, imported in pieces; returns the number of samples. */
async function fill(url: string, startMs: number, endMs: number): Promise<number> {
  let samples = 0;
  const perSeries = Math.ceil((endMs - startMs) / STEP_MS);
  // one line per series per hour of points keeps each request small
  const chunkPoints = Math.ceil(3_600_000 / STEP_MS);
  for (let from = 0; from < perSeries; from += chunkPoints) {
    const lines: string[] = [];
    for (let s = 0; s < SERIES; s++) {
      const host = `node-${s % 50}.dc${s % 3}.customer.example`;
      const metric = { __name__: `bench_metric_${s % 20}`, job: `job-${s % 10}`, instance: `${host}:${9100 + (s % 4)}`, team: `team-${s % 7}`, idx: String(s) };
      const ts: number[] = [];
      const vs: number[] = [];
      for (let k = from; k < Math.min(perSeries, from + chunkPoints); k++) {
        ts.push(startMs + k * STEP_MS);
        vs.push(Math.round(Math.sin(k + s) * 1000) / 10);
      }
      samples += ts.length;
      lines.push(JSON.stringify({ metric, values: vs, timestamps: ts }));
    }
    const r = await fetch(`${url}/api/v1/import`, { method: 'POST', body: lines.join('\n') + '\n' });
    if (!r.ok) throw new Error(`import: ${r.status} ${await r.text()}`);
  }
  await fetch(`${url}/internal/force_flush`);
  return samples;
}

const MATCH = '{__name__=~"bench_metric_.*"}';

async function curlRun(url: string, startMs: number, endMs: number, dir: string): Promise<{ seconds: number; bytes: number }> {
  const out = join(dir, 'curl.jsonl');
  const q = `${url}/api/v1/export?match[]=${encodeURIComponent(MATCH)}&start=${startMs / 1000}&end=${(endMs - 1) / 1000}`;
  const t0 = performance.now();
  await execFile(CURL, ['-s', '-f', '-o', out, q], { maxBuffer: 1 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  const bytes = statSync(out).size;
  rmSync(out);
  return { seconds, bytes };
}

async function gatherRun(url: string, startMs: number, endMs: number, dir: string, window?: string): Promise<{ seconds: number; peakRss: number; samples: number; zipBytes: number }> {
  const out = join(dir, 'bundle.zip');
  const data = join(dir, 'data');
  const args = [CLI, 'gather', '--url', url, '--from', String(startMs / 1000), '--to', String(endMs / 1000), '--match', MATCH, '--obfuscate', 'instance,job,team', '-o', out, '--data-dir', data, ...(window ? ['--batch-window', window] : [])];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let peakRss = 0;
  const poll = setInterval(() => {
    try {
      const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakRss = Math.max(peakRss, Number(m[1]) * 1024);
    } catch {
      // exited
    }
  }, 20);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearInterval(poll);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`tributary gather exited ${code}: ${stderr}`);
  const samples = Number(/(\d+) samples/.exec(stdout)?.[1]);
  const zipBytes = statSync(out).size;
  rmSync(out);
  rmSync(data, { recursive: true, force: true });
  return { seconds, peakRss, samples, zipBytes };
}

async function main(): Promise<void> {
  const vm = await startVm();
  const dir = mkdtempSync(join(tmpdir(), 'bench-gather-'));
  try {
    const endMs = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    // the measured range, and one 10× shorter for the memory comparison
    const smallStart = endMs - HOURS * 3_600_000;
    const tenthStart = endMs - HOURS * 360_000;
    process.stderr.write(`filling VictoriaMetrics: ${SERIES} series × ${HOURS} h at ${STEP_MS / 1000} s...\n`);
    const small = await fill(vm.url, smallStart, endMs);
    process.stderr.write(`${small} samples imported\n`);
    // a warm-up of both, then the measured rounds; the best of each (least disturbed)
    await curlRun(vm.url, smallStart, endMs, dir);
    await gatherRun(vm.url, smallStart, endMs, dir);
    let curlBest = Infinity;
    let curlBytes = 0;
    const best = { auto: Infinity, window: Infinity };
    const rss = { auto: 0, window: 0 };
    let samplesSmall = 0;
    let zipBytes = 0;
    for (let i = 0; i < REPEAT; i++) {
      const c = await curlRun(vm.url, smallStart, endMs, dir);
      curlBest = Math.min(curlBest, c.seconds);
      curlBytes = c.bytes;
      const a = await gatherRun(vm.url, smallStart, endMs, dir);
      best.auto = Math.min(best.auto, a.seconds);
      rss.auto = Math.max(rss.auto, a.peakRss);
      samplesSmall = a.samples;
      zipBytes = a.zipBytes;
      const g = await gatherRun(vm.url, smallStart, endMs, dir, opt.window);
      best.window = Math.min(best.window, g.seconds);
      rss.window = Math.max(rss.window, g.peakRss);
    }
    if (samplesSmall !== small) process.stderr.write(`note: gather exported ${samplesSmall} samples, ${small} were imported for the range\n`);
    const tenth = await gatherRun(vm.url, tenthStart, endMs, dir);
    const curlRate = samplesSmall / curlBest;
    const rate = (s: number) => samplesSmall / s;
    const ratio = rate(best.auto) / curlRate;
    const ratioWindow = rate(best.window) / curlRate;
    const result = {
      series: SERIES,
      rangeHours: HOURS,
      samples: samplesSmall,
      curl: { seconds: curlBest, samplesPerSecond: Math.round(curlRate), bytes: curlBytes },
      gather: { window: 'auto', seconds: best.auto, samplesPerSecond: Math.round(rate(best.auto)), zipBytes, peakRssBytes: rss.auto, ratio: Number(ratio.toFixed(3)) },
      gatherFixedWindow: { window: opt.window, seconds: best.window, samplesPerSecond: Math.round(rate(best.window)), peakRssBytes: rss.window, ratio: Number(ratioWindow.toFixed(3)) },
      ratio: Number(ratio.toFixed(3)),
      bar: 0.7,
      tenthRange: { rangeHours: HOURS / 10, samples: tenth.samples, seconds: tenth.seconds, peakRssBytes: tenth.peakRss, rssGrowthFor10xRange: Number((rss.auto / tenth.peakRss).toFixed(3)) },
    };
    if (opt.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      const mb = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
      const sps = (s: number) => `${Math.round(rate(s)).toLocaleString('en')} samples/s`;
      process.stdout.write(
        [
          `range ${HOURS} h, ${SERIES} series, ${samplesSmall} samples (obfuscation: instance, job, team)`,
          `  curl /api/v1/export           ${curlBest.toFixed(2)} s  ${sps(curlBest)}  (${mb(curlBytes)} of lines)`,
          `  gather, automatic window      ${best.auto.toFixed(2)} s  ${sps(best.auto)}  (ZIP ${mb(zipBytes)})  ratio ${ratio.toFixed(2)} (bar 0.70: ${ratio >= 0.7 ? 'met' : 'NOT met'})  peak RSS ${mb(rss.auto)}`,
          `  gather --batch-window ${opt.window.padEnd(7)} ${best.window.toFixed(2)} s  ${sps(best.window)}  ratio ${ratioWindow.toFixed(2)}  peak RSS ${mb(rss.window)}`,
          `memory: gather (automatic window) of ${HOURS / 10} h (${tenth.samples} samples) peak RSS ${mb(tenth.peakRss)}; of the 10× range ${mb(rss.auto)} (${(rss.auto / tenth.peakRss).toFixed(2)}×)`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    await vm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
