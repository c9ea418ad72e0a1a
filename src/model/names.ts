/**
 * Metric and label name rules. Prometheus 3 accepts any non-empty UTF-8 name when it is quoted;
 * names matching the legacy character set are written bare.
 */

const LEGACY_METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
// With the u flag a surrogate only matches when unpaired.
const LONE_SURROGATE = /\p{Cs}/u;

export function isLegacyMetricName(name: string): boolean {
  return LEGACY_METRIC.test(name);
}

/** A loop rather than a regex: cheaper for the short names it mostly sees, on hot paths (writers, parsers). */
export function isLegacyLabelName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || c === 0x5f || (c >= 0x41 && c <= 0x5a) || (i > 0 && c >= 0x30 && c <= 0x39))) return false;
  }
  return true;
}

/** Any non-empty name without lone surrogates (which UTF-8 cannot carry) is valid when quoted. */
export function isValidUtf8Name(name: string): boolean {
  return name.length > 0 && !LONE_SURROGATE.test(name);
}

/** Prometheus' "underscores" escaping for clients that cannot take UTF-8 names. */
export function escapeToLegacyName(name: string, isMetric: boolean): string {
  if (isMetric ? isLegacyMetricName(name) : isLegacyLabelName(name)) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      c === 0x5f ||
      (isMetric && c === 0x3a) ||
      (i > 0 && c >= 0x30 && c <= 0x39);
    out += ok ? name[i] : '_';
  }
  return out;
}
