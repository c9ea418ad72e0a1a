/**
 * `npm run bench:import`: import's throughput against its limit, in one run. The limit is a plain
 * `curl --data-binary @metrics.jsonl <vm>/api/v1/import` of the lines inside the same bundle into
 * the same kind of empty VictoriaMetrics (/usr/bin/victoria-metrics): one request, no parsing on
 * the client, nothing to inflate — what the server can take in at all, so whatever import does
 * costs show as a ratio below 1 (bar: ≥ 0.8). Beside it, Tributary's peak RSS (VmHWM) for the
 * bundle and for one of a range 10× shorter: import streams the bundle, so the 10× larger bundle
 * must not cost 10× the memory.
 *
 * `tributary import` is timed as a user waits for it: the whole command, start-up and preflight
 * included (the preflight reads the whole input once before a byte is sent, so it is a real share
 * of the time, not a constant), with verification off (it is a query the curl run has no
 * counterpart for). Its own `checked in … s, imported in … s` is shown to tell the two parts
 * apart. It reads the ZIP as gather wrote it, curl the lines unzipped ahead of time: inflating is
 * part of what import has to do, reading a file is all curl has to.
 *
 * Every run gets a fresh, empty VictoriaMetrics (its own data folder and port): a server that
 * already holds the series takes the same samples again more cheaply (the series are known,
 * their index entries cached), so a shared one would favour whichever run came second. After
 * each run the samples are counted in the server (`count_over_time` after a flush): a fast import
 * that dropped samples would otherwise look like a good one.
 *
 * The bundle is made once, by `tributary gather` (no obfuscation) from a VictoriaMetrics filled
 * here, ending two days ago so that every sample is inside any retention and none is in the
 * future (the preflight would refuse those). The default size — 10,000 series × 12 h at 15 s
 * (28.8 M samples, ~530 MiB of lines) — is large enough that Node's start and the preflight's
 * questions to the server (~0.5 s) are not what is measured.
 *
 *   npm run bench:import -- [--series 10000] [--hours 12] [--step 15s] [--repeat 3] [--json]
 *
 * Quote the ratio from one run, not absolute figures: the machines are shared and noisy.
 */

import { spawn, execFile as execFileCb } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { cpuSeconds, fill, MATCH, runMeasured, startVm } from './victoria.js';

const execFile = promisify(execFileCb);
const CURL = '/usr/bin/curl';
const UNZIP = '/usr/bin/unzip';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const BAR = 0.8;

const { values: opt } = parseArgs({
  options: {
    series: { type: 'string', default: '10000' },
    hours: { type: 'string', default: '12' },
    step: { type: 'string', default: '15' },
    repeat: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const SERIES = Number(opt.series);
const HOURS = Number(opt.hours);
const STEP_MS = Number(String(opt.step).replace(/s$/, '')) * 1000;
const REPEAT = Number(opt.repeat);
if (!(SERIES > 0 && HOURS > 0 && STEP_MS > 0 && REPEAT >= 1)) throw new Error('--series, --hours, --step and --repeat must be positive');


/** A bundle of the range by `tributary gather` (no obfuscation); returns its samples. */
async function gather(url: string, startMs: number, endMs: number, out: string, dataDir: string): Promise<number> {
  const args = [CLI, 'gather', '--url', url, '--from', String(startMs / 1000), '--to', String(endMs / 1000), '--match', MATCH, '-o', out, '--data-dir', dataDir];
  const { stdout } = await execFile(process.execPath, args, { maxBuffer: 16 << 20 }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`tributary gather failed: ${err.message}\n${err.stderr ?? ''}`);
  });
  rmSync(dataDir, { recursive: true, force: true });
  return Number(/(\d+) samples/.exec(stdout)?.[1]);
}

/** The samples the server holds in the range ending at `endMs` (after a flush). */
async function countSamples(url: string, rangeMs: number, endMs: number): Promise<number> {
  await fetch(`${url}/internal/force_flush`);
  const window = `${Math.ceil((rangeMs + 3_600_000) / 1000)}s`;
  const q = `${url}/api/v1/query?query=${encodeURIComponent(`sum(count_over_time(${MATCH}[${window}]))`)}&time=${endMs / 1000}`;
  const r = await fetch(q);
  if (!r.ok) throw new Error(`count query: ${r.status} ${await r.text()}`);
  const body = (await r.json()) as { data?: { result?: { value: [number, string] }[] } };
  return Number(body.data?.result?.[0]?.value[1] ?? 0);
}

/** Says loudly when the server does not hold every sample the run was to put there. */
function checkArrived(what: string, found: number, expected: number): boolean {
  if (found === expected) return true;
  process.stderr.write(`\n*** ERROR: after ${what}, VictoriaMetrics holds ${found} samples of the range, not ${expected} (${found - expected > 0 ? '+' : ''}${found - expected}) ***\n\n`);
  return false;
}

interface CurlRun {
  seconds: number;
  vmCpu: number;
  arrived: boolean;
}

async function curlRun(jsonl: string, rangeMs: number, endMs: number, samples: number): Promise<CurlRun> {
  const vm = await startVm('bench-import-vm-');
  try {
    const vm0 = cpuSeconds(vm.pid);
    const t0 = performance.now();
    await execFile(CURL, ['-s', '-f', '-H', 'Content-Type: application/jsonl', '--data-binary', `@${jsonl}`, `${vm.url}/api/v1/import`], { maxBuffer: 16 << 20 }).catch((err: Error & { stderr?: string }) => {
      throw new Error(`curl --data-binary failed: ${err.message}\n${err.stderr ?? ''}`);
    });
    const seconds = (performance.now() - t0) / 1000;
    const vmCpu = cpuSeconds(vm.pid) - vm0;
    const arrived = checkArrived('curl --data-binary', await countSamples(vm.url, rangeMs, endMs), samples);
    return { seconds, vmCpu, arrived };
  } finally {
    await vm.stop();
  }
}

interface ImportRun {
  seconds: number;
  checkSeconds: number;
  importSeconds: number;
  peakRss: number;
  cpu: number;
  vmCpu: number;
  samplesSent: number;
  arrived: boolean;
}

async function importRun(bundle: string, rangeMs: number, endMs: number, samples: number, dir: string): Promise<ImportRun> {
  const vm = await startVm('bench-import-vm-');
  const dataDir = mkdtempSync(join(dir, 'import-data-'));
  try {
    const args = [CLI, 'import', bundle, '--url', vm.url, '--verify', 'false', '--data-dir', dataDir];
    const vm0 = cpuSeconds(vm.pid);
    const { code, stdout, stderr, seconds, cpu, peakRss } = await runMeasured(args);
    const vmCpu = cpuSeconds(vm.pid) - vm0;
    if (code !== 0) throw new Error(`tributary import exited ${code}: ${args.join(' ')}\n${stdout}${stderr}`);
    // a retried chunk or a preflight warning makes a slow or odd run: said, so that the figure is not taken for the rule
    for (const line of stderr.split('\n')) if (/retrying|warning|problem/.test(line)) process.stderr.write(`note: import run of ${seconds.toFixed(2)} s: ${line}\n`);
    const took = /checked in ([\d.]+) s, imported in ([\d.]+) s/.exec(stderr);
    if (!took) process.stderr.write(`note: no 'checked in … s, imported in … s' in import's output:\n${stderr}`);
    const samplesSent = Number(/imported (\d+) samples/.exec(stdout)?.[1]);
    if (samplesSent !== samples) process.stderr.write(`note: tributary import says it sent ${samplesSent} samples, the bundle holds ${samples}\n`);
    const arrived = checkArrived('tributary import', await countSamples(vm.url, rangeMs, endMs), samples);
    return { seconds, checkSeconds: Number(took?.[1] ?? NaN), importSeconds: Number(took?.[2] ?? NaN), peakRss, cpu, vmCpu, samplesSent, arrived };
  } finally {
    await vm.stop();
    rmSync(dataDir, { recursive: true, force: true });
    // a resume point is left beside the bundle only by a run that did not complete; the next must start over
    for (const f of readdirSync(dir)) if (/\.import-[0-9a-f]+\.json$/.test(f)) rmSync(join(dir, f), { force: true });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-import-'));
  const out = (line: string) => (opt.json ? process.stderr : process.stdout).write(line + '\n');
  try {
    // two days back: inside any retention, nowhere near the future
    const endMs = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 48 * 3_600_000;
    const rangeMs = HOURS * 3_600_000;
    const smallRangeMs = HOURS * 360_000;
    const bundle = join(dir, 'bundle.zip');
    const smallBundle = join(dir, 'small.zip');
    const jsonl = join(dir, 'metrics.jsonl');
    let filled: number;
    let samples: number;
    let smallSamples: number;
    {
      const src = await startVm('bench-import-vm-');
      try {
        process.stderr.write(`filling VictoriaMetrics: ${SERIES} series × ${HOURS} h at ${STEP_MS / 1000} s...\n`);
        filled = await fill(src.url, endMs - rangeMs, endMs, SERIES, STEP_MS);
        process.stderr.write(`${filled} samples imported; gathering the bundles...\n`);
        samples = await gather(src.url, endMs - rangeMs, endMs, bundle, join(dir, 'gather-data'));
        smallSamples = await gather(src.url, endMs - smallRangeMs, endMs, smallBundle, join(dir, 'gather-data'));
      } finally {
        await src.stop();
      }
    }
    if (samples !== filled) process.stderr.write(`note: gather exported ${samples} samples, ${filled} were imported for the range\n`);
    {
      const fd = openSync(jsonl, 'w');
      try {
        await new Promise<void>((resolve, reject) => {
          const c = spawn(UNZIP, ['-p', bundle, 'metrics.jsonl'], { stdio: ['ignore', fd, 'inherit'] });
          c.on('error', reject);
          c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`unzip exited ${code}`))));
        });
      } finally {
        closeSync(fd);
      }
    }
    const jsonlBytes = statSync(jsonl).size;
    const zipBytes = statSync(bundle).size;
    const mb = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
    const sps = (s: number) => `${Math.round(samples / s).toLocaleString('en')} samples/s`;
    const c = (s: number) => `${s.toFixed(2)} s`;
    out(`bundle: ${HOURS} h, ${SERIES} series, ${samples} samples (ZIP ${mb(zipBytes)}, metrics.jsonl ${mb(jsonlBytes)}); small bundle: ${HOURS / 10} h, ${smallSamples} samples`);

    const rounds: { curl: CurlRun; tributary: ImportRun; ratio: number }[] = [];
    let allArrived = true;
    for (let i = 0; i < REPEAT; i++) {
      const cr = await curlRun(jsonl, rangeMs, endMs, samples);
      const tr = await importRun(bundle, rangeMs, endMs, samples, dir);
      const ratio = cr.seconds / tr.seconds;
      rounds.push({ curl: cr, tributary: tr, ratio });
      allArrived &&= cr.arrived && tr.arrived;
      out(`round ${i + 1}/${REPEAT}`);
      out(`  curl --data-binary  ${cr.seconds.toFixed(2)} s  ${sps(cr.seconds)}  CPU: VictoriaMetrics ${c(cr.vmCpu)}${cr.arrived ? '' : '  SAMPLES MISSING'}`);
      out(
        `  tributary import    ${tr.seconds.toFixed(2)} s  ${sps(tr.seconds)}  ratio ${ratio.toFixed(2)} (bar ${BAR.toFixed(2)}: ${ratio >= BAR ? 'met' : 'NOT met'})  preflight ${c(tr.checkSeconds)}, upload ${c(tr.importSeconds)}  peak RSS ${mb(tr.peakRss)}  CPU: Tributary ${c(tr.cpu)}, VictoriaMetrics ${c(tr.vmCpu)}${tr.arrived ? '' : '  SAMPLES MISSING'}`,
      );
    }
    const small = await importRun(smallBundle, smallRangeMs, endMs, smallSamples, dir);
    allArrived &&= small.arrived;

    // the best of each (least disturbed by the machine's other work)
    const bestCurl = rounds.reduce((a, b) => (b.curl.seconds < a.curl.seconds ? b : a)).curl;
    const bestImport = rounds.reduce((a, b) => (b.tributary.seconds < a.tributary.seconds ? b : a)).tributary;
    const ratio = bestCurl.seconds / bestImport.seconds;
    const peakRss = Math.max(...rounds.map((r) => r.tributary.peakRss));
    const rssGrowth = peakRss / small.peakRss;
    out(`best of ${REPEAT}: curl ${bestCurl.seconds.toFixed(2)} s (${sps(bestCurl.seconds)}), tributary import ${bestImport.seconds.toFixed(2)} s (${sps(bestImport.seconds)}): ratio ${ratio.toFixed(2)} (bar ${BAR.toFixed(2)}: ${ratio >= BAR ? 'met' : 'NOT met'})`);
    out(`memory: import of the 10× smaller bundle peak RSS ${mb(small.peakRss)}; of the full one ${mb(peakRss)} (${rssGrowth.toFixed(2)}×)`);
    if (!allArrived) out('*** ERROR: some run left VictoriaMetrics without every sample (see above) ***');
    if (opt.json) {
      const result = {
        series: SERIES,
        rangeHours: HOURS,
        samples,
        zipBytes,
        jsonlBytes,
        bar: BAR,
        ratio: Number(ratio.toFixed(3)),
        allSamplesArrived: allArrived,
        curl: { seconds: bestCurl.seconds, samplesPerSecond: Math.round(samples / bestCurl.seconds), victoriaMetricsCpuSeconds: bestCurl.vmCpu },
        import: {
          seconds: bestImport.seconds,
          samplesPerSecond: Math.round(samples / bestImport.seconds),
          preflightSeconds: bestImport.checkSeconds,
          uploadSeconds: bestImport.importSeconds,
          peakRssBytes: peakRss,
          cpuSeconds: bestImport.cpu,
          victoriaMetricsCpuSeconds: bestImport.vmCpu,
        },
        rounds: rounds.map((r) => ({
          curl: { seconds: r.curl.seconds, victoriaMetricsCpuSeconds: r.curl.vmCpu, arrived: r.curl.arrived },
          import: { seconds: r.tributary.seconds, preflightSeconds: r.tributary.checkSeconds, uploadSeconds: r.tributary.importSeconds, peakRssBytes: r.tributary.peakRss, cpuSeconds: r.tributary.cpu, victoriaMetricsCpuSeconds: r.tributary.vmCpu, arrived: r.tributary.arrived },
          ratio: Number(r.ratio.toFixed(3)),
        })),
        smallBundle: { rangeHours: HOURS / 10, samples: smallSamples, seconds: small.seconds, peakRssBytes: small.peakRss, rssGrowthFor10xBundle: Number(rssGrowth.toFixed(3)) },
      };
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    }
    if (!allArrived) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
