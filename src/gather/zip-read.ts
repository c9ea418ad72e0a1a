/**
 * Reading a ZIP archive's directory and streaming one entry out of it (PKWARE's APPNOTE 6.3, the
 * reader beside zip.ts's writer): the end record found from the back, ZIP64 followed where a
 * size or offset says 0xFFFFFFFF, entries stored or deflated, the CRC-32 and size checked at
 * the entry's end. Every fault is a `ZipError` naming what is wrong and where, since a corrupt
 * bundle must be refused before anything of it is imported.
 */

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInflateRaw, crc32 } from 'node:zlib';

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL = 0x06054b50;
const ZIP64_END = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EXTRA = 0x0001;
const U32 = 0xffffffff;
const U16 = 0xffff;
const STORED = 0;
const DEFLATE = 8;
/** The end record (22 bytes) and the longest comment a ZIP may end with. */
const TAIL_BYTES = 22 + U16;

export class ZipError extends Error {}

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Where its local header starts. */
  readonly headerOffset: number;
  readonly encrypted: boolean;
}

export interface ZipDirectory {
  readonly path: string;
  readonly fileSize: number;
  readonly entries: readonly ZipEntry[];
}

/** The archive's entries, from its central directory. */
export async function readZipDirectory(path: string): Promise<ZipDirectory> {
  const fh = await open(path, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const read = async (pos: number, len: number): Promise<Buffer> => {
      if (pos < 0 || pos + len > fileSize) throw new ZipError(`${path}: corrupt ZIP: a record at byte ${pos} reaches past the end of the file (${fileSize} bytes)`);
      const b = Buffer.allocUnsafe(len);
      const { bytesRead } = await fh.read(b, 0, len, pos);
      if (bytesRead !== len) throw new ZipError(`${path}: short read at byte ${pos}`);
      return b;
    };
    const tailLen = Math.min(fileSize, TAIL_BYTES);
    const tail = await read(fileSize - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === END_OF_CENTRAL && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new ZipError(`${path}: not a ZIP archive, or cut short: no end of central directory record in its last ${tailLen} bytes`);
    const eocdAt = fileSize - tailLen + eocd;
    let count = tail.readUInt16LE(eocd + 10);
    let dirSize = tail.readUInt32LE(eocd + 12);
    let dirOffset = tail.readUInt32LE(eocd + 16);
    if (count === U16 || dirSize === U32 || dirOffset === U32) {
      const loc = await read(eocdAt - 20, 20);
      if (loc.readUInt32LE(0) !== ZIP64_LOCATOR) throw new ZipError(`${path}: corrupt ZIP: the end record asks for ZIP64 but there is no ZIP64 locator before it`);
      const z64At = Number(loc.readBigUInt64LE(8));
      const z = await read(z64At, 56);
      if (z.readUInt32LE(0) !== ZIP64_END) throw new ZipError(`${path}: corrupt ZIP: no ZIP64 end record at byte ${z64At}`);
      count = Number(z.readBigUInt64LE(32));
      dirSize = Number(z.readBigUInt64LE(40));
      dirOffset = Number(z.readBigUInt64LE(48));
    }
    if (dirOffset + dirSize > eocdAt) throw new ZipError(`${path}: corrupt ZIP: the central directory (${dirSize} bytes at ${dirOffset}) overlaps its end record at ${eocdAt}`);
    const dir = await read(dirOffset, dirSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL_HEADER) throw new ZipError(`${path}: corrupt ZIP: central directory entry ${i + 1} of ${count} at byte ${dirOffset + p} is not one`);
      const flags = dir.readUInt16LE(p + 8);
      const method = dir.readUInt16LE(p + 10);
      const crc = dir.readUInt32LE(p + 16);
      let compressedSize = dir.readUInt32LE(p + 20);
      let size = dir.readUInt32LE(p + 24);
      const nameLen = dir.readUInt16LE(p + 28);
      const extraLen = dir.readUInt16LE(p + 30);
      const commentLen = dir.readUInt16LE(p + 32);
      let headerOffset = dir.readUInt32LE(p + 42);
      const name = dir.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
      // ZIP64 extra: only the fields whose 32-bit place is 0xFFFFFFFF, in this order
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = dir.readUInt16LE(e);
        const len = dir.readUInt16LE(e + 2);
        if (id === ZIP64_EXTRA) {
          let q = e + 4;
          if (size === U32) (size = Number(dir.readBigUInt64LE(q))), (q += 8);
          if (compressedSize === U32) (compressedSize = Number(dir.readBigUInt64LE(q))), (q += 8);
          if (headerOffset === U32) headerOffset = Number(dir.readBigUInt64LE(q));
        }
        e += 4 + len;
      }
      entries.push({ name, method, crc, compressedSize, size, headerOffset, encrypted: (flags & 1) !== 0 });
      p = extraEnd + commentLen;
    }
    return { path, fileSize, entries };
  } finally {
    await fh.close();
  }
}

/**
 * The entry's uncompressed bytes, from the first; the CRC-32 and the size are checked when the
 * last byte has been read (a mismatch throws `ZipError` from the iteration).
 */
export async function* readZipEntry(dir: ZipDirectory, entry: ZipEntry, chunkBytes = 1 << 20): AsyncGenerator<Buffer> {
  const where = `${dir.path}: ${entry.name}`;
  if (entry.encrypted) throw new ZipError(`${where}: the entry is encrypted; Tributary reads no encrypted ZIPs`);
  if (entry.method !== STORED && entry.method !== DEFLATE) throw new ZipError(`${where}: compression method ${entry.method} is not supported (only stored and deflate)`);
  const fh = await open(dir.path, 'r');
  let dataAt: number;
  try {
    const h = Buffer.alloc(30);
    await fh.read(h, 0, 30, entry.headerOffset);
    if (h.readUInt32LE(0) !== LOCAL_HEADER) throw new ZipError(`${where}: corrupt ZIP: no local header at byte ${entry.headerOffset}`);
    dataAt = entry.headerOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
  } finally {
    await fh.close();
  }
  if (dataAt + entry.compressedSize > dir.fileSize) throw new ZipError(`${where}: corrupt ZIP: the entry's ${entry.compressedSize} bytes at ${dataAt} reach past the end of the file (${dir.fileSize} bytes)`);
  const raw = createReadStream(dir.path, { start: dataAt, end: dataAt + entry.compressedSize - 1, highWaterMark: chunkBytes });
  let source: AsyncIterable<Buffer> = raw;
  if (entry.method === DEFLATE) {
    const inflate = createInflateRaw({ chunkSize: chunkBytes });
    raw.on('error', (err) => inflate.destroy(err));
    raw.pipe(inflate);
    source = inflate;
  }
  let crc = 0;
  let size = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      if (size > entry.size) throw new ZipError(`${where}: corrupt ZIP: the entry holds more than the ${entry.size} bytes its directory says`);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof ZipError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new ZipError(`${where}: corrupt ZIP: the deflated data is damaged after ${size} bytes out (${(err as Error).message})`);
    throw err;
  } finally {
    raw.destroy();
  }
  if (size !== entry.size) throw new ZipError(`${where}: corrupt ZIP: ${size} bytes out, the directory says ${entry.size}`);
  if (crc >>> 0 !== entry.crc) throw new ZipError(`${where}: corrupt ZIP: CRC-32 ${(crc >>> 0).toString(16).padStart(8, '0')} of the data, the directory says ${entry.crc.toString(16).padStart(8, '0')}`);
}
