/**
 * CSV import (`/api/v1/import/csv?format=...`) in vmagent's syntax: the `format` query arg
 * describes columns as `<pos>:<type>:<context>` — `metric:<name>` (a value column, several per
 * row allowed), `label:<name>`, `time:<unix_s|unix_ms|unix_ns|rfc3339|custom:<Go layout>>`
 * (at most one) — and columns it does not name are ignored. Each line gives one sample per
 * metric column, all with the line's labels and time (now without a time column, or for 0).
 * As vmagent 1.79: fields may be quoted (`""` inside for a quote), an empty label value means
 * no label, and a line with an empty or bad value, a bad time, or fewer columns than the format
 * names is refused whole (reported with its line number).
 *
 * Speed: a row's fields are found as byte spans; plain numbers (values, unix times) are read
 * from the bytes, anything else through a string. The label fields' raw bytes (one span when the
 * label columns are next to each other) are the key of a cache holding the row's series, one per
 * metric column, so a row of known series costs one lookup — or a byte compare, when its line
 * had the same labels in the request before.
 */

import { KeyedLabels } from '../../model/keyed-labels.js';
import { LabelsBuilder, METRIC_NAME, type Labels } from '../../model/labels.js';
import { ByteFinder } from '../rows/finder.js';
import type { LineFormat, RowSink } from '../rows/index.js';
import { GoLayout, GoLayoutError, RFC3339 } from './go-time.js';

/** vmagent's limit on `<column_pos>`. */
const MAX_COLUMNS = 64 * 1024;
const COMMA = 0x2c;
const QUOTE = 0x22;

type ParseTime = (s: string) => number;

export interface CsvColumn {
  readonly metric?: string;
  readonly label?: string;
  readonly time?: ParseTime;
  /** For unix_s, unix_ms, unix_ns: milliseconds per unit, read from the bytes without `time`. */
  readonly unixMs?: number;
}

/** A `format` argument that is not one; the message names the entry (400). */
export class CsvFormatError extends Error {}

/** The columns of a `format` query arg, by position (0-based; undefined: ignored). */
export function parseCsvFormat(spec: string): (CsvColumn | undefined)[] {
  const cols: (CsvColumn | undefined)[] = [];
  let hasMetric = false;
  let hasTime = false;
  const entries = spec.split(',');
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    const n = i + 1;
    const a = splitN(entry, ':', 3);
    if (a.length !== 3) throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: expected <column_pos>:<column_type>:<extension>`);
    if (!/^\+?\d+$/.test(a[0])) throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: <column_pos> ${JSON.stringify(a[0])} is not a number`);
    const pos = Number(a[0]);
    if (pos < 1) throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: <column_pos> cannot be smaller than 1`);
    if (pos > MAX_COLUMNS) throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: <column_pos> cannot be bigger than ${MAX_COLUMNS}`);
    let col: CsvColumn;
    switch (a[1]) {
      case 'time':
        if (hasTime) throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: a second time column`);
        col = { time: timeParser(a[2], n, entry), unixMs: a[2] === 'unix_s' ? 1000 : a[2] === 'unix_ms' ? 1 : a[2] === 'unix_ns' ? 1e-6 : undefined };
        hasTime = true;
        break;
      case 'label':
        if (a[2] === '') throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: the label name cannot be empty`);
        col = { label: a[2] };
        break;
      case 'metric':
        if (a[2] === '') throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: the metric name cannot be empty`);
        col = { metric: a[2] };
        hasMetric = true;
        break;
      default:
        throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: unknown <column_type> ${JSON.stringify(a[1])}; allowed: time, metric, label`);
    }
    if (cols[pos - 1] !== undefined) throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: column ${pos} is described twice`);
    while (cols.length < pos) cols.push(undefined);
    cols[pos - 1] = col;
  }
  if (!hasMetric) throw new CsvFormatError(`format ${JSON.stringify(spec)}: no 'metric' column`);
  return cols;
}

function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + 1);
  }
  out.push(rest);
  return out;
}

const INT = /^-?\d+$/;

function timeParser(fmt: string, n: number, entry: string): ParseTime {
  const bad = (s: string, unit: string): never => {
    throw new Error(`cannot parse timestamp ${JSON.stringify(s)}: expected an integer in ${unit}`);
  };
  switch (fmt) {
    case 'unix_s':
      return (s) => (INT.test(s) ? Number(s) * 1000 : bad(s, 'seconds'));
    case 'unix_ms':
      return (s) => (INT.test(s) ? Number(s) : bad(s, 'milliseconds'));
    case 'unix_ns':
      // digits, not a double: nanoseconds pass 2^53; truncated toward zero as Go's integer division
      return (s) => {
        if (!INT.test(s)) return bad(s, 'nanoseconds');
        const neg = s[0] === '-';
        const digits = neg ? s.slice(1) : s;
        const ms = digits.length > 6 ? Number(digits.slice(0, -6)) : 0;
        return neg ? -ms : ms;
      };
    case 'rfc3339':
      return layoutParser(RFC3339, n, entry);
    default:
      if (fmt.startsWith('custom:')) return layoutParser(fmt.slice('custom:'.length), n, entry);
      throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: unknown time format ${JSON.stringify(fmt)}; supported: unix_s, unix_ms, unix_ns, rfc3339, custom:<Go layout>`);
  }
}

function layoutParser(layout: string, n: number, entry: string): ParseTime {
  let l: GoLayout;
  try {
    l = new GoLayout(layout);
  } catch (err) {
    if (err instanceof GoLayoutError) throw new CsvFormatError(`format entry #${n} ${JSON.stringify(entry)}: ${err.message}`);
    throw err;
  }
  return (s) => l.parse(s);
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;

function parseValue(s: string): number | undefined {
  if (NUMBER.test(s)) return Number(s);
  if (SPECIAL.test(s)) {
    const l = s.toLowerCase();
    return l.endsWith('nan') ? NaN : l.startsWith('-') ? -Infinity : Infinity;
  }
  return undefined;
}

/** A row's series (one per metric column) and its label run's raw bytes. */
interface Row {
  readonly raw: Buffer;
  readonly series: readonly Labels[];
}

const EMPTY = Buffer.alloc(0);
/** Lines of a request whose series is guessed from the request before (beyond, the cache alone). */
const MAX_GUESSED_LINES = 100_000;
const MINUS = 0x2d;
const DOT = 0x2e;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * `-?digits[.digits]` of at most 15 digits, exactly (the digits are an integer a double holds,
 * divided by a power of ten it holds too), or undefined for anything else — which the text
 * path then reads or refuses. `integer`: no fraction (a time column).
 */
function plainNumber(buf: Buffer, start: number, end: number, integer: boolean): number | undefined {
  let p = start;
  const neg = buf[p] === MINUS;
  if (neg) p++;
  if (p === end || end - p > 16) return undefined;
  let v = 0;
  let frac = -1;
  for (; p < end; p++) {
    const c = buf[p];
    if (c === DOT && frac < 0 && !integer) frac = p;
    else if (c >= 0x30 && c <= 0x39) v = v * 10 + (c - 0x30);
    else return undefined;
  }
  const first = start + (neg ? 1 : 0);
  if (frac < 0) {
    if (end - first > 15) return undefined;
  } else {
    const digits = end - frac - 1;
    if (digits === 0 || frac === first || end - first - 1 > 15) return undefined;
    v /= POW10[digits];
  }
  return neg ? -v : v;
}

export class CsvParser implements LineFormat {
  /** Per row's labels: the series of each metric column, in column order. */
  private readonly series = new KeyedLabels<Row>();
  /** The rows of the request before, by line number (only for a run of label columns, whose raw bytes compare). */
  private readonly byLine: (Row | undefined)[] = [];
  private readonly lb = new LabelsBuilder();
  private readonly labelCols: number[] = [];
  private readonly metricCols: number[] = [];
  /** The label columns are next to each other (no other named column between them): their raw bytes are the key. */
  private readonly labelRun: boolean;
  /** Per line, per named column: where its field is (start, end) and whether it was quoted with `""` inside (1). */
  private readonly spans: Int32Array;
  private readonly values: number[] = [];
  private readonly quotes = new ByteFinder(QUOTE);
  private readonly commas = new ByteFinder(COMMA);

  constructor(private readonly cols: readonly (CsvColumn | undefined)[]) {
    this.spans = new Int32Array(cols.length * 3);
    cols.forEach((c, i) => {
      if (c?.label !== undefined) this.labelCols.push(i);
      if (c?.metric !== undefined) this.metricCols.push(i);
    });
    const l = this.labelCols;
    this.labelRun = l.length > 0 && l.every((c, k) => k === 0 || cols.slice(l[k - 1] + 1, c).every((x) => x === undefined));
  }

  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void {
    const { cols, spans } = this;
    // the columns as vmagent's scanner cuts them: a trailing comma ends the line, it opens no empty column
    let p = start;
    let n = 0;
    while (p < end) {
      let fs: number;
      let fe: number;
      let escaped = 0;
      if (buf[p] === QUOTE) {
        let q = p + 1;
        for (;;) {
          const c = this.quotes.find(buf, q, end);
          if (c < 0) return out.invalid(lineNo, `missing closing quote in the field at column ${p - start + 1}`);
          if (c + 1 < end && buf[c + 1] === QUOTE) {
            escaped = 1;
            q = c + 2;
            continue;
          }
          if (c + 1 < end && buf[c + 1] !== COMMA) return out.invalid(lineNo, `missing comma after the quoted field at column ${p - start + 1}`);
          fs = p + 1;
          fe = c;
          p = c + 2;
          break;
        }
      } else {
        let c = this.commas.find(buf, p, end);
        if (c < 0) c = end;
        fs = p;
        fe = c;
        p = c + 1;
      }
      if (n < cols.length) {
        spans[n * 3] = fs;
        spans[n * 3 + 1] = fe;
        spans[n * 3 + 2] = escaped;
      }
      n++;
    }
    if (n < cols.length) return out.invalid(lineNo, `missing columns: got ${n}, the format names ${cols.length}`);
    let ts = 0;
    const values = this.values;
    values.length = 0;
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i];
      if (c === undefined || c.label !== undefined) continue;
      // the common numbers straight from the bytes; the rest (and every error) from the text
      const fast = spans[i * 3 + 2] === 0 ? plainNumber(buf, spans[i * 3], spans[i * 3 + 1], c.time !== undefined) : undefined;
      if (fast !== undefined) {
        if (c.time === undefined) values.push(fast);
        else if (c.unixMs === 1000) ts = fast * 1000;
        else if (c.unixMs === 1) ts = fast;
        else if (c.unixMs !== undefined) ts = Math.trunc(fast / 1e6);
      }
      if (fast !== undefined && (c.time === undefined || c.unixMs !== undefined)) continue;
      const text = this.field(buf, i);
      if (c.time !== undefined) {
        try {
          ts = c.time(text);
        } catch (err) {
          return out.invalid(lineNo, (err as Error).message, 'value');
        }
        if (!Number.isFinite(ts)) return out.invalid(lineNo, `timestamp ${JSON.stringify(text)} out of range`, 'value');
      } else {
        const v = parseValue(text);
        if (v === undefined) return out.invalid(lineNo, `cannot parse the value of ${JSON.stringify(c.metric)} (column ${i + 1}) from ${JSON.stringify(text)}`, 'value');
        values.push(v);
      }
    }
    if (ts === 0) ts = out.now;
    const series = this.rowSeries(buf, lineNo);
    for (let k = 0; k < series.length; k++) out.sample(series[k], values[k], ts);
  }

  /** The series of the row's metric columns: guessed from the same line of the request before, else the cache, else made. */
  private rowSeries(buf: Buffer, lineNo: number): readonly Labels[] {
    const guess = this.labelRun && lineNo < MAX_GUESSED_LINES ? this.byLine[lineNo] : undefined;
    if (guess !== undefined) {
      const [from, to] = this.run(buf);
      const len = to - from;
      if (guess.raw.length === len && buf.compare(guess.raw, 0, len, from, to) === 0) return guess.series;
    }
    const key = this.key(buf);
    let known = this.series.get(key);
    if (known === undefined) {
      const { cols } = this;
      const series = this.metricCols.map((col) => {
        const lb = this.lb.reset();
        for (const i of this.labelCols) lb.set(cols[i]!.label!, this.field(buf, i));
        lb.set(METRIC_NAME, cols[col]!.metric!);
        return lb.build();
      });
      known = { raw: this.labelRun ? Buffer.from(key, 'latin1') : EMPTY, series };
      this.series.set(key, known);
    }
    if (this.labelRun && lineNo < MAX_GUESSED_LINES) {
      const g = this.byLine;
      while (g.length < lineNo) g.push(undefined);
      g[lineNo] = known;
    }
    return known.series;
  }

  /** Where the run of label fields starts and ends in the line, quotes included. */
  private run(buf: Buffer): [number, number] {
    const s = this.spans;
    const l = this.labelCols;
    const first = l[0] * 3;
    const last = l[l.length - 1] * 3;
    const from = s[first] > 0 && buf[s[first] - 1] === QUOTE ? s[first] - 1 : s[first];
    const to = buf[s[last + 1]] === QUOTE ? s[last + 1] + 1 : s[last + 1];
    return [from, to];
  }

  /** A named column's field, unquoted. */
  private field(buf: Buffer, i: number): string {
    const s = this.spans;
    const text = buf.toString('utf8', s[i * 3], s[i * 3 + 1]);
    return s[i * 3 + 2] === 1 ? text.replaceAll('""', '"') : text;
  }

  /** The row's label fields as one string: the raw bytes of the run of label columns when they are next to each other. */
  private key(buf: Buffer): string {
    const l = this.labelCols;
    if (l.length === 0) return '';
    const s = this.spans;
    if (this.labelRun) {
      // from the first field's first byte to the last one's last, quotes and commas included
      const [from, to] = this.run(buf);
      return buf.toString('latin1', from, to);
    }
    // each field with its length: no field's bytes can pass for a separator
    let key = '';
    for (const i of l) key += `${s[i * 3 + 1] - s[i * 3]}:${buf.toString('latin1', s[i * 3], s[i * 3 + 1])}`;
    return key;
  }
}
