/**
 * Bytes to exposition text, with one rule for every input (pulled pages, pushes): a page that
 * is not valid UTF-8 is refused, with the line and column of the first bad byte. Decoding
 * with replacement characters instead would turn a label value into another one without a
 * word, and Prometheus refuses such label values too.
 */

import { isUtf8 } from 'node:buffer';
import { ExpositionError } from './parser.js';

/** The page as a string; throws ExpositionError when it is not valid UTF-8. */
export function decodeExposition(raw: Uint8Array): string {
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (!isUtf8(buf)) throw invalidAt(buf);
  return buf.toString('utf8');
}

/** Finds the first byte that breaks UTF-8 (only on the error path). */
function invalidAt(buf: Buffer): ExpositionError {
  let line = 1;
  let lineStart = 0;
  let chars = 0;
  let i = 0;
  while (i < buf.length) {
    const b = buf[i];
    if (b === 0x0a) {
      line++;
      lineStart = i + 1;
      chars = 0;
      i++;
      continue;
    }
    const n = sequenceLength(buf, i);
    if (n === 0) {
      return new ExpositionError(line, chars + 1, `invalid UTF-8: byte 0x${b.toString(16).padStart(2, '0')} at offset ${i} (line offset ${i - lineStart})`);
    }
    i += n;
    chars++;
  }
  return new ExpositionError(line, chars + 1, 'invalid UTF-8');
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when there is none (RFC 3629 table 3-7). */
function sequenceLength(buf: Buffer, i: number): number {
  const b = buf[i];
  if (b < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < buf.length && buf[i + k] >= lo && buf[i + k] <= hi;
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
