/**
 * Prometheus text pushed to `/api/v1/import/prometheus`: lines from a `LineSplitter` gathered
 * into pieces of about 64 KiB and each piece read by the exposition parser (lenient: a bad line
 * is reported with its line number and the rest kept). Every sample line is a sample of its
 * own series — histogram buckets, `_sum`, `_count` as they are written; comment lines (HELP and
 * TYPE included) are dropped unread, as vmagent drops them. A line without a timestamp gets the
 * request's default (vmagent's `timestamp` query arg, integer milliseconds), else now.
 *
 * The series cache is shared between requests (`PrometheusImportCache`), and a sample line of
 * a series in it is read without the parser at all (`known`): a series pushed again costs a
 * lookup — or, in the same place as in the request before, a byte compare — and a number parse.
 */

import { KeyedLabels } from '../../model/keyed-labels.js';
import type { Labels } from '../../model/labels.js';
import { ByteFinder } from '../rows/finder.js';
import type { LineFormat, RowSink } from '../rows/index.js';
import { parseIntegerMs, parseNumber } from '../prometheus/lex.js';
import { Entry, ExpositionError, newExpositionParser } from '../prometheus/parser.js';

/** Text gathered before it is parsed: large enough that a parser per piece costs nothing. */
const PIECE_BYTES = 64 * 1024;
/** Lines skipped (read by `known`) after which a new piece starts rather than empty lines filling the gap. */
const MAX_GAP = 64;
const HASH = 0x23;
const SPACE = 0x20;
const TAB = 0x09;
const RBRACE = 0x7d;

/** The UTF-8 bytes of `s` read as latin1: a new flat string, equal to `s` when it is ASCII. */
function latin1Key(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** A known series: its labels, and its text's bytes (for the guess by line). */
interface Series {
  readonly key: Buffer;
  readonly labels: Labels;
}

/** Lines of a request whose series is guessed from the request before (beyond, the cache alone). */
const MAX_GUESSED_LINES = 100_000;

/**
 * What requests share: the series cache (the raw `name{labels}` text as latin1 its key), and
 * the series each line number had in the request before — a client pushing the same series in
 * the same order each time is answered by a byte compare, without making a key string.
 */
export class PrometheusImportCache {
  readonly series = new KeyedLabels<Series>();
  readonly braces = new ByteFinder(RBRACE);
  readonly spaces = new ByteFinder(SPACE);
  private readonly byLine: (Series | undefined)[] = [];

  guessed(lineNo: number): Series | undefined {
    return lineNo < MAX_GUESSED_LINES ? this.byLine[lineNo] : undefined;
  }

  guess(lineNo: number, s: Series): void {
    if (lineNo >= MAX_GUESSED_LINES) return;
    const g = this.byLine;
    while (g.length < lineNo) g.push(undefined);
    g[lineNo] = s;
  }
}

export class PrometheusImportLines implements LineFormat {
  private lines: string[] = [];
  private firstLine = 0;
  private lastLine = 0;
  private bytes = 0;

  /** `defaultTimestampMs`: for lines without a timestamp; 0 means now. */
  constructor(
    private readonly cache: PrometheusImportCache,
    private readonly defaultTimestampMs: number,
  ) {}

  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void {
    if (this.known(buf, start, end, lineNo, out)) return;
    if (this.lines.length > 0 && lineNo - this.lastLine > MAX_GAP) this.flush(out);
    if (this.lines.length === 0) this.firstLine = lineNo;
    // lines not gathered (empty, or read by `known`): kept as empty ones, so the parser counts lines as the body does
    else for (let n = this.lastLine + 1; n < lineNo; n++) this.lines.push('');
    this.lines.push(buf.toString('utf8', start, end));
    this.lastLine = lineNo;
    this.bytes += end - start;
    if (this.bytes >= PIECE_BYTES) this.flush(out);
  }

  /**
   * A sample line of a known series, read without the exposition parser: `name{labels} value
   * [timestamp]` with single spaces. The series part is taken up to the first "}" (or the first
   * space when there are no labels) and looked up as it is: only whole series texts the parser
   * accepted are ever cached, so a hit is the series — a "}" inside a label value just misses.
   * Anything else (comments, tabs, unknown series, a bad value) goes to the parser.
   */
  private known(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): boolean {
    const c = buf[start];
    // HELP, TYPE and other comments: dropped unread, as vmagent drops them
    if (c === HASH) return true;
    if (c === SPACE || c === TAB) return false;
    let keyEnd = this.cache.braces.find(buf, start, end);
    if (keyEnd >= 0) keyEnd++;
    else {
      keyEnd = this.cache.spaces.find(buf, start, end);
      if (keyEnd < 0) return false;
    }
    if (buf[keyEnd] !== SPACE) return false;
    const { cache } = this;
    let known = cache.guessed(lineNo);
    const len = keyEnd - start;
    if (known === undefined || known.key.length !== len || buf.compare(known.key, 0, len, start, keyEnd) !== 0) {
      known = cache.series.get(buf.toString('latin1', start, keyEnd));
      if (known === undefined) return false;
      cache.guess(lineNo, known);
    }
    const labels = known.labels;
    const rest = buf.toString('latin1', keyEnd + 1, end);
    const sp = rest.indexOf(' ');
    const value = parseNumber(rest, 0, sp < 0 ? rest.length : sp);
    if (value === undefined) return false;
    let ts = this.defaultTimestampMs !== 0 ? this.defaultTimestampMs : out.now;
    if (sp >= 0) {
      const t = parseIntegerMs(rest, sp + 1, rest.length);
      if (t === undefined) return false;
      ts = t;
    }
    // lines gathered before this one first: a series' samples stay in the order they came
    if (this.lines.length > 0) this.flush(out);
    out.sample(labels, value, ts);
    return true;
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
      // the cache's keys are the series' bytes read as latin1, as `known` reads them — and a
      // fresh string, not a slice of the whole piece, which the cache would keep alive
      const key = latin1Key(p.seriesKey());
      let known = this.cache.series.get(key);
      if (known === undefined) {
        try {
          // names are checked here, not by the fast pass of next()
          known = { key: Buffer.from(key, 'latin1'), labels: p.labels() };
        } catch (err) {
          if (!(err instanceof ExpositionError)) throw err;
          out.invalid(err.line, `column ${err.column}: ${err.detail}`);
          continue;
        }
        this.cache.series.set(key, known);
      }
      this.cache.guess(p.line, known);
      out.sample(known.labels, p.value, p.timestamp ?? ts);
    }
    for (const err of p.errors) out.invalid(err.line, `column ${err.column}: ${err.detail}`);
    for (let i = p.errors.length; i < p.dropped; i++) out.invalid(0, 'a bad line (only the first ones of a piece are quoted)');
  }
}
