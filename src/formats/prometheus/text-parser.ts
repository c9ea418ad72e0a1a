/**
 * The Prometheus text format, 0.0.4 (and 1.0.0, the same grammar with quoted UTF-8 names), as
 * Prometheus' `promparse` reads it: blank lines and leading blanks are skipped, blanks between
 * fields may be spaces or tabs and repeat, `#` lines other than HELP and TYPE are comments,
 * timestamps are integer milliseconds, escapes other than \\ \" \n are kept verbatim, and the
 * page simply ends. An exemplar some client libraries write after a sample anyway is checked
 * and dropped.
 *
 * Speed: a line is first taken apart by the fast pass (`LineParser.fastKey`, native searches);
 * a tab anywhere on the line sends it to the exact parser, which also produces the precise error.
 */

import {
  CharSeeker,
  CLASS,
  METRIC_START,
  Entry,
  HASH,
  isWord,
  LBRACE,
  lookupType,
  NL,
  parseIntegerMs,
  parseNumber,
  parseSecondsAsMs,
  SPACE,
  TAB,
  unescape,
  type TypeTable,
} from './lex.js';
import { LineParser } from './line-parser.js';
import type { ParserOptions } from './parser.js';

const TEXT_TYPES: TypeTable = [
  ['counter', 'counter'],
  ['gauge', 'gauge'],
  ['histogram', 'histogram'],
  ['summary', 'summary'],
  ['untyped', 'unknown'],
];

export class TextParser extends LineParser {
  /** Tabs send a line to the exact parser: the fast pass splits at spaces only. */
  private readonly tabs: CharSeeker;

  constructor(text: string, opts: ParserOptions) {
    super(text, opts, false);
    this.tabs = new CharSeeker(text, '\t');
  }

  protected step(): Entry {
    const s = this.text;
    const len = s.length;
    for (;;) {
      if (this.pos >= len) return Entry.End;
      this.lineNo++;
      this.lineStart = this.pos;
      this.quotedName = undefined;
      let c = s.charCodeAt(this.pos);
      if (c === NL) {
        this.pos++;
        continue;
      }
      if (c === SPACE || c === TAB) {
        this.pos = this.skipBlanks(this.pos);
        c = s.charCodeAt(this.pos);
        if (c === NL || this.pos >= len) {
          this.pos++;
          continue;
        }
      }
      if (c === HASH) return this.parseComment();
      return this.parseSeries();
    }
  }

  /** One or more spaces or tabs. */
  protected expectSeparator(p: number, what: string): number {
    const c = this.text.charCodeAt(p);
    if (c !== SPACE && c !== TAB) throw this.errorAt(p, `expected a space before ${what}, got ${this.describe(p)}`);
    return this.skipBlanks(p);
  }

  protected optionalSeparator(p: number): number {
    return this.skipBlanks(p);
  }

  /** Trailing blanks are allowed: `endLine` skips them. */
  protected trailingBlank(): void {}

  /** Ends a line at `p`, after trailing blanks: a newline or the end of input. */
  protected endLine(p: number): void {
    const s = this.text;
    p = this.skipBlanks(p);
    const c = s.charCodeAt(p);
    if (c === NL) this.pos = p + 1;
    else if (p >= s.length) this.pos = p;
    else throw this.errorAt(p, `expected end of line, got ${this.describe(p)}`);
  }

  // ---- # lines

  /** `# HELP name text`, `# TYPE name type`; any other `#` line is a comment. */
  private parseComment(): Entry {
    const s = this.text;
    let p = this.pos + 1;
    const c0 = s.charCodeAt(p);
    if (c0 !== SPACE && c0 !== TAB) return this.plainComment();
    p = this.skipBlanks(p);
    let kind: Entry;
    if (isWord(s, p, 0x48, 0x45, 0x4c, 0x50)) kind = Entry.Help;
    else if (isWord(s, p, 0x54, 0x59, 0x50, 0x45)) kind = Entry.Type;
    else return this.plainComment();
    p += 4;
    const c = s.charCodeAt(p);
    if (c !== SPACE && c !== TAB) return this.plainComment(); // "# HELPFUL text" is an ordinary comment
    p = this.skipBlanks(p);
    let le = s.indexOf('\n', p);
    if (le < 0) le = s.length;
    p = this.metaName(p, le, !this.tabs.within(p, le));
    const sep = s.charCodeAt(p);
    if (kind === Entry.Help && (sep === NL || p >= s.length)) {
      // "# HELP name" with no text: an empty help string
      this.helpDecoded = '';
      this.endLine(p);
      return kind;
    }
    p = this.expectSeparator(p, kind === Entry.Help ? 'the help text' : 'the type');
    const end = le;
    if (kind === Entry.Help) {
      this.helpStart = p;
      this.helpEnd = end;
      // \\ and \n only: a backslash before anything else (\" too) is kept, as Prometheus does
      this.helpDecoded = this.backslashes.within(p, end) ? unescape(s, p, end, false) : undefined;
    } else {
      let textEnd = end;
      while (textEnd > p && (s.charCodeAt(textEnd - 1) === SPACE || s.charCodeAt(textEnd - 1) === TAB)) textEnd--;
      const word = s.slice(p, textEnd);
      const t = lookupType(word, TEXT_TYPES);
      if (t === undefined) {
        const allowed = TEXT_TYPES.map(([w]) => w).join(', ');
        throw this.errorAt(p, `invalid metric type ${JSON.stringify(word)}: expected one of ${allowed}`);
      }
      this.metaType = t;
    }
    this.pos = end + 1;
    return kind;
  }

  private plainComment(): Entry {
    this.skipToNextLine();
    return Entry.Comment;
  }

  // ---- series lines

  /**
   * The common line — `name{a="b",...} value [timestamp]` with plain names and no escapes,
   * tabs or exemplars — taken apart with native searches. False sends the line to the exact
   * parser, which either accepts it or throws the precise error.
   */
  protected fastSeries(start: number): boolean {
    const s = this.text;
    const le = this.lineEnd;
    if (this.tabs.within(start, le)) return false;
    // the series key, written out here rather than called: see LineParser.labelSetEnd
    const c = s.charCodeAt(start);
    if (c >= 128 || !(CLASS[c] & METRIC_START)) return false;
    let sp = s.indexOf(' ', start);
    if (sp < 0 || sp > le) return false;
    const br = this.braces.from(start);
    this.nameStart = start;
    this.nameEnd = br < sp ? br : sp;
    let p = br < sp ? this.labelSetEnd(br, le) : sp;
    if (p < 0) return false;
    this.seriesEnd = p;
    if (s.charCodeAt(p) !== SPACE) return false;
    p++;
    while (s.charCodeAt(p) === SPACE) p++;
    if (s.charCodeAt(p) === LBRACE) return false; // "name {labels}": the exact parser takes it
    sp = s.indexOf(' ', p);
    if (sp < 0 || sp > le) sp = le;
    if (sp === p) return false;
    const v = parseNumber(s, p, sp);
    if (v === undefined) return false;
    this.value = v;
    p = sp;
    if (p < le) {
      p++;
      while (s.charCodeAt(p) === SPACE) p++;
      if (p < le) {
        if (s.charCodeAt(p) === HASH) return false; // exemplar
        sp = s.indexOf(' ', p);
        if (sp < 0 || sp > le) sp = le;
        const ts = parseIntegerMs(s, p, sp);
        if (ts === undefined) return false;
        this.timestamp = ts;
        p = sp;
        while (s.charCodeAt(p) === SPACE) p++;
        if (p !== le) return false;
      }
    }
    this.pos = le === s.length ? le : le + 1;
    return true;
  }

  /** Integer milliseconds since the epoch at `p`; returns the position after them. */
  protected parseTimestamp(p: number): number {
    const s = this.text;
    const start = p;
    p = this.fieldEnd(p);
    const ts = parseIntegerMs(s, start, p);
    if (ts === undefined) {
      throw this.errorAt(start, `invalid timestamp ${JSON.stringify(s.slice(start, p))}: expected an integer of milliseconds since the epoch`);
    }
    this.timestamp = ts;
    return p;
  }

  /**
   * ` # {labels} value [timestamp]` after a sample; `p` is at "#". The text format has no place
   * for one, but some exporters write it there anyway (client libraries with exemplars switched
   * on): refusing the line would cut a bucket out of a histogram, so it is checked as strictly
   * as in OpenMetrics and then dropped, and blanks may be spaces or tabs.
   */
  protected parseExemplar(p: number): number {
    const s = this.text;
    const after = s.charCodeAt(p + 1);
    const open = after === SPACE || after === TAB ? this.skipBlanks(p + 1) : -1;
    if (open < 0 || s.charCodeAt(open) !== LBRACE) throw this.errorAt(p, 'expected "# {" to start an exemplar');
    p = this.exemplarLabels(open, undefined);
    p = this.expectSeparator(p, 'the exemplar value');
    const vStart = p;
    p = this.fieldEnd(p);
    const value = parseNumber(s, vStart, p);
    if (value === undefined || vStart === p) throw this.errorAt(vStart, `invalid exemplar value ${JSON.stringify(s.slice(vStart, p))}`);
    const tStart = this.skipBlanks(p);
    if (tStart > p && s.charCodeAt(tStart) !== NL && tStart < s.length) {
      p = this.fieldEnd(tStart);
      if (parseSecondsAsMs(s, tStart, p) === undefined) throw this.errorAt(tStart, `invalid exemplar timestamp ${JSON.stringify(s.slice(tStart, p))}`);
    }
    return p;
  }
}
