/**
 * Graphite plaintext: `name value [timestamp]` per line, the name optionally tagged as
 * `name;tag1=v1;tag2=v2`. Read as vmagent 1.79.5 reads it (checked side by side, see
 * test/ingest/ingest-graphite-vmagent.test.ts):
 * - fields are separated by runs of spaces and tabs, but the line must start with the name (a
 *   leading blank is an empty name) and a blank after the value asks for a timestamp;
 * - numbers in fastfloat's grammar (src/formats/rows/go-float.ts): `nan`, `inf`, `1e3`, not `+1`,
 *   `.5`, `0x10`;
 * - the timestamp is in seconds, its fraction dropped; `0`, `-1` (and a missing one) mean now,
 *   any other value is kept even when storage will refuse it (negative, or milliseconds sent as
 *   seconds); `trimTimestampMs` over one second trims further (`-graphiteTrimTimestamp`);
 * - a tag without `=`, or with an empty name or value, is dropped (so `name;` is `name`); a later
 *   tag of the same name wins, and a `__name__` tag renames the series.
 * Deliberately different: a timestamp that is not finite or beyond ±2^63 ms is refused here,
 * where vmagent's integer conversion overflows and stores the sample at 1970-01-01.
 * `sanitizeMetricName` (later vmagent releases' `-graphite.sanitizeMetricName`; 1.79 has none)
 * collapses repeated dots and replaces what is outside `[a-zA-Z0-9:_.]` with `_`.
 *
 * The `name[;tags]` bytes are the series key: a series sent again costs one lookup.
 */

import { LabelsBuilder, METRIC_NAME, type Labels } from '../../model/labels.js';
import { BytesKeyedLabels } from '../../model/keyed-labels.js';
import { parseGoFloat } from '../rows/go-float.js';
import type { LineFormat, RowSink } from '../rows/index.js';

const SPACE = 0x20;
const TAB = 0x09;

/** Seconds whose milliseconds still fit an int64 (beyond, vmagent's arithmetic wraps). */
export const MAX_TIMESTAMP_SECONDS = 9.2e15;

export interface GraphiteOptions {
  readonly trimTimestampMs: number;
  readonly sanitizeMetricName: boolean;
}

export class GraphiteParser implements LineFormat {
  private readonly series = new BytesKeyedLabels<Labels>();
  private readonly lb = new LabelsBuilder();

  constructor(private readonly opts: GraphiteOptions) {}

  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void {
    const nameEnd = field(buf, start, end);
    if (nameEnd === end) return out.invalid(lineNo, 'missing value: expected "name value [timestamp]"');
    if (nameEnd === start) return out.invalid(lineNo, 'empty metric name (the line starts with a blank)');
    const valueStart = skip(buf, nameEnd + 1, end);
    const valueEnd = field(buf, valueStart, end);
    const value = parseGoFloat(buf, valueStart, valueEnd);
    if (value === undefined) return out.invalid(lineNo, `invalid value ${quote(buf, valueStart, valueEnd)}`, 'value');
    let seconds = 0;
    if (valueEnd < end) {
      const tsStart = skip(buf, valueEnd + 1, end);
      let tsEnd = end;
      while (tsEnd > tsStart && (buf[tsEnd - 1] === SPACE || buf[tsEnd - 1] === TAB)) tsEnd--;
      const ts = parseGoFloat(buf, tsStart, tsEnd);
      if (ts === undefined) {
        return out.invalid(lineNo, tsStart === tsEnd ? 'blank after the value but no timestamp' : `invalid timestamp ${quote(buf, tsStart, tsEnd)}`, 'value');
      }
      if (!(Math.abs(ts) < MAX_TIMESTAMP_SECONDS)) return out.invalid(lineNo, `timestamp ${quote(buf, tsStart, tsEnd)} out of range`, 'value');
      seconds = Math.trunc(ts);
    }
    if (seconds === 0 || seconds === -1) seconds = Math.floor(out.now / 1000);
    let ts = seconds * 1000;
    const trim = this.opts.trimTimestampMs;
    if (trim > 1000) ts -= ts % trim;
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
    if (this.opts.sanitizeMetricName) name = sanitize(name);
    const lb = this.lb.reset();
    lb.set(METRIC_NAME, name);
    for (let i = 1; i < parts.length; i++) {
      const tag = parts[i];
      const eq = tag.indexOf('=');
      // vmagent drops a tag without a name or a value rather than the line
      if (eq <= 0 || eq === tag.length - 1) continue;
      lb.set(tag.slice(0, eq), tag.slice(eq + 1));
    }
    return lb.build();
  }
}

/** Later vmagent's `-graphite.sanitizeMetricName`: `a..b` → `a.b`, then `[^a-zA-Z0-9:_.]` → `_`. */
export function sanitize(name: string): string {
  return name.replace(/\.{2,}/g, '.').replace(/[^a-zA-Z0-9:_.]/g, '_');
}

function field(buf: Buffer, p: number, end: number): number {
  while (p < end && buf[p] !== SPACE && buf[p] !== TAB) p++;
  return p;
}

function skip(buf: Buffer, p: number, end: number): number {
  while (p < end && (buf[p] === SPACE || buf[p] === TAB)) p++;
  return p;
}

function quote(buf: Buffer, start: number, end: number): string {
  return JSON.stringify(buf.toString('utf8', start, Math.min(end, start + 64)));
}
