/**
 * Per-series state its owner keeps in columns of its own (parallel arrays indexed by a dense
 * id) rather than in fields of `Labels`: the scrape cache's lines, a remote-write writer's
 * codes. What such tables share is forgetting entries without leaving holes.
 */

/**
 * Moves the entries `keep` accepts down over the others, in order: `move(from, to)` copies
 * one entry's columns. Returns each old id's new one (-1: forgotten) and how many are left.
 */
export function compactColumns(n: number, keep: (id: number) => boolean, move: (from: number, to: number) => void): { moved: Int32Array; left: number } {
  const moved = new Int32Array(n);
  let left = 0;
  for (let i = 0; i < n; i++) {
    if (!keep(i)) {
      moved[i] = -1;
      continue;
    }
    moved[i] = left;
    if (left !== i) move(i, left);
    left++;
  }
  return { moved, left };
}

/** A copy of `a` with room for exactly `n` entries (fewer than it has: the first `n`). */
export function resizedInts(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
