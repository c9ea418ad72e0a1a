/**
 * Floats as Go's expfmt writes them into `le` and `quantile` label values, which a protobuf
 * histogram or summary only carries as doubles: the text that Prometheus' client libraries (and
 * so the Pushgateway) expose must be reproduced character for character, or the same bucket
 * becomes a different series (`le="1e+06"` is not `le="1000000"`). expfmt's `writeFloat` is
 * `strconv.FormatFloat(f, 'g', -1, 64)` with 0 (either sign), ±1, NaN and ±Inf hardcoded.
 */

/**
 * Go's shortest `%g`: the same shortest round-trip digits as JavaScript (both pick the closest
 * of the shortest candidates), but exponent notation already from 1e+06 up and below 1e-04, with
 * a signed exponent of at least two digits. `-0` is written `0`, as expfmt does.
 */
export function formatGoFloat(f: number): string {
  if (f === 0) return '0';
  if (f !== f) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  const a = f < 0 ? -f : f;
  // Go's threshold for plain notation is a decimal exponent in [-4, 6); JavaScript's String()
  // is plain over a wider range with the same digits, so inside Go's range it is the answer.
  if (a >= 1e-4 && a < 1e6) return String(f);
  const e = f.toExponential(); // shortest digits: "-1.2345e+21"
  const at = e.indexOf('e');
  const sign = e.charCodeAt(at + 1) === 0x2d ? '-' : '+';
  const digits = e.slice(at + 2);
  return e.slice(0, at) + 'e' + sign + (digits.length < 2 ? '0' + digits : digits);
}

/** The inverse for a writer: a label value back to its double; undefined when it is none. */
export function parseGoFloat(s: string): number | undefined {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (s.trim() === '' || s !== s.trim()) return undefined;
  const v = Number(s);
  return Number.isNaN(v) ? undefined : v;
}
