/**
 * What every push-protocol parser hands its rows to, and the line framing the line-based ones
 * share (Influx, Graphite, OpenTSDB telnet, JSON lines, CSV, Prometheus text import). In the
 * shape of VictoriaMetrics' `lib/protoparser/<format>`: each format in its own folder beside
 * this one parses bytes into samples and reports bad rows; the server glue (src/ingest/) owns
 * counting, limits, extra labels, batching into the pipeline and the answer to the client.
 *
 * A parser keeps its own per-series cache (`KeyedLabels`, keyed by the raw series bytes), so a
 * series pushed again is the same `Labels` object and costs a lookup, not a parse.
 */

import type { Labels } from '../../model/labels.js';

/** Why a row was refused: the `reason` label of `tributary_ingest_rows_invalid_total`. */
export type RowFault =
  /** Not the format's syntax. */
  | 'syntax'
  /** A value or timestamp that is not a number, or out of range. */
  | 'value'
  /** A line over the protocol's `max_line_bytes`. */
  | 'too_long'
  /** More labels than `max_labels_per_series` (counted by the ingest glue). */
  | 'too_many_labels'
  /** Valid in the protocol, not carried by Tributary (say which in the message). */
  | 'unsupported';

export interface RowSink {
  /** Now, in milliseconds since the epoch, for rows without a timestamp (one value per request). */
  readonly now: number;
  /** One sample. `labels` include `__name__`; the same object for a series the parser saw before. */
  sample(labels: Labels, value: number, timestampMs: number): void;
  /** A row that could not be taken; parsing goes on with the next one. `line`: 1-based, 0 when the format has no lines. */
  invalid(line: number, reason: string, fault?: RowFault): void;
}

/** A line-based format: one call per line, without its `\n` (and `\r`). */
export interface LineFormat {
  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void;
}

const NL = 0x0a;
const CR = 0x0d;

/**
 * Cuts a stream of chunks into lines for a `LineFormat`, holding at most one partial line (at
 * most `maxLineBytes`) between chunks: a longer line is refused as `too_long` and skipped to its
 * end, never buffered.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  /** Skipping the rest of a line that was too long. */
  private skipping = false;
  private lineNo = 0;

  constructor(
    private readonly format: LineFormat,
    private readonly maxLineBytes: number,
  ) {}

  /** Lines seen so far. */
  get lines(): number {
    return this.lineNo;
  }

  push(chunk: Buffer, out: RowSink): void {
    let pos = 0;
    if (this.carry !== undefined || this.skipping) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        if (!this.skipping) this.hold(chunk, out);
        return;
      }
      if (this.skipping) this.skipping = false;
      else {
        const line = Buffer.concat([this.carry!, chunk.subarray(0, nl)]);
        this.carry = undefined;
        if (line.length > this.maxLineBytes) this.tooLong(out);
        else this.emit(line, 0, line.length, out);
      }
      pos = nl + 1;
    }
    const { format, maxLineBytes } = this;
    for (;;) {
      const nl = chunk.indexOf(NL, pos);
      if (nl < 0) break;
      this.lineNo++;
      if (nl - pos > maxLineBytes) this.refuse(out);
      else {
        const end = nl > pos && chunk[nl - 1] === CR ? nl - 1 : nl;
        if (end > pos) format.line(chunk, pos, end, this.lineNo, out);
      }
      pos = nl + 1;
    }
    if (pos < chunk.length) this.hold(chunk.subarray(pos), out);
  }

  /** The last line, when the stream did not end with a newline. */
  end(out: RowSink): void {
    const carry = this.carry;
    this.carry = undefined;
    this.skipping = false;
    if (carry !== undefined && carry.length > 0) this.emit(carry, 0, carry.length, out);
  }

  private hold(part: Buffer, out: RowSink): void {
    const held = this.carry === undefined ? part.length : this.carry.length + part.length;
    if (held > this.maxLineBytes) {
      this.carry = undefined;
      this.skipping = true;
      this.tooLong(out);
      return;
    }
    // copied: the chunk's memory may be reused by the stream
    this.carry = this.carry === undefined ? Buffer.from(part) : Buffer.concat([this.carry, part]);
  }

  private emit(line: Buffer, start: number, end: number, out: RowSink): void {
    this.lineNo++;
    if (end > start && line[end - 1] === CR) end--;
    if (end > start) this.format.line(line, start, end, this.lineNo, out);
  }

  private tooLong(out: RowSink): void {
    this.lineNo++;
    this.refuse(out);
  }

  private refuse(out: RowSink): void {
    out.invalid(this.lineNo, `line longer than the limit of ${this.maxLineBytes} bytes`, 'too_long');
  }
}
