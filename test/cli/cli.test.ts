/**
 * The `tributary` command as a user runs it: a real child process, real sockets, real signals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startAgent } from '../helpers/cli-process.js';

function get(address: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('--help lists subcommands and every long flag; --version prints the version', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const word of ['run', 'check-config', '--config', '--listen', '--data-dir', '--remote-write-url', '--log-level', '--log-format', '--version']) {
    assert.match(help.stdout, new RegExp(word.replace(/-/g, '\\-')), word);
  }
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^tributary \d+\.\d+\.\d+\n$/);
});

test('an unknown flag or subcommand is a usage error (exit 2) with a one-line reason', async () => {
  const bad = await runCli(['--no-such-flag']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown option '--no-such-flag'/);
  const sub = await runCli(['frobnicate']);
  assert.equal(sub.code, 2);
  assert.match(sub.stderr, /unknown subcommand "frobnicate"/);
  const level = await runCli(['--log-level', 'loud']);
  assert.equal(level.code, 2);
  assert.match(level.stderr, /--log-level "loud": expected one of debug, info, warn, error/);
});

test('check-config exits 0 for a valid file and 1 naming file, line and key for a bad one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cli-'));
  const good = join(dir, 'good.yml');
  writeFileSync(good, 'global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [localhost:9100]\n');
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    scrape_intervall: 5s\n');
  const ok = await runCli(['check-config', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /good\.yml: OK/);
  const failed = await runCli(['check-config', bad]);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, new RegExp(`bad\\.yml:5:5: scrape_configs\\[0\\]\\.scrape_intervall`));
  assert.match(failed.stderr, /FAILED/);
});

test('starts on embedded defaults and serves /metrics, /health, /ready and /', async () => {
  const agent = await startAgent();
  try {
    const metrics = await get(agent.address, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'process_start_time_seconds', 'tributary_event_loop_lag_seconds', 'tributary_build_info']) {
      assert.match(metrics.body, new RegExp(`^${name}[{ ]`, 'm'), name);
    }
    assert.equal((await get(agent.address, '/health')).status, 200);
    assert.equal((await get(agent.address, '/ready')).status, 200);
    const index = await get(agent.address, '/');
    assert.match(index.body, /embedded defaults/);
    assert.match(index.body, /href="\/metrics"/);
    // request counting sees the requests above
    const again = await get(agent.address, '/metrics');
    assert.match(again.body, /tributary_http_requests_total\{code="200",exporter_name="tributary",path="\/health"\} 1/);
  } finally {
    agent.child.kill('SIGKILL');
  }
});

test('the embedded defaults scrape Tributary itself at the address it listens on (IPv4 and IPv6), and the index page says how to add more', async () => {
  for (const listen of ['127.0.0.1:0', '[::1]:0']) {
    const agent = await startAgent(['--listen', listen]);
    try {
      const text = async (path: string) => (await fetch(`http://${agent.address}${path}`)).text();
      let active: { labels: Record<string, string>; health: string; scrapeUrl: string }[] = [];
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        active = (JSON.parse(await text('/api/v1/targets')) as { data: { activeTargets: typeof active } }).data.activeTargets;
        if (active.some((a) => a.health === 'up')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(active.length, 1, JSON.stringify(active));
      assert.equal(active[0].labels.job, 'tributary');
      assert.equal(active[0].labels.instance, agent.address, 'the target follows --listen');
      assert.equal(active[0].health, 'up', JSON.stringify(active[0]));
      const index = { body: await text('/') };
      assert.match(index.body, /Add a scrape target/);
      assert.match(index.body, /scrape_configs:\n  - job_name: node\n    static_configs:/);
      assert.match(index.body, /--remote-write-url http:\/\/localhost:8428\/api\/v1\/write/);
      assert.match(index.body, /remote_write:\n  - url: /);
      assert.match(index.body, /gateway:\n  sources:\n    - name: node\n      http:/);
    } finally {
      agent.child.kill('SIGKILL');
    }
  }
});

test('a taken port is a one-line error and exit 1', async () => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const port = (blocker.address() as { port: number }).port;
  try {
    const res = await runCli(['--listen', `127.0.0.1:${port}`]);
    assert.equal(res.code, 1);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0], new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
  } finally {
    blocker.close();
  }
});

test('SIGTERM with a response in flight: it completes, then the process exits 0', async () => {
  // The deterministic slow-handler case is in server.test.ts (same HttpServer.close); here the
  // real signal path: a response whose headers arrived before the signal must still arrive whole.
  const agent = await startAgent();
  const [host, port] = agent.address.split(':');
  const body = new Promise<string>((resolve, reject) => {
    const req = request({ host, port: Number(port), path: '/metrics' }, (res) => {
      res.pause();
      agent.child.kill('SIGTERM');
      let text = '';
      setTimeout(() => {
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
        res.resume();
      }, 200);
    });
    req.on('error', reject);
    req.end();
  });
  const exited = once(agent.child, 'exit') as Promise<[number | null]>;
  assert.match(await body, /process_start_time_seconds/);
  const [code] = await exited;
  assert.equal(code, 0, agent.output());
  assert.match(agent.output(), /"msg":"shutting down"/);
  assert.match(agent.output(), /"msg":"stopped"/);
  await assert.rejects(get(agent.address, '/health'), /ECONNREFUSED/);
});

test('the configuration file is used, and --listen overrides server.listen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cli-'));
  const file = join(dir, 'tributary.yml');
  writeFileSync(file, 'server:\n  listen: 127.0.0.1:1\nlog:\n  format: json\n');
  const agent = await startAgent(['--config', file]);
  try {
    assert.notEqual(agent.address, '127.0.0.1:1');
    const index = await get(agent.address, '/');
    assert.ok(index.body.includes(file), 'the index page names the configuration file');
  } finally {
    agent.child.kill('SIGKILL');
  }
});
