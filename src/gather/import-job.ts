/**
 * One import, from the first look at the input to the verdict of verification — what the CLI
 * and the wizard's `/api/import/*` both run. Stages: `probing` the target, `analyzing` the whole
 * input (every line checked before a byte is sent, so a bad line refuses the import instead of
 * leaving half of it imported), `importing` in chunks of whole lines (several in flight to a
 * VictoriaMetrics, one at a time to a remote-write receiver, which wants each series in time
 * order), `verifying`. Retries 5xx, 429 and network errors with backoff until `retryForMs` of
 * failing; a 4xx stops the import with the receiver's words.
 *
 * Resume: the offset just past the last chunk the target acknowledged (all before it too) is
 * kept beside the input (`<input>.import-<key>.json`, or under the data folder when the input's
 * folder is read-only), with the offset past the last chunk sent. A failed, cancelled or killed
 * import started again with the same input, target and choices goes on from there; the chunks
 * sent but not acknowledged are checked against the target first when it is VictoriaMetrics,
 * which would keep a sample sent twice twice (a Prometheus TSDB takes the same sample again as a
 * no-op).
 */

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fsProblem } from '../common/write-fully.js';
import { openImportInput, lineChunks, InputError, type ImportInput, type LineChunk } from './import-input.js';
import { BadLineError, ChunkEncoder, ImportAnalysis, type AnalysisReport, type TargetLimits, type TimePolicy } from './import-rows.js';
import { ImportTarget, type TargetConfig, type TargetInfo } from './import-target.js';
import { presentSamples, verifyImport, type VerifyResult } from './import-verify.js';
import { redactSecrets, secretsOf, SourceError } from './types.js';

export type OutsidePolicy = 'fail' | 'drop' | 'shift' | 'keep';

export interface ImportOptions {
  readonly input: string;
  readonly target: TargetConfig;
  /** Samples outside what the target keeps: refuse the import (default), drop them, shift the whole input in time, or send them anyway. */
  readonly outside?: OutsidePolicy;
  /** With `shift`: by this much (ms); default the suggested offset. */
  readonly shiftMs?: number;
  readonly skipBadLines?: boolean;
  readonly dryRun?: boolean;
  readonly verify?: boolean;
  /** Start over, ignoring a saved resume point. */
  readonly restart?: boolean;
  readonly chunkBytes?: number;
  readonly concurrency?: number;
  readonly retryForMs?: number;
  /** Where resume points go when the input's folder cannot take them. */
  readonly dataDir: string;
  /** A preflight run (`dryRun`) of the same input and target whose analysis may be taken instead of reading the input again. */
  readonly reuse?: ImportJob;
}

export type ImportStage = 'pending' | 'probing' | 'analyzing' | 'importing' | 'verifying' | 'completed' | 'failed' | 'canceled' | 'analyzed';

export interface Preflight {
  readonly target: TargetInfo;
  readonly analysis: AnalysisReport;
  /** The earliest and latest sample the target takes now (ms), where it says. */
  readonly oldestMs?: number;
  readonly newestMs?: number;
  /** Every time of `analysis` is moved by this (a shift given, or the one a resumed import started with). */
  readonly shiftedByMs?: number;
  /** Why the import may not start with the choices made, or undefined: ready. */
  readonly refusal?: string;
  /** Move the whole input by this (ms) and every sample lands inside; undefined when none is needed or none fits. */
  readonly suggestedShiftMs?: number;
  /** What will go wrong, in words (bad lines, samples outside, labels over the limit, order). */
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
  readonly input: { readonly kind: string; readonly shown: string; readonly linesSize?: number; readonly metadata?: Record<string, unknown> };
}

export interface ImportStatus {
  readonly stage: ImportStage;
  readonly bytesDone: number;
  readonly bytesTotal?: number;
  readonly linesDone: number;
  readonly samplesSent: number;
  readonly samplesTotal?: number;
  readonly seriesTotal?: number;
  readonly chunksDone: number;
  readonly retries: number;
  /** Bytes of lines the target has taken, all before them too: where a new run goes on (0 for none). */
  readonly acknowledged: number;
  /** Where the import started (a resume: past 0). */
  readonly resumedFrom: number;
  readonly startedAt: number;
  readonly etaSeconds?: number;
  readonly lastError?: string;
  readonly error?: string;
  readonly preflight?: Preflight;
  readonly verification?: VerifyResult;
  readonly skippedLines: number;
  /** Where the resume point is kept. */
  readonly statePath?: string;
  /** The last write of the resume point failed (a full disk): why. */
  readonly stateProblem?: string;
  /** The preflight took the analysis of an earlier run of the same input and target (`ImportOptions.reuse`) instead of reading it again. */
  readonly analysisReused: boolean;
  /** The pass over the input (from 0) and how many there are: more than one for a remote-write import sent in time windows. */
  readonly pass: number;
  readonly passes: number;
  /** How long each stage took (ms), those finished or running. */
  readonly stageMs: Readonly<Partial<Record<ImportStage, number>>>;
}

interface SavedState {
  readonly version: 1;
  readonly fileSize: number;
  readonly mtimeMs: number;
  readonly writeUrl: string;
  ackedOffset: number;
  ackedLine: number;
  sentEnd: number;
  /** The pass being made (an input sent in time windows: import-job's timeWindows). */
  pass?: number;
  /** What the samples are moved by (0: not), fixed when the import starts: a resume goes on the same. */
  shiftMs?: number;
  samplesSent: number;
  skippedLines: number;
  updatedAt: string;
}

/** A chunk the target took, waiting for those before it to be taken too. */
interface Done {
  readonly start: number;
  readonly end: number;
  readonly lines: number;
  readonly samples: number;
  readonly skipped: number;
}

const TERMINAL: readonly ImportStage[] = ['completed', 'failed', 'canceled', 'analyzed'];
const DEFAULT_CHUNK = 512 * 1024;
/** The "sent" mark is moved this many chunks past the one being sent, so that it is written once per so many. */
const SENT_AHEAD_CHUNKS = 8;
/** Acknowledgements are written at most this often; a kill loses at most these, which a resume checks as sent. */
const ACK_WRITE_MS = 200;
const MAX_LINE = 64 << 20;
/** Margin kept from the target's edges when shifting or dropping: an import takes time, retention moves on. */
const EDGE_MARGIN_MS = 3_600_000;
/** An analysis older than this is made again. */
const REUSE_ANALYSIS_MS = 15 * 60_000;
const MINUTE_MS = 60_000;
/** How far behind its newest sample a Prometheus TSDB takes one (half a 2 h block), Mimir's and Thanos' alike. */
const PROMETHEUS_TOLERANCE_MS = 3_600_000;

export class ImportJob {
  private stage_: ImportStage = 'pending';
  private stageStart = Date.now();
  private readonly stageMs: Partial<Record<ImportStage, number>> = {};
  private readonly abort = new AbortController();
  private target: ImportTarget | undefined;
  private input: ImportInput | undefined;
  private preflight: Preflight | undefined;
  private analysis: ImportAnalysis | undefined;
  /** Samples of each chunk by its start, for chunks sent as they are (the analysis counted them). */
  private readonly chunkSamples = new Map<number, number>();
  private verification: VerifyResult | undefined;
  private error: string | undefined;
  private lastError: string | undefined;
  private retries = 0;
  private bytesDone = 0;
  private linesDone = 0;
  private samplesSent = 0;
  private chunksDone = 0;
  private skippedLines = 0;
  private resumedFrom = 0;
  private startedAt = Date.now();
  private importStartedAt = 0;
  private statePath: string | undefined;
  private saved: SavedState | undefined;
  private saving: Promise<void> = Promise.resolve();
  private saveQueued = false;
  private lastAckWrite = 0;
  private statePlaces: string[] = [];
  private stateProblem: string | undefined;
  private analysisReused = false;
  /** What this run's analysis was made of, for `reusable`. */
  private analyzed: { limits: TargetLimits; at: number; input: { path: string; fileSize: number; mtimeMs: number }; writeUrl: string; chunkBytes: number } | undefined;
  private pass = 0;
  private passes = 1;
  /** The shift the preflight's analysis applied. */
  private analysisShift = 0;

  private readonly secrets: string[];

  constructor(readonly options: ImportOptions) {
    this.secrets = secretsOf(options.target);
  }

  private get stage(): ImportStage {
    return this.stage_;
  }

  private set stage(s: ImportStage) {
    const now = Date.now();
    this.stageMs[this.stage_] = now - this.stageStart;
    this.stageStart = now;
    this.stage_ = s;
  }

  status(): ImportStatus {
    const total = this.input?.linesSize;
    const elapsed = (Date.now() - this.importStartedAt) / 1000;
    const done = this.bytesDone - this.resumedFrom;
    const eta = this.stage === 'importing' && total !== undefined && done > 0 && elapsed > 1 ? ((total - this.bytesDone) * elapsed) / done : undefined;
    return {
      stage: this.stage,
      bytesDone: this.bytesDone,
      bytesTotal: total,
      linesDone: this.linesDone,
      samplesSent: this.samplesSent,
      samplesTotal: this.expectedSamples(),
      seriesTotal: this.preflight?.analysis.series,
      chunksDone: this.chunksDone,
      retries: this.retries,
      resumedFrom: this.resumedFrom,
      acknowledged: this.saved?.ackedOffset ?? 0,
      startedAt: this.startedAt,
      etaSeconds: eta,
      // a receiver may quote what it refused, credentials included: never shown
      lastError: this.lastError === undefined ? undefined : redactSecrets(this.lastError, this.secrets),
      error: this.error === undefined ? undefined : redactSecrets(this.error, this.secrets),
      preflight: this.preflight,
      verification: this.verification,
      skippedLines: this.skippedLines,
      statePath: this.statePath,
      stateProblem: this.stateProblem,
      analysisReused: this.analysisReused,
      pass: this.pass,
      passes: this.passes,
      stageMs: TERMINAL.includes(this.stage_) ? { ...this.stageMs } : { ...this.stageMs, [this.stage_]: Date.now() - this.stageStart },
    };
  }

  cancel(): void {
    this.abort.abort();
  }

  get canceled(): boolean {
    return this.abort.signal.aborted;
  }

  /** Runs to the end; the outcome is in `status()` (never throws). */
  async run(): Promise<ImportStatus> {
    try {
      await this.runStages();
    } catch (err) {
      if (this.abort.signal.aborted) this.stage = 'canceled';
      else {
        this.stage = 'failed';
        this.error = messageOf(err);
        // refused before the target took anything (a wrong path, no permission): nothing to resume
        const s = this.saved;
        if (err instanceof SourceError && err.status !== undefined && err.status >= 400 && err.status < 500 && s !== undefined && s.ackedOffset === 0 && (s.pass ?? 0) === 0 && this.statePath !== undefined) {
          await this.saving;
          await rm(this.statePath, { force: true });
          this.statePath = undefined;
        }
      }
    } finally {
      await this.saving;
      await this.target?.close();
    }
    return this.status();
  }

  private async runStages(): Promise<void> {
    const o = this.options;
    this.stage = 'probing';
    this.input = await openImportInput(o.input);
    this.target = new ImportTarget(o.target);
    const info = await this.target.probe();
    this.check();
    // the resume point first (read only: written once the import starts): an import going on is
    // checked as one going on, a dry run too
    await this.loadState(info);
    this.stage = 'analyzing';
    const pre = await this.analyze(info);
    this.preflight = pre;
    this.check();
    if (o.dryRun) {
      this.stage = 'analyzed';
      return;
    }
    if (pre.refusal !== undefined) throw new InputError(pre.refusal);
    await this.upload(info);
    this.check();
    if (o.verify !== false) {
      this.stage = 'verifying';
      const a = pre.analysis;
      const policy = this.policy();
      const shift = this.extraShift(policy);
      const keys = policy.kind === 'drop' ? this.analysis!.insideKeys() : this.analysis!.keptKeys();
      const minMs = (policy.kind === 'drop' ? (a.minInsideMs ?? a.minMs ?? 0) : (a.minMs ?? 0)) + shift;
      this.verification = await verifyImport(this.target, this.analysis!.names, keys, this.expectedSamples() ?? 0, minMs, (a.maxMs ?? 0) + shift, this.abort.signal);
    }
    this.stage = 'completed';
  }

  private check(): void {
    if (this.abort.signal.aborted) throw new Error('canceled');
  }

  /** Samples the target should hold after the import. */
  private expectedSamples(): number | undefined {
    const a = this.preflight?.analysis;
    if (a === undefined) return undefined;
    return this.policy().kind === 'drop' ? a.samplesInside : a.samplesKept;
  }

  private async analyze(info: TargetInfo): Promise<Preflight> {
    const now = Date.now();
    let oldest: number | undefined;
    let newest: number | undefined;
    if (info.retentionMs !== undefined) oldest = now - info.retentionMs;
    const saved = this.saved;
    const resuming = this.resuming;
    // going on with an import: the head's newest samples are its own, the rest comes after them
    const headLimit = info.headMaxMs !== undefined && info.toleranceMs !== undefined && !resuming;
    if (headLimit) oldest = Math.max(oldest ?? -Infinity, info.headMaxMs! - info.toleranceMs!);
    if (info.futureMs !== undefined) newest = now + info.futureMs;
    // a shift given (or the one a resumed import was started with) is checked as it will land
    const shift = this.shiftChosen() ?? 0;
    this.analysisShift = shift;
    const limits: TargetLimits = { oldestMs: oldest, newestMs: newest, maxLabels: info.maxLabels, dropsNaN: info.protocol === 'vm-import', shiftMs: shift };
    const input = this.input!;
    // the wizard's analyze step read the same file against the same target a moment ago: taken as it is
    const earlier = this.options.reuse?.reusable(input, info, limits, now);
    if (earlier !== undefined) {
      this.analysisReused = true;
      this.analysis = earlier.analysis;
      for (const [k, v] of earlier.chunkSamples) this.chunkSamples.set(k, v);
    } else {
      const analysis = new ImportAnalysis(limits);
      this.analysis = analysis;
      for await (const c of lineChunks(input.bytes(), this.options.chunkBytes ?? DEFAULT_CHUNK, MAX_LINE, 0, 1, input.shown)) {
        this.check();
        const before = analysis.sampleCount;
        analysis.add(c);
        c.release?.();
        // the upload cuts the same chunks (from 0, or from a chunk's end when resuming)
        this.chunkSamples.set(c.start, analysis.sampleCount - before);
        this.bytesDone = c.end;
      }
      this.analyzed = { limits, at: now, input: { path: resolve(input.path), fileSize: input.fileSize, mtimeMs: input.mtimeMs }, writeUrl: info.writeUrl, chunkBytes: this.options.chunkBytes ?? DEFAULT_CHUNK };
    }
    this.bytesDone = 0;
    const analysis = this.analysis;
    const a = analysis.report();
    const problems: string[] = [];
    const warnings: string[] = [...info.notes];
    const where = input.shown;
    if (a.lines === 0 || a.samples === 0) problems.push(`${where}: no samples in it`);
    if (a.badLines > 0) {
      const first = a.firstBad.slice(0, 5).map((b) => `${where}:${b.line}: ${b.reason}`);
      (this.options.skipBadLines ? warnings : problems).push(`${a.badLines} bad line(s)${this.options.skipBadLines ? ', skipped (--skip-bad-lines)' : ' (nothing is imported unless --skip-bad-lines)'}: ${first.join('; ')}`);
    }
    if (a.samplesNaN > 0) warnings.push(`${a.samplesNaN} samples are NaN: VictoriaMetrics stores no NaN value (it drops them at ingestion), so they are not counted as expected`);
    if (a.seriesOverLabelLimit > 0) warnings.push(`${a.seriesOverLabelLimit} series have more than ${info.maxLabels} labels (the most: ${a.maxLabelsPerSeries}); the target drops labels past its limit (-maxLabelsPerTimeseries)`);
    const shifted = shift !== 0 ? ` after the shift by ${dur(shift)}` : '';
    const edge = headLimit ? `older than ${iso(oldest!)} (the Prometheus head ends at ${iso(info.headMaxMs)} and takes samples at most ${dur(info.toleranceMs!)} older${info.oooWindowMs ? ', its out_of_order_time_window' : '; set storage.tsdb.out_of_order_time_window to take older ones'})` : `older than the target's retention (${info.retentionFrom ?? 'unknown'}: before ${oldest !== undefined ? iso(oldest) : '?'})`;
    if (a.samplesTooOld > 0) problems.push(`${a.samplesTooOld} of ${a.samples} samples are${shifted} ${edge}`);
    if (a.samplesTooNew > 0) problems.push(`${a.samplesTooNew} samples are${shifted} more than 2 days in the future (after ${iso(newest!)}); VictoriaMetrics refuses them`);
    if (a.maxMs !== undefined && a.maxMs > now && a.samplesTooNew === 0) warnings.push(`samples${shifted} reach ${dur(a.maxMs - now)} into the future (up to ${iso(a.maxMs)})`);
    if (resuming && info.headMaxMs !== undefined) warnings.push(`going on with an import stopped at byte ${saved!.ackedOffset}: the Prometheus head's window is not checked (its newest samples are this import's)`);
    if (info.protocol === 'remote-write') {
      if (a.samplesOutOfOrder > 0) warnings.push(`${a.samplesOutOfOrder} samples are not after their series' previous sample in the input; each request is sent in time order, but across requests a receiver refuses them as out of order`);
      const tolerance = info.toleranceMs ?? PROMETHEUS_TOLERANCE_MS;
      if (a.maxLagMs > tolerance / 2 && a.minMs !== undefined && a.maxMs !== undefined) {
        const passes = Math.floor((a.maxMs - a.minMs) / (tolerance / 2)) + 1;
        warnings.push(`the input is not in time order (a sample lies ${dur(a.maxLagMs)} behind one before it; the receiver takes samples at most ${dur(tolerance)} behind its newest): it is sent in ${passes} passes of ${dur(tolerance / 2)} of time each, every pass reading the whole input`);
      }
    }
    let suggested: number | undefined;
    if (shift === 0 && (a.samplesTooOld > 0 || a.samplesTooNew > 0) && a.minMs !== undefined && a.maxMs !== undefined) {
      const hi = Math.min(newest ?? Infinity, now);
      // a margin from the old edge (retention moves on while the import runs), smaller where the window is narrow
      const lo = oldest === undefined ? -Infinity : oldest + Math.min(EDGE_MARGIN_MS, Math.max(0, hi - oldest) / 4);
      // the latest sample lands in the last minute before now, in whole minutes (a step stays aligned); later only if the span needs it
      let shift = Math.floor((hi - a.maxMs) / MINUTE_MS) * MINUTE_MS;
      if (a.minMs + shift < lo) shift = Math.ceil((lo - a.minMs) / MINUTE_MS) * MINUTE_MS;
      // not into the future: a dashboard of "now" would not show it, and retention keeps less than it seems
      if (a.minMs + shift >= (oldest ?? -Infinity) && a.maxMs + shift <= hi) suggested = shift;
    }
    const pre: Preflight = {
      target: info,
      analysis: a,
      oldestMs: oldest,
      newestMs: newest,
      shiftedByMs: shift !== 0 ? shift : undefined,
      suggestedShiftMs: suggested,
      problems,
      warnings,
      input: { kind: input.kind, shown: input.shown, linesSize: input.linesSize, metadata: input.metadata },
    };
    return { ...pre, refusal: this.refusal(pre) };
  }

  /**
   * This run's analysis for another run of the same input into the same target, when it was
   * made a short while ago with the same limits (give or take the retention's edge, which moves
   * with the clock): the wizard's import then does not read the file a second time.
   */
  reusable(input: ImportInput, info: TargetInfo, limits: TargetLimits, now: number): { analysis: ImportAnalysis; chunkSamples: ReadonlyMap<number, number> } | undefined {
    const was = this.analyzed;
    if (was === undefined || this.analysis === undefined || this.stage_ !== 'analyzed') return undefined;
    const near = (a: number | undefined, b: number | undefined): boolean => (a === undefined ? b === undefined : b !== undefined && Math.abs(a - b) <= now - was.at + 1000);
    const same =
      now - was.at <= REUSE_ANALYSIS_MS &&
      was.input.path === resolve(input.path) &&
      was.input.fileSize === input.fileSize &&
      was.input.mtimeMs === input.mtimeMs &&
      was.writeUrl === info.writeUrl &&
      was.chunkBytes === (this.options.chunkBytes ?? DEFAULT_CHUNK) &&
      near(was.limits.oldestMs, limits.oldestMs) &&
      near(was.limits.newestMs, limits.newestMs) &&
      was.limits.maxLabels === limits.maxLabels &&
      was.limits.dropsNaN === limits.dropsNaN &&
      (was.limits.shiftMs ?? 0) === (limits.shiftMs ?? 0);
    return same ? { analysis: this.analysis, chunkSamples: this.chunkSamples } : undefined;
  }

  /**
   * The shift the samples are moved by before the preflight checks them: the one given, or the
   * one a resumed import was started with (undefined: none, or the suggestion is still to come).
   */
  private shiftChosen(): number | undefined {
    const saved = this.saved?.shiftMs;
    if (saved !== undefined && saved !== 0) return saved;
    return this.options.shiftMs;
  }

  /** What the import moves samples by beyond what the preflight already applied (the suggested shift). */
  private extraShift(policy: TimePolicy): number {
    return (policy.kind === 'shift' ? policy.byMs : 0) - this.analysisShift;
  }

  /** Why the import may not start with these choices, or undefined. */
  private refusal(pre: Preflight): string | undefined {
    const a = pre.analysis;
    if (a.samples === 0) return pre.problems[0];
    if (a.badLines > 0 && !this.options.skipBadLines) return pre.problems.find((p) => p.includes('bad line'));
    const conflict = this.resumeConflict();
    if (conflict !== undefined) return conflict;
    const outside = a.samplesTooOld + a.samplesTooNew;
    const o = this.options.outside ?? 'fail';
    const outsideProblems = pre.problems.filter((p) => /older|future/.test(p)).join('; ');
    if (outside > 0 && pre.shiftedByMs !== undefined && o !== 'keep' && o !== 'drop') {
      const resumed = this.saved?.shiftMs !== undefined && this.saved.shiftMs !== 0;
      return `${outsideProblems}. ${resumed ? 'This import was started with that shift: start over with --restart and another one' : 'Give another --shift, or leave it out and let --outside shift suggest one'}, or send them anyway with --outside keep`;
    }
    if (outside > 0 && o === 'fail') {
      const choices = [
        ...(a.samplesInside > 0 ? [`--outside drop (import the ${a.samplesInside} samples inside)`] : []),
        ...(pre.suggestedShiftMs !== undefined ? [`--outside shift (by ${dur(pre.suggestedShiftMs)}, the suggested offset)`] : []),
        '--outside keep (send them anyway)',
      ];
      return `${outsideProblems}. Choose ${choices.join(', or ')}`;
    }
    if (o === 'drop' && a.samplesInside === 0) return `${outsideProblems}: none is inside, so --outside drop would import nothing${pre.suggestedShiftMs !== undefined ? `; --outside shift moves them inside (by ${dur(pre.suggestedShiftMs)})` : ''}`;
    if (o === 'shift' && pre.shiftedByMs === undefined) {
      const by = pre.suggestedShiftMs;
      if (by === undefined) return outside > 0 ? `no shift puts every sample inside what the target keeps (the input spans ${dur((a.maxMs ?? 0) - (a.minMs ?? 0))}); use --outside drop` : '--outside shift: every sample is inside already; give --shift to move them anyway';
    }
    return undefined;
  }

  /** A resume point of an import that has sent something: this run goes on with it. */
  private get resuming(): boolean {
    const s = this.saved;
    return s !== undefined && (s.ackedOffset > 0 || s.sentEnd > 0 || (s.pass ?? 0) > 0);
  }

  /** A resumed import asked to go on with other samples than it started with (another shift): refused, it would mix both. */
  private resumeConflict(): string | undefined {
    const saved = this.saved;
    if (saved === undefined || saved.shiftMs === undefined || !this.resuming) return undefined;
    const asked = this.options.shiftMs;
    if (asked !== undefined && asked !== saved.shiftMs) {
      return `this import was started ${saved.shiftMs === 0 ? 'without a shift' : `shifted by ${dur(saved.shiftMs)}`} and stopped at byte ${saved.ackedOffset}: go on with ${saved.shiftMs === 0 ? 'no --shift' : `--shift ${dur(saved.shiftMs)}`}, or start over with --restart`;
    }
    return undefined;
  }

  private policy(): TimePolicy {
    const o = this.options.outside ?? 'fail';
    const pre = this.preflight;
    // a resumed import goes on as it started
    const started = this.saved?.shiftMs;
    if (started !== undefined && started !== 0) return { kind: 'shift', byMs: started };
    if (o === 'shift') return { kind: 'shift', byMs: this.options.shiftMs ?? pre?.suggestedShiftMs ?? 0 };
    if (o === 'drop') return { kind: 'drop', oldestMs: pre?.oldestMs, newestMs: pre?.newestMs };
    if (this.options.shiftMs !== undefined) return { kind: 'shift', byMs: this.options.shiftMs };
    return { kind: 'keep' };
  }

  private async upload(info: TargetInfo): Promise<void> {
    const policy = this.policy();
    const saved = this.saved!;
    await this.placeState();
    if (saved.shiftMs === undefined) {
      saved.shiftMs = policy.kind === 'shift' ? policy.byMs : 0;
      await this.persist(true);
    }
    this.resumedFrom = saved.ackedOffset;
    this.bytesDone = saved.ackedOffset;
    this.samplesSent = saved.samplesSent;
    this.skippedLines = saved.skippedLines;
    this.stage = 'importing';
    this.importStartedAt = Date.now();
    const windows = this.timeWindows(info, policy);
    this.passes = windows.length;
    for (let pass = saved.pass ?? 0; pass < windows.length; pass++) {
      this.pass = pass;
      if (pass > 0 && saved.pass !== pass) {
        // a pass done: the next reads the input from its start
        saved.pass = pass;
        saved.ackedOffset = 0;
        saved.ackedLine = 1;
        saved.sentEnd = 0;
        this.bytesDone = 0;
        await this.persist(true);
      }
      const encoder = new ChunkEncoder(info.protocol === 'remote-write' ? 'remote-write' : 'jsonl', policy, this.options.skipBadLines ?? false, windows[pass]);
      await this.uploadPass(info, encoder, policy.kind === 'shift' ? policy.byMs : 0);
    }
    this.check();
    // complete: the resume point has done its work
    if (this.statePath !== undefined) await rm(this.statePath, { force: true });
  }

  /**
   * For a remote-write receiver, which takes samples only a little older than its newest: when
   * the input goes back in time further than half of that, it is sent in passes of that width,
   * each reading the whole input for its window, so that no request goes back more.
   */
  private timeWindows(info: TargetInfo, policy: TimePolicy): ({ from: number; to: number } | undefined)[] {
    const a = this.preflight!.analysis;
    if (info.protocol !== 'remote-write' || a.minMs === undefined || a.maxMs === undefined) return [undefined];
    const width = (info.toleranceMs ?? PROMETHEUS_TOLERANCE_MS) / 2;
    if (a.maxLagMs <= width) return [undefined];
    // the analysis' times, moved as the samples will be
    const shift = this.extraShift(policy);
    const out: { from: number; to: number }[] = [];
    for (let from = a.minMs + shift; from <= a.maxMs + shift; from += width) out.push({ from, to: from + width });
    return out;
  }

  /** One pass over the input from the resume point; `shift`: what samples are moved by (the target holds them so). */
  private async uploadPass(info: TargetInfo, encoder: ChunkEncoder, shift: number): Promise<void> {
    const o = this.options;
    const input = this.input!;
    const target = this.target!;
    const saved = this.saved!;
    const concurrency = Math.max(1, o.concurrency ?? (info.protocol === 'remote-write' ? 1 : 2));
    // chunks sent before a stop but never acknowledged: what of them the target holds is left
    // out (VictoriaMetrics would keep a sample twice, a Prometheus TSDB refuses one older than
    // its series' newest as out of order)
    const uncertainEnd = saved.sentEnd;
    const uncertain: LineChunk[] = [];
    let present: Map<string, Set<number>> | undefined;
    const inFlight = new Set<Promise<void>>();
    const done: Done[] = [];
    let failure: unknown;
    const chunks = lineChunks(input.bytes(saved.ackedOffset), o.chunkBytes ?? DEFAULT_CHUNK, MAX_LINE, saved.ackedOffset, saved.ackedLine, input.shown);
    const pending: LineChunk[] = [];
    const next = async (): Promise<LineChunk | undefined> => {
      if (pending.length > 0) return pending.shift();
      const r = await chunks.next();
      return r.done ? undefined : r.value;
    };
    // the next chunks are read, encoded and marked as sent ahead, while others are on the
    // wire: a target that answered is given its next request at once
    interface Ready {
      readonly chunk: LineChunk;
      readonly body: Buffer;
      readonly samples: number;
      readonly skipped: number;
    }
    const ready: Ready[] = [];
    const ahead = concurrency + 1;
    let produced = false;
    let wakeConsumer: (() => void) | undefined;
    let wakeProducer: (() => void) | undefined;
    const wake = (): void => {
      const w = wakeConsumer;
      wakeConsumer = undefined;
      w?.();
    };
    const producer = (async () => {
      try {
        for (;;) {
          while (ready.length >= ahead && failure === undefined && !this.canceled) await new Promise<void>((r) => (wakeProducer = r));
          if (failure !== undefined || this.canceled) return;
          let chunk = await next();
          if (chunk === undefined) return;
          if (present === undefined && chunk.start < uncertainEnd) {
            // every uncertain chunk gathered, then the target asked once which of their samples it has
            uncertain.push(chunk);
            while (chunk !== undefined && chunk.end < uncertainEnd) {
              chunk = await next();
              if (chunk !== undefined) uncertain.push(chunk);
            }
            try {
              present = await presentSamples(target, uncertain, shift);
            } catch (err) {
              throw new SourceError('http', `before going on, the samples of the ${uncertain.length} chunk(s) that were in flight when the import stopped are looked up in the target (VictoriaMetrics would keep a sample sent again twice, a Prometheus refuse it as out of order), and that failed: ${(err as Error).message}. Give --query-url (the query API, e.g. a vmselect's /select/<tenant>/prometheus) or start over with --restart`);
            }
            pending.push(...uncertain.slice(1));
            chunk = uncertain[0];
          }
          const enc = encoder.encode(chunk, chunk.start < uncertainEnd ? present : undefined, this.chunkSamples.get(chunk.start));
          if (chunk.end > saved.sentEnd) {
            // marked a few chunks ahead: one write per few chunks; a resume checks those few
            saved.sentEnd = Math.max(chunk.end, chunk.start + SENT_AHEAD_CHUNKS * (o.chunkBytes ?? DEFAULT_CHUNK));
            await this.persist(true);
          }
          ready.push({ chunk, body: enc.body, samples: enc.samples, skipped: enc.skipped });
          wake();
        }
      } catch (err) {
        failure ??= err;
      } finally {
        produced = true;
        wake();
      }
    })();
    for (;;) {
      while (ready.length === 0 && !produced && failure === undefined && !this.canceled) await new Promise<void>((r) => (wakeConsumer = r));
      if (failure !== undefined || this.canceled || ready.length === 0) break;
      const item = ready.shift()!;
      const w = wakeProducer;
      wakeProducer = undefined;
      w?.();
      const p = this.sendWithRetry(item.chunk, item.body, encoder, shift).then(
        () => {
          // kept until taken: a retry may have to encode it again
          item.chunk.release?.();
          this.samplesSent += item.samples;
          this.skippedLines += item.skipped;
          this.chunksDone++;
          done.push({ start: item.chunk.start, end: item.chunk.end, lines: item.chunk.lines, samples: item.samples, skipped: item.skipped });
          this.advance(done);
        },
        (err) => {
          failure ??= err;
          wake();
        },
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    const w = wakeProducer;
    wakeProducer = undefined;
    w?.();
    await producer;
    await Promise.all(inFlight);
    // what was acknowledged is written whatever happens next
    await this.persist(true);
    if (failure !== undefined) throw failure;
    this.check();
  }

  /** Moves the acknowledged offset over every chunk done in a row from it. */
  private advance(done: Done[]): void {
    const saved = this.saved!;
    done.sort((a, b) => a.start - b.start);
    // what is written counts the chunks before the resume point only: the others are sent again
    while (done.length > 0 && done[0].start === saved.ackedOffset) {
      const d = done.shift()!;
      saved.ackedOffset = d.end;
      saved.ackedLine += d.lines;
      saved.samplesSent += d.samples;
      saved.skippedLines += d.skipped;
    }
    this.bytesDone = saved.ackedOffset;
    this.linesDone = saved.ackedLine - 1;
    if (Date.now() - this.lastAckWrite >= ACK_WRITE_MS) {
      this.lastAckWrite = Date.now();
      void this.persist(false);
    }
  }

  /**
   * Sends a chunk until it is taken. After a failure that leaves open whether the target took
   * it (a network error, a timeout, a 5xx) the chunk is encoded again without the samples the
   * target turns out to hold: VictoriaMetrics would keep them twice, Prometheus refuse the
   * request as out of order.
   */
  private async sendWithRetry(chunk: LineChunk, first: Buffer, encoder: ChunkEncoder, shift: number): Promise<void> {
    const target = this.target!;
    const limit = this.options.retryForMs ?? 300_000;
    let failingSince = 0;
    let delay = 250;
    let body = first;
    let unsure = false;
    for (;;) {
      this.check();
      if (unsure) {
        try {
          body = encoder.encode(chunk, await presentSamples(target, [chunk], shift)).body;
          unsure = false;
        } catch (err) {
          this.lastError = `cannot tell which samples of a chunk that failed arrived (${(err as Error).message}); sending it again as it is`;
        }
      }
      const r = await target.send(body, this.abort.signal);
      if (r.kind === 'ok') {
        if (failingSince !== 0) this.lastError = undefined;
        return;
      }
      this.check();
      if (r.kind === 'refused') throw new SourceError('http', `${target.shown()} refused a chunk: ${r.status === 0 ? '' : `${r.status} `}${r.message}`, r.status);
      this.lastError = r.reason;
      if (r.status !== 429) unsure = true;
      const now = Date.now();
      if (failingSince === 0) failingSince = now;
      if (now - failingSince > limit) throw new SourceError('network', `${target.shown()}: failing for ${dur(now - failingSince)}: ${r.reason}`);
      this.retries++;
      const wait = r.retryAfterMs ?? delay * (0.5 + Math.random());
      delay = Math.min(delay * 2, 30_000);
      await sleep(wait, this.abort.signal);
    }
  }

  private async loadState(info: TargetInfo): Promise<void> {
    const o = this.options;
    const input = this.input!;
    const key = createHash('sha256')
      .update(JSON.stringify([info.writeUrl, info.protocol, info.tenant ?? '']))
      .digest('hex')
      .slice(0, 12);
    const abs = resolve(o.input);
    const beside = join(dirname(abs), `${basename(abs)}.import-${key}.json`);
    const fallback = join(resolve(o.dataDir), 'import-state', `${createHash('sha256').update(abs).digest('hex').slice(0, 16)}-${key}.json`);
    const fresh: SavedState = { version: 1, fileSize: input.fileSize, mtimeMs: input.mtimeMs, writeUrl: info.writeUrl, ackedOffset: 0, ackedLine: 1, sentEnd: 0, samplesSent: 0, skippedLines: 0, updatedAt: new Date().toISOString() };
    this.saved = fresh;
    for (const path of [beside, fallback]) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        continue;
      }
      this.statePath = path;
      if (o.restart) return;
      try {
        const s = JSON.parse(text) as SavedState;
        if (s.version === 1 && s.fileSize === input.fileSize && s.mtimeMs === input.mtimeMs && s.writeUrl === info.writeUrl) this.saved = s;
      } catch {
        // a torn file (a crash while it was written is ruled out by the rename): start over
      }
      return;
    }
    // none yet: written where it can be once the import starts (statePlaces)
    this.statePlaces = [beside, fallback];
  }

  /** Where the resume point goes, found when the import starts: beside the input, else the data folder. */
  private async placeState(): Promise<void> {
    if (this.statePath !== undefined) return;
    for (const path of this.statePlaces) {
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, JSON.stringify(this.saved));
        this.statePath = path;
        return;
      } catch {
        // read-only: the next place
      }
    }
    throw new InputError(`cannot keep the resume point beside ${this.options.input} nor in ${dirname(this.statePlaces[1] ?? '.')}: both are read-only`);
  }

  /** Writes the resume point (write and rename); `now` waits for it, otherwise writes coalesce. */
  private persist(now: boolean): Promise<void> {
    if (this.statePath === undefined || this.saved === undefined) return Promise.resolve();
    if (!now) {
      if (this.saveQueued) return this.saving;
      this.saveQueued = true;
    }
    const path = this.statePath;
    this.saving = this.saving.then(async () => {
      this.saveQueued = false;
      const s = { ...this.saved!, updatedAt: new Date().toISOString() };
      const tmp = `${path}.tmp`;
      try {
        await writeFile(tmp, JSON.stringify(s));
        await rename(tmp, path);
        this.stateProblem = undefined;
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        // the import goes on (the target takes what it is sent), but a stop now could not be resumed: said
        this.stateProblem = `cannot write the resume point ${path} (${fsProblem(err)}): if the import stops now it cannot go on from there`;
      }
    });
    return this.saving;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolveSleep) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolveSleep();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function messageOf(err: unknown): string {
  if (err instanceof BadLineError) return `line ${err.line}: ${err.reason}`;
  return (err as Error).message;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `3d4h`, `12h`, `90s`: a duration for people. */
export function dur(ms: number): string {
  const neg = ms < 0;
  let s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const out = `${d ? `${d}d` : ''}${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!d && !h && !m) ? `${s}s` : ''}`;
  return neg ? `-${out}` : out;
}
