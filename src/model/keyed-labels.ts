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
