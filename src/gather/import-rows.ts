/**
 * The import's lines read as series: each line of a chunk parsed by the JSON-lines parser of
 * `/api/v1/import` (formats/jsonline, so that what is refused here is what VictoriaMetrics
 * refuses), handed on one line at a time with its samples, or refused with its line number and
 * reason. The preflight (`ImportAnalysis`) and the upload's rewriting (`ChunkEncoder`) both
 * read lines this way.
 */

import { JsonLineParser } from '../formats/jsonline/parser.js';
import { jsonLine } from '../formats/jsonline/writer.js';
import { WriteRequestWriter } from '../formats/remotewrite/writer.js';
import { compress } from '../formats/snappy/index.js';
import { Labels, METRIC_NAME } from '../model/labels.js';
import type { LineChunk } from './import-input.js';

export interface LineVisitor {
  /** A line's series and its samples (`values`/`timestamps` valid only during the call, `n` long). */
  line(lineNo: number, labels: Labels, values: Float64Array, timestamps: Float64Array, n: number, raw: Buffer, start: number, end: number): void;
  bad(lineNo: number, reason: string): void;
}

/** Reads chunks line by line; one per pass (its parser caches series by their raw bytes). */
export class LineReader {
  private readonly parser = new JsonLineParser();

  read(chunk: Pick<LineChunk, 'buf' | 'firstLine'>, v: LineVisitor): void {
    const buf = chunk.buf;
    const parser = this.parser;
    let lineNo = chunk.firstLine;
    let pos = 0;
    while (pos < buf.length) {
      let nl = buf.indexOf(0x0a, pos);
      if (nl < 0) nl = buf.length;
      let end = nl;
      if (end > pos && buf[end - 1] === 0x0d) end--;
      if (end > pos && !blank(buf, pos, end)) {
        const r = parser.readLine(buf, pos, end, lineNo);
        if (r instanceof Labels) v.line(lineNo, r, parser.lineValues, parser.lineTimestamps, parser.lineSamples, buf, pos, nl + 1);
        else v.bad(lineNo, r.reason);
      }
      pos = nl + 1;
      lineNo++;
    }
  }
}

function blank(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09) return false;
  }
  return true;
}

/** What the target tolerates, as the preflight checks it. */
export interface TargetLimits {
  /** Samples before this (ms) are refused or soon deleted (retention, or what a Prometheus head takes). */
  readonly oldestMs?: number;
  /** Samples after this (ms) are refused (VictoriaMetrics: now + 2 days). */
  readonly newestMs?: number;
  /** Labels per series (with `__name__`) the target keeps; beyond, it drops labels. */
  readonly maxLabels?: number;
  /** The target stores no NaN value (VictoriaMetrics drops them at ingestion): they are not expected to arrive. */
  readonly dropsNaN?: boolean;
  /** Every timestamp is moved by this before it is looked at (the import shifts them so). */
  readonly shiftMs?: number;
}

export interface BadLine {
  readonly line: number;
  readonly reason: string;
}

/** The preflight's findings over the whole input. */
export interface AnalysisReport {
  readonly lines: number;
  readonly badLines: number;
  /** The first bad lines (at most 20), with their numbers. */
  readonly firstBad: readonly BadLine[];
  readonly series: number;
  readonly samples: number;
  /** Of every sample: the earliest and latest, ms (undefined when there are none). */
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly metricNames: number;
  readonly maxLabelsPerSeries: number;
  /** Series with more labels than the target keeps. */
  readonly seriesOverLabelLimit: number;
  /** Samples before `oldestMs` / after `newestMs`. */
  readonly samplesTooOld: number;
  readonly samplesTooNew: number;
  /** NaN values, when the target drops them (they count nowhere below). */
  readonly samplesNaN: number;
  /** Series with at least one sample the target keeps, and those samples, wherever they lie in time. */
  readonly seriesKept: number;
  readonly samplesKept: number;
  /** Series with at least one sample inside both limits, and those samples. */
  readonly seriesInside: number;
  readonly samplesInside: number;
  /** The earliest sample inside the limits. */
  readonly minInsideMs?: number;
  /** A series' sample at or before its previous one, in the input's order. */
  readonly samplesOutOfOrder: number;
  /** The furthest a sample lies behind the latest before it in the input (ms): what a receiver that takes samples only near its newest must tolerate. */
  readonly maxLagMs: number;
}

interface SeriesState {
  last: number;
  /** It has a sample the target keeps / one inside its limits. */
  kept: boolean;
  inside: boolean;
}

/**
 * Everything the preflight says, read in one pass. Keeps one entry per series (its label set,
 * last timestamp and whether it has a sample inside the limits) and the metric names: the
 * memory of an analysis grows with the series, not with the samples.
 */
export class ImportAnalysis implements LineVisitor {
  private readonly series = new Map<Labels, SeriesState>();
  readonly names = new Set<string>();
  private lines = 0;
  private badLines = 0;
  private readonly firstBad: BadLine[] = [];
  private samples = 0;
  get sampleCount(): number {
    return this.samples;
  }
  private minMs = Infinity;
  private maxMs = -Infinity;
  private maxLabels = 0;
  private overLimit = 0;
  private tooOld = 0;
  private tooNew = 0;
  private samplesInside = 0;
  private seriesInside = 0;
  private samplesNaN = 0;
  private seriesKept = 0;
  private minInside = Infinity;
  private outOfOrder = 0;
  private latest = -Infinity;
  private maxLag = 0;
  private readonly reader = new LineReader();

  constructor(private readonly limits: TargetLimits) {}

  add(chunk: LineChunk): void {
    this.reader.read(chunk, this);
  }

  line(_lineNo: number, labels: Labels, values: Float64Array, timestamps: Float64Array, n: number): void {
    this.lines++;
    let s = this.series.get(labels);
    if (s === undefined) {
      s = { last: -Infinity, kept: false, inside: false };
      this.series.set(labels, s);
      const name = labels.get(METRIC_NAME);
      if (name !== undefined) this.names.add(name);
      if (labels.size > this.maxLabels) this.maxLabels = labels.size;
      if (this.limits.maxLabels !== undefined && labels.size > this.limits.maxLabels) this.overLimit++;
    }
    const oldest = this.limits.oldestMs ?? -Infinity;
    const newest = this.limits.newestMs ?? Infinity;
    const dropsNaN = this.limits.dropsNaN === true;
    const shift = this.limits.shiftMs ?? 0;
    let last = s.last;
    let latest = this.latest;
    for (let i = 0; i < n; i++) {
      const t = timestamps[i] + shift;
      if (t < this.minMs) this.minMs = t;
      if (t > this.maxMs) this.maxMs = t;
      if (t <= last) this.outOfOrder++;
      else last = t;
      if (t > latest) latest = t;
      else if (latest - t > this.maxLag) this.maxLag = latest - t;
      if (dropsNaN && values[i] !== values[i]) this.samplesNaN++;
      else if (!s.kept) {
        s.kept = true;
        this.seriesKept++;
      }
      if (t < oldest) this.tooOld++;
      else if (t > newest) this.tooNew++;
      else if (!(dropsNaN && values[i] !== values[i])) {
        this.samplesInside++;
        if (t < this.minInside) this.minInside = t;
        if (!s.inside) {
          s.inside = true;
          this.seriesInside++;
        }
      }
    }
    s.last = last;
    this.latest = latest;
    this.samples += n;
  }

  bad(lineNo: number, reason: string): void {
    this.lines++;
    this.badLines++;
    if (this.firstBad.length < 20) this.firstBad.push({ line: lineNo, reason });
  }

  /** The series keys (the packed label sets) that have samples inside the limits: what verification looks for. */
  insideKeys(): Set<string> {
    const out = new Set<string>();
    for (const [labels, s] of this.series) if (s.inside) out.add(labels.key);
    return out;
  }

  /** The keys of the series with a sample the target keeps, wherever in time. */
  keptKeys(): Set<string> {
    const out = new Set<string>();
    for (const [labels, s] of this.series) if (s.kept) out.add(labels.key);
    return out;
  }

  report(): AnalysisReport {
    const some = this.samples > 0;
    return {
      lines: this.lines,
      badLines: this.badLines,
      firstBad: this.firstBad,
      series: this.series.size,
      samples: this.samples,
      minMs: some ? this.minMs : undefined,
      maxMs: some ? this.maxMs : undefined,
      metricNames: this.names.size,
      maxLabelsPerSeries: this.maxLabels,
      seriesOverLabelLimit: this.overLimit,
      samplesTooOld: this.tooOld,
      samplesTooNew: this.tooNew,
      samplesNaN: this.samplesNaN,
      seriesKept: this.seriesKept,
      samplesKept: this.samples - this.samplesNaN,
      seriesInside: this.seriesInside,
      samplesInside: this.samplesInside,
      minInsideMs: Number.isFinite(this.minInside) ? this.minInside : undefined,
      samplesOutOfOrder: this.outOfOrder,
      maxLagMs: this.maxLag,
    };
  }
}

/** How samples outside the target's limits are treated. */
export type TimePolicy = { readonly kind: 'keep' } | { readonly kind: 'drop'; readonly oldestMs?: number; readonly newestMs?: number } | { readonly kind: 'shift'; readonly byMs: number };

export type Encoding = 'jsonl' | 'remote-write';

export interface EncodedChunk {
  readonly body: Buffer;
  readonly samples: number;
  /** Bad lines skipped (only with `skipBad`). */
  readonly skipped: number;
}

/**
 * A chunk as the target takes it: JSON lines rewritten where the policy changes samples (kept
 * as they are otherwise), or a snappy remote-write request with each series' samples of the
 * chunk in one TimeSeries, in time order.
 */
export class ChunkEncoder implements LineVisitor {
  private readonly reader = new LineReader();
  private parts: string[] = [];
  private rawParts: Buffer[] = [];
  private rawOnly = true;
  private samples = 0;
  private skipped = 0;
  private badFirst: BadLine | undefined;
  private present: Map<string, Set<number>> | undefined;
  private readonly bySeries = new Map<Labels, { v: number[]; t: number[] }>();
  private readonly rw = new WriteRequestWriter(1 << 20);

  constructor(
    private readonly encoding: Encoding,
    private readonly policy: TimePolicy,
    private readonly skipBad: boolean,
    /** Only samples in `[from, to)` (after the policy's shift): one pass of an import in time order. */
    private readonly window?: { readonly from: number; readonly to: number },
  ) {}

  /**
   * The chunk encoded; throws on a bad line unless bad lines are skipped. `present`: samples
   * (timestamps by series key) the target already holds, left out (a resumed import's chunks
   * that may have arrived before it stopped).
   */
  encode(chunk: LineChunk, present?: Map<string, Set<number>>, knownSamples?: number): EncodedChunk {
    this.rawOnly = this.policy.kind === 'keep' && present === undefined && this.window === undefined;
    // lines sent as they are, already checked and counted by the preflight: not read again
    if (this.encoding === 'jsonl' && this.rawOnly && knownSamples !== undefined && !this.skipBad) return { body: chunk.buf, samples: knownSamples, skipped: 0 };
    this.parts = [];
    this.rawParts = [];
    this.samples = 0;
    this.skipped = 0;
    this.badFirst = undefined;
    this.present = present;
    this.bySeries.clear();
    this.reader.read(chunk, this);
    const first = this.badFirst as BadLine | undefined;
    if (first !== undefined && !this.skipBad) throw new BadLineError(first.line, first.reason);
    let body: Buffer;
    if (this.encoding === 'remote-write') {
      this.rw.reset();
      for (const [labels, s] of this.bySeries) {
        sortByTime(s.t, s.v);
        this.rw.appendSeries(labels, s.v, s.t);
      }
      body = compress(this.rw.bytes());
    } else if (this.rawOnly && this.skipped === 0) body = chunk.buf;
    else if (this.rawOnly) body = Buffer.concat(this.rawParts);
    else body = Buffer.from(this.parts.length === 0 ? '' : this.parts.join('\n') + '\n');
    return { body, samples: this.samples, skipped: this.skipped };
  }

  line(_lineNo: number, labels: Labels, values: Float64Array, timestamps: Float64Array, n: number, raw: Buffer, start: number, end: number): void {
    const p = this.policy;
    const present = this.present?.get(labels.key);
    let vs: number[];
    let ts: number[];
    let kept = 0;
    if (this.encoding === 'remote-write') {
      let s = this.bySeries.get(labels);
      if (s === undefined) this.bySeries.set(labels, (s = { v: [], t: [] }));
      vs = s.v;
      ts = s.t;
    } else if (this.rawOnly) {
      this.rawParts.push(raw.subarray(start, end));
      this.samples += n;
      return;
    } else {
      vs = [];
      ts = [];
    }
    for (let i = 0; i < n; i++) {
      let t = timestamps[i];
      if (p.kind === 'shift') t += p.byMs;
      else if (p.kind === 'drop' && ((p.oldestMs !== undefined && t < p.oldestMs) || (p.newestMs !== undefined && t > p.newestMs))) continue;
      if (this.window !== undefined && (t < this.window.from || t >= this.window.to)) continue;
      // already in the target: counted as imported, not sent again
      if (present?.has(t)) {
        kept++;
        continue;
      }
      vs.push(values[i]);
      ts.push(t);
      kept++;
    }
    if (this.encoding === 'jsonl' && vs.length > 0) this.parts.push(jsonLine(labels, vs, ts));
    this.samples += kept;
  }

  bad(lineNo: number, reason: string): void {
    this.skipped++;
    this.badFirst ??= { line: lineNo, reason };
  }
}

export class BadLineError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

function sortByTime(t: number[], v: number[]): void {
  let sorted = true;
  for (let i = 1; i < t.length; i++) if (t[i] < t[i - 1]) (sorted = false), (i = t.length);
  if (sorted) return;
  const idx = t.map((_, i) => i).sort((a, b) => t[a] - t[b]);
  const t2 = idx.map((i) => t[i]);
  const v2 = idx.map((i) => v[i]);
  for (let i = 0; i < t.length; i++) (t[i] = t2[i]), (v[i] = v2[i]);
}
