/**
 * OpenTSDB HTTP `/api/put` bodies: one `{"metric","timestamp","value","tags"}` object or an
 * array of them, read as vmagent 1.79.5 reads them (checked side by side, see
 * test/ingest/ingest-opentsdb-vmagent.test.ts):
 * - a body that is not JSON is refused whole (nothing of it is kept); the JSON is fastjson's:
 *   `NaN`/`Inf` number tokens are allowed, a key repeated in an object counts at its first place;
 * - per object: `metric` a non-empty string; `value` a number or a numeric string (fastfloat's
 *   grammar, src/formats/rows/go-float.ts); `timestamp` likewise, optional (absent or `0`: now),
 *   its fraction dropped, below 2^32 seconds else milliseconds; `tags` an object of strings,
 *   optional, a tag with an empty name or value dropped. An object that breaks one of these is
 *   refused alone (vmagent logs it and answers 204; here it is counted and quoted in the 400).
 * - a top-level value that is neither an object nor an array is one refused row.
 *
 * Scanned on the bytes in two passes (validate, then read), so a syntax error keeps nothing, as
 * vmagent; the raw bytes of `metric` and `tags` are the series key of a per-series cache.
 */

import { LabelsBuilder, METRIC_NAME, type Labels } from '../../model/labels.js';
import { BytesKeyedLabels } from '../../model/keyed-labels.js';
import { parseGoFloat } from '../rows/go-float.js';
import type { RowSink } from '../rows/index.js';
import { openTsdbTimestamp } from './parser.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
/** fastjson's MaxDepth. */
const MAX_DEPTH = 300;

export interface OpenTsdbHttpOptions {
  /** Trim timestamps to this many milliseconds when over 1 (vmagent's `-opentsdbhttpTrimTimestamp`). */
  readonly trimTimestampMs: number;
}

class JsonSyntaxError extends Error {}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x2b || c === 0x65 || c === 0x45;
}

/** The key's bytes are `word` (ASCII). */
function keyIs(buf: Buffer, start: number, len: number, word: string): boolean {
  if (len !== word.length) return false;
  for (let i = 0; i < len; i++) if (buf[start + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** 3 letters at p equal `word` (lowercase) in any case. */
function fold3(buf: Buffer, p: number, end: number, word: string): boolean {
  return end - p >= 3 && (buf[p] | 0x20) === word.charCodeAt(0) && (buf[p + 1] | 0x20) === word.charCodeAt(1) && (buf[p + 2] | 0x20) === word.charCodeAt(2);
}

/** What a JSON value is (only what the rows need to tell apart). */
const Kind = { Object: 0, Array: 1, String: 2, Number: 3, Literal: 4 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

export class OpenTsdbJsonParser {
  private readonly series = new BytesKeyedLabels<Labels>();
  private readonly lb = new LabelsBuilder();
  private buf: Buffer = Buffer.alloc(0);
  private end = 0;
  private pos = 0;
  /** What the last `value()` read: its kind and, for strings, the bytes inside the quotes. */
  private kind: Kind = Kind.Literal;
  private start = 0;
  private stop = 0;
  private escaped = false;

  constructor(private readonly opts: OpenTsdbHttpOptions) {}

  /** Reads a whole body into `out`; a syntax error is returned (and nothing read). */
  parse(body: Buffer, out: RowSink): string | undefined {
    this.buf = body;
    this.end = body.length;
    try {
      this.pos = 0;
      this.ws();
      if (this.pos >= this.end) return 'empty body: expected a JSON object or array';
      this.value(0);
      this.ws();
      if (this.pos < this.end) throw new JsonSyntaxError(`unexpected text after the JSON value at byte ${this.pos}`);
    } catch (err) {
      if (err instanceof JsonSyntaxError) return `invalid JSON: ${err.message}`;
      throw err;
    } finally {
      this.buf = Buffer.alloc(0);
    }
    this.buf = body;
    try {
      this.pos = 0;
      this.ws();
      const first = body[this.pos];
      if (first === LBRACE) this.row(1, out);
      else if (first === LBRACKET) {
        this.pos++;
        this.ws();
        let n = 0;
        if (body[this.pos] !== RBRACKET) {
          for (;;) {
            this.ws();
            n++;
            if (body[this.pos] === LBRACE) this.row(n, out);
            else {
              this.value(0);
              out.invalid(0, `element ${n}: not an object: missing "metric"`);
            }
            this.ws();
            if (body[this.pos] === COMMA) this.pos++;
            else break;
          }
        }
      } else out.invalid(0, 'expected a JSON object or an array of objects');
    } finally {
      this.buf = Buffer.alloc(0);
    }
    return undefined;
  }

  /** One `{...}` at `pos`: a sample, or a refusal naming element `n`. */
  private row(n: number, out: RowSink): void {
    const buf = this.buf;
    this.pos++;
    let metric = -1;
    let metricEnd = 0;
    let metricKind: Kind = Kind.Literal;
    let metricEscaped = false;
    let tsStart = -1;
    let tsEnd = 0;
    let tsKind: Kind = Kind.Literal;
    let tsEscaped = false;
    let vStart = -1;
    let vEnd = 0;
    let vKind: Kind = Kind.Literal;
    let vEscaped = false;
    let tagsStart = -1;
    let tagsEnd = 0;
    let tagsKind: Kind = Kind.Literal;
    this.ws();
    if (buf[this.pos] === RBRACE) this.pos++;
    else {
      for (;;) {
        this.ws();
        this.value(0);
        const kStart = this.start;
        const kLen = this.stop - this.start;
        const kEscaped = this.escaped;
        this.ws();
        this.pos++; // ':'
        this.ws();
        const at = this.pos;
        this.value(0);
        // keys are compared as sent; an escaped spelling of a known key is another key, as in fastjson
        if (!kEscaped) {
          if (metric < 0 && keyIs(buf, kStart, kLen, 'metric')) {
            metric = this.start;
            metricEnd = this.stop;
            metricKind = this.kind;
            metricEscaped = this.escaped;
          } else if (tsStart < 0 && keyIs(buf, kStart, kLen, 'timestamp')) {
            tsStart = this.start;
            tsEnd = this.stop;
            tsKind = this.kind;
            tsEscaped = this.escaped;
          } else if (vStart < 0 && keyIs(buf, kStart, kLen, 'value')) {
            vStart = this.start;
            vEnd = this.stop;
            vKind = this.kind;
            vEscaped = this.escaped;
          } else if (tagsStart < 0 && keyIs(buf, kStart, kLen, 'tags')) {
            tagsStart = at;
            tagsEnd = this.pos;
            tagsKind = this.kind;
          }
        }
        this.ws();
        if (buf[this.pos++] !== COMMA) break;
      }
    }
    if (metric < 0 || metricKind !== Kind.String || metricEnd === metric) return out.invalid(0, `element ${n}: missing "metric"`);
    let ts = 0;
    if (tsStart >= 0) {
      const t = this.number(tsKind, tsStart, tsEnd, tsEscaped);
      if (t === undefined) return out.invalid(0, `element ${n}: invalid "timestamp" ${this.quote(tsStart, tsEnd)}`, 'value');
      ts = t;
    }
    if (vStart < 0) return out.invalid(0, `element ${n}: missing "value"`);
    const value = this.number(vKind, vStart, vEnd, vEscaped);
    if (value === undefined) return out.invalid(0, `element ${n}: invalid "value" ${this.quote(vStart, vEnd)}`, 'value');
    const tsMs = openTsdbTimestamp(ts, out.now, this.opts.trimTimestampMs, 1);
    if (tsMs === undefined) return out.invalid(0, `element ${n}: "timestamp" ${this.quote(tsStart, tsEnd)} out of range`, 'value');
    if (tagsStart >= 0 && tagsKind !== Kind.Object) return out.invalid(0, `element ${n}: "tags" is not an object`);
    // the key: the metric's bytes and the tags object's as sent
    const t0 = tagsStart < 0 ? 0 : tagsStart;
    const t1 = tagsStart < 0 ? 0 : tagsEnd;
    let labels = this.series.getPair(buf, metric, metricEnd, t0, t1);
    if (labels === undefined) {
      const made = this.labels(metric, metricEnd, metricEscaped, tagsStart);
      if (typeof made === 'string') return out.invalid(0, `element ${n}: ${made}`);
      labels = made;
      this.series.setPair(buf, metric, metricEnd, t0, t1, labels);
    }
    out.sample(labels, value, tsMs);
  }

  private labels(metric: number, metricEnd: number, metricEscaped: boolean, tagsStart: number): Labels | string {
    const lb = this.lb.reset();
    lb.set(METRIC_NAME, this.text(metric, metricEnd, metricEscaped));
    if (tagsStart < 0) return lb.build();
    const buf = this.buf;
    const saved = this.pos;
    try {
      this.pos = tagsStart + 1;
      this.ws();
      if (buf[this.pos] !== RBRACE) {
        const why = this.tags(lb);
        if (why !== undefined) return why;
      }
    } finally {
      this.pos = saved;
    }
    return lb.build();
  }

  private tags(lb: LabelsBuilder): string | undefined {
    const buf = this.buf;
    for (;;) {
      this.ws();
      this.value(0);
      const name = this.text(this.start, this.stop, this.escaped);
      this.ws();
      this.pos++;
      this.ws();
      const at = this.pos;
      this.value(0);
      if (this.kind !== Kind.String) return `tag ${JSON.stringify(name)}: the value must be a string, got ${this.quote(at, this.pos)}`;
      const value = this.text(this.start, this.stop, this.escaped);
      if (name !== '' && value !== '') lb.set(name, value);
      this.ws();
      if (buf[this.pos++] !== COMMA) return undefined;
    }
  }

  /** A number token or numeric string as fastfloat reads it. */
  private number(kind: Kind, start: number, end: number, escaped: boolean): number | undefined {
    if (kind === Kind.Number) return parseGoFloat(this.buf, start, end);
    if (kind !== Kind.String) return undefined;
    if (!escaped) return parseGoFloat(this.buf, start, end);
    return parseGoFloat(Buffer.from(this.text(start, end, true), 'utf8'), 0, Buffer.byteLength(this.text(start, end, true)));
  }

  /** A string's text (the bytes inside its quotes), escapes decoded. */
  private text(start: number, end: number, escaped: boolean): string {
    return escaped ? unescape(this.buf.toString('utf8', start, end)) : this.buf.toString('utf8', start, end);
  }

  private quote(start: number, end: number): string {
    const buf = this.buf;
    const from = start > 0 && buf[start - 1] === QUOTE ? start - 1 : start;
    const to = end < buf.length && buf[end] === QUOTE ? end + 1 : end;
    return buf.toString('utf8', from, Math.min(to, from + 64));
  }

  private ws(): void {
    const buf = this.buf;
    while (this.pos < this.end && isWs(buf[this.pos])) this.pos++;
  }

  /**
   * Reads the value at `pos` (no leading blanks) and leaves `pos` after it; sets `kind`, and
   * for strings and numbers `start`/`stop`. Throws JsonSyntaxError.
   */
  private value(depth: number): void {
    const buf = this.buf;
    const end = this.end;
    if (this.pos >= end) throw new JsonSyntaxError('unexpected end of the body');
    const c = buf[this.pos];
    if (c === QUOTE) {
      let p = this.pos + 1;
      let escaped = false;
      for (;;) {
        if (p >= end) throw new JsonSyntaxError(`unterminated string at byte ${this.pos}`);
        const ch = buf[p];
        if (ch === QUOTE) break;
        if (ch === BACKSLASH) {
          escaped = true;
          p += 2;
        } else p++;
      }
      this.kind = Kind.String;
      this.start = this.pos + 1;
      this.stop = p;
      this.escaped = escaped;
      this.pos = p + 1;
      return;
    }
    if (c === LBRACE || c === LBRACKET) {
      if (depth >= MAX_DEPTH) throw new JsonSyntaxError(`nested deeper than ${MAX_DEPTH}`);
      const close = c === LBRACE ? RBRACE : RBRACKET;
      const at = this.pos;
      this.pos++;
      this.ws();
      if (buf[this.pos] === close) this.pos++;
      else {
        for (;;) {
          this.ws();
          if (c === LBRACE) {
            if (buf[this.pos] !== QUOTE) throw new JsonSyntaxError(`expected a key in quotes at byte ${this.pos}`);
            this.value(depth + 1);
            this.ws();
            if (buf[this.pos] !== COLON) throw new JsonSyntaxError(`expected ":" at byte ${this.pos}`);
            this.pos++;
            this.ws();
          }
          this.value(depth + 1);
          this.ws();
          const sep = buf[this.pos];
          if (sep === COMMA) {
            this.pos++;
            continue;
          }
          if (sep === close) {
            this.pos++;
            break;
          }
          throw new JsonSyntaxError(`expected "," or "${String.fromCharCode(close)}" at byte ${this.pos}`);
        }
      }
      this.kind = c === LBRACE ? Kind.Object : Kind.Array;
      this.start = at;
      this.stop = this.pos;
      return;
    }
    if (c === 0x74 || c === 0x66 || (c === 0x6e && !fold3(buf, this.pos, end, 'nan'))) {
      const word = c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null';
      if (end - this.pos < word.length || buf.toString('latin1', this.pos, this.pos + word.length) !== word) {
        throw new JsonSyntaxError(`unexpected value at byte ${this.pos}`);
      }
      this.pos += word.length;
      this.kind = Kind.Literal;
      return;
    }
    // a number, as fastjson cuts it: [0-9.eE+-]*, or inf/nan with an optional sign
    let p = this.pos;
    while (p < end && isNumberChar(buf[p])) p++;
    const len = p - this.pos;
    if (p < end && (len === 0 || (len === 1 && (buf[this.pos] === 0x2d || buf[this.pos] === 0x2b)))) {
      if (fold3(buf, p, end, 'inf') || fold3(buf, p, end, 'nan')) p += 3;
      else throw new JsonSyntaxError(`unexpected character at byte ${this.pos}`);
    }
    this.kind = Kind.Number;
    this.start = this.pos;
    this.stop = p;
    this.pos = p;
  }
}

/** JSON string escapes decoded; an unknown or broken one is kept as sent (fastjson does). */
function unescape(s: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const b = s.indexOf('\\', i);
    if (b < 0 || b === s.length - 1) return out + s.slice(i);
    out += s.slice(i, b);
    const c = s[b + 1];
    i = b + 2;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out += c;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        const hex = s.slice(i, i + 4);
        if (/^[0-9a-fA-F]{4}$/.test(hex)) {
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
        } else out += '\\u';
        break;
      }
      default:
        out += '\\' + c;
    }
  }
}
