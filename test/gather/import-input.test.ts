/**
 * What `tributary import` reads: ZIPs written by gather's own writer (ZIP64 too), by Python's
 * zipfile as vmgather-style bundles (stored and deflated, the metrics in a folder), gzip'ed and
 * plain lines; damaged archives refused with what is wrong; lines cut into whole-line chunks
 * whatever the reads' sizes, an over-long line refused with its number.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { countLines, lineChunks, openImportInput, InputError, type LineChunk } from '../../src/gather/import-input.js';
import { ZipWriter } from '../../src/gather/zip.js';

const dir = mkdtempSync(join(tmpdir(), 'import-input-'));

function lines(n: number): Buffer {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`{"metric":{"__name__":"m","i":"${i}"},"values":[${i}],"timestamps":[${1_700_000_000_000 + i}]}\n`);
  return Buffer.from(out.join(''));
}

async function all(input: Awaited<ReturnType<typeof openImportInput>>, from = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of input.bytes(from)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function writeZip(path: string, files: Record<string, Buffer>, forceZip64: boolean): Promise<void> {
  const file = createWriteStream(path);
  const zip = new ZipWriter((p) => new Promise<void>((resolve, reject) => file.write(p, (err) => (err ? reject(err) : resolve()))), { forceZip64 });
  for (const [name, data] of Object.entries(files)) await zip.add(name, data, { mtime: new Date(), level: 1 });
  await zip.finish();
  await new Promise<void>((r) => file.end(r));
}

function pythonZip(path: string, entries: [string, Buffer][], stored: boolean): void {
  const paths = entries.map(([name, data], i) => {
    const p = join(dir, `py-${i}`);
    writeFileSync(p, data);
    return [name, p];
  });
  execFileSync('python3', ['-c', `import zipfile,sys,json\nz=zipfile.ZipFile(sys.argv[1],'w',compression=zipfile.${stored ? 'ZIP_STORED' : 'ZIP_DEFLATED'})\nfor n,p in json.loads(sys.argv[2]): z.write(p,n)\nz.close()`, path, JSON.stringify(paths)]);
}

test("gather's own bundles, with and without ZIP64 records: lines, metadata, resume offsets", async () => {
  const data = lines(5000);
  for (const forceZip64 of [false, true]) {
    const path = join(dir, `own-${forceZip64}.zip`);
    await writeZip(path, { 'metrics.jsonl': data, 'metadata.json': Buffer.from('{"exportId":"x","samplesCount":5000}'), 'README.txt': Buffer.from('hi') }, forceZip64);
    const input = await openImportInput(path);
    assert.equal(input.kind, 'bundle');
    assert.equal(input.linesSize, data.length);
    assert.deepEqual(input.metadata, { exportId: 'x', samplesCount: 5000 });
    assert.ok((await all(input)).equals(data));
    assert.ok((await all(input, 12345)).equals(data.subarray(12345)), 'read from an offset');
  }
});

test('vmgather-style bundles by Python zipfile: deflated and stored, metrics inside a folder', async () => {
  const data = lines(300);
  for (const stored of [false, true]) {
    const path = join(dir, `py-${stored}.zip`);
    pythonZip(path, [['export/metadata.json', Buffer.from('{"export_id":"v1"}')], ['export/metrics.jsonl', data]], stored);
    const input = await openImportInput(path);
    assert.equal(input.shown, `py-${stored}.zip:export/metrics.jsonl`);
    assert.deepEqual(input.metadata, { export_id: 'v1' });
    assert.ok((await all(input)).equals(data));
  }
});

test('damaged archives: a CRC that does not match, a cut end, no metrics, bad metadata', async () => {
  const data = lines(300);
  const path = join(dir, 'stored.zip');
  pythonZip(path, [['metrics.jsonl', data]], true);
  const bytes = readFileSync(path);
  // a stored entry's byte changed: only the CRC can tell
  const at = bytes.indexOf('"values":[7]');
  bytes[at + 10] = 0x38;
  const flipped = join(dir, 'flipped.zip');
  writeFileSync(flipped, bytes);
  await assert.rejects(all(await openImportInput(flipped)), (e: Error) => e instanceof InputError && /flipped\.zip: metrics\.jsonl: corrupt ZIP: CRC-32 [0-9a-f]{8} of the data, the directory says [0-9a-f]{8}/.test(e.message));

  const cut = join(dir, 'cut.zip');
  writeFileSync(cut, readFileSync(path).subarray(0, 200));
  await assert.rejects(openImportInput(cut), /cut\.zip: not a ZIP archive, or cut short/);

  const noMetrics = join(dir, 'nometrics.zip');
  pythonZip(noMetrics, [['metadata.json', Buffer.from('{}')]], false);
  await assert.rejects(openImportInput(noMetrics), /the bundle has no metrics\.jsonl \(its entries: metadata\.json\)/);

  const badMeta = join(dir, 'badmeta.zip');
  pythonZip(badMeta, [['metrics.jsonl', data], ['metadata.json', Buffer.from('[1,2')]], false);
  await assert.rejects(openImportInput(badMeta), /badmeta\.zip: metadata\.json: /);

  await assert.rejects(openImportInput(join(dir, 'nope.zip')), /nope\.zip: no such file/);
});

test('gzip and plain lines are told by their first bytes, not their names', async () => {
  const data = lines(1000);
  const gz = join(dir, 'lines.data');
  writeFileSync(gz, gzipSync(data));
  const a = await openImportInput(gz);
  assert.equal(a.kind, 'jsonl.gz');
  assert.ok((await all(a, 100)).equals(data.subarray(100)));
  const plain = join(dir, 'lines.zip');
  writeFileSync(plain, data);
  const b = await openImportInput(plain);
  assert.equal(b.kind, 'jsonl');
  assert.ok((await all(b)).equals(data));
  const broken = join(dir, 'broken.gz');
  writeFileSync(broken, gzipSync(data).subarray(0, 500));
  await assert.rejects(all(await openImportInput(broken)), /broken\.gz: corrupt gzip after \d+ bytes out/);
});

test('whole-line chunks whatever the reads; numbers and offsets; an over-long line refused', async () => {
  const data = lines(2000);
  for (const read of [1, 7, 1000, 65536, data.length]) {
    const src = (async function* () {
      for (let i = 0; i < data.length; i += read) yield data.subarray(i, i + read);
    })();
    const chunks: LineChunk[] = [];
    let line = 1;
    let offset = 0;
    for await (const c of lineChunks(src, 4096, 1 << 20)) {
      assert.equal(c.start, offset);
      assert.equal(c.firstLine, line);
      assert.equal(c.buf[c.buf.length - 1], 0x0a, 'ends with a whole line');
      assert.ok(c.buf.length <= 4096, 'no longer than asked: lines are short');
      assert.ok(c.buf.equals(data.subarray(c.start, c.end)));
      offset = c.end;
      line += countLines(c.buf);
      chunks.push({ ...c, buf: Buffer.from(c.buf) });
      c.release?.();
    }
    assert.equal(offset, data.length, `read ${read}: every byte`);
    assert.equal(line, 2001);
  }
  // a line longer than a chunk is a chunk of its own; one past the limit is refused with its number
  const long = Buffer.concat([lines(1), Buffer.from(`{"metric":{"__name__":"${'x'.repeat(10_000)}"},"values":[1],"timestamps":[1]}\n`), lines(1)]);
  const got: number[] = [];
  for await (const c of lineChunks([long], 1024, 1 << 20)) got.push(c.buf.length);
  assert.equal(got.reduce((a, b) => a + b, 0), long.length);
  await assert.rejects(
    (async () => {
      for await (const c of lineChunks([long], 1024, 4096, 0, 1, 'f.jsonl')) void c;
    })(),
    /f\.jsonl:2: a line longer than 4096 bytes/,
  );
});
