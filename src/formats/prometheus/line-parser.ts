/**
 * What the text and OpenMetrics parsers share above the characters: the current entry and its
 * accessors, the lenient loop, and the label set `{name="value",...}` — its fast pass built on
 * native searches, the exact scanner, lazy decoding, quoted (UTF-8) names and the duplicate
 * and `__name__` checks. The line grammar (comments, separators, timestamps, exemplars, the
 * end of the page) is each format's own subclass.
 *
 * The label-set grammar differs between the formats in three small ways, all stricter in
 * OpenMetrics: no blanks around the punctuation, only \\ \" \n as escapes, no "," before "}".
 * One flag, `strictLabels`, says which; everything else here is the same for both.
 */

import { Labels, METRIC_NAME } from '../../model/labels.js';
import { MAX_EXEMPLAR_LABEL_CHARS, type Exemplar, type MetricType } from '../../model/family.js';
import {
  BACKSLASH,
  CharSeeker,
  CLASS,
  COMMA,
  Entry,
  EQUALS,
  HASH,
  ExpositionError,
  LABEL_CHAR,
  LABEL_START,
  LBRACE,
  LEGACY_METRIC_NAME,
  METRIC_CHAR,
  METRIC_START,
  NL,
  parseNumber,
  QUOTE,
  RBRACE,
  SPACE,
  TAB,
  unescapeQuoted,
} from './lex.js';
import type { ExpositionParser, ParserOptions } from './parser.js';

/** Errors a lenient parser keeps verbatim; the rest are only counted. */
const MAX_KEPT_ERRORS = 10;

const LABEL_SLOTS = 32;

export abstract class LineParser implements ExpositionParser {
  protected readonly text: string;
  protected readonly lenient: boolean;
  private readonly strictLabels: boolean;
  protected pos = 0;
  protected lineNo = 0;
  protected lineStart = 0;
  /** End of the current series line (its newline, or the text length). */
  protected lineEnd = 0;
  /** Rare characters whose presence sends a line to the exact parser. */
  protected readonly backslashes: CharSeeker;
  protected readonly braces: CharSeeker;
  /** False while the current entry's name characters are unchecked (fast pass). */
  protected namesChecked = true;
  protected readonly lazyLabels: boolean;
  /** Position of the current line's "{" while its labels are not taken apart yet; -1 when they are. */
  protected pendingLabels = -1;

  /** Bad lines skipped in lenient mode. */
  dropped = 0;
  /** The first bad lines' errors in lenient mode. */
  readonly errors: ExpositionError[] = [];

  // Current entry.
  protected nameStart = 0;
  protected nameEnd = 0;
  /** Set when the metric name was quoted (and so possibly escaped). */
  protected quotedName: string | undefined;
  protected seriesStart = 0;
  protected seriesEnd = 0;
  protected unitValue = '';
  protected helpStart = 0;
  protected helpEnd = 0;
  protected helpDecoded: string | undefined;
  protected metaType: MetricType = 'unknown';
  /** Per label: name start, name end, value start, value end; negative name start = quoted. */
  private labelPos = new Int32Array(LABEL_SLOTS * 4);
  private labelCount = 0;
  /** Entry i set: label i's name or value contains escapes. */
  private escapedLabels: boolean[] = [];
  protected exemplarValue: Exemplar | undefined;

  value = 0;
  /** Milliseconds since the epoch, or undefined when the line has none. */
  timestamp: number | undefined = undefined;

  constructor(text: string, opts: ParserOptions, strictLabels: boolean) {
    this.text = text;
    this.strictLabels = strictLabels;
    this.backslashes = new CharSeeker(text, '\\');
    this.braces = new CharSeeker(text, '{');
    this.lenient = opts.lenient ?? false;
    this.lineNo = opts.startLine ?? 0;
    this.lazyLabels = (opts.lazyLabels ?? false) && !this.lenient;
  }

  /** The next entry's line, from `pos`; throws ExpositionError for a bad line. */
  protected abstract step(): Entry;
  /** The common series line with native searches; false sends it to the exact parser (`parseSeriesExact`). */
  protected abstract fastSeries(start: number): boolean;
  /** The blank(s) between two fields at `p`, or the error naming `what` was expected; returns the position after them. */
  protected abstract expectSeparator(p: number, what: string): number;
  /** The blank(s) before an exemplar after the timestamp, if any: the position after them. */
  protected abstract optionalSeparator(p: number): number;
  /** A blank after the value with nothing after it, at `p` (the line end): allowed or an error. */
  protected abstract trailingBlank(p: number): void;
  /** The timestamp at `p`; returns the position after it. */
  protected abstract parseTimestamp(p: number): number;
  /** ` # {labels} value [timestamp]` at "#" (`p`); returns the position after it. */
  protected abstract parseExemplar(p: number): number;
  /** Ends the line at `p`, or the error saying what stands there instead. */
  protected abstract endLine(p: number): void;

  /** Whether "# EOF" has been read (OpenMetrics). */
  get sawEof(): boolean {
    return false;
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
    return this.unitValue;
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

  // ---- characters

  protected skipToNextLine(): void {
    const nl = this.text.indexOf('\n', this.pos);
    this.pos = nl < 0 ? this.text.length : nl + 1;
  }

  protected skipBlanks(p: number): number {
    const s = this.text;
    let c = s.charCodeAt(p);
    while (c === SPACE || c === TAB) c = s.charCodeAt(++p);
    return p;
  }

  /** Blanks the label-set grammar allows at `p`: spaces and tabs in the text format, none in OpenMetrics. */
  private labelBlanks(p: number): number {
    return this.strictLabels ? p : this.skipBlanks(p);
  }

  protected describe(p: number): string {
    if (p >= this.text.length) return 'end of input';
    const c = this.text.charCodeAt(p);
    if (c === NL) return 'end of line';
    if (c === TAB) return 'a tab';
    return JSON.stringify(String.fromCodePoint(this.text.codePointAt(p) ?? c));
  }

  // ---- names

  /**
   * The name of a HELP/TYPE/UNIT line at `p`, up to `le` (the line end). A plain name runs to
   * the next space and its characters are checked when it is read; anything else is read
   * exactly. `quick` is false when the fast path must not be taken (a tab on the line).
   */
  protected metaName(p: number, le: number, quick: boolean): number {
    const s = this.text;
    const c1 = s.charCodeAt(p);
    if (quick && c1 < 128 && CLASS[c1] & METRIC_START) {
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
    return p;
  }

  /** A bare or quoted metric name at `p`; returns the position after it. */
  protected parseMetricName(p: number, what: string): number {
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
    let q = p + 1;
    let d = s.charCodeAt(q);
    while (d < 128 && CLASS[d] & METRIC_CHAR) d = s.charCodeAt(++q);
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
        if (this.strictLabels && e !== BACKSLASH && e !== QUOTE && e !== 0x6e) {
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

  // ---- series lines

  protected parseSeries(): Entry {
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
   * The end of the label set opening at `br` on a line ending at `le`, for the fast pass: -1 when
   * the exact parser must look. (The name before it is each parser's fastSeries' own, written
   * out there: one call more on that path kept the engine from inlining the value's parse into
   * it, 4–10% of a page's parse, measured.)
   */
  protected labelSetEnd(br: number, le: number): number {
    if (this.lazyLabels) {
      // the label set ends at the first '"}' (or is "{}"); whether that is its real end is
      // settled when the labels are taken apart — or never, for a key seen before, since a
      // line whose value parses after such a key can only be that key's series
      const q = this.text.indexOf('"}', br);
      if (q >= 0 && q < le) {
        this.pendingLabels = br;
        return q + 2;
      }
      // "{}", a trailing comma, or no label set closed on this line: no shortcut
    }
    return this.fastLabels(br);
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
        if (n > 0 && this.strictLabels) return -1;
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

  /**
   * Checks a label name the fast pass took without looking at its characters. Runs for every
   * label of a series first seen, so the errors are built elsewhere: a smaller body the engine
   * inlines into `labels()`.
   */
  private checkLabelName(i: number): void {
    const s = this.text;
    const start = this.labelPos[i * 4];
    const end = this.labelPos[i * 4 + 1];
    if (start < 0) return; // quoted: the exact parser checked it
    const c = s.charCodeAt(start);
    if (c >= 128 || !(CLASS[c] & LABEL_START)) throw this.badLabelName(start, start);
    for (let q = start + 1; q < end; q++) {
      const d = s.charCodeAt(q);
      if (d >= 128 || !(CLASS[d] & LABEL_CHAR)) throw this.badLabelName(start, q);
    }
    if (end - start === 8 && s.startsWith(METRIC_NAME, start)) {
      throw this.errorAt(start, 'label "__name__" must not be set in the labels; write the metric name instead');
    }
  }

  /** The error the exact parser would give for the label name at `start`, bad at `q`. */
  private badLabelName(start: number, q: number): ExpositionError {
    if (q === start) return this.errorAt(start, `expected a label name, got ${this.describe(start)}`);
    // the exact parser skips the blanks the format allows, then expects "="
    const d = this.text.charCodeAt(q);
    const at = d === SPACE || d === TAB ? this.labelBlanks(q) : q;
    return this.errorAt(at, `expected "=" after label name, got ${this.describe(at)}`);
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

  /** A series line character by character: accepts it or throws its precise error. */
  private parseSeriesExact(start: number): Entry {
    const s = this.text;
    let p = this.parseSeriesName(start);
    p = this.expectSeparator(p, 'the value');
    p = this.parseValueField(p);
    if (s.charCodeAt(p) !== NL && p < s.length) {
      p = this.expectSeparator(p, 'the timestamp');
      const c = s.charCodeAt(p);
      if (c === NL || p >= s.length) this.trailingBlank(p);
      else if (c === HASH) p = this.parseExemplar(p);
      else {
        p = this.parseTimestamp(p);
        const q = this.optionalSeparator(p);
        if (q > p && s.charCodeAt(q) === HASH) p = this.parseExemplar(q);
      }
    }
    this.endLine(p);
    return Entry.Series;
  }

  /**
   * `name`, `name{labels}` or `{"name", labels}` at `start`, exactly; returns the position after
   * it and sets the series key's end.
   */
  private parseSeriesName(start: number): number {
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
      const brace = this.labelBlanks(p);
      if (s.charCodeAt(brace) === LBRACE) p = this.parseLabels(brace, false);
    }
    this.seriesEnd = p;
    return p;
  }

  /**
   * Labels from `{` at `open` to `}`; returns the position after `}`. With `nameInside`, the
   * first item may be a quoted metric name (`{"my.metric", a="b"}`).
   */
  private parseLabels(open: number, nameInside: boolean): number {
    const s = this.text;
    const strict = this.strictLabels;
    let p = open + 1;
    let n = 0;
    let first = true;
    for (;;) {
      p = this.labelBlanks(p);
      let c = s.charCodeAt(p);
      if (c === RBRACE) {
        if (strict && !first) throw this.errorAt(p, 'expected a label name after ",", got "}"');
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
        const after = this.labelBlanks(p);
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
      p = this.labelBlanks(p);
      if (s.charCodeAt(p) !== EQUALS) throw this.errorAt(p, `expected "=" after label name, got ${this.describe(p)}`);
      p++;
      p = this.labelBlanks(p);
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
      p = this.labelBlanks(q + 1);
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

  /** The sample value at `p`, up to a blank or the line end; returns the position after it. */
  protected parseValueField(p: number): number {
    const s = this.text;
    const start = p;
    p = this.fieldEnd(p);
    if (p === start) throw this.errorAt(p, `expected a value, got ${this.describe(p)}`);
    const v = parseNumber(s, start, p);
    if (v === undefined) throw this.errorAt(start, `invalid value ${JSON.stringify(s.slice(start, p))}: expected a number, NaN, +Inf or -Inf`);
    this.value = v;
    return p;
  }

  /** The end of the field (value, timestamp) at `p`: the next blank or line end. */
  protected fieldEnd(p: number): number {
    const s = this.text;
    let c = s.charCodeAt(p);
    while (c !== SPACE && c !== NL && c !== TAB && p < s.length) c = s.charCodeAt(++p);
    return p;
  }

  /**
   * An exemplar's `{labels}` at `open`, read with the label scanner while the series' own labels
   * are kept aside; returns the position after "}". With `pairs`, its labels are collected.
   */
  protected exemplarLabels(open: number, pairs: [string, string][] | undefined): number {
    const savedPos = this.labelPos.slice(0, this.labelCount * 4);
    const savedEsc = this.escapedLabels.slice(0, this.labelCount);
    const savedCount = this.labelCount;
    const savedName = this.quotedName;
    const p = this.parseLabels(open, false);
    if (pairs !== undefined) for (let i = 0; i < this.labelCount; i++) pairs.push([this.labelName(i), this.labelValue(i)]);
    this.labelPos.set(savedPos);
    this.escapedLabels = savedEsc;
    this.labelCount = savedCount;
    this.quotedName = savedName;
    return p;
  }

  /** The 128-character cap OpenMetrics puts on an exemplar's label set. */
  protected checkExemplarLabelChars(pairs: readonly [string, string][], at: number): void {
    let chars = 0;
    for (const [n, v] of pairs) chars += [...n].length + [...v].length;
    if (chars > MAX_EXEMPLAR_LABEL_CHARS) {
      throw this.errorAt(at, `exemplar labels have ${chars} characters, more than the ${MAX_EXEMPLAR_LABEL_CHARS} allowed`);
    }
  }
}
