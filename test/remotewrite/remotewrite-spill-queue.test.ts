/**
 * The spill queue alone (memory in front of the file queue): the oldest request first and the
 * same one again until acknowledged, memory spilled to disk past its bound with the request in
 * flight acknowledged there, a reopen after SIGKILL finding what was spilled and synced, and a
 * failing disk falling back to memory with the oldest dropped and counted, then recovering.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeDiskFs, type DiskFs } from '../../src/remotewrite/disk-queue.js';
import { SpillQueue, type DiskOp, type SpillEvents, type SpillQueueOptions } from '../../src/remotewrite/spill-queue.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-spill-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Events as a list of what happened. */
function recorder() {
  const seen = { dropped: new Map<string, number>(), failures: [] as { op: DiskOp; first: boolean; code?: string }[], recovered: [] as number[] };
  const events: SpillEvents = {
    dropped: (reason, samples) => void seen.dropped.set(reason, (seen.dropped.get(reason) ?? 0) + samples),
    diskFailed: (op, err, first) => void seen.failures.push({ op, first, code: (err as NodeJS.ErrnoException).code }),
    diskRecovered: (dropped) => void seen.recovered.push(dropped),
  };
  return { seen, events };
}

const options = (d: string, events: SpillEvents, extra: Partial<SpillQueueOptions> = {}): SpillQueueOptions => ({
  dir: d,
  maxDiskBytes: 1 << 30,
  segmentBytes: 4096,
  maxMemoryBytes: 1 << 20,
  retryMs: 10,
  events,
  ...extra,
});

/** A request of `bytes` bytes whose content says which it is. */
const request = (i: number, bytes = 100) => ({ payload: Buffer.from(`#${i} `.padEnd(bytes, '.')), samples: i + 1, createdAt: 1_000 + i });
const idOf = (r: { payload: Buffer } | undefined) => (r ? Number(/^#(\d+)/.exec(r.payload.toString())![1]) : undefined);

async function drain(q: SpillQueue): Promise<number[]> {
  const out: number[] = [];
  for (let r = await q.next(); r; r = await q.next()) {
    out.push(idOf(r)!);
    await q.ack();
  }
  return out;
}

const segments = (d: string) => readdirSync(d).filter((n) => n.endsWith('.seg'));

test('push / next / ack: oldest first, the same request again until acknowledged, nothing on disk while memory has room', async (t) => {
  const d = dir(t);
  const { events } = recorder();
  const { queue: q } = await SpillQueue.open(options(d, events));
  assert.equal(await q.next(), undefined);
  for (let i = 0; i < 3; i++) q.push(request(i));
  assert.equal(q.memoryBytes, 300);
  assert.equal(idOf(await q.next()), 0);
  assert.equal(idOf(await q.next()), 0, 'a retry gets the same request');
  await q.ack();
  assert.equal(idOf(await q.next()), 1);
  await q.ack();
  q.push(request(3));
  assert.deepEqual(await drain(q), [2, 3]);
  assert.ok(q.empty);
  assert.equal(q.memoryBytes, 0);
  assert.deepEqual(segments(d), []);
  await q.close();
});

test('past its memory bound the backlog goes to disk, in order; a request in flight meanwhile is acknowledged there', async (t) => {
  const d = dir(t);
  const { seen, events } = recorder();
  const { queue: q } = await SpillQueue.open(options(d, events, { maxMemoryBytes: 1000 }));
  q.push(request(0));
  // in flight from memory when the spill writes it
  assert.equal(idOf(await q.next()), 0);
  for (let i = 1; i < 20; i++) q.push(request(i));
  await q.spill(0); // waits for the spill the bound started
  assert.ok(q.diskBytes > 0, 'spilled');
  assert.ok(q.memoryBytes <= 1000, `memory within its bound (${q.memoryBytes})`);
  assert.ok(segments(d).length > 0);
  await q.ack();
  assert.deepEqual(await drain(q), Array.from({ length: 19 }, (_, i) => i + 1), 'every other request once, in order');
  // a spill by age: only what is older than the cutoff
  for (let i = 20; i < 24; i++) q.push(request(i));
  await q.spill(1_000 + 22);
  assert.equal(q.memoryBytes, 200, 'the two newest stay in memory');
  assert.deepEqual(await drain(q), [20, 21, 22, 23]);
  assert.equal(seen.failures.length, 0);
  await q.close();
  assert.deepEqual(segments(d), [], 'read to its end: no segment left');
});

test('SIGKILL after a spill and sync: the reopened queue sends what was spilled, in order', (t) => {
  const d = dir(t);
  const module = fileURLToPath(new URL('../../src/remotewrite/spill-queue.js', import.meta.url));
  const script = `
    import { SpillQueue } from ${JSON.stringify(module)};
    const events = { dropped() {}, diskFailed() {}, diskRecovered() {} };
    const { queue } = await SpillQueue.open({ dir: ${JSON.stringify(d)}, maxDiskBytes: 1 << 30, segmentBytes: 4096, maxMemoryBytes: 1 << 20, retryMs: 10, events });
    const req = (i) => ({ payload: Buffer.from('#' + i + ' '.padEnd(100, '.')), samples: 1, createdAt: 1000 + i });
    for (let i = 0; i < 50; i++) queue.push(req(i));
    // two sent and acknowledged
    for (let i = 0; i < 2; i++) { await queue.next(); await queue.ack(); }
    await queue.spill(Infinity);
    await queue.sync();
    for (let i = 50; i < 60; i++) queue.push(req(i)); // only in memory
    process.kill(process.pid, 'SIGKILL');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script]);
  assert.equal(r.signal, 'SIGKILL', r.stderr.toString());
  return (async () => {
    const { seen, events } = recorder();
    const { queue: q, report } = await SpillQueue.open(options(d, events));
    assert.equal(report.tornBytes, 0);
    assert.ok(report.pendingBytes > 0);
    assert.deepEqual(await drain(q), Array.from({ length: 48 }, (_, i) => i + 2));
    assert.equal(seen.failures.length, 0);
    await q.close();
  })();
});

test('a failing disk: the queue goes on from memory, drops the oldest past its bound (counted as disk_full), errors counted by op; recovered once written and synced', async (t) => {
  const d = dir(t);
  let broken: 'write' | 'fsync' | undefined = 'write';
  const eio = (syscall: string) => Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: 'EIO', syscall });
  const fs: DiskFs = {
    ...nodeDiskFs,
    writev: async (fd, buffers) => {
      if (broken === 'write') throw eio('write');
      return nodeDiskFs.writev(fd, buffers);
    },
    fsync: async (fd) => {
      if (broken !== undefined) throw eio('fsync');
      return nodeDiskFs.fsync(fd);
    },
  };
  const { seen, events } = recorder();
  const { queue: q } = await SpillQueue.open(options(d, events, { maxMemoryBytes: 1000, fs }));
  q.push(request(0));
  assert.equal(idOf(await q.next()), 0, 'request 0 in flight');
  for (let i = 1; i < 30; i++) q.push(request(i));
  await q.spill(0);
  assert.deepEqual(seen.failures[0], { op: 'write', first: true, code: 'EIO' });
  assert.ok(q.diskFailing);
  assert.ok(q.memoryBytes <= 1000, `memory held to its bound (${q.memoryBytes})`);
  const dropped = seen.dropped.get('disk_full') ?? 0;
  assert.ok(dropped > 0);
  assert.equal(q.diskBytes, 0);

  // writes work, fsync does not: not recovered
  broken = 'fsync';
  await new Promise((r) => setTimeout(r, 20));
  await q.spill(Infinity);
  await q.sync();
  assert.ok(seen.failures.some((f) => f.op === 'fsync' && !f.first), 'the fsync error counted within the failure');
  assert.deepEqual(seen.recovered, []);
  assert.ok(q.diskFailing);

  broken = undefined;
  await new Promise((r) => setTimeout(r, 20));
  q.push(request(30));
  await q.spill(Infinity);
  await q.sync();
  assert.deepEqual(seen.recovered, [dropped], 'recovered, with what it dropped');
  assert.ok(!q.diskFailing);
  await q.ack(); // request 0, written to disk while in flight
  const left = await drain(q);
  const sum = (ids: number[]) => ids.reduce((n, i) => n + i + 1, 0);
  assert.equal(sum(left) + 1 + dropped, sum(Array.from({ length: 31 }, (_, i) => i)), 'every sample sent or counted as dropped');
  assert.deepEqual(left, [...left].sort((a, b) => a - b), 'in order: the oldest were dropped');
  assert.equal(left.at(-1), 30);
  await q.close();
});

test('reopened under a smaller max_disk_usage: the oldest segments are dropped at open (counted as queue_full), not at the next write', async (t) => {
  const d = dir(t);
  const first = await SpillQueue.open(options(d, recorder().events, { maxMemoryBytes: 0 }));
  for (let i = 0; i < 40; i++) first.queue.push(request(i, 1000));
  await first.queue.spill(Number.POSITIVE_INFINITY);
  await first.queue.close();
  assert.ok(segments(d).length >= 8, segments(d).join());

  const { seen, events } = recorder();
  const { queue: q } = await SpillQueue.open(options(d, events, { maxDiskBytes: 8192 }));
  assert.ok(q.diskBytes <= 8192 + 4096, `pending ${q.diskBytes} bytes under a bound of 8192`);
  const kept = await drain(q);
  const droppedSamples = seen.dropped.get('queue_full') ?? 0;
  assert.ok(droppedSamples > 0, 'the dropped samples are counted');
  // each request i holds i + 1 samples: what was kept and what was counted add up to all of them
  assert.equal(kept.reduce((n, i) => n + i + 1, 0) + droppedSamples, (40 * 41) / 2);
  assert.deepEqual(kept, kept.slice().sort((a, b) => a - b), 'the newest are kept, in order');
  assert.equal(kept.at(-1), 39);
  await q.close();
});

test('spilled requests are sent from memory while they fit the read-back bound; past it the disk is read, in the same order', async (t) => {
  const d = dir(t);
  const { events } = recorder();
  let reads = 0;
  const fs: DiskFs = { ...nodeDiskFs, read: (...args) => (reads++, nodeDiskFs.read(...args)) };
  // read-back holds a quarter of memory's 4000 bytes: ten requests of 100
  const { queue: q } = await SpillQueue.open(options(d, events, { maxMemoryBytes: 4000, fs }));
  for (let i = 0; i < 8; i++) q.push(request(i));
  await q.spill(Infinity);
  assert.equal(q.memoryBytes, 0, 'all of them were written');
  assert.equal(segments(d).length > 0, true);
  assert.deepEqual(await drain(q), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(reads, 0, 'none was read back from disk');

  for (let i = 8; i < 30; i++) q.push(request(i));
  await q.spill(Infinity);
  assert.deepEqual(await drain(q), Array.from({ length: 22 }, (_, k) => 8 + k));
  assert.ok(reads > 0, 'those past the bound were read from disk');
  assert.ok(q.empty);
  await q.close();

  // what was spilled and not acknowledged is still on disk for a restart
  const again = await SpillQueue.open(options(d, events));
  for (let i = 30; i < 33; i++) again.queue.push(request(i));
  await again.queue.spill(Infinity);
  await again.queue.close();
  const reopened = await SpillQueue.open(options(d, events));
  assert.deepEqual(await drain(reopened.queue), [30, 31, 32]);
  await reopened.queue.close();
});

test('an acknowledged request gives its payload back only when nothing in the queue still holds it', async (t) => {
  const d = dir(t);
  const { events } = recorder();
  const { queue: q } = await SpillQueue.open(options(d, events, { maxMemoryBytes: 1000 }));
  const released: number[] = [];
  const release = (payload: Buffer) => void released.push(Number(/^#(\d+)/.exec(payload.toString())![1]));
  q.push(request(0));
  await q.next();
  await q.ack(release);
  assert.deepEqual(released, [0], 'sent straight from memory: free to be written again');
  // in flight when a spill takes it: the disk's copy is what gets acknowledged, and the file
  // write may still be using the buffer
  q.push(request(1));
  assert.equal(idOf(await q.next()), 1);
  for (let i = 2; i < 20; i++) q.push(request(i));
  await q.spill(0);
  await q.ack(release);
  while (await q.next()) await q.ack(release);
  assert.deepEqual(released, [0], 'nothing that went to disk came back');
  q.push(request(30));
  await q.next();
  await q.ack();
  assert.deepEqual(released, [0], 'without `release` (a send that was not a 2xx) nothing comes back');
  await q.close();
});
