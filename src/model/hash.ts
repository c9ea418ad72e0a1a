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
