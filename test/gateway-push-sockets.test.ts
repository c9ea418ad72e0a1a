import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Message } from 'capnp-ts';
import { Logger } from '../src/log/logger.js';
import { Registry } from '../src/selfmetrics/index.js';
import { AppStore, InboundMetrics, SocketListener, type PushedApp, type SocketAddress } from '../src/gateway/push/index.js';

function samples(app: PushedApp | undefined): string[] {
  assert.ok(app, 'app exists');
  return app.snapshot.families.flatMap((f) => f.metrics.map((p) => `${p.labels.toString()} ${p.value}`));
}

function counter(registry: Registry, name: string, labels: Record<string, string>): number {
  const fam = registry.collect().find((f) => f.name === name);
  const p = fam?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels.get(k) === v));
  return p?.value ?? 0;
}

interface Fixture {
  listener: SocketListener;
  address: string;
  store: AppStore;
  registry: Registry;
  logs: string[];
}

async function start(
  t: { after(fn: () => unknown): void },
  opts: Partial<{ format: 'json' | 'capnp'; address: SocketAddress; maxBytes: number; maxConnections: number; readTimeoutMs: number; maxApps: number; ttlMs: number }> = {},
): Promise<Fixture> {
  const registry = new Registry();
  const logs: string[] = [];
  const logger = new Logger('debug', 'logfmt', { write: (l) => void logs.push(l) });
  const store = new AppStore({ maxApps: opts.maxApps ?? 100, maxSeries: 10_000 });
  const listener = new SocketListener({
    name: 'test',
    address: opts.address ?? { tcp: '127.0.0.1:0' },
    format: opts.format ?? 'json',
    store,
    logger,
    registry,
    ttlMs: opts.ttlMs ?? 60_000,
    maxBytes: opts.maxBytes ?? 1 << 20,
    maxConnections: opts.maxConnections ?? 10,
    readTimeoutMs: opts.readTimeoutMs ?? 2_000,
  });
  const address = await listener.listen();
  t.after(() => listener.close());
  return { listener, address, store, registry, logs };
}

function dial(address: string): Socket {
  if (address.startsWith('/')) return connect({ path: address });
  const i = address.lastIndexOf(':');
  return connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
}

/** Sends like `nc -q 0`: writes, half-closes, waits for the server to close. Resolves with how it ended. */
function send(address: string, ...parts: (string | Buffer)[]): Promise<'closed' | 'reset'> {
  return new Promise((resolve) => {
    const s = dial(address);
    let reset = false;
    s.on('error', () => (reset = true));
    s.on('close', () => resolve(reset ? 'reset' : 'closed'));
    s.on('connect', () => {
      for (const p of parts) s.write(p);
      s.end();
    });
    s.resume();
  });
}

function capnpFrame(app: string, data: string): Buffer {
  const m = new Message();
  const root = m.initRoot(InboundMetrics);
  root.setAppName(app);
  root.setData(data);
  return Buffer.from(m.toArrayBuffer());
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('JSON over TCP: half-close, several keys are several apps, list form joined with newlines', async (t) => {
  const f = await start(t);
  await send(f.address, JSON.stringify({ web: 'req_total 5\n', db: ['# TYPE q gauge', 'q{t="a"} 1', 'q{t="b"} 2'] }));
  assert.deepEqual(samples(f.store.get('web')), ['req_total{} 5']);
  assert.deepEqual(samples(f.store.get('db')), ['q{t="a"} 1', 'q{t="b"} 2']);
  assert.equal(f.store.get('db')!.protocol, 'json');
  assert.match(f.store.get('db')!.origin, /^127\.0\.0\.1:\d+ from 127\.0\.0\.1:\d+$/);
  // A new payload replaces the app whole.
  await send(f.address, JSON.stringify({ db: 'other 1\n' }));
  assert.deepEqual(samples(f.store.get('db')), ['other{} 1']);
  assert.equal(counter(f.registry, 'tributary_gateway_pushes_total', { listener: 'test', protocol: 'json' }), 3);
});

test('JSON: bad input is logged and counted, the last good payload stays', async (t) => {
  const f = await start(t);
  await send(f.address, JSON.stringify({ app: 'good 1\n' }));
  await send(f.address, '{"app": "x 1\\n"'); // truncated JSON
  await send(f.address, JSON.stringify({ app: 42 }));
  await send(f.address, JSON.stringify({ app: '{{{ not exposition\n' }));
  assert.deepEqual(samples(f.store.get('app')), ['good{} 1']);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'decode' }), 2);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'parse' }), 1);
  assert.match(f.store.get('app')!.lastError ?? '', /line 1, column/);
  assert.ok(f.logs.some((l) => l.includes('level=warn') && l.includes('invalid JSON')));
  // A page with some bad lines keeps its good ones.
  await send(f.address, JSON.stringify({ app: ['ok 1', 'bad{ 2', 'ok2 3'] }));
  assert.deepEqual(samples(f.store.get('app')), ['ok{} 1', 'ok2{} 3']);
  assert.equal(f.store.get('app')!.snapshot.droppedLines, 1);
});

test('JSON: a body over max_bytes is refused and the connection cut', async (t) => {
  const f = await start(t, { maxBytes: 100 });
  const how = await send(f.address, JSON.stringify({ app: 'x 1\n'.repeat(100) }));
  assert.ok(how === 'closed' || how === 'reset');
  assert.equal(f.store.get('app'), undefined);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'too_large' }), 1);
});

test('too many apps: the push is refused and counted, existing apps unaffected', async (t) => {
  const f = await start(t, { maxApps: 2 });
  await send(f.address, JSON.stringify({ a: 'x 1\n', b: 'x 1\n' }));
  await send(f.address, JSON.stringify({ c: 'x 1\n', a: 'x 2\n' }));
  assert.deepEqual(f.store.list().map((a) => a.key), ['a', 'b']);
  assert.deepEqual(samples(f.store.get('a')), ['x{} 2']);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'limit' }), 1);
  assert.ok(f.logs.some((l) => l.includes('too many apps')));
});

test('Unix socket: mode applied, stale file replaced, live socket and non-socket refused, file removed on close', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-push-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'push.sock');

  // A socket file left behind by a process that died (SIGKILL) without unlinking it.
  const owner = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`]);
  await new Promise((r) => owner.stdout.once('data', r));
  owner.kill('SIGKILL');
  await new Promise((r) => owner.once('exit', r));
  assert.ok((await stat(path)).isSocket(), 'stale socket file exists');

  const f = await start(t, { address: { unix: path, mode: 0o660 } });
  assert.equal(f.address, path);
  assert.equal((await stat(path)).mode & 0o777, 0o660);
  await send(path, JSON.stringify({ unixapp: 'u 1\n' }));
  assert.deepEqual(samples(f.store.get('unixapp')), ['u{} 1']);

  // Something is accepting on it now: a second listener must not steal the path.
  const second = new SocketListener({
    address: { unix: path },
    format: 'json',
    store: f.store,
    logger: new Logger('error', 'logfmt', { write() {} }),
    registry: f.registry,
    ttlMs: 0,
    maxBytes: 1000,
    maxConnections: 1,
    readTimeoutMs: 1000,
  });
  await assert.rejects(second.listen(), /another process is accepting connections/);

  const regular = join(dir, 'not-a-socket');
  await writeFile(regular, 'data');
  const third = new SocketListener({ address: { unix: regular }, format: 'json', store: f.store, logger: new Logger('error', 'logfmt', { write() {} }), registry: f.registry, ttlMs: 0, maxBytes: 1000, maxConnections: 1, readTimeoutMs: 1000 });
  await assert.rejects(third.listen(), /not a socket/);

  await f.listener.close();
  await assert.rejects(stat(path), { code: 'ENOENT' });
});

test("Cap'n Proto: several messages on one connection, in one write or byte by byte", async (t) => {
  const f = await start(t, { format: 'capnp' });
  const frames = Buffer.concat([capnpFrame('one', 'a 1\n'), capnpFrame('two', '# TYPE b gauge\nb{x="y"} 2\n'), capnpFrame('one', 'a 3\n')]);
  assert.equal(await send(f.address, frames), 'closed');
  assert.deepEqual(samples(f.store.get('one')), ['a{} 3']);
  assert.deepEqual(samples(f.store.get('two')), ['b{x="y"} 2']);
  assert.equal(f.store.get('two')!.protocol, 'capnp');

  // Split at every byte: the framing must be tracked across chunks.
  const slow = capnpFrame('three', 'c 4\n');
  await new Promise<void>((resolve) => {
    const s = dial(f.address);
    s.on('connect', async () => {
      for (const b of slow) {
        s.write(Buffer.from([b]));
        await sleep(1);
      }
      s.end();
    });
    s.on('close', () => resolve());
    s.resume();
  });
  assert.deepEqual(samples(f.store.get('three')), ['c{} 4']);
  assert.equal(counter(f.registry, 'tributary_gateway_pushes_total', { listener: 'test', protocol: 'capnp' }), 4);
});

test("Cap'n Proto: a malformed message closes only that connection and is counted", async (t) => {
  const f = await start(t, { format: 'capnp' });
  // A good client holds a connection open while the bad one arrives.
  const good = dial(f.address);
  await new Promise((r) => good.on('connect', r));
  good.write(capnpFrame('good', 'g 1\n'));

  // Valid framing, but the root pointer points far outside the segment.
  const bad = Buffer.alloc(16);
  bad.writeUInt32LE(0, 0); // one segment
  bad.writeUInt32LE(1, 4); // of one word
  bad.writeUInt32LE(0x7ffffffc, 8); // struct pointer with a huge offset
  bad.writeUInt32LE(0x00020000, 12);
  const before = capnpFrame('early', 'e 1\n');
  assert.equal(await send(f.address, before, bad, capnpFrame('late', 'l 1\n')), 'closed');
  assert.deepEqual(samples(f.store.get('early')), ['e{} 1']); // messages before the bad one stand
  assert.equal(f.store.get('late'), undefined); // the connection ended at the bad one
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'decode' }), 1);
  assert.ok(f.logs.some((l) => l.includes('level=warn') && l.includes('message 2')));

  // A message cut short by EOF is an error too.
  await send(f.address, capnpFrame('cut', 'c 1\n').subarray(0, 20));
  assert.equal(f.store.get('cut'), undefined);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'decode' }), 2);

  // The good client is unaffected and can keep sending.
  good.write(capnpFrame('good', 'g 2\n'));
  good.end();
  await new Promise((r) => good.on('close', r));
  assert.deepEqual(samples(f.store.get('good')), ['g{} 2']);
});

test("Cap'n Proto: a message over max_bytes is refused from its header", async (t) => {
  const f = await start(t, { format: 'capnp', maxBytes: 256 });
  const big = capnpFrame('big', 'x 1\n'.repeat(100));
  await send(f.address, big.subarray(0, 8)); // the header alone is enough to refuse
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'too_large' }), 1);
  assert.equal(f.store.get('big'), undefined);
});

test('a slow sender is cut after the read timeout while another client is served', async (t) => {
  const f = await start(t, { readTimeoutMs: 300 });
  const slow = dial(f.address);
  const slowClosed = new Promise<number>((r) => slow.on('close', () => r(Date.now())));
  slow.on('error', () => {});
  await new Promise((r) => slow.on('connect', r));
  const started = Date.now();
  // Trickles a byte every 50 ms: never idle, but never done.
  const trickle = setInterval(() => slow.writable && slow.write('{'), 50);
  t.after(() => clearInterval(trickle));

  await sleep(50);
  await send(f.address, JSON.stringify({ fast: 'f 1\n' }));
  assert.deepEqual(samples(f.store.get('fast')), ['f{} 1']);

  const closedAt = await slowClosed;
  clearInterval(trickle);
  assert.ok(closedAt - started >= 250 && closedAt - started < 2000, `cut after ${closedAt - started} ms`);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 1);
});

test('max_connections: extra connections are refused and counted', async (t) => {
  const f = await start(t, { maxConnections: 1 });
  const held = dial(f.address);
  await new Promise((r) => held.on('connect', r));
  await sleep(20);
  assert.notEqual(await send(f.address, JSON.stringify({ extra: 'x 1\n' })), undefined);
  assert.equal(f.store.get('extra'), undefined);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'too_many_connections' }), 1);
  held.end(JSON.stringify({ held: 'h 1\n' }));
  await new Promise((r) => held.on('close', r));
  assert.deepEqual(samples(f.store.get('held')), ['h{} 1']);
});

test('socket apps expire with the listener TTL', async (t) => {
  const f = await start(t, { ttlMs: 100 });
  await send(f.address, JSON.stringify({ brief: 'b 1\n' }));
  assert.equal(f.store.list().length, 1);
  await sleep(150);
  assert.equal(f.store.list().length, 0);
});
