import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Message } from 'capnp-ts';
import { Logger } from '../../src/log/logger.js';
import { Registry } from '../../src/selfmetrics/index.js';
import { AppStore, InboundMetrics, SocketListener, type PushedApp, type SocketAddress } from '../../src/gateway/push/index.js';
import { familiesOf } from '../../src/model/frame.js';
import { pushListenerSchema } from '../../src/config/gateway-push.js';
import { DEFAULT_MAX_PENDING_CONNECTIONS } from '../../src/gateway/push/socket-listener.js';
import { JsonDecoder } from '../../src/gateway/push/json-protocol.js';
import type { WireMessage } from '../../src/gateway/push/wire-decoder.js';

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
    // Keeps a's slot taken for 600 ms: a message ends and the next begins every 100 ms, so a is
    // never idle nor inside one message for read_timeout, the cases that would give the slot up.
    await sleep(100);
    a.s.write('}{"a": "a 1\\n"');
  }
  a.s.end('}');
  await a.closed;
  // b gets a's slot now, its partial message unread for twice read_timeout: it must not be cut.
  b.s.end('}');
  assert.equal((await b.closed).how, 'closed');
  assert.deepEqual(samples(f.store.get('a')), ['a{} 1']);
  assert.deepEqual(samples(f.store.get('b')), ['b{} 1']);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 0);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'make_room' }), 0);
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

// ---------------------------------------------------------------- JSON framing by message

/** Feeds `parts` to a JsonDecoder (then EOF); the apps it emits, then `ERR reason: message` if it threw. */
function decodeParts(parts: (string | Buffer)[], maxBytes = 1 << 20): string[] {
  const d = new JsonDecoder(maxBytes);
  const out: string[] = [];
  const emit = (m: WireMessage): void => void out.push(`${m.app}=${m.text}`);
  try {
    for (const p of parts) d.write(Buffer.from(p), emit);
    d.end(emit);
  } catch (err) {
    out.push(`ERR ${(err as { reason: string }).reason}: ${(err as Error).message}`);
  }
  return out;
}

test('JSON decoder: each top-level object is a message, however the bytes are split', () => {
  // Strings holding braces, brackets, escaped quotes and backslashes (one ending a string), \u
  // escapes; objects back to back, after spaces, tabs, CRLF; a list-form value; a BOM first.
  const objects = [
    { one: 'a{b="}{"} 1\n' },
    { two: ['x{l="\\"]["} 2', 'y 3'] },
    { 'th{r}ee"\\': 'ends in a backslash \\' },
    { four: '\u0041\u00e9\u2603 {[' },
    { one: 'a 2\n', empty: [] },
  ];
  const body = '\ufeff' + JSON.stringify(objects[0]) + JSON.stringify(objects[1]) + '  \t' + JSON.stringify(objects[2]) + '\r\n' + JSON.stringify(objects[3]) + '\n\n' + JSON.stringify(objects[4], null, 2) + '\n';
  const expected = objects.flatMap((o) => Object.entries(o).map(([k, v]) => `${k}=${Array.isArray(v) ? (v.length ? v.join('\n') + '\n' : '') : v}`));
  assert.deepEqual(decodeParts([body]), expected);
  const raw = Buffer.from(body);
  for (let cut = 0; cut <= raw.length; cut++) {
    assert.deepEqual(decodeParts([raw.subarray(0, cut), raw.subarray(cut)]), expected, `split at byte ${cut}`);
  }
  assert.deepEqual(decodeParts([...raw].map((b) => Buffer.from([b]))), expected, 'byte by byte');

  // Messages complete before EOF: emitted by write(), nothing held, idle.
  const d = new JsonDecoder(1000);
  const got: string[] = [];
  d.write(Buffer.from('{"a": "1"} {"b": "2'), (m) => void got.push(m.app));
  assert.deepEqual(got, ['a']);
  assert.equal(d.idle, false);
  assert.equal(d.held, 8, 'the unfinished message, from its first byte');
  d.write(Buffer.from('"}\n'), (m) => void got.push(m.app));
  assert.deepEqual(got, ['a', 'b']);
  assert.equal(d.idle, true);
  assert.equal(d.held, 0);
});

test('JSON decoder: precise errors; messages before a bad one stand; max_bytes is per message', () => {
  assert.deepEqual(decodeParts(['{"a":"1"}', '{"a": 5}', '{"late":"x"}']), ['a=1', 'ERR decode: message 2: app "a": expected a string or a list of strings']);
  assert.deepEqual(decodeParts(['{"a":"1"}{"a":"2",}']), ['a=1', 'ERR decode: message 2: invalid JSON: Expected double-quoted property name in JSON at position 9']);
  assert.deepEqual(decodeParts(['{"a":"1"} 42\n']), ['a=1', 'ERR decode: message 2: expected a JSON object of app names to exposition text']);
  assert.deepEqual(decodeParts(['[1] {"a":"1"}']), ['ERR decode: message 1: expected a JSON object of app names to exposition text']);
  assert.deepEqual(decodeParts(['{"a":"1"}}']), ['a=1', `ERR decode: message 2: invalid JSON: Unexpected token '}', "}" is not valid JSON`]);
  assert.deepEqual(decodeParts(['{"a":"1"}', '{"a": "x 1\\n"']), ['a=1', "ERR decode: message 2 cut short at EOF after 13 bytes: invalid JSON: Expected ',' or '}' after property value in JSON at position 13"]);
  assert.deepEqual(decodeParts([Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])]), ['ERR decode: message 1: JSON is not valid UTF-8']);
  // EOF with nothing pending, after whitespace or nothing at all, is a normal end.
  assert.deepEqual(decodeParts([' \n\t\r\n']), []);
  assert.deepEqual(decodeParts([]), []);
  // 60 + 60 bytes under a 100-byte limit: fine; one message over it is refused, whole or in pieces.
  const sixty = JSON.stringify({ a: 'x'.repeat(52) });
  assert.equal(sixty.length, 60);
  assert.equal(decodeParts([sixty + sixty, sixty], 100).length, 3);
  const big = JSON.stringify({ a: 'x'.repeat(200) });
  for (const parts of [[big], [big.slice(0, 90), big.slice(90)], [sixty + big]]) {
    assert.match(decodeParts(parts, 100).at(-1)!, /^ERR too_large: message \d is larger than the limit of 100 bytes$/);
  }
  // Whitespace between messages is not held, and not counted against the limit.
  assert.equal(decodeParts([sixty, ' '.repeat(1000), sixty], 100).length, 2);
});

/** Writes `data` one byte per write, with no Nagle delay, so that it arrives in many chunks. */
async function writeBytewise(s: Socket, data: string): Promise<void> {
  s.setNoDelay(true);
  for (const b of Buffer.from(data)) {
    s.write(Buffer.from([b]));
    await sleep(1);
  }
}

test('JSON: several objects on one open connection are each stored at once, in order; an invalid one cuts the connection', async (t) => {
  const f = await start(t, { readTimeoutMs: 300 });
  const c = await open(f.address);
  let closed = false;
  void c.closed.then(() => (closed = true));
  const pushes = (): number => counter(f.registry, 'tributary_gateway_pushes_total', { listener: 'test', protocol: 'json' });

  // Back to back in one write, no half-close: both stored while the connection stays open.
  c.s.write(JSON.stringify({ m1: 'a 1\n' }) + JSON.stringify({ m2: 'b 1\n' }));
  await until('m1 and m2', () => f.store.get('m2') !== undefined);
  assert.deepEqual(samples(f.store.get('m1')), ['a{} 1']);

  // Byte by byte, after whitespace, strings full of braces, quotes and backslashes.
  const weird = 'w{l="x{}\\"\\\\"} 1\n'; // label value: x{}"\
  await writeBytewise(c.s, ' \n\t' + JSON.stringify({ m1: 'a 2\n', 'we{ird}"app\\': weird }) + '\n');
  await until('weird app', () => f.store.get('we{ird}"app\\') !== undefined);
  assert.deepEqual(samples(f.store.get('m1')), ['a{} 2']);
  assert.deepEqual(samples(f.store.get('we{ird}"app\\')), ['w{l="x{}\\"\\\\"} 1']);

  // Split right after a backslash, then newline-separated: order is kept (a 4 wins).
  const two = JSON.stringify({ m1: ['# TYPE a gauge', 'a{q="\\""} 3'] }) + '\r\n' + JSON.stringify({ m1: 'a 4\n' });
  const cut = two.indexOf('\\') + 1;
  c.s.write(two.slice(0, cut));
  await sleep(50);
  c.s.write(two.slice(cut));
  await until('six pushes', () => pushes() === 6);
  assert.deepEqual(samples(f.store.get('m1')), ['a{} 4']);

  // Idle between messages for longer than read_timeout: not cut.
  await sleep(500);
  assert.equal(closed, false, 'an idle connection stays open');
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 0);

  // An object of the wrong shape: counted, logged precisely, the connection is cut; what came before stands.
  c.s.write(JSON.stringify({ m2: 'b 2\n' }) + JSON.stringify({ m1: 5 }) + JSON.stringify({ after: 'z 1\n' }));
  await c.closed;
  assert.deepEqual(samples(f.store.get('m2')), ['b{} 2']);
  assert.deepEqual(samples(f.store.get('m1')), ['a{} 4']);
  assert.equal(f.store.get('after'), undefined);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'decode' }), 1);
  assert.equal(logLines(f, 'level=warn', 'reason=decode', 'message 7: app \\"m1\\": expected a string or a list of strings').length, 1, f.logs.join(''));

  // And a half-closing client works as before, its EOF after the object.
  assert.equal(await send(f.address, JSON.stringify({ hc: 'h 1\n' })), 'closed');
  assert.deepEqual(samples(f.store.get('hc')), ['h{} 1']);
});

test('500 JSON clients that push one object each and keep the connection open: all arrive within seconds (default limits)', async (t) => {
  const defaults = pushListenerSchema.parse({ tcp: '127.0.0.1:0', format: 'json' });
  const f = await start(t, {
    maxApps: 1_000,
    maxConnections: defaults.max_connections,
    maxPendingConnections: defaults.max_pending_connections,
    readTimeoutMs: defaults.read_timeout,
    idleTimeoutMs: defaults.idle_timeout,
  });
  assert.equal(defaults.read_timeout, 10_000);
  const n = 500;
  const started = Date.now();
  const clients = Array.from({ length: n }, (_, i) => {
    const s = dial(f.address);
    let how: 'closed' | 'reset' = 'closed';
    s.on('error', () => (how = 'reset'));
    s.on('connect', () => s.write(JSON.stringify({ [`keep${i}`]: `keep_metric{app="${i}"} 1\n` })));
    s.resume();
    const closed = new Promise<'closed' | 'reset'>((r) => s.on('close', () => r(how)));
    return { s, closed };
  });
  await until('all 500 apps', () => f.store.list().length === n, 8_000);
  const took = Date.now() - started;
  assert.ok(took < 5_000, `all apps in ${took} ms`);
  for (let i = 0; i < n; i++) assert.deepEqual(samples(f.store.get(`keep${i}`)), [`keep_metric{app="${i}"} 1`]);
  // Connections that had delivered gave their slots to waiting ones (a reset, logged at info, not
  // an error); none was cut as incomplete.
  for (const reason of ['timeout', 'make_room', 'decode', 'too_many_connections']) {
    assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason }), 0, reason);
  }
  assert.equal(logLines(f, 'level=warn').length, 0, logLines(f, 'level=warn').join(''));
  for (const c of clients) c.s.end();
  const results = await Promise.all(clients.map((c) => c.closed));
  assert.ok(results.filter((r) => r === 'closed').length >= 64, 'those never asked to give way close normally');
  await until('all released', () => f.listener.connectionCounts().active === 0);
  assert.deepEqual(f.listener.connectionCounts(), { active: 0, waiting: 0 });
});

test('slow senders holding every slot: one inside a message for read_timeout gives way, oldest first; counted, logged, gauged', async (t) => {
  const f = await start(t, { maxConnections: 4, readTimeoutMs: 600 });
  const gauge = (state: string): number => counter(f.registry, 'tributary_gateway_push_connections', { listener: 'test', state });
  let trickling = true;
  const tricklers: (Awaited<ReturnType<typeof open>> & { port: number | undefined })[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await open(f.address);
    c.s.setNoDelay(true);
    c.s.write(`{"trickle${i}": "`);
    void (async () => {
      while (trickling && !c.s.destroyed) {
        await sleep(150);
        c.s.write('x'); // bytes keep coming: read_timeout never fires
      }
    })();
    tricklers.push({ ...c, port: c.s.localPort });
    await sleep(20);
  }
  t.after(() => {
    trickling = false;
    for (const c of tricklers) c.s.destroy();
  });
  await until('four active', () => f.listener.connectionCounts().active === 4);
  await sleep(100);
  // Two normal clients push and keep their connections open: the second one can be served only
  // by a second trickler giving way too (the first normal one is idle too briefly to).
  const arrived = Date.now();
  const normal = [];
  for (const i of [0, 1]) {
    const c = await open(f.address);
    c.s.write(JSON.stringify({ [`normal${i}`]: `n ${i}\n` }));
    normal.push(c);
  }
  await until('two wait', () => f.listener.connectionCounts().waiting === 2);
  assert.equal(gauge('active'), 4);
  assert.equal(gauge('waiting'), 2);

  await until('both normal apps', () => f.store.get('normal1') !== undefined && f.store.get('normal0') !== undefined);
  const took = Date.now() - arrived;
  assert.ok(took < 1_500, `served after ${took} ms`);
  assert.deepEqual(samples(f.store.get('normal0')), ['n{} 0']);
  assert.deepEqual(samples(f.store.get('normal1')), ['n{} 1']);

  // The two oldest messages gave way, reset so that their senders are told.
  const ends = await Promise.all(tricklers.slice(0, 2).map((c) => c.closed));
  assert.deepEqual(ends.map((e) => e.how), ['reset', 'reset']);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'make_room' }), 2);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'timeout' }), 0);
  for (const c of tricklers.slice(0, 2)) {
    const line = logLines(f, 'level=warn', 'reason=make_room', `peer=127.0.0.1:${c.port}`);
    assert.equal(line.length, 1, f.logs.join(''));
    assert.match(line[0], /one message unfinished for longer than read_timeout/);
    assert.match(line[0], /held_bytes=\d+/);
    const ms = Number(/message_ms=(\d+)/.exec(line[0])?.[1]);
    assert.ok(ms >= 600 && ms < 1_400, `message_ms=${ms}`);
  }
  // The younger two were not needed and keep their slots; the queue is empty again.
  assert.equal(gauge('waiting'), 0);
  assert.equal(gauge('active'), 4);
  for (const c of tricklers.slice(2)) assert.equal(c.s.destroyed, false);
  for (const c of normal) c.s.end();
  assert.deepEqual((await Promise.all(normal.map((c) => c.closed))).map((e) => e.how), ['closed', 'closed']);
  await until('normal ones released', () => f.listener.connectionCounts().active === 2);
  assert.equal(gauge('active'), 2);
});

test('saturation: connections waiting longer than read_timeout are logged at warn once per episode, and its end at info', async (t) => {
  const f = await start(t, { maxConnections: 1, readTimeoutMs: 300 });
  // A busy sender: a complete message every 100 ms, so it never has to give its slot up.
  const busy = await open(f.address);
  let i = 0;
  const pushing = setInterval(() => busy.s.write(JSON.stringify({ busy: `b ${i++}\n` })), 100);
  t.after(() => clearInterval(pushing));
  await until('busy is read', () => f.store.get('busy') !== undefined);
  const queued = [send(f.address, JSON.stringify({ q1: 'q 1\n' })), send(f.address, JSON.stringify({ q2: 'q 2\n' }))];
  await until('two wait', () => f.listener.connectionCounts().waiting === 2);
  await until('saturation logged', () => logLines(f, 'listener saturated').length > 0, 1_500);
  const warn = logLines(f, 'level=warn', 'listener saturated: connections waiting for a slot longer than read_timeout');
  assert.equal(warn.length, 1);
  assert.match(warn[0], /active=1 reading=\d waiting=2 longest_wait_ms=\d+ read_timeout_ms=300 max_connections=1/);
  await sleep(700);
  assert.equal(logLines(f, 'listener saturated').length, 1, 'once per episode');
  clearInterval(pushing);
  busy.s.end();
  assert.deepEqual(await Promise.all(queued), ['closed', 'closed']);
  assert.deepEqual(samples(f.store.get('q2')), ['q{} 2']);
  const end = logLines(f, 'level=info', 'connection slots free again');
  assert.equal(end.length, 1, f.logs.join(''));
  assert.match(end[0], /waited=2 longest_wait_ms=\d+ duration_ms=\d+/);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'test', reason: 'make_room' }), 0);
});
