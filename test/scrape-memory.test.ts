/**
 * A huge page costs memory by the chunk, not by the body: a real Tributary process scrapes a
 * gzip body of 100 MB (uncompressed: 26 million lines) of one line repeated, generated while it is sent, with
 * `body_size_limit: 0` (no limit, as in Prometheus; Tributary's default of 64 MiB would refuse
 * it), and its peak resident memory (VmHWM) may grow by far less than the body. And a gzip body
 * that arrives faster than it inflates is read no faster than that: its compressed bytes must
 * not queue in memory.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { spawn } from 'node:child_process';
import { startAgent } from './cli-process.js';
import { startScraping, startTarget, waitFor } from './scrape-harness.js';
import { parseConfigText } from '../src/config/index.js';

const LINE = 'x 1\n';
const BODY_BYTES = 100 * 1024 * 1024;
const LINES = BODY_BYTES / LINE.length;
/** What the scrape may add to the process's peak: a fraction of the body. */
const BOUND_BYTES = 150 * 1024 * 1024;

/** The job's label set on the agent's own /metrics (which adds labels of its own). */
const HUGE = '\\{[^}]*job="huge"[^}]*\\}';

function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM in /proc/<pid>/status');
  return Number(m[1]) * 1024;
}

function get(address: string, path: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    request({ host, port: Number(port), path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

test('a 100 MB gzip body of one repeated line: peak memory grows by less than 150 MB', { timeout: 180_000 }, async (t) => {
  let pid = 0;
  let baseline = 0;
  const target = await startTarget((_req, res) => {
    // the agent is up and idle: its peak so far is the baseline
    baseline = peakRss(pid);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-encoding': 'gzip' });
    const gzip = createGzip({ level: 1 });
    gzip.pipe(res);
    const block = Buffer.from(LINE.repeat(16 * 1024));
    let sent = 0;
    const more = (): void => {
      while (sent < BODY_BYTES) {
        sent += block.length;
        if (!gzip.write(block)) return void gzip.once('drain', more);
      }
      gzip.end();
    };
    more();
  });
  t.after(() => target.close());

  const dir = mkdtempSync(join(tmpdir(), 'tributary-memory-'));
  const config = join(dir, 'tributary.yml');
  writeFileSync(
    config,
    `global: {scrape_interval: 2s, scrape_timeout: 2s}
scrape_configs:
  - job_name: huge
    scrape_interval: 40s
    scrape_timeout: 40s
    body_size_limit: 0
    static_configs: [{targets: ['${target.address}']}]
`,
  );
  const agent = await startAgent(['--config', config]);
  pid = agent.child.pid!;
  t.after(() => agent.child.kill('SIGKILL'));

  const metrics = await waitFor(
    'the huge scrape to finish',
    async () => {
      const text = await get(agent.address, '/metrics');
      return new RegExp(`^tributary_scrapes_total${HUGE} [1-9]`, 'm').test(text) ? text : undefined;
    },
    // the first scrape comes at the target's phase within the interval
    120_000,
  );
  assert.match(metrics, new RegExp(`^tributary_scrapes_failed_total${HUGE} 0$`, 'm'), agent.output());
  const grown = peakRss(pid) - baseline;
  t.diagnostic(`peak RSS ${(baseline / 1048576).toFixed(0)} MiB before the scrape, +${(grown / 1048576).toFixed(0)} MiB during it`);
  assert.ok(baseline > 0);
  assert.ok(grown < BOUND_BYTES, `peak memory grew by ${(grown / 1048576).toFixed(0)} MiB while scraping a ${BODY_BYTES / 1048576} MiB body`);
  assert.match(metrics, new RegExp(`^tributary_scrape_samples_scraped_total${HUGE} ${LINES}$`, 'm'));
  assert.match(metrics, new RegExp(`^tributary_scrape_duplicate_series_total${HUGE} ${LINES - 1}$`, 'm'));
});

test('body_size_limit: unset everywhere is the 64 MiB default; written, 0 is no limit and a job inherits global as in Prometheus', () => {
  const limit = (global: string, job: string) =>
    parseConfigText(`global: {${global}}\nscrape_configs:\n  - job_name: j\n${job}    static_configs: [{targets: ['a:1']}]\n`, 't.yml').config
      .scrape_configs[0].body_size_limit;
  assert.equal(limit('', ''), undefined);
  assert.equal(limit('body_size_limit: 0', ''), 0);
  assert.equal(limit('', '    body_size_limit: 0\n'), 0);
  assert.equal(limit('body_size_limit: 10MB', '    body_size_limit: 0\n'), 10 * 1024 * 1024);
  assert.equal(limit('body_size_limit: 0', '    body_size_limit: 1MB\n'), 1024 * 1024);
});

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
