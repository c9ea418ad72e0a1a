/**
 * Graphite plaintext: `name value [timestamp]` per line, the name optionally tagged as
 * `name;tag1=v1;tag2=v2`; the timestamp in seconds (a missing or negative one means now),
 * trimmed to `trimTimestampMs` as vmagent's `-graphiteTrimTimestamp`. The dotted name is the
 * metric name as it is, unless `sanitizeMetricName` replaces what is outside `[a-zA-Z0-9:_.]`.
 *
 * The `name[;tags]` bytes are the series key: a series sent again costs one lookup, in place
 * (no string made of them), and a plain decimal value or timestamp is read off the bytes — a
 * line seen before allocates nothing.
 */

import { BytesKeyedLabels } from '../../model/keyed-labels.js';
import { LabelsBuilder, METRIC_NAME, type Labels } from '../../model/labels.js';
import type { LineFormat, RowSink } from '../rows/index.js';

const SPACE = 0x20;
const TAB = 0x09;

export interface GraphiteOptions {
  readonly trimTimestampMs: number;
  readonly sanitizeMetricName: boolean;
}

export class GraphiteParser implements LineFormat {
  private readonly series = new BytesKeyedLabels();
  private readonly lb = new LabelsBuilder();

  constructor(private readonly opts: GraphiteOptions) {}

  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void {
    while (start < end && (buf[start] === SPACE || buf[start] === TAB)) start++;
    if (start === end) return;
    const nameEnd = field(buf, start, end);
    const valueStart = skip(buf, nameEnd, end);
    if (valueStart === end) return out.invalid(lineNo, 'missing value: expected "name value [timestamp]"');
    const valueEnd = field(buf, valueStart, end);
    const value = decimal(buf, valueStart, valueEnd);
    if (Number.isNaN(value) && !isNaNText(buf, valueStart, valueEnd)) {
      return out.invalid(lineNo, `invalid value ${JSON.stringify(buf.toString('utf8', valueStart, valueEnd))}`, 'value');
    }
    let ts = out.now;
    const tsStart = skip(buf, valueEnd, end);
    if (tsStart < end) {
      const tsEnd = field(buf, tsStart, end);
      if (skip(buf, tsEnd, end) < end) return out.invalid(lineNo, 'unexpected text after the timestamp');
      const seconds = decimal(buf, tsStart, tsEnd);
      if (!Number.isFinite(seconds)) return out.invalid(lineNo, `invalid timestamp ${JSON.stringify(buf.toString('utf8', tsStart, tsEnd))}`, 'value');
      if (seconds > 0) ts = seconds * 1000;
    }
    const trim = this.opts.trimTimestampMs;
    if (trim > 1) ts -= ts % trim;
    else ts = Math.round(ts);
    let labels = this.series.get(buf, start, nameEnd);
    if (labels === undefined) {
      const made = this.labels(buf.toString('utf8', start, nameEnd));
      if (typeof made === 'string') return out.invalid(lineNo, made);
      labels = made;
      this.series.set(buf, start, nameEnd, labels);
    }
    out.sample(labels, value, ts);
  }

  /** The series of `name[;tag=value...]`, or why it is not one. */
  private labels(text: string): Labels | string {
    const parts = text.split(';');
    let name = parts[0];
    if (name === '') return 'empty metric name';
    if (this.opts.sanitizeMetricName) name = name.replace(/[^a-zA-Z0-9:_.]/g, '_');
    const lb = this.lb.reset();
    lb.set(METRIC_NAME, name);
    for (let i = 1; i < parts.length; i++) {
      const eq = parts[i].indexOf('=');
      if (eq <= 0) return `invalid tag ${JSON.stringify(parts[i])}: expected name=value`;
      lb.set(parts[i].slice(0, eq), parts[i].slice(eq + 1));
    }
    return lb.build();
  }
}

function field(buf: Buffer, p: number, end: number): number {
  while (p < end && buf[p] !== SPACE && buf[p] !== TAB) p++;
  return p;
}

function skip(buf: Buffer, p: number, end: number): number {
  while (p < end && (buf[p] === SPACE || buf[p] === TAB)) p++;
  return p;
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * `Number()` of the text, without making the text when it is a plain `-?digits[.digits]` of at
 * most 15 digits: then the digits are an exact integer and one division by an exact power of
 * ten rounds as `Number()` does. Anything else (exponents, `Infinity`, hex, more digits) takes
 * `Number()` itself, so the result is the same either way.
 */
function decimal(buf: Buffer, s: number, e: number): number {
  let i = s;
  const minus = buf[i] === 0x2d;
  if (minus) i++;
  const from = i;
  let d = 0;
  let frac = -1;
  for (; i < e; i++) {
    const c = buf[i];
    if (c >= 0x30 && c <= 0x39) d = d * 10 + (c - 0x30);
    else if (c === 0x2e && frac < 0) frac = i;
    else break;
  }
  const digits = i - from - (frac < 0 ? 0 : 1);
  if (i < e || digits === 0 || digits > 15 || frac === i - 1 || frac === from) return Number(buf.toString('latin1', s, e));
  const v = frac < 0 ? d : d / POW10[i - frac - 1];
  return minus ? -v : v;
}

function isNaNText(buf: Buffer, start: number, end: number): boolean {
  return end - start === 3 && buf.toString('latin1', start, end).toLowerCase() === 'nan';
}
