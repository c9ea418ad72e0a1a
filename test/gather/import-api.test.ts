/**
 * The wizard's `/api/import/*` over a real socket, against a recording server standing in for
 * a VictoriaMetrics (its paths and bodies are what is checked): an upload streamed to disk,
 * the preflight as a run of its own, an import to its end, a failed one resumed under its id,
 * profiles remembered without secrets, and the refusals — a body that is not the file's type,
 * an unknown field, an unknown id, a path from a caller that is not on loopback.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ObfuscationSessions } from '../../src/gather/obfuscate.js';
import { ImportJobs } from '../../src/gather/import-jobs.js';
import { ExportManager } from '../../src/gather/jobs.js';
import { startGatherServer } from '../../src/gather/server.js';
import { silentLogger } from '../../src/log/logger.js';

async function recorder(fail: () => boolean): Promise<{ url: string; lines: string[]; stop: () => Promise<void> }> {
  const lines: string[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      // a resume asks which samples of the chunks in flight arrived: none did
      if (req.url?.startsWith('/api/v1/export')) return void res.writeHead(200).end('');
      if (req.method !== 'POST') return void res.writeHead(404).end();
      if (fail()) return void res.writeHead(400).end('no thanks');
      lines.push(...Buffer.concat(parts).toString().split('\n').filter((l) => l !== ''));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lines, stop: () => new Promise((r) => server.close(() => r())) };
}

test('/api/import: upload, preflight, import, a refusal resumed, profiles without secrets', async () => {
  const root = mkdtempSync(join(tmpdir(), 'import-api-'));
  const dataDir = join(root, 'data');
  const imports = new ImportJobs(dataDir);
  const sessions = new ObfuscationSessions();
  const jobs = new ExportManager({ stagingDir: join(root, 'staging'), outputDir: root, openSource: async () => Promise.reject(new Error('unused')), sessions, log: silentLogger });
  await jobs.open();
  const server = await startGatherServer({ listen: '127.0.0.1:0', nextFreePort: false, outputDir: root, jobs, sessions, openSource: async () => Promise.reject(new Error('unused')), validate: async () => ({ ok: false, attempts: [] }), imports });
  let refuse = true;
  const target = await recorder(() => refuse);
  const base = server.url.replace(/\/$/, '');
  const call = async (method: string, path: string, body?: unknown, type = 'application/json'): Promise<{ status: number; json: Record<string, any> }> => {
    const r = await fetch(base + path, { method, headers: body === undefined ? {} : { 'content-type': type }, body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as Record<string, any> };
  };
  const until = async (id: string, stages: string[]): Promise<Record<string, any>> => {
    for (let i = 0; i < 400; i++) {
      const s = await call('GET', `/api/import/status?id=${id}`);
      if (stages.includes(s.json.stage)) return s.json;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`import ${id} never reached ${stages.join('/')}`);
  };
  try {
    const t = Date.now() - 3_600_000;
    const file = Buffer.from(Array.from({ length: 30 }, (_, i) => JSON.stringify({ metric: { __name__: 'api_t', i: String(i) }, values: [i, i + 1], timestamps: [t, t + 15_000] })).join('\n') + '\n');

    assert.equal((await call('POST', '/api/import/upload?name=x.jsonl', file, 'text/plain')).status, 415);
    const up = await call('POST', '/api/import/upload?name=../../evil name.jsonl', file, 'application/octet-stream');
    assert.equal(up.status, 201);
    assert.equal(up.json.bytes, file.length);
    assert.match(up.json.upload_id, /^[0-9a-f]{12}-[A-Za-z0-9._-]+$/);
    assert.deepEqual(readdirSync(join(dataDir, 'import-uploads')), [up.json.upload_id], 'stored inside the uploads folder');
    assert.ok(readFileSync(join(dataDir, 'import-uploads', up.json.upload_id)).equals(file));

    const connection = { url: `${target.url}/api/v1/import`, auth: { type: 'bearer', token: 'tok-123' } };
    const input = { upload_id: up.json.upload_id };
    const bad = await call('POST', '/api/import/analyze', { connection, input, colour: 'red' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'colour');
    assert.equal((await call('POST', '/api/import/analyze', { connection, input: { upload_id: '../../etc/passwd' } })).json.field, 'input.upload_id');
    assert.equal((await call('GET', '/api/import/status?id=nope')).status, 404);

    const pre = await call('POST', '/api/import/analyze', { connection, input, retention_seconds: 86400 * 30 });
    assert.equal(pre.status, 202);
    const analyzed = await until(pre.json.import_id, ['analyzed', 'failed']);
    assert.equal(analyzed.stage, 'analyzed', analyzed.error);
    assert.equal(analyzed.preflight.series, 30);
    assert.equal(analyzed.preflight.samples, 60);
    assert.deepEqual(analyzed.preflight.problems, []);
    assert.equal(target.lines.length, 0, 'a preflight sends nothing');

    // refused by the target: failed, with its words; then resumed under the same id once it takes them
    const started = await call('POST', '/api/import/start', { connection, input, retention_seconds: 86400 * 30, verify: false, analysis_id: pre.json.import_id });
    assert.equal(started.status, 202);
    const id = started.json.import_id;
    const failed = await until(id, ['failed', 'completed']);
    assert.equal(failed.analysis_reused, true, 'the analyze step read the file: not read again');
    assert.equal(failed.stage, 'failed');
    assert.match(failed.error, /400 no thanks/);
    assert.doesNotMatch(JSON.stringify(failed), /tok-123/);
    refuse = false;
    assert.equal((await call('POST', '/api/import/resume', { import_id: id, connection })).status, 202);
    const done = await until(id, ['completed', 'failed']);
    assert.equal(done.stage, 'completed', done.error);
    assert.equal(done.samples_imported, 60);
    assert.equal(target.lines.length, 30);
    assert.equal((await call('POST', '/api/import/cancel', { import_id: id })).status, 409);

    const profiles = await call('GET', '/api/import/profiles');
    assert.equal(profiles.json.profiles[0].url, connection.url);
    assert.equal(profiles.json.profiles[0].authType, 'bearer');
    assert.doesNotMatch(readFileSync(join(dataDir, 'import-profiles.json'), 'utf8'), /tok-123/);
  } finally {
    await server.close();
    await imports.close();
    await jobs.close();
    await target.stop();
  }
});
