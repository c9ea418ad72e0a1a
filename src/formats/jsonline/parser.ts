/**
 * VictoriaMetrics' JSON lines (`/api/v1/import`, the format `/api/v1/export` writes): one
 * `{"metric":{"__name__":"m","k":"v"},"values":[...],"timestamps":[...]}` per line, the
 * timestamps integer milliseconds. What is accepted is what vmagent 1.79 accepts: numbers
 * (leading zeros too), the bare tokens `Inf`/`+Inf`/`-Inf`/`NaN` in any case (the export writes
 * `+Inf`), and, as later VictoriaMetrics releases do, `null` and the strings "NaN", "Inf",
 * "-Infinity"... as values; a label value that is not a string is refused (vmagent silently
 * drops the label).
 *
 * Speed: the line is scanned as bytes, once. The `metric` object's raw bytes are the series key
 * (`BytesKeyedLabels`, looked up by the bytes up to the first "}" before the object's structure is
 * read at all), so a series sent again costs one lookup, and its labels are decoded (by
 * JSON.parse, which knows every escape) only the first time; before that lookup, the series the
 * same line number had in the request before is tried with a byte compare, which is what an
 * agent pushing the same series in the same order every interval costs. A line shaped exactly as the
 * export writes it is read without the general loop over keys; anything unusual — escaped or
 * unknown keys, nested values, bare or quoted special values — by the same scanner on slower
 * branches. Numbers are read in place: an integer mantissa of at most 15 digits with a power of
 * ten up to 22 is exact in a double (Clinger's fast path); anything longer goes to `Number()`.
 */

import { BytesKeyedLabels } from '../../model/keyed-labels.js';
import { LabelsBuilder, type Labels } from '../../model/labels.js';
import type { LineFormat, RowFault, RowSink } from '../rows/index.js';
import { ByteFinder } from '../rows/finder.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Lines of a request whose series is guessed from the request before (beyond, the cache alone). */
const MAX_GUESSED_LINES = 100_000;

/** A cached series: its label set, and the `metric` bytes it was read from (for the guess by line). */
interface Series {
  readonly key: Buffer;
  readonly labels: Labels;
}

const KEY_OTHER = 0;
const KEY_METRIC = 1;
const KEY_VALUES = 2;
const KEY_TIMESTAMPS = 3;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
/** int64's range, as VictoriaMetrics' timestamps. */
const MAX_TS = 9223372036854775807;

/** Why `readLine` refused a line. */
export interface LineFault {
  readonly reason: string;
  readonly fault: RowFault;
}

/** A line that is not what it should be; caught per line, never leaves the parser. */
class LineError extends Error {
  constructor(
    readonly reason: string,
    readonly fault: RowFault = 'syntax',
  ) {
    super(reason);
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

export class JsonLineParser implements LineFormat {
  private readonly series = new BytesKeyedLabels<Series>();
  /**
   * The series of each line of the request before, by line number: an agent pushes the same
   * series in the same order each time, and a byte compare against the line's guess costs less
   * than making and hashing a key string. A wrong guess only sends the line to the cache.
   */
  private readonly byLine: (Series | undefined)[] = [];
  private readonly braces = new ByteFinder(RBRACE);
  private readonly quotes = new ByteFinder(QUOTE);
  private lineNo = 0;
  private readonly lb = new LabelsBuilder();
  private values: Float64Array<ArrayBuffer> = new Float64Array(64);
  private timestamps: Float64Array<ArrayBuffer> = new Float64Array(64);
  private nValues = 0;
  private nTimestamps = 0;
  // the line being read
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;
  private lineBegin = 0;

  /**
   * One line read whole: its series (its samples then in `lineValues`/`lineTimestamps`, the
   * first `lineSamples`, valid until the next call), or why it was refused. For callers that
   * take a line's samples together rather than one call per sample.
   */
  readLine(buf: Buffer, start: number, end: number, lineNo: number): Labels | LineFault {
    this.buf = buf;
    this.lineBegin = start;
    this.lineNo = lineNo;
    this.pos = start;
    this.end = end;
    try {
      return this.parse();
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      this.nValues = 0;
      return { reason: err.reason, fault: err.fault };
    } finally {
      this.buf = EMPTY;
    }
  }

  get lineValues(): Float64Array {
    return this.values;
  }

  get lineTimestamps(): Float64Array {
    return this.timestamps;
  }

  get lineSamples(): number {
    return this.nValues;
  }

  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void {
    this.buf = buf;
    this.lineBegin = start;
    this.lineNo = lineNo;
    this.pos = start;
    this.end = end;
    let labels: Labels | undefined;
    try {
      labels = this.parse();
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      out.invalid(lineNo, err.reason, err.fault);
      return;
    } finally {
      this.buf = EMPTY;
    }
    const { values, timestamps } = this;
    for (let i = 0; i < this.nValues; i++) out.sample(labels, values[i], timestamps[i]);
  }

  /** The line's series, its samples left in `values` and `timestamps`. */
  private parse(): Labels {
    const exact = this.exportShaped();
    if (exact !== undefined) return exact;
    this.skipSpace();
    if (this.pos >= this.end) throw new LineError('empty line');
    this.expect(LBRACE, 'a JSON object');
    let labels: Labels | undefined;
    let sawValues = false;
    let sawTimestamps = false;
    this.nValues = 0;
    this.nTimestamps = 0;
    this.skipSpace();
    if (this.peek() !== RBRACE) {
      for (;;) {
        this.skipSpace();
        const key = this.topKey();
        this.skipSpace();
        this.expect(COLON, '":" after a key');
        this.skipSpace();
        if (key === KEY_METRIC) labels = this.metric();
        else if (key === KEY_VALUES) {
          this.numbers(false);
          sawValues = true;
        } else if (key === KEY_TIMESTAMPS) {
          this.numbers(true);
          sawTimestamps = true;
        } else this.skipValue(0);
        this.skipSpace();
        const c = this.next('"," or "}"');
        if (c === RBRACE) break;
        if (c !== COMMA) throw this.unexpected(c, '"," or "}"', this.pos - 1);
      }
    } else this.pos++;
    this.skipSpace();
    if (this.pos < this.end) throw new LineError(`unexpected text after the JSON object at column ${this.col(this.pos)}`);
    if (labels === undefined) throw new LineError('missing `metric` object');
    if (!sawValues || this.nValues === 0) throw new LineError('missing `values` array');
    if (!sawTimestamps || this.nTimestamps === 0) throw new LineError('missing `timestamps` array');
    if (this.nValues !== this.nTimestamps) {
      throw new LineError(`\`timestamps\` array size must match \`values\` array size; got ${this.nTimestamps}; want ${this.nValues}`);
    }
    return labels;
  }

  /**
   * The line exactly as `/api/v1/export` (and writer.ts) writes it —
   * `{"metric":{...},"values":[...],"timestamps":[...]}` with no blank between the parts — read
   * without the general loop over keys; undefined (and the position back at the start) for
   * any other shape, which the general loop then reads, errors included.
   */
  private exportShaped(): Labels | undefined {
    const { buf, end } = this;
    const start = this.pos;
    if (end - start < 40 || !bytesAre(buf, start, '{"metric":{')) return undefined;
    try {
      this.pos = start + 10;
      const labels = this.metric();
      if (!bytesAre(buf, this.pos, ',"values":[')) return this.restart(start);
      this.pos += 11;
      // numbers and commas only: a blank, a special value or anything else is the general loop's
      let n = 0;
      for (;;) {
        if (n === this.values.length) this.values = grow(this.values);
        if (!this.numberInto(false, this.values, n++)) return this.restart(start);
        const c = buf[this.pos++];
        if (c === RBRACKET) break;
        if (c !== COMMA) return this.restart(start);
      }
      this.nValues = n;
      if (!bytesAre(buf, this.pos, ',"timestamps":[')) return this.restart(start);
      this.pos += 15;
      n = 0;
      for (;;) {
        if (n === this.timestamps.length) this.timestamps = grow(this.timestamps);
        if (!this.numberInto(true, this.timestamps, n++)) return this.restart(start);
        const c = buf[this.pos++];
        if (c === RBRACKET) break;
        if (c !== COMMA) return this.restart(start);
      }
      this.nTimestamps = n;
      if (this.pos !== end - 1 || buf[this.pos] !== RBRACE || this.nValues !== this.nTimestamps) return this.restart(start);
      return labels;
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      return this.restart(start);
    }
  }

  private restart(start: number): undefined {
    this.pos = start;
    return undefined;
  }

  /** A top-level key, compared as bytes: the three that matter without making a string. */
  private topKey(): number {
    const { buf, end } = this;
    const start = this.pos;
    if (buf[start] !== QUOTE) throw this.unexpected(this.peek(), 'a key in double quotes', start);
    let p = start + 1;
    while (p < end && buf[p] !== QUOTE && buf[p] !== BACKSLASH) p++;
    if (p < end && buf[p] === QUOTE) {
      this.pos = p + 1;
      const len = p - start - 1;
      const c = buf[start + 1];
      if (len === 6 && c === 0x6d && bytesAre(buf, start + 1, 'metric')) return KEY_METRIC;
      if (len === 6 && c === 0x76 && bytesAre(buf, start + 1, 'values')) return KEY_VALUES;
      if (len === 10 && c === 0x74 && bytesAre(buf, start + 1, 'timestamps')) return KEY_TIMESTAMPS;
      return KEY_OTHER;
    }
    const key = this.string();
    return key === 'metric' ? KEY_METRIC : key === 'values' ? KEY_VALUES : key === 'timestamps' ? KEY_TIMESTAMPS : KEY_OTHER;
  }

  /**
   * The end of the object at `pos` found by bytes alone — strings skipped, nothing decoded —
   * for a `metric` object not seen before.
   */
  private skipObjectRaw(): void {
    const { buf, end } = this;
    let p = this.pos;
    let depth = 0;
    while (p < end) {
      const c = buf[p++];
      if (c === QUOTE) {
        while (p < end && buf[p] !== QUOTE) p += buf[p] === BACKSLASH ? 2 : 1;
        if (p >= end) throw new LineError(`unterminated string in \`metric\``);
        p++;
      } else if (c === LBRACE || c === LBRACKET) depth++;
      else if (c === RBRACE || c === RBRACKET) {
        if (--depth === 0) {
          this.pos = p;
          return;
        }
      }
    }
    throw new LineError('unexpected end of line in `metric`');
  }

  /**
   * The `metric` object: its raw bytes are the key of a cache of decoded label sets. A known
   * series is found without reading the object's structure: the bytes up to the first "}" are
   * looked up as they are — were that "}" inside a string, those bytes would not be a whole
   * object, and only whole objects are ever cached, so a hit is the object.
   */
  private metric(): Labels {
    const { buf, lineNo } = this;
    const start = this.pos;
    if (this.peek() !== LBRACE) throw new LineError('`metric` must be an object');
    const close = this.braces.find(buf, start, this.end);
    if (close >= 0) {
      const guess = lineNo < MAX_GUESSED_LINES ? this.byLine[lineNo] : undefined;
      const len = close + 1 - start;
      if (guess !== undefined && guess.key.length === len && buf.compare(guess.key, 0, len, start, close + 1) === 0) {
        this.pos = close + 1;
        return guess.labels;
      }
      const known = this.series.get(buf, start, close + 1);
      if (known !== undefined) {
        this.pos = close + 1;
        this.guess(lineNo, known);
        return known.labels;
      }
    }
    this.skipObjectRaw();
    // a "}" inside a label value: the whole object may still be known
    let known = this.series.get(buf, start, this.pos);
    if (known === undefined) {
      known = { key: Buffer.from(buf.subarray(start, this.pos)), labels: this.decodeLabels(start, this.pos) };
      this.series.set(buf, start, this.pos, known);
    }
    this.guess(lineNo, known);
    return known.labels;
  }

  private guess(lineNo: number, s: Series): void {
    if (lineNo >= MAX_GUESSED_LINES) return;
    const g = this.byLine;
    while (g.length < lineNo) g.push(undefined);
    g[lineNo] = s;
  }

  private decodeLabels(start: number, end: number): Labels {
    let obj: unknown;
    try {
      obj = JSON.parse(this.buf.toString('utf8', start, end));
    } catch (err) {
      throw new LineError(`cannot parse \`metric\`: ${(err as Error).message}`);
    }
    const lb = this.lb.reset();
    let names = 0;
    for (const [name, value] of Object.entries(obj as Record<string, unknown>)) {
      if (typeof value !== 'string') throw new LineError(`label ${JSON.stringify(name)}: the value must be a string, got ${JSON.stringify(value)}`, 'value');
      lb.set(name, value);
      names++;
    }
    const labels = lb.build();
    if (names === 0 || labels.size === 0) throw new LineError('`metric` has no labels');
    return labels;
  }

  /** `[n, n, ...]` into `values` or `timestamps`. */
  private numbers(ts: boolean): void {
    this.expect(LBRACKET, ts ? '`timestamps` array' : '`values` array');
    let n = 0;
    this.skipSpace();
    if (this.peek() === RBRACKET) this.pos++;
    else {
      for (;;) {
        this.skipSpace();
        const v = ts ? this.timestamp(n) : this.value(n);
        if (ts) {
          if (n === this.timestamps.length) this.timestamps = grow(this.timestamps);
          this.timestamps[n++] = v;
        } else {
          if (n === this.values.length) this.values = grow(this.values);
          this.values[n++] = v;
        }
        this.skipSpace();
        const c = this.next('"," or "]"');
        if (c === RBRACKET) break;
        if (c !== COMMA) throw this.unexpected(c, '"," or "]"', this.pos - 1);
      }
    }
    if (ts) this.nTimestamps = n;
    else this.nValues = n;
  }

  private value(i: number): number {
    const { buf } = this;
    const start = this.pos;
    const c = this.peek();
    if (c === QUOTE) {
      const text = this.string();
      const v = specialValue(text);
      if (v === undefined) throw new LineError(`cannot parse value at position ${i}: unsupported string ${JSON.stringify(text)}`, 'value');
      return v;
    }
    const v = this.number(false);
    if (v !== undefined) return v;
    this.pos = start;
    // a bare token: Inf, +Inf, -inf, NaN, null
    let p = start;
    while (p < this.end && isTokenChar(buf[p])) p++;
    const word = buf.toString('latin1', start, p);
    const special = word === 'null' ? NaN : bareSpecial(word);
    if (special === undefined || p === start) throw new LineError(`cannot parse value at position ${i}: ${p === start ? `unexpected ${this.describe(start)}` : JSON.stringify(word)}`, 'value');
    this.pos = p;
    return special;
  }

  private timestamp(i: number): number {
    const start = this.pos;
    const v = this.number(true);
    if (v === undefined) {
      let p = start;
      while (p < this.end && isTokenChar(this.buf[p])) p++;
      throw new LineError(`cannot parse timestamp at position ${i}: ${p === start ? `unexpected ${this.describe(start)}` : JSON.stringify(this.buf.toString('utf8', start, p))}: expected integer milliseconds`, 'value');
    }
    return v;
  }

  /**
   * A JSON number at `pos` (leading zeros allowed, as vmagent's parser does), or undefined when
   * there is none; `integer`: an integer is required (a fraction or exponent is an error).
   */
  private number(integer: boolean): number | undefined {
    return this.numberInto(integer, this.scratch, 0) ? this.scratch[0] : undefined;
  }

  private readonly scratch = new Float64Array(1);

  /**
   * A number at the position into `out[i]`; false (the position unmoved) when there is none
   * there. Stored, not returned: a double returned from a call V8 does not inline is boxed, an
   * allocation per value on the export-shaped fast path.
   */
  private numberInto(integer: boolean, out: Float64Array, i: number): boolean {
    const { buf, end } = this;
    const start = this.pos;
    let p = start;
    let neg = false;
    if (buf[p] === MINUS) {
      neg = true;
      p++;
    }
    const digitsStart = p;
    let mant = 0;
    // one unsigned compare per digit; past `end` only the line's own newline or the buffer's end (undefined) follow
    for (let d = buf[p] - ZERO; d >>> 0 <= 9 && p < end; d = buf[++p] - ZERO) mant = mant * 10 + d;
    let digits = p - digitsStart;
    if (digits === 0) return false;
    let fracDigits = 0;
    let exp = 0;
    let plain = true;
    if (p < end && buf[p] === DOT) {
      p++;
      const fs = p;
      for (let d = buf[p] - ZERO; d >>> 0 <= 9 && p < end; d = buf[++p] - ZERO) mant = mant * 10 + d;
      fracDigits = p - fs;
      if (fracDigits === 0) throw new LineError(`cannot parse ${integer ? 'timestamp' : 'value'} ${JSON.stringify(buf.toString('latin1', start, p))}: no digits after "."`, 'value');
      digits += fracDigits;
      plain = false;
    }
    const c = p < end ? buf[p] : 0;
    if (c === 0x65 || c === 0x45) {
      p++;
      let eneg = false;
      if (buf[p] === MINUS || buf[p] === PLUS) eneg = buf[p++] === MINUS;
      const es = p;
      while (p < end && buf[p] >= ZERO && buf[p] <= NINE && p - es < 6) exp = exp * 10 + (buf[p++] - ZERO);
      if (p === es) throw new LineError(`cannot parse ${integer ? 'timestamp' : 'value'} ${JSON.stringify(buf.toString('latin1', start, p))}: no digits in the exponent`, 'value');
      while (p < end && buf[p] >= ZERO && buf[p] <= NINE) p++;
      if (eneg) exp = -exp;
      plain = false;
    }
    if (p < end && isTokenChar(buf[p])) {
      // "0x10", "1_000", "5abc": not a number at all
      return false;
    }
    this.pos = p;
    if (integer) {
      if (!plain) throw new LineError(`cannot parse timestamp ${JSON.stringify(buf.toString('latin1', start, p))}: expected integer milliseconds`, 'value');
      if (digits <= 15) {
        out[i] = neg ? -mant : mant;
        return true;
      }
      const v = Number(buf.toString('latin1', start, p));
      if (Math.abs(v) > MAX_TS) throw new LineError(`timestamp ${buf.toString('latin1', start, p)} out of range`, 'value');
      out[i] = v;
      return true;
    }
    if (digits <= 15) {
      const e = exp - fracDigits;
      if (e === 0) {
        out[i] = neg ? -mant : mant;
        return true;
      }
      if (e > 0 && e <= 22) {
        out[i] = neg ? -(mant * POW10[e]) : mant * POW10[e];
        return true;
      }
      if (e < 0 && e >= -22) {
        out[i] = neg ? -(mant / POW10[-e]) : mant / POW10[-e];
        return true;
      }
    }
    out[i] = Number(buf.toString('latin1', start, p));
    return true;
  }

  /** A key without escapes fast; one with escapes through JSON.parse. */
  private key(): string {
    if (this.peek() !== QUOTE) throw this.unexpected(this.peek(), 'a key in double quotes', this.pos);
    return this.string();
  }

  private string(): string {
    const { buf, end } = this;
    const start = this.pos;
    let p = start + 1;
    let escaped = false;
    for (;;) {
      const q = this.quotes.find(buf, p, end);
      if (q < 0) throw new LineError(`unterminated string at column ${this.col(start)}`);
      let bs = 0;
      for (let k = q - 1; k > start && buf[k] === BACKSLASH; k--) bs++;
      if (bs > 0) escaped = true;
      if ((bs & 1) === 0) {
        this.pos = q + 1;
        break;
      }
      p = q + 1;
    }
    if (!escaped) return buf.toString('utf8', start + 1, this.pos - 1);
    try {
      return JSON.parse(buf.toString('utf8', start, this.pos)) as string;
    } catch (err) {
      throw new LineError(`bad string at column ${this.col(start)}: ${(err as Error).message}`);
    }
  }

  /** Skips one JSON value of any kind (an unknown key's, or the `metric` object). */
  private skipValue(depth: number): void {
    if (depth > 64) throw new LineError('JSON nested too deeply');
    const { buf, end } = this;
    const c = this.peek();
    if (c === QUOTE) {
      this.string();
      return;
    }
    if (c === LBRACE || c === LBRACKET) {
      const close = c === LBRACE ? RBRACE : RBRACKET;
      this.pos++;
      this.skipSpace();
      if (this.peek() === close) {
        this.pos++;
        return;
      }
      for (;;) {
        this.skipSpace();
        if (c === LBRACE) {
          this.key();
          this.skipSpace();
          this.expect(COLON, '":" after a key');
          this.skipSpace();
        }
        this.skipValue(depth + 1);
        this.skipSpace();
        const d = this.next(`"," or "${String.fromCharCode(close)}"`);
        if (d === close) return;
        if (d !== COMMA) throw this.unexpected(d, `"," or "${String.fromCharCode(close)}"`, this.pos - 1);
      }
    }
    let p = this.pos;
    while (p < end && isTokenChar(buf[p])) p++;
    if (p === this.pos) throw this.unexpected(c, 'a JSON value', this.pos);
    this.pos = p;
  }

  private skipSpace(): void {
    const { buf, end } = this;
    let p = this.pos;
    while (p < end && isSpace(buf[p])) p++;
    this.pos = p;
  }

  private peek(): number {
    return this.pos < this.end ? this.buf[this.pos] : -1;
  }

  private next(what: string): number {
    if (this.pos >= this.end) throw new LineError(`unexpected end of line: expected ${what}`);
    return this.buf[this.pos++];
  }

  private expect(c: number, what: string): void {
    const got = this.peek();
    if (got !== c) throw this.unexpected(got, what, this.pos);
    this.pos++;
  }

  private unexpected(c: number, what: string, at: number): LineError {
    if (c < 0) return new LineError(`unexpected end of line: expected ${what}`);
    return new LineError(`expected ${what} at column ${this.col(at)}, got ${this.describe(at)}`);
  }

  private describe(at: number): string {
    if (at >= this.end) return 'the end of the line';
    return JSON.stringify(this.buf.toString('utf8', at, Math.min(this.end, at + 16)));
  }

  /** 1-based column of a byte of the current line (in bytes). */
  private col(at: number): number {
    return at - this.lineBegin + 1;
  }
}

const EMPTY = Buffer.alloc(0);

function bytesAre(buf: Buffer, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (buf[at + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** Letters, digits and the signs and dots of a number or bare token. */
function isTokenChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === PLUS || c === MINUS || c === DOT || c === 0x5f;
}

/** `Inf`, `+inf`, `-INF`, `NaN`, `-nan`..., any case (vmagent's JSON parser reads these bare). */
function bareSpecial(word: string): number | undefined {
  let w = word.toLowerCase();
  let sign = 1;
  if (w.startsWith('+')) w = w.slice(1);
  else if (w.startsWith('-')) {
    sign = -1;
    w = w.slice(1);
  }
  if (w === 'inf' || w === 'infinity') return sign * Infinity;
  if (w === 'nan') return NaN;
  return undefined;
}

/** The strings later VictoriaMetrics releases take as values. */
function specialValue(s: string): number | undefined {
  let sign = 1;
  if (s.startsWith('-')) {
    sign = -1;
    s = s.slice(1);
  }
  switch (s) {
    case 'infinity':
    case 'Infinity':
    case 'Inf':
    case 'inf':
      return sign * Infinity;
    case 'null':
    case 'Null':
    case 'nan':
    case 'NaN':
      return NaN;
    default:
      return undefined;
  }
}

function grow(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}
