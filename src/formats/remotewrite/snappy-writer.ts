/**
 * A `WriteRequest` written straight as snappy elements, with each series' compressed record
 * cached across scrapes. Compressing a finished request costs more than encoding it: a hash
 * probe every few bytes to rediscover what is known before the first byte is written — that a
 * series is mostly the series written before it, and that its timestamp is usually the same.
 *
 * A record is `0x0a len labels 0x12 sl 0x09 value 0x10 timestamp` (writer.ts). Its header and
 * labels (the "head") are kept, in the writer's own table (`SeriesCodes`), as snappy elements
 * that reproduce them from the head of the record written before it: computed once by a small
 * LZ matcher, then copied as they are while the series keeps following the same predecessor —
 * as it does on every scrape of the same target, in the same order. The sample is copied from
 * the predecessor's where their bytes agree for 4 or more: the timestamp, the tags, often a
 * value's zero bytes or the whole value.
 * The code's offsets depend on the two records' sample lengths, so the code ends with one
 * character naming them; a different pair rebuilds it.
 *
 * The codes are the writer's, not the series': each writer (each remote-write URL's sender)
 * keeps its own, since the records of two URLs follow different predecessors.
 */

import { putCopy, putLiteralTag } from '../snappy/index.js';
import { compactColumns, resizedInts } from '../../model/columns.js';
import type { Labels } from '../../model/labels.js';
import { putVarint, varintSize } from '../../model/labels-packed.js';
import { STALE_NAN_HI, STALE_NAN_LO, type SampleBatch } from '../../model/samples.js';
import { grownBuffer, putNegativeTimestamp, timestampSize, type PayloadAlloc, type RequestEncoder } from './writer.js';

/** Room for the uncompressed length's varint, written in front of the elements at the end. */
const LENGTH_ROOM = 5;
const MIN_MATCH = 4;
/** A sample takes at most 22 bytes. */
const SLOT = 24;
const HASH_BITS = 10;

/** The matcher's window (predecessor head, then this head) and its hash table of positions + 1, stamped per use. */
let window = Buffer.allocUnsafe(4096);
const hashPos = new Int32Array(1 << HASH_BITS);
const hashStamp = new Int32Array(1 << HASH_BITS);
let stamp = 0;
/** Where a code is assembled before it is stored. */
let codeScratch = Buffer.allocUnsafe(4096);
/** Distinct codes a writer keeps; past it, it forgets them all and builds them again. */
const MAX_CODES = 50_000;
/** Seed of the hash that finds equal codes (a code is stored once however many links use it). */
const CODE_SEED = 0x2545f491;

/**
 * Codes built by every writer of the process: how a test sees each writer use its table (every
 * record but a request's first is written from a code, reused unless one was built).
 */
export const seriesCodeCounts = { built: 0 };

/** A writer forgets the series it has not written for this long (a removed target's). */
const FORGET_AFTER_MS = 5 * 60_000;

/**
 * Distinct codes, by number, as runs of one byte array. A record copies its code from here
 * four bytes at a time: 21 ns a code, where reading a string's characters took 78 and was a
 * third of a record's cost (the writer's steady state at 400 targets: 198 to 139–166 ns a
 * sample). An equal code built for another link is stored once: the same series of every
 * target mostly follows the same one, so a fleet of one exporter holds about a code per line
 * of the page, not one per series.
 */
class CodeStore {
  bytes: Uint8Array<ArrayBuffer> = new Uint8Array(4096);
  view = new DataView(this.bytes.buffer);
  /** Code k is bytes [start[k], start[k + 1]). */
  start = new Int32Array(64);
  count = 0;
  /** Numbers + 1 by the code's hash; at most half full. */
  private index = new Int32Array(128);

  get used(): number {
    return this.start[this.count];
  }

  /** The number of the code in `src[0, n)`, stored now if no equal one is. */
  intern(src: Uint8Array, n: number): number {
    const mask = this.index.length - 1;
    let i = hashBytes(src, n) & mask;
    for (; ; i = (i + 1) & mask) {
      const k = this.index[i] - 1;
      if (k < 0) break;
      if (this.equals(k, src, n)) return k;
    }
    const k = this.count;
    const at = this.used;
    if (at + n > this.bytes.length) {
      const bytes = new Uint8Array(Math.max(2 * this.bytes.length, at + n));
      bytes.set(this.bytes.subarray(0, at));
      this.bytes = bytes;
      this.view = new DataView(bytes.buffer);
    }
    this.bytes.set(src.subarray(0, n), at);
    if (k + 2 > this.start.length) this.start = resizedInts(this.start, 2 * this.start.length);
    this.start[k + 1] = at + n;
    this.count = k + 1;
    if (2 * this.count > this.index.length) this.reindex(2 * this.index.length);
    else this.index[i] = k + 1;
    return k;
  }

  /** Forgets every code. */
  clear(): void {
    this.count = 0;
    this.index.fill(0);
  }

  toString(k: number): string {
    return Buffer.from(this.bytes.buffer, this.start[k], this.start[k + 1] - this.start[k]).toString('latin1');
  }

  private equals(k: number, src: Uint8Array, n: number): boolean {
    const from = this.start[k];
    if (this.start[k + 1] - from !== n) return false;
    for (let j = 0; j < n; j++) if (this.bytes[from + j] !== src[j]) return false;
    return true;
  }

  private reindex(capacity: number): void {
    this.index = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let k = 0; k < this.count; k++) {
      const from = this.start[k];
      let i = hashBytes(this.bytes.subarray(from), this.start[k + 1] - from) & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = k + 1;
    }
  }
}

function hashBytes(b: Uint8Array, n: number): number {
  let h = CODE_SEED;
  for (let j = 0; j < n; j++) h = Math.imul(h ^ b[j], 0x01000193);
  return h >>> 0;
}

/** A packed length too long for `SeriesCodes.keyLength`: the series itself is asked. */
const LONG_KEY = 0xffff;

/**
 * A writer's record-head codes, by series. Entries are parallel columns indexed by an id
 * (dense, in the order series were first written, which is about the order they are written
 * in), found by series through an index of ids by the series' hash. A code sits on the entry of
 * the series it follows: y's entry holds the series written after y last time and the code
 * that writes its head after y's record, so a series that follows the same one as last time
 * is found without a lookup. Columns rather than an object per series (or fields on `Labels`,
 * which one writer alone could use): about 25 bytes a series (bench/series-memory.ts measured
 * 23 before the 2 of `keyLength`), where the two fields cost 16 on every series, written or
 * not. A code is held once, by number: the same series of every target has the same code, as a
 * head's differences from its predecessor rarely include the target's own labels, which are
 * copied.
 */
class SeriesCodes {
  /** The series of each entry. */
  series: Labels[] = [];
  /** The entry written after this one last time, or -1. */
  next = new Int32Array(16);
  /** The code that writes `next`'s head after this entry's record: its number in `codes`, or -1. */
  nextCode = new Int32Array(16);
  /**
   * The series' packed length, kept here: asking the series would read its packed string, a
   * memory access per record of its own (series are scattered over the heap, entries are not).
   */
  keyLength = new Uint16Array(16);
  readonly codes = new CodeStore();
  /** The period (1–255, cycling) in which the entry was last written. */
  private written = new Uint8Array(16);
  private period = 1;
  private periodFrom = Date.now();
  /** Ids + 1 by the series' hash; 0 is an empty slot. At most four fifths full (it is asked only when a series follows another than last time). */
  private index = new Int32Array(32);
  private shift = 27;
  /** Entries added since the last `settle`, and whether any were since the columns were trimmed. */
  private addedLately = 0;
  private untrimmed = false;

  /** Keeps the code in `src[0, n)` on entry `y` (for the series after it). */
  setCode(y: number, src: Uint8Array, n: number): void {
    if (this.codes.count >= MAX_CODES) {
      this.codes.clear();
      this.nextCode.fill(-1);
    }
    this.nextCode[y] = this.codes.intern(src, n);
  }

  /** Marks the entry as written now. */
  touch(id: number): void {
    this.written[id] = this.period;
  }

  /** The series' entry, added when it has none. */
  idOf(x: Labels): number {
    const slot = this.slotOf(x);
    const id = this.index[slot] - 1;
    return id >= 0 ? id : this.add(x, slot);
  }

  /** The series' entry, or -1. */
  find(x: Labels): number {
    return this.index[this.slotOf(x)] - 1;
  }

  /** The index slot that holds the series' entry, or the empty one where it would go. */
  private slotOf(x: Labels): number {
    const index = this.index;
    const mask = index.length - 1;
    for (let i = Math.imul(x.hash, 0x9e3779b1) >>> this.shift; ; i = (i + 1) & mask) {
      const id = index[i] - 1;
      if (id < 0 || this.series[id] === x) return i;
    }
  }

  private add(x: Labels, slot: number): number {
    const id = this.series.length;
    if (id === this.next.length) {
      const cap = id + (id >> 1);
      this.next = resizedInts(this.next, cap);
      this.nextCode = resizedInts(this.nextCode, cap);
      const keyLength = new Uint16Array(cap);
      keyLength.set(this.keyLength);
      this.keyLength = keyLength;
      const written = new Uint8Array(cap);
      written.set(this.written);
      this.written = written;
    }
    this.series.push(x);
    this.nextCode[id] = -1;
    this.keyLength[id] = Math.min(x.packedLength, LONG_KEY);
    this.addedLately++;
    this.untrimmed = true;
    this.next[id] = -1;
    this.written[id] = this.period;
    if ((id + 1) * 5 > this.index.length * 4) this.reindex(this.index.length * 2);
    else this.index[slot] = id + 1;
    return id;
  }

  /**
   * Between requests: once a period has passed, forgets the entries not written in it (what
   * points to them is cleared), so a writer holds only the series it still writes.
   */
  maybeForget(now: number): void {
    if (now - this.periodFrom < FORGET_AFTER_MS) return;
    this.periodFrom = now;
    const keep = this.period;
    this.period = (this.period % 255) + 1;
    const { moved, left: j } = compactColumns(this.series.length, (id) => this.written[id] === keep, (from, to) => {
      this.series[to] = this.series[from];
      this.nextCode[to] = this.nextCode[from];
      this.keyLength[to] = this.keyLength[from];
      this.next[to] = this.next[from];
      this.written[to] = keep;
    });
    this.series.length = j;
    for (let i = 0; i < j; i++) {
      const to = this.next[i] < 0 ? -1 : moved[this.next[i]];
      this.next[i] = to;
      if (to < 0) this.nextCode[i] = -1;
    }
    let cap = 32;
    while (cap * 4 < j * 5) cap *= 2;
    this.reindex(cap);
  }

  get size(): number {
    return this.series.length;
  }

  /**
   * Between requests: once a request added no series, the writer holds the ones it writes, and
   * the series array gives back the room it grew into one entry at a time (up to half again).
   */
  settle(): void {
    if (this.addedLately === 0 && this.untrimmed) {
      this.series = this.series.slice();
      this.untrimmed = false;
    }
    this.addedLately = 0;
  }

  private reindex(capacity: number): void {
    this.index = new Int32Array(capacity);
    this.shift = 32 - Math.log2(capacity);
    const mask = capacity - 1;
    for (let id = 0; id < this.series.length; id++) {
      let i = Math.imul(this.series[id].hash, 0x9e3779b1) >>> this.shift;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = id + 1;
    }
  }
}

export class SnappyWriteRequestWriter implements RequestEncoder {
  private out: Buffer;
  private outView: DataView;
  private op = LENGTH_ROOM;
  /** Bytes the request will have once decompressed. */
  private rawSize = 0;
  samples = 0;
  private readonly codes = new SeriesCodes();
  /** The entry of the last record written, or -1 at the start of a request. */
  private prev = -1;
  private prevSampleLen = 0;
  private prevTs = NaN;
  private prevTsSize = 0;
  /**
   * Two slots of sample bytes (`0x12 sl 0x09 value 0x10 timestamp`) at 0 and SLOT: this record's
   * at `cur`, the last one's at the other.
   */
  private readonly sample = new Uint8Array(2 * SLOT);
  private readonly sampleView = new DataView(this.sample.buffer);
  private cur = 0;

  constructor(initialBytes = 64 * 1024) {
    this.out = Buffer.allocUnsafe(initialBytes);
    this.outView = new DataView(this.out.buffer, this.out.byteOffset, this.out.byteLength);
  }

  /** Compressed bytes so far. */
  get size(): number {
    return this.op - LENGTH_ROOM;
  }

  /** Starts a new request; `now` (ms, a test's clock) decides whether unwritten series are forgotten. */
  reset(now = Date.now()): void {
    this.op = LENGTH_ROOM;
    this.rawSize = 0;
    this.samples = 0;
    this.prev = -1;
    this.prevTs = NaN;
    this.codes.maybeForget(now);
    this.codes.settle();
  }

  /** Series whose codes this writer keeps. */
  get seriesKept(): number {
    return this.codes.size;
  }

  /** The code kept for `x` after `y` (tests: what the writer holds). */
  codeAfter(y: Labels, x: Labels): string | undefined {
    const c = this.codes;
    const from = c.find(y);
    const to = from < 0 ? -1 : c.next[from];
    const k = to >= 0 && c.series[to] === x ? c.nextCode[from] : -1;
    return k < 0 ? undefined : c.codes.toString(k);
  }

  /** Appends sample `i` of `batch` as one TimeSeries. */
  appendOne(batch: SampleBatch, i: number): void {
    const x = batch.series[i];
    const c = this.codes;
    const y = this.prev;
    // the entry first: its columns say what the record needs without reading the series
    let id: number;
    /** The code kept for writing x's head after y's record, or -1. */
    let k = -1;
    if (y < 0) id = c.idOf(x);
    else if (c.series[y] === x) {
      id = y;
      if (c.next[y] === y) k = c.nextCode[y];
    } else {
      id = c.next[y];
      if (id >= 0 && c.series[id] === x) k = c.nextCode[y];
      else id = c.idOf(x);
    }
    const keyLength = c.keyLength[id] === LONG_KEY ? x.packedLength : c.keyLength[id];
    const ts = batch.timestamps[i];
    // a batch's samples mostly share one timestamp: its varint is worked out once
    const tsSize = ts === this.prevTs ? this.prevTsSize : timestampSize(ts);
    const sampleLen = 10 + tsSize;
    const seriesLen = keyLength + 2 + sampleLen;
    const headLen = 1 + varintSize(seriesLen) + keyLength;
    const recordLen = headLen + 2 + sampleLen;
    // the worst a head's code takes (short literals between copies of 4 bytes in 5: 7 bytes for
    // 5) plus the sample's literal and copy
    this.ensure(2 * headLen + 40);
    const out = this.out;
    let op = this.op;
    const cur = this.cur;
    const sampleBytes = this.putSample(batch, i, sampleLen, cur);
    if (y < 0) {
      // the first record of a request has nothing to copy from: one literal, sample included
      op = putLiteralTag(recordLen, out, op);
      out[op++] = 0x0a;
      op = putVarint(out, op, seriesLen);
      op = x.writePacked(out, op);
      for (let j = 0; j < sampleBytes; j++) out[op + j] = this.sample[cur + j];
      op += sampleBytes;
    } else if (id === y && sampleLen === this.prevSampleLen && headLen >= MIN_MATCH) {
      // the series again (several points of a series in a row): its head is the last record's,
      // one copy, with no code — and the code of what follows it stays where it is
      op = putCopy(recordLen, headLen, out, op);
      op = this.putSampleDiff(op, cur, sampleBytes, recordLen);
    } else {
      const cond = (this.prevSampleLen - 11) * 10 + (sampleLen - 11);
      const store = c.codes;
      if (k < 0 || store.bytes[store.start[k + 1] - 1] !== cond) {
        // built once per pair of neighbours: the packed strings are made for it and let go
        const n = buildHeadCode(c.series[y].packedTransient(), this.prevSampleLen, x.packedTransient(), seriesLen, cond);
        c.next[y] = id;
        c.setCode(y, codeScratch, n);
        k = c.nextCode[y];
        seriesCodeCounts.built++;
      }
      // four bytes at a time; the trailing condition byte is written too, and overwritten by
      // what follows (ensure left room for a word past the code)
      const from = store.start[k];
      const to = store.start[k + 1];
      const src = store.view;
      const dst = this.outView;
      let j = from;
      for (; j + 4 <= to; j += 4, op += 4) dst.setUint32(op, src.getUint32(j, true), true);
      const bytes = store.bytes;
      for (; j < to; j++) out[op++] = bytes[j];
      op--;
      op =
        sampleLen === this.prevSampleLen
          ? this.putSampleDiff(op, cur, sampleBytes, recordLen)
          : putLiteralBytes(this.sample, cur, cur + sampleBytes, out, op);
    }
    c.touch(id);
    this.op = op;
    this.rawSize += recordLen;
    this.samples++;
    this.prev = id;
    this.prevSampleLen = sampleLen;
    this.prevTs = ts;
    this.prevTsSize = tsSize;
    this.cur = SLOT - cur;
  }

  /** The compressed request (a copy): the uncompressed length, then the elements. */
  finish(alloc: PayloadAlloc = Buffer.allocUnsafe): Buffer {
    const start = LENGTH_ROOM - varintSize(this.rawSize);
    putVarint(this.out, start, this.rawSize);
    const payload = alloc(this.op - start);
    this.out.copy(payload, 0, start, this.op);
    return payload;
  }

  /**
   * The sample's bytes, into the slot at `at`; returns their count. The value and timestamp
   * are read here, not passed on, as a double passed to a call V8 does not inline is boxed —
   * an allocation per sample.
   */
  private putSample(batch: SampleBatch, i: number, sampleLen: number, at: number): number {
    const ts = batch.timestamps[i];
    const b = this.sample;
    b[at] = 0x12;
    b[at + 1] = sampleLen;
    b[at + 2] = 0x09;
    if (batch.isStale(i)) {
      this.sampleView.setUint32(at + 3, STALE_NAN_LO, true);
      this.sampleView.setUint32(at + 7, STALE_NAN_HI, true);
    } else {
      this.sampleView.setFloat64(at + 3, batch.values[i], true);
    }
    b[at + 11] = 0x10;
    if (ts === this.prevTs) {
      // the last record's timestamp bytes, in the other slot
      const from = SLOT - at;
      for (let k = 12; k < 2 + sampleLen; k++) b[at + k] = b[from + k];
      return 2 + sampleLen;
    }
    return (ts >= 0 ? putVarint(b, at + 12, ts) : putNegativeTimestamp(b, at + 12, ts)) - at;
  }

  /**
   * The sample as runs of bytes equal to the predecessor's (copies from one record back: the
   * timestamp, often the tags and a value's zero bytes, or all of it) around a literal.
   */
  private putSampleDiff(op: number, cur: number, n: number, recordLen: number): number {
    // the bytes that change are the value's low ones: a common prefix (the tags, a value's
    // equal low bytes), a literal, a common suffix (the value's exponent, the timestamp)
    const b = this.sample;
    const prev = SLOT - cur;
    const out = this.out;
    let s = 0;
    while (s < n && b[cur + s] === b[prev + s]) s++;
    if (s === n) return putCopy(recordLen, n, out, op);
    let e = n;
    while (e > s && b[cur + e - 1] === b[prev + e - 1]) e--;
    if (s >= MIN_MATCH) op = putCopy(recordLen, s, out, op);
    else s = 0;
    if (n - e < MIN_MATCH) e = n;
    op = putLiteralTag(e - s, out, op);
    for (let j = s; j < e; j++) out[op++] = b[cur + j];
    return e < n ? putCopy(recordLen, n - e, out, op) : op;
  }

  private ensure(n: number): void {
    if (this.op + n <= this.out.length) return;
    this.out = grownBuffer(this.out, this.op, n);
    this.outView = new DataView(this.out.buffer, this.out.byteOffset, this.out.byteLength);
  }
}

/**
 * Snappy elements that produce this record's head (`0x0a len labels`) right after a record
 * whose head is the predecessor's (`yKey` with its header) and whose sample took `2 + ySampleLen`
 * bytes, then the character `cond`: greedy matching against the predecessor's head and what of
 * this head is already produced, never against the predecessor's sample, which changes from one
 * request to the next.
 */
function buildHeadCode(yKey: string, ySampleLen: number, key: string, seriesLen: number, cond: number): number {
  const yHeadLen = 1 + varintSize(yKey.length + 2 + ySampleLen) + yKey.length;
  const headLen = 1 + varintSize(seriesLen) + key.length;
  const total = yHeadLen + headLen;
  if (window.length < total + 8) window = Buffer.allocUnsafe(2 * (total + 8));
  if (codeScratch.length < 2 * headLen + 16) codeScratch = Buffer.allocUnsafe(2 * (2 * headLen + 16));
  const w = window;
  let p = 0;
  w[p++] = 0x0a;
  p = putVarint(w, p, yKey.length + 2 + ySampleLen);
  p += w.write(yKey, p, 'latin1');
  w[p++] = 0x0a;
  p = putVarint(w, p, seriesLen);
  w.write(key, p, 'latin1');
  // the predecessor's sample lies between the two heads in the request
  const gap = 2 + ySampleLen;
  if (++stamp === 0x7fffffff) {
    stamp = 1;
    hashStamp.fill(0);
  }
  const out = codeScratch;
  let op = 0;
  for (let q = 0; q + MIN_MATCH <= yHeadLen; q++) remember(w, q);
  let ip = yHeadLen;
  let literalFrom = ip;
  while (ip + MIN_MATCH <= total) {
    const h = hashAt(w, ip);
    const cand = hashStamp[h] === stamp ? hashPos[h] : -1;
    hashStamp[h] = stamp;
    hashPos[h] = ip;
    // a match in the predecessor's head stops at its end; one in this head may run on
    const limit = cand < yHeadLen ? yHeadLen : total;
    if (cand < 0 || load32(w, cand) !== load32(w, ip) || cand + MIN_MATCH > limit) {
      ip++;
      continue;
    }
    let len = MIN_MATCH;
    while (ip + len < total && cand + len < limit && w[ip + len] === w[cand + len]) len++;
    if (literalFrom < ip) op = putLiteralBytes(w, literalFrom, ip, out, op);
    op = putCopy(cand < yHeadLen ? ip - cand + gap : ip - cand, len, out, op);
    for (let q = ip + 1; q < ip + len && q + MIN_MATCH <= total; q++) remember(w, q);
    ip += len;
    literalFrom = ip;
  }
  if (literalFrom < total) op = putLiteralBytes(w, literalFrom, total, out, op);
  out[op++] = cond;
  return op;
}

function load32(w: Uint8Array, p: number): number {
  return w[p] | (w[p + 1] << 8) | (w[p + 2] << 16) | (w[p + 3] << 24);
}

function hashAt(w: Uint8Array, p: number): number {
  return Math.imul(load32(w, p), 0x1e35a7bd) >>> (32 - HASH_BITS);
}

function remember(w: Uint8Array, p: number): void {
  const h = hashAt(w, p);
  hashStamp[h] = stamp;
  hashPos[h] = p;
}

function putLiteralBytes(src: Uint8Array, from: number, to: number, out: Uint8Array, op: number): number {
  op = putLiteralTag(to - from, out, op);
  for (let j = from; j < to; j++) out[op++] = src[j];
  return op;
}
