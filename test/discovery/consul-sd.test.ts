/**
 * Consul discovery against a small node:http server that answers as Consul's HTTP API documents
 * it (there is no Consul in Debian to run here): /v1/agent/self, /v1/catalog/services and
 * /v1/health/service/:name, with X-Consul-Index and blocking queries held until the index moves
 * or `wait` runs out. Request URLs and expected labels come from Prometheus' consul_test.go.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { consulSdConfigSchema } from '../../src/config/discovery.js';
import { aggregatedStatus, ConsulDiscoverer, nextIndex, sanitizeLabelName, type ConsulTiming } from '../../src/discovery/consul-sd.js';
import type { TargetGroup } from '../../src/discovery/index.js';
import { LogCapture } from '../helpers/log-capture.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Prometheus' consul_test.go ServiceTestAnswer entry (one node of service "test"). */
const TEST_ENTRY = {
  Node: {
    ID: 'b78c2e48-5ef3-1814-31b8-0d880f50471e',
    Node: 'node1',
    Address: '1.1.1.1',
    Datacenter: 'test-dc',
    TaggedAddresses: { lan: '192.168.10.10', wan: '10.0.10.10' },
    Meta: { rack_name: '2304' },
    CreateIndex: 1,
    ModifyIndex: 1,
  },
  Service: {
    ID: 'test',
    Service: 'test',
    Tags: ['tag1'],
    Address: '',
    Meta: { version: '1.0.0', environment: 'staging' },
    Port: 3341,
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    CreateIndex: 1,
    ModifyIndex: 1,
  },
  Checks: [{ Node: 'node1', CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing' }],
};

/** The target Prometheus makes of TEST_ENTRY. */
const TEST_TARGET = {
  __address__: '1.1.1.1:3341',
  __meta_consul_address: '1.1.1.1',
  __meta_consul_node: 'node1',
  __meta_consul_namespace: '',
  __meta_consul_partition: '',
  __meta_consul_tags: ',tag1,',
  __meta_consul_service_address: '',
  __meta_consul_service_port: '3341',
  __meta_consul_service_id: 'test',
  __meta_consul_health: 'passing',
  __meta_consul_metadata_rack_name: '2304',
  __meta_consul_service_metadata_version: '1.0.0',
  __meta_consul_service_metadata_environment: 'staging',
  __meta_consul_tagged_address_lan: '192.168.10.10',
  __meta_consul_tagged_address_wan: '10.0.10.10',
};

const group = (name: string, targets: Record<string, string>[], dc = 'test-dc'): TargetGroup => ({
  source: name,
  targets,
  labels: { __meta_consul_service: name, __meta_consul_dc: dc },
});

/** Consul's API as far as discovery reads it; tests change the catalog and watch the requests. */
class FakeConsul {
  index = 1;
  catalog: Record<string, string[] | null> = { test: ['tag1'], other: ['tag2'] };
  health: Record<string, unknown[]> = { test: [TEST_ENTRY] };
  agent: unknown = { Config: { Datacenter: 'test-dc' } };
  /** Answers with 500 while positive, counting down. */
  failures = 0;
  readonly requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  private readonly held = new Set<() => void>();
  private server!: Server;
  host = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const wake of this.held) wake();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Applies a change and moves the index (to `index`, when given: lower to test a reset). */
  change(edit: () => void, index = this.index + 1): void {
    edit();
    this.index = index;
    for (const wake of [...this.held]) wake();
  }

  urls(prefix: string): string[] {
    return this.requests.map((r) => r.url).filter((u) => u.startsWith(prefix));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ url: req.url!, headers: req.headers });
    const url = new URL(req.url!, 'http://consul');
    if (this.failures > 0) {
      this.failures--;
      res.writeHead(500, { 'content-type': 'text/plain' }).end('rpc error: boom');
      return;
    }
    if (url.pathname === '/v1/agent/self') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.agent));
      return;
    }
    const answer = (): void => {
      const body = url.pathname === '/v1/catalog/services'
        ? this.catalog
        : (this.health[decodeURIComponent(url.pathname.replace('/v1/health/service/', ''))] ?? []);
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': String(this.index) }).end(JSON.stringify(body));
    };
    const index = Number(url.searchParams.get('index') ?? 0);
    if (index === 0 || index < this.index) return answer();
    // a blocking query: held until something changes or the wait runs out
    const wake = (): void => {
      this.held.delete(wake);
      clearTimeout(timer);
      if (!res.writableEnded && !res.destroyed) answer();
    };
    const timer = setTimeout(wake, parseInt(url.searchParams.get('wait') ?? '300000', 10));
    this.held.add(wake);
    req.on('close', () => {
      this.held.delete(wake);
      clearTimeout(timer);
    });
  }
}

/** Records a discoverer's updates. */
class Updates {
  readonly all: TargetGroup[][] = [];
  constructor(readonly discoverer: ConsulDiscoverer) {
    discoverer.start((g) => this.all.push(g));
  }
  get last(): TargetGroup[] | undefined {
    return this.all[this.all.length - 1];
  }
  async waitFor(pred: (g: TargetGroup[]) => boolean, what: string, timeoutMs = 3000): Promise<TargetGroup[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = this.last;
      if (last && pred(last)) return last;
      if (Date.now() > deadline) throw new Error(`no update with ${what}; last was ${JSON.stringify(last)}`);
      await sleep(10);
    }
  }
}

const sources = (g: TargetGroup[]): string => g.map((x) => `${x.source}:${x.targets.length}`).join(' ');
/** Blocking queries short enough for tests; the loop otherwise as Prometheus'. */
const FAST: ConsulTiming = { waitMs: 300, retryMs: 50 };

async function withConsul(
  config: Record<string, unknown>,
  timing: ConsulTiming | undefined,
  body: (consul: FakeConsul, updates: Updates, logs: LogCapture) => Promise<void>,
): Promise<void> {
  const consul = await new FakeConsul().start();
  const logs = new LogCapture();
  const d = new ConsulDiscoverer(consulSdConfigSchema.parse({ server: consul.host, ...config }), logs.logger, timing);
  try {
    await body(consul, new Updates(d), logs);
  } finally {
    await d.close();
    await consul.stop();
  }
}

test("named services without tags: one group each from the health endpoint, labelled as Prometheus' consul_test.go expects", async () => {
  await withConsul({ services: ['test'], allow_stale: false, token: 'fake-token', refresh_interval: '10ms' }, undefined, async (consul, u, logs) => {
    assert.deepEqual(await u.waitFor(() => true, 'a group'), [group('test', [TEST_TARGET])]);
    // Prometheus' vectors: the datacenter from the agent, no catalog read, a 2-minute wait
    assert.deepEqual(consul.requests.map((r) => r.url).slice(0, 2), ['/v1/agent/self', '/v1/health/service/test?wait=120000ms']);
    await sleep(50);
    assert.deepEqual(consul.urls('/v1/health/service/test?index=1'), ['/v1/health/service/test?index=1&wait=120000ms'], 'the next query blocks on the index');
    assert.deepEqual(consul.urls('/v1/catalog'), []);
    for (const r of consul.requests) assert.equal(r.headers['x-consul-token'], 'fake-token');
    assert.ok(!logs.lines.join('').includes('fake-token'), 'the token is never logged');
  });
});

test('refresh_interval spaces the queries; close() ends a blocking query at once', async () => {
  const consul = await new FakeConsul().start();
  const config = (refresh_interval: string) => consulSdConfigSchema.parse({ server: consul.host, services: ['test'], datacenter: 'dc1', refresh_interval });
  const slow = new ConsulDiscoverer(config('30s'), new LogCapture().logger);
  const fast = new ConsulDiscoverer(config('10ms'), new LogCapture().logger);
  try {
    await new Updates(slow).waitFor(() => true, 'a group');
    await new Updates(fast).waitFor(() => true, 'a group');
    await sleep(100);
    assert.equal(consul.urls('/v1/health/service/test?dc=dc1&index=1&').length, 1, 'only the fast one asks again within 30 s');
    const started = Date.now();
    await Promise.all([slow.close(), fast.close()]);
    assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`);
  } finally {
    await consul.stop();
  }
});

test("tags, node_meta, stale, filter, dc, namespace and partition go in the query as hashicorp/consul/api sends them", async () => {
  const config = {
    services: ['test'],
    tags: ['tag1'],
    node_meta: { rack_name: '2304' },
    token: 'fake-token',
  };
  await withConsul(config, undefined, async (consul, u) => {
    assert.deepEqual(await u.waitFor(() => true, 'a group'), [group('test', [TEST_TARGET])]);
    // Prometheus' TestAllOptions vectors: with tags, the catalog is watched and filtered by them
    assert.deepEqual(consul.urls('/v1/catalog/services').slice(0, 1), ['/v1/catalog/services?node-meta=rack_name%3A2304&stale=&wait=120000ms']);
    assert.deepEqual(consul.urls('/v1/health/service/').slice(0, 1), ['/v1/health/service/test?node-meta=rack_name%3A2304&stale=&tag=tag1&wait=120000ms']);
    assert.deepEqual(consul.urls('/v1/health/service/other'), [], 'other has neither the name nor the tag');
  });
  const more = { services: ['test'], datacenter: 'dc1', namespace: 'ns1', partition: 'p1', filter: 'Service.Port > 0', path_prefix: 'consul' };
  const consul = await new FakeConsul().start();
  const d = new ConsulDiscoverer(consulSdConfigSchema.parse({ server: consul.host, ...more }), new LogCapture().logger, FAST);
  d.start(() => {});
  try {
    for (let i = 0; i < 100 && consul.requests.length === 0; i++) await sleep(10);
    assert.equal(consul.requests[0].url, '/consul/v1/health/service/test?dc=dc1&filter=Service.Port+%3E+0&ns=ns1&partition=p1&stale=&wait=300ms');
    assert.equal(consul.requests[0].headers['x-consul-token'], undefined);
  } finally {
    await d.close();
    await consul.stop();
  }
});

test('the catalog: services added and removed follow, blocking queries wait for the index', async () => {
  await withConsul({ refresh_interval: '10ms', datacenter: 'dc1' }, FAST, async (consul, u) => {
    await u.waitFor((g) => sources(g) === 'other:0 test:1', 'other and test');
    assert.deepEqual(u.last, [group('other', [], 'dc1'), group('test', [TEST_TARGET], 'dc1')]);
    assert.deepEqual(consul.urls('/v1/agent'), [], 'a configured datacenter needs no agent');

    // unchanged: the queries are held, one per wait (300 ms), not one per refresh_interval
    const before = consul.requests.length;
    await sleep(600);
    assert.ok(consul.requests.length - before <= 9, `${consul.requests.length - before} requests in 600 ms`);
    assert.ok(consul.urls('/v1/catalog/services?dc=dc1&index=1&').length > 0);

    const web = { ...TEST_ENTRY, Service: { ...TEST_ENTRY.Service, ID: 'web-1', Service: 'web', Address: '10.0.0.5', Port: 80, Tags: null } };
    consul.change(() => {
      consul.catalog = { ...consul.catalog, web: [] };
      consul.health.web = [web];
    });
    const added = await u.waitFor((g) => sources(g) === 'other:0 test:1 web:1', 'web added');
    assert.equal(added[2].targets[0].__address__, '10.0.0.5:80', 'the service address wins over the node address');
    assert.equal(added[2].targets[0].__meta_consul_tags, ',,');

    consul.change(() => delete consul.catalog.other);
    await u.waitFor((g) => sources(g) === 'test:1 web:1', 'other removed');
  });
});

test('no wanted service: an empty set is reported (Prometheus: TestNoTargets)', async () => {
  await withConsul({ tags: ['missing'], datacenter: 'dc1' }, FAST, async (consul, u) => {
    assert.deepEqual(await u.waitFor(() => true, 'an update'), []);
    assert.deepEqual(consul.urls('/v1/health'), []);
  });
});

test('errors keep the known targets and are retried; an index that goes backwards starts over', async () => {
  await withConsul({ refresh_interval: '10ms', datacenter: 'dc1', services: ['test'] }, FAST, async (consul, u, logs) => {
    await u.waitFor((g) => sources(g) === 'test:1', 'test');
    const updates = u.all.length;
    consul.change(() => (consul.failures = 3), 5);
    for (let i = 0; i < 200 && consul.failures > 0; i++) await sleep(10);
    assert.equal(consul.failures, 0);
    assert.ok(logs.lines.some((l) => l.includes('cannot refresh a service') && l.includes('HTTP 500')));
    await sleep(100);
    assert.equal(u.all.length, updates, 'failures deliver nothing: the last targets stand');

    // Consul restored from a snapshot: the index drops; the watch asks again without one
    const seen = consul.requests.length;
    consul.change(() => (consul.health.test = []), 3);
    await u.waitFor((g) => sources(g) === 'test:0', 'the change after the reset');
    const after = consul.requests.slice(seen).map((r) => r.url);
    assert.ok(after.includes('/v1/health/service/test?dc=dc1&stale=&wait=300ms'), after.join('\n'));
    await sleep(50);
    assert.ok(consul.urls('/v1/health/service/test?dc=dc1&index=3&').length > 0, 'then blocks on the new index');
  });
});

test('the local datacenter is asked again until the agent answers (Prometheus: TestGetDatacenterShouldReturnError)', async () => {
  const consul = await new FakeConsul().start();
  consul.failures = 1;
  consul.agent = { Config: { 'Not-Datacenter': 'test-dc' } };
  const logs = new LogCapture();
  const d = new ConsulDiscoverer(consulSdConfigSchema.parse({ server: consul.host, services: ['test'] }), logs.logger, FAST);
  const u = new Updates(d);
  try {
    for (let i = 0; i < 100 && consul.urls('/v1/agent/self').length < 2; i++) await sleep(10);
    consul.agent = { Config: { Datacenter: 'test-dc' } };
    assert.deepEqual(await u.waitFor(() => true, 'a group'), [group('test', [TEST_TARGET])]);
    assert.ok(consul.urls('/v1/agent/self').length >= 3);
    const failures = logs.lines.filter((l) => l.includes('cannot learn the local datacenter'));
    assert.match(failures[0], /HTTP 500/);
    assert.match(failures[1], /invalid value undefined for Config.Datacenter/);
  } finally {
    await d.close();
    await consul.stop();
  }
});

test("shouldWatch as Prometheus' TestConfiguredServiceWithTags", () => {
  const cases: [string[], string[], string, string[], boolean][] = [
    [['configuredServiceName'], ['http', 'v1'], 'configuredServiceName', [''], false],
    [['configuredServiceName'], ['http', 'v1'], 'configuredServiceName', ['http', 'v1'], true],
    [['configuredServiceName'], ['http', 'v1'], 'nonConfiguredServiceName', [''], false],
    [['configuredServiceName'], ['http', 'v1'], 'nonConfiguredServiceName', ['http, v1'], false],
    [['configuredServiceName'], ['http', 'v1'], 'configuredServiceName', ['http', 'v1', 'foo'], true],
    [['configuredServiceName'], ['http', 'v1', 'foo'], 'configuredServiceName', ['http', 'v1', 'foo'], true],
    [['configuredServiceName'], ['http', 'v1'], 'configuredServiceName', ['http', 'v1', 'v1'], true],
    [[], [], 'nonConfiguredServiceName', [''], true],
  ];
  for (const [services, tags, name, has, want] of cases) {
    const d = new ConsulDiscoverer(consulSdConfigSchema.parse({ services, tags }), new LogCapture().logger);
    assert.equal(d.wanted(name, has), want, JSON.stringify({ services, tags, name, has }));
  }
});

test('health, index and label name rules of Consul and Prometheus', () => {
  assert.equal(aggregatedStatus([]), 'passing');
  assert.equal(aggregatedStatus([{ Status: 'passing' }, { Status: 'warning' }]), 'warning');
  assert.equal(aggregatedStatus([{ Status: 'warning' }, { Status: 'critical' }]), 'critical');
  assert.equal(aggregatedStatus([{ Status: 'critical' }, { CheckID: '_service_maintenance:web', Status: 'critical' }]), 'maintenance');
  assert.equal(aggregatedStatus([{ CheckID: '_node_maintenance', Status: 'passing' }]), 'maintenance');
  assert.equal(aggregatedStatus([{ Status: 'passing' }, { Status: 'unknown' }]), '');

  assert.equal(nextIndex(0, 7), 7, 'the first answer always counts');
  assert.equal(nextIndex(7, 7), undefined, 'the wait ran out: nothing changed');
  assert.equal(nextIndex(7, 9), 9);
  assert.equal(nextIndex(7, 3), 0, 'backwards: start over');
  assert.equal(nextIndex(0, 0), 1, 'below 1 would never block');

  assert.equal(sanitizeLabelName('rack-name.v2'), 'rack_name_v2');
  assert.equal(sanitizeLabelName('zone/é😀'), 'zone___');
});
