/**
 * A huge page costs memory by the chunk, not by the body: a real Tributary process scrapes a
 * gzip body of 100 MB (uncompressed: 26 million lines) of one line repeated, generated while it is sent, with
 * `body_size_limit: 0` (no limit, as in Prometheus; Tributary's default of 64 MiB would refuse
 * it), and its peak resident memory (VmHWM) may grow by far less than the body.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { peakRss, startAgent } from '../helpers/cli-process.js';
import { startTarget, waitFor } from '../helpers/scrape-harness.js';
import { parseConfigText } from '../../src/config/index.js';

const LINE = 'x 1\n';
const BODY_BYTES = 100 * 1024 * 1024;
const LINES = BODY_BYTES / LINE.length;
/** What the scrape may add to the process's peak: a fraction of the body. */
const BOUND_BYTES = 150 * 1024 * 1024;

/** The job's label set on the agent's own /metrics (which adds labels of its own). */
const HUGE = '\\{[^}]*job="huge"[^}]*\\}';

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
