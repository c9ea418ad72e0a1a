/**
 * The remote-write disk queue on a real file system: order, persistence across reopen, a torn
 * tail cut and counted, a damaged reader file, the size bound dropping the oldest data with
 * its sample count, and a process killed with SIGKILL after a sync losing nothing synced.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
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

function drain(q: DiskQueue): string[] {
  const out: string[] = [];
  for (let r = q.peek(); r; r = q.peek()) {
    out.push(r.payload.toString());
    q.ack(r);
  }
  return out;
}

test('records come back in order across segments and reopen; the reader position persists', (t) => {
  const d = dir(t);
  let q = DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 200 });
  for (let i = 0; i < 50; i++) q.append(payload(i), i);
  assert.ok(readdirSync(d).filter((n) => n.endsWith('.seg')).length > 3, 'several segments');
  const first = q.peek()!;
  assert.equal(first.samples, 0);
  q.ack(first);
  for (let i = 1; i < 20; i++) q.ack(q.peek()!);
  q.close();
  q = DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 200 });
  assert.deepEqual(drain(q), Array.from({ length: 30 }, (_, i) => payload(i + 20).toString()));
  assert.equal(q.pendingBytes, 0);
  q.append(payload(99), 3);
  assert.equal(q.peek()!.payload.toString(), payload(99).toString());
  q.close();
  // consumed segments are deleted: only the one being written is left
  assert.equal(readdirSync(d).filter((n) => n.endsWith('.seg')).length, 1);
});

test('a torn last record is cut at open and counted; appending goes on after it', (t) => {
  const d = dir(t);
  let q = DiskQueue.open(d, { maxBytes: 1 << 30 });
  for (let i = 0; i < 5; i++) q.append(payload(i), 10);
  q.close();
  const seg = join(d, readdirSync(d).find((n) => n.endsWith('.seg'))!);
  const size = statSync(seg).size;
  // half a record, as a crash in the middle of a write leaves it
  appendFileSync(seg, Buffer.from([40, 0, 0, 0, 1, 0, 0, 0, 9, 9, 9, 9, 1, 2, 3]));
  q = DiskQueue.open(d, { maxBytes: 1 << 30 });
  assert.equal(q.takeDrops().bytes, 15);
  assert.equal(statSync(seg).size, size);
  q.append(payload(5), 1);
  assert.deepEqual(drain(q), [0, 1, 2, 3, 4, 5].map((i) => payload(i).toString()));
  q.close();
  // a record whose bytes changed fails its checksum: it and everything after it are cut
  q = DiskQueue.open(d, { maxBytes: 1 << 30 });
  q.append(Buffer.from('aaaa'), 1);
  q.append(Buffer.from('bbbb'), 1);
  q.close();
  const s2 = join(d, readdirSync(d).filter((n) => n.endsWith('.seg')).sort().at(-1)!);
  const bytes = statSync(s2).size;
  truncateSync(s2, bytes - 2);
  appendFileSync(s2, 'XX');
  q = DiskQueue.open(d, { maxBytes: 1 << 30 });
  assert.equal(q.takeDrops().bytes, 24);
  assert.deepEqual(drain(q), ['aaaa']);
  q.close();
});

test('a damaged or impossible reader file falls back to the oldest record', (t) => {
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
    let q = DiskQueue.open(d, { maxBytes: 1 << 30 });
    for (let i = 0; i < 3; i++) q.append(payload(i), 1);
    q.close();
    writeFileSync(join(d, 'reader'), bad);
    q = DiskQueue.open(d, { maxBytes: 1 << 30 });
    assert.deepEqual(drain(q).length, 3);
    q.close();
  }
});

test('over maxBytes the oldest segments go, counted in samples; the reader moves past them', (t) => {
  const d = dir(t);
  const q = DiskQueue.open(d, { maxBytes: 1000, segmentBytes: 300 });
  for (let i = 0; i < 40; i++) q.append(Buffer.alloc(50, i), 7);
  assert.ok(q.diskBytes <= 1000 + 300, `disk bytes ${q.diskBytes}`);
  const dropped = q.takeDrops();
  assert.ok(dropped.samples > 0 && dropped.samples % 7 === 0, `dropped ${dropped.samples} samples`);
  const left = drain(q);
  assert.equal(left.length + dropped.samples / 7, 40, 'every record is either sent or counted as dropped');
  // the newest survive, in order
  assert.equal(left.at(-1), Buffer.alloc(50, 39).toString());
  q.close();
});

test('SIGKILL after a sync loses nothing that was synced', (t) => {
  const d = dir(t);
  const module = fileURLToPath(new URL('../../src/remotewrite/disk-queue.js', import.meta.url));
  const script = `
    import { DiskQueue } from ${JSON.stringify(module)};
    const q = DiskQueue.open(${JSON.stringify(d)}, { maxBytes: 1 << 30, segmentBytes: 4096 });
    for (let i = 0; i < 200; i++) q.append(Buffer.from('synced ' + i), 1);
    q.sync();
    for (let i = 0; i < 50; i++) q.append(Buffer.from('late ' + i), 1);
    process.kill(process.pid, 'SIGKILL');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script]);
  assert.equal(r.signal, 'SIGKILL');
  const q = DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 4096 });
  const got = drain(q);
  assert.deepEqual(got.slice(0, 200), Array.from({ length: 200 }, (_, i) => `synced ${i}`));
  assert.ok(got.slice(200).every((s, i) => s === `late ${i}`), 'whatever of the rest survived is whole and in order');
  q.close();
});

test('a queue read to its end keeps no segment: deleted on the last ack, or at open when a crash came first', (t) => {
  const d = dir(t);
  let q = DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 200 });
  for (let i = 0; i < 10; i++) q.append(payload(i), 1);
  const end = q.writeOffset;
  q.close();
  // the reader saved at the end, the files not yet deleted
  const b = Buffer.alloc(12);
  b.writeBigUInt64LE(BigInt(end));
  b.writeUInt32LE(crc32(b.subarray(0, 8)), 8);
  writeFileSync(join(d, 'reader'), b);
  q = DiskQueue.open(d, { maxBytes: 1 << 30, segmentBytes: 200 });
  assert.deepEqual(readdirSync(d).filter((n) => n.endsWith('.seg')), []);
  assert.equal(q.pendingBytes, 0);
  // offsets go on from where they were
  assert.equal(q.append(payload(1), 1), end);
  assert.equal(drain(q).length, 1);
  assert.deepEqual(readdirSync(d).filter((n) => n.endsWith('.seg')), [], 'the last ack deletes the segment being written too');
  q.close();
});
