/**
 * A per-series cache keyed by the bytes of a pushed line themselves — no string is made for a
 * lookup, which was most of the cost of `KeyedLabels` on the line protocols (a `latin1` copy of
 * the series part, then hashing and comparing it in a Map). A key is one or two byte ranges of
 * the input (OpenTSDB's metric and tags, around the timestamp and value), taken as their
 * concatenation with a separator byte between them — one the format never has unescaped at the
 * end of the first range (a space after a telnet metric, a quote after a JSON string's bytes), so
 * two different pairs of ranges cannot make the same key.
 *
 * Open addressing over typed arrays, the key bytes copied into an arena. Bounded and
 * generational as `KeyedLabels`: new keys go into a young table; when it holds `maxEntries / 2`
 * it becomes the old table and the previous old one is dropped whole; a hit in the old table is
 * promoted, so series pushed every interval stay and vanished ones go.
 */

import { DEFAULT_KEYED_LABELS_ENTRIES } from '../../model/keyed-labels.js';

const EMPTY = -1;

function hashRange(h: number, buf: Buffer, start: number, end: number): number {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    h = Math.imul(h ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)), 0x01000193);
    h ^= h >>> 15;
  }
  for (; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return h;
}

class Table<V> {
  mask: number;
  hashes: Int32Array;
  /** Start of each key in the arena; EMPTY for a free slot. */
  offsets: Int32Array;
  lengths: Int32Array;
  values: (V | undefined)[];
  arena: Buffer;
  used = 0;
  size = 0;

  constructor(
    capacity: number,
    readonly separator: number,
  ) {
    this.mask = capacity - 1;
    this.hashes = new Int32Array(capacity);
    this.offsets = new Int32Array(capacity).fill(EMPTY);
    this.lengths = new Int32Array(capacity);
    this.values = new Array<V | undefined>(capacity);
    this.arena = Buffer.allocUnsafe(capacity * 32);
  }

  find(h: number, buf: Buffer, s1: number, e1: number, s2: number, e2: number): number {
    const len = e1 - s1 + (e2 > s2 ? 1 + e2 - s2 : 0);
    const { hashes, offsets, lengths, arena, mask } = this;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const off = offsets[slot];
      if (off === EMPTY) return ~slot;
      if (hashes[slot] !== h || lengths[slot] !== len) continue;
      let p = off;
      let same = true;
      for (let i = s1; i < e1; i++, p++) {
        if (arena[p] !== buf[i]) {
          same = false;
          break;
        }
      }
      if (same && e2 > s2) {
        if (arena[p++] !== this.separator) same = false;
        else {
          for (let i = s2; i < e2; i++, p++) {
            if (arena[p] !== buf[i]) {
              same = false;
              break;
            }
          }
        }
      }
      if (same) return slot;
    }
  }

  insert(slot: number, h: number, buf: Buffer, s1: number, e1: number, s2: number, e2: number, value: V): void {
    const len = e1 - s1 + (e2 > s2 ? 1 + e2 - s2 : 0);
    if (this.used + len > this.arena.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.used + len));
      this.arena.copy(bigger, 0, 0, this.used);
      this.arena = bigger;
    }
    const off = this.used;
    buf.copy(this.arena, off, s1, e1);
    if (e2 > s2) {
      this.arena[off + e1 - s1] = this.separator;
      buf.copy(this.arena, off + e1 - s1 + 1, s2, e2);
    }
    this.used += len;
    this.hashes[slot] = h;
    this.offsets[slot] = off;
    this.lengths[slot] = len;
    this.values[slot] = value;
    this.size++;
  }

  /** Twice the slots, the same entries (keys stay where they are in the arena). */
  grown(): Table<V> {
    const t = new Table<V>((this.mask + 1) * 2, this.separator);
    t.arena = this.arena;
    t.used = this.used;
    t.size = this.size;
    for (let s = 0; s <= this.mask; s++) {
      const off = this.offsets[s];
      if (off === EMPTY) continue;
      let slot = this.hashes[s] & t.mask;
      while (t.offsets[slot] !== EMPTY) slot = (slot + 1) & t.mask;
      t.hashes[slot] = this.hashes[s];
      t.offsets[slot] = off;
      t.lengths[slot] = this.lengths[s];
      t.values[slot] = this.values[s];
    }
    return t;
  }
}

export class ByteKeyedLabels<V> {
  private readonly half: number;
  private young: Table<V>;
  private old: Table<V> | undefined;

  /** `separator`: the byte between a key's two ranges (see above). */
  constructor(
    private readonly separator = 0x20,
    maxEntries = DEFAULT_KEYED_LABELS_ENTRIES,
  ) {
    this.half = Math.max(1, Math.floor(maxEntries / 2));
    this.young = new Table<V>(1024, separator);
  }

  /** The value under the key buf[s1, e1) (+ separator + buf[s2, e2) when that range is not empty). */
  get(buf: Buffer, s1: number, e1: number, s2 = 0, e2 = 0): V | undefined {
    let h = hashRange(0x811c9dc5, buf, s1, e1);
    if (e2 > s2) h = hashRange(Math.imul(h, 0x01000193), buf, s2, e2);
    const slot = this.young.find(h, buf, s1, e1, s2, e2);
    if (slot >= 0) return this.young.values[slot];
    const old = this.old;
    if (old === undefined) return undefined;
    const o = old.find(h, buf, s1, e1, s2, e2);
    if (o < 0) return undefined;
    const v = old.values[o]!;
    this.put(h, ~slot, buf, s1, e1, s2, e2, v);
    return v;
  }

  set(buf: Buffer, s1: number, e1: number, s2: number, e2: number, value: V): void {
    let h = hashRange(0x811c9dc5, buf, s1, e1);
    if (e2 > s2) h = hashRange(Math.imul(h, 0x01000193), buf, s2, e2);
    const slot = this.young.find(h, buf, s1, e1, s2, e2);
    if (slot >= 0) {
      this.young.values[slot] = value;
      return;
    }
    this.put(h, ~slot, buf, s1, e1, s2, e2, value);
  }

  get size(): number {
    return this.young.size + (this.old?.size ?? 0);
  }

  private put(h: number, slot: number, buf: Buffer, s1: number, e1: number, s2: number, e2: number, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Table<V>(1024, this.separator);
      slot = ~this.young.find(h, buf, s1, e1, s2, e2);
    } else if ((this.young.size + 1) * 2 > this.young.mask + 1) {
      this.young = this.young.grown();
      slot = ~this.young.find(h, buf, s1, e1, s2, e2);
    }
    this.young.insert(slot, h, buf, s1, e1, s2, e2, value);
  }
}
