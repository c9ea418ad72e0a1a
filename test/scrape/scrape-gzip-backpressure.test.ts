/**
 * A gzip body that arrives faster than it inflates is read no faster than that: its compressed
 * bytes must not queue in memory (a 1 GB gzip body was held whole). In a file of its own, so the
 * process's peak memory before the scrape is its own start-up's.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startScraping } from '../helpers/scrape-harness.js';
import { peakRss } from '../helpers/cli-process.js';

/**
 * A target in a process of its own serving a prebuilt gzip body of `mib` MiB (comment lines of
 * random hex: about half compresses away, and the parser skips them quickly), as fast as
 * loopback carries it.
 */
const FAST_GZIP_TARGET = `
const { randomBytes } = require('node:crypto');
const { gzipSync } = require('node:zlib');
const http = require('node:http');
const text = Buffer.from(randomBytes(Number(process.argv[1]) * 512 * 1024).toString('hex'), 'latin1');
for (let i = 0; i + 128 <= text.length; i += 128) { text[i] = 0x23; text[i + 1] = 0x20; text[i + 127] = 0x0a; }
text[text.length - 1] = 0x0a;
const body = gzipSync(text, { level: 1 });
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port, compressed: body.length })));
`;

test('a gzip body that arrives faster than it inflates is not queued: peak memory grows by less than half its compressed size', { timeout: 120_000 }, async (t) => {
  const child = spawn(process.execPath, ['-e', FAST_GZIP_TARGET, '160'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const { port, compressed } = await new Promise<{ port: number; compressed: number }>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(JSON.parse(String(d)) as { port: number; compressed: number }));
    child.once('exit', (code) => reject(new Error(`target exited ${code}`)));
  });
  assert.ok(compressed > 60 * 1024 * 1024, `${compressed} bytes compressed`);
  const h = await startScraping(`global: {scrape_interval: 1h, scrape_timeout: 100s}
scrape_configs:
  - job_name: fast
    body_size_limit: 0
    static_configs: [{targets: ['127.0.0.1:${port}']}]
`);
  t.after(() => h.close());
  const [loop] = await h.loops('fast');
  const baseline = peakRss(process.pid);
  await loop.scrapeOnce();
  assert.equal(loop.status().health, 'up', loop.status().lastError);
  const grown = peakRss(process.pid) - baseline;
  t.diagnostic(`peak RSS +${(grown / 1048576).toFixed(0)} MiB for a ${(compressed / 1048576).toFixed(0)} MiB gzip body`);
  assert.ok(grown < compressed / 2, `peak memory grew by ${(grown / 1048576).toFixed(0)} MiB`);
});
