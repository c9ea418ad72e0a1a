/**
 * What `tributary import` reads: a gather or vmgather bundle (`metrics.jsonl` and
 * `metadata.json` in a ZIP), or raw JSON lines, plain or gzip'ed — told apart by their first
 * bytes, not their names. Whatever the kind, the import works on the uncompressed lines: its
 * offsets (progress, the resume point) count bytes of `metrics.jsonl` as unzipped. Reading
 * from an offset inflates from the start and skips (a deflate stream has no other way in).
 * Whole-line chunks are cut here too, so every later step sees lines with their numbers.
 */

import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import { BufferPool } from '../common/buffer-pool.js';
import { readZipDirectory, readZipEntry, ZipError, type ZipDirectory, type ZipEntry } from './zip-read.js';

export type InputKind = 'bundle' | 'jsonl' | 'jsonl.gz';

/** A fault of the input itself (not of the receiver): shown as is, with file and line where known. */
export class InputError extends Error {}

export interface ImportInput {
  readonly path: string;
  readonly kind: InputKind;
  /** The file's size and modification time: a resume point is valid for the same file only. */
  readonly fileSize: number;
  readonly mtimeMs: number;
  /** The bundle's `metadata.json`, parsed (bundles only; undefined when it has none). */
  readonly metadata?: Record<string, unknown>;
  /** The uncompressed size of the lines when known up front (ZIP directory, plain file). */
  readonly linesSize?: number;
  /** How lines and errors name the input: `bundle.zip:metrics.jsonl`, `data.jsonl`. */
  readonly shown: string;
  /** The uncompressed lines from byte `from` on. */
  bytes(from?: number): AsyncGenerator<Buffer>;
}

const METRICS = 'metrics.jsonl';
const METADATA = 'metadata.json';
/** metadata.json is small; past this it is not what a bundle writes. */
const MAX_METADATA_BYTES = 16 << 20;

export async function openImportInput(path: string): Promise<ImportInput> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new InputError(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!st.isFile()) throw new InputError(`${path}: not a file`);
  const head = Buffer.alloc(4);
  const fh = await open(path, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  const base = { path, fileSize: st.size, mtimeMs: st.mtimeMs };
  if (head.readUInt32LE(0) === 0x04034b50 || head.readUInt32LE(0) === 0x06054b50) {
    let dir: ZipDirectory;
    try {
      dir = await readZipDirectory(path);
    } catch (err) {
      throw new InputError((err as Error).message);
    }
    const metrics = pick(dir.entries, METRICS);
    if (metrics === undefined) {
      throw new InputError(`${path}: the bundle has no ${METRICS} (its entries: ${dir.entries.map((e) => e.name).join(', ') || 'none'})`);
    }
    const metaEntry = pick(dir.entries, METADATA);
    let metadata: Record<string, unknown> | undefined;
    if (metaEntry !== undefined) {
      if (metaEntry.size > MAX_METADATA_BYTES) throw new InputError(`${path}: ${metaEntry.name} is ${metaEntry.size} bytes; a bundle's is a few KiB`);
      const parts: Buffer[] = [];
      try {
        for await (const c of readZipEntry(dir, metaEntry)) parts.push(c);
      } catch (err) {
        throw new InputError((err as Error).message);
      }
      try {
        const parsed = JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown;
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) metadata = parsed as Record<string, unknown>;
        else throw new Error('not a JSON object');
      } catch (err) {
        throw new InputError(`${path}: ${metaEntry.name}: ${(err as Error).message}`);
      }
    }
    return {
      ...base,
      kind: 'bundle',
      metadata,
      linesSize: metrics.size,
      shown: `${basename(path)}:${metrics.name}`,
      bytes: (from = 0) => skip(wrapZip(readZipEntry(dir, metrics)), from),
    };
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    return {
      ...base,
      kind: 'jsonl.gz',
      shown: basename(path),
      bytes: (from = 0) => skip(gunzipped(path), from),
    };
  }
  return {
    ...base,
    kind: 'jsonl',
    linesSize: st.size,
    shown: basename(path),
    bytes: (from = 0) => fileBytes(path, from),
  };
}

/** `name` at the top of the archive, else the first entry of that name in a folder (a bundle zipped with its folder). */
function pick(entries: readonly ZipEntry[], name: string): ZipEntry | undefined {
  return entries.find((e) => e.name === name) ?? entries.find((e) => e.name.endsWith(`/${name}`));
}

async function* wrapZip(src: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* src;
  } catch (err) {
    if (err instanceof ZipError) throw new InputError(err.message);
    throw err;
  }
}

async function* gunzipped(path: string): AsyncGenerator<Buffer> {
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  raw.on('error', (err) => gunzip.destroy(err));
  raw.pipe(gunzip);
  let out = 0;
  try {
    for await (const c of gunzip as AsyncIterable<Buffer>) {
      out += c.length;
      yield c;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new InputError(`${path}: corrupt gzip after ${out} bytes out: ${(err as Error).message}`);
    throw err;
  } finally {
    raw.destroy();
  }
}

async function* fileBytes(path: string, from: number): AsyncGenerator<Buffer> {
  yield* createReadStream(path, { start: from, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
}

async function* skip(src: AsyncGenerator<Buffer>, from: number): AsyncGenerator<Buffer> {
  let left = from;
  for await (const c of src) {
    if (left >= c.length) {
      left -= c.length;
      continue;
    }
    yield left > 0 ? c.subarray(left) : c;
    left = 0;
  }
  if (left > 0) throw new InputError(`the input ends ${left} bytes before the resume point ${from}: it is not the file the import started with`);
}

/** Whole lines: `buf` ends with a line (its `\n` included, except perhaps the input's last line). */
export interface LineChunk {
  readonly buf: Buffer;
  /** Offsets in the uncompressed lines: [start, end). */
  readonly start: number;
  readonly end: number;
  /** 1-based number of the chunk's first line, and how many lines it holds. */
  readonly firstLine: number;
  readonly lines: number;
  /** Hands `buf`'s memory back for the chunks after it; `buf` is not to be read after. */
  readonly release?: () => void;
}

/**
 * Cuts the bytes into chunks of whole lines of about `target` bytes (a line longer than that is
 * a chunk of its own, up to `maxLine`, past which the input is refused). `firstLine` is where
 * `from` is, when resuming. Each byte is copied once, into buffers taken from a pool and given
 * back by `release`: fresh buffers of this size cost page faults, more than the copy.
 */
export async function* lineChunks(src: AsyncIterable<Buffer> | Iterable<Buffer>, target: number, maxLine: number, from = 0, firstLine = 1, shown = 'input'): AsyncGenerator<LineChunk> {
  const pool = new BufferPool(2 * target, 32);
  let work = pool.take();
  let used = 0;
  let offset = from;
  let line = firstLine;
  const tooLong = (): InputError => new InputError(`${shown}:${line}: a line longer than ${maxLine} bytes`);
  for await (const c of src) {
    let cpos = 0;
    while (cpos < c.length) {
      if (used === work.length) {
        // a line longer than the buffer: a bigger one, up to the longest line taken
        if (used >= maxLine + target) throw tooLong();
        const bigger = Buffer.allocUnsafe(Math.min(work.length * 2, maxLine + target));
        work.copy(bigger, 0, 0, used);
        pool.give(work);
        work = bigger;
      }
      const n = Math.min(c.length - cpos, work.length - used);
      c.copy(work, used, cpos, cpos + n);
      used += n;
      cpos += n;
      while (used >= target) {
        let cut = work.lastIndexOf(0x0a, target - 1);
        if (cut < 0) {
          cut = work.subarray(0, used).indexOf(0x0a, target);
          if (cut < 0) break;
        }
        if (cut + 1 > maxLine && cut + 1 > target) throw tooLong();
        const held = work;
        const rest = used - (cut + 1);
        work = rest <= pool.size ? pool.take() : Buffer.allocUnsafe(rest);
        held.copy(work, 0, cut + 1, used);
        used = rest;
        const buf = held.subarray(0, cut + 1);
        const lines = countLines(buf);
        yield { buf, start: offset, end: offset + buf.length, firstLine: line, lines, release: () => pool.give(held) };
        line += lines;
        offset += buf.length;
      }
    }
  }
  // what is left may hold several lines, the last without its newline
  if (used > 0) {
    const buf = work.subarray(0, used);
    yield { buf, start: offset, end: offset + used, firstLine: line, lines: countLines(buf) };
  }
}

/** Lines in `buf`, a last one without its newline included. */
export function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) n++;
  if (buf.length > 0 && buf[buf.length - 1] !== 0x0a) n++;
  return n;
}
