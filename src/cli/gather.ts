/**
 * `tributary gather`: export series from VictoriaMetrics or Prometheus into an (obfuscated) ZIP
 * bundle. With `--url` it runs one export to its end (a progress bar on a terminal, a line per
 * batch otherwise; exit 0 only with a complete bundle, 1 on failure, 2 on usage errors); without
 * it starts the local wizard (src/gather/server.ts) and runs until SIGINT/SIGTERM, which stop
 * running exports resumably. Flags are its own (parseArgs), secrets come from files or the
 * environment, never from the command line where `ps` shows them.
 */

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fsProblem } from '../common/write-fully.js';
import { parseDuration } from '../config/duration.js';
import { ImportJobs } from '../gather/import-jobs.js';
import { ExportManager } from '../gather/jobs.js';
import { ObfuscationSessions } from '../gather/obfuscate.js';
import { batchWindowProblem, formatDuration } from '../gather/plan.js';
import { selectorsProblem, type AuthConfig, type ConnectionConfig, type ExportRequest, type ExportStatus, type ObfuscationConfig, type Selection, type Source, type SourceInfo } from '../gather/types.js';
import { LOG_FORMATS, LOG_LEVELS, Logger, type LogFormat, type LogLevel } from '../log/logger.js';

const FLAGS = {
  url: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  match: { type: 'string', multiple: true },
  query: { type: 'string' },
  step: { type: 'string' },
  obfuscate: { type: 'string', multiple: true },
  drop: { type: 'string', multiple: true },
  'batch-window': { type: 'string' },
  output: { type: 'string', short: 'o' },
  'basic-auth-user': { type: 'string' },
  'basic-auth-password-file': { type: 'string' },
  'bearer-token-file': { type: 'string' },
  header: { type: 'string' },
  tenant: { type: 'string' },
  'ca-file': { type: 'string' },
  'insecure-skip-verify': { type: 'boolean' },
  timeout: { type: 'string' },
  'data-dir': { type: 'string' },
  resume: { type: 'string' },
  listen: { type: 'string' },
  'no-browser': { type: 'boolean' },
  'output-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const GATHER_HELP = `Usage:
  tributary gather [--listen HOST:PORT] [--no-browser] [--output-dir DIR]     the web wizard
  tributary gather --url URL --from T --to T [selection] [obfuscation] -o FILE   one export
  tributary gather --resume ID [--url URL] [auth flags] -o FILE                   go on with one

Source:
  --url URL                       VictoriaMetrics (http://vm:8428, http://vmselect:8481/select/0/prometheus,
                                  vmauth) or Prometheus (http://prom:9090)
  --tenant ID                     cluster tenant accountID[:projectID] when the URL names none
  --basic-auth-user U             with --basic-auth-password-file F (or $TRIBUTARY_GATHER_PASSWORD)
  --bearer-token-file F           bearer token (or $TRIBUTARY_GATHER_BEARER_TOKEN)
  --header 'Name: value'          one custom header (or $TRIBUTARY_GATHER_HEADER)
  --ca-file F                     PEM CA of the source's certificate
  --insecure-skip-verify          do not verify the source's certificate
  --timeout D                     per request (default 60s)
Selection:
  --from T, --to T                RFC3339 (2026-01-02T15:04:05Z), Unix seconds, now, now-3h
  --match SELECTOR                series selector, repeatable (default {__name__=~".+"})
  --query Q --step D              one MetricsQL/PromQL query evaluated every D instead
  --batch-window D                a fixed window, 30s to 24h (default automatic: 30s/1m/5m by range,
                                  growing while batches come back quickly)
Obfuscation:
  --obfuscate LIST                instance, job and label names, comma-separated, repeatable
  --drop LABEL                    remove this label from every series, repeatable
Output:
  -o, --output FILE               the bundle (default ./tributary-gather_<id>_<time>.zip)
  --data-dir DIR                  staging of running exports (default ./data; <dir>/gather-staging)
  --resume ID                     go on with an interrupted export from its last completed batch
Wizard:
  --listen HOST:PORT              default 127.0.0.1:8080 (the next free port when taken)
  --no-browser                    do not open a browser
  --output-dir DIR                where bundles are written (default the current folder)
Exit status: 0 with a complete bundle, 1 when the export failed, 2 on a usage error.
`;

type Values = { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K] extends { type: 'boolean' } ? boolean : (typeof FLAGS)[K] extends { multiple: true } ? string[] : string };

export class GatherUsageError extends Error {}

/** What source.ts and server.ts export (their modules are loaded when needed; the wizard's only in wizard mode). */
type SourceModule = typeof import('../gather/source.js');
type ServerModule = typeof import('../gather/server.js');
// Named apart from the import call so that each loads only in the mode that needs it.
const SOURCE_MODULE = '../gather/source.js';
const SERVER_MODULE = '../gather/server.js';

/** `now`, `now-3h`, RFC3339, or Unix seconds → Unix ms. */
export function parseTime(flag: string, text: string, now = Date.now()): number {
  const t = text.trim();
  const rel = /^now(?:\s*([-+])\s*(\S+))?$/.exec(t);
  if (rel) {
    if (rel[1] === undefined) return now;
    let d: number;
    try {
      d = parseDuration(rel[2]);
    } catch (err) {
      throw new GatherUsageError(`--${flag} ${JSON.stringify(text)}: ${(err as Error).message}`);
    }
    return rel[1] === '-' ? now - d : now + d;
  }
  if (/^\d+(\.\d+)?$/.test(t)) {
    const ms = Math.round(Number(t) * 1000);
    // 1796612460000 read as seconds is the year 58902: a range there exports nothing, quietly
    if (ms > now + 366 * 86_400_000) throw new GatherUsageError(`--${flag} ${t}: more than a year ahead as Unix seconds (${t.length >= 13 ? 'milliseconds? ' : ''}give seconds, RFC3339 or now-<duration>)`);
    return ms;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new GatherUsageError(`--${flag} ${JSON.stringify(text)}: expected RFC3339 (2026-01-02T15:04:05Z), Unix seconds, or now-<duration> (now-3h)`);
}

export function duration(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new GatherUsageError(`--${flag} ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
}

function readSecret(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new GatherUsageError(`--${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The connection flags gather and import share. */
export interface ConnectionFlags {
  readonly 'basic-auth-user'?: string;
  readonly 'basic-auth-password-file'?: string;
  readonly 'bearer-token-file'?: string;
  readonly header?: string;
  readonly tenant?: string;
  readonly 'ca-file'?: string;
  readonly 'insecure-skip-verify'?: boolean;
  readonly timeout?: string;
}

/** Secrets from the environment: `$<prefix>_PASSWORD`, `_BEARER_TOKEN`, `_HEADER`. */
export function authOf(v: ConnectionFlags, env: NodeJS.ProcessEnv, prefix = 'TRIBUTARY_GATHER'): AuthConfig | undefined {
  const given = [v['basic-auth-user'] !== undefined, v['bearer-token-file'] !== undefined, v.header !== undefined].filter(Boolean).length;
  if (given > 1) throw new GatherUsageError('--basic-auth-user, --bearer-token-file and --header exclude each other: give one');
  if (v['basic-auth-user'] !== undefined) {
    const password = v['basic-auth-password-file'] !== undefined ? readSecret('basic-auth-password-file', v['basic-auth-password-file']) : env[`${prefix}_PASSWORD`];
    if (password === undefined) throw new GatherUsageError(`--basic-auth-user needs --basic-auth-password-file FILE (or $${prefix}_PASSWORD)`);
    return { type: 'basic', username: v['basic-auth-user'], password };
  }
  if (v['basic-auth-password-file'] !== undefined) throw new GatherUsageError('--basic-auth-password-file needs --basic-auth-user');
  if (v['bearer-token-file'] !== undefined) return { type: 'bearer', token: readSecret('bearer-token-file', v['bearer-token-file']) };
  const token = env[`${prefix}_BEARER_TOKEN`];
  if (token) return { type: 'bearer', token };
  const header = v.header ?? env[`${prefix}_HEADER`];
  if (header !== undefined) {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(.*)$/.exec(header);
    if (!m) throw new GatherUsageError(`--header: expected 'Name: value', got a header without a valid name`);
    return { type: 'header', name: m[1], value: m[2] };
  }
  return undefined;
}

export function connectionOf(url: string, v: ConnectionFlags, env: NodeJS.ProcessEnv, prefix = 'TRIBUTARY_GATHER'): ConnectionConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GatherUsageError(`--url ${JSON.stringify(url)}: not a URL (http://host:port/...)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new GatherUsageError(`--url ${JSON.stringify(url)}: http or https only`);
  if (parsed.username || parsed.password) throw new GatherUsageError('--url: credentials in the URL would show in ps and logs; use --basic-auth-user and --basic-auth-password-file');
  let ca: string | undefined;
  if (v['ca-file'] !== undefined) ca = readSecret('ca-file', v['ca-file']);
  const tls = ca !== undefined || v['insecure-skip-verify'] ? { ca, insecureSkipVerify: v['insecure-skip-verify'] } : undefined;
  return { url, tenant: v.tenant, auth: authOf(v, env, prefix), tls, timeoutMs: v.timeout !== undefined ? duration('timeout', v.timeout) : undefined };
}

function obfuscationOf(v: Values): ObfuscationConfig {
  const names = (v.obfuscate ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const drop = (v.drop ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  for (const n of [...names, ...drop]) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(n)) throw new GatherUsageError(`label ${JSON.stringify(n)}: not a label name ([a-zA-Z_][a-zA-Z0-9_]*)`);
    if (n === '__name__') throw new GatherUsageError('__name__ cannot be obfuscated or dropped');
  }
  return {
    enabled: names.length > 0,
    instance: names.includes('instance'),
    job: names.includes('job'),
    labels: [...new Set(names.filter((n) => n !== 'instance' && n !== 'job'))],
    drop: [...new Set(drop)],
  };
}

function selectionOf(v: Values): Selection {
  if (v.query !== undefined) {
    if (v.match !== undefined) throw new GatherUsageError('--query and --match exclude each other');
    if (v.step === undefined) throw new GatherUsageError('--query needs --step D (the evaluation interval, e.g. 30s)');
    return { query: v.query, stepMs: duration('step', v.step) };
  }
  if (v.step !== undefined) throw new GatherUsageError('--step goes with --query');
  const selectors = (v.match ?? ['{__name__=~".+"}']).map((s) => s.trim());
  if (selectors.some((s) => s === '')) throw new GatherUsageError('--match: empty selector');
  const problem = selectorsProblem(selectors);
  if (problem !== undefined) throw new GatherUsageError(`--match: ${problem}`);
  return { selectors };
}

function parse(argv: string[]): Values {
  try {
    const p = parseArgs({ args: argv, options: FLAGS, allowPositionals: false, strict: true });
    return p.values as Values;
  } catch (err) {
    throw new GatherUsageError((err as Error).message.split(/\.\s/)[0]);
  }
}

/** Runs `tributary gather ARGS`; resolves with the exit code. */
export async function gatherMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let v: Values;
  let log: Logger;
  try {
    v = parse(argv);
    if (v.help) {
      process.stdout.write(GATHER_HELP);
      return 0;
    }
    const level = v['log-level'] ?? 'warn';
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new GatherUsageError(`--log-level ${JSON.stringify(level)}: expected one of ${LOG_LEVELS.join(', ')}`);
    const format = v['log-format'] ?? 'logfmt';
    if (!(LOG_FORMATS as readonly string[]).includes(format)) throw new GatherUsageError(`--log-format ${JSON.stringify(format)}: expected one of ${LOG_FORMATS.join(', ')}`);
    log = new Logger(level as LogLevel, format as LogFormat);
    if (v.url === undefined && v.resume === undefined) return await wizard(v, log);
    return await oneShot(v, env, log);
  } catch (err) {
    if (!(err instanceof GatherUsageError)) throw err;
    process.stderr.write(`tributary gather: ${err.message}\nRun 'tributary gather --help' for usage.\n`);
    return 2;
  }
}

function stagingOf(v: Values): string {
  return join(resolve(v['data-dir'] ?? 'data'), 'gather-staging');
}

async function oneShot(v: Values, env: NodeJS.ProcessEnv, log: Logger): Promise<number> {
  for (const f of ['listen', 'no-browser', 'output-dir'] as const) if (v[f] !== undefined) throw new GatherUsageError(`--${f} is for the wizard (without --url)`);
  let output: string | undefined;
  let outputDir = process.cwd();
  if (v.output !== undefined) {
    output = resolve(v.output);
    if (existsSync(output) && statSync(output).isDirectory()) {
      outputDir = output;
      output = undefined;
    } else {
      outputDir = dirname(output);
      if (!existsSync(outputDir)) throw new GatherUsageError(`-o ${v.output}: folder ${outputDir} does not exist`);
      if (!output.endsWith('.zip')) throw new GatherUsageError(`-o ${v.output}: a bundle is a .zip file`);
      // a bundle is not written over: the one there may be the last copy of someone's export
      if (existsSync(output)) throw new GatherUsageError(`-o ${v.output}: the file exists; remove it or name another`);
    }
  }
  // a folder that cannot take the bundle is said now, not after the whole export has run
  const unwritable = (await writableProblem(outputDir)) ?? (await writableProblem(stagingOf(v), 'the staging files (--data-dir)', true));
  if (unwritable !== undefined) {
    process.stderr.write(`tributary gather: ${unwritable}\n`);
    return 1;
  }
  let req: ExportRequest | undefined;
  if (v.resume === undefined) {
    if (v.from === undefined || v.to === undefined) throw new GatherUsageError('--from and --to are needed (e.g. --from now-3h --to now)');
    const now = Date.now();
    const startMs = parseTime('from', v.from, now);
    const endMs = parseTime('to', v.to, now);
    if (endMs <= startMs) throw new GatherUsageError(`--to (${new Date(endMs).toISOString()}) must be after --from (${new Date(startMs).toISOString()})`);
    let batchWindowMs: number | undefined;
    if (v['batch-window'] !== undefined) {
      batchWindowMs = duration('batch-window', v['batch-window']);
      const p = batchWindowProblem(batchWindowMs);
      if (p) throw new GatherUsageError(`--batch-window ${v['batch-window']}: ${p.replace(/^batch window \S+: /, '')}`);
    }
    req = {
      connection: connectionOf(v.url as string, v, env),
      selection: selectionOf(v),
      startMs,
      endMs,
      batchWindowMs,
      obfuscation: obfuscationOf(v),
    };
  } else {
    for (const f of ['from', 'to', 'match', 'query', 'step', 'obfuscate', 'drop', 'batch-window'] as const) {
      if (v[f] !== undefined) throw new GatherUsageError(`--${f}: a resumed export keeps what it was started with`);
    }
    if (!/^[0-9a-f]{16}$/.test(v.resume)) throw new GatherUsageError(`--resume ${JSON.stringify(v.resume)}: an export id is 16 hex digits`);
  }

  const sourceModule = (await import(SOURCE_MODULE)) as SourceModule;
  let info: SourceInfo | undefined;
  if (req !== undefined && req.obfuscation.enabled && req.obfuscation.job) {
    const found = await jobComponents(sourceModule, req);
    info = found.info;
    req = { ...req, jobComponents: found.components };
  }
  // validated once: the export's source is opened with what discovery's validation found
  const jobs = new ExportManager({ stagingDir: stagingOf(v), outputDir, openSource: (c) => sourceModule.openSource(c, info), log });
  await jobs.open();
  const progress = new Progress(process.stderr);
  let id: string;
  let finalStatus: ExportStatus | undefined;
  const done = new Promise<ExportStatus>((resolveDone) => {
    jobs.onChange((s) => {
      if (s.id !== id) return;
      progress.update(s);
      if (s.state === 'completed' || s.state === 'failed' || s.state === 'canceled' || s.state === 'interrupted') resolveDone(s);
    });
  });
  try {
    if (req !== undefined) {
      id = jobs.start(req).id;
    } else {
      id = v.resume as string;
      const saved = jobs.request(id);
      if (saved === undefined) throw new GatherUsageError(`--resume ${id}: no such export in ${stagingOf(v)}`);
      const conn = v.url !== undefined ? connectionOf(v.url, v, env) : { ...saved.connection, auth: authOf(v, env) ?? saved.connection.auth };
      jobs.resume(id, conn);
    }
  } catch (err) {
    await jobs.close();
    if (err instanceof GatherUsageError) throw err;
    process.stderr.write(`tributary gather: ${(err as Error).message}\n`);
    return 1;
  }
  // a kill -9 prints nothing more: how to go on is said now
  process.stderr.write(`export ${id}\nif it is interrupted, resume it with: tributary gather --resume ${id}${v['data-dir'] ? ` --data-dir ${v['data-dir']}` : ''}${v.output ? ` -o ${v.output}` : ''}\n`);
  let signals = 0;
  const stop = () => {
    if (++signals > 1) process.exit(1);
    void jobs.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    finalStatus = await done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  progress.end();
  await jobs.close();
  const r = finalStatus.result;
  if (finalStatus.state !== 'completed' || r === undefined) {
    process.stderr.write(`tributary gather: export ${id} ${finalStatus.state}${finalStatus.error ? `: ${finalStatus.error}` : ''}\n`);
    process.stderr.write(`resume it with: tributary gather --resume ${id}${v['data-dir'] ? ` --data-dir ${v['data-dir']}` : ''} [auth flags]${v.output ? ` -o ${v.output}` : ''}\n`);
    return 1;
  }
  let path = r.path;
  if (output !== undefined && output !== path) {
    await rename(path, output);
    // the export's own "completed" line named the bundle as the export wrote it
    log.info('gather: bundle moved to -o', { id, from: path, to: output });
    path = output;
  }
  process.stdout.write(`${path}\nsha256 ${r.sha256}\n${r.series} series, ${r.samples} samples, ${r.bytes} bytes\n`);
  if (r.series === 0) process.stderr.write('tributary gather: warning: no series matched the selection over the range: the bundle is empty\n');
  return 0;
}

/**
 * The VictoriaMetrics component of each job (discovery), so that jobs are named
 * `<component>-job-<n>`; a source that cannot tell leaves them `unknown-job-<n>`.
 */
async function jobComponents(mod: SourceModule, req: ExportRequest): Promise<{ components: Record<string, string>; info?: SourceInfo }> {
  let source: Source | undefined;
  try {
    source = await mod.openSource(req.connection);
    return { components: await source.jobComponents(req.startMs, req.endMs), info: source.info };
  } catch (err) {
    // the export itself reports an unreachable source; here it only costs the component names
    process.stderr.write(`jobs not discovered (${(err as Error).message}): obfuscated jobs are named unknown-job-<n>\n`);
    return { components: {}, info: source?.info };
  } finally {
    await source?.close().catch(() => undefined);
  }
}

/** A bar redrawn in place on a terminal; a line per completed batch otherwise. */
class Progress {
  private lastDone = -1;
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(s: ExportStatus): void {
    const eta = s.etaSeconds === undefined ? '?' : formatDuration(Math.round(s.etaSeconds) * 1000) || '0s';
    if (this.out.isTTY) {
      const width = 30;
      const filled = Math.round(s.progress * width);
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
      this.out.write(`\r${bar} ${(s.progress * 100).toFixed(1)}% batches ${s.batchesDone}/${s.batchesTotal} samples ${s.samples} ETA ${eta}\x1b[K`);
      this.drawn = true;
    } else if (s.batchesDone !== this.lastDone && s.batchesDone > 0 && s.state === 'running') {
      this.out.write(`batch ${s.batchesDone}/${s.batchesTotal} done: ${s.samples} samples, ${s.series} series, ETA ${eta}\n`);
    }
    this.lastDone = s.batchesDone;
  }

  end(): void {
    if (this.drawn) this.out.write('\n');
  }
}

async function wizard(v: Values, log: Logger): Promise<number> {
  for (const f of ['from', 'to', 'match', 'query', 'step', 'obfuscate', 'drop', 'batch-window', 'output', 'basic-auth-user', 'bearer-token-file', 'header'] as const) {
    if (v[f] !== undefined) throw new GatherUsageError(`--${f} needs --url (without it, the wizard starts)`);
  }
  const outputDir = resolve(v['output-dir'] ?? '.');
  if (!existsSync(outputDir) || !statSync(outputDir).isDirectory()) throw new GatherUsageError(`--output-dir ${outputDir}: not a folder`);
  const unwritable = await writableProblem(outputDir);
  if (unwritable !== undefined) throw new GatherUsageError(`--output-dir: ${unwritable}`);
  const noStaging = await writableProblem(stagingOf(v), 'the staging files', true);
  if (noStaging !== undefined) throw new GatherUsageError(`--data-dir: ${noStaging}`);
  const sessions = new ObfuscationSessions();
  const sourceModule = (await import(SOURCE_MODULE)) as SourceModule;
  const serverModule = (await import(SERVER_MODULE)) as ServerModule;
  const jobs = new ExportManager({ stagingDir: stagingOf(v), outputDir, openSource: (c) => sourceModule.openSource(c), sessions, log });
  await jobs.open();
  const imports = new ImportJobs(resolve(v['data-dir'] ?? 'data'));
  const server = await serverModule.startGatherServer({
    imports,
    listen: v.listen ?? '127.0.0.1:8080',
    nextFreePort: v.listen === undefined,
    outputDir,
    stagingDir: stagingOf(v),
    jobs,
    sessions,
    openSource: (c) => sourceModule.openSource(c),
    validate: (c) => sourceModule.validateSource(c),
    log,
  });
  process.stdout.write(`Tributary gather wizard: ${server.url}\nbundles go to ${outputDir}; Ctrl-C stops (running exports can be resumed)\n`);
  if (!v['no-browser']) openBrowser(server.url);
  return new Promise<number>((resolveExit) => {
    let signals = 0;
    const stop = () => {
      if (++signals > 1) process.exit(1);
      process.stderr.write('stopping: running exports are interrupted (resumable)\n');
      void (async () => {
        await server.close();
        await imports.close();
        await jobs.close();
        resolveExit(0);
      })();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Why bundles cannot be written in `dir` (a file is made there and removed), or undefined. */
async function writableProblem(dir: string, what = 'bundles', create = false): Promise<string | undefined> {
  const probe = join(dir, `.tributary-gather-probe-${process.pid}`);
  try {
    if (create) await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(probe, 'probe');
    return undefined;
  } catch (err) {
    return `cannot write ${what} in ${dir}: ${fsProblem(err)}`;
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

/** Opens the wizard in the desktop's browser when there is one; its absence is no error. */
function openBrowser(url: string): void {
  try {
    const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // no xdg-open: the URL is printed
  }
}
