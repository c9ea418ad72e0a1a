/**
 * Strict UTF-8 decoding for the files Tributary reads as text (configuration, file_sd): a byte
 * that is not UTF-8 is a precise error, as in Prometheus, rather than a U+FFFD that changes a
 * label value without a word. Exposition pages locate their first bad byte here too.
 */

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface Utf8Problem {
  /** Byte offset of the first bad byte. */
  readonly offset: number;
  /** 1-based line and column (in characters) of that byte in the decodable text before it. */
  readonly line: number;
  readonly column: number;
  /** `not valid UTF-8 (byte 0xff)`. */
  readonly message: string;
  /** The whole text with bad bytes replaced, to find what the position is part of. */
  readonly lossy: string;
  /** Offset of the bad byte in `lossy`. */
  readonly lossyOffset: number;
}

export type Utf8Result = { ok: true; text: string } | ({ ok: false } & Utf8Problem);

export function decodeUtf8(bytes: Uint8Array): Utf8Result {
  try {
    return { ok: true, text: strict.decode(bytes) };
  } catch {
    // located below
  }
  const bad = firstInvalidUtf8(bytes);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const before = buf.subarray(0, bad).toString('utf8');
  return {
    ok: false,
    offset: bad,
    line: before.split('\n').length,
    column: before.length - before.lastIndexOf('\n'),
    message: `not valid UTF-8 (byte 0x${bytes[bad].toString(16).padStart(2, '0')})`,
    lossy: buf.toString('utf8'),
    lossyOffset: before.length,
  };
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence (RFC 3629 table 3-7); the length when there is none. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0 || i + n >= b.length) return i;
    for (let k = 1; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    const next = b[i + 1];
    // overlong forms, UTF-16 surrogates, beyond U+10FFFF
    if ((c === 0xe0 && next < 0xa0) || (c === 0xed && next >= 0xa0) || (c === 0xf0 && next < 0x90) || (c === 0xf4 && next >= 0x90)) return i;
    i += n + 1;
  }
  return b.length;
}
