/**
 * Encoding families as length-delimited `io.prometheus.client.MetricFamily` messages: what a Go
 * client pushes, for tests and for clients of the push API. The inverse of parser.ts, so that
 * parse(write(families)) gives the families back for the types protobuf carries:
 *
 * - counter, gauge, unknown → COUNTER, GAUGE, UNTYPED, one Metric per sample. A counter's family
 *   takes the text format's name (`foo_total` for an OpenMetrics counter `foo`); info and
 *   stateset become gauges (an info family `foo` as `foo_info`), as in the text writer.
 * - summary, histogram, gaugehistogram → SUMMARY, HISTOGRAM, GAUGE_HISTOGRAM, one Metric per
 *   label set (the samples' labels without `__name__`, `quantile`, `le`), buckets and quantiles
 *   in sample order with their `le`/`quantile` text read back as doubles. A count that is not a
 *   non-negative integer goes into the `*_float` field.
 * - A Metric carries one timestamp: its first sample's. `_created` samples and samples that fit
 *   no suffix of the family's type are left out, as the text writer leaves out what 0.0.4
 *   cannot carry. Exemplars of counters and buckets are kept.
 */

import { METRIC_NAME, type Labels } from '../../model/labels.js';
import type { Exemplar, MetricFamily, MetricPoint } from '../../model/family.js';
import { parseGoFloat } from './gofloat.js';

const TYPE_NUMBER = {
  counter: 0,
  gauge: 1,
  summary: 2,
  unknown: 3,
  histogram: 4,
  gaugehistogram: 5,
  info: 1,
  stateset: 1,
} as const;

/** Encodes families as delimited MetricFamily messages, one per family, in order. */
export function writeProtobufFamilies(families: readonly MetricFamily[]): Buffer {
  const w = new ProtoWriter();
  for (const f of families) writeFamily(w, f);
  return w.finish();
}

function writeFamily(w: ProtoWriter, f: MetricFamily): void {
  const { name, sampleName } = protoNaming(f);
  const msg = w.begin();
  w.string(1, name);
  if (f.help !== undefined) w.string(2, f.help);
  w.uint64(3, TYPE_NUMBER[f.type]);
  switch (f.type) {
    case 'summary':
    case 'histogram':
    case 'gaugehistogram':
      for (const g of groups(f, f.type === 'summary' ? 'quantile' : 'le')) writeDistribution(w, f, g);
      break;
    default: {
      const field = f.type === 'counter' ? 3 : f.type === 'unknown' ? 5 : 2;
      for (const m of f.metrics) {
        if (m.labels.metricName !== sampleName) continue;
        writeMetric(w, m.labels, undefined, field, () => {
          w.double(1, m.value);
          if (field === 3 && m.exemplar !== undefined) writeExemplar(w, 2, m.exemplar);
          return m.timestamp;
        });
      }
    }
  }
  if (f.unit !== undefined && f.unit !== '') w.string(5, f.unit);
  w.end(msg);
}

/** The family name protobuf carries and the name of its simple samples. */
function protoNaming(f: MetricFamily): { name: string; sampleName: string } {
  if (f.type === 'counter' && !f.name.endsWith('_total') && f.metrics.some((m) => m.labels.metricName === f.name + '_total')) {
    return { name: f.name + '_total', sampleName: f.name + '_total' };
  }
  if (f.type === 'info') {
    const name = f.name.endsWith('_info') ? f.name : f.name + '_info';
    return { name, sampleName: name };
  }
  return { name: f.name, sampleName: f.name };
}

interface Group {
  labels: Labels;
  points: MetricPoint[];
}

/** A family's samples by label set without `__name__` and `extra`, in order of appearance. */
function groups(f: MetricFamily, extra: string): Group[] {
  const byKey = new Map<string, Group>();
  for (const m of f.metrics) {
    const base = m.labels.without(METRIC_NAME, extra);
    let g = byKey.get(base.key);
    if (g === undefined) {
      g = { labels: m.labels, points: [] };
      byKey.set(base.key, g);
    }
    g.points.push(m);
  }
  return [...byKey.values()];
}

/**
 * One Metric: its labels but `__name__` and `extra`, then the message in `field` (Gauge,
 * Counter, Summary, ...) that `value` writes, which returns the timestamp the Metric carries.
 */
function writeMetric(w: ProtoWriter, labels: Labels, extra: string | undefined, field: number, value: () => number | undefined): void {
  const metric = w.begin(4);
  writeLabels(w, 1, labels, extra);
  const start = w.begin(field);
  const timestamp = value();
  w.end(start);
  if (timestamp !== undefined) w.int64(6, timestamp);
  w.end(metric);
}

/**
 * A summary's or histogram's label set as one Summary or Histogram, which share their layout:
 * count at 1, sum at 2, a Quantile or Bucket per `quantile` or `le` sample at 3.
 */
function writeDistribution(w: ProtoWriter, f: MetricFamily, g: Group): void {
  const histogram = f.type !== 'summary';
  const gauge = f.type === 'gaugehistogram';
  const cut = histogram ? 'le' : 'quantile';
  const cutName = histogram ? f.name + '_bucket' : f.name;
  const sumName = f.name + (gauge ? '_gsum' : '_sum');
  const countName = f.name + (gauge ? '_gcount' : '_count');
  writeMetric(w, g.labels, cut, histogram ? 7 : 4, () => {
    let timestamp: number | undefined;
    for (const m of g.points) {
      const n = m.labels.metricName;
      if (n === cutName) {
        const bound = parseGoFloat(m.labels.get(cut) ?? '');
        if (bound === undefined) continue;
        const msg = w.begin(3);
        if (histogram) {
          writeCount(w, 1, 4, m.value);
          w.double(2, bound);
          if (m.exemplar !== undefined) writeExemplar(w, 3, m.exemplar);
        } else {
          w.double(1, bound);
          w.double(2, m.value);
        }
        w.end(msg);
      } else if (n === sumName) {
        w.double(2, m.value);
      } else if (n === countName) {
        writeCount(w, 1, histogram ? 4 : undefined, m.value);
      } else continue;
      timestamp ??= m.timestamp;
    }
    return timestamp;
  });
}

/**
 * An integral count as uint64; anything else as the float field, which overrides it when > 0,
 * or, where the message has none (Summary), rounded into uint64's range.
 */
function writeCount(w: ProtoWriter, intField: number, floatField: number | undefined, v: number): void {
  if (Number.isInteger(v) && v >= 0 && v <= 2 ** 64) w.uint64(intField, v);
  else if (floatField !== undefined) w.double(floatField, v);
  else w.uint64(intField, Math.min(Math.max(0, Math.round(v)) || 0, 2 ** 64));
}

/** Label pairs of `labels` but `__name__` and `skip`, in sorted order. */
function writeLabels(w: ProtoWriter, field: number, labels: Labels, skip: string | undefined): void {
  const kv = labels.kv;
  for (let i = 0; i < kv.length; i += 2) {
    if (kv[i] === METRIC_NAME || kv[i] === skip) continue;
    const pair = w.begin(field);
    w.string(1, kv[i]);
    w.string(2, kv[i + 1]);
    w.end(pair);
  }
}

function writeExemplar(w: ProtoWriter, field: number, e: Exemplar): void {
  const ex = w.begin(field);
  writeLabels(w, 1, e.labels, undefined);
  w.double(2, e.value);
  if (e.timestamp !== undefined) {
    // google.protobuf.Timestamp: nanos are never negative
    const seconds = Math.floor(e.timestamp / 1000);
    const nanos = Math.round((e.timestamp - seconds * 1000) * 1e6);
    const ts = w.begin(3);
    w.int64(1, seconds);
    if (nanos !== 0) w.uint64(2, nanos);
    w.end(ts);
  }
  w.end(ex);
}

/**
 * A growing buffer. Nested messages are written in place behind a one-byte length, moved up
 * in the rare case their length needs more bytes — cheaper than sizing everything first.
 */
class ProtoWriter {
  private buf = Buffer.allocUnsafe(4096);
  private pos = 0;

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** A non-negative safe integer. */
  private varint(n: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (n >= 0x80) {
      b[p++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    b[p++] = n;
    this.pos = p;
  }

  /** A non-negative integer, exactly below 2^64; 2^64 (the double nearest to 2^64 - 1) as 2^64 - 1. */
  uint64(field: number, n: number): void {
    this.tag(field, 0);
    if (n <= Number.MAX_SAFE_INTEGER) this.varint(n);
    else this.bigVarint(n >= 2 ** 64 ? 2n ** 64n - 1n : BigInt(n));
  }

  /** An integer as int64: negatives take ten bytes. */
  int64(field: number, n: number): void {
    this.tag(field, 0);
    if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) this.varint(n);
    else this.bigVarint(BigInt.asUintN(64, BigInt(n)));
  }

  private bigVarint(v: bigint): void {
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  double(field: number, v: number): void {
    this.tag(field, 1);
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  string(field: number, s: string): void {
    this.tag(field, 2);
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
  }

  /** Starts a nested message (or, without a field, a delimited top-level one). */
  begin(field?: number): number {
    if (field !== undefined) this.tag(field, 2);
    this.ensure(1);
    this.pos++;
    return this.pos;
  }

  end(start: number): void {
    const len = this.pos - start;
    let size = 1;
    for (let n = len; n >= 0x80; n = Math.floor(n / 128)) size++;
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(start + size - 1, start, this.pos);
      this.pos += size - 1;
    }
    // the length goes into the bytes reserved (and made room for) before the content
    const b = this.buf;
    let p = start - 1;
    let n = len;
    while (n >= 0x80) {
      b[p++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    b[p] = n;
  }
}
