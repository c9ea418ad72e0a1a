/**
 * Graphite plaintext: `name value [timestamp]` per line, the name optionally tagged as
 * `name;tag1=v1;tag2=v2`; the timestamp in seconds (a missing or negative one means now),
 * trimmed to `trimTimestampMs` as vmagent's `-graphiteTrimTimestamp`. The dotted name is the
 * metric name as it is, unless `sanitizeMetricName` replaces what is outside `[a-zA-Z0-9:_.]`.
 *
 * The `name[;tags]` bytes are the series key: a series sent again costs one lookup.
 */

import { KeyedLabels } from '../../model/keyed-labels.js';
import { LabelsBuilder, METRIC_NAME, type Labels } from '../../model/labels.js';
import type { LineFormat, RowSink } from '../rows/index.js';

const SPACE = 0x20;
const TAB = 0x09;

export interface GraphiteOptions {
  readonly trimTimestampMs: number;
  readonly sanitizeMetricName: boolean;
}

export class GraphiteParser implements LineFormat {
  private readonly series = new KeyedLabels();
  private readonly lb = new LabelsBuilder();

  constructor(private readonly opts: GraphiteOptions) {}

  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void {
    while (start < end && (buf[start] === SPACE || buf[start] === TAB)) start++;
    if (start === end) return;
    const nameEnd = field(buf, start, end);
    const valueStart = skip(buf, nameEnd, end);
    if (valueStart === end) return out.invalid(lineNo, 'missing value: expected "name value [timestamp]"');
    const valueEnd = field(buf, valueStart, end);
    const value = Number(buf.toString('latin1', valueStart, valueEnd));
    if (Number.isNaN(value) && !isNaNText(buf, valueStart, valueEnd)) {
      return out.invalid(lineNo, `invalid value ${JSON.stringify(buf.toString('utf8', valueStart, valueEnd))}`, 'value');
    }
    let ts = out.now;
    const tsStart = skip(buf, valueEnd, end);
    if (tsStart < end) {
      const tsEnd = field(buf, tsStart, end);
      if (skip(buf, tsEnd, end) < end) return out.invalid(lineNo, 'unexpected text after the timestamp');
      const seconds = Number(buf.toString('latin1', tsStart, tsEnd));
      if (!Number.isFinite(seconds)) return out.invalid(lineNo, `invalid timestamp ${JSON.stringify(buf.toString('utf8', tsStart, tsEnd))}`, 'value');
      if (seconds > 0) ts = seconds * 1000;
    }
    const trim = this.opts.trimTimestampMs;
    if (trim > 1) ts -= ts % trim;
    else ts = Math.round(ts);
    const key = buf.toString('latin1', start, nameEnd);
    let labels = this.series.get(key);
    if (labels === undefined) {
      const made = this.labels(buf.toString('utf8', start, nameEnd));
      if (typeof made === 'string') return out.invalid(lineNo, made);
      labels = made;
      this.series.set(key, labels);
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

function isNaNText(buf: Buffer, start: number, end: number): boolean {
  return end - start === 3 && buf.toString('latin1', start, end).toLowerCase() === 'nan';
}
