/**
 * Label sets: the identity of a series. A `Labels` value is immutable, sorted by name (byte
 * order, as Prometheus sorts), free of empty values, and includes `__name__` like any other
 * label. It is stored flat (`[n0, v0, n1, v1, ...]`) so that a series costs one array, and it
 * caches its canonical key so that maps keyed by series (interning, relabel caches, encoded
 * remote-write labels) hash a string once per series, not once per sample.
 */

import { fnv1a32 } from './hash.js';
import { countPackedLabels, packLabels, unpackLabels } from './labels-packed.js';
import { isLegacyLabelName, isLegacyMetricName } from './names.js';

export const METRIC_NAME = '__name__';

export class Labels {
  /** Flat sorted pairs; undefined while the set is packed (see `pack`). */
  private pairs: readonly string[] | undefined;
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
    return this.pairs ?? (this.pairs = unpackLabels(this.encoded!));
  }

  /**
   * The pairs without keeping them: a packed set is unpacked for this call only, so a reader
   * that looks once (a stream aggregation rule placing a series) does not double its memory.
   */
  get kvTransient(): readonly string[] {
    return this.pairs ?? unpackLabels(this.encoded!);
  }

  /**
   * Keeps only the packed form: for a series held across scrapes that is about half the memory
   * of the pairs array, and remote write sends it as it is. The hash is taken first, since the
   * sample path asks for it; anything else that reads the pairs unpacks them again.
   */
  pack(): void {
    if (this.pairs === undefined || this.pairs.length === 0) return;
    void this.hash;
    void this.key;
    this.pairs = undefined;
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
    return this.pairs === undefined ? countPackedLabels(this.encoded!) : this.pairs.length >> 1;
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
    return (this.encoded ??= packLabels(this.kv));
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
    if (this.encoded !== undefined && other.encoded !== undefined) return this.encoded === other.encoded;
    const a = this.kv;
    const b = other.kv;
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
