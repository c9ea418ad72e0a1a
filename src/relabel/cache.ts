/**
 * Per-series memo of a relabeler's results. Relabeling is a pure function of the label set, so
 * a series seen before costs one lookup instead of running every rule again.
 *
 * Two levels:
 * - by identity (WeakMap on the `Labels` object): free when the caller interns label sets
 *   (scrape and gateway caches hand out the same object each time); entries go with the object.
 * - by content (`labels.key`), bounded by `maxEntries`: catches equal sets that are distinct
 *   objects. Eviction is generational: entries go into a young map; when it holds
 *   `maxEntries / 2`, it becomes the old map and the previous old map is dropped whole. A hit in
 *   the old map is promoted to the young one, so series seen every scrape stay, and series
 *   gone for a generation are forgotten. At most `maxEntries` keys are held.
 *
 * A new config means a new relabeler and so a new cache; results are never invalidated here.
 */

import type { Labels } from '../model/labels.js';
import type { LabelsProcessor } from './relabel.js';

export interface RelabelCacheOptions {
  /** Bound on the content-keyed entries; default 100,000. */
  maxEntries?: number;
  /** Also memoise by object identity (for interned label sets); default true. */
  byIdentity?: boolean;
}

/** `null` records a drop, so that a miss (undefined) and a drop stay apart. */
type Result = Labels | null;

export const DEFAULT_RELABEL_CACHE_ENTRIES = 100_000;

export class CachedRelabeler implements LabelsProcessor {
  private readonly half: number;
  private readonly byIdentity: WeakMap<Labels, Result> | undefined;
  private young = new Map<string, Result>();
  private old = new Map<string, Result>();

  constructor(
    private readonly inner: LabelsProcessor,
    opts: RelabelCacheOptions = {},
  ) {
    this.half = Math.max(1, Math.floor((opts.maxEntries ?? DEFAULT_RELABEL_CACHE_ENTRIES) / 2));
    this.byIdentity = (opts.byIdentity ?? true) ? new WeakMap() : undefined;
  }

  process(labels: Labels): Labels | undefined {
    const hit = this.byIdentity?.get(labels);
    if (hit !== undefined) return hit ?? undefined;
    const key = labels.key;
    let result = this.young.get(key);
    if (result === undefined) {
      result = this.old.get(key);
      if (result === undefined) result = this.inner.process(labels) ?? null;
      this.remember(key, result);
    }
    this.byIdentity?.set(labels, result);
    return result ?? undefined;
  }

  /** Content-keyed entries held now. */
  get size(): number {
    return this.young.size + this.old.size;
  }

  private remember(key: string, result: Result): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, result);
  }
}
