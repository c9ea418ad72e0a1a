/**
 * What the two text parsers (text-parser.ts, openmetrics-parser.ts) share below the line
 * grammar: the entry kinds and the error they throw, character classes, escapes, and the
 * numbers — sample values, and the two timestamp forms (integer milliseconds, fractional
 * seconds). The frame parser and the gateway's persistence read numbers with the same
 * functions, so a value means one thing wherever it is read.
 */

import type { MetricType } from '../../model/family.js';

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
    // a bad line is the input's fault, never a bug to trace: no stack is captured, which was most
    // of what a refused line cost (7 µs against 0.4 for a good one) in lenient parsing
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`line ${line}, column ${column}: ${detail}`);
    Error.stackTraceLimit = limit;
    this.name = 'ExpositionError';
  }
}

// Character classes for ASCII, one bit each.
export const METRIC_START = 1;
export const METRIC_CHAR = 2;
export const LABEL_START = 4;
export const LABEL_CHAR = 8;
export const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
  const digit = c >= 0x30 && c <= 0x39;
  if (alpha || c === 0x3a) CLASS[c] |= METRIC_START | METRIC_CHAR;
  if (digit) CLASS[c] |= METRIC_CHAR | LABEL_CHAR;
  if (alpha) CLASS[c] |= LABEL_START | LABEL_CHAR;
}

export const NL = 0x0a;
export const SPACE = 0x20;
export const TAB = 0x09;
export const QUOTE = 0x22;
export const HASH = 0x23;
export const BACKSLASH = 0x5c;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
export const COMMA = 0x2c;
export const EQUALS = 0x3d;

/** Checking a long name costs less in the regex engine than in a JavaScript loop. */
export const LEGACY_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Finds a character's next occurrence at or after a position, for positions that only move
 * forward: each query resumes where the last search stopped, so the whole text is searched
 * once however many lines ask.
 */
export class CharSeeker {
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

/** A TYPE word and what it means; in arrays, as lookups compare rather than hash (below). */
export type TypeTable = readonly (readonly [word: string, type: MetricType])[];

/**
 * Map.get hashes the freshly sliced word, which costs more than comparing it with each
 * candidate (a length check rejects most at once); an indexed loop, as a for-of over a Map
 * allocates an entry per step.
 */
export function lookupType(word: string, types: TypeTable): MetricType | undefined {
  for (let i = 0; i < types.length; i++) if (word === types[i][0]) return types[i][1];
  return undefined;
}

/** Whether the four characters at `p` are a, b, c, d (HELP, TYPE, UNIT), without slicing. */
export function isWord(s: string, p: number, a: number, b: number, c: number, d: number): boolean {
  return s.charCodeAt(p) === a && s.charCodeAt(p + 1) === b && s.charCodeAt(p + 2) === c && s.charCodeAt(p + 3) === d;
}

/**
 * Unescapes \\, \n and (where `quotes`) \" in s[start, end). Other escapes are an error when
 * `strict` (OpenMetrics: the parser, which makes the error for a position) and otherwise kept
 * verbatim, as Prometheus keeps them. (A parser, not a closure: an arrow function capturing
 * `this` would make its caller allocate a context on every call, taken branch or not.)
 */
export function unescape(s: string, start: number, end: number, quotes: boolean, strict?: { errorAt(pos: number, detail: string): Error }): string {
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
export function unescapeQuoted(s: string, start: number, end: number): string {
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
 * Digits below the millisecond are truncated. (The text format's parser reads exemplar
 * timestamps with it too: client libraries write them in seconds there as well.)
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
