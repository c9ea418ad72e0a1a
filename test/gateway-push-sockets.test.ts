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
import { familiesOf } from '../src/model/frame.js';
import { pushListenerSchema } from '../src/config/gateway-push.js';
import { DEFAULT_MAX_PENDING_CONNECTIONS } from '../src/gateway/push/socket-listener.js';

function samples(app: PushedApp | undefined): string[] {
  assert.ok(app, 'app exists');
  return familiesOf(app.snapshot.frame).flatMap((f) => f.metrics.map((p) => `${p.labels.toString()} ${p.value}`));
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
  opts: Partial<{
    format: 'json' | 'capnp';
    address: SocketAddress;
    maxBytes: number;
    maxConnections: number;
    maxPendingConnections: number;
    readTimeoutMs: number;
    idleTimeoutMs: number;
    maxApps: number;
    ttlMs: number;
  }> = {},
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
    ...(opts.maxPendingConnections !== undefined ? { maxPendingConnections: opts.maxPendingConnections } : {}),
    ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
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

/** Connects and resolves once connected; errors (resets) are recorded, never thrown. */
async function open(address: string): Promise<{ s: Socket; closed: Promise<{ at: number; how: 'closed' | 'reset' }> }> {
  const s = dial(address);
  let reset = false;
  s.on('error', () => (reset = true));
  const closed = new Promise<{ at: number; how: 'closed' | 'reset' }>((r) => s.on('close', () => r({ at: Date.now(), how: reset ? 'reset' : 'closed' })));
  s.resume();
  await new Promise((r) => s.once('connect', r));
  return { s, closed };
}

async function until(what: string, cond: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function logLines(f: Fixture, ...parts: string[]): string[] {
  return f.logs.filter((l) => parts.every((p) => l.includes(p)));
}

test('a sender that stalls mid-message is cut read_timeout after its last byte, counted and logged; others are served', async (t) => {
  const f = await start(t, { readTimeoutMs: 300 });
  const stall = await open(f.address);
  const port = stall.s.localPort;
  // Four bytes 100 ms apart, then nothing: each byte restarts the clock.
  let lastByte = 0;
  for (const b of '{"a"') {
    stall.s.write(b);
    lastByte = Date.now();
    await sleep(100);
  }
  await send(f.address, JSON.stringify({ fast: 'f 1\n' }));
  assert.deepEqual(samples(f.store.get('fast')), ['f{} 1']);

  const { at, how } = await stall.closed;
  assert.equal(how, 'reset', 'the sender is told by a reset');
  assert.ok(at - lastByte >= 270 && at - lastByte < 1_500, `cut ${at - lastByte} ms after the last byte`);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 1);
  const line = logLines(f, 'level=warn', 'reason=timeout', `peer=127.0.0.1:${port}`);
  assert.equal(line.length, 1, f.logs.join(''));
  assert.match(line[0], /held_bytes=4/);
});

test("Cap'n Proto: a stall inside the second message is cut; the first message stands", async (t) => {
  const f = await start(t, { format: 'capnp', readTimeoutMs: 200 });
  const c = await open(f.address);
  c.s.write(Buffer.concat([capnpFrame('first', 'a 1\n'), capnpFrame('second', 'b 1\n').subarray(0, 12)]));
  const { how } = await c.closed;
  assert.equal(how, 'reset');
  assert.deepEqual(samples(f.store.get('first')), ['a{} 1']);
  assert.equal(f.store.get('second'), undefined);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 1);
});

test('read_timeout is an idle timeout: a sender trickling a byte every 150 ms for over 2 s arrives whole', async (t) => {
  const json = await start(t, { readTimeoutMs: 600 });
  const capnp = await start(t, { format: 'capnp', readTimeoutMs: 600 });
  const body = Buffer.from(JSON.stringify({ t: 't 1\n' }));
  const frame = capnpFrame('t', 't 2\n');
  const chunk = Math.ceil(frame.length / body.length); // same number of writes, so about as long
  const trickle = async (address: string, data: Buffer, size: number): Promise<number> => {
    const c = await open(address);
    const started = Date.now();
    for (let i = 0; i < data.length; i += size) {
      c.s.write(data.subarray(i, i + size));
      await sleep(150);
    }
    c.s.end();
    assert.equal((await c.closed).how, 'closed');
    return Date.now() - started;
  };
  const took = await Promise.all([trickle(json.address, body, 1), trickle(capnp.address, frame, chunk)]);
  assert.ok(took.every((ms) => ms > 1_500), `took ${took} ms, several read timeouts`);
  assert.deepEqual(samples(json.store.get('t')), ['t{} 1']);
  assert.deepEqual(samples(capnp.store.get('t')), ['t{} 2']);
  for (const f of [json, capnp]) {
    assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 0);
  }
});

test("Cap'n Proto: a persistent connection idle longer than read_timeout between messages stays open", async (t) => {
  const f = await start(t, { format: 'capnp', readTimeoutMs: 150 });
  const c = await open(f.address);
  let closedEarly = false;
  void c.closed.then(() => (closedEarly = true));
  c.s.write(capnpFrame('persistent', 'p 1\n'));
  await sleep(500);
  assert.equal(closedEarly, false, 'the idle connection is still open');
  assert.deepEqual(samples(f.store.get('persistent')), ['p{} 1']);
  c.s.write(capnpFrame('persistent', 'p 2\n'));
  await sleep(500);
  c.s.end(capnpFrame('other', 'o 1\n'));
  assert.equal((await c.closed).how, 'closed');
  assert.deepEqual(samples(f.store.get('persistent')), ['p{} 2']);
  assert.deepEqual(samples(f.store.get('other')), ['o{} 1']);
  assert.equal(counter(f.registry, 'tributary_gateway_pushes_total', { listener: 'test', protocol: 'capnp' }), 3);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 0);
  assert.deepEqual(logLines(f, 'connection closed:'), []);
});

test('idle_timeout closes a connection idle between messages, at info level', async (t) => {
  const f = await start(t, { format: 'capnp', readTimeoutMs: 100, idleTimeoutMs: 400 });
  const c = await open(f.address);
  const port = c.s.localPort;
  c.s.write(capnpFrame('a', 'a 1\n'));
  const sent = Date.now();
  const { at, how } = await c.closed;
  assert.equal(how, 'reset', 'reset, so the next push fails rather than vanishing');
  assert.ok(at - sent >= 370 && at - sent < 2_000, `closed after ${at - sent} ms`);
  assert.deepEqual(samples(f.store.get('a')), ['a{} 1']);
  assert.equal(logLines(f, 'level=info', 'connection closed: idle timeout', 'reason=idle', `peer=127.0.0.1:${port}`).length, 1);
});

test('max_connections: a connection over the limit waits, unread, and is served when a slot frees', async (t) => {
  const f = await start(t, { maxConnections: 1, readTimeoutMs: 5_000 });
  const held = await open(f.address);
  held.s.write('{"held": '); // mid-message: not idle, so never made to give way
  await until('held is read', () => f.listener.connectionCounts().active === 1);
  const extra = send(f.address, JSON.stringify({ extra: 'x 1\n' }));
  await until('extra waits', () => f.listener.connectionCounts().waiting === 1);
  await sleep(100);
  assert.equal(f.store.get('extra'), undefined, 'not read while waiting');
  held.s.end('"h 1\\n"}');
  assert.equal(await extra, 'closed');
  assert.equal((await held.closed).how, 'closed');
  assert.deepEqual(samples(f.store.get('held')), ['h{} 1']);
  assert.deepEqual(samples(f.store.get('extra')), ['x{} 1']);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'too_many_connections' }), 0);
});

test("a waiting connection's read timeout starts when it gets its slot", async (t) => {
  const f = await start(t, { maxConnections: 1, readTimeoutMs: 300 });
  const a = await open(f.address);
  a.s.write('{"a": "a 1\\n"');
  await until('a is read', () => f.listener.connectionCounts().active === 1);
  const b = await open(f.address);
  b.s.write('{"b": "b 1\\n"'); // sits in the kernel, unread, for longer than read_timeout
  await until('b waits', () => f.listener.connectionCounts().waiting === 1);
  for (let i = 0; i < 6; i++) {
    a.s.write(' '); // keeps a alive and its slot taken for 600 ms
    await sleep(100);
  }
  a.s.end('}');
  await a.closed;
  // b gets a's slot now, its partial message unread for twice read_timeout: it must not be cut.
  b.s.end('}');
  assert.equal((await b.closed).how, 'closed');
  assert.deepEqual(samples(f.store.get('a')), ['a{} 1']);
  assert.deepEqual(samples(f.store.get('b')), ['b{} 1']);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 0);
});

test('when connections wait, one idle between messages for read_timeout gives its slot up, logged at info', async (t) => {
  const f = await start(t, { format: 'capnp', maxConnections: 1, readTimeoutMs: 200 });
  const idle = await open(f.address);
  const port = idle.s.localPort;
  const pushedAt = Date.now();
  idle.s.write(capnpFrame('idle', 'i 1\n'));
  await until('idle pushed', () => f.store.get('idle') !== undefined);
  const waiting = send(f.address, capnpFrame('waiting', 'w 1\n'));
  await until('one waits', () => f.listener.connectionCounts().waiting === 1);
  const { at, how } = await idle.closed;
  assert.equal(how, 'reset');
  assert.ok(at - pushedAt >= 195, `gave way after ${at - pushedAt} ms idle`);
  assert.equal(await waiting, 'closed');
  assert.deepEqual(samples(f.store.get('waiting')), ['w{} 1']);
  const line = logLines(f, 'level=info', 'reason=make_room', `peer=127.0.0.1:${port}`);
  assert.equal(line.length, 1, f.logs.join(''));
  assert.match(line[0], /slot given to a waiting connection/);

  // Already idle for longer than read_timeout when the next one arrives: it gives way at once.
  const idle2 = await open(f.address);
  idle2.s.write(capnpFrame('idle2', 'i 2\n'));
  await sleep(300);
  const before = Date.now();
  assert.equal(await send(f.address, capnpFrame('late', 'l 1\n')), 'closed');
  assert.ok(Date.now() - before < 1_000, `served after ${Date.now() - before} ms`);
  assert.equal((await idle2.closed).how, 'reset');
  assert.deepEqual(samples(f.store.get('late')), ['l{} 1']);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 0);
});

for (const [label, format, unix] of [
  ['TCP JSON', 'json', false],
  ["TCP Cap'n Proto", 'capnp', false],
  ['Unix socket JSON', 'json', true],
] as const) {
  test(`500 clients pushing at once over ${label} with the default limits: every app arrives`, async (t) => {
    const defaults = pushListenerSchema.parse({ tcp: '127.0.0.1:0', format });
    assert.equal(defaults.max_connections, 64);
    assert.equal(defaults.max_pending_connections, DEFAULT_MAX_PENDING_CONNECTIONS);
    let address: SocketAddress = { tcp: '127.0.0.1:0' };
    if (unix) {
      const dir = await mkdtemp(join(tmpdir(), 'tributary-push-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      address = { unix: join(dir, 'push.sock') };
    }
    const f = await start(t, {
      format,
      address,
      maxApps: 1_000,
      maxConnections: defaults.max_connections,
      maxPendingConnections: defaults.max_pending_connections,
      readTimeoutMs: defaults.read_timeout,
      idleTimeoutMs: defaults.idle_timeout,
    });
    const n = 500;
    const payload = (i: number): Buffer | string => (format === 'json' ? JSON.stringify({ [`app${i}`]: `x ${i}\n` }) : capnpFrame(`app${i}`, `x ${i}\n`));
    // All connect first, then all write: the payloads land on connections the listener holds
    // unread, the case a connection limit used to lose.
    const clients = Array.from({ length: n }, () => {
      const s = dial(f.address);
      let how: 'closed' | 'reset' = 'closed';
      s.on('error', () => (how = 'reset'));
      s.resume();
      const closed = new Promise<'closed' | 'reset'>((r) => s.on('close', () => r(how)));
      return { s, closed };
    });
    await until('all accepted', () => f.listener.connectionCounts().waiting === n - 64, 10_000);
    assert.deepEqual(f.listener.connectionCounts(), { active: 64, waiting: n - 64 });
    clients.forEach((c, i) => c.s.end(payload(i)));
    const results = await Promise.all(clients.map((c) => c.closed));
    assert.deepEqual(
      results.map((r, i) => [i, r]).filter(([, r]) => r !== 'closed'),
      [],
    );
    assert.equal(f.store.list().length, n);
    for (let i = 0; i < n; i++) assert.deepEqual(samples(f.store.get(`app${i}`)), [`x{} ${i}`]);
    assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'too_many_connections' }), 0);
    assert.deepEqual(f.listener.connectionCounts(), { active: 0, waiting: 0 });
  });
}

test('past max_pending_connections a connection is reset, counted and logged once per interval; no other push is lost', async (t) => {
  const f = await start(t, { maxConnections: 1, maxPendingConnections: 2, readTimeoutMs: 5_000 });
  const held = await open(f.address);
  held.s.write('{"held": "h 1\\n"');
  await until('held is read', () => f.listener.connectionCounts().active === 1);
  const n = 7;
  const results = Array.from({ length: n }, (_, i) => send(f.address, JSON.stringify({ [`c${i}`]: `x ${i}\n` })));
  await until('five refused', () => counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'too_many_connections' }) === 5);
  assert.deepEqual(f.listener.connectionCounts(), { active: 1, waiting: 2 });
  held.s.end('}');
  const how = await Promise.all(results);
  assert.equal(how.filter((h) => h === 'reset').length, 5);
  how.forEach((h, i) => {
    if (h === 'closed') assert.deepEqual(samples(f.store.get(`c${i}`)), [`x{} ${i}`], `c${i} was not refused: it must arrive`);
    else assert.equal(f.store.get(`c${i}`), undefined);
  });
  assert.deepEqual(samples(f.store.get('held')), ['h{} 1']);
  const refusals = logLines(f, 'level=warn', 'connections refused: too many waiting for a slot');
  assert.equal(refusals.length, 1, 'one line for the burst');
  assert.match(refusals[0], /refused=1 peer=127\.0\.0\.1:\d+ max_connections=1 max_pending_connections=2/);
  // The rest of the burst is summed up, not forgotten: at the next interval or at shutdown.
  await f.listener.close();
  assert.match(logLines(f, 'connections refused: too many waiting for a slot')[1] ?? '', /refused=4/);
});

test('shutdown resets open and waiting connections and logs what was cut', async (t) => {
  const f = await start(t, { maxConnections: 1, readTimeoutMs: 5_000 });
  const partial = await open(f.address);
  const port = partial.s.localPort;
  partial.s.write('{"partial": ');
  await until('partial is read', () => f.listener.connectionCounts().active === 1);
  const queued = send(f.address, JSON.stringify({ queued: 'q 1\n' }));
  await until('one waits', () => f.listener.connectionCounts().waiting === 1);
  await f.listener.close();
  assert.equal((await partial.closed).how, 'reset');
  assert.equal(await queued, 'reset');
  assert.equal(f.store.list().length, 0);
  assert.equal(logLines(f, 'level=info', 'closing connections for shutdown', 'active=1', 'waiting=1').length, 1);
  assert.equal(logLines(f, 'level=warn', 'reason=shutdown', 'held_bytes=12', `peer=127.0.0.1:${port}`).length, 1);
  assert.equal(logLines(f, 'level=warn', 'waiting for a slot reset unread at shutdown', 'count=1').length, 1);
});

test('socket apps expire with the listener TTL', async (t) => {
  const f = await start(t, { ttlMs: 100 });
  await send(f.address, JSON.stringify({ brief: 'b 1\n' }));
  assert.equal(f.store.list().length, 1);
  await sleep(150);
  assert.equal(f.store.list().length, 0);
});

test("a payload that clashes with another app is refused whole, counted, logged and shown; the app's last payload stays", async (t) => {
  const f = await start(t, { format: 'capnp' });
  const push = (app: string, data: string) => send(f.address, capnpFrame(app, data));
  await push('cap_a', 'shared 1\n');
  await push('cap_b', 'mine 1\n');
  // cap_b now pushes `shared` as a gauge: cap_a has it untyped.
  await push('cap_b', '# TYPE shared gauge\nshared 2\nmine 2\n');
  assert.deepEqual(samples(f.store.get('cap_a')), ['shared{} 1']);
  assert.deepEqual(samples(f.store.get('cap_b')), ['mine{} 1'], 'the earlier payload of cap_b stays, whole');
  assert.match(f.store.get('cap_b')!.lastError ?? '', /inconsistent with existing metrics: family "shared" is gauge here but untyped in app "cap_a"/);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'invalid' }), 1);
  assert.ok(f.logs.some((l) => l.includes('level=warn') && l.includes('pushed payload refused') && l.includes('cap_b')));
  // A series twice in one payload, and a reserved-looking clash of a histogram with another app's name.
  await push('cap_c', 'dup{a="1"} 1\ndup{a="1"} 2\n');
  assert.equal(f.store.get('cap_c'), undefined);
  await push('cap_d', '# TYPE mine histogram\nmine_bucket{le="+Inf"} 1\nmine_sum 1\nmine_count 1\n');
  assert.equal(f.store.get('cap_d'), undefined, 'histogram "mine" refused: cap_b has an untyped "mine"');
  await push('cap_e', '# TYPE hist histogram\nhist_bucket{le="+Inf"} 1\nhist_sum 1\nhist_count 1\n');
  await push('cap_f', 'hist_count 7\n');
  assert.equal(f.store.get('cap_f'), undefined, 'hist_count collides with the histogram hist of cap_e');
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'invalid' }), 4);
});
