/**
 * Decoding the Prometheus protobuf exposition format — length-delimited
 * `io.prometheus.client.MetricFamily` messages (client_model's metrics.proto), what Go's
 * client_golang pushes by default — into the repository's families, in the conventions the
 * text-format parser uses for text 0.0.4. Rendering the result with the text writer gives the
 * page Go's expfmt would write for the same messages (and so the real Pushgateway shows):
 *
 * - COUNTER, GAUGE, UNTYPED → counter, gauge, unknown: one sample named as the family.
 * - SUMMARY → `name{quantile="q"}` per quantile, `name_sum`, `name_count`.
 * - HISTOGRAM → `name_bucket{le="b"}` per bucket (cumulative counts, in message order), an
 *   `le="+Inf"` bucket equal to the sample count when no bucket has that bound, `name_sum`,
 *   `name_count`. GAUGE_HISTOGRAM the same as a gaugehistogram with `_gsum`/`_gcount`.
 * - `le` and `quantile` values are formatted like expfmt (`0.005`, `1e+06`, `+Inf`: gofloat.ts).
 * - The `*_float` count fields override the integer counts when positive, as metrics.proto says.
 * - Exemplars of counters and classic buckets become the sample's exemplar (OpenMetrics pages
 *   show them); native-histogram exemplars, created timestamps and unknown fields are skipped.
 * - Native histograms are not supported: a histogram carrying native fields (schema, zero
 *   bucket, spans, deltas, counts) is refused when it has no classic buckets and otherwise
 *   reduced to its classic buckets, which is what a scraper without native support reads.
 * - Empty label values are dropped (an empty label is no label). Names must be legacy names
 *   unless `utf8Names` (Pushgateway 1.5.1 and text 0.0.4 allow no other); label names starting
 *   with `__` are refused, as client_golang's registry (so the Pushgateway) refuses them.
 * - What the Pushgateway would refuse as inconsistent is refused too: a metric without the
 *   field its family's type needs, a family name given twice, two metrics of a family with the
 *   same labels, a family whose name or sample names are another's (`h_sum` beside a histogram
 *   `h`), `le` on a histogram's metric, `quantile` on a summary's.
 *
 * Malformed input throws a `ProtobufError` naming the message (1-based), its family when known,
 * the byte offset in the body and the field. A family's fields are framed first (its name and
 * type may follow its metrics), then its metrics read, with scratch arrays reused between them;
 * short strings go through a small intern table (label names and values repeat across series),
 * ASCII without TextDecoder, and repeated label sets are found by hash, without a string key.
 */

import { Labels, METRIC_NAME } from '../../model/labels.js';
import { MAX_EXEMPLAR_LABEL_CHARS, type Exemplar, type MetricFamily, type MetricPoint, type MetricType } from '../../model/family.js';
import { formatGoFloat } from './gofloat.js';
import { isLegacyLabelName, isLegacyMetricName } from '../../model/names.js';

export class ProtobufError extends Error {
  constructor(
    /** 1-based number of the delimited message (metric family) in the body. */
    readonly messageNumber: number,
    /** The family's name, when it was read before the problem. */
    readonly family: string | undefined,
    /** Byte offset in the body. */
    readonly offset: number,
    readonly detail: string,
    /**
     * The body is well-formed protobuf but its metrics break a rule (a label name, a label twice,
     * a series twice, a value of the wrong type): what the Pushgateway counts as a failed push
     * of valid data rather than an unreadable body.
     */
    readonly invalid = false,
  ) {
    super(`message ${messageNumber}${family ? ` (family ${JSON.stringify(family)})` : ''}, byte ${offset}: ${detail}`);
    this.name = 'ProtobufError';
  }
}

export interface ProtobufParseOptions {
  /** Most metric families (delimited messages) a body may hold. Default: no limit. */
  maxMessages?: number;
  /** Most samples (text lines) the families may expand to. Default: no limit. */
  maxSamples?: number;
  /** Accept any non-empty UTF-8 metric and label name (Prometheus 3), not only legacy ones. */
  utf8Names?: boolean;
  /**
   * Add the `+Inf` bucket a histogram lacks, as expfmt does when it writes one (default true).
   * A store that shows what was pushed (the Pushgateway's JSON API) adds it only to its page.
   */
  infBucket?: boolean;
}

/** MetricType's numbers (metrics.proto) in our model. */
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'summary', 'unknown', 'histogram', 'gaugehistogram'];
/** The Metric field each type must use, by type number. */
const VALUE_FIELD = [3, 2, 4, 5, 7, 7];
const VALUE_FIELD_NAME = ['counter', 'gauge', 'summary', 'untyped', 'histogram', 'histogram'];
const METRIC_FIELD_NAMES = ['', 'Metric.label', 'Metric.gauge', 'Metric.counter', 'Metric.summary', 'Metric.untyped', 'Metric.timestamp_ms', 'Metric.histogram'];
const VALUE_NAMES = ['', '', 'Gauge.value', 'Counter.value', '', 'Untyped.value'];
/** The fields Summary and Histogram share (1 to 3), by number, and the histogram's float count. */
const SUMMARY_FIELD_NAMES = ['', 'Summary.sample_count', 'Summary.sample_sum', 'Summary.quantile'];
const HISTOGRAM_FIELD_NAMES = ['', 'Histogram.sample_count', 'Histogram.sample_sum', 'Histogram.bucket', 'Histogram.sample_count_float'];
const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32', 'invalid (6)', 'invalid (7)'];

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;

/** Groups inside groups (only in unknown fields) deeper than this are refused, not recursed. */
const MAX_GROUP_DEPTH = 32;

// ignoreBOM keeps a leading U+FEFF: it is part of the value, not a byte-order mark
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Buffer's native slicers skip toString's argument handling; toString where they are absent. */
interface NativeSlicers {
  latin1Slice?(start: number, end: number): string;
  utf8Slice?(start: number, end: number): string;
}
const NATIVE = Buffer.prototype as unknown as NativeSlicers;
const latin1: (b: Buffer, start: number, end: number) => string =
  typeof NATIVE.latin1Slice === 'function' ? (b, s, e) => (b as unknown as Required<NativeSlicers>).latin1Slice(s, e) : (b, s, e) => b.toString('latin1', s, e);
/** Replaces invalid sequences with U+FFFD: its output is checked (see `text`). */
const utf8Lossy: (b: Buffer, start: number, end: number) => string =
  typeof NATIVE.utf8Slice === 'function' ? (b, s, e) => (b as unknown as Required<NativeSlicers>).utf8Slice(s, e) : (b, s, e) => b.toString('utf8', s, e);

/**
 * Short ASCII strings by a hash of their bytes: a push repeats the same few label names and
 * values across its series, and a hit costs a compare instead of a new string. Shared by all
 * parses (strings are immutable), bounded by its size.
 */
const INTERN_BITS = 12;
const INTERN_MAX_LEN = 64;
const internTable: (string | undefined)[] = new Array(1 << INTERN_BITS).fill(undefined);



/** Decodes a body of delimited MetricFamily messages; throws ProtobufError on malformed input. */
export function parseProtobufFamilies(body: Uint8Array, opts: ProtobufParseOptions = {}): MetricFamily[] {
  return new FamilyDecoder(body, opts).run();
}

class FamilyDecoder {
  private readonly b: Uint8Array;
  private readonly buf: Buffer;
  private readonly dv: DataView;
  private pos = 0;
  private readonly maxMessages: number;
  private readonly maxSamples: number;
  private readonly utf8Names: boolean;
  private samples = 0;

  // where we are, for messages
  private msgNo = 0;
  private familyName: string | undefined = undefined;
  /** 1-based metric within the family while one is read, else 0. */
  private metricNo = 0;

  // the family being read
  private typeNo = 0;
  /** Per metric of the family: its field's offset, its content's start and end. */
  private metricTags: number[] = [];
  private metricStarts: number[] = [];
  private metricEnds: number[] = [];
  /** Family and sample names taken so far, by message number: see `claimNames`. */
  private readonly taken = new Map<string, number>();
  /** Name and type of each message's family, for messages about collisions. */
  private familyNames: string[] = [];
  private familyTypes: MetricType[] = [];
  /**
   * Label sets of the family's metrics, to find a repeated one: a hash of each set to the last
   * metric with that hash, earlier ones chained through `sameHash`, the sets kept in `bases`
   * (by metric number) to tell a repeat from a collision. No string key per series.
   */
  private readonly seenHashes = new Map<number, number>();
  private sameHash: number[] = [];
  private bases: string[][] = [];
  /** The hash of the last string read, taken in the pass that checks it for ASCII. */
  private strHash = 0;
  /** The key of the field being read and its offset: see `nextField`. */
  private fieldKey = 0;
  private fieldAt = 0;
  /** The value of the label pair read last, and the pair's hash: see `labelPair`. */
  private pairValue = '';
  private pairHash = 0;

  // the metric being read: labels in arrival order, then sorted into `kv`
  private labelCount = 0;
  private labelNames: string[] = [];
  private labelValues: string[] = [];
  private labelOffsets: number[] = [];
  private labelHashes: number[] = [];
  private order: number[] = [];
  /** Bit per Metric value field seen (1 << field number). */
  private valueFields = 0;
  private timestamp: number | undefined = undefined;
  private value = 0;
  private exemplar: Exemplar | undefined = undefined;
  private count = 0;
  private countFloat = 0;
  private sum = 0;
  private nCuts = 0;
  private cutBounds: number[] = [];
  private cutCounts: number[] = [];
  private cutCountFloats: number[] = [];
  private cutExemplars: (Exemplar | undefined)[] = [];
  /** Hash of the label set `sortedLabels` returned last. */
  private baseHash = 0;
  /**
   * `le`/`quantile` texts by position, from the metric before: the metrics of a family mostly
   * share one bucket layout, and formatting a float costs more than comparing it.
   */
  private cutTextBounds: number[] = [];
  private cutTexts: string[] = [];
  /** The family's sample names, made once per family. */
  private bucketName = '';
  private sumName = '';
  private countName = '';
  /** Offset of the first native-histogram field of the metric, or -1. */
  private nativeAt = -1;
  private readonly infBucket: boolean;

  constructor(body: Uint8Array, opts: ProtobufParseOptions) {
    this.b = body;
    this.buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    this.maxMessages = opts.maxMessages ?? Infinity;
    this.maxSamples = opts.maxSamples ?? Infinity;
    this.utf8Names = opts.utf8Names ?? false;
    this.infBucket = opts.infBucket ?? true;
  }

  run(): MetricFamily[] {
    const families: MetricFamily[] = [];
    const end = this.b.length;
    while (this.pos < end) {
      this.msgNo++;
      this.familyName = undefined;
      this.metricNo = 0;
      const at = this.pos;
      if (this.msgNo > this.maxMessages) this.fail(at, `more than ${this.maxMessages} metric families in one body`);
      const len = this.varint(end, 'the length prefix');
      if (len > end - this.pos) this.fail(at, `length prefix ${len} runs past the end of the body (${end - this.pos} bytes left)`);
      const start = this.pos;
      this.pos = start + len;
      families.push(this.family(start, start + len));
      this.pos = start + len;
    }
    return families;
  }

  // ---------------------------------------------------------------- messages

  private family(start: number, end: number): MetricFamily {
    // First the family's own fields, remembering where its metrics are: they may come before
    // the name and type they need.
    this.pos = start;
    let name = '';
    let nameAt = -1;
    let help: string | undefined;
    let unit = '';
    let typeNo = 0;
    let typeAt = start;
    let metrics = 0;
    while (this.pos < end) {
      switch (this.nextField(end)) {
        case 1:
          nameAt = this.fieldAt;
          name = this.string(end, 'MetricFamily.name');
          this.familyName = name === '' ? undefined : name;
          break;
        case 2:
          help = this.text(end, 'MetricFamily.help');
          break;
        case 3:
          typeAt = this.fieldAt;
          typeNo = this.int64(end, 'MetricFamily.type'); // an enum: int32, negatives in ten bytes
          break;
        case 4: {
          this.metricTags[metrics] = this.fieldAt;
          const e = this.message(end, 'MetricFamily.metric');
          this.metricStarts[metrics] = this.pos;
          this.metricEnds[metrics] = e;
          this.pos = e;
          metrics++;
          break;
        }
        case 5:
          unit = this.text(end, 'MetricFamily.unit');
          break;
        default:
          this.skipField(end);
      }
    }
    if (name === '') this.fail(nameAt < 0 ? start : nameAt, 'the metric family has no name');
    if (this.utf8Names ? false : !isLegacyMetricName(name)) {
      this.familyName = undefined;
      this.fail(nameAt, `metric name ${JSON.stringify(name)} is not valid`);
    }
    const first = this.taken.get(name);
    if (first !== undefined && this.familyNames[first] === name) {
      this.fail(nameAt, `family ${JSON.stringify(name)} appears again (first in message ${first})`);
    }
    const type = typeNo >= 0 && typeNo < TYPES.length ? TYPES[typeNo] : undefined;
    if (type === undefined) this.fail(typeAt, `MetricFamily.type: unknown metric type ${typeNo}`);
    this.typeNo = typeNo;
    const gauge = type === 'gaugehistogram';
    const histogram = gauge || type === 'histogram';
    const summary = type === 'summary';
    this.bucketName = histogram ? name + '_bucket' : '';
    this.sumName = histogram || summary ? name + (gauge ? '_gsum' : '_sum') : '';
    this.countName = histogram || summary ? name + (gauge ? '_gcount' : '_count') : '';
    this.claim(name, nameAt);
    if (histogram) this.claim(this.bucketName, nameAt);
    if (this.sumName !== '') {
      this.claim(this.sumName, nameAt);
      this.claim(this.countName, nameAt);
    }
    this.familyNames[this.msgNo] = name;
    this.familyTypes[this.msgNo] = type;

    const family: MetricFamily = { name, type, metrics: [] };
    if (help !== undefined) family.help = help;
    // OpenMetrics wants the unit as the name's suffix; Pushgateway 1.5.1 ignores the field
    if (unit !== '' && name.endsWith('_' + unit)) family.unit = unit;
    this.seenHashes.clear();
    for (let i = 0; i < metrics; i++) {
      this.metricNo = i + 1;
      this.metric(this.metricTags[i], this.metricStarts[i], this.metricEnds[i], family);
    }
    this.metricNo = 0;
    return family;
  }

  /**
   * Takes a family or sample name for this message's family, refusing one that another family
   * took (a gauge `h_sum` beside a histogram `h`): the page would mix them up, and
   * client_golang's registry, so the Pushgateway, refuses such a push.
   */
  private claim(taken: string, at: number): void {
    const other = this.taken.get(taken);
    if (other !== undefined) {
      const name = this.familyName!;
      this.invalid(
        at,
        `family ${JSON.stringify(name)} collides with the ${this.familyTypes[other]} ${JSON.stringify(this.familyNames[other])} of message ${other}: both would use the name ${JSON.stringify(taken)}`,
      );
    }
    this.taken.set(taken, this.msgNo);
  }

  /** Reads one Metric (`at0`: its field, for messages) and emits its samples. */
  private metric(at0: number, start: number, end: number, family: MetricFamily): void {
    this.labelCount = 0;
    this.valueFields = 0;
    this.timestamp = undefined;
    this.value = 0;
    this.exemplar = undefined;
    this.count = 0;
    this.countFloat = 0;
    this.sum = 0;
    this.nCuts = 0;
    this.nativeAt = -1;
    const wanted = VALUE_FIELD[this.typeNo];
    this.pos = start;
    while (this.pos < end) {
      const field = this.nextField(end);
      switch (field) {
        case 1:
          this.metricLabel(end);
          break;
        case 2:
        case 3:
        case 4:
        case 5:
        case 7: {
          const e = this.message(end, METRIC_FIELD_NAMES[field]);
          this.valueFields |= 1 << field;
          // fields of another type are ignored, as expfmt does; a repeated one merges
          if (field === wanted) {
            if (field === 4 || field === 7) this.distribution(e, field === 7);
            else this.simpleValue(e, field);
          }
          this.pos = e;
          break;
        }
        case 6: {
          const vs = this.pos;
          const ts = this.int64(end, 'Metric.timestamp_ms');
          if (!Number.isSafeInteger(ts)) {
            this.fail(this.fieldAt, `Metric.timestamp_ms: ${BigInt.asIntN(64, this.bigVarint(vs, this.pos))} is beyond ±2^53 milliseconds`);
          }
          this.timestamp = ts;
          break;
        }
        default:
          this.skipField(end);
      }
    }
    if ((this.valueFields & (1 << wanted)) === 0) {
      this.invalid(at0, `the metric has no ${VALUE_FIELD_NAME[this.typeNo]} field, which a ${family.type} family requires`);
    }
    this.emit(family, at0);
  }

  /** A Metric.label, kept in arrival order. */
  private metricLabel(end: number): void {
    const at = this.fieldAt;
    const name = this.labelPair(this.message(end, 'Metric.label'), at, '');
    if (name.charCodeAt(0) === 0x5f && name.charCodeAt(1) === 0x5f) {
      if (name === METRIC_NAME) this.invalid(at, 'label "__name__" must not be set in the labels: it is the family name');
      // Prometheus keeps the prefix for itself; client_golang, so the Pushgateway, refuses it
      this.invalid(at, `label name ${JSON.stringify(name)} is reserved: names starting with "__" are for internal use`);
    }
    const n = this.labelCount++;
    this.labelNames[n] = name;
    this.labelValues[n] = this.pairValue;
    this.labelOffsets[n] = at;
    this.labelHashes[n] = this.pairHash;
  }

  /**
   * A LabelPair of a metric or an exemplar (`what`, for messages; '' for a metric's): returns
   * its name, checked, and leaves its value and the pair's hash in `pairValue`, `pairHash`.
   */
  private labelPair(end: number, at: number, what: string): string {
    let name = '';
    let value = '';
    let nameHash = 0;
    let valueHash = 0;
    while (this.pos < end) {
      const f = this.nextField(end);
      if (f === 1) {
        name = this.string(end, 'LabelPair.name');
        nameHash = this.strHash;
      } else if (f === 2) {
        value = this.string(end, 'LabelPair.value');
        valueHash = this.strHash;
      } else {
        this.skipField(end);
      }
    }
    if (this.utf8Names ? name === '' : !isLegacyLabelName(name)) {
      this.invalid(at, `${what === '' ? '' : what + ': '}label name ${JSON.stringify(name)} is not valid`);
    }
    this.pairValue = value;
    this.pairHash = Math.imul(nameHash, 31) ^ valueHash;
    return name;
  }

  /** Gauge, Counter or Untyped: the value at field 1, a counter's exemplar at 2. */
  private simpleValue(end: number, field: number): void {
    while (this.pos < end) {
      const f = this.nextField(end);
      if (f === 1) this.value = this.double(end, VALUE_NAMES[field]);
      else if (f === 2 && field === 3) this.exemplar = this.exemplarMessage(end, 'Counter.exemplar');
      else this.skipField(end);
    }
  }

  /**
   * A Summary or a Histogram: metrics.proto gives both the count at field 1, the sum at 2 and
   * their quantiles or buckets at 3; the other fields are the histogram's.
   */
  private distribution(end: number, histogram: boolean): void {
    const names = histogram ? HISTOGRAM_FIELD_NAMES : SUMMARY_FIELD_NAMES;
    while (this.pos < end) {
      const f = this.nextField(end);
      if (f === 1) {
        this.count = this.uint64(end, names[1]);
      } else if (f === 2) {
        this.sum = this.double(end, names[2]);
      } else if (f === 3) {
        const e = this.message(end, names[3]);
        if (histogram) this.bucket(e);
        else this.quantile(e);
      } else if (histogram && f === 4) {
        this.countFloat = this.double(end, names[4]);
      } else {
        // native histogram parts (5 to 14): noted, checked for framing only
        if (histogram && f <= 14 && this.nativeAt < 0) this.nativeAt = this.fieldAt;
        this.skipField(end);
      }
    }
  }

  private quantile(end: number): void {
    let q = 0;
    let v = 0;
    while (this.pos < end) {
      const f = this.nextField(end);
      if (f === 1) q = this.double(end, 'Quantile.quantile');
      else if (f === 2) v = this.double(end, 'Quantile.value');
      else this.skipField(end);
    }
    const n = this.nCuts++;
    this.cutBounds[n] = q;
    this.cutCounts[n] = v;
  }

  private bucket(end: number): void {
    let count = 0;
    let countFloat = 0;
    let bound = 0;
    let exemplar: Exemplar | undefined;
    while (this.pos < end) {
      const f = this.nextField(end);
      if (f === 1) count = this.uint64(end, 'Bucket.cumulative_count');
      else if (f === 2) bound = this.double(end, 'Bucket.upper_bound');
      else if (f === 3) exemplar = this.exemplarMessage(end, 'Bucket.exemplar');
      else if (f === 4) countFloat = this.double(end, 'Bucket.cumulative_count_float');
      else this.skipField(end);
    }
    const n = this.nCuts++;
    this.cutBounds[n] = bound;
    this.cutCounts[n] = count;
    this.cutCountFloats[n] = countFloat;
    this.cutExemplars[n] = exemplar;
  }

  /** The Exemplar in field `what`. */
  private exemplarMessage(end: number, what: string): Exemplar {
    const e = this.message(end, what);
    const s = this.pos;
    const pairs: string[] = [];
    let value = 0;
    let timestamp: number | undefined;
    while (this.pos < e) {
      const f = this.nextField(e);
      if (f === 1) {
        const at = this.fieldAt;
        const name = this.labelPair(this.message(e, 'Exemplar.label'), at, what);
        for (let i = 0; i < pairs.length; i += 2) {
          if (pairs[i] === name) this.invalid(at, `${what}: duplicate label name ${JSON.stringify(name)}`);
        }
        pairs.push(name, this.pairValue);
      } else if (f === 2) {
        value = this.double(e, 'Exemplar.value');
      } else if (f === 3) {
        timestamp = this.protoTimestamp(e);
      } else {
        this.skipField(e);
      }
    }
    // OpenMetrics' limit, which client_golang enforces too: the exemplar must stay writable
    let chars = 0;
    for (const p of pairs) chars += [...p].length;
    if (chars > MAX_EXEMPLAR_LABEL_CHARS) this.fail(s, `${what}: exemplar labels have ${chars} characters, more than the ${MAX_EXEMPLAR_LABEL_CHARS} allowed`);
    const kv: [string, string][] = [];
    for (let i = 0; i < pairs.length; i += 2) kv.push([pairs[i], pairs[i + 1]]);
    const ex: Exemplar = { labels: Labels.fromPairs(kv), value };
    if (timestamp !== undefined) ex.timestamp = timestamp;
    return ex;
  }

  /** A google.protobuf.Timestamp as milliseconds, sub-millisecond digits truncated. */
  private protoTimestamp(end: number): number {
    const e = this.message(end, 'Exemplar.timestamp');
    const s = this.pos;
    let seconds = 0;
    let nanos = 0;
    while (this.pos < e) {
      const f = this.nextField(e);
      if (f === 1) {
        seconds = this.int64(e, 'Timestamp.seconds');
      } else if (f === 2) {
        nanos = this.int64(e, 'Timestamp.nanos');
        if (nanos < 0 || nanos > 999_999_999) this.fail(this.fieldAt, `Timestamp.nanos: ${nanos} is outside 0..999999999`);
      } else {
        this.skipField(e);
      }
    }
    const ms = seconds * 1000 + Math.floor(nanos / 1e6);
    if (!Number.isSafeInteger(ms)) this.fail(s, `Exemplar.timestamp: ${seconds} seconds is beyond ±2^53 milliseconds`);
    return ms;
  }

  // ---------------------------------------------------------------- samples

  /** Turns the metric just read into its samples. */
  private emit(family: MetricFamily, metricAt: number): void {
    const base = this.sortedLabels(family.type);
    const hash = this.baseHash;
    const name = family.name;
    const out = family.metrics;
    const ts = this.timestamp;
    switch (family.type) {
      case 'summary': {
        for (let i = 0; i < this.nCuts; i++) {
          this.push(out, withName(base, name, 'quantile', this.cutText(i)), this.cutCounts[i], ts, undefined, metricAt);
        }
        this.push(out, withName(base, this.sumName), this.sum, ts, undefined, metricAt);
        this.push(out, withName(base, this.countName), this.count, ts, undefined, metricAt);
        break;
      }
      case 'histogram':
      case 'gaugehistogram': {
        if (this.nativeAt >= 0 && this.nCuts === 0) {
          this.fail(this.nativeAt, 'native histograms are not supported, and this histogram has no classic buckets');
        }
        const count = this.countFloat > 0 ? this.countFloat : this.count;
        const bucket = this.bucketName;
        let inf = false;
        for (let i = 0; i < this.nCuts; i++) {
          const bound = this.cutBounds[i];
          if (bound === Infinity) inf = true;
          const cf = this.cutCountFloats[i];
          this.push(out, withName(base, bucket, 'le', this.cutText(i)), cf > 0 ? cf : this.cutCounts[i], ts, this.cutExemplars[i], metricAt);
        }
        if (!inf && this.infBucket) this.push(out, withName(base, bucket, 'le', '+Inf'), count, ts, undefined, metricAt);
        this.push(out, withName(base, this.sumName), this.sum, ts, undefined, metricAt);
        this.push(out, withName(base, this.countName), count, ts, undefined, metricAt);
        break;
      }
      default:
        this.push(out, withName(base, name), this.value, ts, family.type === 'counter' ? this.exemplar : undefined, metricAt);
    }
    const no = this.metricNo;
    const last = this.seenHashes.get(hash);
    for (let other = last; other !== undefined && other > 0; other = this.sameHash[other]) {
      if (sameStrings(this.bases[other], base)) {
        this.invalid(metricAt, `metric ${no} has the same labels as metric ${other}: ${base.length === 0 ? '{}' : Labels.fromSortedFlat(base).toString()}`);
      }
    }
    this.sameHash[no] = last ?? 0;
    this.seenHashes.set(hash, no);
    this.bases[no] = base;
  }

  /** The label text of bucket bound or quantile `i`. */
  private cutText(i: number): string {
    const v = this.cutBounds[i];
    // Object.is: 0 and -0 format alike, but NaN must match NaN
    if (i < this.cutTexts.length && Object.is(this.cutTextBounds[i], v)) return this.cutTexts[i];
    const text = formatGoFloat(v);
    this.cutTextBounds[i] = v;
    this.cutTexts[i] = text;
    return text;
  }

  private push(out: MetricPoint[], kv: string[], value: number, ts: number | undefined, ex: Exemplar | undefined, at: number): void {
    if (++this.samples > this.maxSamples) this.fail(at, `more than ${this.maxSamples} samples in one body`);
    const labels = Labels.fromSortedFlat(kv);
    const p: MetricPoint = ts === undefined ? { labels, value } : { labels, value, timestamp: ts };
    if (ex !== undefined) p.exemplar = ex;
    out.push(p);
  }

  /** The metric's labels sorted flat, empty values dropped, after the checks across pairs. */
  private sortedLabels(type: MetricType): string[] {
    const n = this.labelCount;
    const names = this.labelNames;
    const order = this.order;
    for (let i = 0; i < n; i++) {
      // insertion sort: a handful of labels, usually sorted already (client_golang sorts)
      const name = names[i];
      let j = i - 1;
      while (j >= 0 && names[order[j]] > name) {
        order[j + 1] = order[j];
        j--;
      }
      order[j + 1] = i;
    }
    const kv: string[] = [];
    let hash = 0x811c9dc5;
    const reserved = type === 'summary' ? 'quantile' : type === 'histogram' || type === 'gaugehistogram' ? 'le' : undefined;
    for (let i = 0; i < n; i++) {
      const k = order[i];
      const name = names[k];
      // an empty value still counts for duplicates, as in the text format
      if (i > 0 && names[order[i - 1]] === name) {
        const later = Math.max(k, order[i - 1]);
        this.invalid(this.labelOffsets[later], `duplicate label name ${JSON.stringify(name)}`);
      }
      if (name === reserved) {
        this.invalid(this.labelOffsets[k], `label ${JSON.stringify(name)} is reserved for the ${type}'s own samples`);
      }
      const value = this.labelValues[k];
      if (value !== '') {
        kv.push(name, value);
        hash = Math.imul(hash ^ this.labelHashes[k], 0x01000193) ^ (hash >>> 15);
      }
    }
    this.baseHash = hash;
    return kv;
  }

  // ---------------------------------------------------------------- wire

  private fail(offset: number, detail: string, invalid = false): never {
    const where = this.metricNo > 0 ? `metric ${this.metricNo}: ` : '';
    throw new ProtobufError(this.msgNo, this.familyName, offset, where + detail, invalid);
  }

  /** A rule of the data broken in a readable body (see ProtobufError.invalid). */
  private invalid(offset: number, detail: string): never {
    this.fail(offset, detail, true);
  }

  /**
   * Reads a field's key and returns its number; field number 0 and numbers beyond 2^29 do not
   * exist. The key and its offset stay in `fieldKey` and `fieldAt` for what reads the field
   * next — `uint64`, `int64`, `double`, `message`, `string`, `text`, which refuse another wire
   * type with the field's name, and `skipField` — until the next key is read, a nested one
   * included: a reader that needs the offset after a nested message keeps it first.
   */
  private nextField(end: number): number {
    const p = this.pos;
    this.fieldAt = p;
    if (p < end) {
      const c = this.b[p];
      if (c < 0x80) {
        this.pos = p + 1;
        if (c < 8) this.fail(p, 'field number 0 is not valid');
        this.fieldKey = c;
        return c >>> 3;
      }
    }
    const key = this.varint(end, 'a field key');
    if (key < 8 || key > 0xffffffff) this.fail(p, `field key ${key} is not valid`);
    this.fieldKey = key;
    return key >>> 3;
  }

  private expect(expected: number, what: string): void {
    const wire = this.fieldKey & 7;
    if (wire !== expected) this.fail(this.fieldAt, `${what} has wire type ${WIRE_NAMES[wire]}, expected ${WIRE_NAMES[expected]}`);
  }

  /** Skips the field just read: unknown, or of a type the family does not use. */
  private skipField(end: number): void {
    const key = this.fieldKey;
    this.skip(this.fieldAt, key & 7, end, key >>> 3);
  }

  /** A varint as a number: exact below 2^53, the nearest double above (uint64). */
  private varint(end: number, what: string): number {
    const b = this.b;
    let p = this.pos;
    if (p < end) {
      const c = b[p];
      if (c < 0x80) {
        this.pos = p + 1;
        return c;
      }
      if (p + 1 < end && b[p + 1] < 0x80) {
        this.pos = p + 2;
        return (c & 0x7f) | (b[p + 1] << 7);
      }
    }
    const start = p;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= end) this.fail(start, `${what}: truncated varint`);
      const c = b[p++];
      result += (c & 0x7f) * mul;
      if (c < 0x80) {
        this.pos = p;
        // past 7 bytes (2^49) the sum of doubles may round more than once: redo it exactly
        return i < 7 ? result : Number(this.bigVarint(start, p));
      }
      mul *= 128;
    }
    this.fail(start, `${what}: varint longer than 10 bytes`);
  }

  private bigVarint(start: number, end: number): bigint {
    let big = 0n;
    for (let i = end - 1; i >= start; i--) big = (big << 7n) | BigInt(this.b[i] & 0x7f);
    return BigInt.asUintN(64, big);
  }

  private uint64(end: number, what: string): number {
    this.expect(VARINT, what);
    return this.varint(end, what);
  }

  /** An int64 varint, negatives (ten bytes, two's complement) included. */
  private int64(end: number, what: string): number {
    this.expect(VARINT, what);
    const start = this.pos;
    const v = this.varint(end, what);
    if (this.pos - start < 8) return v;
    return Number(BigInt.asIntN(64, this.bigVarint(start, this.pos)));
  }

  private double(end: number, what: string): number {
    this.expect(I64, what);
    const p = this.pos;
    if (end - p < 8) this.fail(p, `${what}: truncated double (${end - p} of 8 bytes)`);
    this.pos = p + 8;
    return this.dv.getFloat64(p, true);
  }

  /** An embedded message: returns where it ends and leaves `pos` at its start. */
  private message(end: number, what: string): number {
    this.expect(LEN, what);
    const s = this.length(end, what);
    const e = this.pos;
    this.pos = s;
    return e;
  }

  /** Reads a length prefix; returns where the content starts and leaves `pos` at its end. */
  private length(end: number, what: string): number {
    const at = this.pos;
    const n = this.varint(end, what);
    const s = this.pos;
    if (n > end - s) this.fail(at, `${what}: length ${n} runs past the end of its message (${end - s} bytes left)`);
    this.pos = s + n;
    return s;
  }

  /** A name or label value: hashed (`strHash`) and, when short and ASCII, interned. */
  private string(end: number, what: string): string {
    this.expect(LEN, what);
    const s = this.length(end, what);
    const e = this.pos;
    const b = this.b;
    // one pass: the ASCII check, and a hash for the intern table and the label-set hash
    let h = 0x811c9dc5;
    let high = 0;
    for (let i = s; i < e; i++) {
      const c = b[i];
      high |= c;
      h = Math.imul(h ^ c, 0x01000193);
    }
    this.strHash = h;
    const n = e - s;
    if (n === 0) return '';
    if (high >= 0x80) return this.utf8(s, e, what);
    if (n > INTERN_MAX_LEN) return this.ascii(s, e);
    const slot = (h ^ (h >>> 16)) & ((1 << INTERN_BITS) - 1);
    const cached = internTable[slot];
    if (cached !== undefined && cached.length === n) {
      let i = 0;
      while (i < n && cached.charCodeAt(i) === b[s + i]) i++;
      if (i === n) return cached;
    }
    const str = this.ascii(s, e);
    internTable[slot] = str;
    return str;
  }

  /** Free text (HELP): decoded natively, checked afterwards — long and mostly ASCII. */
  private text(end: number, what: string): string {
    this.expect(LEN, what);
    const s = this.length(end, what);
    const e = this.pos;
    if (s === e) return '';
    const str = utf8Lossy(this.buf, s, e);
    // the lossy decoder marks what it could not decode; a U+FFFD may also have been sent as such
    if (str.includes('\uFFFD')) return this.utf8(s, e, what);
    return str;
  }

  private ascii(s: number, e: number): string {
    // V8 makes a flat string of concatenations under 13 characters; longer ones go native
    if (e - s < 13) {
      const b = this.b;
      let str = '';
      for (let i = s; i < e; i++) str += String.fromCharCode(b[i]);
      return str;
    }
    return latin1(this.buf, s, e);
  }

  private utf8(s: number, e: number, what: string): string {
    try {
      return utf8.decode(this.b.subarray(s, e));
    } catch {
      this.invalid(s, `${what}: not valid UTF-8`);
    }
  }

  /** Skips an unknown field by its wire type. */
  private skip(at: number, wire: number, end: number, field: number, depth = 0): void {
    switch (wire) {
      case VARINT:
        this.varint(end, `field ${field}`);
        return;
      case LEN:
        this.length(end, `field ${field}`);
        return;
      case I64:
      case I32: {
        const n = wire === I64 ? 8 : 4;
        if (end - this.pos < n) this.fail(at, `field ${field}: truncated ${WIRE_NAMES[wire]}`);
        this.pos += n;
        return;
      }
      case SGROUP: {
        if (depth >= MAX_GROUP_DEPTH) this.fail(at, `field ${field}: groups nested deeper than ${MAX_GROUP_DEPTH}`);
        for (;;) {
          if (this.pos >= end) this.fail(at, `field ${field}: group without its end`);
          const inner = this.nextField(end);
          const innerWire = this.fieldKey & 7;
          if (innerWire === EGROUP) {
            if (inner !== field) this.fail(this.fieldAt, `field ${field}: group ended by field ${inner}`);
            return;
          }
          this.skip(this.fieldAt, innerWire, end, inner, depth + 1);
        }
      }
      case EGROUP:
        this.fail(at, `field ${field}: end of a group that was not started`);
      default:
        this.fail(at, `field ${field}: invalid wire type ${wire}`);
    }
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A sample's sorted flat labels: `base` (sorted, without `__name__`) with `__name__` and
 * optionally one more label (`le`, `quantile`) put in their places.
 */
function withName(base: readonly string[], name: string, extra?: string, extraValue?: string): string[] {
  const n = base.length;
  const kv = new Array<string>(n + (extra === undefined ? 2 : 4));
  let i = 0;
  let o = 0;
  while (i < n && base[i] < METRIC_NAME) {
    kv[o++] = base[i++];
    kv[o++] = base[i++];
  }
  kv[o++] = METRIC_NAME;
  kv[o++] = name;
  if (extra !== undefined) {
    while (i < n && base[i] < extra) {
      kv[o++] = base[i++];
      kv[o++] = base[i++];
    }
    kv[o++] = extra;
    kv[o++] = extraValue!;
  }
  while (i < n) {
    kv[o++] = base[i++];
    kv[o++] = base[i++];
  }
  return kv;
}
