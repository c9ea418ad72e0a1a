/**
 * Bytes and shapes between a source's answers and export lines: whole-line chunking of a
 * streamed export (a line cut by the transport is held until its end arrives), the query API's
 * matrices turned into VictoriaMetrics export lines (values written as formats/jsonline/writer.ts
 * writes them), Prometheus' value strings read as numbers, and a scanner that hands out the
 * objects of a large JSON array one by one (the series API's answer is counted as it streams,
 * never held whole).
 */

import { Labels } from '../model/labels.js';
import { formatValue, metricJson } from '../formats/jsonline/writer.js';
import type { SeriesSample } from './types.js';

const NL = 0x0a;
/** Chunks handed on are at least this large (fewer, larger writes downstream) unless the body ends. */
const MIN_CHUNK = 64 * 1024;

/** Turns arbitrary body chunks into chunks of whole lines (each ending with `\n`). */
export class LineChunker {
  private partial: Buffer[] = [];
  private partialBytes = 0;

  /** The whole lines completed by `chunk` (with what was held before), or undefined when none. */
  push(chunk: Buffer): Buffer | undefined {
    const last = chunk.lastIndexOf(NL);
    if (last < 0) {
      this.partial.push(chunk);
      this.partialBytes += chunk.length;
      return undefined;
    }
    let out: Buffer;
    if (this.partialBytes === 0) out = chunk.subarray(0, last + 1);
    else {
      this.partial.push(chunk.subarray(0, last + 1));
      out = Buffer.concat(this.partial, this.partialBytes + last + 1);
    }
    this.partial = [];
    this.partialBytes = 0;
    if (last + 1 < chunk.length) {
      this.partial.push(chunk.subarray(last + 1));
      this.partialBytes = chunk.length - last - 1;
    }
    return out;
  }

  /** What is left at the end: a last line without its newline gets one; blank rest dropped. */
  end(): Buffer | undefined {
    if (this.partialBytes === 0) return undefined;
    const rest = Buffer.concat(this.partial, this.partialBytes);
    this.partial = [];
    this.partialBytes = 0;
    return rest.toString('latin1').trim() === '' ? undefined : Buffer.concat([rest, Buffer.from('\n')]);
  }
}

/**
 * Whole-line chunks of `body`, gathered to at least MIN_CHUNK bytes where the body allows. The
 * body's chunks must stay valid once handed out (source-http.ts hands out owned slabs): whole
 * lines go on as views of them, and only a line cut between two chunks is copied, once, joined
 * with its end (never the whole next chunk).
 */
export async function* wholeLines(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // the start of a line whose end has not come yet (views of earlier chunks)
  let partial: Buffer[] = [];
  let partialBytes = 0;
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const chunk of body) {
    let from = 0;
    if (partialBytes > 0) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        partial.push(chunk);
        partialBytes += chunk.length;
        continue;
      }
      partial.push(chunk.subarray(0, nl + 1));
      held.push(Buffer.concat(partial, partialBytes + nl + 1));
      heldBytes += partialBytes + nl + 1;
      partial = [];
      partialBytes = 0;
      from = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last >= from) {
      held.push(chunk.subarray(from, last + 1));
      heldBytes += last + 1 - from;
      from = last + 1;
    }
    if (from < chunk.length) {
      partial.push(chunk.subarray(from));
      partialBytes = chunk.length - from;
    }
    if (heldBytes >= MIN_CHUNK) {
      // a few large pieces go on as they are; many small ones are joined (fewer, larger writes)
      if (held.length <= 4) yield* held;
      else yield Buffer.concat(held, heldBytes);
      held = [];
      heldBytes = 0;
    }
  }
  if (partialBytes > 0) {
    const rest = Buffer.concat(partial, partialBytes);
    if (rest.toString('latin1').trim() !== '') {
      held.push(rest, Buffer.from('\n'));
      heldBytes += rest.length + 1;
    }
  }
  if (heldBytes > 0) yield held.length === 1 ? held[0] : Buffer.concat(held, heldBytes);
}

/** A value of the query API (`"1.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`) as a number. */
export function promValue(s: string): number {
  switch (s) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
    default:
      return Number(s);
  }
}

/** A query API timestamp (seconds, up to ms decimals) as Unix ms. */
export function promTimeMs(t: number): number {
  return Math.round(t * 1000);
}

export interface MatrixSeries {
  readonly metric: Record<string, string>;
  readonly values: readonly (readonly [number, string])[];
}

/**
 * One matrix series as an export line (`\n` ended), keeping only samples in `[startMs, endMs)`;
 * undefined when none is left.
 */
export function matrixLine(s: MatrixSeries, startMs: number, endMs: number): string | undefined {
  let vs = '';
  let ts = '';
  let n = 0;
  for (const [t, v] of s.values) {
    const ms = promTimeMs(t);
    if (ms < startMs || ms >= endMs) continue;
    if (n > 0) {
      vs += ',';
      ts += ',';
    }
    vs += formatValue(promValue(v));
    ts += String(ms);
    n++;
  }
  if (n === 0) return undefined;
  return `{"metric":${metricJson(Labels.fromRecord(s.metric))},"values":[${vs}],"timestamps":[${ts}]}\n`;
}

/** An export line parsed (bare `NaN`, `+Inf`, `-Inf` read as the numbers). */
export function parseExportLine(line: string): SeriesSample {
  const fixed = line.replace(/"values":\[([^\]]*)\]/, (_m, vs: string) =>
    `"values":[${vs
      .split(',')
      .map((v) => (/^\s*([+-]?Inf|NaN)\s*$/.test(v) ? JSON.stringify(v.trim()) : v))
      .join(',')}]`,
  );
  const s = JSON.parse(fixed) as { metric: Record<string, string>; values: (number | string | null)[]; timestamps: number[] };
  return {
    metric: s.metric,
    values: s.values.map((v) => (typeof v === 'number' ? v : v === null ? NaN : promValue(v.replace(/^\+?Inf$/, '+Inf')))),
    timestamps: s.timestamps,
  };
}

/**
 * Hands out the objects of one array of a JSON answer as they stream in, without holding the
 * whole answer: the array opened at `arrayDepth` (1: the series API's `"data":[…]`; 2: a query's
 * `"data":{"result":[…]}`). `onObject` gets each element's JSON text.
 */
export class ArrayObjectScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private inArray = false;
  private current: Buffer[] = [];
  private startAt = -1;

  constructor(
    private readonly onObject: (json: string) => void,
    private readonly arrayDepth = 1,
  ) {}

  push(chunk: Buffer): void {
    const elementDepth = this.arrayDepth + 1;
    // an element cut by the previous chunk goes on from this chunk's first byte
    this.startAt = this.inArray && this.depth > elementDepth ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
        continue;
      }
      if (b === 0x22) this.inString = true;
      else if (b === 0x7b || b === 0x5b) {
        if (b === 0x5b && this.depth === this.arrayDepth) this.inArray = true;
        else if (b === 0x7b && this.inArray && this.depth === elementDepth) this.startAt = i;
        this.depth++;
      } else if (b === 0x7d || b === 0x5d) {
        this.depth--;
        if (b === 0x5d && this.depth === this.arrayDepth) this.inArray = false;
        else if (b === 0x7d && this.inArray && this.depth === elementDepth && this.startAt >= 0) {
          this.current.push(chunk.subarray(this.startAt, i + 1));
          this.onObject(Buffer.concat(this.current).toString('utf8'));
          this.current = [];
          this.startAt = -1;
        }
      }
    }
    if (this.startAt >= 0 && this.depth > elementDepth) this.current.push(Buffer.from(chunk.subarray(this.startAt)));
  }
}
