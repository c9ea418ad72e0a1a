/**
 * OpenMetrics 1.0 text, as Prometheus' `openmetricsparse` reads it, with the specification's
 * stricter grammar: exactly one space between fields, no blank or empty lines, `#` lines are
 * HELP, TYPE, UNIT or EOF only, timestamps are (fractional) seconds, escapes other than
 * \\ \" \n are errors, exemplars are kept (at most 128 characters of labels), and the page
 * must end with `# EOF` and a newline — nothing may follow it. The rules between lines
 * (`_created`, `_total`, which samples may carry exemplars) are the family collector's,
 * families.ts.
 *
 * A page read in pieces (a streamed scrape) passes `final: false` for all but the last piece,
 * so a missing `# EOF` is reported once, and `afterEof` when an earlier piece ended with it.
 */

import { Labels } from '../../model/labels.js';
import type { Exemplar } from '../../model/family.js';
import {
  CLASS,
  METRIC_START,
  Entry,
  HASH,
  isWord,
  LBRACE,
  lookupType,
  METRIC_CHAR,
  NL,
  parseNumber,
  parseSecondsAsMs,
  SPACE,
  TAB,
  unescape,
  type TypeTable,
} from './lex.js';
import { LineParser } from './line-parser.js';
import type { ParserOptions } from './parser.js';

const OPENMETRICS_TYPES: TypeTable = (['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown'] as const).map(
  (t) => [t, t] as const,
);

export class OpenMetricsParser extends LineParser {
  private eofSeen: boolean;
  private readonly final: boolean;

  constructor(text: string, opts: ParserOptions) {
    super(text, opts, true);
    this.final = opts.final ?? true;
    this.eofSeen = opts.afterEof ?? false;
  }

  override get sawEof(): boolean {
    return this.eofSeen;
  }

  protected step(): Entry {
    const s = this.text;
    const len = s.length;
    if (this.pos >= len) {
      if (!this.eofSeen && this.final) {
        this.eofSeen = true; // report the missing "# EOF" once
        this.lineNo++;
        this.lineStart = this.pos;
        throw this.errorAt(this.pos, 'expected "# EOF" at the end of an OpenMetrics page');
      }
      return Entry.End;
    }
    this.lineNo++;
    this.lineStart = this.pos;
    if (this.eofSeen) {
      // everything after "# EOF" is one error, not one per line
      const at = this.pos;
      this.pos = len;
      throw this.errorAt(at, 'unexpected content after "# EOF"');
    }
    this.quotedName = undefined;
    const c = s.charCodeAt(this.pos);
    if (c === NL) throw this.errorAt(this.pos, 'expected a metric or a # line, got an empty line');
    if (c === HASH) return this.parseComment();
    return this.parseSeries();
  }

  /** Exactly one space. */
  protected expectSeparator(p: number, what: string): number {
    if (this.text.charCodeAt(p) !== SPACE) throw this.errorAt(p, `expected a space before ${what}, got ${this.describe(p)}`);
    return p + 1;
  }

  protected optionalSeparator(p: number): number {
    return this.text.charCodeAt(p) === SPACE ? p + 1 : p;
  }

  protected trailingBlank(p: number): void {
    throw this.errorAt(p - 1, 'unexpected blank at the end of the line: a blank must be followed by a timestamp or an exemplar');
  }

  /** Ends a line at `p`: a newline, which even the last line needs. */
  protected endLine(p: number): void {
    const s = this.text;
    const c = s.charCodeAt(p);
    if (c === NL) this.pos = p + 1;
    else if (p >= s.length) throw this.errorAt(p, 'expected a newline at the end of the line');
    else throw this.errorAt(p, `expected end of line, got ${this.describe(p)}`);
  }

  // ---- # lines

  /** `# HELP`, `# TYPE`, `# UNIT` or `# EOF`; nothing else may start with "#". */
  private parseComment(): Entry {
    const s = this.text;
    let p = this.pos + 1;
    if (s.charCodeAt(p) !== SPACE) throw this.errorAt(p, 'expected a space after "#"');
    p++;
    if (s.startsWith('EOF', p)) {
      const after = p + 3;
      const c = s.charCodeAt(after);
      if (after >= s.length || (c === NL && after + 1 >= s.length)) {
        this.eofSeen = true;
        this.pos = s.length;
        return this.step();
      }
      if (c === NL) {
        this.eofSeen = true;
        this.pos = after + 1;
        return this.step();
      }
    }
    let kind: Entry;
    if (isWord(s, p, 0x48, 0x45, 0x4c, 0x50)) kind = Entry.Help;
    else if (isWord(s, p, 0x54, 0x59, 0x50, 0x45)) kind = Entry.Type;
    else if (isWord(s, p, 0x55, 0x4e, 0x49, 0x54)) kind = Entry.Unit;
    else throw this.errorAt(p, 'expected HELP, TYPE, UNIT or EOF after "# "');
    p += 4;
    const c = s.charCodeAt(p);
    if (c !== SPACE && c !== TAB) throw this.errorAt(p, `expected a space after ${kindWord(kind)}, got ${this.describe(p)}`);
    p = this.expectSeparator(p, 'the metric name');
    let le = s.indexOf('\n', p);
    if (le < 0) le = s.length;
    p = this.metaName(p, le, true);
    p = this.expectSeparator(p, kind === Entry.Help ? 'the help text' : kind === Entry.Type ? 'the type' : 'the unit');
    const end = le;
    if (end === s.length) throw this.errorAt(s.length, 'expected a newline at the end of the line');
    if (kind === Entry.Help) {
      this.helpStart = p;
      this.helpEnd = end;
      this.helpDecoded = this.backslashes.within(p, end) ? unescape(s, p, end, true, this) : undefined;
    } else {
      const word = s.slice(p, end);
      if (kind === Entry.Type) {
        const t = lookupType(word, OPENMETRICS_TYPES);
        if (t === undefined) {
          const allowed = OPENMETRICS_TYPES.map(([w]) => w).join(', ');
          throw this.errorAt(p, `invalid metric type ${JSON.stringify(word)}: expected one of ${allowed}`);
        }
        this.metaType = t;
      } else {
        for (let i = p; i < end; i++) {
          if (!(CLASS[s.charCodeAt(i)] & METRIC_CHAR) || s.charCodeAt(i) >= 128) {
            throw this.errorAt(i, `invalid unit ${JSON.stringify(word)}: expected letters, digits, "_" or ":"`);
          }
        }
        this.unitValue = word;
      }
    }
    this.pos = end + 1;
    return kind;
  }

  // ---- series lines

  /**
   * The common line — `name{a="b",...} value [timestamp]` with plain names and no escapes or
   * exemplars — taken apart with native searches. False sends the line to the exact parser,
   * which either accepts it or throws the precise error.
   */
  protected fastSeries(start: number): boolean {
    const s = this.text;
    const le = this.lineEnd;
    if (le === s.length) return false; // no newline: the exact parser says so
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
    if (s.charCodeAt(p) === LBRACE) return false; // "name {labels}": the exact parser refuses it
    sp = s.indexOf(' ', p);
    if (sp < 0 || sp > le) sp = le;
    if (sp === p) return false;
    const v = parseNumber(s, p, sp);
    if (v === undefined) return false;
    this.value = v;
    p = sp;
    if (p < le) {
      p++;
      if (p === le) return false; // a trailing blank
      if (s.charCodeAt(p) === HASH) return false; // exemplar
      sp = s.indexOf(' ', p);
      if (sp < 0 || sp > le) sp = le;
      const ts = parseSecondsAsMs(s, p, sp);
      if (ts === undefined) return false;
      this.timestamp = ts;
      if (sp !== le) return false;
    }
    this.pos = le + 1;
    return true;
  }

  /** Seconds since the epoch at `p`, possibly fractional; returns the position after them. */
  protected parseTimestamp(p: number): number {
    const s = this.text;
    const start = p;
    p = this.fieldEnd(p);
    const ts = parseSecondsAsMs(s, start, p);
    if (ts === undefined) throw this.errorAt(start, `invalid timestamp ${JSON.stringify(s.slice(start, p))}: expected seconds since the epoch`);
    this.timestamp = ts;
    return p;
  }

  /** ` # {labels} value [timestamp]` after a sample; `p` is at "#". */
  protected parseExemplar(p: number): number {
    const s = this.text;
    const open = s.charCodeAt(p + 1) === SPACE ? p + 2 : -1;
    if (open < 0 || s.charCodeAt(open) !== LBRACE) throw this.errorAt(p, 'expected "# {" to start an exemplar');
    const pairs: [string, string][] = [];
    p = this.exemplarLabels(open, pairs);
    this.checkExemplarLabelChars(pairs, open);
    p = this.expectSeparator(p, 'the exemplar value');
    const vStart = p;
    let c = s.charCodeAt(p);
    while (c !== SPACE && c !== NL && p < s.length) c = s.charCodeAt(++p);
    const value = parseNumber(s, vStart, p);
    if (value === undefined || vStart === p) throw this.errorAt(vStart, `invalid exemplar value ${JSON.stringify(s.slice(vStart, p))}`);
    let timestamp: number | undefined;
    if (c === SPACE) {
      const tStart = ++p;
      c = s.charCodeAt(p);
      while (c !== SPACE && c !== NL && p < s.length) c = s.charCodeAt(++p);
      timestamp = parseSecondsAsMs(s, tStart, p);
      if (timestamp === undefined) throw this.errorAt(tStart, `invalid exemplar timestamp ${JSON.stringify(s.slice(tStart, p))}`);
    }
    const ex: Exemplar = { labels: Labels.fromPairs(pairs), value };
    if (timestamp !== undefined) ex.timestamp = timestamp;
    this.exemplarValue = ex;
    return p;
  }
}

function kindWord(kind: Entry): string {
  return kind === Entry.Help ? 'HELP' : kind === Entry.Type ? 'TYPE' : 'UNIT';
}
