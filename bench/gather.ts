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
 * Beside them, the floor (`floorMain`): a Node process making the same requests and doing only
 * the deflate every bundle needs, in one request (as curl) and in as many as the fixed window
 * makes. On two cores VictoriaMetrics' export and the deflate share the machine; what the floor
 * reaches is the most any bundle written by Node can reach there.
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
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { cpuSeconds, fill, MATCH, runMeasured, startVm } from './victoria.js';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { open } from 'node:fs/promises';
import { ParallelDeflate } from '../src/gather/deflate.js';
import { DEFAULT_COMPRESSION_LEVEL } from '../src/gather/bundle.js';

const execFile = promisify(execFileCb);
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
    // internal: this process is the floor (see floorMain)
    role: { type: 'string' },
    url: { type: 'string' },
    start: { type: 'string' },
    end: { type: 'string' },
    requests: { type: 'string' },
    out: { type: 'string' },
  },
});
const SERIES = Number(opt.series);
const HOURS = Number(opt.hours);
const STEP_MS = Number(String(opt.step).replace(/s$/, '')) * 1000;
const REPEAT = Number(opt.repeat);

/** `1h`, `30m`, `90s` in milliseconds. */
function parseDurationMs(s: string): number {
  const m = /^(\d+)(h|m|s)$/.exec(s);
  if (!m) throw new Error(`--window ${s}: expected e.g. 1h, 30m`);
  return Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000 }[m[2] as 'h' | 'm' | 's'];
}

let vmPid: number | undefined;


async function curlRun(url: string, startMs: number, endMs: number, dir: string): Promise<{ seconds: number; bytes: number; vmCpu: number }> {
  const out = join(dir, 'curl.jsonl');
  const q = `${url}/api/v1/export?match[]=${encodeURIComponent(MATCH)}&start=${startMs / 1000}&end=${(endMs - 1) / 1000}`;
  const vm0 = cpuSeconds(vmPid);
  const t0 = performance.now();
  await execFile(CURL, ['-s', '-f', '-o', out, q], { maxBuffer: 1 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  const vmCpu = cpuSeconds(vmPid) - vm0;
  const bytes = statSync(out).size;
  rmSync(out);
  return { seconds, bytes, vmCpu };
}

async function gatherRun(url: string, startMs: number, endMs: number, dir: string, window?: string): Promise<{ seconds: number; peakRss: number; samples: number; zipBytes: number; cpu: number; vmCpu: number }> {
  const out = join(dir, 'bundle.zip');
  const data = join(dir, 'data');
  const args = [CLI, 'gather', '--url', url, '--from', String(startMs / 1000), '--to', String(endMs / 1000), '--match', MATCH, '--obfuscate', 'instance,job,team', '-o', out, '--data-dir', data, ...(window ? ['--batch-window', window] : [])];
  const vm0 = cpuSeconds(vmPid);
  const { code, stdout, stderr, seconds, cpu, peakRss } = await runMeasured(args);
  const vmCpu = cpuSeconds(vmPid) - vm0;
  if (code !== 0) throw new Error(`tributary gather exited ${code}: ${stderr}`);
  // a retried or split batch makes a slow run: said, so that the figure is not taken for the rule
  for (const line of stderr.split('\n')) if (/retrying|split/.test(line)) process.stderr.write(`note: gather run of ${seconds.toFixed(2)} s: ${line}\n`);
  const samples = Number(/(\d+) samples/.exec(stdout)?.[1]);
  const zipBytes = statSync(out).size;
  rmSync(out);
  rmSync(data, { recursive: true, force: true });
  return { seconds, peakRss, samples, zipBytes, cpu, vmCpu };
}

async function main(): Promise<void> {
  const vm = await startVm('bench-gather-vm-');
  vmPid = vm.pid;
  const dir = mkdtempSync(join(tmpdir(), 'bench-gather-'));
  try {
    const endMs = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    // the measured range, and one 10× shorter for the memory comparison
    const smallStart = endMs - HOURS * 3_600_000;
    const tenthStart = endMs - HOURS * 360_000;
    process.stderr.write(`filling VictoriaMetrics: ${SERIES} series × ${HOURS} h at ${STEP_MS / 1000} s...\n`);
    const small = await fill(vm.url, smallStart, endMs, SERIES, STEP_MS);
    process.stderr.write(`${small} samples imported\n`);
    // a warm-up of both, then the measured rounds; the best of each (least disturbed)
    await gatherRun(vm.url, smallStart, endMs, dir);
    await curlRun(vm.url, smallStart, endMs, dir);
    let curlBest = Infinity;
    let curlBytes = 0;
    const best = { auto: Infinity, window: Infinity };
    // CPU seconds of the best run of each: VictoriaMetrics' and (for gather) Tributary's
    const cpu = { curlVm: 0, autoVm: 0, auto: 0, windowVm: 0, window: 0 };
    const rss = { auto: 0, window: 0 };
    let samplesSmall = 0;
    let zipBytes = 0;
    // the floor in as many requests as curl (1) and as the fixed-window gather
    const windowMs = parseDurationMs(opt.window);
    const floorRequests = [...new Set([1, Math.max(1, Math.round((endMs - smallStart) / windowMs))])];
    const floors = new Map(floorRequests.map((n) => [n, { seconds: Infinity, cpu: 0, vmCpu: 0 }]));
    const floorRun1 = async (n: number) => {
      const f = await floorRun(vm.url, smallStart, endMs, dir, n);
      const b = floors.get(n) as { seconds: number; cpu: number; vmCpu: number };
      if (f.seconds < b.seconds) Object.assign(b, f);
    };
    // the order matters: after a run of many small-window requests (the fixed window's), the
    // next single-request export of this VictoriaMetrics is ~40% slower, and stays so until a run
    // of few wide requests; so curl comes after the one-request floor, never after those runs
    for (let i = 0; i < REPEAT; i++) {
      await floorRun1(1);
      const c = await curlRun(vm.url, smallStart, endMs, dir);
      if (c.seconds < curlBest) cpu.curlVm = c.vmCpu;
      curlBest = Math.min(curlBest, c.seconds);
      curlBytes = c.bytes;
      const a = await gatherRun(vm.url, smallStart, endMs, dir);
      if (a.seconds < best.auto) Object.assign(cpu, { auto: a.cpu, autoVm: a.vmCpu });
      best.auto = Math.min(best.auto, a.seconds);
      rss.auto = Math.max(rss.auto, a.peakRss);
      samplesSmall = a.samples;
      zipBytes = a.zipBytes;
      const g = await gatherRun(vm.url, smallStart, endMs, dir, opt.window);
      if (g.seconds < best.window) Object.assign(cpu, { window: g.cpu, windowVm: g.vmCpu });
      best.window = Math.min(best.window, g.seconds);
      rss.window = Math.max(rss.window, g.peakRss);
      for (const n of floorRequests) if (n !== 1) await floorRun1(n);
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
      curl: { seconds: curlBest, samplesPerSecond: Math.round(curlRate), bytes: curlBytes, victoriaMetricsCpuSeconds: cpu.curlVm },
      gather: { window: 'auto', seconds: best.auto, samplesPerSecond: Math.round(rate(best.auto)), zipBytes, peakRssBytes: rss.auto, ratio: Number(ratio.toFixed(3)), cpuSeconds: cpu.auto, victoriaMetricsCpuSeconds: cpu.autoVm },
      gatherFixedWindow: { window: opt.window, seconds: best.window, samplesPerSecond: Math.round(rate(best.window)), peakRssBytes: rss.window, ratio: Number(ratioWindow.toFixed(3)), cpuSeconds: cpu.window, victoriaMetricsCpuSeconds: cpu.windowVm },
      ratio: Number(ratio.toFixed(3)),
      bar: 0.7,
      floor: [...floors].map(([requests, f]) => ({ requests, seconds: f.seconds, ratio: Number((curlBest / f.seconds).toFixed(3)), cpuSeconds: f.cpu, victoriaMetricsCpuSeconds: f.vmCpu })),
      tenthRange: { rangeHours: HOURS / 10, samples: tenth.samples, seconds: tenth.seconds, peakRssBytes: tenth.peakRss, rssGrowthFor10xRange: Number((rss.auto / tenth.peakRss).toFixed(3)) },
    };
    if (opt.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      const mb = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
      const sps = (s: number) => `${Math.round(rate(s)).toLocaleString('en')} samples/s`;
      const c = (s: number) => `${s.toFixed(2)} s`;
      process.stdout.write(
        [
          `range ${HOURS} h, ${SERIES} series, ${samplesSmall} samples (obfuscation: instance, job, team)`,
          `  curl /api/v1/export           ${curlBest.toFixed(2)} s  ${sps(curlBest)}  (${mb(curlBytes)} of lines)  CPU: VictoriaMetrics ${c(cpu.curlVm)}`,
          `  gather, automatic window      ${best.auto.toFixed(2)} s  ${sps(best.auto)}  (ZIP ${mb(zipBytes)})  ratio ${ratio.toFixed(2)} (bar 0.70: ${ratio >= 0.7 ? 'met' : 'NOT met'})  peak RSS ${mb(rss.auto)}  CPU: Tributary ${c(cpu.auto)}, VictoriaMetrics ${c(cpu.autoVm)}`,
          `  gather --batch-window ${opt.window.padEnd(7)} ${best.window.toFixed(2)} s  ${sps(best.window)}  ratio ${ratioWindow.toFixed(2)}  peak RSS ${mb(rss.window)}  CPU: Tributary ${c(cpu.window)}, VictoriaMetrics ${c(cpu.windowVm)}`,
          ...[...floors].map(
            ([n, f]) =>
              `  floor: deflate only, ${String(n).padStart(2)} req. ${f.seconds.toFixed(2)} s  ${sps(f.seconds)}  ratio ${(curlBest / f.seconds).toFixed(2)}  CPU: Node ${c(f.cpu)}, VictoriaMetrics ${c(f.vmCpu)}`,
          ),
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

/**
 * The floor: a Node process that asks VictoriaMetrics for the range in `--requests` equal windows
 * (three requests ahead, as gather), and does nothing with the answers but what no bundle can
 * skip: cut them into blocks and deflate them as gather does (src/gather/deflate.ts, same level
 * and threads) into a file. No parsing, no obfuscation, no staging, no ZIP records. Whatever
 * gather does, it cannot be faster than this on the same machine.
 */
async function floorMain(): Promise<void> {
  const start = Number(opt.start);
  const end = Number(opt.end);
  const n = Number(opt.requests);
  const agent = new Agent({ keepAlive: true, maxSockets: 3 });
  const fh = await open(String(opt.out), 'w');
  let pos = 0;
  const deflate = new ParallelDeflate({
    level: DEFAULT_COMPRESSION_LEVEL,
    output: async (p) => {
      await fh.write(p, 0, p.length, pos);
      pos += p.length;
    },
  });
  const get = (i: number): Promise<IncomingMessage> => {
    const s = start + Math.floor(((end - start) * i) / n);
    const e = start + Math.floor(((end - start) * (i + 1)) / n);
    const q = `${opt.url}/api/v1/export?match[]=${encodeURIComponent(MATCH)}&start=${s / 1000}&end=${(e - 1) / 1000}`;
    return new Promise((resolve, reject) => httpRequest(q, { agent }, resolve).on('error', reject).end());
  };
  const BLOCK = 1 << 20;
  let block = Buffer.allocUnsafe(BLOCK);
  let used = 0;
  const ahead: Promise<IncomingMessage>[] = [];
  for (let i = 0; i < Math.min(3, n); i++) ahead.push(get(i));
  for (let i = 0; i < n; i++) {
    const res = await (ahead.shift() as Promise<IncomingMessage>);
    if (i + 3 < n) ahead.push(get(i + 3));
    for await (const chunk of res as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; ) {
        const k = chunk.copy(block, used, at);
        used += k;
        at += k;
        if (used === BLOCK) {
          await deflate.push(block);
          block = Buffer.allocUnsafe(BLOCK);
          used = 0;
        }
      }
    }
  }
  if (used > 0) await deflate.push(block.subarray(0, used));
  await deflate.end();
  await fh.close();
  agent.destroy();
}

async function floorRun(url: string, startMs: number, endMs: number, dir: string, requests: number): Promise<{ seconds: number; cpu: number; vmCpu: number }> {
  const out = join(dir, 'floor.deflate');
  const vm0 = cpuSeconds(vmPid);
  const t0 = performance.now();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', 'floor', '--url', url, '--start', String(startMs), '--end', String(endMs), '--requests', String(requests), '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let cpu = 0;
  const poll = setInterval(() => (cpu = Math.max(cpu, cpuSeconds(child.pid))), 20);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearInterval(poll);
  const seconds = (performance.now() - t0) / 1000;
  const vmCpu = cpuSeconds(vmPid) - vm0;
  if (code !== 0) throw new Error(`floor exited ${code}: ${stderr}`);
  rmSync(out);
  return { seconds, cpu, vmCpu };
}

if (opt.role === 'floor') await floorMain();
else await main();
