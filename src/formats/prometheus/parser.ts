/**
 * Pull parser for the Prometheus text format (0.0.4, and 1.0.0 with quoted UTF-8 names) and
 * OpenMetrics 1.0 text, in the shape of Prometheus' `model/textparse`: `next()` advances one
 * line and says what it was; accessors read the current entry. It checks syntax only — grouping
 * samples into families and the rules between lines live in `families.ts`.
 *
 * Speed: per-character JavaScript costs several nanoseconds, native string search far less, so a
 * line is first taken apart by a fast pass built on `indexOf` (line ends, `=` and quotes of
 * label pairs) that checks punctuation, values and timestamps but not the characters of names.
 * Anything unusual (quoted names, escapes, tabs, exemplars, any doubt) goes to the exact
 * character-level parser, which also produces the precise error. Name characters are checked
 * when a name is first read — `metricName()` / `labels()` — which the scrape pipeline does only
 * for series it has not seen: `seriesKey()` is the raw `name{labels}` text and serves as a
 * cache key, so a series seen in the last scrape costs one map lookup and one number parse.
 */

import { Labels, METRIC_NAME } from '../../model/labels.js';
import { MAX_EXEMPLAR_LABEL_CHARS, type Exemplar, type MetricType } from '../../model/family.js';
import type { TextFormat } from './negotiate.js';

/** What `next()` found. */
export const Entry = {
  End: 0,
  Series: 1,
  Help: 2,
  Type: 3,
  Unit: 4,
  Comment: 5,
} as const;
export type Entry = (typeof Entry)[keyof typeof Entry];

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`line ${line}, column ${column}: ${detail}`);
    this.name = 'ExpositionError';
  }
}

export interface ParserOptions {
  format: TextFormat;
  /**
   * Skip bad lines instead of throwing: each is counted in `dropped` and the first few are
   * kept in `errors`. The gateway uses this to keep a page's good lines.
   */
  lenient?: boolean;
  /**
   * For a page parsed in pieces (a streamed scrape body cut at line ends): lines before this
   * piece, so errors carry the page's line numbers.
   */
  startLine?: number;
  /** False for every piece but the last: OpenMetrics' "# EOF" may still come. Default true. */
  final?: boolean;
  /** A previous piece ended with "# EOF": anything in this one is an error. */
  afterEof?: boolean;
  /**
   * Take a series line's labels apart only when they are asked for (`labels()`, `labelName`,
   * ...). `next()` then finds the end of `name{...}` with one search and parses the value; a
   * caller that recognises `seriesKey()` from an earlier page never pays for the labels. A
   * label syntax error is then thrown by the accessor, not by `next()`. Not with `lenient`.
   */
  lazyLabels?: boolean;
}

/** Errors a lenient parser keeps verbatim; the rest are only counted. */
const MAX_KEPT_ERRORS = 10;

// Character classes for ASCII, one bit each.
const METRIC_START = 1;
const METRIC_CHAR = 2;
const LABEL_START = 4;
const LABEL_CHAR = 8;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
  const digit = c >= 0x30 && c <= 0x39;
  if (alpha || c === 0x3a) CLASS[c] |= METRIC_START | METRIC_CHAR;
  if (digit) CLASS[c] |= METRIC_CHAR | LABEL_CHAR;
  if (alpha) CLASS[c] |= LABEL_START | LABEL_CHAR;
}

const NL = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const HASH = 0x23;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const COMMA = 0x2c;
const EQUALS = 0x3d;

/** A TYPE word and what it means; in arrays, as lookups compare rather than hash (below). */
type TypeTable = readonly (readonly [word: string, type: MetricType])[];

const TEXT_TYPES: TypeTable = [
  ['counter', 'counter'],
  ['gauge', 'gauge'],
  ['histogram', 'histogram'],
  ['summary', 'summary'],
  ['untyped', 'unknown'],
];
/**
 * Map.get hashes the freshly sliced word, which costs more than comparing it with each
 * candidate (a length check rejects most at once); an indexed loop, as a for-of over a Map
 * allocates an entry per step.
 */
function lookupType(word: string, types: TypeTable): MetricType | undefined {
  for (let i = 0; i < types.length; i++) if (word === types[i][0]) return types[i][1];
  return undefined;
}

const OPENMETRICS_TYPES: TypeTable = (['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown'] as const).map(
  (t) => [t, t] as const,
);

const LABEL_SLOTS = 32;

/** Checking a long name costs less in the regex engine than in a JavaScript loop. */
const LEGACY_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export class ExpositionParser {
  private readonly text: string;
  private readonly om: boolean;
  private readonly lenient: boolean;
  private pos = 0;
  private lineNo = 0;
  private lineStart = 0;
  private eofSeen: boolean;
  private readonly final: boolean;
  /** End of the current series line (its newline, or the text length). */
  private lineEnd = 0;
  /** Rare characters whose presence sends a line to the exact parser. */
  private readonly backslashes: CharSeeker;
  private readonly tabs: CharSeeker;
  private readonly braces: CharSeeker;
  /** False while the current entry's name characters are unchecked (fast pass). */
  private namesChecked = true;
  private readonly lazyLabels: boolean;
  /** Position of the current line's "{" while its labels are not taken apart yet; -1 when they are. */
  private pendingLabels = -1;

  /** Bad lines skipped in lenient mode. */
  dropped = 0;
  /** The first bad lines' errors in lenient mode. */
  readonly errors: ExpositionError[] = [];

  // Current entry.
  private nameStart = 0;
  private nameEnd = 0;
  /** Set when the metric name was quoted (and so possibly escaped). */
  private quotedName: string | undefined;
  private seriesStart = 0;
  private seriesEnd = 0;
  private metaTextValue = '';
  private helpStart = 0;
  private helpEnd = 0;
  private helpDecoded: string | undefined;
  private metaType: MetricType = 'unknown';
  /** Per label: name start, name end, value start, value end; negative name start = quoted. */
  private labelPos = new Int32Array(LABEL_SLOTS * 4);
  private labelCount = 0;
  /** Bit i set: label i's name or value contains escapes. */
  private escapedLabels: boolean[] = [];
  private exemplarValue: Exemplar | undefined;

  value = 0;
  /** Milliseconds since the epoch, or undefined when the line has none. */
  timestamp: number | undefined = undefined;

  constructor(text: string, opts: ParserOptions) {
    this.text = text;
    this.backslashes = new CharSeeker(text, '\\');
    this.tabs = new CharSeeker(text, '\t');
    this.braces = new CharSeeker(text, '{');
    this.om = opts.format === 'openmetrics';
    this.lenient = opts.lenient ?? false;
    this.lineNo = opts.startLine ?? 0;
    this.final = opts.final ?? true;
    this.eofSeen = opts.afterEof ?? false;
    this.lazyLabels = (opts.lazyLabels ?? false) && !this.lenient;
  }

  /** Whether "# EOF" has been read (OpenMetrics). */
  get sawEof(): boolean {
    return this.eofSeen;
  }

  /** Where the current entry's line starts, for errors about the whole line. */
  get lineStartPos(): number {
    return this.lineStart;
  }

  /** The 1-based line number of the current entry. */
  get line(): number {
    return this.lineNo;
  }

  /** Advances to the next entry; `Entry.End` when the input is exhausted. */
  next(): Entry {
    if (!this.lenient) return this.step();
    for (;;) {
      try {
        return this.step();
      } catch (err) {
        if (!(err instanceof ExpositionError)) throw err;
        this.recordError(err);
        this.skipToNextLine();
      }
    }
  }

  /** Lets a consumer that rejects an entry after parsing (e.g. a family rule) count it as a lenient drop. */
  recordError(err: ExpositionError): void {
    this.dropped++;
    if (this.errors.length < MAX_KEPT_ERRORS) this.errors.push(err);
  }

  /** A parse error at `pos` on the current line. */
  errorAt(pos: number, detail: string): ExpositionError {
    return new ExpositionError(this.lineNo, pos - this.lineStart + 1, detail);
  }

  // ---- accessors: metadata entries

  /** The metric family name of a HELP/TYPE/UNIT entry, or the metric name of a series. */
  metricName(): string {
    if (this.quotedName !== undefined) return this.quotedName;
    const name = this.text.slice(this.nameStart, this.nameEnd);
    if (!this.namesChecked && !LEGACY_METRIC_NAME.test(name)) this.checkMetricNameChars(this.nameStart, this.nameEnd);
    return name;
  }

  help(): string {
    if (this.helpDecoded === undefined) this.helpDecoded = this.text.slice(this.helpStart, this.helpEnd);
    return this.helpDecoded;
  }

  unit(): string {
    return this.metaTextValue;
  }

  type(): MetricType {
    return this.metaType;
  }

  // ---- accessors: series entries

  /**
   * The series exactly as written, `name{labels}`: equal keys mean equal series (the converse
   * does not hold: spacing and label order may differ), so it serves as a cache key.
   */
  seriesKey(): string {
    return this.text.slice(this.seriesStart, this.seriesEnd);
  }

  /** The series' label set, `__name__` included, sorted. */
  labels(): Labels {
    if (this.pendingLabels >= 0) this.takeLabelsApart();
    const n = this.labelCount;
    const check = !this.namesChecked;
    // One array, sorted in place by pairs: label sets are short and usually sorted already.
    const kv = new Array<string>((n + 1) * 2);
    kv[0] = METRIC_NAME;
    kv[1] = this.metricName();
    let len = 2;
    let empty = 0;
    for (let i = 0; i < n; i++) {
      if (check) this.checkLabelName(i);
      const v = this.labelValue(i);
      if (v === '') empty++;
      const name = this.labelName(i);
      let j = len;
      while (j > 0 && kv[j - 2] > name) {
        kv[j] = kv[j - 2];
        kv[j + 1] = kv[j - 1];
        j -= 2;
      }
      // an empty value still counts for duplicates: a{b="",b="x"} is an error
      if (check && j > 0 && kv[j - 2] === name) this.duplicateLabel(name);
      kv[j] = name;
      kv[j + 1] = v;
      len += 2;
    }
    if (empty > 0) {
      // an empty value is the same as no label
      let w = 0;
      for (let r = 0; r < len; r += 2) {
        if (kv[r + 1] === '') continue;
        kv[w] = kv[r];
        kv[w + 1] = kv[r + 1];
        w += 2;
      }
      len = w;
    }
    if (len !== kv.length) kv.length = len;
    return Labels.fromSortedFlat(kv);
  }

  /** Number of labels written on the line (the metric name not counted). */
  get labelsWritten(): number {
    if (this.pendingLabels >= 0) this.takeLabelsApart();
    return this.labelCount;
  }

  labelName(i: number): string {
    if (this.pendingLabels >= 0) this.takeLabelsApart();
    const p = this.labelPos;
    const start = p[i * 4];
    if (start < 0) return unescapeQuoted(this.text, -start - 1, p[i * 4 + 1]);
    return this.text.slice(start, p[i * 4 + 1]);
  }

  labelValue(i: number): string {
    if (this.pendingLabels >= 0) this.takeLabelsApart();
    const p = this.labelPos;
    const start = p[i * 4 + 2];
    const end = p[i * 4 + 3];
    return this.escapedLabels[i] ? unescapeQuoted(this.text, start, end) : this.text.slice(start, end);
  }

  exemplar(): Exemplar | undefined {
    return this.exemplarValue;
  }

  // ---- lines

  private step(): Entry {
    const s = this.text;
    const len = s.length;
    for (;;) {
      if (this.pos >= len) {
        if (this.om && !this.eofSeen && this.final) {
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
      let c = s.charCodeAt(this.pos);
      if (c === NL) {
        if (this.om) throw this.errorAt(this.pos, 'expected a metric or a # line, got an empty line');
        this.pos++;
        continue;
      }
      if (!this.om && (c === SPACE || c === TAB)) {
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

  private skipToNextLine(): void {
    const nl = this.text.indexOf('\n', this.pos);
    this.pos = nl < 0 ? this.text.length : nl + 1;
  }

  private skipBlanks(p: number): number {
    const s = this.text;
    let c = s.charCodeAt(p);
    while (c === SPACE || c === TAB) c = s.charCodeAt(++p);
    return p;
  }

  /** A bare metric name at `p` (first character already checked); returns its end. */
  private scanBareName(p: number): number {
    const s = this.text;
    let q = p + 1;
    let d = s.charCodeAt(q);
    while (d < 128 && CLASS[d] & METRIC_CHAR) d = s.charCodeAt(++q);
    return q;
  }

  /** One separator: exactly one space in OpenMetrics, spaces or tabs in the text format. */
  private expectSeparator(p: number, what: string): number {
    const c = this.text.charCodeAt(p);
    if (this.om) {
      if (c !== SPACE) throw this.errorAt(p, `expected a space before ${what}, got ${this.describe(p)}`);
      return p + 1;
    }
    if (c !== SPACE && c !== TAB) throw this.errorAt(p, `expected a space before ${what}, got ${this.describe(p)}`);
    return this.skipBlanks(p);
  }

  /** Ends a line at `p`: a newline (or the end of input, in the text format). */
  private endLine(p: number): void {
    const s = this.text;
    if (!this.om) p = this.skipBlanks(p);
    const c = s.charCodeAt(p);
    if (c === NL) {
      this.pos = p + 1;
    } else if (p >= s.length && !this.om) {
      this.pos = p;
    } else if (p >= s.length) {
      throw this.errorAt(p, 'expected a newline at the end of the line');
    } else {
      throw this.errorAt(p, `expected end of line, got ${this.describe(p)}`);
    }
  }

  private describe(p: number): string {
    if (p >= this.text.length) return 'end of input';
    const c = this.text.charCodeAt(p);
    if (c === NL) return 'end of line';
    if (c === TAB) return 'a tab';
    return JSON.stringify(String.fromCodePoint(this.text.codePointAt(p) ?? c));
  }

  // ---- # lines

  private parseComment(): Entry {
    const s = this.text;
    let p = this.pos + 1;
    if (this.om) {
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
    } else {
      const c = s.charCodeAt(p);
      if (c !== SPACE && c !== TAB) return this.plainComment();
      p = this.skipBlanks(p);
    }
    let kind: Entry;
    if (isWord(s, p, 0x48, 0x45, 0x4c, 0x50)) kind = Entry.Help;
    else if (isWord(s, p, 0x54, 0x59, 0x50, 0x45)) kind = Entry.Type;
    else if (this.om && isWord(s, p, 0x55, 0x4e, 0x49, 0x54)) kind = Entry.Unit;
    else if (this.om) throw this.errorAt(p, 'expected HELP, TYPE, UNIT or EOF after "# "');
    else return this.plainComment();
    p += 4;
    const c = s.charCodeAt(p);
    if (c !== SPACE && c !== TAB) {
      if (this.om) throw this.errorAt(p, `expected a space after ${kindWord(kind)}, got ${this.describe(p)}`);
      return this.plainComment(); // "# HELPFUL text" is an ordinary comment
    }
    p = this.expectSeparator(p, 'the metric name');
    let le = s.indexOf('\n', p);
    if (le < 0) le = s.length;
    const c1 = s.charCodeAt(p);
    if (c1 < 128 && CLASS[c1] & METRIC_START && (this.om || !this.tabs.within(p, le))) {
      // fast: the name runs to the next space; its characters are checked when it is read
      let sp = s.indexOf(' ', p);
      if (sp < 0 || sp > le) sp = le;
      this.nameStart = p;
      this.nameEnd = sp;
      this.namesChecked = false;
      p = sp;
    } else {
      p = this.parseMetricName(p, 'a metric name');
      this.namesChecked = true;
    }
    this.seriesStart = this.nameStart;
    const sep = s.charCodeAt(p);
    if (kind === Entry.Help && !this.om && (sep === NL || p >= s.length)) {
      // "# HELP name" with no text: an empty help string
      this.helpDecoded = '';
      this.endLine(p);
      return kind;
    }
    p = this.expectSeparator(p, kind === Entry.Help ? 'the help text' : kind === Entry.Type ? 'the type' : 'the unit');
    const end = le;
    if (end === s.length && this.om) throw this.errorAt(s.length, 'expected a newline at the end of the line');
    if (kind === Entry.Help) {
      this.helpStart = p;
      this.helpEnd = end;
      this.helpDecoded = this.backslashes.within(p, end) ? unescape(s, p, end, this.om, this.om ? this : undefined) : undefined;
    } else {
      let textEnd = end;
      if (!this.om) while (textEnd > p && (s.charCodeAt(textEnd - 1) === SPACE || s.charCodeAt(textEnd - 1) === TAB)) textEnd--;
      const word = s.slice(p, textEnd);
      if (kind === Entry.Type) {
        const types = this.om ? OPENMETRICS_TYPES : TEXT_TYPES;
        const t = lookupType(word, types);
        if (t === undefined) {
          const allowed = types.map(([w]) => w).join(', ');
          throw this.errorAt(p, `invalid metric type ${JSON.stringify(word)}: expected one of ${allowed}`);
        }
        this.metaType = t;
      } else {
        for (let i = p; i < textEnd; i++) {
          if (!(CLASS[s.charCodeAt(i)] & METRIC_CHAR) || s.charCodeAt(i) >= 128) {
            throw this.errorAt(i, `invalid unit ${JSON.stringify(word)}: expected letters, digits, "_" or ":"`);
          }
        }
        this.metaTextValue = word;
      }
    }
    this.pos = end + 1;
    return kind;
  }

  private plainComment(): Entry {
    this.skipToNextLine();
    return Entry.Comment;
  }

  /** A bare or quoted metric name at `p`; returns the position after it. */
  private parseMetricName(p: number, what: string): number {
    const s = this.text;
    const c = s.charCodeAt(p);
    if (c === QUOTE) {
      const end = this.scanQuoted(p);
      this.nameStart = p;
      this.nameEnd = end + 1;
      this.quotedName = this.decodeQuotedName(p + 1, end);
      return end + 1;
    }
    if (c >= 128 || !(CLASS[c] & METRIC_START)) throw this.errorAt(p, `expected ${what}, got ${this.describe(p)}`);
    const q = this.scanBareName(p);
    this.nameStart = p;
    this.nameEnd = q;
    return q;
  }

  private decodeQuotedName(start: number, end: number): string {
    const name = unescapeQuoted(this.text, start, end);
    if (name === '') throw this.errorAt(start - 1, 'a quoted name must not be empty');
    return name;
  }

  /**
   * Finds the closing quote of the string opening at `open`; returns its position. Rejects
   * newlines inside and, in OpenMetrics, escapes other than \\ \" \n.
   */
  private scanQuoted(open: number): number {
    const s = this.text;
    let p = open + 1;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === QUOTE) return p;
      if (c === BACKSLASH) {
        const e = s.charCodeAt(p + 1);
        if (this.om && e !== BACKSLASH && e !== QUOTE && e !== 0x6e) {
          throw this.errorAt(p, `invalid escape sequence "\\${s[p + 1] ?? ''}": expected \\\\, \\" or \\n`);
        }
        if (e === NL || p + 1 >= s.length) break;
        p += 2;
        continue;
      }
      if (c === NL || p >= s.length) break;
      p++;
    }
    throw this.errorAt(p, 'unterminated quoted string: expected a closing \'"\' before the end of the line');
  }

  // ---- series lines

  private parseSeries(): Entry {
    const s = this.text;
    const p = this.pos;
    const le = s.indexOf('\n', p);
    this.lineEnd = le < 0 ? s.length : le;
    this.seriesStart = p;
    this.labelCount = 0;
    this.pendingLabels = -1;
    this.exemplarValue = undefined;
    this.timestamp = undefined;
    if (this.fastSeries(p)) {
      this.namesChecked = false;
      return Entry.Series;
    }
    this.labelCount = 0;
    this.pendingLabels = -1;
    this.timestamp = undefined;
    this.namesChecked = true;
    return this.parseSeriesExact(p);
  }

  /**
   * The common line — `name{a="b",...} value [timestamp]` with plain names and no escapes,
   * tabs or exemplars — taken apart with native searches. False sends the line to the exact
   * parser, which either accepts it or throws the precise error.
   */
  private fastSeries(start: number): boolean {
    const s = this.text;
    const om = this.om;
    const le = this.lineEnd;
    const c = s.charCodeAt(start);
    if (c >= 128 || !(CLASS[c] & METRIC_START)) return false;
    if (!om && this.tabs.within(start, le)) return false;
    let sp = s.indexOf(' ', start);
    if (sp < 0 || sp > le) return false;
    const br = this.braces.from(start);
    let p: number;
    if (br < sp) {
      this.nameStart = start;
      this.nameEnd = br;
      if (this.lazyLabels) {
        // the label set ends at the first '"}' (or is "{}"); whether that is its real end is
        // settled when the labels are taken apart — or never, for a key seen before, since a
        // line whose value parses after such a key can only be that key's series
        const q = s.indexOf('"}', br);
        if (q >= 0 && q < le) {
          p = q + 2;
          this.pendingLabels = br;
        } else {
          // "{}", a trailing comma, or no label set closed on this line: no shortcut
          p = this.fastLabels(br);
          if (p < 0) return false;
        }
      } else {
        p = this.fastLabels(br);
        if (p < 0) return false;
      }
    } else {
      this.nameStart = start;
      this.nameEnd = sp;
      p = sp;
    }
    this.seriesEnd = p;
    if (s.charCodeAt(p) !== SPACE) return false;
    p++;
    if (!om) while (s.charCodeAt(p) === SPACE) p++;
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
      if (!om) while (s.charCodeAt(p) === SPACE) p++;
      if (p < le) {
        if (s.charCodeAt(p) === HASH) return false; // exemplar
        sp = s.indexOf(' ', p);
        if (sp < 0 || sp > le) sp = le;
        const ts = om ? parseSecondsAsMs(s, p, sp) : parseIntegerMs(s, p, sp);
        if (ts === undefined) return false;
        this.timestamp = ts;
        p = sp;
        if (!om) while (s.charCodeAt(p) === SPACE) p++;
        if (p !== le) return false;
      } else if (om) return false;
    }
    if (le === s.length) {
      if (om) return false;
      this.pos = le;
    } else {
      this.pos = le + 1;
    }
    return true;
  }

  /**
   * Takes the current line's labels apart (lazy mode). When the quick pass disagrees with the
   * end `next()` assumed, the exact parser reads the whole line again: it either finds the same
   * series (escapes, odd spacing) or throws the line's precise error.
   */
  private takeLabelsApart(): void {
    const open = this.pendingLabels;
    this.pendingLabels = -1;
    const end = this.fastLabels(open);
    if (end === this.seriesEnd) return;
    const resume = this.pos;
    const value = this.value;
    const ts = this.timestamp;
    this.labelCount = 0;
    this.namesChecked = true;
    this.parseSeriesExact(this.seriesStart);
    if (this.pos !== resume || this.value !== value || this.timestamp !== ts) {
      // cannot happen for a line next() accepted; guards the reader's position all the same
      throw this.errorAt(this.seriesStart, 'inconsistent series line');
    }
  }

  /** Label pairs from "{" at `open` with native searches; -1 when the exact parser must look. */
  private fastLabels(open: number): number {
    const s = this.text;
    const le = this.lineEnd;
    let p = open + 1;
    let n = 0;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === RBRACE) {
        if (n > 0 && this.om) return -1;
        p++;
        break;
      }
      if (c === QUOTE || c === SPACE) return -1;
      const eq = s.indexOf('=', p);
      if (eq < 0 || eq > le || s.charCodeAt(eq + 1) !== QUOTE) return -1;
      const before = s.charCodeAt(eq - 1);
      if (before === SPACE || before === TAB) return -1;
      const vs = eq + 2;
      const q = s.indexOf('"', vs);
      if (q < 0 || q > le || this.backslashes.within(vs, q)) return -1;
      if ((n + 1) * 4 > this.labelPos.length) this.growLabels();
      const lp = this.labelPos;
      const base = n * 4;
      lp[base] = p;
      lp[base + 1] = eq;
      lp[base + 2] = vs;
      lp[base + 3] = q;
      this.escapedLabels[n] = false;
      n++;
      const d = s.charCodeAt(q + 1);
      p = q + 2;
      if (d === COMMA) continue;
      if (d === RBRACE) break;
      return -1;
    }
    this.labelCount = n;
    return p;
  }

  /** Checks a label name the fast pass took without looking at its characters. */
  private checkLabelName(i: number): void {
    const s = this.text;
    const start = this.labelPos[i * 4];
    const end = this.labelPos[i * 4 + 1];
    if (start < 0) return; // quoted: the exact parser checked it
    const c = s.charCodeAt(start);
    if (c >= 128 || !(CLASS[c] & LABEL_START)) throw this.errorAt(start, `expected a label name, got ${this.describe(start)}`);
    for (let q = start + 1; q < end; q++) {
      const d = s.charCodeAt(q);
      if (d >= 128 || !(CLASS[d] & LABEL_CHAR)) {
        // the exact parser skips the blanks the text format allows, then expects "="
        const at = !this.om && (d === SPACE || d === TAB) ? this.skipBlanks(q) : q;
        throw this.errorAt(at, `expected "=" after label name, got ${this.describe(at)}`);
      }
    }
    if (end - start === 8 && s.startsWith(METRIC_NAME, start)) {
      throw this.errorAt(start, 'label "__name__" must not be set in the labels; write the metric name instead');
    }
  }

  /** Reports a repeated label name at its second occurrence on the line. */
  private duplicateLabel(name: string): never {
    let seen = 0;
    for (let k = 0; k < this.labelCount; k++) {
      if (this.labelName(k) === name && ++seen === 2) {
        throw this.errorAt(this.labelPos[k * 4], `duplicate label name ${JSON.stringify(name)}`);
      }
    }
    throw this.errorAt(this.seriesStart, `duplicate label name ${JSON.stringify(name)}`);
  }

  /** Throws the precise error for a metric name that failed the quick check. */
  private checkMetricNameChars(start: number, end: number): void {
    const s = this.text;
    const c = s.charCodeAt(start);
    if (c >= 128 || !(CLASS[c] & METRIC_START)) throw this.errorAt(start, `expected a metric name, got ${this.describe(start)}`);
    for (let q = start + 1; q < end; q++) {
      const d = s.charCodeAt(q);
      if (d >= 128 || !(CLASS[d] & METRIC_CHAR)) {
        throw this.errorAt(q, `invalid character ${this.describe(q)} in metric name`);
      }
    }
  }

  private parseSeriesExact(start: number): Entry {
    const s = this.text;
    let p = start;
    const c = s.charCodeAt(p);
    if (c === LBRACE) {
      this.nameStart = this.nameEnd = p;
      p = this.parseLabels(p, true);
      if (this.quotedName === undefined) throw this.errorAt(this.pos, 'expected a metric name before the labels');
    } else {
      if (c === QUOTE) throw this.errorAt(p, 'a quoted metric name must stand inside the braces: {"name", ...}');
      p = this.parseMetricName(p, 'a metric name, "#" or an empty line');
      const brace = this.om ? p : this.skipBlanks(p);
      if (s.charCodeAt(brace) === LBRACE) p = this.parseLabels(brace, false);
    }
    this.seriesEnd = p;
    p = this.expectSeparator(p, 'the value');
    p = this.parseValueField(p);
    const c2 = s.charCodeAt(p);
    if (c2 === NL || p >= s.length) {
      this.endLine(p);
      return Entry.Series;
    }
    p = this.expectSeparator(p, 'the timestamp');
    const c3 = s.charCodeAt(p);
    if (this.om && (c3 === NL || p >= s.length)) throw this.errorAt(p - 1, 'unexpected blank at the end of the line: a blank must be followed by a timestamp or an exemplar');
    if (c3 === HASH) {
      p = this.parseExemplar(p);
    } else if (c3 !== NL && p < s.length) {
      p = this.parseTimestamp(p);
      if (this.om) {
        if (s.charCodeAt(p) === SPACE && s.charCodeAt(p + 1) === HASH) p = this.parseExemplar(p + 1);
      } else {
        const q = this.skipBlanks(p);
        if (q > p && s.charCodeAt(q) === HASH) p = this.parseExemplar(q);
      }
    }
    this.endLine(p);
    return Entry.Series;
  }

  /**
   * Labels from `{` at `open` to `}`; returns the position after `}`. With `nameInside`, the
   * first item may be a quoted metric name (`{"my.metric", a="b"}`).
   */
  private parseLabels(open: number, nameInside: boolean): number {
    const s = this.text;
    const om = this.om;
    let p = open + 1;
    let n = 0;
    let first = true;
    for (;;) {
      if (!om) p = this.skipBlanks(p);
      let c = s.charCodeAt(p);
      if (c === RBRACE) {
        if (om && !first) throw this.errorAt(p, 'expected a label name after ",", got "}"');
        p++;
        break;
      }
      // label name
      let nameStart: number;
      let nameEnd: number;
      let quoted = false;
      if (c === QUOTE) {
        const close = this.scanQuoted(p);
        nameStart = p + 1;
        nameEnd = close;
        quoted = true;
        p = close + 1;
        const after = om ? p : this.skipBlanks(p);
        const a = s.charCodeAt(after);
        if (a !== EQUALS) {
          // a quoted string without "=" is the metric name, allowed once, first
          if (!nameInside || !first || this.quotedName !== undefined) {
            throw this.errorAt(after, `expected "=" after label name, got ${this.describe(after)}`);
          }
          this.quotedName = this.decodeQuotedName(nameStart, nameEnd);
          this.nameStart = nameStart - 1;
          this.nameEnd = close + 1;
          p = after;
          first = false;
          c = s.charCodeAt(p);
          if (c === COMMA) {
            p++;
            continue;
          }
          if (c === RBRACE) {
            p++;
            break;
          }
          throw this.errorAt(p, `expected "," or "}" after the metric name, got ${this.describe(p)}`);
        }
        if (unescapeQuoted(s, nameStart, nameEnd) === '') throw this.errorAt(nameStart - 1, 'a label name must not be empty');
      } else {
        if (c >= 128 || !(CLASS[c] & LABEL_START)) {
          throw this.errorAt(p, `expected a label name or "}", got ${this.describe(p)}`);
        }
        nameStart = p;
        let d = s.charCodeAt(++p);
        while (d < 128 && CLASS[d] & LABEL_CHAR) d = s.charCodeAt(++p);
        nameEnd = p;
      }
      first = false;
      if (!om) p = this.skipBlanks(p);
      if (s.charCodeAt(p) !== EQUALS) throw this.errorAt(p, `expected "=" after label name, got ${this.describe(p)}`);
      p++;
      if (!om) p = this.skipBlanks(p);
      if (s.charCodeAt(p) !== QUOTE) throw this.errorAt(p, `expected '"' to open the label value, got ${this.describe(p)}`);
      // label value: scan to the closing quote, noting escapes
      const valueStart = p + 1;
      let q = s.indexOf('"', valueStart);
      if (q < 0) q = s.length;
      let escaped = false;
      if (this.backslashes.within(valueStart, q)) {
        escaped = true;
        q = this.scanQuoted(p);
      } else if (q >= this.lineEnd) {
        throw this.errorAt(this.lineEnd, 'unterminated label value: expected a closing \'"\' before the end of the line');
      }
      if ((n + 1) * 4 > this.labelPos.length) this.growLabels();
      const lp = this.labelPos;
      const base = n * 4;
      lp[base] = quoted ? -nameStart - 1 : nameStart;
      lp[base + 1] = nameEnd;
      lp[base + 2] = valueStart;
      lp[base + 3] = q;
      this.escapedLabels[n] = escaped;
      this.checkDuplicateLabel(n, nameStart, nameEnd, quoted);
      n++;
      this.labelCount = n;
      p = q + 1;
      if (!om) p = this.skipBlanks(p);
      c = s.charCodeAt(p);
      if (c === COMMA) {
        p++;
        continue;
      }
      if (c === RBRACE) {
        p++;
        break;
      }
      throw this.errorAt(p, `expected "," or "}" after label value, got ${this.describe(p)}`);
    }
    this.labelCount = n;
    return p;
  }

  private growLabels(): void {
    const bigger = new Int32Array(this.labelPos.length * 2);
    bigger.set(this.labelPos);
    this.labelPos = bigger;
  }

  /** Rejects `__name__` and repeated names; bare names are compared in place, without slicing. */
  private checkDuplicateLabel(n: number, start: number, end: number, quoted: boolean): void {
    const s = this.text;
    const name = quoted ? unescapeQuoted(s, start, end) : undefined;
    const isMetricName = name === undefined ? end - start === 8 && s.startsWith(METRIC_NAME, start) : name === METRIC_NAME;
    if (isMetricName) {
      throw this.errorAt(start, 'label "__name__" must not be set in the labels; write the metric name instead');
    }
    const lp = this.labelPos;
    const len = end - start;
    for (let i = 0; i < n; i++) {
      const os = lp[i * 4];
      let same: boolean;
      if (os < 0 || name !== undefined) {
        same = this.labelName(i) === (name ?? s.slice(start, end));
      } else {
        same = lp[i * 4 + 1] - os === len;
        for (let k = 0; same && k < len; k++) same = s.charCodeAt(os + k) === s.charCodeAt(start + k);
      }
      if (same) throw this.errorAt(start, `duplicate label name ${JSON.stringify(name ?? s.slice(start, end))}`);
    }
  }

  private parseValueField(p: number): number {
    const s = this.text;
    const start = p;
    let c = s.charCodeAt(p);
    while (c !== SPACE && c !== NL && c !== TAB && p < s.length) c = s.charCodeAt(++p);
    if (p === start) throw this.errorAt(p, `expected a value, got ${this.describe(p)}`);
    const v = parseNumber(s, start, p);
    if (v === undefined) throw this.errorAt(start, `invalid value ${JSON.stringify(s.slice(start, p))}: expected a number, NaN, +Inf or -Inf`);
    this.value = v;
    return p;
  }

  private parseTimestamp(p: number): number {
    const s = this.text;
    const start = p;
    let c = s.charCodeAt(p);
    while (c !== SPACE && c !== NL && c !== TAB && p < s.length) c = s.charCodeAt(++p);
    const ts = this.om ? parseSecondsAsMs(s, start, p) : parseIntegerMs(s, start, p);
    if (ts === undefined) {
      const expected = this.om ? 'seconds since the epoch' : 'an integer of milliseconds since the epoch';
      throw this.errorAt(start, `invalid timestamp ${JSON.stringify(s.slice(start, p))}: expected ${expected}`);
    }
    this.timestamp = ts;
    return p;
  }

  /**
   * ` # {labels} value [timestamp]` after a sample; `p` is at "#". OpenMetrics keeps it. The
   * text format has no place for one, but some exporters write it there anyway (client
   * libraries with exemplars switched on): refusing the line would cut a bucket out of a
   * histogram, so it is checked as strictly and then dropped, and blanks may be spaces or tabs.
   */
  private parseExemplar(p: number): number {
    const s = this.text;
    const om = this.om;
    const after = s.charCodeAt(p + 1);
    let open = -1;
    if (after === SPACE) open = om ? p + 2 : this.skipBlanks(p + 1);
    else if (after === TAB && !om) open = this.skipBlanks(p + 1);
    if (open < 0 || s.charCodeAt(open) !== LBRACE) throw this.errorAt(p, 'expected "# {" to start an exemplar');
    // Labels of the exemplar reuse the label scanner: save and restore the series' labels.
    const savedPos = this.labelPos.slice(0, this.labelCount * 4);
    const savedEsc = this.escapedLabels.slice(0, this.labelCount);
    const savedCount = this.labelCount;
    const savedName = this.quotedName;
    p = this.parseLabels(open, false);
    // the 128-character cap guards what is stored; a text-format exemplar is not
    const pairs: [string, string][] = [];
    if (om) {
      let chars = 0;
      for (let i = 0; i < this.labelCount; i++) {
        const n = this.labelName(i);
        const v = this.labelValue(i);
        chars += [...n].length + [...v].length;
        pairs.push([n, v]);
      }
      if (chars > MAX_EXEMPLAR_LABEL_CHARS) {
        throw this.errorAt(open, `exemplar labels have ${chars} characters, more than the ${MAX_EXEMPLAR_LABEL_CHARS} allowed`);
      }
    }
    this.labelPos.set(savedPos);
    this.escapedLabels = savedEsc;
    this.labelCount = savedCount;
    this.quotedName = savedName;
    p = this.expectSeparator(p, 'the exemplar value');
    const vStart = p;
    let c = s.charCodeAt(p);
    while (c !== SPACE && c !== NL && (om || c !== TAB) && p < s.length) c = s.charCodeAt(++p);
    const value = parseNumber(s, vStart, p);
    if (value === undefined || vStart === p) throw this.errorAt(vStart, `invalid exemplar value ${JSON.stringify(s.slice(vStart, p))}`);
    let timestamp: number | undefined;
    const tStart = om ? (c === SPACE ? p + 1 : -1) : this.skipBlanks(p);
    if (tStart > p && (om || (s.charCodeAt(tStart) !== NL && tStart < s.length))) {
      p = tStart;
      c = s.charCodeAt(p);
      while (c !== SPACE && c !== NL && (om || c !== TAB) && p < s.length) c = s.charCodeAt(++p);
      timestamp = parseSecondsAsMs(s, tStart, p);
      if (timestamp === undefined) throw this.errorAt(tStart, `invalid exemplar timestamp ${JSON.stringify(s.slice(tStart, p))}`);
    }
    if (!om) return p;
    const ex: Exemplar = { labels: Labels.fromPairs(pairs), value };
    if (timestamp !== undefined) ex.timestamp = timestamp;
    this.exemplarValue = ex;
    return p;
  }
}

function kindWord(kind: Entry): string {
  return kind === Entry.Help ? 'HELP' : kind === Entry.Type ? 'TYPE' : 'UNIT';
}

/**
 * Finds a character's next occurrence at or after a position, for positions that only move
 * forward: each query resumes where the last search stopped, so the whole text is searched
 * once however many lines ask.
 */
class CharSeeker {
  private next = -1;
  constructor(
    private readonly text: string,
    private readonly char: string,
  ) {}

  /** Position of the next occurrence at or after `start`; the text length when none. */
  from(start: number): number {
    if (this.next < start) {
      const found = this.text.indexOf(this.char, start);
      this.next = found < 0 ? this.text.length : found;
    }
    return this.next;
  }

  within(start: number, end: number): boolean {
    return this.from(start) < end;
  }
}

/**
 * Unescapes \\, \n and (where `quotes`) \" in s[start, end). Other escapes are an error when
 * `strict` (OpenMetrics) and otherwise kept verbatim, as Prometheus keeps them.
 */
function unescape(s: string, start: number, end: number, quotes: boolean, strict?: ExpositionParser): string {
  const raw = s.slice(start, end);
  if (raw.indexOf('\\') < 0) return raw;
  let out = '';
  let last = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw.charCodeAt(i) !== BACKSLASH) continue;
    const e = raw[i + 1];
    const rep = e === 'n' ? '\n' : e === '\\' ? '\\' : quotes && e === '"' ? '"' : undefined;
    if (rep !== undefined) {
      out += raw.slice(last, i) + rep;
      last = i + 2;
    } else if (strict) {
      throw strict.errorAt(start + i, `invalid escape sequence "\\${e ?? ''}": expected \\\\, \\" or \\n`);
    }
    i++;
  }
  return out + raw.slice(last);
}

/** A quoted string's body; its escapes were checked when it was scanned. */
function unescapeQuoted(s: string, start: number, end: number): string {
  return unescape(s, start, end, true);
}

/**
 * A sample value: decimal (with exponent), NaN, Inf, +Inf, -Inf (any case, as Go's ParseFloat
 * takes them). Integers of up to 15 digits are summed exactly without a string; everything
 * else goes through the engine's correctly rounded conversion.
 */
export function parseNumber(s: string, start: number, end: number): number | undefined {
  let p = start;
  let neg = false;
  const signed = s.charCodeAt(p) === 0x2d || s.charCodeAt(p) === 0x2b;
  if (signed) {
    neg = s.charCodeAt(p) === 0x2d;
    p++;
  }
  if (end - p <= 15 && end > p) {
    let v = 0;
    let q = p;
    for (; q < end; q++) {
      const d = s.charCodeAt(q) - 0x30;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (q === end) return neg ? -v : v;
  }
  // Non-integers: validate the alphabet first, because Number() also takes "0x1f", " 1", "".
  let sawDigit = false;
  for (let q = p; q < end; q++) {
    const d = s.charCodeAt(q);
    if (d >= 0x30 && d <= 0x39) sawDigit = true;
    else if (d !== 0x2e && d !== 0x65 && d !== 0x45 && d !== 0x2b && d !== 0x2d) {
      return parseSpecial(s.slice(p, end).toLowerCase(), neg, signed);
    }
  }
  if (!sawDigit) return undefined;
  const fast = parseSimpleDecimal(s, p, end);
  if (fast === fast) return neg ? -fast : fast; // not NaN: the exact fast path applied
  const v = Number(s.slice(start, end));
  // a numeral out of float64 range (1e400) is an error, as in Go's ParseFloat; Inf is spelt out
  return Number.isFinite(v) ? v : undefined;
}

/** Exact powers of ten as doubles: 10^0 … 10^22. */
const POW10 = Array.from({ length: 23 }, (_, i) => Number('1e' + i));

/**
 * Unsigned `digits[.digits][e[+-]digits]` with at most 15 significant digits and a decimal
 * exponent within ±22: both the mantissa and the power of ten are exact doubles, so one
 * multiplication or division is correctly rounded (Clinger's fast path), the same result
 * `Number()` gives without building a string. NaN when the input is outside that case.
 */
function parseSimpleDecimal(s: string, p: number, end: number): number {
  let mantissa = 0;
  /** Significant digits (leading zeros not counted) and all digits written. */
  let digits = 0;
  let written = 0;
  let exp = 0;
  let dot = false;
  let c = 0;
  for (; p < end; p++) {
    c = s.charCodeAt(p);
    if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 || c !== 0x30) digits++;
      written++;
      mantissa = mantissa * 10 + (c - 0x30);
      if (dot) exp--;
    } else if (c === 0x2e && !dot) {
      dot = true;
    } else break;
  }
  if (digits > 15 || written === 0) return NaN;
  if (p < end) {
    if (c !== 0x65 && c !== 0x45) return NaN;
    p++;
    let eneg = false;
    c = s.charCodeAt(p);
    if (c === 0x2b || c === 0x2d) {
      eneg = c === 0x2d;
      p++;
    }
    if (p === end || end - p > 3) return NaN;
    let e = 0;
    for (; p < end; p++) {
      c = s.charCodeAt(p) - 0x30;
      if (c < 0 || c > 9) return NaN;
      e = e * 10 + c;
    }
    exp += eneg ? -e : e;
  }
  if (exp >= 0) return exp <= 22 ? mantissa * POW10[exp] : NaN;
  return exp >= -22 ? mantissa / POW10[-exp] : NaN;
}

function parseSpecial(word: string, neg: boolean, signed: boolean): number | undefined {
  if (word === 'inf' || word === 'infinity') return neg ? -Infinity : Infinity;
  if (word === 'nan' && !signed) return NaN;
  return undefined;
}

/** The text format's timestamp: an integer of milliseconds. */
export function parseIntegerMs(s: string, start: number, end: number): number | undefined {
  let p = start;
  const neg = s.charCodeAt(p) === 0x2d;
  if (neg) p++;
  if (p === end) return undefined;
  let v = 0;
  for (; p < end; p++) {
    const d = s.charCodeAt(p) - 0x30;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  if (!Number.isSafeInteger(v)) return undefined;
  return neg ? -v : v;
}

/**
 * OpenMetrics' timestamp: seconds, possibly fractional, converted to milliseconds exactly from
 * the decimal digits (not through a float multiplication that could land on ...788.9999).
 * Digits below the millisecond are truncated.
 */
export function parseSecondsAsMs(s: string, start: number, end: number): number | undefined {
  let p = start;
  let neg = false;
  const c = s.charCodeAt(p);
  if (c === 0x2d || c === 0x2b) {
    neg = c === 0x2d;
    p++;
  }
  let whole = 0;
  let digits = 0;
  for (; p < end; p++) {
    const d = s.charCodeAt(p) - 0x30;
    if (d < 0 || d > 9) break;
    whole = whole * 10 + d;
    digits++;
  }
  let frac = 0;
  if (p < end && s.charCodeAt(p) === 0x2e) {
    p++;
    let scale = 100;
    for (; p < end; p++) {
      const d = s.charCodeAt(p) - 0x30;
      if (d < 0 || d > 9) break;
      frac += d * scale;
      scale /= 10;
      digits++;
    }
    frac = Math.floor(frac);
  }
  if (p === end && digits > 0) {
    const ms = whole * 1000 + frac;
    if (!Number.isSafeInteger(ms)) return undefined;
    return neg ? -ms : ms;
  }
  // exponent notation and the like
  const v = parseNumber(s, start, end);
  if (v === undefined || !Number.isFinite(v)) return undefined;
  const ms = Math.round(v * 1000);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

function isWord(s: string, p: number, a: number, b: number, c: number, d: number): boolean {
  return s.charCodeAt(p) === a && s.charCodeAt(p + 1) === b && s.charCodeAt(p + 2) === c && s.charCodeAt(p + 3) === d;
}
