/**
 * Our snappy compressor against the reference implementation's decompressor (the native
 * `snappy` package): every output must decode to its input, across block boundaries, long and
 * far matches, incompressible and empty input.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compressSync, uncompressSync } from 'snappy';
import { compress, maxCompressedLength, SnappyError, uncompress } from '../../src/formats/snappy/index.js';
import { rng } from '../helpers/seeded-random.js';

function roundTrip(input: Buffer, what: string): Buffer {
  const packed = compress(input);
  assert.ok(packed.length <= maxCompressedLength(input.length), `${what}: within the bound`);
  const back = Buffer.from(uncompressSync(packed) as Buffer);
  assert.ok(back.equals(input), `${what}: decodes to its input (${input.length} bytes)`);
  return packed;
}

test('snappy: short, empty and incompressible input', () => {
  for (const n of [0, 1, 3, 4, 14, 15, 16, 17, 59, 60, 61, 255, 256, 257, 1000]) {
    roundTrip(Buffer.alloc(n, 0x61), `${n} equal bytes`);
  }
  const next = rng(7);
  for (const n of [5, 100, 4096, 70_000, 300_000]) {
    const noise = Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
    const packed = roundTrip(noise, `${n} random bytes`);
    assert.ok(packed.length < n + n / 50 + 16, 'incompressible input grows by little');
  }
});

test('snappy: repetitive input compresses like the reference, over many blocks', () => {
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++) lines.push(`node_cpu_seconds_total{cpu="${i % 64}",instance="127.0.0.1:${9100 + (i % 100)}",mode="idle"} ${i * 1.5}`);
  const input = Buffer.from(lines.join('\n'));
  assert.ok(input.length > 4 * 65536, 'spans several 64 KiB blocks');
  const packed = roundTrip(input, 'exposition text');
  assert.ok(packed.length < input.length / 4, `compresses (${packed.length} of ${input.length})`);
});

test('snappy: long copies, copies at the 11-bit and 16-bit offset limits, mixed runs', () => {
  const next = rng(11);
  const noise = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
  const unit = noise(3000);
  // a match 2047, 2048 and 2049 bytes back, and one 65,000 back inside the same block
  for (const gap of [2043, 2044, 2045, 2048, 2049, 60_000]) {
    const a = noise(12);
    roundTrip(Buffer.concat([a, noise(gap - 12), a, noise(40)]), `a repeat ${gap} bytes back`);
  }
  // copies longer than 64 (split into several), of every length near the split points
  for (const len of [63, 64, 65, 66, 67, 68, 69, 127, 128, 129, 1000]) {
    roundTrip(Buffer.concat([unit.subarray(0, len), noise(20), unit.subarray(0, len), noise(20)]), `a ${len}-byte repeat`);
  }
  for (let round = 0; round < 200; round++) {
    const parts: Buffer[] = [];
    for (let i = 0; i < 1 + Math.floor(next() * 30); i++) {
      const r = next();
      if (r < 0.4) parts.push(noise(Math.floor(next() * 300)));
      else {
        const from = Math.floor(next() * 2900);
        parts.push(unit.subarray(from, from + Math.floor(next() * 100)));
      }
    }
    roundTrip(Buffer.concat(parts), `random mix ${round}`);
  }
});

test('snappy: a view into a larger buffer is compressed from its own bytes only', () => {
  const big = Buffer.from('xxxxxxxxxxhello hello hello hello world!yyyyyyyyyy');
  const view = big.subarray(10, big.length - 10);
  roundTrip(view, 'a subarray');
});

test('snappy uncompress: what the reference compresses comes back; the limit and corrupt input are SnappyErrors', () => {
  const next = rng(7);
  const inputs: Buffer[] = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(200_000, 0x61)];
  for (let k = 0; k < 20; k++) {
    const n = Math.floor(next() * 100_000);
    const b = Buffer.alloc(n);
    // runs of repeated text and random bytes: literals, short and long copies, overlapping ones
    for (let i = 0; i < n; i++) b[i] = next() < 0.7 && i > 8 ? b[i - 1 - Math.floor(next() * 8)] : Math.floor(next() * 256);
    inputs.push(b);
  }
  for (const b of inputs) {
    assert.deepEqual(uncompress(compressSync(b) as Buffer), b);
    assert.deepEqual(uncompress(compress(b)), b);
  }
  assert.throws(() => uncompress(compressSync(Buffer.alloc(5000)) as Buffer, 4096), SnappyError);
  const good = compressSync(inputs[5]) as Buffer;
  for (let k = 0; k < 300; k++) {
    const bad = Buffer.from(good.subarray(0, Math.floor(next() * good.length)));
    if (bad.length > 0) bad[Math.floor(next() * bad.length)] ^= 1 + Math.floor(next() * 255);
    try {
      uncompress(bad, 1 << 20);
    } catch (err) {
      assert.ok(err instanceof SnappyError, String(err));
    }
  }
});
