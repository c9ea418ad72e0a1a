/**
 * The Influx line protocol, `measurement[,tag=v...] field=value[,field=value...] [timestamp]`,
 * read on bytes as vmagent 1.79 reads it: one series per field, named
 * `{measurement}{separator}{field}` (or `{measurement}` alone for a one-field line under
 * `skipSingleField`, `{field}` alone under `skipMeasurement` or for an empty measurement); tags
 * become labels, the request's `db` the label `dbLabel` unless a tag of that name is there.
 * Values: floats, integers (`i`), unsigned (`u`), booleans (1/0); a quoted string that is a
 * number is that number (vmagent: "agents send numbers as strings"), any other string field is
 * skipped. Timestamps in the request's precision, or told apart by magnitude when it names none
 * (vmagent's auto-detection); cut to whole milliseconds as Go's integer division does.
 *
 * Per-series cache: the raw `measurement,tags` bytes (per `db`) are the key of one entry, which
 * holds the `Labels` of each of the series' fields, found by the field's raw key bytes — a line
 * seen before costs one lookup of its bytes in place plus a byte comparison per field, and allocates nothing.
 */

import { BytesKeyedLabels } from '../../model/keyed-labels.js';
import { LabelsBuilder, METRIC_NAME, type Labels } from '../../model/labels.js';
import type { LineFormat, RowSink } from '../rows/index.js';
import { parseGoFloatLenient as parseFloatBytes } from '../rows/go-float.js';

const SPACE = 0x20;
const COMMA = 0x2c;
const EQ = 0x3d;
const BS = 0x5c;
const QUOTE = 0x22;
const HASH = 0x23;
const MINUS = 0x2d;
const D0 = 0x30;
const D9 = 0x39;
/** The bytes the line's scans stop at (space, comma, `=`, quote, backslash): 1. */
const SPECIAL = new Uint8Array(256);
for (const c of [SPACE, COMMA, EQ, QUOTE, BS]) SPECIAL[c] = 1;

export interface InfluxOptions {
  /** vmagent's -influxMeasurementFieldSeparator. */
  readonly measurementFieldSeparator: string;
  /** vmagent's -influxSkipSingleField. */
  readonly skipSingleField: boolean;
  /** vmagent's -influxSkipMeasurement. */
  readonly skipMeasurement: boolean;
  /** vmagent's -influxDBLabel; empty: the `db` query arg sets no label. */
  readonly dbLabel: string;
  /** vmagent's -influxTrimTimestamp, in milliseconds (1: none). */
  readonly trimTimestampMs: number;
}

/** `auto`: no (or an unknown) precision — vmagent then tells the unit by the number's size. */
export type InfluxPrecision = 'ns' | 'us' | 'ms' | 's' | 'm' | 'h' | 'auto';

/** The `precision` query arg as vmagent reads it (v1 names; v2 clients send ns, us, ms, s). */
export function parsePrecision(arg: string | null | undefined): InfluxPrecision {
  switch (arg) {
    case 'ns':
      return 'ns';
    case 'u':
    case 'us':
    case 'µ':
      return 'us';
    case 'ms':
    case 's':
    case 'm':
    case 'h':
      return arg;
    default:
      return 'auto';
  }
}

/** What a series (its `measurement,tags` bytes) has been worked out to, once. */
interface SeriesEntry {
  readonly measurement: string;
  /** Tag pairs (and the db label), flat, unescaped. */
  readonly pairs: readonly string[];
  /** Raw (escaped) field keys as latin1 strings, and each one's series. */
  readonly fieldKeys: string[];
  readonly fieldLabels: Labels[];
  /** The `{measurement}` series of a one-field line under skipSingleField. */
  single: Labels | undefined;
}

/** Field series cached per measurement-and-tags entry. */
const MAX_FIELDS_PER_SERIES = 1024;

/** Most distinct `db` values whose series caches are kept. */
const MAX_DBS = 64;

/**
 * The state every Influx parser of a listener shares: options, the series caches (one per
 * `db`) and the scratch arrays of one line (lines are parsed synchronously, one at a time).
 */
export class InfluxSeries {
  private readonly byDb = new Map<string, BytesKeyedLabels<SeriesEntry>>();
  readonly lb = new LabelsBuilder();
  /** Per field of the line being parsed: raw key bounds, value, and whether it is a skipped string. */
  keyStart = new Int32Array(16);
  keyEnd = new Int32Array(16);
  values = new Float64Array(16);
  skipped = new Uint8Array(16);

  constructor(readonly opts: InfluxOptions) {}

  cache(db: string): BytesKeyedLabels<SeriesEntry> {
    let c = this.byDb.get(db);
    if (c === undefined) {
      if (this.byDb.size >= MAX_DBS) this.byDb.clear();
      c = new BytesKeyedLabels<SeriesEntry>();
      this.byDb.set(db, c);
    }
    return c;
  }

  grow(): void {
    const n = this.keyStart.length * 2;
    const grow32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.keyStart = grow32(this.keyStart);
    this.keyEnd = grow32(this.keyEnd);
    const v = new Float64Array(n);
    v.set(this.values);
    this.values = v;
    const s = new Uint8Array(n);
    s.set(this.skipped);
    this.skipped = s;
  }
}

/** A line that is not taken, and why (thrown inside the parser only, caught per line). */
class LineError {
  constructor(
    readonly reason: string,
    readonly fault: 'syntax' | 'value' = 'syntax',
  ) {}
}

/** One request's (or connection's) parser: its `db` and precision over the shared series state. */
export class InfluxParser implements LineFormat {
  private readonly series: BytesKeyedLabels<SeriesEntry>;
  private readonly opts: InfluxOptions;

  constructor(
    private readonly shared: InfluxSeries,
    private readonly db = '',
    private readonly precision: InfluxPrecision = 'auto',
  ) {
    this.series = shared.cache(db);
    this.opts = shared.opts;
  }

  line(buf: Buffer, start: number, end: number, lineNo: number, out: RowSink): void {
    if (buf[start] === HASH) return;
    try {
      this.parse(buf, start, end, out);
    } catch (err) {
      if (err instanceof LineError) out.invalid(lineNo, err.reason, err.fault);
      else out.invalid(lineNo, `cannot parse the line: ${(err as Error).message}`);
    }
  }

  private parse(buf: Buffer, start: number, end: number, out: RowSink): void {
    // measurement[,tags] ends at the first unescaped space; its first unescaped comma starts the tags
    let sp = -1;
    let comma = -1;
    for (let i = start; i < end; i++) {
      const c = buf[i];
      // most bytes are none of the few that matter: one table look-up passes them
      if (SPECIAL[c] === 0) continue;
      if (c === BS) i++;
      else if (c === SPACE) {
        sp = i;
        break;
      } else if (c === COMMA && comma < 0) comma = i;
    }
    if (sp < 0) throw new LineError(`no fields: expected "measurement[,tag=value...] field=value[,...] [timestamp]" in ${quote(buf, start, end)}`);
    let entry = this.series.get(buf, start, sp);
    if (entry === undefined) {
      entry = this.newSeries(buf, start, comma < 0 ? sp : comma, sp);
      this.series.set(buf, start, sp, entry);
    }

    const sh = this.shared;
    let p = sp + 1;
    while (p < end && buf[p] === SPACE) p++;
    // fields end at the first space outside quotes; commas outside quotes separate them; a field's
    // key ends at its first unescaped `=`, quotes or not (vmagent's nextUnescapedChar)
    let n = 0;
    let fieldStart = p;
    let eq = -1;
    let inQuote = false;
    let fieldsEnd = end;
    for (let i = p; i < end; i++) {
      const c = buf[i];
      if (SPECIAL[c] === 0) continue;
      if (c === BS) {
        i++;
        continue;
      }
      if (c === EQ) {
        if (eq < 0) eq = i;
        continue;
      }
      if (c === QUOTE) {
        inQuote = !inQuote;
        continue;
      }
      if (inQuote) continue;
      if (c === COMMA) {
        if (n === sh.keyStart.length) sh.grow();
        this.field(buf, fieldStart, eq, i, n++);
        fieldStart = i + 1;
        eq = -1;
      } else if (c === SPACE) {
        fieldsEnd = i;
        break;
      }
    }
    if (n === sh.keyStart.length) sh.grow();
    this.field(buf, fieldStart, eq, Math.min(fieldsEnd, end), n++);

    p = fieldsEnd < end ? fieldsEnd + 1 : end;
    while (p < end && buf[p] === SPACE) p++;
    const ts = this.timestamp(buf, p, end, out.now);

    // one series per field; a one-field line under skipSingleField is named by its measurement
    const opts = this.opts;
    const single = n === 1 && opts.skipSingleField && entry.measurement !== '';
    for (let j = 0; j < n; j++) {
      if (sh.skipped[j] === 1) continue;
      let labels: Labels;
      if (single) labels = entry.single ??= this.build(entry, '');
      else labels = this.fieldSeries(entry, buf, sh.keyStart[j], sh.keyEnd[j], j);
      out.sample(labels, sh.values[j], ts);
    }
  }

  /** The series of a field of `entry`, looked up by its raw key bytes (at its usual position first). */
  private fieldSeries(entry: SeriesEntry, buf: Buffer, ks: number, ke: number, hint: number): Labels {
    const keys = entry.fieldKeys;
    if (hint < keys.length && sameBytes(keys[hint], buf, ks, ke)) return entry.fieldLabels[hint];
    for (let k = 0; k < keys.length; k++) if (sameBytes(keys[k], buf, ks, ke)) return entry.fieldLabels[k];
    const labels = this.build(entry, unescape(buf, ks, ke));
    // a series whose field names never repeat would grow without end: past the cap, built each time
    if (keys.length < MAX_FIELDS_PER_SERIES) {
      keys.push(buf.toString('latin1', ks, ke));
      entry.fieldLabels.push(labels);
    }
    return labels;
  }

  private build(entry: SeriesEntry, field: string): Labels {
    const opts = this.opts;
    let name = opts.skipMeasurement ? '' : entry.measurement;
    if (field !== '') name = name === '' ? field : name + opts.measurementFieldSeparator + field;
    if (name === '') throw new LineError('the metric name is empty: skip_measurement and skip_single_field leave nothing of a one-field line');
    const lb = this.shared.lb.reset();
    // the name first: a tag called __name__ overrides it, as in vmagent
    lb.set(METRIC_NAME, name);
    const pairs = entry.pairs;
    for (let i = 0; i < pairs.length; i += 2) lb.set(pairs[i], pairs[i + 1]);
    return lb.build();
  }

  private newSeries(buf: Buffer, start: number, measurementEnd: number, sp: number): SeriesEntry {
    const pairs: string[] = [];
    let hasDb = false;
    const dbLabel = this.opts.dbLabel;
    let p = measurementEnd + 1;
    while (p < sp) {
      let tagEnd = sp;
      let eq = -1;
      for (let i = p; i < sp; i++) {
        const c = buf[i];
        if (c === BS) i++;
        else if (c === COMMA) {
          tagEnd = i;
          break;
        } else if (c === EQ && eq < 0) eq = i;
      }
      if (eq < 0) throw new LineError(`tag ${quote(buf, p, tagEnd)} has no value: expected name=value`);
      const name = unescape(buf, p, eq);
      const value = unescape(buf, eq + 1, tagEnd);
      // empty tags are dropped, as vmagent does
      if (name !== '' && value !== '') {
        if (name === dbLabel) hasDb = true;
        pairs.push(name, value);
      }
      p = tagEnd + 1;
    }
    if (this.db !== '' && dbLabel !== '' && !hasDb) pairs.push(dbLabel, this.db);
    return { measurement: unescape(buf, start, measurementEnd), pairs, fieldKeys: [], fieldLabels: [], single: undefined };
  }

  /** Field `j` in [s, e): `key=value` with its first unescaped `=` at `eq` (-1: none); the key's bounds and the value land in the shared scratch arrays. */
  private field(buf: Buffer, s: number, eq: number, e: number, j: number): void {
    if (eq < 0) throw new LineError(`field ${quote(buf, s, e)} has no value: expected name=value`);
    if (eq === s) throw new LineError(`a field has an empty name in ${quote(buf, s, e)}`);
    const sh = this.shared;
    sh.keyStart[j] = s;
    sh.keyEnd[j] = eq;
    sh.skipped[j] = 0;
    const vs = eq + 1;
    if (vs === e) throw new LineError(`field ${quote(buf, s, eq)} has an empty value`, 'value');
    const first = buf[vs];
    const last = buf[e - 1];
    if (first === QUOTE) {
      if (e - vs < 2 || last !== QUOTE) throw new LineError(`field ${quote(buf, s, eq)}: the string value has no closing quote (a raw newline inside it?)`, 'value');
      const v = parseFloatBytes(buf, vs + 1, e - 1);
      if (v === undefined) sh.skipped[j] = 1;
      else sh.values[j] = v;
      return;
    }
    if (last === 0x69 /* i */ || last === 0x75 /* u */) {
      const v = parseIntBytes(buf, vs, e - 1, last === 0x75);
      if (v === undefined) throw new LineError(`field ${quote(buf, s, eq)}: invalid ${last === 0x75 ? 'unsigned' : 'integer'} value ${quote(buf, vs, e)}`, 'value');
      sh.values[j] = v;
      return;
    }
    const b = parseBool(buf, vs, e);
    if (b >= 0) {
      sh.values[j] = b;
      return;
    }
    const v = parseFloatBytes(buf, vs, e);
    if (v === undefined) throw new LineError(`field ${quote(buf, s, eq)}: invalid value ${quote(buf, vs, e)}`, 'value');
    sh.values[j] = v;
  }

  /** The line's timestamp in milliseconds (`now` when it has none or it is 0), as vmagent converts it. */
  private timestamp(buf: Buffer, s: number, e: number, now: number): number {
    const prec = this.precision;
    let ts: number;
    if (s === e) ts = nowIn(prec, now);
    else {
      let neg = false;
      let p = s;
      if (buf[p] === MINUS) {
        neg = true;
        p++;
      }
      while (p < e - 1 && buf[p] === D0) p++;
      const digits = e - p;
      let ok = digits > 0;
      for (let i = p; i < e && ok; i++) ok = buf[i] >= D0 && buf[i] <= D9;
      if (!ok || digits > 19 || (digits === 19 && aboveDigits(buf, p, neg ? INT64_MIN_DIGITS : INT64_MAX_DIGITS))) {
        throw new LineError(`invalid timestamp ${quote(buf, s, e)}: expected an integer (int64)`, 'value');
      }
      if (digits === 1 && buf[p] === D0) ts = nowIn(prec, now);
      else {
        let unit = prec;
        // vmagent's detectTimestamp: 1e17 and more is ns, 1e14 us, 1e11 ms, below that seconds (negatives too)
        if (unit === 'auto') unit = neg ? 's' : digits >= 18 ? 'ns' : digits >= 15 ? 'us' : digits >= 12 ? 'ms' : 's';
        // integer division by 1e6 or 1e3 truncates toward zero: drop the low digits, exactly
        const drop = unit === 'ns' ? 6 : unit === 'us' ? 3 : 0;
        const kept = digits - drop;
        let v = 0;
        for (let i = p; i < p + kept; i++) v = v * 10 + (buf[i] - D0);
        if (unit === 's') v *= 1000;
        else if (unit === 'm') v *= 60_000;
        else if (unit === 'h') v *= 3_600_000;
        ts = neg ? -v : v;
      }
    }
    const trim = this.opts.trimTimestampMs;
    if (trim > 1) ts -= ts % trim;
    return ts;
  }
}

const INT64_MAX_DIGITS = '9223372036854775807';
const INT64_MIN_DIGITS = '9223372036854775808';

/** Whether the digits at `p` (as many as `max` has) are above `max`: a string compare, without the string. */
function aboveDigits(buf: Buffer, p: number, max: string): boolean {
  for (let i = 0; i < max.length; i++) {
    const d = buf[p + i] - max.charCodeAt(i);
    if (d !== 0) return d > 0;
  }
  return false;
}

/** Now, in ms, for a line without a timestamp: cut to the unit when the precision is coarser than ms. */
function nowIn(prec: InfluxPrecision, now: number): number {
  now = Math.floor(now);
  const unit = prec === 's' ? 1000 : prec === 'm' ? 60_000 : prec === 'h' ? 3_600_000 : 1;
  return now - (now % unit);
}

function sameBytes(key: string, buf: Buffer, s: number, e: number): boolean {
  if (key.length !== e - s) return false;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== buf[s + i]) return false;
  return true;
}

/** `\ `, `\,`, `\=` and `\\` stand for the character; any other backslash stays. */
function unescape(buf: Buffer, s: number, e: number): string {
  const bs = buf.indexOf(BS, s);
  if (bs < 0 || bs >= e) return buf.toString('utf8', s, e);
  const out = Buffer.allocUnsafe(e - s);
  let n = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i];
    if (c === BS && i + 1 < e) {
      const d = buf[i + 1];
      if (d !== SPACE && d !== COMMA && d !== EQ && d !== BS) out[n++] = BS;
      out[n++] = d;
      i++;
    } else out[n++] = c;
  }
  return out.toString('utf8', 0, n);
}

function parseBool(buf: Buffer, s: number, e: number): number {
  const len = e - s;
  if (len > 5) return -1;
  const c = buf[s];
  if (c !== 0x74 && c !== 0x54 && c !== 0x66 && c !== 0x46) return -1;
  if (len === 1) return c === 0x74 || c === 0x54 ? 1 : 0;
  switch (buf.toString('latin1', s, e)) {
    case 'true':
    case 'True':
    case 'TRUE':
      return 1;
    case 'false':
    case 'False':
    case 'FALSE':
      return 0;
    default:
      return -1;
  }
}

/** `-?digits` (`digits` when unsigned) within int64 (uint64); undefined otherwise. */
function parseIntBytes(buf: Buffer, s: number, e: number, unsigned: boolean): number | undefined {
  let p = s;
  const neg = !unsigned && p < e && buf[p] === MINUS;
  if (neg) p++;
  if (p === e) return undefined;
  let v = 0;
  for (let i = p; i < e; i++) {
    const c = buf[i];
    if (c < D0 || c > D9) return undefined;
    v = v * 10 + (c - D0);
  }
  let q = p;
  while (q < e - 1 && buf[q] === D0) q++;
  const digits = e - q;
  if (digits >= 16) {
    const max = unsigned ? '18446744073709551615' : neg ? '9223372036854775808' : '9223372036854775807';
    const text = buf.toString('latin1', q, e);
    if (digits > max.length || (digits === max.length && text > max)) return undefined;
    // past 2^53 the digit loop above rounds more than once; Number() rounds once, as Go's float64(n)
    v = Number(text);
  }
  return neg && v !== 0 ? -v : v;
}

function quote(buf: Buffer, s: number, e: number): string {
  const max = 120;
  const text = buf.toString('utf8', s, Math.min(e, s + max));
  return JSON.stringify(e - s > max ? text + '…' : text);
}
