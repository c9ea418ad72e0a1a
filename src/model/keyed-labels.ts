/**
 * Label sets by a key a producer already has in hand — the raw bytes of a pushed line's series
 * part (`measurement,tag=v`, `name;tag=v`, a JSON `metric` object) — so a series pushed again
 * costs one map lookup instead of a parse of its labels, and is handed out as the same `Labels`
 * object every time (which the relabel and remote-write caches key on by identity).
 *
 * Bounded and generational, as the relabel cache: new keys go into a young map; when it holds
 * `maxEntries / 2` it becomes the old map and the previous old map is dropped whole. A hit in
 * the old map is promoted, so series pushed every interval stay and vanished ones go.
 */

import type { Labels } from './labels.js';

export const DEFAULT_KEYED_LABELS_ENTRIES = 200_000;

export class KeyedLabels<V = Labels> {
  private readonly half: number;
  private young = new Map<string, V>();
  private old = new Map<string, V>();

  constructor(maxEntries = DEFAULT_KEYED_LABELS_ENTRIES) {
    this.half = Math.max(1, Math.floor(maxEntries / 2));
  }

  get(key: string): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }

  set(key: string, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}

/**
 * `KeyedLabels` keyed by the bytes in place (`buf[start..end)`) rather than a string of them:
 * a hit makes no string and no garbage, and hashes four bytes at a step where a string key is
 * first copied and then hashed a character at a time — two to four times as fast on the 40- to
 * 100-byte keys of pushed series (Graphite names, Influx series, remote write's label bytes).
 * Same policy as `KeyedLabels`: two generations, a hit in the old one promoted.
 */
export class BytesKeyedLabels<V = Labels> {
  private readonly half: number;
  private young = new BytesTable<V>();
  private old = new BytesTable<V>();
  // a DataView of the ArrayBuffer under the bytes last looked up, for reading them four at a time
  private ab: ArrayBufferLike | undefined;
  private buf: Uint8Array | undefined;
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  constructor(maxEntries = DEFAULT_KEYED_LABELS_ENTRIES) {
    this.half = Math.max(1, Math.floor(maxEntries / 2));
  }

  get(buf: Uint8Array, start: number, end: number): V | undefined {
    const view = this.viewOf(buf);
    const at = buf.byteOffset + start;
    const next = this.young.predicted(view, at, end - start);
    if (next !== undefined) return next;
    const h = hashBytes(view, at, end - start);
    const v = this.young.find(h, view, at, end - start);
    if (v !== undefined) return v;
    const o = this.old.find(h, view, at, end - start);
    if (o !== undefined) this.insert(h, view, at, end - start, o);
    return o;
  }

  set(buf: Uint8Array, start: number, end: number, value: V): void {
    const view = this.viewOf(buf);
    const at = buf.byteOffset + start;
    this.insert(hashBytes(view, at, end - start), view, at, end - start, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  private insert(h: number, view: DataView, at: number, n: number, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new BytesTable<V>();
    }
    this.young.put(h, view, at, n, value);
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

/**
 * Open addressing (linear probing, at most half full); keys copied into one growing arena. Each
 * slot also remembers the slot looked up after it last time: senders repeat their series in the
 * same order, so the next key is usually that one — compared in place, with no hash and no probe
 * into a table that has outgrown the caches.
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
  private values: (V | undefined)[] = new Array<V | undefined>(256);
  private arena = new Uint8Array(4096);
  private arenaView = new DataView(this.arena.buffer);
  private used = 0;

  /** The value of the key when it is the one found after the last key last time; otherwise undefined. */
  predicted(view: DataView, at: number, n: number): V | undefined {
    if (this.last < 0) return undefined;
    const i = this.after[this.last];
    if (i < 0 || this.lengths[i] !== n || !sameBytes(this.arenaView, this.offsets[i], view, at, n)) return undefined;
    this.last = i;
    return this.values[i];
  }

  find(h: number, view: DataView, at: number, n: number): V | undefined {
    const { offsets, hashes, lengths, mask } = this;
    let i = h & mask;
    for (;;) {
      const o = offsets[i];
      if (o < 0) return undefined;
      if (hashes[i] === h && lengths[i] === n && sameBytes(this.arenaView, o, view, at, n)) {
        this.follows(i);
        return this.values[i];
      }
      i = (i + 1) & mask;
    }
  }

  private follows(i: number): void {
    if (this.last >= 0) this.after[this.last] = i;
    this.last = i;
  }

  /** Sets the key's value, adding the key when absent. */
  put(h: number, view: DataView, at: number, n: number, value: V): void {
    let i = h & this.mask;
    for (;;) {
      const o = this.offsets[i];
      if (o < 0) break;
      if (this.hashes[i] === h && this.lengths[i] === n && sameBytes(this.arenaView, o, view, at, n)) {
        this.values[i] = value;
        this.follows(i);
        return;
      }
      i = (i + 1) & this.mask;
    }
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
    this.arena.set(new Uint8Array(view.buffer, at, n), this.used);
    this.offsets[i] = this.used;
    this.lengths[i] = n;
    this.hashes[i] = h;
    this.values[i] = value;
    this.used += n;
    this.size++;
    this.follows(i);
  }

  private grow(): void {
    const { hashes, offsets, lengths, values } = this;
    const cap = offsets.length * 2;
    this.mask = cap - 1;
    this.hashes = new Int32Array(cap);
    this.offsets = new Int32Array(cap).fill(-1);
    this.lengths = new Int32Array(cap);
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
  let h = n;
  let g = 0x2545f491;
  const end = at + n;
  let p = at;
  for (; p + 8 <= end; p += 8) {
    h = Math.imul(h ^ view.getUint32(p, true), 0x9e3779b1);
    g = Math.imul(g ^ view.getUint32(p + 4, true), 0x85ebca77);
    h ^= h >>> 15;
    g ^= g >>> 13;
  }
  for (; p < end; p++) h = Math.imul(h ^ view.getUint8(p), 0x9e3779b1);
  h ^= Math.imul(g, 0xc2b2ae3d);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}
