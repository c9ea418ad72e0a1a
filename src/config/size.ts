/**
 * Byte sizes such as `body_size_limit: 100MB`, read as Prometheus reads them (Go's
 * alecthomas/units Base2Bytes): a unit is required except for a bare `0`, every unit is a power
 * of 1024 whether spelled `MB` or `MiB`, and parts may be fractional or combined (`1.5GB`,
 * `1GB512MB`).
 */

const UNIT_BYTES: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1024,
  KiB: 1024,
  MB: 1024 ** 2,
  MiB: 1024 ** 2,
  GB: 1024 ** 3,
  GiB: 1024 ** 3,
  TB: 1024 ** 4,
  TiB: 1024 ** 4,
  PB: 1024 ** 5,
  PiB: 1024 ** 5,
  EB: 1024 ** 6,
  EiB: 1024 ** 6,
};

const PART = /([0-9]*\.?[0-9]*)([A-Za-z]*)/y;

/** Parses a size into whole bytes; throws an `Error` saying what is wrong. */
export function parseSize(text: string): number {
  const fail = (why: string): never => {
    throw new Error(`invalid size ${JSON.stringify(text)}: ${why}`);
  };
  if (text === '0') return 0;
  if (text === '') fail('empty');
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m[0] === '') fail(`unexpected ${JSON.stringify(text.slice(at))}`);
    const [, num, unit] = m!;
    if (num === '' || num === '.') fail(`expected a number at ${JSON.stringify(text.slice(at))}`);
    if (unit === '' && PART.lastIndex < text.length)
      fail(`unexpected ${JSON.stringify(text.slice(PART.lastIndex))}`);
    if (unit === '') fail(`missing unit after ${num}; use B, KB, MB, GB, TB, PB or EB`);
    const bytes = UNIT_BYTES[unit];
    if (bytes === undefined) fail(`unknown unit ${JSON.stringify(unit)}; use B, KB, MB, GB, TB, PB or EB`);
    total += Number(num) * bytes;
  }
  if (!Number.isSafeInteger(Math.floor(total))) fail('out of range');
  return Math.floor(total);
}
