/**
 * Snappy's block format (not the framed stream), compression side: what remote write's
 * `Content-Encoding: snappy` means. Written here rather than taken from the native binding,
 * whose Rust runtime (two threads, its own heap and code) cost an agent more resident memory
 * than a thousand targets' series caches, while this runs at a third of its speed — a few
 * percent of a sample's cost. Decompression is only needed by tests, which use the reference
 * implementation to check this one.
 *
 * Format: the uncompressed length as a varint, then elements — a literal (tag 00, its length
 * in the tag or in 1–4 bytes after it) or a copy of earlier output (tag 01: length 4–11 and an
 * 11-bit offset; tag 10: length 1–64 and a 16-bit offset). Input is compressed in 64 KiB blocks
 * with a fresh hash table each, as the reference does, so every offset fits in 16 bits.
 * `putLiteralTag` and `putCopy` also serve writers that emit elements themselves (remote
 * write's request writer), so they take any length and offset (tag 11: 32-bit offsets).
 */

const BLOCK = 65536;
const HASH_BITS = 14;
const HASH_SHIFT = 32 - HASH_BITS;
const HASH_MUL = 0x1e35a7bd;
/** Below this many bytes a block is one literal; also the distance from its end at which matching stops. */
const MARGIN = 15;

/** Block positions by the hash of the 4 bytes there; offsets from the block start fit 16 bits. */
const table = new Uint16Array(1 << HASH_BITS);
/** Reused output: a request is compressed into it, then copied out at its exact size. */
let scratch = new Uint8Array(64 * 1024);

/** The most a compressed block can take for `n` input bytes (the reference's bound). */
export function maxCompressedLength(n: number): number {
  return 32 + n + Math.ceil(n / 6);
}

/** Compresses `src` into a new Buffer of its own. */
export function compress(src: Uint8Array): Buffer {
  const n = src.length;
  if (scratch.length < maxCompressedLength(n)) scratch = new Uint8Array(maxCompressedLength(n) * 2);
  const out = scratch;
  let op = 0;
  let v = n;
  while (v >= 0x80) {
    out[op++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[op++] = v;
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let start = 0; start < n; start += BLOCK) op = compressBlock(src, view, start, Math.min(start + BLOCK, n), out, op);
  return Buffer.from(out.subarray(0, op));
}

function hashAt(view: DataView, p: number): number {
  return Math.imul(view.getUint32(p, true), HASH_MUL) >>> HASH_SHIFT;
}

/** One block, `src[start, end)`, appended at `op`; returns the new end of output. */
function compressBlock(src: Uint8Array, view: DataView, start: number, end: number, out: Uint8Array, op: number): number {
  if (end - start < MARGIN) return putLiteral(src, start, end, out, op);
  table.fill(0);
  const limit = end - MARGIN;
  let emitted = start;
  let ip = start + 1;
  let nextHash = hashAt(view, ip);
  for (;;) {
    // look for a 4-byte match, stepping further the longer none is found (incompressible
    // input is skipped through quickly)
    let skip = 32;
    let candidate: number;
    let next = ip;
    do {
      ip = next;
      const h = nextHash;
      next = ip + (skip++ >>> 5);
      if (next > limit) return emitted < end ? putLiteral(src, emitted, end, out, op) : op;
      nextHash = hashAt(view, next);
      candidate = start + table[h];
      table[h] = ip - start;
    } while (view.getUint32(ip, true) !== view.getUint32(candidate, true));
    op = putLiteral(src, emitted, ip, out, op);
    // copies, as long as each one's end starts another match
    for (;;) {
      let m = ip + 4;
      let c = candidate + 4;
      while (m + 4 <= end && view.getUint32(m, true) === view.getUint32(c, true)) {
        m += 4;
        c += 4;
      }
      while (m < end && src[m] === src[c]) {
        m++;
        c++;
      }
      op = putCopy(ip - candidate, m - ip, out, op);
      ip = emitted = m;
      if (ip >= limit) return emitted < end ? putLiteral(src, emitted, end, out, op) : op;
      table[hashAt(view, ip - 1)] = ip - 1 - start;
      const h = hashAt(view, ip);
      candidate = start + table[h];
      table[h] = ip - start;
      if (view.getUint32(ip, true) !== view.getUint32(candidate, true)) {
        nextHash = hashAt(view, ++ip);
        break;
      }
    }
  }
}

function putLiteral(src: Uint8Array, from: number, to: number, out: Uint8Array, op: number): number {
  const len = to - from;
  op = putLiteralTag(len, out, op);
  // a short run is copied faster by hand than through a native call
  if (len < 32) for (let i = 0; i < len; i++) out[op + i] = src[from + i];
  else out.set(src.subarray(from, to), op);
  return op + len;
}

/** The tag of a literal of `len` (≥ 1) bytes, which the caller writes after it. */
export function putLiteralTag(len: number, out: Uint8Array, op: number): number {
  const n = len - 1;
  if (n < 60) out[op++] = n << 2;
  else if (n < 0x100) {
    out[op++] = 60 << 2;
    out[op++] = n;
  } else if (n < 0x10000) {
    out[op++] = 61 << 2;
    out[op++] = n & 0xff;
    out[op++] = n >>> 8;
  } else {
    // a request's writer has no 64 KiB blocks: a huge label set is one long literal
    const bytes = n < 0x1000000 ? 3 : 4;
    out[op++] = (59 + bytes) << 2;
    for (let i = 0, v = n; i < bytes; i++, v >>>= 8) out[op++] = v & 0xff;
  }
  return op;
}

/** A copy of `len` (≥ 4) bytes from `offset` (≥ 1) bytes back. */
export function putCopy(offset: number, len: number, out: Uint8Array, op: number): number {
  if (offset >= 0x10000) return putFarCopy(offset, len, out, op);
  // copies of 64 while more than 67 remain, then one of 60 if more than 64: the rest is 4–64
  while (len >= 68) {
    out[op++] = (63 << 2) | 2;
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
    len -= 64;
  }
  if (len > 64) {
    out[op++] = (59 << 2) | 2;
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
    len -= 60;
  }
  if (len < 12 && offset < 2048) {
    out[op++] = ((offset >>> 8) << 5) | ((len - 4) << 2) | 1;
    out[op++] = offset & 0xff;
  } else {
    out[op++] = ((len - 1) << 2) | 2;
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
  }
  return op;
}

/** Offsets of 64 KiB and more (only outside 64 KiB blocks): tag 11, four offset bytes, up to 64 bytes each. */
function putFarCopy(offset: number, len: number, out: Uint8Array, op: number): number {
  while (len > 0) {
    const n = Math.min(len, 64);
    out[op++] = ((n - 1) << 2) | 3;
    out[op++] = offset & 0xff;
    out[op++] = (offset >>> 8) & 0xff;
    out[op++] = (offset >>> 16) & 0xff;
    out[op++] = offset >>> 24;
    len -= n;
  }
  return op;
}
