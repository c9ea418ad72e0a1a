/**
 * Label sets: the identity of a series. A `Labels` value is immutable, sorted by name (byte
 * order, as Prometheus sorts), free of empty values, and includes `__name__` like any other
 * label. It is stored flat (`[n0, v0, n1, v1, ...]`) so that a series costs one array, and it
 * caches its canonical key so that maps keyed by series (interning, relabel caches, encoded
 * remote-write labels) hash a string once per series, not once per sample.
 */

import { fnv1a32 } from './hash.js';
import { countPackedLabels, packedEntryEnds, packLabels, unpackLabels } from './labels-packed.js';
import { isLegacyLabelName, isLegacyMetricName } from './names.js';

export const METRIC_NAME = '__name__';

export class Labels {
  /**
   * Flat sorted pairs; undefined while the set is packed (see `pack`), the labels it shares
   * while it is packed around them (`packAround`: one field for both, as a series held across
   * scrapes is mostly this object).
   */
  private pairs: readonly string[] | PackedBase | undefined;
  /**
   * The set's packed form (labels-packed.ts: remote write's protobuf labels, one byte per
   * character), computed the first time `key` is asked for, whose value it is: a series is
   * encoded once, not once per sample. A string rather than a Uint8Array because a small typed
   * array costs an ArrayBuffer, a backing store and two heap objects — several times the bytes
   * it holds. The set's only lazily filled fields are this and the hash, both its own
   * identity; what a consumer keeps per series (a writer's codes, a scrape's per-line state)
   * it keeps in tables of its own, so that any number of consumers can each keep their own.
   */
  private encoded: string | undefined = undefined;
  private cachedHash = 0;

  private constructor(kv: readonly string[]) {
    this.pairs = kv;
  }

  /** Flat sorted pairs; never mutate. Unpacked again (and kept) when the set was packed. */
  get kv(): readonly string[] {
    // packed around shared labels, the pairs are unpacked for each caller: keeping them would undo the sharing
    return this.pairs === undefined ? (this.pairs = unpackLabels(this.encoded!)) : this.kvTransient;
  }

  /**
   * The pairs without keeping them: a packed set is unpacked for this call only, so a reader
   * that looks once (a stream aggregation rule placing a series) does not double its memory.
   */
  get kvTransient(): readonly string[] {
    const p = this.pairs;
    if (p === undefined) return unpackLabels(this.encoded!);
    return p instanceof PackedBase ? unpackLabels(this.joined()) : p;
  }

  /**
   * The labels the set shares, while it is packed around them: `encoded` then holds, after two
   * characters per shared label saying where its entry goes, only the entries of its own.
   */
  private get base(): PackedBase | undefined {
    const p = this.pairs;
    return p instanceof PackedBase ? p : undefined;
  }

  /**
   * Keeps only the packed form: for a series held across scrapes that is about half the memory
   * of the pairs array, and remote write sends it as it is. The hash is taken first, since the
   * sample path asks for it; anything else that reads the pairs unpacks them again.
   */
  pack(): void {
    const p = this.pairs;
    if (p === undefined || p instanceof PackedBase || p.length === 0) return;
    void this.hash;
    void this.key;
    this.pairs = undefined;
  }

  /**
   * Packs the set around labels it shares with many others — a scrape target's, attached to
   * every series the target exposes — when it has all of them (same values): it then holds
   * only its own labels' entries, behind a two-character offset per shared label saying where
   * that label's entry goes, and `share` may hand back an equal string another set holds (the
   * same line of the same exporter on every host). A target's series then cost their own
   * labels once per process, not their whole set once per target. Otherwise as `pack`.
   */
  packAround(base: PackedBase, share: (own: string) => string): void {
    const kv = this.pairs;
    if (kv === undefined || kv instanceof PackedBase || kv.length === 0) return;
    const m = base.size;
    if (m === 0 || m > MAX_SHARED_LABELS) return this.pack();
    const own: string[] = [];
    /** How many own labels come before shared label j. */
    const before: number[] = [];
    let j = 0;
    for (let i = 0; i < kv.length; i += 2) {
      if (j < m && kv[i] === base.names[j]) {
        if (kv[i + 1] !== base.values[j]) return this.pack();
        before.push(own.length >> 1);
        j++;
      } else own.push(kv[i], kv[i + 1]);
    }
    if (j < m) return this.pack();
    const packedOwn = packLabels(own);
    if (packedOwn.length > 0xffff) return this.pack();
    const ends = packedEntryEnds(packedOwn);
    let offsets = '';
    for (const k of before) {
      const at = k === 0 ? 0 : ends[k - 1];
      offsets += String.fromCharCode(at >> 8, at & 0xff);
    }
    void this.hash;
    this.encoded = share(offsets + packedOwn);
    this.pairs = base;
  }

  static readonly EMPTY = new Labels([]);

  /** Trusts that `kv` is already sorted by name, unique and without empty values. */
  static fromSortedFlat(kv: readonly string[]): Labels {
    return kv.length === 0 ? Labels.EMPTY : new Labels(kv);
  }

  /** From unsorted pairs; empty values are dropped, a later duplicate name wins. */
  static fromPairs(pairs: Iterable<readonly [string, string]>): Labels {
    const b = new LabelsBuilder();
    for (const [n, v] of pairs) b.set(n, v);
    return b.build();
  }

  static fromRecord(rec: Readonly<Record<string, string>>): Labels {
    return Labels.fromPairs(Object.entries(rec));
  }

  get size(): number {
    // a packed set stays packed for a size: pushed series are checked against max_labels_per_series
    const p = this.pairs;
    if (p === undefined) return countPackedLabels(this.encoded!);
    return p instanceof PackedBase ? countPackedLabels(this.encoded!, 2 * p.size) + p.size : p.length >> 1;
  }

  name(i: number): string {
    return this.kv[i << 1];
  }

  value(i: number): string {
    return this.kv[(i << 1) + 1];
  }

  get(name: string): string | undefined {
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) if (kv[i] === name) return kv[i + 1];
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** The metric name, or '' when the set has none. */
  get metricName(): string {
    return this.get(METRIC_NAME) ?? '';
  }

  /**
   * Canonical string identity: equal keys ⇔ equal label sets. It is the packed form, which
   * sorts the pairs and prefixes every string with its length, so no label text can forge a
   * boundary — and a series that remote write sends keeps one string for both uses.
   */
  get key(): string {
    if (this.pairs instanceof PackedBase) {
      // whoever keys by content holds the string anyway: the set keeps it from now on
      this.encoded = this.joined();
      this.pairs = undefined;
      return this.encoded;
    }
    return (this.encoded ??= packLabels(this.kv));
  }

  /** The packed form; made for this call, and not kept, when the set is packed around shared labels. */
  packedTransient(): string {
    return this.base === undefined ? this.key : this.joined();
  }

  /** Packs the set around `base` whatever form it is in now (its pairs are taken out of it first). */
  repackAround(base: PackedBase, share: (own: string) => string): void {
    if (this.pairs === base) return;
    const kv = this.kvTransient;
    if (kv.length === 0) return;
    this.pairs = kv;
    this.encoded = undefined;
    this.packAround(base, share);
  }

  /** Bytes of the packed form. */
  get packedLength(): number {
    const base = this.base;
    return base === undefined ? this.key.length : this.encoded!.length - 2 * base.size + base.length;
  }

  /** Writes the packed form at `p`; returns where it ends. Nothing is allocated for a set packed around shared labels. */
  writePacked(buf: Buffer, p: number): number {
    const base = this.base;
    if (base === undefined) return p + buf.write(this.key, p, 'latin1');
    const own = this.encoded!;
    const m = base.size;
    const skip = 2 * m;
    let from = skip;
    for (let j = 0; j < m; j++) {
      const to = skip + ((own.charCodeAt(2 * j) << 8) | own.charCodeAt(2 * j + 1));
      for (let i = from; i < to; i++) buf[p++] = own.charCodeAt(i);
      const entry = base.entries[j];
      for (let i = 0; i < entry.length; i++) buf[p++] = entry.charCodeAt(i);
      from = to;
    }
    for (let i = from; i < own.length; i++) buf[p++] = own.charCodeAt(i);
    return p;
  }

  private joined(): string {
    const n = this.packedLength;
    if (n > joinScratch.length) joinScratch = Buffer.allocUnsafe(2 * n);
    return joinScratch.toString('latin1', 0, this.writePacked(joinScratch, 0));
  }

  /**
   * A stable 32-bit hash of the set (for sharding series), computed once per set — from the
   * pairs, without building the key, which may otherwise never be needed. A signed int32
   * (never 0), so V8 keeps it in the field unboxed: a number over 2^31 is a heap object, and
   * reading one back allocated on every call. Use `hash >>> 0` for an index.
   */
  get hash(): number {
    let h = this.cachedHash;
    if (h === 0) {
      h = 0x811c9dc5;
      for (const s of this.kv) h = fnv1a32(s, Math.imul(h ^ 0xff, 0x01000193));
      h = h | 0 || 1;
      this.cachedHash = h;
    }
    return h;
  }

  equals(other: Labels): boolean {
    if (this === other) return true;
    // packed alike (flat, or around the same shared labels): equal strings, equal sets
    if (this.encoded !== undefined && other.encoded !== undefined && this.base === other.base) return this.encoded === other.encoded;
    const a = this.kvTransient;
    const b = other.kvTransient;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** Orders like Prometheus' labels.Compare: pairwise by name, then value, then length. */
  compare(other: Labels): number {
    const a = this.kv;
    const b = other.kv;
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return a.length - b.length;
  }

  /** A copy without the named labels. */
  without(...names: string[]): Labels {
    const out: string[] = [];
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) {
      if (!names.includes(kv[i])) out.push(kv[i], kv[i + 1]);
    }
    return out.length === kv.length ? this : Labels.fromSortedFlat(out);
  }

  toRecord(): Record<string, string> {
    const rec: Record<string, string> = {};
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) {
      // Assigning `__proto__` would set the prototype (or nothing) instead of a label.
      if (kv[i] !== '__proto__') rec[kv[i]] = kv[i + 1];
      else Object.defineProperty(rec, kv[i], { value: kv[i + 1], enumerable: true, writable: true, configurable: true });
    }
    return rec;
  }

  /**
   * Prometheus' notation: `name{a="b"}`, with names outside the legacy character set quoted
   * (`{"my.metric", "a.b"="c"}`) as Prometheus 3 writes them, so the text reads back as the
   * same set (config/selector.ts `parseLabelSet`).
   */
  toString(): string {
    const name = this.metricName;
    const bare = name === '' || isLegacyMetricName(name);
    let out = bare ? '' : JSON.stringify(name);
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) {
      if (kv[i] === METRIC_NAME) continue;
      out += (out === '' ? '' : ', ') + formatLabel(kv[i], kv[i + 1]);
    }
    return (bare ? name : '') + '{' + out + '}';
  }
}

/** More shared labels than this and a set is packed whole. */
const MAX_SHARED_LABELS = 64;
let joinScratch = Buffer.allocUnsafe(4096);

/**
 * Labels many sets have in common — a scrape target's own, attached to every series it
 * exposes — packed once, for `Labels.packAround`. One per target, held by its series.
 */
export class PackedBase {
  readonly size: number;
  /** Sorted by name, as the set's pairs. */
  readonly names: readonly string[];
  readonly values: readonly string[];
  /** Each label's packed entry. */
  readonly entries: readonly string[];
  /** Bytes of all the entries. */
  readonly length: number;

  constructor(labels: Labels) {
    const kv = labels.kvTransient;
    const names: string[] = [];
    const values: string[] = [];
    const entries: string[] = [];
    let length = 0;
    for (let i = 0; i < kv.length; i += 2) {
      names.push(kv[i]);
      values.push(kv[i + 1]);
      const entry = packLabels([kv[i], kv[i + 1]]);
      entries.push(entry);
      length += entry.length;
    }
    this.size = names.length;
    this.names = names;
    this.values = values;
    this.entries = entries;
    this.length = length;
  }
}

/** One pair as `Labels.toString` writes it: `a="b"`, or `"a.b"="c"` for a non-legacy name. */
export function formatLabel(name: string, value: string): string {
  return (isLegacyLabelName(name) ? name : JSON.stringify(name)) + '=' + JSON.stringify(value);
}

/**
 * Mutable staging area for a label set, like Prometheus' labels.Builder: set and delete in any
 * order, then build one sorted immutable `Labels`. Reusable after `reset`.
 *
 * Kept flat like `Labels`, so `reset` is one native array copy; while no new name is added the
 * pairs stay sorted and `build` copies them without sorting (relabel rules mostly change values
 * or drop labels).
 */
export class LabelsBuilder {
  private kv: string[] = [];
  private sorted = true;

  reset(from?: Labels): this {
    this.kv = from ? from.kv.slice() : [];
    this.sorted = true;
    return this;
  }

  private indexOf(name: string): number {
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) if (kv[i] === name) return i;
    return -1;
  }

  get(name: string): string | undefined {
    const i = this.indexOf(name);
    return i < 0 ? undefined : this.kv[i + 1];
  }

  /** An empty value deletes, as in Prometheus. */
  set(name: string, value: string): this {
    const i = this.indexOf(name);
    if (value === '') {
      if (i >= 0) this.kv.splice(i, 2);
    } else if (i >= 0) {
      this.kv[i + 1] = value;
    } else {
      const kv = this.kv;
      if (kv.length > 0 && kv[kv.length - 2] > name) this.sorted = false;
      kv.push(name, value);
    }
    return this;
  }

  del(name: string): this {
    const i = this.indexOf(name);
    if (i >= 0) this.kv.splice(i, 2);
    return this;
  }

  forEach(fn: (name: string, value: string) => void): void {
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) fn(kv[i], kv[i + 1]);
  }

  build(): Labels {
    return this.kv.length === 0 ? Labels.EMPTY : Labels.fromSortedFlat(this.sortedPairs());
  }

  private sortedPairs(): string[] {
    const kv = this.kv.slice();
    if (!this.sorted) {
      // insertion sort by pairs: a handful of labels, mostly in order
      for (let i = 2; i < kv.length; i += 2) {
        const n = kv[i];
        const v = kv[i + 1];
        let j = i - 2;
        while (j >= 0 && kv[j] > n) {
          kv[j + 2] = kv[j];
          kv[j + 3] = kv[j + 1];
          j -= 2;
        }
        kv[j + 2] = n;
        kv[j + 3] = v;
      }
    }
    return kv;
  }
}

/**
 * Deduplicates equal label sets so that every series is one object shared by all who hold it.
 * Callers that see the same series repeatedly (scrapes, pushes) keep the returned instance and
 * compare by identity.
 */
export class LabelsInterner {
  private readonly byKey = new Map<string, Labels>();

  intern(labels: Labels): Labels {
    const found = this.byKey.get(labels.key);
    if (found) return found;
    this.byKey.set(labels.key, labels);
    return labels;
  }

  get size(): number {
    return this.byKey.size;
  }

  delete(labels: Labels): void {
    this.byKey.delete(labels.key);
  }
}
