/**
 * Service discovery against real files (fs.watch, atomic renames), a real node:http server on
 * port 0 and an injected DNS resolver: what each discoverer reports, how edits arrive, and
 * that failures keep the last good groups.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  consulSdConfigSchema,
  dnsSdConfigSchema,
  fileSdConfigSchema,
  httpSdConfigSchema,
  staticConfigSchema,
} from '../../src/config/discovery.js';
import {
  createDiscoverers,
  DnsDiscoverer,
  FileDiscoverer,
  HttpDiscoverer,
  StaticDiscoverer,
  type Discoverer,
  type DnsResolver,
  type TargetGroup,
} from '../../src/discovery/index.js';
import { readGroups } from '../../src/discovery/file-sd.js';
import { LogCapture } from '../helpers/log-capture.js';
import { tempDir as tempDirUnder } from '../helpers/fixtures.js';

const tempDir = (): string => tempDirUnder('tributary-sd-');

/** Replaces `path` the way config management tools do: a new file renamed over the old. */
function writeAtomically(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.hrtime.bigint()}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** Records every update of a started discoverer. */
class Updates {
  readonly all: TargetGroup[][] = [];
  constructor(readonly discoverer: Discoverer) {
    discoverer.start((g) => this.all.push(g));
  }
  get last(): TargetGroup[] | undefined {
    return this.all[this.all.length - 1];
  }
  async waitFor(pred: (g: TargetGroup[]) => boolean, timeoutMs = 3000): Promise<TargetGroup[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = this.last;
      if (last && pred(last)) return last;
      if (Date.now() > deadline) throw new Error(`no matching update; last was ${JSON.stringify(last)}`);
      await sleep(20);
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const addresses = (groups: TargetGroup[]): string[] => groups.flatMap((g) => g.targets.map((t) => t.__address__));

test('static_configs become one group per entry', async () => {
  const d = new StaticDiscoverer([
    staticConfigSchema.parse({ targets: ['a:9100', 'b:9100'], labels: { env: 'prod' } }),
    staticConfigSchema.parse({ targets: ['c:9100'] }),
  ]);
  const u = new Updates(d);
  assert.deepEqual(u.all, [
    [
      { source: 'static/0', targets: [{ __address__: 'a:9100' }, { __address__: 'b:9100' }], labels: { env: 'prod' } },
      { source: 'static/1', targets: [{ __address__: 'c:9100' }], labels: {} },
    ],
  ]);
  await d.close();
});

test('file_sd reads JSON and picks up an atomic edit', async () => {
  const dir = tempDir();
  const file = join(dir, 'targets.json');
  writeFileSync(file, JSON.stringify([{ targets: ['a:1', 'b:2'], labels: { team: 'x' } }, { targets: ['c:3'] }]));
  const d = new FileDiscoverer(fileSdConfigSchema.parse({ files: [file] }), new LogCapture().logger);
  const u = new Updates(d);
  try {
    const first = await u.waitFor(() => true);
    assert.deepEqual(first, [
      {
        source: `${file}:0`,
        targets: [{ __address__: 'a:1' }, { __address__: 'b:2' }],
        labels: { team: 'x', __meta_filepath: file },
      },
      { source: `${file}:1`, targets: [{ __address__: 'c:3' }], labels: { __meta_filepath: file } },
    ]);
    writeAtomically(file, JSON.stringify([{ targets: ['d:4'], labels: { team: 'y' } }]));
    const edited = await u.waitFor((g) => addresses(g).includes('d:4'), 2500);
    assert.deepEqual(edited, [
      { source: `${file}:0`, targets: [{ __address__: 'd:4' }], labels: { team: 'y', __meta_filepath: file } },
    ]);
  } finally {
    await d.close();
  }
});

test('file_sd reads YAML; a parse error keeps the previous groups and names line and column', async () => {
  const dir = tempDir();
  const file = join(dir, 'targets.yml');
  writeFileSync(file, '- targets: [a:1]\n  labels:\n    env: prod\n');
  const logs = new LogCapture();
  const d = new FileDiscoverer(fileSdConfigSchema.parse({ files: [file] }), logs.logger);
  const u = new Updates(d);
  try {
    await u.waitFor((g) => addresses(g).includes('a:1'));
    assert.deepEqual(u.last?.[0].labels, { env: 'prod', __meta_filepath: file });

    writeAtomically(file, '- targets: [a:1\n  labels: {env: prod\n');
    const line = await logs.waitFor('cannot read file_sd file');
    const logged = JSON.parse(line) as { file: string; err: string; level: string };
    assert.equal(logged.file, file);
    assert.equal(logged.level, 'error');
    assert.match(logged.err, /^invalid YAML at line \d+, column \d+: /);
    assert.equal(u.all.length, 1, 'no update: the previous groups stand');

    writeAtomically(file, '- targets: [b:2]\n');
    await u.waitFor((g) => addresses(g).includes('b:2'), 2500);
    assert.equal(u.all.length, 2);
  } finally {
    await d.close();
  }
});

test('file_sd reports JSON syntax errors with line and column, and rejects bad groups', async () => {
  const dir = tempDir();
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '[\n  {"targets": ["a:1",]}\n]\n');
  await assert.rejects(readGroups(bad), /^Error: invalid JSON at line 2, column 22: /);
  const wrongShape = join(dir, 'shape.yaml');
  writeFileSync(wrongShape, '- targets: a:1\n');
  await assert.rejects(readGroups(wrongShape), /target group 0: targets must be a list/);
  const unknownKey = join(dir, 'unknown.yaml');
  writeFileSync(unknownKey, '- targets: [a:1]\n  label: {a: b}\n');
  await assert.rejects(readGroups(unknownKey), /unknown key "label"/);
  const badLabel = join(dir, 'label.json');
  writeFileSync(badLabel, '[{"targets": ["a:1"], "labels": {"n": 1}}]');
  await assert.rejects(readGroups(badLabel), /label "n" must be a string/);
  const empty = join(dir, 'empty.yml');
  writeFileSync(empty, '');
  assert.deepEqual(await readGroups(empty), []);
});

test('file_sd globs match several files and follow files appearing and disappearing', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.json'), JSON.stringify([{ targets: ['a:1'] }]));
  writeFileSync(join(dir, 'b.json'), JSON.stringify([{ targets: ['b:1'] }]));
  writeFileSync(join(dir, 'c.txt'), 'not a target file');
  writeFileSync(join(dir, 'n1.yml'), '- targets: [n1:1]\n');
  writeFileSync(join(dir, 'n22.yml'), '- targets: [n22:1]\n');
  const d = new FileDiscoverer(
    fileSdConfigSchema.parse({ files: [join(dir, '*.json'), join(dir, 'n?.yml')] }),
    new LogCapture().logger,
  );
  const u = new Updates(d);
  try {
    const first = await u.waitFor(() => true);
    assert.deepEqual(addresses(first), ['a:1', 'b:1', 'n1:1']);
    assert.deepEqual(
      first.map((g) => g.labels.__meta_filepath),
      ['a.json', 'b.json', 'n1.yml'].map((f) => join(dir, f)),
    );
    writeAtomically(join(dir, 'c.json'), JSON.stringify([{ targets: ['c:1'] }]));
    await u.waitFor((g) => addresses(g).join() === 'a:1,b:1,c:1,n1:1');
    unlinkSync(join(dir, 'a.json'));
    await u.waitFor((g) => addresses(g).join() === 'b:1,c:1,n1:1');
  } finally {
    await d.close();
  }
});

test('file_sd falls back to refresh_interval when the directory cannot be watched yet', async () => {
  const dir = join(tempDir(), 'later');
  const logs = new LogCapture();
  const d = new FileDiscoverer(
    fileSdConfigSchema.parse({ files: [join(dir, '*.json')], refresh_interval: '200ms' }),
    logs.logger,
  );
  const u = new Updates(d);
  try {
    await logs.waitFor('cannot watch directory');
    assert.deepEqual(await u.waitFor(() => true), []);
    (await import('node:fs')).mkdirSync(dir);
    writeFileSync(join(dir, 'x.json'), JSON.stringify([{ targets: ['x:1'] }]));
    await u.waitFor((g) => addresses(g).includes('x:1'));
  } finally {
    await d.close();
  }
});

interface Reply {
  status: number;
  type: string;
  body: string;
}

test('http_sd fetches groups, follows changes and keeps the last on errors', async () => {
  let reply: Reply = {
    status: 200,
    type: 'application/json',
    body: JSON.stringify([{ targets: ['a:1'], labels: { env: 'prod' } }]),
  };
  const seen: IncomingMessage['headers'][] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.headers);
    res.writeHead(reply.status, { 'content-type': reply.type });
    res.end(reply.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sd`;
  const logs = new LogCapture();
  const d = new HttpDiscoverer(
    httpSdConfigSchema.parse({ url, refresh_interval: '100ms', authorization: { credentials: 'tok' } }),
    logs.logger,
  );
  const u = new Updates(d);
  try {
    assert.deepEqual(await u.waitFor(() => true), [
      { source: `${url}:0`, targets: [{ __address__: 'a:1' }], labels: { env: 'prod', __meta_url: url } },
    ]);
    assert.equal(seen[0].accept, 'application/json');
    assert.equal(seen[0].authorization, 'Bearer tok');
    assert.equal(seen[0]['x-prometheus-refresh-interval-seconds'], '0.1');

    reply = { ...reply, body: JSON.stringify([{ targets: ['b:1'] }, { targets: ['c:1'], labels: { x: 'y' } }]) };
    const changed = await u.waitFor((g) => addresses(g).join() === 'b:1,c:1');
    assert.deepEqual(changed[1], { source: `${url}:1`, targets: [{ __address__: 'c:1' }], labels: { x: 'y', __meta_url: url } });
    const updatesBefore = u.all.length;

    reply = { status: 500, type: 'text/plain', body: 'boom' };
    assert.match(await logs.waitFor('HTTP 500'), /boom/);
    reply = { status: 200, type: 'text/plain', body: '[]' };
    await logs.waitFor('unsupported Content-Type');
    reply = { status: 200, type: 'application/json', body: '[{"targets": [' };
    await logs.waitFor('invalid JSON');
    assert.equal(u.all.length, updatesBefore, 'failures keep the last groups');

    reply = { status: 200, type: 'application/json; charset=utf-8', body: '[]' };
    await u.waitFor((g) => g.length === 0);
  } finally {
    await d.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

/** A resolver whose answers tests change; every call is counted. */
function fakeResolver(answers: { srv?: () => { name: string; port: number }[]; a?: () => string[]; aaaa?: () => string[] }): DnsResolver {
  const unexpected = (): never => {
    throw new Error('unexpected lookup');
  };
  return {
    resolveSrv: async () => (answers.srv ?? unexpected)().map((r) => ({ ...r, priority: 0, weight: 0 })),
    resolve4: async () => (answers.a ?? unexpected)(),
    resolve6: async () => (answers.aaaa ?? unexpected)(),
    resolveMx: async () => unexpected(),
    resolveNs: async () => unexpected(),
  };
}

test('dns_sd SRV records give host:port with their meta labels; a failed lookup keeps the last', async () => {
  let srv: () => { name: string; port: number }[] = () => [
    { name: 'node1.example.com', port: 9100 },
    { name: 'node2.example.com.', port: 9200 },
  ];
  const logs = new LogCapture();
  const d = new DnsDiscoverer(
    dnsSdConfigSchema.parse({ names: ['_metrics._tcp.example.com'], refresh_interval: '50ms' }),
    logs.logger,
    fakeResolver({ srv: () => srv() }),
  );
  const u = new Updates(d);
  try {
    const name = '_metrics._tcp.example.com';
    assert.deepEqual(await u.waitFor(() => true), [
      {
        source: name,
        labels: {},
        targets: [
          {
            __address__: 'node1.example.com:9100',
            __meta_dns_name: name,
            __meta_dns_srv_record_target: 'node1.example.com',
            __meta_dns_srv_record_port: '9100',
          },
          {
            __address__: 'node2.example.com:9200',
            __meta_dns_name: name,
            __meta_dns_srv_record_target: 'node2.example.com.',
            __meta_dns_srv_record_port: '9200',
          },
        ],
      },
    ]);
    srv = () => {
      throw Object.assign(new Error('queryTimeout'), { code: 'ETIMEOUT' });
    };
    await logs.waitFor('DNS lookup failed');
    assert.equal(u.all.length, 1);
    srv = () => [{ name: 'node3.example.com', port: 1 }];
    await u.waitFor((g) => addresses(g).join() === 'node3.example.com:1');
  } finally {
    await d.close();
  }
});

test('dns_sd A and AAAA records take the configured port', async () => {
  const a = new DnsDiscoverer(
    dnsSdConfigSchema.parse({ names: ['one.example', 'two.example'], type: 'a', port: 9100 }),
    new LogCapture().logger,
    fakeResolver({ a: () => ['10.0.0.1', '10.0.0.2'] }),
  );
  const aaaa = new DnsDiscoverer(
    dnsSdConfigSchema.parse({ names: ['six.example'], type: 'AAAA', port: 80 }),
    new LogCapture().logger,
    fakeResolver({ aaaa: () => ['2001:db8::1'] }),
  );
  const ua = new Updates(a);
  const u6 = new Updates(aaaa);
  try {
    const groups = await ua.waitFor(() => true);
    assert.deepEqual(groups.map((g) => g.source), ['one.example', 'two.example']);
    assert.deepEqual(groups[1].targets[0], { __address__: '10.0.0.1:9100', __meta_dns_name: 'two.example' });
    assert.deepEqual(addresses(await u6.waitFor(() => true)), ['[2001:db8::1]:80']);
  } finally {
    await a.close();
    await aaaa.close();
  }
});

test('createDiscoverers builds one discoverer per config entry', async () => {
  const list = createDiscoverers(
    {
      static_configs: [staticConfigSchema.parse({ targets: ['a:1'] })],
      file_sd_configs: [fileSdConfigSchema.parse({ files: [join(tempDir(), '*.json')] })],
      http_sd_configs: [],
      dns_sd_configs: [dnsSdConfigSchema.parse({ names: ['x'] })],
      consul_sd_configs: [consulSdConfigSchema.parse({ server: '127.0.0.1:1' })],
      kubernetes_sd_configs: [],
    },
    new LogCapture().logger,
  );
  assert.deepEqual(
    list.map((d) => d.constructor.name),
    ['StaticDiscoverer', 'FileDiscoverer', 'DnsDiscoverer', 'ConsulDiscoverer'],
  );
  for (const d of list) await d.close();
});

test('a consumer that throws on an update is logged, and discovery keeps running', async () => {
  const logs = new LogCapture();
  let answer = ['10.0.0.1'];
  let calls = 0;
  const d = new DnsDiscoverer(
    dnsSdConfigSchema.parse({ names: ['db.example.com'], type: 'A', port: 5432, refresh_interval: '50ms' }),
    logs.logger,
    fakeResolver({ a: () => answer }),
  );
  try {
    d.start(() => {
      calls++;
      throw new Error('consumer bug');
    });
    await logs.waitFor('a discovery consumer failed on an update');
    answer = ['10.0.0.2'];
    const deadline = Date.now() + 3000;
    while (calls < 2 && Date.now() < deadline) await sleep(20);
    assert.equal(calls, 2, 'the next change was still delivered');
  } finally {
    await d.close();
  }
});
