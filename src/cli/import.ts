/**
 * `tributary import INPUT --url URL`: load a gather or vmgather bundle, or JSON lines (plain or
 * gzip), into VictoriaMetrics or a remote-write receiver (src/gather/import-job.ts). Prints the
 * preflight, draws a progress bar (bytes, series, samples, ETA) on a terminal or a line every few
 * seconds otherwise, and the verification at the end. Exit status: 0 when every chunk was taken
 * (and verification, unless off, found everything), 1 when the import failed, was refused by
 * the preflight or did not verify, 2 on a usage error. Started again with the same input and
 * target, it goes on where it stopped.
 */

import { parseArgs } from 'node:util';
import { ImportJob, dur, iso, type ImportStatus, type OutsidePolicy, type Preflight } from '../gather/import-job.js';
import type { ImportProtocol } from '../gather/import-target.js';
import { connectionOf, duration, GatherUsageError } from './gather.js';

const FLAGS = {
  url: { type: 'string' },
  protocol: { type: 'string' },
  'query-url': { type: 'string' },
  tenant: { type: 'string' },
  'basic-auth-user': { type: 'string' },
  'basic-auth-password-file': { type: 'string' },
  'bearer-token-file': { type: 'string' },
  header: { type: 'string' },
  'ca-file': { type: 'string' },
  'insecure-skip-verify': { type: 'boolean' },
  timeout: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'skip-bad-lines': { type: 'boolean' },
  outside: { type: 'string' },
  shift: { type: 'string' },
  retention: { type: 'string' },
  'max-labels': { type: 'string' },
  verify: { type: 'string' },
  restart: { type: 'boolean' },
  'chunk-size': { type: 'string' },
  concurrency: { type: 'string' },
  'retry-for': { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const IMPORT_HELP = `Usage:
  tributary import INPUT --url URL [flags]

INPUT: a gather or vmgather bundle (.zip with metrics.jsonl), or VictoriaMetrics JSON lines (.jsonl, or gzip'ed)

Target:
  --url URL                       VictoriaMetrics (http://vm:8428, http://vminsert:8480/insert/0/prometheus,
                                  vmauth) or a remote-write URL (http://prometheus:9090/api/v1/write,
                                  .../api/v1/push, .../api/v1/receive); a Prometheus root is written by remote write
  --protocol vm-import|remote-write   instead of what the URL and the server say
  --query-url URL                 the query API verification reads (default derived from --url)
  --tenant ID                     VictoriaMetrics cluster tenant accountID[:projectID]
  --basic-auth-user U             with --basic-auth-password-file F (or $TRIBUTARY_IMPORT_PASSWORD)
  --bearer-token-file F           bearer token (or $TRIBUTARY_IMPORT_BEARER_TOKEN)
  --header 'Name: value'          one custom header (or $TRIBUTARY_IMPORT_HEADER)
  --ca-file F, --insecure-skip-verify, --timeout D (per request, default 60s)
Preflight:
  --dry-run                       check the input against the target and stop
  --outside fail|drop|shift|keep  samples outside what the target keeps (its retention, 2 days ahead,
                                  a Prometheus head's window): refuse the import (default), drop them,
                                  shift every sample by --shift (default: the suggested offset), send anyway
  --shift D                       move every sample by D (e.g. 720h, -1h)
  --retention D, --max-labels N   the target's, where it cannot be read (a cluster's vmstorage)
  --skip-bad-lines                import the good lines of an input with bad ones (counted)
Import:
  --chunk-size BYTES              lines per request, about (default 524288)
  --concurrency N                 requests in flight (default 2; 1 for remote write)
  --retry-for D                   keep retrying 5xx, 429 and network errors this long (default 5m)
  --verify false                  skip counting series and samples in the target afterwards
  --restart                       start over instead of resuming (the resume point is kept beside INPUT)
  --data-dir DIR                  where the resume point goes when INPUT's folder is read-only (default ./data)
Exit status: 0 imported (and verified), 1 failed or refused, 2 usage error.
`;

type Values = { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K] extends { type: 'boolean' } ? boolean : string };

function positiveInt(flag: string, s: string, min: number, max: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min || n > max) throw new GatherUsageError(`--${flag} ${JSON.stringify(s)}: want a whole number from ${min} to ${max}`);
  return n;
}

function signedDuration(flag: string, s: string): number {
  const neg = s.startsWith('-');
  const d = duration(flag, neg ? s.slice(1) : s);
  return neg ? -d : d;
}

export async function importMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let v: Values;
  let input: string;
  try {
    let p;
    // `--shift -1h`: a value starting with "-" is taken for a flag by parseArgs
    const args = argv.map((a, i) => (argv[i - 1] === '--shift' && /^-\d/.test(a) ? `--shift=${a}` : a)).filter((a, i) => !(a === '--shift' && /^-\d/.test(argv[i + 1] ?? '')));
    try {
      p = parseArgs({ args, options: FLAGS, allowPositionals: true, strict: true });
    } catch (err) {
      throw new GatherUsageError((err as Error).message.split(/\.\s/)[0]);
    }
    v = p.values as Values;
    if (v.help) {
      process.stdout.write(IMPORT_HELP);
      return 0;
    }
    if (p.positionals.length !== 1) throw new GatherUsageError(p.positionals.length === 0 ? 'name the input: a bundle (.zip) or JSON lines (.jsonl, .jsonl.gz)' : `one input at a time (got ${p.positionals.length})`);
    input = p.positionals[0];
    if (v.url === undefined) throw new GatherUsageError('--url is needed: the target (http://vm:8428, http://prometheus:9090/api/v1/write, ...)');
    const outside = (v.outside ?? (v.shift !== undefined ? 'shift' : 'fail')) as OutsidePolicy;
    if (!['fail', 'drop', 'shift', 'keep'].includes(outside)) throw new GatherUsageError(`--outside ${JSON.stringify(v.outside)}: expected fail, drop, shift or keep`);
    if (v.shift !== undefined && outside !== 'shift') throw new GatherUsageError(`--shift goes with --outside shift (not ${outside})`);
    if (v.protocol !== undefined && v.protocol !== 'vm-import' && v.protocol !== 'remote-write') throw new GatherUsageError(`--protocol ${JSON.stringify(v.protocol)}: expected vm-import or remote-write`);
    if (v.verify !== undefined && v.verify !== 'true' && v.verify !== 'false') throw new GatherUsageError(`--verify ${JSON.stringify(v.verify)}: expected true or false`);
    const conn = connectionOf(v.url, v, env, 'TRIBUTARY_IMPORT');
    const job = new ImportJob({
      input,
      target: {
        ...conn,
        protocol: v.protocol as ImportProtocol | undefined,
        queryUrl: v['query-url'],
        retentionMs: v.retention !== undefined ? duration('retention', v.retention) : undefined,
        maxLabels: v['max-labels'] !== undefined ? positiveInt('max-labels', v['max-labels'], 1, 100_000) : undefined,
      },
      outside,
      shiftMs: v.shift !== undefined ? signedDuration('shift', v.shift) : undefined,
      skipBadLines: v['skip-bad-lines'],
      dryRun: v['dry-run'],
      verify: v.verify !== 'false',
      restart: v.restart,
      chunkBytes: v['chunk-size'] !== undefined ? positiveInt('chunk-size', v['chunk-size'], 4096, 64 << 20) : undefined,
      concurrency: v.concurrency !== undefined ? positiveInt('concurrency', v.concurrency, 1, 64) : undefined,
      retryForMs: v['retry-for'] !== undefined ? duration('retry-for', v['retry-for']) : undefined,
      dataDir: v['data-dir'] ?? 'data',
    });
    return await run(job);
  } catch (err) {
    if (!(err instanceof GatherUsageError)) throw err;
    process.stderr.write(`tributary import: ${err.message}\nRun 'tributary import --help' for usage.\n`);
    return 2;
  }
}

async function run(job: ImportJob): Promise<number> {
  const out = process.stderr;
  let signals = 0;
  const stop = (): void => {
    if (++signals > 1) process.exit(1);
    out.write('\nstopping: the import can be resumed by running the same command again\n');
    job.cancel();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const progress = new Progress(out);
  let shownPreflight = false;
  const timer = setInterval(() => {
    const s = job.status();
    if (s.preflight !== undefined && !shownPreflight) {
      shownPreflight = true;
      printPreflight(s.preflight);
    }
    progress.update(s);
  }, 250);
  let s: ImportStatus;
  try {
    s = await job.run();
  } finally {
    clearInterval(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (s.preflight !== undefined && !shownPreflight) printPreflight(s.preflight);
  progress.update(s);
  progress.end();
  if (s.stage === 'analyzed') {
    const pre = s.preflight!;
    process.stdout.write(pre.refusal === undefined ? `preflight: ready to import${pre.problems.length > 0 ? ` (with the choices made: ${pre.problems.join('; ')})` : ''}\n` : `preflight: not ready: ${pre.refusal}\n`);
    return pre.refusal === undefined ? 0 : 1;
  }
  if (s.stage !== 'completed') {
    out.write(`tributary import: ${s.stage}${s.error ? `: ${s.error}` : ''}\n`);
    if (s.statePath !== undefined && (s.acknowledged > 0 || s.stage === 'canceled')) out.write(`${s.acknowledged} bytes of lines taken by the target (resume point: ${s.statePath}); run the same command again to go on from there\n`);
    return 1;
  }
  const took = (st: 'analyzing' | 'importing' | 'verifying') => ((s.stageMs[st] ?? 0) / 1000).toFixed(2);
  out.write(`checked in ${took('analyzing')} s, imported in ${took('importing')} s${s.verification !== undefined ? `, verified in ${took('verifying')} s` : ''}\n`);
  process.stdout.write(`imported ${s.samplesSent} samples of ${s.seriesTotal ?? '?'} series (${s.bytesDone} bytes of lines)${s.resumedFrom > 0 ? `, resumed at byte ${s.resumedFrom}` : ''}${s.skippedLines > 0 ? `, ${s.skippedLines} bad lines skipped` : ''}${s.retries > 0 ? `, ${s.retries} requests sent again after a failure (what had arrived left out)` : ''}\n`);
  if (s.verification !== undefined) {
    process.stdout.write(`verification: ${s.verification.summary}\n`);
    if (!s.verification.ok) return 1;
  }
  return 0;
}

function printPreflight(p: Preflight): void {
  const a = p.analysis;
  const t = p.target;
  const lines = [
    `target: ${t.writeUrl} (${t.flavour}${t.version !== 'unknown' ? ` ${t.version}` : ''}, ${t.protocol})${t.tenant !== undefined ? ` tenant ${t.tenant}` : ''}`,
    `input: ${p.input.shown} (${p.input.kind}): ${a.lines} lines, ${a.series} series, ${a.samples} samples${a.minMs !== undefined ? `, ${iso(a.minMs)} to ${iso(a.maxMs!)}${p.shiftedByMs !== undefined ? ` (shifted by ${dur(p.shiftedByMs)})` : ''}` : ''}, at most ${a.maxLabelsPerSeries} labels per series`,
  ];
  if (t.retentionMs !== undefined) lines.push(`target keeps: ${dur(t.retentionMs)} (${t.retentionFrom}), samples from ${iso(p.oldestMs!)}${p.newestMs !== undefined ? ` to ${iso(p.newestMs)}` : ''}`);
  if (p.suggestedShiftMs !== undefined) lines.push(`suggested shift: ${dur(p.suggestedShiftMs)} (--outside shift): the input would span ${iso(a.minMs! + p.suggestedShiftMs)} to ${iso(a.maxMs! + p.suggestedShiftMs)}`);
  for (const w of p.warnings) lines.push(`warning: ${w}`);
  for (const q of p.problems) lines.push(`problem: ${q}`);
  process.stderr.write(lines.join('\n') + '\n');
}

/** A bar redrawn in place on a terminal; a line every 5 s otherwise. */
class Progress {
  private drawn = false;
  private lastLine = 0;
  private retries = 0;
  private stateProblem: string | undefined;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(s: ImportStatus): void {
    const total = s.bytesTotal;
    const frac = total ? Math.min(1, s.bytesDone / total) : undefined;
    const eta = s.etaSeconds === undefined ? '?' : dur(s.etaSeconds * 1000);
    const what = s.stage === 'analyzing' ? 'checking' : s.passes > 1 ? `importing (pass ${s.pass + 1}/${s.passes})` : 'importing';
    const text = `${what} ${mib(s.bytesDone)}${total ? `/${mib(total)}` : ''} MiB${frac !== undefined ? ` ${(frac * 100).toFixed(1)}%` : ''}${s.stage === 'importing' ? ` series ${s.seriesTotal ?? '?'} samples ${s.samplesSent}/${s.samplesTotal ?? '?'} ETA ${eta}` : ''}${s.lastError ? ` (retrying: ${s.lastError})` : ''}`;
    if (s.retries > this.retries && s.lastError !== undefined && !this.out.isTTY) this.out.write(`retrying a request (${s.retries} so far): ${s.lastError}\n`);
    if (s.stateProblem !== undefined && s.stateProblem !== this.stateProblem) this.out.write(`${this.drawn ? '\n' : ''}warning: ${s.stateProblem}\n`);
    this.stateProblem = s.stateProblem;
    if (s.stage !== 'importing' && s.stage !== 'analyzing') return;
    this.retries = s.retries;
    if (this.out.isTTY) {
      const width = 30;
      const filled = Math.round((frac ?? 0) * width);
      this.out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`);
      this.drawn = true;
    } else if (Date.now() - this.lastLine >= 5000) {
      this.lastLine = Date.now();
      this.out.write(`${text}\n`);
    }
  }

  end(): void {
    if (this.drawn) this.out.write('\n');
  }
}

function mib(n: number): string {
  return (n / 1048576).toFixed(1);
}
