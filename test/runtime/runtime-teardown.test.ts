/**
 * A start that fails half-way closes what it had started: a second agent refused its listen
 * address (after its gateway socket listener, remote-write queue and scrape loops were up), a
 * third refused a remote-write queue directory the first one holds (after its gateway
 * listener was up). Each runs in a process of its own that must then exit by itself once the
 * first agent is stopped too: a timer, socket or queue left open would keep it alive.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDataDir } from '../helpers/fixtures.js';

const SRC = new URL('../../src/', import.meta.url).href;

const CONFIG = `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: nowhere
    static_configs: [{ targets: ['127.0.0.1:1'] }]
remote_write:
  - url: http://127.0.0.1:1/api/v1/write
gateway:
  push:
    persistence: false
    listeners:
      - tcp: 127.0.0.1:0
        format: json
`;

const SCRIPT = `
import { startRuntime } from '${SRC}runtime/runtime.js';
import { Logger } from '${SRC}log/logger.js';
const { configFile, dataA, dataB } = JSON.parse(process.env.TEARDOWN_TEST);
const logger = new Logger('error', 'json', { write() {} });
const first = await startRuntime({ configFile, listen: '127.0.0.1:0', dataDir: dataA, logger });
const outcome = async (what, opts) => {
  try {
    const r = await startRuntime({ configFile, logger, ...opts });
    console.log(what + ': started?!');
    await r.close(0);
  } catch (err) {
    console.log(what + ': ' + err.message);
  }
};
// everything up to the listener started, then the port is taken
await outcome('listen', { listen: first.address, dataDir: dataB });
// the gateway's listener started, then the queue directory is taken
await outcome('queue', { listen: '127.0.0.1:0', dataDir: dataA });
await first.close(0);
console.log('closed');
`;

test('a start that fails half-way closes what it started: the process exits by itself', async () => {
  const dir = tempDataDir();
  const configFile = join(dir, 'tributary.yml');
  writeFileSync(configFile, CONFIG);
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    env: { ...process.env, TEARDOWN_TEST: JSON.stringify({ configFile, dataA: tempDataDir(), dataB: tempDataDir() }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = await new Promise<number | null | 'hung'>((resolve) => {
    // the first agent's stop tries its dead receiver for remote write's 5 s, then nothing is left open
    const timer = setTimeout(() => resolve('hung'), 45_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  if (exited === 'hung') child.kill('SIGKILL');
  const lines = out.trim().split('\n');
  assert.match(lines[0] ?? '', /^listen: .*127\.0\.0\.1:\d+.*(in use|EADDRINUSE)/i, out);
  assert.match(lines[1] ?? '', /^queue: remote-write queue .* is opened twice by this process/, out);
  assert.equal(lines[2], 'closed', out);
  assert.equal(exited, 0, `the process did not exit by itself after every runtime closed:\n${out}`);
});
