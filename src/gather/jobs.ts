/**
 * Gather's export jobs: each export reads its range batch by batch from a `Source`, rewrites
 * every line through its `Obfuscator` as it streams, appends it to a staging file and, when every
 * batch is in, hands the file to `bundle.ts`. At most `maxRunning` (3) run at once; the rest wait.
 *
 * Durability: a job's staging folder `<stagingDir>/<id>/` holds `metrics.partial.jsonl` (only
 * obfuscated lines when obfuscation is on) and `state.json` (the request without secrets, the
 * batches and how many are done, the partial file's length after the last completed batch, the
 * counts and the obfuscator's map). A batch's lines are appended, the file fsynced, then
 * state.json replaced (temp + rename): killed at any moment, the job resumes from its last
 * completed batch, the partial file cut back to the length state.json records.
 *
 * A batch the source answers with a timeout or a too-many-series refusal is split — in halves by
 * time down to 1 s, then (series selectors) one part per job — rather than failing the export;
 * other errors are retried with backoff before the job fails with the error in words.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferPool } from '../common/buffer-pool.js';
import { writeFully } from '../common/write-fully.js';
import type { Logger } from '../log/logger.js';
import { BundleWriter, tempPrefix, writeBundle, type BundleInfo } from './bundle.js';
import { isObfuscatorState, metricSpan, ObfuscationSessions, Obfuscator, type ObfuscatorState } from './obfuscate.js';
import { autoBatchWindow, growWindow, MIN_BATCH_WINDOW_MS, planBatches } from './plan.js';
import {
  SECRET,
  SourceError,
  redactSecrets,
  secretsOf,
  withoutSecrets,
  type ConnectionConfig,
  type ExportJobs,
  type ExportRequest,
  type ExportResult,
  type ExportState,
  type ExportStatus,
  type Selection,
  type Source,
} from './types.js';

const PARTIAL = 'metrics.partial.jsonl';
const STATE = 'state.json';
/** Batches shorter than this are not split by time any more. */
const MIN_SPLIT_MS = 1000;
/** Retries of a batch failing for other reasons than size, with these waits. */
const RETRY_DELAYS_MS = [1000, 3000, 9000];
/**
 * Lines are rewritten into buffers of this size, each then both a block of the bundle's deflate
 * and a write of the staging file. Taken from `pool` and given back when both are done with it:
 * a fresh 1 MiB buffer is mapped afresh by glibc (a page fault per 4 KiB, more than the copy).
 */
const WRITE_CHUNK = 1 << 20;
/** Buffers kept for reuse (the most a job holds at once: the deflate's blocks and one staging write). */
const POOL_BUFFERS = 16;
const ID_RE = /^[0-9a-f]{16}$/;

/** One request of an export: a time window, and for a split by job, the job it is narrowed to. */
export interface WorkItem {
  readonly startMs: number;
  readonly endMs: number;
  /** Narrowed to series of this job (`""`: series without a job label). */
  readonly job?: string;
  /** Its share of the whole export (for progress); the shares of all items add up to 1. */
  readonly weight: number;
}

/** state.json. */
interface SavedState {
  readonly version: 1;
  readonly id: string;
  readonly request: ExportRequest;
  /** Whether the request had secrets that were not written (a resume after a restart needs them). */
  readonly hadSecrets: boolean;
  readonly createdAt: number;
  readonly work: readonly WorkItem[];
  readonly done: number;
  readonly partialBytes: number;
  readonly samples: number;
  readonly batchSeconds: number;
  readonly obfuscator: ObfuscatorState;
  /** The automatic window as it stands (absent: a custom window, fixed). */
  readonly adaptive?: Adaptive;
}

/** An automatic batch window: grown while batches come back small and quick, fixed once a batch had to be split. */
interface Adaptive {
  windowMs: number;
  /** No more growing: it reached its bound, or a batch too big for the source was split. */
  settled: boolean;
}

interface Job {
  readonly id: string;
  readonly dir: string;
  request: ExportRequest;
  readonly hadSecrets: boolean;
  readonly createdAt: number;
  state: ExportState;
  work: WorkItem[];
  done: number;
  partialBytes: number;
  samples: number;
  /** Obfuscated `metric` objects met (as latin1 strings): the series count. */
  series: Set<string>;
  /** The rewritten `metric` Buffers (the obfuscator's cached ones) already counted: a lookup without a key string. */
  seenMetrics: WeakSet<Buffer>;
  /** Jobs as they appear in the bundle. */
  jobs: Set<string>;
  batchSeconds: number;
  batchesTimed: number;
  obfuscator: Obfuscator;
  adaptive?: Adaptive;
  /** The last state.json write, pending or settled (each waits for the one before). */
  saving?: Promise<void>;
  current?: { startMs: number; endMs: number };
  error?: string;
  result?: ExportResult;
  startedAt: number;
  finishedAt?: number;
  needsCredentials: boolean;
  abort?: AbortController;
  /** Settles when the running attempt has ended (its files closed). */
  running?: Promise<void>;
  forgetTimer?: NodeJS.Timeout;
  /**
   * The bundle written as the export goes (a run from the first batch, no batch failed in it):
   * finishing it is the last step. Otherwise the bundle is made from the staged lines at the end.
   */
  live?: BundleWriter;
}

export interface ExportManagerOptions {
  stagingDir: string;
  outputDir: string;
  openSource: (c: ConnectionConfig) => Promise<Source>;
  sessions?: ObfuscationSessions;
  log?: Logger;
  maxRunning?: number;
  keepFinishedMs?: number;
  /** Deflate level of the bundle (default bundle.ts's). */
  compressionLevel?: number;
  /** Requests of one export in flight at once: the current batch's and those of the next (default 3). */
  requestsInFlight?: number;
  /** Waits between retries (tests shorten them). */
  retryDelaysMs?: readonly number[];
}

function hasSecrets(c: ConnectionConfig): boolean {
  return c.auth !== undefined && c.auth.type !== 'none';
}

function secretsMissing(c: ConnectionConfig): boolean {
  const a = c.auth;
  if (a === undefined || a.type === 'none') return false;
  return (a.type === 'basic' ? a.password : a.type === 'bearer' ? a.token : a.value) === SECRET;
}

/** A series selector narrowed to one job: `m{a="b"}` → `m{a="b",job="j"}`, `m` → `m{job="j"}`. */
export function withJobMatcher(selector: string, job: string): string {
  const s = selector.trim();
  const m = `job=${JSON.stringify(job)}`;
  if (s.endsWith('}')) {
    // the first "{": a metric name has none, a label value after it may
    const open = s.indexOf('{');
    const inner = s.slice(open + 1, -1).trim();
    return `${s.slice(0, open)}{${inner === '' ? m : `${inner.replace(/,\s*$/, '')},${m}`}}`;
  }
  return `${s}{${m}}`;
}

function itemSelection(sel: Selection, item: WorkItem): Selection {
  if (item.job === undefined || !('selectors' in sel)) return sel;
  return { selectors: sel.selectors.map((s) => withJobMatcher(s, item.job as string)) };
}

const TIMESTAMPS = Buffer.from('"timestamps":[');
const METRIC_HEAD = Buffer.from('{"metric":{');

/** The number of samples of the export line `buf[from, end)`: the commas of its `timestamps` array, plus one. */
function countSamples(buf: Buffer, from: number, end: number): number {
  let i = buf.indexOf(TIMESTAMPS, from);
  if (i < 0 || i >= end) return 0;
  i += TIMESTAMPS.length;
  const close = buf.indexOf(0x5d, i);
  if (close < 0 || close >= end || close === i) return 0;
  // millisecond timestamps of 2001–2286 are 13 digits: n of them take 14n-1 bytes, a comma
  // every 14th — checked at each place (plain reads), else counted one by one
  const len = close - i;
  if ((len + 1) % 14 === 0) {
    const n = (len + 1) / 14;
    let ok = true;
    for (let c = i + 13; c < close; c += 14) {
      if (buf[c] !== 0x2c) {
        ok = false;
        break;
      }
    }
    if (ok) return n;
  }
  let n = 1;
  for (let c = buf.indexOf(0x2c, i); c >= 0 && c < close; c = buf.indexOf(0x2c, c + 1)) n++;
  return n;
}

/**
 * Where the `metric` object of the line `buf[from, end)` is (absolute offsets), read in place:
 * lines as VictoriaMetrics writes them (`{"metric":{`) are scanned here, others go through
 * obfuscate.ts's `metricSpan`.
 */
function metricSpanAt(buf: Buffer, from: number, end: number): { start: number; end: number } | undefined {
  if (end - from > METRIC_HEAD.length && buf.compare(METRIC_HEAD, 0, METRIC_HEAD.length, from, from + METRIC_HEAD.length) === 0) {
    let inString = false;
    for (let i = from + METRIC_HEAD.length; i < end; i++) {
      const c = buf[i];
      if (inString) {
        if (c === 0x5c) i++;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x7d) return { start: from + METRIC_HEAD.length - 1, end: i + 1 };
      else if (c === 0x7b) return undefined;
    }
    return undefined;
  }
  const span = metricSpan(buf.subarray(from, end));
  return span && { start: span.start + from, end: span.end + from };
}

const JOB_KEY = Buffer.from('"job":"');

/** The `job` label of a `metric` object's JSON. */
function jobOf(metric: Buffer): string | undefined {
  // compact JSON (as VictoriaMetrics and JSON.stringify write it): `"job":"` can only be that
  // key (a quote inside a value is escaped), and a value without escapes is its bytes
  const at = metric.indexOf(JOB_KEY);
  if (at >= 0) {
    const from = at + JOB_KEY.length;
    const end = metric.indexOf(0x22, from);
    if (end >= 0 && metric.indexOf(0x5c, from) < 0) return metric.toString('utf8', from, end);
  } else if (metric.indexOf('"job"') < 0) return undefined;
  try {
    const m = JSON.parse(metric.toString('utf8')) as Record<string, unknown>;
    return typeof m.job === 'string' ? m.job : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

class Canceled extends Error {}

export class ExportManager implements ExportJobs {
  private readonly jobs = new Map<string, Job>();
  private readonly listeners = new Set<(s: ExportStatus) => void>();
  private readonly queue: string[] = [];
  private readonly maxRunning: number;
  private readonly keepFinishedMs: number;
  private readonly retryDelays: readonly number[];
  private runningCount = 0;
  private readonly ahead: number;
  private closed = false;
  private readonly pool = new BufferPool(WRITE_CHUNK, POOL_BUFFERS);

  constructor(private readonly opts: ExportManagerOptions) {
    this.maxRunning = opts.maxRunning ?? 3;
    this.keepFinishedMs = opts.keepFinishedMs ?? 30 * 60_000;
    this.retryDelays = opts.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.ahead = Math.max(1, opts.requestsInFlight ?? 3);
  }

  /** Finds the jobs a stop or a crash left in the staging folder: each is `interrupted`, resumable. */
  async open(): Promise<void> {
    await mkdir(this.opts.stagingDir, { recursive: true, mode: 0o700 });
    await mkdir(this.opts.outputDir, { recursive: true });
    for (const entry of await readdir(this.opts.stagingDir, { withFileTypes: true })) {
      if (!entry.isDirectory() || !ID_RE.test(entry.name) || this.jobs.has(entry.name)) continue;
      const dir = join(this.opts.stagingDir, entry.name);
      let saved: SavedState;
      try {
        saved = JSON.parse(await readFile(join(dir, STATE), 'utf8')) as SavedState;
        if (saved.version !== 1 || saved.id !== entry.name || !isObfuscatorState(saved.obfuscator) || !Array.isArray(saved.work)) throw new Error('unexpected shape');
      } catch (err) {
        this.opts.log?.warn('gather: staging folder without a readable state, left alone', { dir, err: (err as Error).message });
        continue;
      }
      const job = this.fromSaved(saved, dir);
      // the series and jobs counted so far are not in state.json: they are read back from the staged lines
      await this.recount(job);
      job.state = 'interrupted';
      job.needsCredentials = saved.hadSecrets;
      job.error = 'interrupted by a restart of Tributary';
      this.jobs.set(job.id, job);
      // the bundle it was writing when it stopped is made again when it completes
      for (const f of await readdir(this.opts.outputDir)) if (f.startsWith(tempPrefix(job.id))) await rm(join(this.opts.outputDir, f), { force: true });
      this.opts.log?.info('gather: interrupted export found', { id: job.id, batchesDone: job.done, batchesTotal: job.work.length });
    }
  }

  start(req: ExportRequest): ExportStatus {
    if (this.closed) throw new Error('export jobs are closing');
    const adaptive = req.batchWindowMs === undefined ? { windowMs: autoBatchWindow(req.endMs - req.startMs), settled: false } : undefined;
    const work = planBatches(req.startMs, req.endMs, adaptive?.windowMs ?? req.batchWindowMs);
    let obfuscator: Obfuscator;
    if (req.obfuscationSession !== undefined) {
      const session = this.opts.sessions?.get(req.obfuscationSession);
      if (session === undefined) throw new Error(`obfuscation session ${JSON.stringify(req.obfuscationSession)} is unknown or expired: preview again`);
      obfuscator = new Obfuscator(req.obfuscation, req.jobComponents, session.state());
    } else obfuscator = new Obfuscator(req.obfuscation, req.jobComponents);
    const id = randomBytes(8).toString('hex');
    const range = req.endMs - req.startMs;
    const now = Date.now();
    const job: Job = {
      id,
      dir: join(this.opts.stagingDir, id),
      request: req,
      hadSecrets: hasSecrets(req.connection),
      createdAt: now,
      state: 'pending',
      work: work.map((b) => ({ ...b, weight: (b.endMs - b.startMs) / range })),
      done: 0,
      partialBytes: 0,
      samples: 0,
      series: new Set(),
      seenMetrics: new WeakSet(),
      jobs: new Set(),
      batchSeconds: 0,
      batchesTimed: 0,
      obfuscator,
      adaptive,
      startedAt: now,
      needsCredentials: false,
    };
    this.jobs.set(id, job);
    this.enqueue(job);
    return this.statusOf(job);
  }

  status(id: string): ExportStatus | undefined {
    const job = this.jobs.get(id);
    return job && this.statusOf(job);
  }

  list(): ExportStatus[] {
    return [...this.jobs.values()].map((j) => this.statusOf(j));
  }

  /** The request of a job, without secrets (the CLI's `--resume` reads its URL from it). */
  request(id: string): ExportRequest | undefined {
    const job = this.jobs.get(id);
    return job && { ...job.request, connection: withoutSecrets(job.request.connection) };
  }

  cancel(id: string): ExportStatus | undefined {
    const job = this.jobs.get(id);
    if (job === undefined) return undefined;
    if (job.state === 'pending') {
      const i = this.queue.indexOf(id);
      if (i >= 0) this.queue.splice(i, 1);
      this.finish(job, 'canceled');
    } else if (job.state === 'running') {
      job.abort?.abort();
    }
    return this.statusOf(job);
  }

  resume(id: string, connection?: ConnectionConfig): ExportStatus {
    const job = this.jobs.get(id);
    if (job === undefined) throw new Error(`no export ${JSON.stringify(id)} (finished exports are forgotten after ${Math.round(this.keepFinishedMs / 60_000)} minutes)`);
    if (job.state === 'pending' || job.state === 'running') return this.statusOf(job);
    if (job.state === 'completed') throw new Error(`export ${id} is already completed`);
    if (connection !== undefined) job.request = { ...job.request, connection };
    if (secretsMissing(job.request.connection)) {
      job.needsCredentials = true;
      throw new Error(`export ${id}: its credentials were not kept across the restart; give them again to resume`);
    }
    if (job.running !== undefined) throw new Error(`export ${id} is still stopping; try again in a moment`);
    if (job.forgetTimer) clearTimeout(job.forgetTimer);
    job.needsCredentials = false;
    job.error = undefined;
    job.finishedAt = undefined;
    this.enqueue(job);
    return this.statusOf(job);
  }

  onChange(listener: (s: ExportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops every running export where it is (each resumable from its last completed batch). */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    const waits: Promise<void>[] = [];
    for (const job of this.jobs.values()) {
      if (job.forgetTimer) clearTimeout(job.forgetTimer);
      if (job.state === 'running') {
        job.abort?.abort();
        if (job.running) waits.push(job.running);
      }
    }
    await Promise.all(waits);
  }

  private enqueue(job: Job): void {
    job.state = 'pending';
    this.queue.push(job.id);
    this.emit(job);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.runningCount < this.maxRunning && this.queue.length > 0) {
      const job = this.jobs.get(this.queue.shift() as string);
      if (job === undefined || job.state !== 'pending') continue;
      this.runningCount++;
      job.state = 'running';
      job.abort = new AbortController();
      this.emit(job);
      job.running = this.run(job).then((final) => {
        this.runningCount--;
        job.running = undefined;
        job.abort = undefined;
        // announced only now: a listener that resumes at once finds the job stopped
        this.finish(job, final);
        this.pump();
      });
    }
  }

  private async run(job: Job): Promise<ExportState> {
    const signal = (job.abort as AbortController).signal;
    let source: Source | undefined;
    let fh: FileHandle | undefined;
    try {
      await mkdir(job.dir, { recursive: true, mode: 0o700 });
      const partial = join(job.dir, PARTIAL);
      fh = await open(partial, 'a+', 0o600);
      // what a kill left after the last completed batch is cut off
      await fh.truncate(job.partialBytes);
      await this.save(job);
      source = await this.opts.openSource(job.request.connection);
      if (job.done === 0 && job.partialBytes === 0) await job.obfuscator.seedFrom(source, job.request.startMs, job.request.endMs);
      if (job.done === 0 && job.partialBytes === 0) job.live = new BundleWriter(this.opts.outputDir, job.id, new Date(), this.opts.compressionLevel);
      if (signal.aborted) throw new Canceled();
      const ahead = new Ahead(source, job, signal, this.ahead);
      try {
        while (job.done < job.work.length) {
          if (signal.aborted) throw new Canceled();
          await this.runItem(job, ahead, fh, signal);
        }
      } finally {
        ahead.clear();
      }
      await job.saving;
      await fh.close();
      fh = undefined;
      const req = job.request;
      const components = new Set<string>();
      const comp = req.jobComponents;
      const originals = req.obfuscation.enabled && req.obfuscation.job ? Object.keys(job.obfuscator.state().jobs) : [...job.jobs];
      // a job discovery found no component for is `unknown` (as discovery lists it)
      if (comp !== undefined) for (const j of originals) components.add(Object.hasOwn(comp, j) ? comp[j] : 'unknown');
      const live = job.live;
      job.live = undefined;
      const info: BundleInfo = {
        id: job.id,
        createdAt: live?.createdAt ?? new Date(),
        startMs: req.startMs,
        endMs: req.endMs,
        components: [...components].sort(),
        jobs: [...job.jobs].sort(),
        series: job.series.size,
        samples: job.samples,
        obfuscated: req.obfuscation.enabled,
        obfuscation: { instance: req.obfuscation.instance, job: req.obfuscation.job, labels: req.obfuscation.labels, drop: req.obfuscation.drop },
        selection: req.selection,
        sourceFlavour: source.info.flavour,
        sourceVersion: source.info.version,
      };
      const written = live ? await live.finish(info) : await writeBundle(partial, this.opts.outputDir, info, { compressionLevel: this.opts.compressionLevel, signal });
      job.result = { ...written, series: job.series.size, samples: job.samples };
      job.current = undefined;
      await rm(job.dir, { recursive: true, force: true });
      this.opts.log?.info('gather: export completed', { id: job.id, path: written.path, sha256: written.sha256, series: job.series.size, samples: job.samples });
      return 'completed';
    } catch (err) {
      await job.saving?.catch(() => undefined);
      if (fh) await fh.close().catch(() => undefined);
      await this.dropLive(job);
      const canceled = err instanceof Canceled || signal.aborted;
      job.current = undefined;
      if (canceled) {
        job.error = this.closed ? 'Tributary stopped' : undefined;
        return this.closed ? 'interrupted' : 'canceled';
      }
      // a source's error may quote what it was sent: credentials never reach the status or the log
      job.error = redactSecrets((err as Error).message, secretsOf(job.request.connection));
      this.opts.log?.error('gather: export failed', { id: job.id, err: job.error });
      return 'failed';
    } finally {
      await source?.close().catch(() => undefined);
    }
  }

  /** Runs the next work item: done (appended and recorded), split, or thrown. */
  private async runItem(job: Job, ahead: Ahead, fh: FileHandle, signal: AbortSignal): Promise<void> {
    const source = ahead.source;
    const item = job.work[job.done];
    job.current = { startMs: item.startMs, endMs: item.endMs };
    this.emit(job);
    const began = performance.now();
    const samplesBefore = job.samples;
    let bytes = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const fetch = ahead.take();
        try {
          bytes = await this.fetchItem(job, fetch, fh);
        } finally {
          fetch.discard();
        }
        break;
      } catch (err) {
        // the requests ahead were for the batches as they stood: a split or a retry starts them again
        ahead.clear();
        if (signal.aborted) throw new Canceled();
        const split = err instanceof SourceError && (err.kind === 'timeout' || err.kind === 'too_many_series') ? await this.split(job, source, item, signal) : undefined;
        if (split !== undefined) {
          this.opts.log?.info('gather: batch split', { id: job.id, why: (err as Error).message, parts: split.length });
          job.work.splice(job.done, 1, ...split);
          this.settle(job, split);
          await this.save(job);
          return;
        }
        // an empty-job part the source refuses (`{job=""}` alone is not a valid selector) holds no series
        if (item.job === '' && err instanceof SourceError && err.kind === 'http' && err.status === 400) break;
        const final = !(err instanceof SourceError) || err.kind === 'auth' || err.kind === 'not_found' || attempt >= this.retryDelays.length;
        const range = `${new Date(item.startMs).toISOString()}–${new Date(item.endMs).toISOString()}`;
        if (final) throw new Error(`batch ${range}${item.job !== undefined ? ` (job ${JSON.stringify(item.job)})` : ''}: ${(err as Error).message}`);
        this.opts.log?.warn('gather: batch failed, retrying', { id: job.id, range, err: (err as Error).message, attempt: attempt + 1 });
        await sleep(this.retryDelays[attempt], signal);
        if (signal.aborted) throw new Canceled();
      }
    }
    const seconds = (performance.now() - began) / 1000;
    job.done++;
    job.batchSeconds += seconds;
    job.batchesTimed++;
    this.grow(job, item, seconds, job.samples - samplesBefore, bytes, ahead);
    // made durable beside the next batch, not before it: the fsync of a batch's lines waits on
    // the disk, and state.json (which names the batch done) is replaced only after it. Lines of
    // the next batch appended meanwhile lie past the recorded length: a kill cuts them off. At
    // most one batch waits so: a kill loses at most the batch finished last.
    await job.saving;
    this.persist(job, fh.sync());
    this.emit(job);
  }

  /**
   * Reads one item into the staging file. On a failure, what it appended is cut off and the
   * counts go back to where they were, so a retry or split starts clean.
   */
  private async fetchItem(job: Job, fetch: Prefetch, fh: FileHandle): Promise<number> {
    const ob = job.obfuscator;
    const rewrite = ob.active;
    // lines are copied into one buffer; when full it goes to the bundle's deflate and to the
    // staging file (no copy), and the next is taken from the pool
    const pool = this.pool;
    let out = pool.take();
    let used = 0;
    let written = 0;
    let samples = 0;
    const added: string[] = [];
    const addedJobs: string[] = [];
    let rest: Buffer | undefined;
    // one staging write in flight while the next buffer fills
    let writing: Promise<unknown> | undefined;
    const flush = async () => {
      if (used === 0) return;
      const full = out.subarray(0, used);
      const whole = out;
      out = pool.take();
      used = 0;
      let holders = job.live !== undefined ? 2 : 1;
      const release = () => {
        if (--holders === 0) pool.give(whole);
      };
      if (job.live !== undefined) {
        try {
          await job.live.write(full, release);
        } catch (err) {
          this.opts.log?.warn('gather: bundle not written as the export goes; made at the end instead', { id: job.id, err: (err as Error).message });
          await this.dropLive(job);
        }
      }
      if (writing) await writing;
      const n = full.length;
      writing = writeFully(fh, [full], job.partialBytes + written).then(release, (err: unknown) => {
        release();
        throw new Error(`staging file ${join(job.dir, PARTIAL)}: ${(err as Error).message}`);
      });
      // met by the next flush or the batch's end; a failure meanwhile is not unhandled (it was: a
      // full staging disk ended the process with a stack trace)
      writing.catch(() => undefined);
      written += n;
    };
    const count = (metric: Buffer, metricStart: number, metricEnd: number) => {
      if (job.seenMetrics.has(metric)) return;
      const key = metric.toString('latin1', metricStart, metricEnd);
      job.seenMetrics.add(metric);
      if (job.series.has(key)) return;
      job.series.add(key);
      added.push(key);
      const j = jobOf(metric.subarray(metricStart, metricEnd));
      if (j !== undefined && !job.jobs.has(j)) {
        job.jobs.add(j);
        addedJobs.push(j);
      }
    };
    /**
     * Copies the lines of `buf[at, end)` (whole lines; the last may lack its newline) into `out`,
     * rewritten, for as long as they fit; returns where it stopped. Synchronous and on the bytes
     * in place: per line no allocation but the obfuscator's cache lookup.
     */
    const fill = (buf: Buffer, at: number, end: number): number => {
      while (at < end) {
        let nl = buf.indexOf(0x0a, at);
        if (nl < 0 || nl >= end) nl = end;
        let e = nl;
        while (e > at && buf[e - 1] === 0x0d) e--;
        if (e === at) {
          at = nl + 1;
          continue;
        }
        const span = metricSpanAt(buf, at, e);
        if (span !== undefined && rewrite) {
          const metric = ob.metricBytes(buf, span.start, span.end);
          const size = e - at - (span.end - span.start) + metric.length + 1;
          if (used + size > out.length) {
            if (used > 0) return at;
            pool.give(out);
            out = Buffer.allocUnsafe(size);
          }
          used += buf.copy(out, used, at, span.start);
          used += metric.copy(out, used);
          used += buf.copy(out, used, span.end, e);
          out[used++] = 0x0a;
          samples += countSamples(buf, span.end, e);
          count(metric, 0, metric.length);
        } else {
          // not an export line as VictoriaMetrics writes it, or nothing to rewrite
          const line = rewrite ? ob.line(buf.subarray(at, e)) : buf.subarray(at, e);
          if (used + line.length + 1 > out.length) {
            if (used > 0) return at;
            pool.give(out);
            out = Buffer.allocUnsafe(line.length + 1);
          }
          const sp = rewrite ? metricSpan(line) : span === undefined ? undefined : { start: span.start - at, end: span.end - at };
          used += line.copy(out, used);
          out[used++] = 0x0a;
          if (sp !== undefined) {
            samples += countSamples(line, sp.end, line.length);
            count(line, sp.start, sp.end);
          }
        }
        at = nl + 1;
      }
      return at;
    };
    const all = async (buf: Buffer, end: number) => {
      for (let at = fill(buf, 0, end); at < end; at = fill(buf, at, end)) await flush();
    };
    try {
      for await (const chunk of fetch.take()) {
        let buf = chunk;
        if (rest !== undefined) {
          buf = Buffer.concat([rest, chunk]);
          rest = undefined;
        }
        // sources hand out whole lines; a cut one waits for its end
        const end = buf.lastIndexOf(0x0a) + 1;
        if (end < buf.length) rest = buf.subarray(end);
        await all(buf, end);
      }
      if (rest !== undefined) await all(rest, rest.length);
      await flush();
      if (writing) await writing;
      pool.give(out);
    } catch (err) {
      if (writing) await writing.catch(() => undefined);
      for (const k of added) job.series.delete(k);
      for (const j of addedJobs) job.jobs.delete(j);
      job.seenMetrics = new WeakSet();
      // what the bundle was given of this batch cannot be taken back: it is made from the staged lines instead
      await this.dropLive(job);
      await fh.truncate(job.partialBytes);
      throw err;
    }
    job.partialBytes += written;
    job.samples += samples;
    return written;
  }

  /**
   * An automatic window grows after a whole batch of it came back small and quick: the batches
   * not yet requested are planned again at the wider window (those in flight stay as they are;
   * state.json records the batches as planned, so a resume reads exactly what is left).
   */
  private grow(job: Job, item: WorkItem, seconds: number, samples: number, bytes: number, ahead: Ahead): void {
    const a = job.adaptive;
    // a clipped or split batch says little about a whole window
    if (a === undefined || a.settled || item.job !== undefined || item.endMs - item.startMs < a.windowMs) return;
    const next = growWindow(a.windowMs, seconds, samples, bytes);
    if (next === undefined) {
      a.settled = true;
      return;
    }
    a.settled = next.settled;
    const from = ahead.unstarted();
    if (from >= job.work.length || job.work.slice(from).some((w) => w.job !== undefined)) return;
    a.windowMs = next.windowMs;
    this.replan(job, from, next.windowMs);
  }

  /** After a split by time, the window is the parts' length from then on (the source said no to more). */
  private settle(job: Job, parts: readonly WorkItem[]): void {
    const a = job.adaptive;
    if (a === undefined || parts[0].job !== undefined) return;
    a.settled = true;
    const len = parts[0].endMs - parts[0].startMs;
    if (len >= a.windowMs) return;
    a.windowMs = Math.max(MIN_BATCH_WINDOW_MS, len);
    const from = job.done + parts.length;
    if (from < job.work.length && job.work.slice(from).every((w) => w.job === undefined)) this.replan(job, from, a.windowMs);
  }

  private replan(job: Job, from: number, windowMs: number): void {
    const range = job.request.endMs - job.request.startMs;
    const batches = planBatches(job.work[from].startMs, job.request.endMs, windowMs);
    job.work.splice(from, job.work.length - from, ...batches.map((b) => ({ ...b, weight: (b.endMs - b.startMs) / range })));
  }

  /** The parts a too-big item is split into, or undefined when it cannot be split further. */
  private async split(job: Job, source: Source, item: WorkItem, signal: AbortSignal): Promise<WorkItem[] | undefined> {
    const len = item.endMs - item.startMs;
    if (len > MIN_SPLIT_MS) {
      const mid = item.startMs + Math.max(MIN_SPLIT_MS, Math.floor(len / 2 / MIN_SPLIT_MS) * MIN_SPLIT_MS);
      if (mid < item.endMs) {
        const w1 = (item.weight * (mid - item.startMs)) / len;
        return [
          { ...item, endMs: mid, weight: w1 },
          { ...item, startMs: mid, weight: item.weight - w1 },
        ];
      }
    }
    if (item.job !== undefined || !('selectors' in job.request.selection)) return undefined;
    let names = Object.keys(job.request.jobComponents ?? {});
    if (names.length === 0) {
      try {
        names = (await source.discover(item.startMs, item.endMs)).jobs.map((j) => j.job);
      } catch (err) {
        if (signal.aborted) throw new Canceled();
        this.opts.log?.warn('gather: jobs not discovered for a split', { id: job.id, err: (err as Error).message });
        return undefined;
      }
    }
    names = [...new Set(names)].filter((n) => n !== '').sort();
    if (names.length === 0) return undefined;
    const parts = [...names, ''];
    return parts.map((j) => ({ ...item, job: j, weight: item.weight / parts.length }));
  }

  private async dropLive(job: Job): Promise<void> {
    const live = job.live;
    job.live = undefined;
    await live?.abort();
  }

  /** Saves the job's state as it is now, after the saves before it (in order, never two at once). */
  private save(job: Job): Promise<void> {
    return this.persist(job, Promise.resolve());
  }

  /** The state as it is now, written once `before` (an fsync of the lines it counts) has settled. */
  private persist(job: Job, before: Promise<void>): Promise<void> {
    // awaited below, after the saves before it: a failure meanwhile is not unhandled
    before.catch(() => undefined);
    const saved = this.snapshot(job);
    const prev = job.saving;
    const p = (async () => {
      await prev;
      await before;
      await this.writeState(job, saved);
    })();
    job.saving = p;
    // awaited by the next save or by the run's end; a failure surfaces there
    p.catch(() => undefined);
    return p;
  }

  private snapshot(job: Job): SavedState {
    return {
      version: 1,
      id: job.id,
      request: { ...job.request, connection: withoutSecrets(job.request.connection) },
      hadSecrets: job.hadSecrets,
      createdAt: job.createdAt,
      work: [...job.work],
      done: job.done,
      partialBytes: job.partialBytes,
      samples: job.samples,
      batchSeconds: job.batchSeconds,
      obfuscator: job.obfuscator.state(),
      ...(job.adaptive !== undefined ? { adaptive: { ...job.adaptive } } : {}),
    };
  }

  /** Replaces state.json at once: a kill leaves the old one or the new one, never a mix. */
  private async writeState(job: Job, saved: SavedState): Promise<void> {
    const tmp = join(job.dir, `${STATE}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(saved));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(job.dir, STATE));
  }

  private fromSaved(saved: SavedState, dir: string): Job {
    const job: Job = {
      id: saved.id,
      dir,
      request: saved.request,
      hadSecrets: saved.hadSecrets,
      createdAt: saved.createdAt,
      state: 'interrupted',
      work: [...saved.work],
      done: saved.done,
      partialBytes: saved.partialBytes,
      samples: saved.samples,
      series: new Set(),
      seenMetrics: new WeakSet(),
      jobs: new Set(),
      batchSeconds: saved.batchSeconds,
      batchesTimed: saved.done,
      obfuscator: new Obfuscator(saved.request.obfuscation, saved.request.jobComponents, saved.obfuscator),
      adaptive: saved.adaptive !== undefined && Number.isInteger(saved.adaptive.windowMs) ? { windowMs: saved.adaptive.windowMs, settled: saved.adaptive.settled === true } : undefined,
      startedAt: saved.createdAt,
      needsCredentials: false,
    };
    return job;
  }

  /** Rebuilds the series and job sets from the staged lines up to the recorded length. */
  private async recount(job: Job): Promise<void> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(join(job.dir, PARTIAL), 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      let pos = 0;
      let rest: Buffer | undefined;
      while (pos < job.partialBytes) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, job.partialBytes - pos), pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        let data = buf.subarray(0, bytesRead);
        if (rest) data = Buffer.concat([rest, data]);
        let from = 0;
        for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, from)) {
          const line = data.subarray(from, nl);
          from = nl + 1;
          const span = metricSpan(line);
          if (span === undefined) continue;
          const metric = line.subarray(span.start, span.end);
          const key = metric.toString('latin1');
          if (!job.series.has(key)) {
            job.series.add(key);
            const j = jobOf(metric);
            if (j !== undefined) job.jobs.add(j);
          }
        }
        rest = from < data.length ? Buffer.from(data.subarray(from)) : undefined;
      }
    } finally {
      await fh.close();
    }
  }

  private finish(job: Job, state: ExportState): void {
    job.state = state;
    job.finishedAt = Date.now();
    this.emit(job);
    if (job.forgetTimer) clearTimeout(job.forgetTimer);
    if (this.closed) return;
    job.forgetTimer = setTimeout(() => {
      if (job.state === 'pending' || job.state === 'running') return;
      this.jobs.delete(job.id);
      void rm(job.dir, { recursive: true, force: true });
    }, this.keepFinishedMs);
    job.forgetTimer.unref();
  }

  private statusOf(job: Job): ExportStatus {
    let progress = 0;
    for (let i = 0; i < job.done; i++) progress += job.work[i].weight;
    if (job.state === 'completed') progress = 1;
    const avg = job.batchesTimed > 0 ? job.batchSeconds / job.batchesTimed : 0;
    // by the range covered, not by batches: an automatic window's batches differ in length
    let covered = 0;
    for (let i = 0; i < job.done; i++) covered += job.work[i].weight;
    return {
      id: job.id,
      state: job.state,
      batchesDone: job.done,
      batchesTotal: job.work.length,
      progress: Math.min(1, Math.max(0, progress)),
      samples: job.samples,
      series: job.series.size,
      averageBatchSeconds: avg,
      etaSeconds: job.state === 'completed' ? 0 : job.batchesTimed > 0 && covered > 0 ? (job.batchSeconds / covered) * Math.max(0, 1 - covered) : undefined,
      currentRange: job.current ? { ...job.current } : undefined,
      error: job.error,
      result: job.result,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      needsCredentials: job.needsCredentials || undefined,
    };
  }

  private emit(job: Job): void {
    if (this.listeners.size === 0) return;
    const s = this.statusOf(job);
    for (const l of this.listeners) {
      try {
        l(s);
      } catch (err) {
        this.opts.log?.warn('gather: status listener failed', { err: (err as Error).message });
      }
    }
  }
}


/** The requests of the current batch and the next ones, in flight at once (`depth` in all). */
class Ahead {
  private readonly fetches = new Map<number, Prefetch>();
  private readonly budget = { bytes: 0, waiters: new Set<() => void>() };

  constructor(
    readonly source: Source,
    private readonly job: Job,
    private readonly signal: AbortSignal,
    private readonly depth: number,
  ) {}

  /** The current batch's request, and the next ones started. */
  take(): Prefetch {
    const job = this.job;
    // while an automatic window still grows, the next batches wait for the current one's size
    const depth = job.adaptive !== undefined && !job.adaptive.settled ? 1 : this.depth;
    for (let i = job.done; i < Math.min(job.work.length, job.done + depth); i++) {
      if (!this.fetches.has(i)) {
        const item = job.work[i];
        this.fetches.set(i, new Prefetch(this.source, itemSelection(job.request.selection, item), item, this.signal, this.budget));
      }
    }
    const head = this.fetches.get(job.done) as Prefetch;
    this.fetches.delete(job.done);
    return head;
  }

  /** The first batch whose request has not been started. */
  unstarted(): number {
    let n = this.job.done;
    for (const i of this.fetches.keys()) n = Math.max(n, i + 1);
    return n;
  }

  clear(): void {
    for (const f of this.fetches.values()) f.discard();
    this.fetches.clear();
  }
}

/** Bytes the requests running ahead of the current batch may hold, together. */
const AHEAD_BUDGET = 8 << 20;
/** Bytes the current batch's request may hold before the writer takes them. */
const HEAD_HOLD = 4 << 20;

/**
 * One batch's request, started before its turn: the source's per-request cost (VictoriaMetrics
 * spends tens of milliseconds on each export before its first byte) overlaps the writing of the
 * batches before it. Its chunks wait in memory, all such requests together within
 * `AHEAD_BUDGET`; the current batch's request never waits (its chunks are taken as they come).
 */
class Prefetch {
  private readonly chunks: Buffer[] = [];
  /** Bytes of `chunks`. */
  private held = 0;
  private done = false;
  private error: unknown;
  private wake: (() => void) | undefined;
  private readonly ctrl = new AbortController();
  /** Taken by the writer: it no longer waits for the budget. */
  private head = false;

  constructor(
    source: Source,
    selection: Selection,
    readonly item: WorkItem,
    parent: AbortSignal,
    private readonly budget: { bytes: number; waiters: Set<() => void> },
  ) {
    const abort = () => this.ctrl.abort();
    parent.addEventListener('abort', abort, { once: true });
    void this.pull(source, selection, parent).finally(() => parent.removeEventListener('abort', abort));
  }

  private async pull(source: Source, selection: Selection, parent: AbortSignal): Promise<void> {
    try {
      for await (const chunk of source.exportLines(selection, this.item.startMs, this.item.endMs, this.ctrl.signal)) {
        this.chunks.push(chunk);
        this.held += chunk.length;
        this.budget.bytes += chunk.length;
        this.signal();
        // the current batch's request too waits while the writer is behind (a slow deflate or
        // disk): the transport pauses instead of the batch piling up in memory
        while ((this.head ? this.held > HEAD_HOLD : this.budget.bytes > AHEAD_BUDGET) && !this.ctrl.signal.aborted) {
          await new Promise<void>((resolve) => {
            const done = () => {
              this.ctrl.signal.removeEventListener('abort', done);
              resolve();
            };
            this.budget.waiters.add(done);
            this.ctrl.signal.addEventListener('abort', done, { once: true });
          });
        }
      }
    } catch (err) {
      this.error = parent.aborted ? new Canceled() : err;
    }
    this.done = true;
    this.signal();
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private release(n: number): void {
    this.budget.bytes -= n;
    this.held -= n;
    if (this.budget.bytes <= AHEAD_BUDGET || (this.head && this.held <= HEAD_HOLD)) {
      const ws = [...this.budget.waiters];
      this.budget.waiters.clear();
      for (const w of ws) w();
    }
  }

  /** The batch's chunks as they arrive; throws what the request threw, after the chunks before it. */
  async *take(): AsyncGenerator<Buffer> {
    this.head = true;
    this.release(0);
    for (;;) {
      const c = this.chunks.shift();
      if (c !== undefined) {
        this.release(c.length);
        yield c;
        continue;
      }
      if (this.done) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Stops the request and gives its memory back. */
  discard(): void {
    this.ctrl.abort();
    let n = 0;
    for (const c of this.chunks) n += c.length;
    this.chunks.length = 0;
    this.release(n);
  }
}

