/**
 * VictoriaMetrics' histogram buckets (`vmrange` labels), as its metrics library makes them:
 * 18 buckets per power of ten from 1e-9 to 1e18, each named `start...end` in Go's `%.3e`, plus
 * `0...1.000e-09` below and `1.000e+18...+Inf` above. A value on a bucket's upper edge belongs to
 * that bucket (Prometheus' `le` rule); NaN and negative values have no bucket.
 */

const E10_MIN = -9;
const E10_MAX = 18;
const PER_DECADE = 18;
export const BUCKETS = (E10_MAX - E10_MIN) * PER_DECADE;
/** Index of the bucket below 1e-9 and of the one above 1e18. */
export const LOWER = -1;
export const UPPER = BUCKETS;

/** Go's %.3e: the exponent has a sign and at least two digits. */
function goExp3(v: number): string {
  const s = v.toExponential(3);
  const e = s.indexOf('e');
  const sign = s[e + 1];
  const digits = s.slice(e + 2);
  return `${s.slice(0, e)}e${sign}${digits.length < 2 ? '0' + digits : digits}`;
}

let ranges: string[] | undefined;

function bucketRanges(): string[] {
  if (ranges) return ranges;
  const out = new Array<string>(BUCKETS);
  const multiplier = Math.pow(10, 1 / PER_DECADE);
  let v = Math.pow(10, E10_MIN);
  let start = goExp3(v);
  for (let i = 0; i < BUCKETS; i++) {
    v *= multiplier;
    const end = goExp3(v);
    out[i] = `${start}...${end}`;
    start = end;
  }
  return (ranges = out);
}

/** The bucket of `v`; undefined for NaN and negative values. */
export function bucketOf(v: number): number | undefined {
  if (!(v >= 0)) return undefined;
  const idx = (Math.log10(v) - E10_MIN) * PER_DECADE;
  if (idx < 0) return LOWER;
  if (idx >= BUCKETS) return UPPER;
  let i = Math.floor(idx);
  // 10^n sits on an upper edge: it belongs to the bucket below
  if (idx === i && i > 0) i--;
  return i;
}

export function vmrange(bucket: number): string {
  if (bucket === LOWER) return `0...${goExp3(Math.pow(10, E10_MIN))}`;
  if (bucket === UPPER) return `${goExp3(Math.pow(10, E10_MAX))}...+Inf`;
  return bucketRanges()[bucket];
}
