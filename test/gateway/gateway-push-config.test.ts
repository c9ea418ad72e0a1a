import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { pushConfigSchema } from '../../src/config/gateway-push.js';
import { Logger } from '../../src/log/logger.js';
import { Registry } from '../../src/selfmetrics/index.js';
import { HttpServer } from '../../src/server/index.js';
import { PushIngestion } from '../../src/gateway/push/index.js';
import { DEFAULT_MAX_PENDING_CONNECTIONS } from '../../src/gateway/push/socket-listener.js';

test('push config: defaults', () => {
  const c = pushConfigSchema.parse({});
  assert.equal(c.default_ttl, 5 * 60_000);
  assert.equal(c.max_body_bytes, 16 * 1024 * 1024);
  assert.equal(c.http.enabled, true);
  assert.deepEqual(c.listeners, []);
});

test('push config: listeners as written in YAML', () => {
  const c = pushConfigSchema.parse({
    default_ttl: '0',
    max_apps: '50',
    max_body_bytes: '1MB',
    http: { enabled: 'false' },
    listeners: [
      { tcp: '127.0.0.1:6554', format: 'json', ttl: '30s' },
      { name: 'local', unix: '/run/push.sock', format: 'capnp', unix_socket_mode: '0660', unix_socket_group: 'metrics', read_timeout: '2s' },
    ],
  });
  assert.equal(c.default_ttl, 0);
  assert.equal(c.max_apps, 50);
  assert.equal(c.http.enabled, false);
  assert.equal(c.listeners[0].ttl, 30_000);
  assert.equal(c.listeners[0].max_connections, 64);
  assert.equal(c.listeners[1].unix_socket_mode, 0o660);
  assert.equal(c.listeners[1].read_timeout, 2000);
});

test('push config: listener connection limits and timeouts', () => {
  const [d] = pushConfigSchema.parse({ listeners: [{ tcp: '127.0.0.1:6554', format: 'capnp' }] }).listeners;
  assert.equal(d.max_connections, 64);
  assert.equal(d.max_pending_connections, DEFAULT_MAX_PENDING_CONNECTIONS);
  assert.equal(d.max_pending_connections, 4096);
  assert.equal(d.read_timeout, 10_000);
  assert.equal(d.idle_timeout, 0, 'idle connections between messages are kept by default');
  const [l] = pushConfigSchema.parse({
    listeners: [{ tcp: '127.0.0.1:6554', format: 'capnp', max_connections: '256', max_pending_connections: '0', read_timeout: '30s', idle_timeout: '15m' }],
  }).listeners;
  assert.deepEqual([l.max_connections, l.max_pending_connections, l.read_timeout, l.idle_timeout], [256, 0, 30_000, 900_000]);
  const issue = (extra: Record<string, string>): string => {
    const r = pushConfigSchema.safeParse({ listeners: [{ tcp: '127.0.0.1:6554', format: 'json', ...extra }] });
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };
  // No slot would ever free: every client would wait forever.
  assert.match(issue({ max_connections: '0' }), /max_connections: must be at least 1/);
  // A zero read timeout would cut every message split across two packets.
  assert.match(issue({ read_timeout: '0s' }), /read_timeout: must be positive/);
  assert.match(issue({ max_pending_connections: '-1' }), /max_pending_connections: must not be negative/);
  assert.match(issue({ idle_timeout: 'forever' }), /idle_timeout: invalid duration/);
});

test('push config: mistakes are refused', () => {
  const bad = (v: unknown): string => {
    const r = pushConfigSchema.safeParse(v);
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => i.message).join('; ');
  };
  assert.match(bad({ listeners: [{ format: 'json' }] }), /exactly one of tcp or unix/);
  assert.match(bad({ listeners: [{ tcp: 'a:1', unix: '/x', format: 'json' }] }), /exactly one of tcp or unix/);
  assert.match(bad({ listeners: [{ tcp: '127.0.0.1:1', format: 'xml' }] }), /json|capnp/);
  assert.match(bad({ listeners: [{ unix: '/x', format: 'json', unix_socket_mode: '0999' }] }), /octal file mode/);
  assert.match(bad({ listeners: [{ tcp: '127.0.0.1:1', format: 'json', unix_socket_mode: '0600' }] }), /only apply to unix/);
  assert.match(bad({ listeners: [{ tcp: '127.0.0.1:1', format: 'json' }, { tcp: '127.0.0.1:1', format: 'capnp' }] }), /defined twice/);
  assert.match(bad({ default_ttl: '5 minutes' }), /invalid duration/);
  assert.match(bad({ surprise: 1 }), /surprise/);
});

test('PushIngestion from config: HTTP routes and a TCP listener share one store', async (t) => {
  const registry = new Registry();
  const logger = new Logger('error', 'logfmt', { write() {} });
  const server = new HttpServer({ registry, logger });
  const push = new PushIngestion(
    pushConfigSchema.parse({ listeners: [{ name: 'tcp', tcp: '127.0.0.1:0', format: 'json' }] }),
    { server, logger, registry },
  );
  const http = await server.listen('127.0.0.1:0');
  const [tcp] = await push.start();
  t.after(async () => {
    await push.close();
    await server.close(100);
  });

  await promisify(execFile)('curl', ['-sSf', '--data-binary', 'h 1\n', `http://${http}/metrics/job/viahttp`]);
  await new Promise<void>((resolve) => {
    const i = tcp.lastIndexOf(':');
    const s = connect({ host: tcp.slice(0, i), port: Number(tcp.slice(i + 1)) }, () => s.end('{"viatcp": "t 1\\n"}'));
    s.on('close', () => resolve());
    s.resume();
  });
  assert.deepEqual(push.store.list().map((a) => [a.name, a.protocol, a.ttlMs]), [
    ['viahttp', 'pushgateway', 300_000],
    ['viatcp', 'json', 300_000],
  ]);
});
