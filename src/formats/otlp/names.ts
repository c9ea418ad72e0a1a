/**
 * OTLP names to Prometheus names, by the rules of Prometheus' OTLP translator (the
 * `UnderscoreEscapingWithSuffixes` strategy, Prometheus' default, which most users of OTLP with
 * Prometheus expect): metric names split into tokens of `[a-zA-Z0-9:]` joined by `_`, unit
 * suffixes from the UCUM unit (`s` → `_seconds`, `By/s` → `_bytes_per_second`, `{...}` dropped),
 * `_total` for monotonic sums, `_ratio` for unit-`1` gauges; label names with invalid characters
 * as `_`, `key_` before a leading digit or a single leading `_`. Without suffixes
 * (`prometheus_naming: false`) the name is only sanitized.
 */

const UNITS: Readonly<Record<string, string>> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '1': '',
  '%': 'percent',
};

const PER_UNITS: Readonly<Record<string, string>> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

/**
 * The translator's metric types: `counter` (a monotonic sum) gets `_total`, `gauge` gets `_ratio`
 * for unit `1`; a non-monotonic sum (`updown`) neither, though it is stored as a gauge.
 */
export type OtlpNameKind = 'gauge' | 'counter' | 'updown' | 'histogram' | 'exphistogram' | 'summary';

const own = (o: Readonly<Record<string, string>>, k: string): string | undefined => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

/** `[a-zA-Z0-9:]`: a metric name's characters besides `_`, which separates tokens. */
function isMetricChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x3a;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Runs of metric characters (code points, so a surrogate pair is one separator). */
function tokens(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const ch of s) {
    if (ch.length === 1 && isMetricChar(ch.charCodeAt(0))) cur += ch;
    else if (cur !== '') {
      out.push(cur);
      cur = '';
    }
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** Invalid characters to `_`, runs of `_` to one, no leading `_` (the translator's cleanUpUnit). */
function cleanUpUnit(unit: string): string {
  let out = '';
  let under = false;
  for (const ch of unit) {
    const ok = ch.length === 1 && isMetricChar(ch.charCodeAt(0));
    if (ok) {
      out += ch;
      under = false;
    } else if (!under) {
      out += '_';
      under = true;
    }
  }
  return out.startsWith('_') ? out.slice(1) : out;
}

/** The main and `per_` suffixes of a UCUM unit, before cleaning; `{...}` annotations give none. */
export function unitSuffixes(unit: string): [main: string, per: string] {
  const slash = unit.indexOf('/');
  const mainText = (slash < 0 ? unit : unit.slice(0, slash)).trim();
  let main = '';
  if (mainText !== '' && !/[{}]/.test(mainText)) main = own(UNITS, mainText) ?? mainText;
  let per = '';
  if (slash >= 0 && slash + 1 < unit.length) {
    const perText = unit.slice(slash + 1).trim();
    if (perText !== '' && !/[{}]/.test(perText)) per = own(PER_UNITS, perText) ?? perText;
    if (per !== '') per = 'per_' + per;
  }
  return [main, per];
}

/**
 * The Prometheus name of an OTLP metric; '' when nothing valid is left of it (the metric is
 * then refused). `suffixes: false` only replaces invalid characters.
 */
export function metricName(name: string, unit: string, kind: OtlpNameKind, suffixes: boolean): string {
  let out: string;
  if (!suffixes) {
    // runs of invalid characters become one `_`, and none is left at either end
    const parts: string[] = [];
    let cur = '';
    for (const ch of name) {
      const c = ch.length === 1 ? ch.charCodeAt(0) : -1;
      if (c >= 0 && (isMetricChar(c) || c === 0x5f)) cur += ch;
      else if (cur !== '') {
        parts.push(cur);
        cur = '';
      }
    }
    if (cur !== '') parts.push(cur);
    out = parts.join('_');
    if (out !== '' && isDigit(out.charCodeAt(0))) out = '_' + out;
  } else {
    let toks = tokens(name);
    const [mainRaw, perRaw] = unitSuffixes(unit);
    let main = cleanUpUnit(mainRaw);
    let per = cleanUpUnit(perRaw);
    if (toks.includes(main)) main = '';
    if (per === 'per_') per = '';
    else {
      if (per.endsWith('_')) per = per.slice(0, -1);
      if (toks.includes(per)) per = '';
    }
    if (per !== '' && main.endsWith('_')) main = main.slice(0, -1);
    if (main !== '') toks.push(main);
    if (per !== '') toks.push(per);
    if (kind === 'counter') toks = [...toks.filter((t) => t !== 'total'), 'total'];
    if (unit === '1' && kind === 'gauge') toks = [...toks.filter((t) => t !== 'ratio'), 'ratio'];
    out = toks.join('_');
    if (out !== '' && isDigit(out.charCodeAt(0))) out = '_' + out;
  }
  if (out === name) return out;
  return /[^_]/.test(out) ? out : '';
}

/**
 * A label name from an attribute key: invalid characters to `_` (runs kept, as Prometheus'
 * default keeps them), `key_` before a leading digit, `key` before a single leading `_`;
 * '' when the key is empty.
 */
export function labelName(key: string): string {
  if (key === '') return '';
  let out = '';
  let clean = true;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === 0x5f) continue;
    clean = false;
    break;
  }
  if (clean) out = key;
  else for (const ch of key) out += ch.length === 1 && /[a-zA-Z0-9_]/.test(ch) ? ch : '_';
  if (isDigit(out.charCodeAt(0))) return 'key_' + out;
  if (out.charCodeAt(0) === 0x5f && out.charCodeAt(1) !== 0x5f) return 'key' + out;
  return out;
}
