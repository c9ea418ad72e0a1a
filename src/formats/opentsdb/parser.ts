/**
 * OpenTSDB telnet `put`: `put <metric> <timestamp> <value> [<tag>=<value> ...]` per line, as
 * vmagent 1.79.5 reads it (checked side by side, see test/ingest/ingest-opentsdb-vmagent.test.ts):
 * - separators are spaces only (a tab is part of a field), runs of them allowed, leading ones too;
 *   the line must begin `put ` (lowercase);
 * - numbers in fastfloat's grammar (src/formats/rows/go-float.ts); the timestamp's fraction is
 *   dropped and `0` means now;
 * - tags are optional; a tag without `=` refuses the line, one with an empty name or value is
 *   dropped, a later tag of the same name wins and a `__name__` tag renames the series.
 * Timestamps below 2^32 are seconds, others milliseconds (OpenTSDB's rule, and later vmagent
 * releases'; 1.79.5 multiplies every telnet timestamp by 1000, which sends millisecond ones
 * past the year 50000 where storage drops them). `trimTimestampMs` over one second trims them
 * (`-opentsdbTrimTimestamp`). A timestamp that is not finite or past ±2^63 is refused, where
 * vmagent's integer conversion overflows.
 *
 * The metric and tag bytes are the series key: a series sent again costs one lookup.
 */

import { LabelsBuilder, METRIC_NAME, type Labels } from '../../model/labels.js';
import { BytesKeyedLabels } from '../../model/keyed-labels.js';
import { parseGoFloat } from '../rows/go-float.js';
import type { LineFormat, RowSink } from '../rows/index.js';

const SPACE = 0x20;
const EQ = 0x3d;
/** OpenTSDB's SECOND_MASK: a timestamp with none of these bits set is in seconds. */
const SECONDS_BELOW = 2 ** 32;
/** Milliseconds that still fit an int64. */
const MAX_TIMESTAMP = 9.2e18;

export interface OpenTsdbOptions {
  /** Trim timestamps to this many milliseconds when over 1000 (vmagent's `-opentsdbTrimTimestamp`). */
  readonly trimTimestampMs: number;
}

/**
 * A timestamp as read (fraction dropped) to milliseconds: `0` is now (whole seconds, as
 * vmagent), below 2^32 seconds, else milliseconds; then trimmed. Undefined when out of range.
 */
export function openTsdbTimestamp(ts: number, nowMs: number, trimMs: number, trimAbove: number): number | undefined {
  if (!(Math.abs(ts) < MAX_TIMESTAMP)) return undefined;
  ts = Math.trunc(ts);
  if (ts === 0) ts = Math.floor(nowMs / 1000);
  if (ts >= 0 && ts < SECONDS_BELOW) ts *= 1000;
  if (trimMs > trimAbove) ts -= ts % trimMs;
  return ts;
}

export class OpenTsdbTelnetParser implements LineFormat {
  private readonly series = new BytesKeyedLabels<Labels>();
  private readonly lb = new LabelsBuilder();

  constructor(private readonly opts: OpenTsdbOptions) {}

  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void {
    let p = skip(buf, start, end);
    if (!(end - p > 4 && buf[p] === 0x70 && buf[p + 1] === 0x75 && buf[p + 2] === 0x74 && buf[p + 3] === SPACE)) {
      return out.invalid(lineNo, `expected "put <metric> <timestamp> <value> [<tag>=<value> ...]", got ${quote(buf, p, end)}`);
    }
    const metricStart = skip(buf, p + 4, end);
    const metricEnd = field(buf, metricStart, end);
    if (metricEnd === end) return out.invalid(lineNo, 'missing timestamp and value after the metric');
    const tsStart = skip(buf, metricEnd + 1, end);
    const tsEnd = field(buf, tsStart, end);
    if (tsEnd === end) return out.invalid(lineNo, 'missing value after the timestamp');
    const rawTs = parseGoFloat(buf, tsStart, tsEnd);
    if (rawTs === undefined) return out.invalid(lineNo, `invalid timestamp ${quote(buf, tsStart, tsEnd)}`, 'value');
    const valueStart = skip(buf, tsEnd + 1, end);
    const valueEnd = field(buf, valueStart, end);
    const value = parseGoFloat(buf, valueStart, valueEnd);
    if (value === undefined) return out.invalid(lineNo, `invalid value ${quote(buf, valueStart, valueEnd)}`, 'value');
    const ts = openTsdbTimestamp(rawTs, out.now, this.opts.trimTimestampMs, 1000);
    if (ts === undefined) return out.invalid(lineNo, `timestamp ${quote(buf, tsStart, tsEnd)} out of range`, 'value');
    p = valueEnd < end ? valueEnd + 1 : end;
    // the key: metric and tags as sent, with what lies between them left out
    let labels = this.series.getPair(buf, metricStart, metricEnd, p, end);
    if (labels === undefined) {
      const made = this.labels(buf, metricStart, metricEnd, p, end);
      if (typeof made === 'string') return out.invalid(lineNo, made);
      labels = made;
      this.series.setPair(buf, metricStart, metricEnd, p, end, labels);
    }
    out.sample(labels, value, ts);
  }

  private labels(buf: Buffer, metricStart: number, metricEnd: number, p: number, end: number): Labels | string {
    const lb = this.lb.reset();
    lb.set(METRIC_NAME, buf.toString('utf8', metricStart, metricEnd));
    for (;;) {
      p = skip(buf, p, end);
      if (p >= end) break;
      const tagEnd = field(buf, p, end);
      let eq = p;
      while (eq < tagEnd && buf[eq] !== EQ) eq++;
      if (eq === tagEnd) return `tag ${quote(buf, p, tagEnd)} has no "=": expected <tag>=<value>`;
      // an empty name or value drops the tag, not the line (vmagent)
      if (eq > p && eq + 1 < tagEnd) lb.set(buf.toString('utf8', p, eq), buf.toString('utf8', eq + 1, tagEnd));
      p = tagEnd;
    }
    return lb.build();
  }
}

function field(buf: Buffer, p: number, end: number): number {
  while (p < end && buf[p] !== SPACE) p++;
  return p;
}

function skip(buf: Buffer, p: number, end: number): number {
  while (p < end && buf[p] === SPACE) p++;
  return p;
}

function quote(buf: Buffer, start: number, end: number): string {
  return JSON.stringify(buf.toString('utf8', start, Math.min(end, start + 64)));
}
