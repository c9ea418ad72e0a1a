/** murmur3's 32-bit finalizer: every input bit spread over the whole word (signed 32-bit result). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * FNV-1a, 32 bits, over UTF-16 code units: cheap, well spread, and the same on every run.
 * `seed` continues a hash over several strings.
 */
export function fnv1a32(s: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
