/**
 * Prometheus durations (`1y2w3d4h5m6s7ms`) as integer milliseconds. The grammar is Prometheus'
 * own, not Go's time.ParseDuration: whole numbers only, units y w d h m s ms each at most once
 * and from largest to smallest, a year being 365 days, and a bare `0` as the only unitless
 * value. Errors say which part of the text is wrong, because a config author reading
 * "not a valid duration" for `1h30` or `30m1h` has to guess.
 */

const UNITS: readonly (readonly [unit: string, ms: number])[] = [
  ['y', 365 * 24 * 60 * 60 * 1000],
  ['w', 7 * 24 * 60 * 60 * 1000],
  ['d', 24 * 60 * 60 * 1000],
  ['h', 60 * 60 * 1000],
  ['m', 60 * 1000],
  ['s', 1000],
  ['ms', 1],
];

const UNIT_LIST = 'y, w, d, h, m, s or ms';

/**
 * The longest duration Prometheus accepts: Go's time.Duration counts nanoseconds in an int64,
 * so anything above (2^63 - 1) ns is out of range there and must be here too.
 */
export const MAX_DURATION_MS = 9_223_372_036_854;

/** Parses a Prometheus duration into milliseconds; throws an `Error` saying what is wrong. */
export function parseDuration(text: string): number {
  const fail = (why: string): never => {
    throw new Error(`invalid duration ${JSON.stringify(text)}: ${why}`);
  };
  if (text === '') fail('empty');
  if (text === '0') return 0;

  let total = 0;
  let lastRank = -1;
  let i = 0;
  while (i < text.length) {
    const numStart = i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    const digits = text.slice(numStart, i);
    if (digits === '') {
      const c = text[i];
      if (c === '-' && i === 0) fail('negative durations are not allowed');
      fail(`expected a number at ${JSON.stringify(text.slice(i))}`);
    }
    const unitStart = i;
    while (i < text.length && isLetter(text.charCodeAt(i))) i++;
    const unit = text.slice(unitStart, i);
    if (unit === '') {
      if (text[i] === '.') fail(`fractions are not allowed; combine units instead (1h30m, not 1.5h)`);
      if (i === text.length) fail(`missing unit after ${digits}; use ${UNIT_LIST}`);
      fail(`unexpected ${JSON.stringify(text[i])}`);
    }
    const rank = UNITS.findIndex(([u]) => u === unit);
    if (rank < 0) fail(`unknown unit ${JSON.stringify(unit)}; use ${UNIT_LIST}`);
    if (rank === lastRank) fail(`unit ${JSON.stringify(unit)} appears twice`);
    if (rank < lastRank) {
      fail(
        `unit ${JSON.stringify(unit)} after ${JSON.stringify(UNITS[lastRank][0])}; units go from largest to smallest (y w d h m s ms)`,
      );
    }
    lastRank = rank;
    total += Number(digits) * UNITS[rank][1];
    if (total > MAX_DURATION_MS) fail('out of range');
  }
  return total;
}

/**
 * Prometheus' canonical spelling of a duration: `0s` for zero, years and weeks only when they
 * divide the whole duration (`90d` reads better than `12w6d`), then d h m s ms as needed.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`not a duration in milliseconds: ${ms}`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of UNITS) {
    const wholeOnly = unit === 'y' || unit === 'w';
    if (wholeOnly && rest % size !== 0) continue;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += n + unit;
      rest -= n * size;
    }
  }
  return out;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}
