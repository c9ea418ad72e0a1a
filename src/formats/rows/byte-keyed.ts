/**
 * TEMPORARY, delete at the merge of the perf branch: the old name and call shape of the byte-keyed
 * series cache, kept only so that src/formats/graphite/parser.ts (being edited elsewhere) compiles
 * unchanged. The one implementation is `BytesKeyedLabels` in model/keyed-labels.ts; nothing new
 * may import this file.
 */

import { BytesKeyedLabels, DEFAULT_KEYED_LABELS_ENTRIES } from '../../model/keyed-labels.js';

/** @deprecated use `BytesKeyedLabels` (`get`/`set` for one range, `getPair`/`setPair` for two). */
export class ByteKeyedLabels<V> {
  private readonly cache: BytesKeyedLabels<V>;

  constructor(_separator = 0x20, maxEntries = DEFAULT_KEYED_LABELS_ENTRIES) {
    this.cache = new BytesKeyedLabels<V>(maxEntries);
  }

  get(buf: Buffer, s1: number, e1: number, s2 = 0, e2 = 0): V | undefined {
    return this.cache.getPair(buf, s1, e1, s2, e2);
  }

  set(buf: Buffer, s1: number, e1: number, s2: number, e2: number, value: V): void {
    this.cache.setPair(buf, s1, e1, s2, e2, value);
  }

  get size(): number {
    return this.cache.size;
  }
}
