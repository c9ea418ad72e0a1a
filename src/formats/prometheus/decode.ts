/**
 * Bytes to exposition text, with one rule for every input (pulled pages, pushes): a page that
 * is not valid UTF-8 is refused, with the line and column of the first bad byte. Decoding
 * with replacement characters instead would turn a label value into another one without a
 * word, and Prometheus refuses such label values too.
 */

import { isUtf8 } from 'node:buffer';
import { firstInvalidUtf8 } from '../../model/utf8.js';
import { ExpositionError } from './lex.js';

/** The page as a string; throws ExpositionError when it is not valid UTF-8. */
export function decodeExposition(raw: Uint8Array): string {
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (!isUtf8(buf)) throw invalidAt(buf);
  return buf.toString('utf8');
}

/** Where the first byte that breaks UTF-8 is, as line and column in characters (only on the error path). */
function invalidAt(buf: Buffer): ExpositionError {
  const bad = firstInvalidUtf8(buf);
  if (bad >= buf.length) return new ExpositionError(1, 1, 'invalid UTF-8');
  const lineStart = bad === 0 ? 0 : buf.lastIndexOf(0x0a, bad - 1) + 1;
  let line = 1;
  for (let i = buf.indexOf(0x0a); i !== -1 && i < lineStart; i = buf.indexOf(0x0a, i + 1)) line++;
  // characters are code points, as the parser counts columns
  const chars = [...buf.toString('utf8', lineStart, bad)].length;
  return new ExpositionError(line, chars + 1, `invalid UTF-8: byte 0x${buf[bad].toString(16).padStart(2, '0')} at offset ${bad} (line offset ${bad - lineStart})`);
}
