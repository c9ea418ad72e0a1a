/**
 * Snappy's block format (not the framed stream): what remote write's
 * `Content-Encoding: snappy` means. Written here rather than taken from the native binding,
 * whose Rust runtime (two threads, its own heap and code) cost an agent more resident memory
 * than a thousand targets' series caches, while this runs at a third of its speed — a few
 * percent of a sample's cost. Tests check both directions against the reference implementation;
 * `uncompress` (bounded, for untrusted input) serves the
 * remote-write receiver and the 2.0 sender, which re-reads its queued 1.0 requests.
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

/** Compresses `src` into a Buffer of its own: a new one, or one from `alloc` (exactly the bytes asked for). */
export function compress(src: Uint8Array, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe): Buffer {
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
  const result = alloc(op);
  result.set(out.subarray(0, op));
  return result;
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

export class SnappyError extends Error {
  override name = 'SnappyError';
}

/** The block says it decompresses to more than the caller allows. */
export class SnappyTooLargeError extends SnappyError {
  override name = 'SnappyTooLargeError';
}

/**
 * Decompresses one snappy block, refusing (SnappyError) a declared length above `maxLength`
 * before allocating it, and any element that reads or writes out of bounds: a receiver's input
 * is untrusted. With `into`, when it is big enough, the result is a view of it (a caller that
 * reads each result before the next spares the allocation).
 */
export function uncompress(src: Uint8Array, maxLength = Infinity, into?: Buffer): Buffer {
  let ip = 0;
  let n = 0;
  for (let shift = 0; ; shift += 7) {
    if (ip >= src.length || shift > 28) throw new SnappyError('snappy: bad uncompressed length');
    const c = src[ip++];
    n += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) break;
  }
  if (n > maxLength) throw new SnappyTooLargeError(`snappy: uncompressed length ${n} exceeds the limit of ${maxLength} bytes`);
  const out = into !== undefined && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafe(n);
  const ov = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  let op = 0;
  while (ip < src.length) {
    const tag = src[ip++];
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const bytes = len - 59;
        if (ip + bytes > src.length) throw new SnappyError('snappy: truncated literal length');
        len = 0;
        for (let k = 0; k < bytes; k++) len += src[ip + k] * 2 ** (8 * k);
        ip += bytes;
      }
      len += 1;
      if (ip + len > src.length || op + len > n) throw new SnappyError('snappy: literal out of bounds');
      // short literals are most of them: a loop (four bytes a step) beats a subarray and a native call
      if (len <= 64) {
        let k = 0;
        for (; k + 4 <= len; k += 4) ov.setInt32(op + k, sv.getInt32(ip + k, true), true);
        for (; k < len; k++) out[op + k] = src[ip + k];
        ip += len;
        op += len;
      } else {
        out.set(src.subarray(ip, ip + len), op);
        ip += len;
        op += len;
      }
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (ip >= src.length) throw new SnappyError('snappy: truncated copy');
      len = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | src[ip++];
    } else if (kind === 2) {
      if (ip + 2 > src.length) throw new SnappyError('snappy: truncated copy');
      len = 1 + (tag >>> 2);
      offset = src[ip] | (src[ip + 1] << 8);
      ip += 2;
    } else {
      if (ip + 4 > src.length) throw new SnappyError('snappy: truncated copy');
      len = 1 + (tag >>> 2);
      offset = (src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24)) >>> 0;
      ip += 4;
    }
    if (offset === 0 || offset > op || op + len > n) throw new SnappyError('snappy: copy out of bounds');
    // a native copy beats any loop from about 16 bytes on (most copies in a request are
    // 33–64 bytes of labels)
    if (offset >= len && len > 16) {
      out.copyWithin(op, op - offset, op - offset + len);
      op += len;
    } else if (offset >= 4) {
      // four bytes a step: each step's source lies wholly before it, overlapping or not
      const from = op - offset;
      let k = 0;
      for (; k + 4 <= len; k += 4) ov.setInt32(op + k, ov.getInt32(from + k, true), true);
      for (; k < len; k++) out[op + k] = out[from + k];
      op += len;
    } else {
      // overlapping copies repeat what they are writing: byte by byte
      for (let k = 0; k < len; k++, op++) out[op] = out[op - offset];
    }
  }
  if (op !== n) throw new SnappyError(`snappy: ${op} bytes decoded, ${n} declared`);
  return out;
}
