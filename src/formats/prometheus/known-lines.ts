/**
 * A text or OpenMetrics page read straight from its bytes, for a page much like the last one a
 * reader saw: every series line must be the one its owner expects there (the same `name{labels}`
 * text as in the last page, which the string parser accepted then), so only the value and the
 * timestamp are read; HELP, TYPE, UNIT and (text) other `#` lines and blank lines are checked
 * in place as the parser checks them in a scrape. The first line that is anything else — a
 * series not expected there, a tab, leading blanks, an exemplar, a value or timestamp the fast
 * forms do not cover, a TYPE word not in the table, OpenMetrics' `# EOF` — stops the reader at
 * its start, and the string parser (text-parser.ts, openmetrics-parser.ts) takes the page from
 * there, with its exact errors. So the bytes of a known line are never decoded to a string,
 * which for a scraped page was most of what the agent allocated.
 *
 * Only where no metadata is wanted: HELP text, TYPE and UNIT are not kept here.
 */

import { CLASS, METRIC_CHAR, METRIC_START, NL, SPACE, TAB, HASH, LBRACE, BACKSLASH, parseIntegerMs, parseNumber, parseSecondsAsMs } from './lex.js';

/** What the reader asks of its owner, line by line. */
export interface LineExpectation {
  /** The `name{labels}` text the next series line is expected to start with; undefined stops the reader there. */
  expectedKey(): string | undefined;
  /** The expected line was read: the reader's `value` and `timestamp` hold its sample. Throwing ends the page. */
  onExpected(r: KnownTextLines): void;
}

/** Node's Buffer has it (toString('latin1') calls it after checking its arguments); its types do not. */
type LatinBuffer = Buffer & { latin1Slice(start: number, end: number): string };

/** TYPE words of each format; the string parser says what is wrong with any other. */
const TYPE_WORDS = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const OPENMETRICS_TYPE_WORDS = ['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown'];

export class KnownTextLines {
  /** The current sample's value. */
  value = 0;
  /** Its timestamp in milliseconds, or undefined when the line has none. */
  timestamp: number | undefined = undefined;
  /** Lines passed by the last `read`. */
  lines = 0;
  /** The page is OpenMetrics: one space between fields, timestamps in seconds. */
  private om = false;
  private readonly backslashes = new ByteSeeker(BACKSLASH);
  // a tab is a blank to the parser, not here: a line with one is left to it
  private readonly tabs = new ByteSeeker(TAB);

  /**
   * Reads whole lines of `b[from, to)` (`to` just after a newline) while each is a comment,
   * a blank line or the series line `x` expects; returns the start of the first line it did not
   * take (`to` when it took them all).
   */
  read(b: Buffer, from: number, to: number, x: LineExpectation, openMetrics = false): number {
    this.om = openMetrics;
    this.backslashes.reset(b, to);
    this.tabs.reset(b, to);
    let p = from;
    let lines = 0;
    try {
      while (p < to) {
        const c = b[p];
        let end: number;
        if (c === NL) {
          if (openMetrics) break; // an error there
          end = p;
        } else if (c === HASH) {
          end = b.indexOf(NL, p);
          if (this.tabs.from(p) < end || !(openMetrics ? knownOpenMetricsComment(b, p, end, this.backslashes) : knownComment(b, p, end))) break;
        } else {
          const key = x.expectedKey();
          end = key === undefined ? -1 : this.series(b, p, to, key);
          if (end >= 0) x.onExpected(this);
        }
        if (end < 0) break;
        p = end + 1;
        lines++;
      }
    } finally {
      this.lines = lines;
    }
    return p;
  }

  /** The series line at `p` if it starts with `key`: its sample read, the position of its newline; -1 otherwise. */
  private series(b: Buffer, p: number, to: number, key: string): number {
    const n = key.length;
    if (p + n >= to) return -1;
    // a native copy and compare cost less than a loop over the characters (1.4 ns each)
    if ((b as LatinBuffer).latin1Slice(p, p + n) !== key) return -1;
    p += n;
    if (b[p] !== SPACE) return -1;
    const om = this.om;
    if (om) p++;
    else while (b[++p] === SPACE);
    // "name {labels} value": the string parser reads the labels after the blank (or refuses them)
    if (b[p] === LBRACE) return -1;
    let e = p;
    while (b[e] !== SPACE && b[e] !== NL) e++;
    if (e === p) return -1;
    const v = parseValue(b, p, e);
    if (v === undefined) return -1;
    this.value = v;
    p = e;
    if (om) {
      if (b[p] === SPACE) p++;
    } else while (b[p] === SPACE) p++;
    if (b[p] === NL) {
      // OpenMetrics: a blank before the line end is an error there
      if (om && b[p - 1] === SPACE) return -1;
      this.timestamp = undefined;
      return p;
    }
    e = p;
    while (b[e] !== SPACE && b[e] !== NL) e++;
    const ts = om ? parseSeconds(b, p, e) : parseTimestamp(b, p, e);
    if (ts === undefined) return -1;
    if (!om) while (b[e] === SPACE) e++;
    if (b[e] !== NL) return -1;
    this.timestamp = ts;
    return e;
  }
}

/**
 * Whether the `#` line from `p` to its newline at `nl` (no tab in it) is one the string parser
 * takes without complaint in a scrape: a comment, a HELP line, or a TYPE line with a known word.
 */
function knownComment(b: Buffer, p: number, nl: number): boolean {
  let q = p + 1;
  if (b[q] !== SPACE) return true;
  while (b[q] === SPACE) q++;
  const help = isWordAt(b, q, 'HELP');
  const type = !help && isWordAt(b, q, 'TYPE');
  if (!help && !type) return true;
  q += 4;
  if (b[q] !== SPACE) return true; // "# HELPFUL": a comment
  while (b[q] === SPACE) q++;
  // the name's first character is checked as the parser does; the rest only when metadata is read
  const c = b[q];
  if (c >= 128 || !(CLASS[c] & METRIC_START)) return false;
  // whatever follows a HELP line's name is its text
  if (help) return true;
  while (b[q] !== SPACE && q < nl) q++;
  if (b[q] !== SPACE) return false;
  while (b[q] === SPACE) q++;
  let e = nl;
  while (e > q && b[e - 1] === SPACE) e--;
  for (const word of TYPE_WORDS) if (sameText(b, q, e, word)) return true;
  return false;
}

/** The next position of a byte at or after a position that only moves forward (as lex.ts' CharSeeker). */
class ByteSeeker {
  private b: Buffer | undefined;
  private end = 0;
  private next = -1;
  constructor(private readonly byte: number) {}

  /** Starts over on `b[, end)`. */
  reset(b: Buffer, end: number): void {
    this.b = b;
    this.end = end;
    this.next = -1;
  }

  /** Position of the next occurrence at or after `start`; `end` when none. */
  from(start: number): number {
    if (this.next < start) {
      const found = this.b!.indexOf(this.byte, start);
      this.next = found < 0 || found > this.end ? this.end : found;
    }
    return this.next;
  }
}

/**
 * Whether the `#` line from `p` to its newline at `nl` (no tab in it) is a HELP, TYPE or UNIT
 * line the OpenMetrics parser takes without complaint in a scrape. `# EOF` and anything else are
 * left to the parser.
 */
function knownOpenMetricsComment(b: Buffer, p: number, nl: number, backslashes: ByteSeeker): boolean {
  let q = p + 1;
  if (b[q] !== SPACE) return false;
  q++;
  const help = isWordAt(b, q, 'HELP');
  const type = !help && isWordAt(b, q, 'TYPE');
  const unit = !help && !type && isWordAt(b, q, 'UNIT');
  if (!help && !type && !unit) return false;
  q += 4;
  if (b[q] !== SPACE) return false;
  q++;
  const c = b[q];
  if (c >= 128 || !(CLASS[c] & METRIC_START)) return false;
  while (b[q] !== SPACE && q < nl) q++;
  if (b[q] !== SPACE) return false;
  q++;
  // HELP text: escapes other than \\ \" \n are errors there, so any backslash is the parser's to judge
  if (help) return backslashes.from(q) > nl;
  if (type) {
    for (const word of OPENMETRICS_TYPE_WORDS) if (sameText(b, q, nl, word)) return true;
    return false;
  }
  for (let i = q; i < nl; i++) if (b[i] >= 128 || !(CLASS[b[i]] & METRIC_CHAR)) return false;
  return true;
}

/** Whether `word` is written at `p` (what follows it is not looked at). */
function isWordAt(b: Buffer, p: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (b[p + i] !== word.charCodeAt(i)) return false;
  return true;
}

function sameText(b: Buffer, from: number, to: number, s: string): boolean {
  return to - from === s.length && isWordAt(b, from, s);
}

/** A sample value, as `parseNumber` reads the same characters. */
function parseValue(b: Buffer, p: number, end: number): number | undefined {
  let q = p;
  const c = b[q];
  const neg = c === 0x2d;
  if (neg || c === 0x2b) q++;
  if (end - q <= 15 && end > q) {
    let v = 0;
    for (; q < end; q++) {
      const d = b[q] - 0x30;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (q === end) return neg ? -v : v;
  }
  // decimals and exponents (Go's %g writes 1.5e+06), Inf and NaN: the string parser's rules, on the token alone
  const s = (b as LatinBuffer).latin1Slice(p, end);
  return parseNumber(s, 0, s.length);
}

/** OpenMetrics' timestamp (seconds, possibly fractional) in milliseconds, as its parser reads it. */
function parseSeconds(b: Buffer, p: number, end: number): number | undefined {
  const s = (b as LatinBuffer).latin1Slice(p, end);
  return parseSecondsAsMs(s, 0, s.length);
}

/** Integer milliseconds (rare on scraped lines): `parseIntegerMs` on the token. */
function parseTimestamp(b: Buffer, p: number, end: number): number | undefined {
  const s = (b as LatinBuffer).latin1Slice(p, end);
  return parseIntegerMs(s, 0, s.length);
}
