import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Logger } from '../../src/log/logger.js';
import { parseFamilies } from '../../src/formats/prometheus/families.js';
import { writeProtobufFamilies } from '../../src/formats/protobuf/index.js';
import { Registry } from '../../src/selfmetrics/index.js';
import { HttpServer } from '../../src/server/index.js';
import { AppStore, registerPushgatewayRoutes, parseGroupingPath, GroupingKeyError } from '../../src/gateway/push/index.js';
import type { PushedApp } from '../../src/gateway/push/index.js';

interface Curl {
  status: number;
  body: string;
}

/** Runs curl the way Pushgateway users do: body on stdin, `--data-binary @-`. */
function curl(args: string[], stdin?: string | Buffer): Promise<Curl> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'curl',
      ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`curl failed: ${stderr || err.message}`));
        const i = stdout.lastIndexOf('\n');
        resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
      },
    );
    child.stdin!.end(stdin ?? '');
  });
}

function samples(app: PushedApp | undefined): string[] {
  assert.ok(app, 'app exists');
  return app.families.flatMap((f) => f.metrics.map((p) => `${p.labels.toString()} ${p.value}`));
}

interface Fixture {
  base: string;
  store: AppStore;
  registry: Registry;
  logs: string[];
  clock: { now: number };
  close(): Promise<void>;
}

async function start(opts: { maxBodyBytes?: number; maxApps?: number; defaultTtlMs?: number } = {}): Promise<Fixture> {
  const registry = new Registry();
  const logs: string[] = [];
  const logger = new Logger('debug', 'logfmt', { write: (l) => void logs.push(l) });
  const clock = { now: 1_000_000 };
  const store = new AppStore({ maxApps: opts.maxApps ?? 100, maxSeries: 1000 }, () => clock.now);
  const server = new HttpServer({ registry, logger });
  registerPushgatewayRoutes(server, {
    store,
    logger,
    registry,
    defaultTtlMs: opts.defaultTtlMs ?? 60_000,
    maxBodyBytes: opts.maxBodyBytes ?? 1 << 20,
  });
  const address = await server.listen('127.0.0.1:0');
  return { base: `http://${address}`, store, registry, logs, clock, close: () => server.close(100) };
}

function counter(registry: Registry, name: string, labels: Record<string, string>): number {
  const fam = registry.collect().find((f) => f.name === name);
  const p = fam?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels.get(k) === v));
  return p?.value ?? 0;
}

test('curl POST: grouping labels land on every series, grouping key wins over pushed labels', async (t) => {
  const f = await start();
  t.after(() => f.close());
  const body = '# TYPE some_metric counter\nsome_metric{label="val1",instance="fake"} 42\n# TYPE another_metric gauge\nanother_metric 2398.283\n';
  const r = await curl(['--data-binary', '@-', `${f.base}/metrics/job/some_job/instance/some_instance`], body);
  assert.equal(r.status, 200);
  const app = f.store.get('instance="some_instance",job="some_job"');
  assert.equal(app?.name, 'some_job');
  assert.equal(app?.protocol, 'pushgateway');
  assert.deepEqual(app?.groupingLabels, { job: 'some_job', instance: 'some_instance' });
  assert.deepEqual(samples(app), [
    'some_metric{instance="some_instance", job="some_job", label="val1"} 42',
    'another_metric{instance="some_instance", job="some_job"} 2398.283',
  ]);
  assert.equal(counter(f.registry, 'tributary_gateway_pushes_total', { listener: 'http', protocol: 'pushgateway' }), 1);
});

test('POST replaces only same-name families, PUT replaces the group, DELETE drops it', async (t) => {
  const f = await start();
  t.after(() => f.close());
  const url = `${f.base}/metrics/job/j`;
  assert.equal((await curl(['--data-binary', '@-', url], 'a 1\nb 1\n')).status, 200);
  assert.equal((await curl(['--data-binary', '@-', url], 'b 2\nc 2\n')).status, 200);
  assert.deepEqual(samples(f.store.get('job="j"')), ['a{job="j"} 1', 'b{job="j"} 2', 'c{job="j"} 2']);

  assert.equal((await curl(['-X', 'PUT', '--data-binary', '@-', url], 'd 3\n')).status, 200);
  assert.deepEqual(samples(f.store.get('job="j"')), ['d{job="j"} 3']);

  assert.equal((await curl(['-X', 'DELETE', url])).status, 202);
  assert.equal(f.store.get('job="j"'), undefined);
  // Like the Pushgateway: deleting a group that is not there is still accepted.
  assert.equal((await curl(['-X', 'DELETE', url])).status, 202);
});

test('base64 grouping: job and label values, optional padding, = for empty, slashes in values', async (t) => {
  const f = await start();
  t.after(() => f.close());
  const b64 = (s: string): string => Buffer.from(s).toString('base64url');
  // `/var/tmp` as the job and a value with a slash: only expressible in base64.
  let r = await curl(
    ['--data-binary', '@-', `${f.base}/metrics/job@base64/${b64('/var/tmp')}/path@base64/${b64('a/b')}=/empty@base64/=`],
    'x 1\n',
  );
  assert.equal(r.status, 200, r.body);
  const app = f.store.get('job="/var/tmp",path="a/b",empty=""'.split(',').sort().join(','));
  assert.ok(app, JSON.stringify(f.store.list().map((a) => a.key)));
  assert.equal(app.name, '/var/tmp');
  assert.deepEqual(samples(app), ['x{job="/var/tmp", path="a/b"} 1']);

  r = await curl(['--data-binary', '@-', `${f.base}/metrics/job/j/a@base64/not*base64`], 'x 1\n');
  assert.equal(r.status, 400);
  assert.match(r.body, /invalid base64/);
  r = await curl(['--data-binary', '@-', `${f.base}/metrics/job/j/odd`], 'x 1\n');
  assert.equal(r.status, 400);
  assert.match(r.body, /odd number of components/);
  r = await curl(['--data-binary', '@-', `${f.base}/metrics/job/j/__bad/v`], 'x 1\n');
  assert.equal(r.status, 400);
  assert.match(r.body, /improper label name/);
});

test('grouping path parser matches the Pushgateway', () => {
  assert.deepEqual(parseGroupingPath('job/a/instance/b').labels, { job: 'a', instance: 'b' });
  assert.throws(() => parseGroupingPath('job/a/instance/b/'), /odd number of components in label string "\/instance\/b\/"/);
  assert.equal(parseGroupingPath('job/a%20b').job, 'a b');
  assert.equal(parseGroupingPath('job@base64/Zm9vYmFy').job, 'foobar');
  assert.equal(parseGroupingPath('job@base64/Zm9vYg').job, 'foob'); // padding optional
  assert.equal(parseGroupingPath('job@base64/Zm9vYg==').job, 'foob');
  assert.equal(parseGroupingPath('job/j/x@base64/=').labels.x, '');
  assert.throws(() => parseGroupingPath('job@base64/='), GroupingKeyError); // empty job
  assert.deepEqual(parseGroupingPath('job/j/a/1/a/2').labels, { job: 'j', a: '2' }); // the last value wins
  assert.deepEqual(parseGroupingPath('job/j/job/other').labels, { job: 'j' }); // the path's job stays
  assert.throws(() => parseGroupingPath('jobs/a'), GroupingKeyError);
});

test('malformed body: 400 with line and column, previous payload kept, refusal recorded', async (t) => {
  const f = await start();
  t.after(() => f.close());
  const url = `${f.base}/metrics/job/j`;
  assert.equal((await curl(['-X', 'PUT', '--data-binary', '@-', url], 'good 1\n')).status, 200);
  const before = f.store.get('job="j"')!.snapshot.version;

  const r = await curl(['-X', 'PUT', '--data-binary', '@-', url], 'fine 1\nbroken{a="1" 2\n');
  assert.equal(r.status, 400);
  assert.match(r.body, /line 2, column \d+: /);
  const app = f.store.get('job="j"')!;
  assert.equal(app.snapshot.version, before);
  assert.deepEqual(samples(app), ['good{job="j"} 1']);
  assert.match(app.lastError ?? '', /line 2, column/);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'http', reason: 'parse' }), 1);
  assert.ok(f.logs.some((l) => l.includes('level=warn') && l.includes('line 2, column')));

  // Timestamps are refused, as by the Pushgateway.
  const ts = await curl(['--data-binary', '@-', url], 'good 2 1700000000000\n');
  assert.equal(ts.status, 400);
  assert.match(ts.body, /must not have timestamps/);
  assert.deepEqual(samples(f.store.get('job="j"')), ['good{job="j"} 1']);
});

test('OpenMetrics and delimited protobuf bodies by Content-Type; a broken protobuf body is a 400 naming the byte', async (t) => {
  const f = await start();
  t.after(() => f.close());
  const url = `${f.base}/metrics/job/om`;
  const om = '# TYPE requests counter\nrequests_total 5\nrequests_created 1.7e9\n# EOF\n';
  let r = await curl(['-H', 'Content-Type: application/openmetrics-text; version=1.0.0', '--data-binary', '@-', url], om);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(samples(f.store.get('job="om"')), ['requests_total{job="om"} 5', 'requests_created{job="om"} 1700000000']);
  // The same page read as the text format is not valid (`# EOF` aside, `_total` does not fit).
  r = await curl(['-H', 'Content-Type: application/openmetrics-text', '--data-binary', '@-', url], 'x 1\n');
  assert.equal(r.status, 400);
  assert.match(r.body, /EOF/i);
  const protobuf = 'Content-Type: application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';
  r = await curl(['-H', protobuf, '--data-binary', '@-', url], 'x');
  assert.equal(r.status, 400);
  assert.match(r.body, /protobuf body: message 1, byte \d+/);
  const body = writeProtobufFamilies(parseFamilies('# TYPE pb_total counter\npb_total{a="b"} 7\n', { format: 'prometheus' }).families);
  r = await curl(['-H', protobuf, '--data-binary', '@-', `${f.base}/metrics/job/pb`], body);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(samples(f.store.get('job="pb"')), ['pb_total{a="b", job="pb"} 7']);
});

test('body over max_body_bytes: 413, declared or chunked', async (t) => {
  const f = await start({ maxBodyBytes: 1000 });
  t.after(() => f.close());
  const url = `${f.base}/metrics/job/big`;
  const big = 'm{x="' + 'a'.repeat(5000) + '"} 1\n';
  let r = await curl(['--data-binary', '@-', url], big);
  assert.equal(r.status, 413);
  assert.match(r.body, /limit of 1000 bytes/);
  r = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', '@-', url], big);
  assert.equal(r.status, 413);
  assert.equal(f.store.get('job="big"'), undefined);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'http', reason: 'too_large' }), 2);
});

test('TTL: listener default, per-push X-Tributary-TTL, 0 = never, bad header refused', async (t) => {
  const f = await start({ defaultTtlMs: 60_000 });
  t.after(() => f.close());
  await curl(['--data-binary', '@-', `${f.base}/metrics/job/default`], 'x 1\n');
  await curl(['-H', 'X-Tributary-TTL: 30s', '--data-binary', '@-', `${f.base}/metrics/job/short`], 'x 1\n');
  await curl(['-H', 'X-Tributary-TTL: 0', '--data-binary', '@-', `${f.base}/metrics/job/forever`], 'x 1\n');
  assert.equal(f.store.get('job="short"')?.ttlMs, 30_000);
  f.clock.now += 30_000;
  assert.deepEqual(f.store.list().map((a) => a.name), ['default', 'forever']);
  f.clock.now += 30_000;
  assert.deepEqual(f.store.list().map((a) => a.name), ['forever']);
  f.clock.now += 365 * 24 * 3600_000;
  assert.deepEqual(f.store.list().map((a) => a.name), ['forever']);

  const r = await curl(['-H', 'X-Tributary-TTL: 30 seconds', '--data-binary', '@-', `${f.base}/metrics/job/bad`], 'x 1\n');
  assert.equal(r.status, 400);
  assert.match(r.body, /x-tributary-ttl: invalid duration/);
});

test('store limits answer 429 with the limit message and keep the data', async (t) => {
  const f = await start({ maxApps: 1 });
  t.after(() => f.close());
  assert.equal((await curl(['--data-binary', '@-', `${f.base}/metrics/job/one`], 'x 1\n')).status, 200);
  const r = await curl(['--data-binary', '@-', `${f.base}/metrics/job/two`], 'x 1\n');
  assert.equal(r.status, 429);
  assert.match(r.body, /too many apps: the limit is 1/);
  // The existing app can still be replaced.
  assert.equal((await curl(['--data-binary', '@-', `${f.base}/metrics/job/one`], 'x 2\n')).status, 200);
  assert.deepEqual(samples(f.store.get('job="one"')), ['x{job="one"} 2']);
});

test('other paths under /metrics are not push routes', async (t) => {
  const f = await start();
  t.after(() => f.close());
  assert.equal((await curl(['--data-binary', '@-', `${f.base}/metrics/jobs/x`], 'x 1\n')).status, 400);
  assert.equal((await curl([`${f.base}/metrics/job/x`])).status, 405);
  assert.equal((await curl(['--data-binary', '@-', `${f.base}/other`], 'x 1\n')).status, 404);
});

test('the Pushgateway README examples in a row: the conflicting push is a 400, the first push stays, the failure is on the group', async (t) => {
  const f = await start({ defaultTtlMs: 0 });
  t.after(() => f.close());
  let r = await curl(['--data-binary', '@-', `${f.base}/metrics/job/some_job`], 'some_metric 3.14\n');
  assert.equal(r.status, 200);
  f.clock.now += 1000;
  const heredoc = '# TYPE some_metric counter\nsome_metric{label="val1"} 42\n# TYPE another_metric gauge\n# HELP another_metric Just an example.\nanother_metric 2398.283\n';
  r = await curl(['--data-binary', '@-', `${f.base}/metrics/job/some_job/instance/some_instance`], heredoc);
  assert.equal(r.status, 400);
  assert.match(r.body, /^pushed metrics are invalid or inconsistent with existing metrics: family "some_metric" is counter here but untyped in group \{job="some_job"\}/);
  assert.deepEqual(samples(f.store.get('job="some_job"')), ['some_metric{job="some_job"} 3.14']);
  // As in the Pushgateway, the refused push created its group with only its failure time.
  const failed = f.store.get('instance="some_instance",job="some_job"')!;
  assert.deepEqual(failed.families, []);
  assert.equal(failed.pushTimeMs, 0);
  assert.equal(failed.failureTimeMs, f.clock.now);
  assert.equal(counter(f.registry, 'tributary_gateway_push_errors_total', { listener: 'http', reason: 'invalid' }), 1);
  // A series twice in one push, and a timestamp: 400 as well, the group's data kept.
  r = await curl(['--data-binary', '@-', `${f.base}/metrics/job/some_job`], 'a 1\na 2\n');
  assert.equal(r.status, 400);
  assert.match(r.body, /series a\{job="some_job"\} is pushed more than once/);
  r = await curl(['-X', 'PUT', '--data-binary', '@-', `${f.base}/metrics/job/some_job`], 'b{x="1",y="2"} 1\nb{y="2",x="1"} 2\n');
  assert.equal(r.status, 400);
  assert.deepEqual(samples(f.store.get('job="some_job"')), ['some_metric{job="some_job"} 3.14']);
  // POST replaces the family within its own group, so another type there is fine (as in the Pushgateway).
  r = await curl(['--data-binary', '@-', `${f.base}/metrics/job/some_job`], '# TYPE some_metric counter\nsome_metric{label="val1"} 42\n');
  assert.equal(r.status, 200, r.body);
});

test('a refused push in the same millisecond as the accepted one before it: last_push_successful false, as the Pushgateway says', async (t) => {
  const f = await start();
  t.after(() => f.close());
  assert.equal((await fetch(`${f.base}/metrics/job/same_ms`, { method: 'PUT', body: 'z 1\n' })).status, 200);
  // the clock does not move: both in one millisecond
  assert.equal((await fetch(`${f.base}/metrics/job/same_ms`, { method: 'POST', body: 'z 1 1700000000000\n' })).status, 400);
  const json = (await (await fetch(`${f.base}/api/v1/metrics`)).json()) as { data: { labels: Record<string, string>; last_push_successful: boolean }[] };
  const group = json.data.find((g) => g.labels.job === 'same_ms');
  assert.equal(group?.last_push_successful, false);
  // and an accepted push after the refusal, in the same millisecond again: successful
  assert.equal((await fetch(`${f.base}/metrics/job/same_ms`, { method: 'PUT', body: 'z 2\n' })).status, 200);
  const again = (await (await fetch(`${f.base}/api/v1/metrics`)).json()) as typeof json;
  assert.equal(again.data.find((g) => g.labels.job === 'same_ms')?.last_push_successful, true);
});
