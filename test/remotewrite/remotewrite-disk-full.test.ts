/**
 * The remote-write queue on a disk that fails: a real 2 MiB tmpfs filled up (mounted by the test,
 * which needs root, as CI has), and EIO from an injected file-operations object. The queue keeps
 * what fits in memory, drops the oldest past its bound counted as disk_full, logs the episode
 * once and its end, writes again when space returns, never corrupts what it wrote, deletes the
 * segments it sent — and the real process neither dies nor refuses to start on a full disk.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uncompressSync } from 'snappy';
import { parseWriteRequest } from '../../src/formats/remotewrite/index.js';
import { Logger } from '../../src/log/logger.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { DiskQueue, nodeDiskFs, type DiskFs } from '../../src/remotewrite/index.js';
import { startAgent } from '../helpers/cli-process.js';
import { stopProcess } from '../helpers/prometheus-peer.js';
import { receiver, startQueues } from '../helpers/remotewrite-harness.js';
import { selfMetricValue, startTarget, waitFor } from '../helpers/scrape-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh tmpfs of `size` (mount(8) syntax), unmounted after the test; undefined when the test was skipped. */
function mountTmpfs(t: TestContext, size: string): string | undefined {
  if (process.getuid?.() !== 0 && !process.env.CI) {
    t.skip('mounting a tmpfs needs root (the tests run as root in CI)');
    return undefined;
  }
  const dir = fs.mkdtempSync(join(tmpdir(), 'tributary-fulldisk-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  assert.equal(m.status, 0, `mount a tmpfs: ${m.stderr}`);
  t.after(() => {
    if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills `dir`'s file system up to `leave` free bytes; returns the filler file (delete it to free the space). */
function fillDisk(dir: string, leave: number): string {
  const path = join(dir, 'filler');
  const st = fs.statfsSync(dir);
  const fill = Math.max(0, st.bavail * st.bsize - leave);
  fs.writeFileSync(path, Buffer.alloc(fill, 1));
  return path;
}

function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger('debug', 'logfmt', { write: (l: string) => void lines.push(l) }), lines };
}

/** Random label values: requests that compress poorly, so megabytes come quickly. */
function fillerBatch(from: number, n: number): SampleBatch {
  const b = new SampleBatch(n);
  for (let j = from; j < from + n; j++) b.append(Labels.fromRecord({ __name__: 'filler', id: Math.random().toString(36).repeat(4) }), j, 1_700_000_000_000 + j);
  return b;
}

async function startQueue(t: TestContext, url: string, dataDir: string, logger: Logger, diskFs?: DiskFs) {
  const yaml = `remote_write:\n  - url: ${url}\n    queue_config: {senders: 1, max_samples_per_send: 500, batch_send_deadline: 1s, min_backoff: 50ms, max_backoff: 200ms}\n`;
  const { rw, pipeline, registry } = await startQueues(t, yaml, dataDir, logger, diskFs);
  t.after(() => rw.close(0));
  const dropped = (reason: string) => selfMetricValue(registry, 'tributary_remotewrite_samples_dropped_total', { url, reason }) ?? 0;
  const diskErrors = (op: string) => selfMetricValue(registry, 'tributary_remotewrite_disk_errors_total', { url, op }) ?? 0;
  return { rw, pipeline, dropped, diskErrors };
}

const segments = (dir: string): string[] =>
  fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.seg')) : [];

test('a full disk: kept in memory, the oldest dropped as disk_full, logged once; space back, everything else is delivered and the segments deleted', async (t) => {
  // room for the 4 MiB kept in memory once the filler is gone
  const mnt = mountTmpfs(t, '8m');
  if (!mnt) return;
  let up = false;
  const r = await receiver(() => ({ status: up ? 204 : 503 }));
  t.after(() => r.close());
  const filler = fillDisk(mnt, 256 * 1024);
  const { logger, lines } = memoryLogger();
  const { rw, pipeline, dropped } = await startQueue(t, r.url, join(mnt, 'data'), logger);
  const failures = () => lines.filter((l) => l.includes('the disk queue fails'));

  // ~10 MiB of requests: past the free 256 KiB and past the 4 MiB kept in memory
  let written = 0;
  for (; written < 200_000; written += 500) pipeline.write('job', fillerBatch(written, 500));
  await waitFor('samples dropped as disk_full', () => dropped('disk_full') > 0, 10_000);
  assert.equal(failures().length, 1, 'the episode is logged once');
  assert.match(failures()[0], /code=ENOSPC/);
  assert.match(failures()[0], new RegExp(`path=${mnt}/data/remotewrite/[^ ]+/s00/\\d{20}\\.seg`));
  // more data and several retries of the disk (every batch_send_deadline) later: still one line
  for (let i = 0; i < 3; i++) {
    for (const end = written + 10_000; written < end; written += 500) pipeline.write('job', fillerBatch(written, 500));
    await sleep(1_000);
  }
  assert.equal(failures().length, 1, 'the retries that fail log nothing more');

  fs.rmSync(filler);
  await waitFor('the recovery logged', () => lines.some((l) => l.includes('the disk queue is written again')), 10_000);
  assert.ok(segments(join(mnt, 'data')).length > 0, 'the backlog went to disk once it could');
  up = true;
  assert.ok(await rw.queues[0].flush(60_000), 'everything kept is sent');
  const values = r.got.flatMap((x) => x.body.timeseries.map((s) => s.samples[0].value));
  assert.equal(values.length + dropped('disk_full') + dropped('queue_full'), written, 'every sample is delivered or counted as dropped');
  assert.ok(dropped('disk_full') > 0 && values.length > 0);
  assert.equal(new Set(values).size, values.length, 'none twice');
  assert.ok(
    values.every((v, i) => i === 0 || v > values[i - 1]),
    'in order: the oldest memory records were dropped, nothing newer than a delivered one',
  );
  // the last ack's unlink runs after the queue already reads as empty
  await waitFor('segments whose records were all acknowledged are deleted', () => segments(join(mnt, 'data')).length === 0, 5_000);
  assert.equal(lines.filter((l) => l.includes('level=error')).length, 1, 'no other error logged');
});

test('EIO: a failing write or open leaves the queue framed; a cut that fails too gives the file up, and reopening reads every record', async (t) => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'tributary-eio-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const eio = (syscall: string): NodeJS.ErrnoException => Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: 'EIO', syscall });
  const fail = { write: false, shortWrite: false, truncate: false, open: false };
  const faulty: DiskFs = {
    ...nodeDiskFs,
    writev: async (fd, buffers) => {
      // part of the records reaches the file, as when the disk fills mid-write
      if (fail.shortWrite) return nodeDiskFs.writev(fd, [Buffer.concat(buffers).subarray(0, 7)]);
      if (fail.write) throw eio('write');
      return nodeDiskFs.writev(fd, buffers);
    },
    ftruncate: async (fd, len) => {
      if (fail.truncate) throw eio('ftruncate');
      return nodeDiskFs.ftruncate(fd, len);
    },
    open: async (path, flags, mode) => {
      if (fail.open) throw eio('open');
      return nodeDiskFs.open(path, flags, mode);
    },
  };
  const payload = (i: number) => Buffer.from(`record ${i} `.repeat(5));
  const q = await DiskQueue.open(dir, { maxBytes: 1 << 30, segmentBytes: 300, fs: faulty });
  let next = 0;
  const kept: number[] = [];
  const write = async (to: DiskQueue, i: number) => {
    const { error } = await to.append([{ payload: payload(i), samples: 1, createdAt: 0 }]);
    if (error) throw error;
  };
  const append = async (to = q) => {
    await write(to, next);
    kept.push(next++);
  };
  for (let i = 0; i < 5; i++) await append();
  fail.write = true;
  await assert.rejects(write(q, 99), /EIO/);
  fail.write = false;
  fail.shortWrite = true;
  await assert.rejects(write(q, 98), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC', 'a short write is a full disk');
  fail.shortWrite = false;
  await append();
  // a short write whose cut fails as well: that file is written no more
  fail.shortWrite = fail.truncate = true;
  await assert.rejects(write(q, 97), /ENOSPC/);
  fail.shortWrite = fail.truncate = false;
  fail.open = true;
  await assert.rejects(write(q, 96), /EIO/, 'the next segment cannot be opened');
  fail.open = false;
  for (let i = 0; i < 8; i++) await append();
  const read = async (d: DiskQueue) => {
    const out: string[] = [];
    for (let rec = await d.readNextCuttingDamage(); rec; rec = await d.readNextCuttingDamage()) {
      out.push(rec.payload.toString());
      await d.ack(rec);
    }
    return out;
  };
  const expected = kept.map((i) => payload(i).toString());
  assert.deepEqual(await read(q), expected, 'only the records whose append returned, in order');
  await q.close();
  assert.deepEqual(segments(dir), [], 'read to the end: every segment deleted');

  // the same failures, then a reopen instead of a read
  next = 0;
  kept.length = 0;
  const q2 = await DiskQueue.open(dir, { maxBytes: 1 << 30, segmentBytes: 300, fs: faulty });
  for (let i = 0; i < 3; i++) await append(q2);
  fail.shortWrite = fail.truncate = true;
  await assert.rejects(write(q2, 97));
  fail.shortWrite = fail.truncate = false;
  for (let i = 0; i < 3; i++) await append(q2);
  await q2.close();
  const q3 = await DiskQueue.open(dir, { maxBytes: 1 << 30, segmentBytes: 300 });
  assert.equal(q3.takeDrops().bytes, 0, 'nothing to cut: the bytes past the next segment start are not read');
  assert.deepEqual(await read(q3), kept.map((i) => payload(i).toString()));
  await q3.close();
});

test('EIO on every write and fsync of the queue, the reader position too: the sender goes on from memory, counts what it drops, logs once', async (t) => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'tributary-eio-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let broken: 'write' | 'fsync' | undefined = 'write';
  const faulty: DiskFs = {
    ...nodeDiskFs,
    writev: async (fd, buffers) => {
      if (broken === 'write') throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', syscall: 'write' });
      return nodeDiskFs.writev(fd, buffers);
    },
    fsync: async (fd) => {
      if (broken !== undefined) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', syscall: 'fsync' });
      return nodeDiskFs.fsync(fd);
    },
  };
  let up = false;
  const r = await receiver(() => ({ status: up ? 204 : 503 }));
  t.after(() => r.close());
  const { logger, lines } = memoryLogger();
  const { rw, pipeline, dropped, diskErrors } = await startQueue(t, r.url, dir, logger, faulty);
  let written = 0;
  for (; written < 150_000; written += 500) pipeline.write('job', fillerBatch(written, 500));
  await waitFor('dropped as disk_full', () => dropped('disk_full') > 0, 10_000);
  assert.equal(lines.filter((l) => l.includes('the disk queue fails')).length, 1);
  assert.match(lines.find((l) => l.includes('the disk queue fails'))!, /code=EIO/);
  // writes that succeed while fsync fails do not end the episode
  broken = 'fsync';
  for (const end = written + 20_000; written < end; written += 500) pipeline.write('job', fillerBatch(written, 500));
  await sleep(3_000);
  const recovered = () => lines.some((l) => l.includes('the disk queue is written again'));
  assert.ok(!recovered(), 'not recovered while fsync fails');
  assert.ok(diskErrors('write') > 0, 'the failed writes counted');
  const fsyncErrors = diskErrors('fsync');
  assert.ok(fsyncErrors >= 2, `every failed fsync counted, not only the episode's first (${fsyncErrors})`);
  broken = undefined;
  for (const end = written + 5_000; written < end; written += 500) pipeline.write('job', fillerBatch(written, 500));
  await waitFor('the recovery logged', recovered, 10_000);
  assert.equal(lines.filter((l) => l.includes('the disk queue fails')).length, 1, 'one episode, logged once');
  up = true;
  assert.ok(await rw.queues[0].flush(60_000));
  const delivered = r.got.reduce((n, x) => n + x.body.timeseries.length, 0);
  assert.equal(delivered + dropped('disk_full'), written);
});

test('the process on a full disk with a dead receiver: it keeps scraping, restarts without a crash, and sends and deletes its backlog once space and the receiver are back', { timeout: 150_000 }, async (t) => {
  const mnt = mountTmpfs(t, '2m');
  if (!mnt) return;
  // a page of 20k series with fresh values each scrape
  const target = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    const v = Math.random();
    let body = '';
    for (let i = 0; i < 20_000; i++) body += `full_disk_metric{i="${i}"} ${v + i}\n`;
    res.end(body);
  });
  t.after(() => target.close());
  // the receiver's port, closed until the end
  let samplesReceived = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      samplesReceived += parseWriteRequest(uncompressSync(Buffer.concat(chunks)) as Buffer).timeseries.length;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((res) => server.close(() => res()));
  t.after(() => new Promise<void>((res) => (server.closeAllConnections(), server.close(() => res()))));

  const config = join(mnt, '..', `${mnt.split('/').pop()}.yml`);
  fs.writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: big\n    static_configs: [{targets: ['${target.address}']}]\nremote_write:\n  - url: http://127.0.0.1:${port}/api/v1/write\n    queue_config: {batch_send_deadline: 1s, max_backoff: 1s}\n`,
  );
  t.after(() => fs.rmSync(config, { force: true }));
  const data = join(mnt, 'data');
  fs.mkdirSync(data);
  const filler = fillDisk(mnt, 128 * 1024);
  const args = ['--config', config, '--data-dir', data];

  let agent = await startAgent(args);
  t.after(() => stopProcess(agent.child));
  await waitFor('the disk full', () => agent.output().includes('the disk queue fails'), 30_000);
  const scrapes = target.requests;
  await sleep(3_000);
  assert.equal(agent.child.exitCode, null, 'still running');
  assert.ok(target.requests >= scrapes + 2, 'still scraping');
  assert.match(agent.output(), /"code":"ENOSPC"/);
  assert.equal(agent.output().split('the disk queue fails').length - 1, 1, 'one line for the episode, not one per sender');

  // a crash on the full disk, and a restart while it is still full and the receiver down
  agent.child.kill('SIGKILL');
  await new Promise((res) => agent.child.once('exit', res));
  agent = await startAgent(args);
  const restarted = target.requests;
  await sleep(3_000);
  assert.equal(agent.child.exitCode, null, 'the restart on a full disk runs');
  assert.ok(target.requests >= restarted + 2, 'and scrapes');
  // a first start on the full disk: no room for the lock's pid or the url file either
  const fresh = await startAgent(['--config', config, '--data-dir', join(mnt, 'fresh')]);
  t.after(() => stopProcess(fresh.child));
  await sleep(2_000);
  assert.equal(fresh.child.exitCode, null, 'a first start on a full disk runs');
  await stopProcess(fresh.child);

  fs.rmSync(filler);
  const backlog = segments(data);
  assert.ok(backlog.length > 0, 'a backlog on disk');
  await new Promise<void>((res) => server.listen(port, '127.0.0.1', res));
  // scraping goes on meanwhile, so new segments may come and go: the backlog's must go
  await waitFor(
    'the backlog sent and its segments deleted',
    () => samplesReceived > 0 && backlog.every((s) => !segments(data).includes(s)),
    120_000,
  );
  assert.equal(agent.child.exitCode, null);
  await stopProcess(agent.child);
});
