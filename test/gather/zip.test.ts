import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32, inflateRawSync } from 'node:zlib';
import { ParallelDeflate } from '../../src/gather/deflate.js';
import { ZipWriter } from '../../src/gather/zip.js';
import { requirePeer } from '../helpers/peers.js';
import { UNZIP } from './unzip.js';

/** Export-like lines: repeats across lines (timestamps) and within them, some noise. */
function lines(n: number, seed = 1): Buffer {
  let x = seed;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const vs: string[] = [];
    const ts: number[] = [];
    for (let k = 0; k < 40; k++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      vs.push(String((x % 100000) / 10));
      ts.push(1_700_000_000_000 + k * 15_000);
    }
    out.push(`{"metric":{"__name__":"m_${i % 13}","instance":"777.777.0.${i % 250}:9100"},"values":[${vs.join(',')}],"timestamps":[${ts.join(',')}]}\n`);
  }
  return Buffer.from(out.join(''));
}

async function deflateAll(input: Buffer, cuts: number[], threads: number): Promise<{ out: Buffer; d: ParallelDeflate; released: number }> {
  const pieces: Buffer[] = [];
  const d = new ParallelDeflate({ level: 1, threads, output: async (p) => void pieces.push(p) });
  let released = 0;
  let at = 0;
  for (const n of cuts) {
    await d.push(input.subarray(at, at + n), () => released++);
    at += n;
  }
  await d.push(input.subarray(at), () => released++);
  await d.end();
  return { out: Buffer.concat(pieces), d, released };
}

test('blocks deflated apart make one deflate stream: inflated whole it is the input, CRC and sizes counted', async () => {
  const input = lines(20_000);
  // blocks of every kind: large, smaller than the 32 KiB window, a single byte, empty
  const cuts = [1 << 20, 100_000, 10, 1, 0, 40_000, 1 << 20, 5_000];
  for (const threads of [1, 3]) {
    const { out, d, released } = await deflateAll(input, cuts, threads);
    assert.ok(inflateRawSync(out).equals(input), `threads ${threads}: inflates to the input`);
    assert.equal(d.crc >>> 0, crc32(input), 'CRC-32 of the input');
    assert.equal(d.inputBytes, input.length);
    assert.equal(d.outputBytes, out.length);
    assert.equal(released, cuts.length + 1, 'every block let go');
    assert.ok(out.length < input.length / 2, 'compressed');
  }
  // the dictionary carries matches across cuts: cut in many small blocks it compresses as well as whole
  const small = await deflateAll(input, Array.from({ length: 200 }, () => 20_000), 3);
  const whole = await deflateAll(input, [], 1);
  assert.ok(small.out.length < whole.out.length * 1.05, `${small.out.length} vs ${whole.out.length}`);
});

test('a failing output stops the deflate: the next push and end throw, every block is let go once', async () => {
  let calls = 0;
  const d = new ParallelDeflate({
    level: 1,
    threads: 2,
    output: async () => {
      if (++calls === 2) throw new Error('disk full');
    },
  });
  const input = lines(5_000);
  const released: number[] = [];
  let pushed = 0;
  let thrown: unknown;
  try {
    for (; pushed < 20; pushed++) {
      const id = pushed;
      await d.push(input.subarray(0, 100_000), () => released.push(id));
    }
  } catch (err) {
    thrown = err;
  }
  assert.match(String(thrown), /disk full/);
  assert.ok(pushed < 20, 'stopped early');
  await assert.rejects(d.end(), /disk full/);
  await assert.rejects(d.push(Buffer.from('x'), () => released.push(-1)), /disk full/);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual([...released].sort((a, b) => a - b), [...Array.from({ length: pushed + 1 }, (_, i) => i), -1].sort((a, b) => a - b));
});

async function writeZip(path: string, entries: [string, Buffer][], opts: { forceZip64?: boolean } = {}): Promise<number> {
  const file = createWriteStream(path);
  const zip = new ZipWriter((p) => new Promise<void>((resolve, reject) => file.write(p, (err) => (err ? reject(err) : resolve()))), opts);
  const mtime = new Date(2026, 2, 4, 5, 6, 8);
  for (const [name, data] of entries) {
    const e = await zip.entry(name, { mtime, level: 1 });
    for (let at = 0; at < data.length; at += 300_000) await e.write(data.subarray(at, at + 300_000));
    await e.end();
  }
  await zip.add('empty.txt', Buffer.alloc(0), { mtime, level: 6 });
  await zip.finish();
  await new Promise<void>((r) => file.end(r));
  return zip.bytes;
}

test('the ZIP is read by unzip and by Python, with and without ZIP64 records; names in UTF-8, the modification time kept', async (t) => {
  if (!requirePeer(t, UNZIP, 'unzip')) return;
  const dir = mkdtempSync(join(tmpdir(), 'gather-zip-'));
  const metrics = lines(30_000);
  const note = Buffer.from('naïve — ünïcode\n');
  for (const forceZip64 of [false, true]) {
    const path = join(dir, `z${forceZip64 ? 64 : 32}.zip`);
    const bytes = await writeZip(path, [['metrics.jsonl', metrics], ['notes/ß.txt', note]], { forceZip64 });
    assert.equal(statSync(path).size, bytes);
    execFileSync(UNZIP, ['-tq', path]);
    assert.ok(execFileSync(UNZIP, ['-p', path, 'metrics.jsonl'], { maxBuffer: 1 << 30 }).equals(metrics), 'unzip: metrics.jsonl');
    assert.ok(execFileSync(UNZIP, ['-p', path, 'notes/ß.txt']).equals(note), 'unzip: the UTF-8 name');
    const py = execFileSync('python3', [
      '-c',
      [
        'import sys, zipfile, hashlib',
        'z = zipfile.ZipFile(sys.argv[1])',
        'assert z.testzip() is None',
        'for i in z.infolist(): print(i.filename, i.file_size, hashlib.sha256(z.read(i)).hexdigest(), i.date_time, i.external_attr >> 16)',
      ].join('\n'),
      path,
    ]).toString();
    assert.deepEqual(py.trim().split('\n'), [
      `metrics.jsonl ${metrics.length} ${sha(metrics)} (2026, 3, 4, 5, 6, 8) ${0o100644}`,
      `notes/ß.txt ${note.length} ${sha(note)} (2026, 3, 4, 5, 6, 8) ${0o100644}`,
      `empty.txt 0 ${sha(Buffer.alloc(0))} (2026, 3, 4, 5, 6, 8) ${0o100644}`,
    ]);
  }
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

test('an entry past 4 GiB is written with ZIP64 sizes and read back whole by unzip', async (t) => {
  if (!requirePeer(t, UNZIP, 'unzip')) return;
  const dir = mkdtempSync(join(tmpdir(), 'gather-zip64-'));
  const path = join(dir, 'big.zip');
  const file = createWriteStream(path);
  const zip = new ZipWriter((p) => new Promise<void>((resolve, reject) => file.write(p, (err) => (err ? reject(err) : resolve()))));
  const block = Buffer.alloc(8 << 20, 0x61);
  const blocks = Math.ceil((2 ** 32 + 1) / block.length);
  const e = await zip.entry('big.txt', { mtime: new Date(), level: 1 });
  for (let i = 0; i < blocks; i++) await e.write(block);
  await e.end();
  await zip.add('after.txt', Buffer.from('after\n'), { mtime: new Date(), level: 1 });
  await zip.finish();
  await new Promise<void>((r) => file.end(r));
  const size = blocks * block.length;
  assert.ok(size > 2 ** 32);
  // unzip -l reads the sizes from the central directory's ZIP64 field; -t inflates and checks the CRC
  const listing = execFileSync(UNZIP, ['-l', path]).toString();
  assert.match(listing, new RegExp(`^\\s*${size}\\s.*big\\.txt$`, 'm'));
  execFileSync(UNZIP, ['-tq', path]);
  assert.equal(execFileSync(UNZIP, ['-p', path, 'after.txt']).toString(), 'after\n', 'the entry after the large one');
  assert.ok(readFileSync(path).length < 20 << 20);
});
