/**
 * Label sets by a key a producer already has in hand — the raw bytes of a pushed line's series
 * part (`measurement,tag=v`, `name;tag=v`, a JSON `metric` object) — so a series pushed again
 * costs one map lookup instead of a parse of its labels, and is handed out as the same `Labels`
 * object every time (which the relabel and remote-write caches key on by identity).
 *
 * Bounded and generational, as the relabel cache: new keys go into a young map; when it holds
 * `maxEntries / 2` it becomes the old map and the previous old map is dropped whole. A hit in
 * the old map is promoted, so series pushed every interval stay and vanished ones go. A sender
 * whose series in use outnumber a generation would make that rotation drop, every time, keys
 * about to be asked for: the young map is then let grow instead (up to `GROWN_ENTRIES`), so
 * a big steady sender costs a lookup per series, not a new `Labels` — and a new entry in every
 * cache keyed on it — for a fifth of its series each round. One class of this file per way of
 * holding keys (a string, bytes in place); `Generations` is that policy, once.
 */

import { fmix32 } from './hash.js';
import type { Labels } from './labels.js';

export const DEFAULT_KEYED_LABELS_ENTRIES = 200_000;
/** How far a cache grows for a sender whose series in use outnumber its bound. */
export const GROWN_ENTRIES = 8_000_000;

/**
 * The generational policy both caches below share: `room()` before a key goes into the young
 * generation turns the young one into the old one (dropping the previous old one whole) once it
 * holds half the bound.
 */
abstract class Generations<T extends { readonly size: number }> {
  private half: number;
  private readonly maxHalf: number;
  /** Keys of the young generation that came back from the old one. */
  private promoted = 0;
  protected young: T;
  protected old: T;

  constructor(maxEntries: number) {
    this.half = Math.max(1, Math.floor(maxEntries / 2));
    this.maxHalf = Math.max(this.half, GROWN_ENTRIES / 2);
    this.young = this.fresh();
    this.old = this.fresh();
  }

  protected abstract fresh(): T;

  /** The generation a new key goes into. */
  protected room(): T {
    if (this.young.size >= this.half) {
      // mostly promoted: the keys in use do not fit a generation, and a rotation would drop
      // the ones asked for next
      if (this.promoted * 2 > this.half && this.half < this.maxHalf) {
        this.half = Math.min(this.half * 2, this.maxHalf);
      } else {
        this.old = this.young;
        this.young = this.fresh();
      }
      this.promoted = 0;
    }
    return this.young;
  }

  /** The generation a key found in the old one goes into. */
  protected promote(): T {
    this.promoted++;
    return this.room();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}

export class KeyedLabels<V = Labels> extends Generations<Map<string, V>> {
  constructor(maxEntries = DEFAULT_KEYED_LABELS_ENTRIES) {
    super(maxEntries);
  }

  protected fresh(): Map<string, V> {
    return new Map<string, V>();
  }

  get(key: string): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) this.promote().set(key, o);
    return o;
  }

  set(key: string, value: V): void {
    this.room().set(key, value);
  }
}

/**
 * `KeyedLabels` keyed by the bytes in place (`buf[start..end)`) rather than a string of them:
 * a hit makes no string and no garbage, and hashes four bytes at a step where a string key is
 * first copied and then hashed a character at a time — two to four times as fast on the 40- to
 * 100-byte keys of pushed series (Graphite names, Influx series, remote write's label bytes).
 *
 * A key may also be two ranges of one buffer (`getPair`/`setPair`: OpenTSDB's metric and tags,
 * with the timestamp and value between them left out): the pair, not their concatenation, is the
 * key — the length of the first range is kept beside the key's bytes, so `ab`+`c` and `a`+`bc`
 * differ and no separator byte has to be one the format never sends. A pair with an empty
 * second range is the same key as its first range alone.
 */
export class BytesKeyedLabels<V = Labels> extends Generations<BytesTable<V>> {
  // a DataView of the ArrayBuffer under the bytes last looked up, for reading them four at a time
  private ab: ArrayBufferLike | undefined;
  private buf: Uint8Array | undefined;
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  constructor(maxEntries = DEFAULT_KEYED_LABELS_ENTRIES) {
    super(maxEntries);
  }

  protected fresh(): BytesTable<V> {
    return new BytesTable<V>();
  }

  get(buf: Uint8Array, start: number, end: number): V | undefined {
    const view = this.viewOf(buf);
    const at = buf.byteOffset + start;
    const n = end - start;
    const next = this.young.predicted(view, at, n);
    if (next !== undefined) return next;
    const h = hashBytes(view, at, n);
    const v = this.young.find(h, view, at, n, at, 0);
    if (v !== undefined) return v;
    const o = this.old.find(h, view, at, n, at, 0);
    if (o !== undefined) this.promote().put(h, view, at, n, at, 0, o);
    return o;
  }

  set(buf: Uint8Array, start: number, end: number, value: V): void {
    const view = this.viewOf(buf);
    const at = buf.byteOffset + start;
    this.room().put(hashBytes(view, at, end - start), view, at, end - start, at, 0, value);
  }

  /** The value under the pair of ranges `buf[s1..e1)`, `buf[s2..e2)`. */
  getPair(buf: Uint8Array, s1: number, e1: number, s2: number, e2: number): V | undefined {
    const view = this.viewOf(buf);
    const at1 = buf.byteOffset + s1;
    const at2 = buf.byteOffset + s2;
    const h = hashPair(view, at1, e1 - s1, at2, e2 - s2);
    const v = this.young.find(h, view, at1, e1 - s1, at2, e2 - s2);
    if (v !== undefined) return v;
    const o = this.old.find(h, view, at1, e1 - s1, at2, e2 - s2);
    if (o !== undefined) this.promote().put(h, view, at1, e1 - s1, at2, e2 - s2, o);
    return o;
  }

  setPair(buf: Uint8Array, s1: number, e1: number, s2: number, e2: number, value: V): void {
    const view = this.viewOf(buf);
    const at1 = buf.byteOffset + s1;
    const at2 = buf.byteOffset + s2;
    this.room().put(hashPair(view, at1, e1 - s1, at2, e2 - s2), view, at1, e1 - s1, at2, e2 - s2, value);
  }

  private viewOf(buf: Uint8Array): DataView {
    // the same chunk as last time (a parser's lines of one chunk): `.buffer` is not free to read
    if (buf === this.buf) return this.view;
    this.buf = buf;
    if (buf.buffer !== this.ab) {
      this.ab = buf.buffer;
      this.view = new DataView(buf.buffer);
    }
    return this.view;
  }
}

/** A pair's hash; with an empty second range, its first range's alone (the same key). */
function hashPair(view: DataView, at1: number, n1: number, at2: number, n2: number): number {
  const h = mixBytes(view, at1, n1, n1);
  return fmix32(n2 === 0 ? h : mixBytes(view, at2, n2, h ^ n2));
}

/**
 * Open addressing (linear probing, at most half full); keys copied into one growing arena, a
 * key of two ranges as their bytes one after the other with the first one's length beside it.
 * Each slot also remembers the slot looked up after it last time: senders repeat their series in
 * the same order, so the next key is usually that one — compared in place, with no hash and no
 * probe into a table that has outgrown the caches.
 */
class BytesTable<V> {
  size = 0;
  /** Per slot, the slot found after it last time (-1: none); the slot found last. */
  private after = new Int32Array(256).fill(-1);
  private last = -1;
  private mask = 255;
  private hashes = new Int32Array(256);
  /** Where a slot's key starts in the arena; -1: empty. */
  private offsets = new Int32Array(256).fill(-1);
  private lengths = new Int32Array(256);
  /** The length of the key's first range (its whole length for a key of one range). */
  private firsts = new Int32Array(256);
  private values: (V | undefined)[] = new Array<V | undefined>(256);
  private arena = new Uint8Array(4096);
  private arenaView = new DataView(this.arena.buffer);
  private used = 0;

  /** The value of the (one-range) key when it is the one found after the last key last time; otherwise undefined. */
  predicted(view: DataView, at: number, n: number): V | undefined {
    if (this.last < 0) return undefined;
    const i = this.after[this.last];
    if (i < 0 || this.lengths[i] !== n || this.firsts[i] !== n || !sameBytes(this.arenaView, this.offsets[i], view, at, n)) return undefined;
    this.last = i;
    return this.values[i];
  }

  /** The value under the key `n1` bytes at `at1` then `n2` bytes at `at2` (`n2` may be 0). */
  find(h: number, view: DataView, at1: number, n1: number, at2: number, n2: number): V | undefined {
    const i = this.slotOf(h, view, at1, n1, at2, n2);
    if (this.offsets[i] < 0) return undefined;
    this.follows(i);
    return this.values[i];
  }

  private follows(i: number): void {
    if (this.last >= 0) this.after[this.last] = i;
    this.last = i;
  }

  /** Sets the key's value, adding the key when absent. */
  put(h: number, view: DataView, at1: number, n1: number, at2: number, n2: number, value: V): void {
    let i = this.slotOf(h, view, at1, n1, at2, n2);
    if (this.offsets[i] >= 0) {
      this.values[i] = value;
      this.follows(i);
      return;
    }
    const n = n1 + n2;
    if ((this.size + 1) * 2 > this.offsets.length) {
      this.grow();
      i = h & this.mask;
      while (this.offsets[i] >= 0) i = (i + 1) & this.mask;
    }
    if (this.used + n > this.arena.length) {
      const arena = new Uint8Array(Math.max(this.arena.length * 2, this.used + n));
      arena.set(this.arena.subarray(0, this.used));
      this.arena = arena;
      this.arenaView = new DataView(arena.buffer);
    }
    this.arena.set(new Uint8Array(view.buffer, at1, n1), this.used);
    if (n2 > 0) this.arena.set(new Uint8Array(view.buffer, at2, n2), this.used + n1);
    this.offsets[i] = this.used;
    this.lengths[i] = n;
    this.firsts[i] = n1;
    this.hashes[i] = h;
    this.values[i] = value;
    this.used += n;
    this.size++;
    this.follows(i);
  }

  /** The key's slot, or the empty slot where it would go. */
  private slotOf(h: number, view: DataView, at1: number, n1: number, at2: number, n2: number): number {
    const { offsets, hashes, lengths, firsts, mask, arenaView } = this;
    const n = n1 + n2;
    let i = h & mask;
    for (;;) {
      const o = offsets[i];
      if (o < 0) return i;
      if (
        hashes[i] === h &&
        lengths[i] === n &&
        firsts[i] === n1 &&
        sameBytes(arenaView, o, view, at1, n1) &&
        (n2 === 0 || sameBytes(arenaView, o + n1, view, at2, n2))
      ) {
        return i;
      }
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const { hashes, offsets, lengths, firsts, values } = this;
    const cap = offsets.length * 2;
    this.mask = cap - 1;
    this.hashes = new Int32Array(cap);
    this.offsets = new Int32Array(cap).fill(-1);
    this.lengths = new Int32Array(cap);
    this.firsts = new Int32Array(cap);
    this.values = new Array<V | undefined>(cap);
    // slots move: what followed what is learnt again
    this.after = new Int32Array(cap).fill(-1);
    this.last = -1;
    for (let j = 0; j < offsets.length; j++) {
      if (offsets[j] < 0) continue;
      let i = hashes[j] & this.mask;
      while (this.offsets[i] >= 0) i = (i + 1) & this.mask;
      this.offsets[i] = offsets[j];
      this.hashes[i] = hashes[j];
      this.lengths[i] = lengths[j];
      this.firsts[i] = firsts[j];
      this.values[i] = values[j];
    }
  }
}

function sameBytes(a: DataView, ao: number, b: DataView, bo: number, n: number): boolean {
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    if (a.getUint32(ao + j, true) !== b.getUint32(bo + j, true) || a.getUint32(ao + j + 4, true) !== b.getUint32(bo + j + 4, true)) return false;
  }
  for (; j < n; j++) if (a.getUint8(ao + j) !== b.getUint8(bo + j)) return false;
  return true;
}

/**
 * A 32-bit hash of `n` bytes at `at`: two lanes of multiply-xorshift over alternate 4-byte words
 * (independent, so the CPU runs them side by side — 3× MurmurHash3's speed on 100-byte keys),
 * then MurmurHash3's finalizer so that the low bits a table indexes by depend on every byte.
 */
export function hashBytes(view: DataView, at: number, n: number): number {
  return fmix32(mixBytes(view, at, n, n));
}

/** The bytes mixed into `h`, the two lanes folded together: a hash before its finalizer (a pair's first range chains into its second). */
function mixBytes(view: DataView, at: number, n: number, h: number): number {
  let g = 0x2545f491;
  const end = at + n;
  let p = at;
  for (; p + 8 <= end; p += 8) {
    h = Math.imul(h ^ view.getUint32(p, true), 0x9e3779b1);
    g = Math.imul(g ^ view.getUint32(p + 4, true), 0x85ebca77);
    h ^= h >>> 15;
    g ^= g >>> 13;
  }
  if (p + 4 <= end) {
    h = Math.imul(h ^ view.getUint32(p, true), 0x9e3779b1);
    h ^= h >>> 15;
    p += 4;
  }
  for (; p < end; p++) h = Math.imul(h ^ view.getUint8(p), 0x9e3779b1);
  return h ^ Math.imul(g, 0xc2b2ae3d);
}
