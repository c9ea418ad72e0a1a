/**
 * Prometheus text pushed to `/api/v1/import/prometheus`: lines from a `LineSplitter` gathered
 * into pieces of about 64 KiB and each piece read by the exposition parser (lenient: a bad line
 * is reported with its line number and the rest kept). Every sample line is a sample of its
 * own series — histogram buckets, `_sum`, `_count` as they are written; HELP and TYPE lines
 * are read and dropped, as vmagent drops them. A line without a timestamp gets the request's
 * default (vmagent's `timestamp` query arg, integer milliseconds), else now.
 *
 * The series cache is shared between requests (`seriesKey()`, the raw `name{labels}` text, is
 * its key), so a series pushed again costs a lookup, not a build of its labels.
 */

import { KeyedLabels } from '../../model/keyed-labels.js';
import type { Labels } from '../../model/labels.js';
import type { LineFormat, RowSink } from '../rows/index.js';
import { Entry, ExpositionError, newExpositionParser } from '../prometheus/parser.js';

/** Text gathered before it is parsed: large enough that a parser per piece costs nothing. */
const PIECE_BYTES = 64 * 1024;

export class PrometheusImportLines implements LineFormat {
  private lines: string[] = [];
  private firstLine = 0;
  private lastLine = 0;
  private bytes = 0;

  /** `defaultTimestampMs`: for lines without a timestamp; 0 means now. */
  constructor(
    private readonly series: KeyedLabels,
    private readonly defaultTimestampMs: number,
  ) {}

  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void {
    if (this.lines.length === 0) this.firstLine = lineNo;
    // the splitter leaves out empty lines: keep them, so the parser counts lines as the body does
    else for (let n = this.lastLine + 1; n < lineNo; n++) this.lines.push('');
    this.lines.push(buf.toString('utf8', start, end));
    this.lastLine = lineNo;
    this.bytes += end - start;
    if (this.bytes >= PIECE_BYTES) this.flush(out);
  }

  /** Parses what is gathered; call once more when the body has ended. */
  flush(out: RowSink): void {
    if (this.lines.length === 0) return;
    const text = this.lines.join('\n');
    const startLine = this.firstLine - 1;
    this.lines = [];
    this.bytes = 0;
    const p = newExpositionParser(text, { format: 'prometheus', lenient: true, startLine });
    const ts = this.defaultTimestampMs !== 0 ? this.defaultTimestampMs : out.now;
    for (;;) {
      const e = p.next();
      if (e === Entry.End) break;
      if (e !== Entry.Series) continue;
      const key = p.seriesKey();
      let labels: Labels | undefined = this.series.get(key);
      if (labels === undefined) {
        try {
          // names are checked here, not by the fast pass of next()
          labels = p.labels();
        } catch (err) {
          if (!(err instanceof ExpositionError)) throw err;
          out.invalid(err.line, `column ${err.column}: ${err.detail}`);
          continue;
        }
        this.series.set(key, labels);
      }
      out.sample(labels, p.value, p.timestamp ?? ts);
    }
    for (const err of p.errors) out.invalid(err.line, `column ${err.column}: ${err.detail}`);
    for (let i = p.errors.length; i < p.dropped; i++) out.invalid(0, 'a bad line (only the first ones of a piece are quoted)');
  }
}
