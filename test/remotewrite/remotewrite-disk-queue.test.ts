/**
 * The remote-write disk queue on a real file system: order, persistence across reopen, a torn
 * tail cut and counted, a damaged reader file, the size bound dropping the oldest data with
 * its sample count, and a process killed with SIGKILL after a sync losing nothing synced.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { DiskQueue } from '../../src/remotewrite/disk-queue.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-dq-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const payload = (i: number) => Buffer.from(`request ${i} `.repeat(1 + (i % 5)));

async function drain(q: DiskQueue): Promise<string[]> {
  const out: string[] = [];
  for (let r = await q.readNextCuttingDamage(); r; r = await q.readNextCuttingDamage()) {
    out.push(r.payload.toString());
    await await q.ack(r);
  }
  return out;
}

/** Appends one record; resolves with its offset, rejects when the disk failed. */
async function append(q: DiskQueue, payload: Buffer, samples: number): Promise<number> {
  const { offsets, error } = await q.append([{ payload, samples, createdAt: 0 }]);
  if (error) throw error;
  return offsets[0];
}

test('records come back in order across segments and reopen; the reader position persists', async (t) => {
  const d = dir(t);
  let q = await DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 200 });
  for (let i = 0; i < 50; i++) await append(q, payload(i), i);
  assert.ok(readdirSync(d).filter((n) => n.endsWith('.seg')).length > 3, 'several segments');
  const first = (await q.readNextCuttingDamage())!;
  assert.equal(first.samples, 0);
  await q.ack(first);
  for (let i = 1; i < 20; i++) await q.ack((await q.readNextCuttingDamage())!);
  await q.close();
  q = await DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 200 });
  assert.deepEqual((await drain(q)), Array.from({ length: 30 }, (_, i) => payload(i + 20).toString()));
  assert.equal(q.pendingBytes, 0);
  await append(q, payload(99), 3);
  assert.equal((await q.readNextCuttingDamage())!.payload.toString(), payload(99).toString());
  await q.close();
  // consumed segments are deleted: only the one being written is left
  assert.equal(readdirSync(d).filter((n) => n.endsWith('.seg')).length, 1);
});

test('a torn last record is cut at open and counted; appending goes on after it', async (t) => {
  const d = dir(t);
  let q = await DiskQueue.open(d, { maxBytes: 1 << 30 });
  for (let i = 0; i < 5; i++) await append(q, payload(i), 10);
  await q.close();
  const seg = join(d, readdirSync(d).find((n) => n.endsWith('.seg'))!);
  const size = statSync(seg).size;
  // half a record, as a crash in the middle of a write leaves it
  appendFileSync(seg, Buffer.from([40, 0, 0, 0, 1, 0, 0, 0, 9, 9, 9, 9, 1, 2, 3]));
  q = await DiskQueue.open(d, { maxBytes: 1 << 30 });
  assert.equal(q.takeDrops().bytes, 15);
  assert.equal(statSync(seg).size, size);
  await append(q, payload(5), 1);
  assert.deepEqual((await drain(q)), [0, 1, 2, 3, 4, 5].map((i) => payload(i).toString()));
  await q.close();
  // a record whose bytes changed fails its checksum: it and everything after it are cut
  q = await DiskQueue.open(d, { maxBytes: 1 << 30 });
  await append(q, Buffer.from('aaaa'), 1);
  await append(q, Buffer.from('bbbb'), 1);
  await q.close();
  const s2 = join(d, readdirSync(d).filter((n) => n.endsWith('.seg')).sort().at(-1)!);
  const bytes = statSync(s2).size;
  truncateSync(s2, bytes - 2);
  appendFileSync(s2, 'XX');
  q = await DiskQueue.open(d, { maxBytes: 1 << 30 });
  assert.equal(q.takeDrops().bytes, 24);
  assert.deepEqual((await drain(q)), ['aaaa']);
  await q.close();
});

test('a damaged or impossible reader file falls back to the oldest record', async (t) => {
  const d = dir(t);
  const reader = (offset: number, crcDelta = 0) => {
    const b = Buffer.alloc(12);
    b.writeBigUInt64LE(BigInt(offset));
    b.writeUInt32LE((crc32(b.subarray(0, 8)) + crcDelta) >>> 0, 8);
    return b;
  };
  // too short; a checksum that does not match its offset; an offset past the end
  for (const bad of [Buffer.from('xyz'), reader(24, 1), reader(2 ** 40)]) {
    // a drained queue deletes its segments: each round writes its own records
    let q = await DiskQueue.open(d, { maxBytes: 1 << 30 });
    for (let i = 0; i < 3; i++) await append(q, payload(i), 1);
    await q.close();
    writeFileSync(join(d, 'reader'), bad);
    q = await DiskQueue.open(d, { maxBytes: 1 << 30 });
    assert.deepEqual((await drain(q)).length, 3);
    await q.close();
  }
});

test('over maxBytes the oldest segments go, counted in samples; the reader moves past them', async (t) => {
  const d = dir(t);
  const q = await DiskQueue.open(d, { maxBytes: 1000, segmentBytes: 300 });
  for (let i = 0; i < 40; i++) await append(q, Buffer.alloc(50, i), 7);
  assert.ok(q.diskBytes <= 1000 + 300, `disk bytes ${q.diskBytes}`);
  const dropped = q.takeDrops();
  assert.ok(dropped.samples > 0 && dropped.samples % 7 === 0, `dropped ${dropped.samples} samples`);
  const left = (await drain(q));
  assert.equal(left.length + dropped.samples / 7, 40, 'every record is either sent or counted as dropped');
  // the newest survive, in order
  assert.equal(left.at(-1), Buffer.alloc(50, 39).toString());
  await q.close();
});

test('SIGKILL after a sync loses nothing that was synced', async (t) => {
  const d = dir(t);
  const module = fileURLToPath(new URL('../../src/remotewrite/disk-queue.js', import.meta.url));
  const script = `
    import { DiskQueue } from ${JSON.stringify(module)};
    const q = await DiskQueue.open(${JSON.stringify(d)}, { maxBytes: 1 << 30, segmentBytes: 4096 });
    const one = (s) => ({ payload: Buffer.from(s), samples: 1, createdAt: 0 });
    for (let i = 0; i < 200; i++) await q.append([one('synced ' + i)]);
    await q.sync();
    // not awaited: the kill may come in the middle of these writes
    for (let i = 0; i < 50; i++) void q.append([one('late ' + i)]);
    await new Promise((r) => setTimeout(r, 1));
    process.kill(process.pid, 'SIGKILL');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script]);
  assert.equal(r.signal, 'SIGKILL');
  const q = await DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 4096 });
  const got = (await drain(q));
  assert.deepEqual(got.slice(0, 200), Array.from({ length: 200 }, (_, i) => `synced ${i}`));
  assert.ok(got.slice(200).every((s, i) => s === `late ${i}`), 'whatever of the rest survived is whole and in order');
  await q.close();
});

test('a queue read to its end keeps no segment: deleted on the last ack, or at open when a crash came first', async (t) => {
  const d = dir(t);
  let q = await DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 200 });
  for (let i = 0; i < 10; i++) await append(q, payload(i), 1);
  const end = q.writeOffset;
  await q.close();
  // the reader saved at the end, the files not yet deleted
  const b = Buffer.alloc(12);
  b.writeBigUInt64LE(BigInt(end));
  b.writeUInt32LE(crc32(b.subarray(0, 8)), 8);
  writeFileSync(join(d, 'reader'), b);
  q = await DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 200 });
  assert.deepEqual(readdirSync(d).filter((n) => n.endsWith('.seg')), []);
  assert.equal(q.pendingBytes, 0);
  // offsets go on from where they were
  assert.equal(await append(q, payload(1), 1), end);
  assert.equal((await drain(q)).length, 1);
  assert.deepEqual(readdirSync(d).filter((n) => n.endsWith('.seg')), [], 'the last ack deletes the segment being written too');
  await q.close();
});

test('a segment written no more has its sample count in its name; without one (an older version, a crash during the rename) it is counted at open, so the bound counts its drops exactly', async (t) => {
  const d = dir(t);
  let q = await DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 300 });
  for (let i = 0; i < 40; i++) await append(q, Buffer.alloc(50, i), 7);
  // the reader inside the first segment: its first two records are not dropped again
  for (let i = 0; i < 2; i++) await q.ack((await q.readNextCuttingDamage())!);
  await q.close();
  const names = readdirSync(d).filter((n) => n.endsWith('.seg')).sort();
  assert.ok(names.length > 4);
  for (const n of names.slice(0, -1)) assert.match(n, /^\d{20}-\d+\.seg$/, 'a full segment is named with its count');
  assert.match(names.at(-1)!, /^\d{20}\.seg$/, 'the one being written is not');
  const counted = names.slice(0, -1).map((n) => Number(/-(\d+)\.seg$/.exec(n)![1]));
  assert.ok(counted.every((c) => c > 0 && c % 7 === 0), `counts ${counted}`);

  for (const rename of [false, true]) {
    const copy = join(d, `copy-${rename}`);
    mkdirSync(copy);
    for (const n of readdirSync(d).filter((x) => x.endsWith('.seg') || x === 'reader')) {
      copyFileSync(join(d, n), join(copy, rename ? n.replace(/-\d+\.seg$/, '.seg') : n));
    }
    q = await DiskQueue.open(copy, { maxBytes: 400, segmentBytes: 300 });
    await append(q, Buffer.alloc(50, 40), 7);
    const dropped = q.takeDrops();
    const left = await drain(q);
    assert.equal(left.length + dropped.samples / 7, 39, 'every record not acknowledged is either read or counted as dropped');
    assert.ok(dropped.samples > 0, 'over the bound');
    assert.equal(left.at(-1), Buffer.alloc(50, 40).toString());
    await q.close();
  }
});
