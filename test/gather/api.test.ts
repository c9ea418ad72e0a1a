/**
 * The gather wizard's REST API over a real socket: every endpoint, the field named in each
 * refusal, previews obfuscated with the session the export continues, downloads confined to
 * the output folder (`..`, encoded `..`, absolute paths, symlinks out refused), the file system
 * endpoints refused to a caller that is not on loopback, and no secret in the log. The export
 * jobs are the real ones (jobs.ts) writing real bundles; the source is a fake in most tests, and
 * the real one (source.ts) against a real VictoriaMetrics — behind the cluster-path stand-in with
 * vmauth's basic auth, and behind a TLS proxy with its own CA — in the last.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLoopbackAddress, quoteLabelValue, resolveDownload } from '../../src/gather/api.js';
import { startGatherServer } from '../../src/gather/server.js';
import { SourceError } from '../../src/gather/types.js';
import { VERSION } from '../../src/common/version.js';
import { openSource, validateSource } from '../../src/gather/source.js';
import {
  datasetSlice,
  gatherPeersMissing,
  makeDataset,
  parseExportLines,
  startClusterStandIn,
  startPrometheusWith,
  startTlsProxy,
  startVictoriaMetrics,
} from '../helpers/gather-peers.js';
import { ApiFakeSource, BASE_MS, HOSTS, startTestServer, waitForExport, type TestServer } from './api-fakes.js';
import { unzipBundle } from './unzip.js';

const CONN = { url: 'http://vm.example:8428' };
const RANGE = { start: new Date(BASE_MS).toISOString(), end: new Date(BASE_MS + 10 * 60_000).toISOString() };
const OBF = { enabled: true, obfuscate_instance: true, obfuscate_job: true, custom_labels: ['pod'], drop_labels: [] };

async function withServer(fn: (s: TestServer) => Promise<void>, opts: Parameters<typeof startTestServer>[0] = {}): Promise<void> {
  const s = await startTestServer(opts);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

test('health and config say what runs and where bundles go', async () => {
  await withServer(async (s) => {
    const h = await s.get('/api/health');
    assert.deepEqual([h.status, h.json], [200, { status: 'ok', version: VERSION }]);
    const c = await s.get('/api/config');
    assert.equal(c.status, 200);
    assert.equal(c.json.version, VERSION);
    assert.equal(c.json.output_dir, s.outputDir);
    assert.equal(c.json.os, process.platform);
    assert.equal(c.json.limits.batch_window_seconds.min, 30);
  });
});

test('validate: the connection is read field by field and what validation found is answered whole', async () => {
  const seen: unknown[] = [];
  await withServer(
    async (s) => {
      const r = await s.post('/api/validate', {
        connection: {
          url: 'https://vmselect.example:8481',
          tenant_id: '12:3',
          auth: { type: 'basic', username: 'ops', password: 'hunter2-secret' },
          skip_tls_verify: true,
          timeout_seconds: 5,
        },
      });
      assert.equal(r.status, 200);
      assert.deepEqual(seen[0], {
        url: 'https://vmselect.example:8481',
        tenant: '12:3',
        auth: { type: 'basic', username: 'ops', password: 'hunter2-secret' },
        tls: { insecureSkipVerify: true },
        timeoutMs: 5000,
      });
      assert.equal(r.json.valid, false);
      assert.equal(r.json.hint, 'vmselect requires /select/<tenant>/prometheus');
      assert.equal(r.json.attempts.length, 2);
      assert.deepEqual(r.json.attempts[1], { url: 'https://vmselect.example:8481/select/12:3/prometheus/api/v1/query', ok: false, status: 401, error: 'unauthorized for <secret>' });
      assert.ok(!JSON.stringify(r.json).includes('hunter2-secret'), 'a secret quoted by an attempt is replaced');

      const header = await s.post('/api/validate', { connection: { url: 'http://vm:8428', api_base_path: '/select/0/prometheus', auth: { type: 'header', header_name: 'X-Key', header_value: 'v' } } });
      assert.equal(header.status, 200);
      assert.deepEqual(seen[1], { url: 'http://vm:8428/select/0/prometheus', auth: { type: 'header', name: 'X-Key', value: 'v' } });
    },
    {
      validate: async (c) => {
        seen.push(c);
        if (seen.length === 1) {
          return {
            ok: false,
            attempts: [
              { url: `${c.url}/api/v1/query`, ok: false, status: 400, error: 'unsupported path' },
              { url: `${c.url}/select/12:3/prometheus/api/v1/query`, ok: false, status: 401, error: 'unauthorized for hunter2-secret' },
            ],
            hint: 'vmselect requires /select/<tenant>/prometheus',
            error: 'no URL answered',
          };
        }
        return { ok: true, source: { flavour: 'victoriametrics-cluster', version: 'v1.93.4', apiBase: c.url, exportApi: true }, attempts: [{ url: c.url, ok: true, status: 200 }] };
      },
    },
  );
});

test('bad requests are refused with the field at fault and why', async () => {
  await withServer(async (s) => {
    const cases: [string, unknown, number, string | undefined, RegExp][] = [
      ['/api/validate', {}, 400, 'connection', /must be an object/],
      ['/api/validate', { connection: { url: 'ftp://x' } }, 400, 'connection.url', /scheme ftp is not supported/],
      ['/api/validate', { connection: { url: 'not a url' } }, 400, 'connection.url', /is not a URL/],
      ['/api/validate', { connection: { url: 'http://x', tenant_id: 'abc' } }, 400, 'connection.tenant_id', /not a tenant/],
      ['/api/validate', { connection: { url: 'http://x', auth: { type: 'kerberos' } } }, 400, 'connection.auth.type', /want none, basic, bearer or header/],
      ['/api/validate', { connection: { url: 'http://x', auth: { type: 'basic', password: 'p' } } }, 400, 'connection.auth.username', /must be a string/],
      ['/api/validate', { connection: { url: 'http://x', auth: { type: 'header', header_name: 'Bad Header', header_value: 'v' } } }, 400, 'connection.auth.header_name', /not an HTTP header name/],
      ['/api/validate', { connection: { url: 'http://x', ca_pem: 'hello' } }, 400, 'connection.ca_pem', /not a PEM certificate/],
      ['/api/validate', { connection: { url: 'http://x', usrname: 'a' } }, 400, 'connection.usrname', /unknown field/],
      ['/api/validate', { connection: { url: 'http://x', timeout_seconds: 0 } }, 400, 'connection.timeout_seconds', /between 1 and 3600/],
      ['/api/discover', { connection: CONN, time_range: { start: RANGE.end, end: RANGE.start } }, 400, 'time_range.end', /must be after start/],
      ['/api/discover', { connection: CONN, time_range: { start: 'yesterday', end: RANGE.end } }, 400, 'time_range.start', /not a time/],
      ['/api/validate-query', { connection: CONN }, 400, 'selector', /give a series selector/],
      ['/api/validate-query', { connection: CONN, selector: 'up', query: 'up' }, 400, 'selector', /either query or selector/],
      ['/api/sample', { connection: CONN, time_range: RANGE }, 400, 'jobs', /nothing selected/],
      ['/api/sample', { connection: CONN, time_range: RANGE, jobs: ['node'], limit: 1000 }, 400, 'limit', /between 1 and 200/],
      ['/api/sample', { connection: CONN, time_range: RANGE, jobs: ['node'], obfuscation: { enabled: true, custom_labels: ['bad-label'] } }, 400, 'obfuscation.custom_labels[0]', /not a label name/],
      ['/api/sample', { connection: CONN, time_range: RANGE, jobs: ['node'], obfuscation: { enabled: true, drop_labels: ['__name__'] } }, 400, 'obfuscation.drop_labels[0]', /metric name/],
      ['/api/export/start', { connection: CONN, time_range: RANGE, jobs: ['node'], batch_window_seconds: 10 }, 400, 'batch_window_seconds', /between 30 and 86400/],
      ['/api/export/start', { connection: CONN, jobs: ['node'] }, 400, 'time_range', /must be an object/],
      ['/api/export/start', { connection: CONN, time_range: RANGE, jobs: ['node'], obfuscation: OBF, obfuscation_session: 'nope' }, 400, 'obfuscation_session', /no session/],
      ['/api/export/cancel', { job_id: 'ffff' }, 404, 'job_id', /no export job/],
      ['/api/export/resume', {}, 400, 'job_id', /must be a string/],
      ['/api/fs/check', { path: 7 }, 400, 'path', /must be a string/],
    ];
    for (const [path, body, status, field, message] of cases) {
      const r = await s.post(path, body);
      const what = `${path} ${JSON.stringify(body)}`;
      assert.equal(r.status, status, what);
      assert.equal(r.json.field, field, what);
      assert.match(r.json.error, message, what);
      if (field !== undefined) assert.ok(r.json.error.startsWith(field + ': '), `${what}: the message names the field`);
    }
    // nothing refused above reached the source
    assert.equal(s.connections.length, 0);

    const notJson = await s.post('/api/validate', '{"connection": ');
    assert.equal(notJson.status, 400);
    assert.match(notJson.json.error, /the body is not JSON/);
    const array = await s.post('/api/validate', '[]');
    assert.match(array.json.error, /must be a JSON object, got an array/);
    const form = await fetch(`${s.url}/api/validate`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    assert.equal(form.status, 415, 'a body that is not application/json is refused (a cross-site form cannot post here)');
    const big = await s.post('/api/validate', { connection: { url: 'http://x', ca_pem: 'x'.repeat(2 << 20) } });
    assert.equal(big.status, 413);
    assert.match(big.json.error, /larger than the limit of 1048576 bytes/);
    const missing = await s.get('/api/export/status');
    assert.deepEqual([missing.status, missing.json.field], [400, 'id']);
    const unknown = await s.get('/api/export/status?id=0123456789abcdef');
    assert.deepEqual([unknown.status, unknown.json.field], [404, 'id']);
  });
});

test('requests from another site are refused: a foreign Origin, a Host that is not this loopback server', async () => {
  await withServer(async (s) => {
    const foreign = await s.post('/api/validate', { connection: CONN }, { origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.match(foreign.json.error, /cross-origin request from http:\/\/evil\.example refused/);
    const same = await s.post('/api/validate', { connection: CONN }, { origin: s.url });
    assert.equal(same.status, 200);
    // DNS rebinding: a name that resolves to 127.0.0.1 but is not a loopback name
    const port = new URL(s.url).port;
    const rebound = await rawGet('127.0.0.1', Number(port), '/api/health', { host: `attacker.example:${port}` });
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /is not this loopback server/);
    const localhost = await rawGet('127.0.0.1', Number(port), '/api/health', { host: `localhost:${port}` });
    assert.equal(localhost.status, 200);
  });
});

test('discover, validate-query: the source is asked, its answer reshaped, and it is closed after', async () => {
  const sources: ApiFakeSource[] = [];
  await withServer(
    async (s) => {
      const d = await s.post('/api/discover', { connection: CONN, time_range: RANGE });
      assert.equal(d.status, 200);
      assert.deepEqual(d.json.components[0], { component: 'vmstorage', jobs: ['vmstorage-prod'], job_count: 1, instance_count: 3, metrics_count_estimate: 6 });
      assert.deepEqual(d.json.jobs[1], { job: 'node', component: 'unknown', instance_count: 1, metrics_count_estimate: 1 });
      assert.equal(d.json.total_series, 7);
      assert.equal(d.json.flavour, 'victoriametrics-single');
      const q = await s.post('/api/validate-query', { connection: CONN, time_range: RANGE, selector: '{job="node"}' });
      assert.deepEqual(q.json, { valid: true, error: null, series: 1 });
      const badq = await s.post('/api/validate-query', { connection: CONN, query: 'sum(((', step_seconds: 30 });
      assert.deepEqual(badq.json, { valid: false, error: 'cannot parse "(((": unexpected end', series: null });
      assert.deepEqual(
        sources.map((x) => x.closed),
        [1, 1, 1],
        'every source opened was closed',
      );
    },
    {
      source: () => {
        const x = new ApiFakeSource();
        sources.push(x);
        return x;
      },
    },
  );
});

test('source failures answer 502/504 with the kind, the secret replaced, and the log holds no secret', async () => {
  const secret = 'tok-very-secret-123';
  await withServer(
    async (s) => {
      const conn = { url: 'http://vm:8428', auth: { type: 'bearer', token: secret } };
      const r = await s.post('/api/discover', { connection: conn, time_range: RANGE });
      assert.equal(r.status, 502);
      assert.equal(r.json.kind, 'auth');
      assert.equal(r.json.error, 'source: 401 for token <secret>');
      const t = await s.post('/api/sample', { connection: conn, time_range: RANGE, jobs: ['node'] });
      assert.equal(t.status, 502);
      const logs = s.logs.join('');
      assert.match(logs, /gather API request failed/, 'the failure is logged');
      assert.ok(!logs.includes(secret), 'the token is not in the log');
      // an export whose source quotes the token: the API's answers (and the job's status) do not
      const sync = await s.post('/api/export', { connection: conn, time_range: RANGE, jobs: ['node'] });
      assert.equal(sync.status, 502);
      assert.equal(sync.json.state, 'failed');
      assert.match(sync.json.error, /^export failed: .*<secret>/);
      assert.ok(!sync.json.error.includes(secret));
      const status = await s.get(`/api/export/status?id=${sync.json.job_id}`);
      assert.ok(status.json.error.includes('<secret>') && !status.json.error.includes(secret));
    },
    { source: () => new ApiFakeSource({ fail: new SourceError('auth', `401 for token ${secret}`, 401) }) },
  );
  await withServer(
    async (s) => {
      const r = await s.post('/api/discover', { connection: CONN, time_range: RANGE });
      assert.deepEqual([r.status, r.json.kind], [504, 'timeout']);
    },
    { source: () => new ApiFakeSource({ fail: new SourceError('timeout', 'no answer in 60 s') }) },
  );
});

test('the preview is obfuscated, keeps its session while the settings stay, and the export continues its map', async () => {
  await withServer(async (s) => {
    const ask = { connection: CONN, time_range: RANGE, jobs: ['vmstorage-prod', 'node'], job_components: { 'vmstorage-prod': 'vmstorage', node: 'unknown' } };
    const p1 = await s.post('/api/sample', { ...ask, obfuscation: OBF });
    assert.equal(p1.status, 200);
    assert.equal(p1.json.obfuscated, true);
    assert.equal(p1.json.count, 7);
    const text = JSON.stringify(p1.json.samples);
    for (const h of HOSTS) assert.ok(!text.includes(h), `host ${h} not shown`);
    for (const v of ['vmstorage-prod', 'vmstorage-0', 'db-1.corp.example']) assert.ok(!text.includes(v), `${v} not shown`);
    assert.match(p1.json.samples[0].labels.instance, /^777\.777\.1\.\d+:8482$/);
    assert.equal(p1.json.samples[0].labels.job, 'vmstorage-job-1');
    assert.match(p1.json.samples[0].labels.pod, /^pod-\d+$/);
    assert.equal(p1.json.samples.at(-1).labels.job, 'unknown-job-1');
    assert.deepEqual(p1.json.label_names, ['datacenter', 'instance', 'job', 'pod'], 'label names (not values) of the raw series, for choosing');
    assert.equal(p1.json.samples[0].metric_name, 'vm_rows');
    assert.deepEqual([p1.json.samples[0].value, p1.json.samples[0].timestamp, p1.json.samples[0].points], [0.5, BASE_MS + 30_000, 2]);
    const session = p1.json.obfuscation_session as string;
    assert.match(session, /.{8,}/);

    // the same settings: the same session, the same stand-ins
    const p2 = await s.post('/api/sample', { ...ask, obfuscation: OBF, obfuscation_session: session });
    assert.equal(p2.json.obfuscation_session, session);
    assert.deepEqual(p2.json.samples, p1.json.samples);
    // other settings: a new session (the export must not continue a map made under other rules)
    const other = { ...OBF, custom_labels: ['pod', 'datacenter'] };
    const p3 = await s.post('/api/sample', { ...ask, obfuscation: other, obfuscation_session: session });
    assert.notEqual(p3.json.obfuscation_session, session);
    assert.ok(!JSON.stringify(p3.json).includes('eu-secret-1'));
    const mismatch = await s.post('/api/export/start', { ...ask, obfuscation: OBF, obfuscation_session: p3.json.obfuscation_session });
    assert.deepEqual([mismatch.status, mismatch.json.field], [400, 'obfuscation_session']);
    assert.match(mismatch.json.error, /refresh the preview/);

    // off: as they are, dropped labels gone
    const plain = await s.post('/api/sample', { ...ask, obfuscation: { enabled: false, drop_labels: ['datacenter'] } });
    assert.equal(plain.json.obfuscated, false);
    assert.equal(plain.json.obfuscation_session, null);
    assert.equal(plain.json.samples[0].labels.instance, `${HOSTS[0]}:8482`);
    assert.ok(!('datacenter' in plain.json.samples[0].labels));

    // the export with the preview's session: every stand-in the preview showed is the bundle's
    const started = await s.post('/api/export/start', { ...ask, obfuscation: OBF, obfuscation_session: session });
    assert.equal(started.status, 202);
    assert.match(started.json.job_id, /^[0-9a-f]{16}$/);
    const done = await waitForExport(s, started.json.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    const bundle = unzipBundle(done.result.archive_path);
    const bundleMetrics = bundle.metrics.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { metric: Record<string, string> }).metric);
    for (const shown of p1.json.samples as { metric_name: string; labels: Record<string, string> }[]) {
      const want = JSON.stringify({ __name__: shown.metric_name, ...shown.labels });
      assert.ok(
        bundleMetrics.some((m) => JSON.stringify({ __name__: m.__name__, ...Object.fromEntries(Object.entries(m).filter(([k]) => k !== '__name__')) }) === want),
        `the previewed series ${want} is in the bundle as shown`,
      );
    }
    for (const h of [...HOSTS, 'vmstorage-prod', 'vmstorage-1', 'db-1.corp.example']) assert.ok(!bundle.metrics.includes(h), `${h} not in the bundle`);
  });
});

test('export: start, status, list, download of the bundle with its SHA-256; components resolved by discovery', async () => {
  await withServer(async (s) => {
    const started = await s.post('/api/export/start', { connection: CONN, time_range: RANGE, components: ['vmstorage'], batch_window_seconds: 120 });
    assert.equal(started.status, 202);
    assert.equal(started.json.total_batches, 5, '10 minutes in 2-minute batches');
    const done = await waitForExport(s, started.json.job_id);
    assert.equal(done.state, 'completed');
    assert.equal(done.completed_batches, 5);
    assert.equal(done.progress, 1);
    assert.equal(done.series, 6, 'the vmstorage job only');
    assert.equal(done.samples, 6 * 20);
    assert.equal(done.eta_seconds, null);
    assert.equal(done.needs_credentials, false);
    const r = done.result;
    const file = readFileSync(r.archive_path);
    assert.equal(r.sha256, createHash('sha256').update(file).digest('hex'));
    assert.equal(r.archive_size_bytes, file.length);
    assert.equal(r.download_url, `/api/download?path=${encodeURIComponent(r.archive_name)}`);
    const dl = await fetch(s.url + r.download_url);
    assert.equal(dl.status, 200);
    assert.equal(dl.headers.get('content-type'), 'application/zip');
    assert.equal(dl.headers.get('content-disposition'), `attachment; filename="${r.archive_name}"`);
    const got = Buffer.from(await dl.arrayBuffer());
    assert.equal(createHash('sha256').update(got).digest('hex'), r.sha256);
    const list = await s.get('/api/export/list');
    assert.deepEqual(
      list.json.jobs.map((j: { job_id: string }) => j.job_id),
      [started.json.job_id],
    );
    // vmgather's legacy synchronous export answers when the bundle is written
    const sync = await s.post('/api/export', { connection: CONN, time_range: RANGE, jobs: ['node'] });
    assert.equal(sync.status, 200);
    assert.equal(sync.json.state, 'completed');
    assert.equal(sync.json.samples, 20);
    assert.equal(sync.json.result.sha256, createHash('sha256').update(readFileSync(sync.json.result.archive_path)).digest('hex'));
    const unknownComponent = await s.post('/api/export/start', { connection: CONN, time_range: RANGE, components: ['vminsert'] });
    assert.deepEqual([unknownComponent.status, unknownComponent.json.field], [400, 'components']);
    assert.match(unknownComponent.json.error, /no job of vminsert has series/);
  });
});

test('cancel and resume: a running export stops, a second cancel is refused, the resume completes it', async () => {
  await withServer(
    async (s) => {
      const started = await s.post('/api/export/start', { connection: CONN, time_range: RANGE, jobs: ['node'], batch_window_seconds: 60 });
      const id = started.json.job_id as string;
      await new Promise((r) => setTimeout(r, 250));
      const running = await s.get(`/api/export/status?id=${id}`);
      assert.equal(running.json.state, 'running');
      assert.ok(running.json.current_range !== null, 'the current range is shown while running');
      const c = await s.post('/api/export/cancel', { job_id: id });
      assert.equal(c.status, 200);
      const canceled = await waitForExport(s, id);
      assert.equal(canceled.state, 'canceled');
      assert.ok(canceled.completed_batches < 10);
      const again = await s.post('/api/export/cancel', { job_id: id });
      assert.deepEqual([again.status, again.json.field], [409, 'job_id']);
      assert.match(again.json.error, /is not running \(canceled\)/);
      const resumed = await s.post('/api/export/resume', { job_id: id });
      assert.equal(resumed.status, 202);
      const done = await waitForExport(s, id);
      assert.equal(done.state, 'completed');
      assert.equal(done.samples, 20, 'every sample once: the resume went on from the last completed batch');
      const twice = await s.post('/api/export/resume', { job_id: id });
      assert.equal(twice.status, 409);
      assert.match(twice.json.error, /only a failed, canceled or interrupted export resumes/);
    },
    { source: () => new ApiFakeSource({ delayMs: 100 }) },
  );
});

test('a resume after a restart asks for the credentials again, then completes; no secret reaches the log or the staging folder', async () => {
  const password = 'pw-never-logged-42';
  const conn = { url: 'http://vm:8428', auth: { type: 'basic', username: 'ops', password } };
  const first = await startTestServer({ source: () => new ApiFakeSource({ delayMs: 150 }) });
  const started = await first.post('/api/export/start', { connection: conn, time_range: RANGE, jobs: ['node'], batch_window_seconds: 60 });
  await new Promise((r) => setTimeout(r, 400));
  // the process goes away: jobs stop where they are, the staging folder stays
  await first.close();
  const staged = readdirSync(first.stagingDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  assert.ok(staged.length > 0, 'the interrupted job left its staging files');
  for (const e of staged) assert.ok(!readFileSync(join(e.parentPath, e.name), 'utf8').includes(password), `${e.name} holds no password`);
  const { ExportManager } = await import('../../src/gather/jobs.js');
  const { ObfuscationSessions } = await import('../../src/gather/obfuscate.js');
  const logs: string[] = [...first.logs];
  const { Logger } = await import('../../src/log/logger.js');
  const log = new Logger('debug', 'logfmt', { write: (l) => void logs.push(l) });
  const openSource = async () => new ApiFakeSource();
  const sessions = new ObfuscationSessions();
  const jobs = new ExportManager({ stagingDir: first.stagingDir, outputDir: first.outputDir, openSource, sessions, log });
  await jobs.open();
  const server = await startGatherServer({ listen: '127.0.0.1:0', nextFreePort: false, outputDir: first.outputDir, jobs, sessions, openSource, validate: async () => ({ ok: false, attempts: [] }), log });
  try {
    const base = server.url.replace(/\/$/, '');
    const post = async (p: string, b: unknown) => {
      const r = await fetch(base + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
      return { status: r.status, json: (await r.json()) as Record<string, any> };
    };
    const st = (await (await fetch(`${base}/api/export/status?id=${started.json.job_id}`)).json()) as Record<string, any>;
    assert.equal(st.state, 'interrupted');
    assert.equal(st.needs_credentials, true);
    const without = await post('/api/export/resume', { job_id: started.json.job_id });
    assert.deepEqual([without.status, without.json.field], [400, 'connection']);
    assert.match(without.json.error, /credentials were not kept: give the connection again/);
    const withConn = await post('/api/export/resume', { job_id: started.json.job_id, connection: conn });
    assert.equal(withConn.status, 202);
    let done: Record<string, any>;
    for (;;) {
      done = (await (await fetch(`${base}/api/export/status?id=${started.json.job_id}`)).json()) as Record<string, any>;
      if (done.state !== 'running' && done.state !== 'pending') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(done.state, 'completed');
    assert.equal(done.samples, 20);
    assert.ok(!logs.join('').includes(password), 'the password is in no log line');
  } finally {
    await server.close();
    await jobs.close();
  }
});

test('download: only regular files inside the output folder; traversal, absolute paths elsewhere and symlinks out refused', async () => {
  await withServer(async (s) => {
    mkdirSync(join(s.outputDir, 'sub'), { recursive: true });
    writeFileSync(join(s.outputDir, 'bundle.zip'), 'PK-bundle');
    writeFileSync(join(s.outputDir, 'sub', 'inner.zip'), 'PK-inner');
    const outside = join(tmpdir(), `gather-outside-${process.pid}.txt`);
    writeFileSync(outside, 'not yours');
    symlinkSync(outside, join(s.outputDir, 'leak.zip'));
    symlinkSync(join(s.outputDir, 'bundle.zip'), join(s.outputDir, 'alias.zip'));
    symlinkSync('/etc', join(s.outputDir, 'etc-link'));
    const dl = async (raw: string) => {
      const r = await fetch(`${s.url}/api/download?path=${raw}`);
      return { status: r.status, body: await r.text() };
    };
    assert.deepEqual(await dl('bundle.zip'), { status: 200, body: 'PK-bundle' });
    assert.deepEqual(await dl('sub%2Finner.zip'), { status: 200, body: 'PK-inner' });
    assert.deepEqual(await dl(encodeURIComponent(join(s.outputDir, 'bundle.zip'))), { status: 200, body: 'PK-bundle' }, 'an absolute path inside the folder');
    assert.deepEqual(await dl('alias.zip'), { status: 200, body: 'PK-bundle' }, 'a symlink that stays inside');
    const refused: [string, number, RegExp][] = [
      ['..%2F..%2Fetc%2Fpasswd', 400, /"\.\." is not allowed/],
      ['%2e%2e/%2e%2e/etc/passwd', 400, /"\.\." is not allowed/],
      ['sub/../bundle.zip', 400, /"\.\." is not allowed/],
      ['..', 400, /"\.\." is not allowed/],
      ['%2Fetc%2Fpasswd', 403, /outside the output folder/],
      [encodeURIComponent(outside), 403, /outside the output folder/],
      ['%2Fno%2Fsuch%2Ffile', 403, /outside the output folder/],
      ['leak.zip', 403, /a symlink leads out/],
      ['etc-link%2Fpasswd', 403, /a symlink leads out/],
      ['sub', 400, /not a regular file/],
      ['missing.zip', 404, /no such file/],
      ['a%00b', 400, /NUL/],
      ['', 400, /missing/],
    ];
    for (const [raw, status, message] of refused) {
      const r = await dl(raw);
      assert.equal(r.status, status, raw);
      assert.match((JSON.parse(r.body) as { error: string }).error, message, raw);
      assert.ok(!r.body.includes('not yours') && !r.body.includes('root:'), `${raw}: nothing of the file`);
    }
    const noParam = await s.get('/api/download');
    assert.deepEqual([noParam.status, noParam.json.field], [400, 'path']);
  });
});

test('resolveDownload works on real paths: a folder reached through a symlink still confines', async () => {
  const root = join(tmpdir(), `gather-rd-${process.pid}`);
  mkdirSync(join(root, 'real'), { recursive: true });
  writeFileSync(join(root, 'real', 'b.zip'), 'x');
  writeFileSync(join(root, 'secret.txt'), 'x');
  symlinkSync(join(root, 'real'), join(root, 'out-link'));
  assert.equal(await resolveDownload(join(root, 'out-link'), 'b.zip'), join(root, 'real', 'b.zip'));
  await assert.rejects(resolveDownload(join(root, 'out-link'), join(root, 'secret.txt')), /outside the output folder/);
  await assert.rejects(resolveDownload(join(root, 'nowhere'), 'b.zip'), /the output folder .* does not exist/);
});

test('fs list and check answer loopback callers, and refuse a caller from another address', async () => {
  assert.ok(isLoopbackAddress('127.0.0.1') && isLoopbackAddress('127.3.2.1') && isLoopbackAddress('::1') && isLoopbackAddress('::ffff:127.0.0.1'));
  assert.ok(!isLoopbackAddress('192.0.2.2') && !isLoopbackAddress('::ffff:10.0.0.1') && !isLoopbackAddress('fd00::2') && !isLoopbackAddress(undefined));
  await withServer(async (s) => {
    mkdirSync(join(s.outputDir, 'b-dir'), { recursive: true });
    writeFileSync(join(s.outputDir, 'a.zip'), 'x');
    const l = await s.get(`/api/fs/list?path=${encodeURIComponent(s.outputDir)}`);
    assert.equal(l.status, 200);
    assert.deepEqual(
      l.json.entries.map((e: { name: string; is_dir: boolean }) => [e.name, e.is_dir]),
      [['b-dir', true], ['a.zip', false]],
      'folders first',
    );
    assert.equal(l.json.parent, join(s.outputDir, '..'));
    const missing = await s.get('/api/fs/list?path=%2Fno%2Fsuch');
    assert.deepEqual([missing.status, missing.json.field], [404, 'path']);
    const c = await s.post('/api/fs/check', { path: s.outputDir });
    assert.deepEqual(c.json, { path: s.outputDir, exists: true, is_dir: true, writable: true, can_create: false });
    const n = await s.post('/api/fs/check', { path: join(s.outputDir, 'new') });
    assert.deepEqual([n.json.exists, n.json.can_create], [false, true]);
  });
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
  if (external === undefined) return;
  // on every interface, reached through this machine's own non-loopback address
  await withServer(
    async (s) => {
      const port = Number(new URL(s.url).port);
      const list = await rawGet(external, port, '/api/fs/list', {});
      assert.equal(list.status, 403);
      assert.match(list.body, /loopback callers only \(this request came from (::ffff:)?\d+\.\d+\.\d+\.\d+\)/);
      const check = await rawRequest(external, port, 'POST', '/api/fs/check', { 'content-type': 'application/json' }, JSON.stringify({ path: '/' }));
      assert.equal(check.status, 403);
      // the rest of the API answers that caller (the operator chose to listen beyond loopback)
      const health = await rawGet(external, port, '/api/health', {});
      assert.equal(health.status, 200);
      const local = await s.get('/api/fs/list');
      assert.equal(local.status, 200, 'the same server answers a loopback caller');
    },
    { listen: '0.0.0.0:0' },
  );
});

test('the server moves to the next free port when asked to, and says why it cannot listen otherwise', async () => {
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const base = await startTestServer();
    await base.close();
    const common = { outputDir: base.outputDir, jobs: base.jobs, sessions: base.sessions, openSource: async () => new ApiFakeSource(), validate: async () => ({ ok: false, attempts: [] }) };
    await assert.rejects(startGatherServer({ ...common, listen: `127.0.0.1:${port}`, nextFreePort: false }), /cannot listen on 127\.0\.0\.1:\d+: address already in use/);
    const moved = await startGatherServer({ ...common, listen: `127.0.0.1:${port}`, nextFreePort: true });
    try {
      const p = Number(new URL(moved.url).port);
      assert.ok(p > port && p <= port + 50, `moved to ${p}`);
      assert.equal(new URL(moved.url).hostname, '127.0.0.1');
      const page = await fetch(moved.url);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.match(await page.text(), /<label for="url">Source URL<\/label>/);
    } finally {
      await moved.close();
    }
  } finally {
    blocker.close();
  }
});

test('job names become exact selectors, whatever they contain', () => {
  assert.equal(quoteLabelValue('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
});

function rawGet(host: string, port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return rawRequest(host, port, 'GET', path, headers);
}

function rawRequest(host: string, port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('against a real VictoriaMetrics: cluster paths behind vmauth, TLS with an uploaded CA, discovery, an obfuscated preview, an exact export', async (t) => {
  const missing = gatherPeersMissing();
  if (missing !== undefined) return t.skip(missing);
  const dataset = makeDataset({ hours: 1 });
  const vm = await startVictoriaMetrics(dataset);
  const password = 'vmauth-pw-real-9921';
  const cluster = await startClusterStandIn(vm.url, { users: [{ username: 'support', password }] });
  const tls = await startTlsProxy(vm.url);
  const s = await startTestServer({ openSource: (c) => openSource(c), validate: validateSource });
  try {
    const range = { start: new Date(dataset.startMs).toISOString(), end: new Date(dataset.endMs).toISOString() };
    const wrong = await s.post('/api/validate', { connection: { url: cluster.url, auth: { type: 'basic', username: 'support', password: 'not-the-password-55' } } });
    assert.equal(wrong.status, 200);
    assert.equal(wrong.json.valid, false);
    assert.ok(wrong.json.attempts.length >= 1 && wrong.json.attempts.every((a: { ok: boolean }) => !a.ok), 'every attempt listed, none worked');
    assert.ok(typeof wrong.json.error === 'string' && wrong.json.error.length > 0);
    assert.ok(!JSON.stringify(wrong.json).includes('not-the-password-55'));

    const root = await s.post('/api/validate', { connection: { url: cluster.url, auth: { type: 'basic', username: 'support', password } } });
    assert.equal(root.json.valid, false, 'the root of a vmselect is not its API');
    assert.match(root.json.hint, /^vmselect requires \/select\/<tenant>\/prometheus/);
    assert.deepEqual(
      root.json.attempts.map((a: { url: string; ok: boolean }) => [a.url.replace(cluster.url, ''), a.ok]),
      [['/api/v1/query?query=vm_app_version', false], ['/select/0/prometheus/api/v1/query?query=vm_app_version', true]],
      'every URL tried, in order',
    );
    const conn = { url: cluster.url, tenant_id: '0', auth: { type: 'basic', username: 'support', password } };
    const ok = await s.post('/api/validate', { connection: conn });
    assert.equal(ok.json.valid, true, JSON.stringify(ok.json));
    assert.equal(ok.json.flavour, 'victoriametrics-cluster');
    assert.equal(ok.json.api_base, `${cluster.url}/select/0/prometheus`);
    assert.equal(ok.json.export_api, true);

    const noCa = await s.post('/api/validate', { connection: { url: tls.url } });
    assert.equal(noCa.json.valid, false, 'a certificate of an unknown CA is refused');
    const withCa = await s.post('/api/validate', { connection: { url: tls.url, ca_pem: tls.caPem } });
    assert.equal(withCa.json.valid, true, JSON.stringify(withCa.json));
    const skip = await s.post('/api/validate', { connection: { url: tls.url, skip_tls_verify: true } });
    assert.equal(skip.json.valid, true);

    const d = await s.post('/api/discover', { connection: conn, time_range: range });
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.deepEqual(
      d.json.jobs.map((j: { job: string; component: string; metrics_count_estimate: number }) => [j.job, j.component, j.metrics_count_estimate]).sort(),
      dataset.jobs.map((j) => [j.job, j.component, j.series]).sort(),
    );
    assert.equal(d.json.total_series, dataset.series.length);

    const p = await s.post('/api/sample', { connection: conn, time_range: range, jobs: ['node', 'vmselect'], job_components: { node: 'unknown', vmselect: 'vmselect' }, obfuscation: OBF, limit: 50 });
    assert.equal(p.status, 200, JSON.stringify(p.json));
    assert.equal(p.json.count, 50);
    const text = JSON.stringify(p.json.samples);
    for (const h of dataset.hosts) assert.ok(!text.includes(h), `host ${h} not in the preview`);
    for (const v of dataset.labels.pod) assert.ok(!text.includes(v), `pod ${v} not in the preview`);

    const started = await s.post('/api/export/start', { connection: conn, time_range: range, jobs: ['node'], batch_window_seconds: 600 });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    const done = await waitForExport(s, started.json.job_id, 120_000);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    const bundle = unzipBundle(done.result.archive_path);
    const want = datasetSlice(dataset, dataset.startMs, dataset.endMs, (m) => m.job === 'node');
    assert.deepEqual(parseExportLines(bundle.metrics), want, 'every series and sample of the job, exactly');
    assert.equal(done.result.samples, want.reduce((n, x) => n + x.values.length, 0));
    const dl = await fetch(s.url + done.result.download_url);
    assert.equal(createHash('sha256').update(Buffer.from(await dl.arrayBuffer())).digest('hex'), done.result.sha256);
    const logs = s.logs.join('');
    assert.ok(!logs.includes(password) && !logs.includes('not-the-password-55'), 'no password in the log');
  } finally {
    await s.close();
    await tls.stop();
    await cluster.stop();
    await vm.stop();
  }
});

test('against a real Prometheus: found as Prometheus (no export API), discovered, exported exactly through the API', async (t) => {
  const missing = gatherPeersMissing();
  if (missing !== undefined) return t.skip(missing);
  const dataset = makeDataset({ hours: 1 });
  const prom = await startPrometheusWith(dataset);
  const s = await startTestServer({ openSource: (c) => openSource(c), validate: validateSource });
  try {
    const range = { start: new Date(dataset.startMs).toISOString(), end: new Date(dataset.endMs).toISOString() };
    const conn = { url: prom.url };
    const v = await s.post('/api/validate', { connection: conn });
    assert.equal(v.json.valid, true, JSON.stringify(v.json));
    assert.equal(v.json.flavour, 'prometheus');
    assert.equal(v.json.export_api, false);
    const d = await s.post('/api/discover', { connection: conn, time_range: range });
    assert.deepEqual(
      d.json.jobs.map((j: { job: string; metrics_count_estimate: number }) => [j.job, j.metrics_count_estimate]).sort(),
      dataset.jobs.map((j) => [j.job, j.series]).sort(),
    );
    const started = await s.post('/api/export/start', { connection: conn, time_range: range, jobs: ['vmagent-k8s'], obfuscation: { enabled: false } });
    const done = await waitForExport(s, started.json.job_id, 120_000);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    const want = datasetSlice(dataset, dataset.startMs, dataset.endMs, (m) => m.job === 'vmagent-k8s');
    assert.deepEqual(parseExportLines(unzipBundle(done.result.archive_path).metrics), want);
  } finally {
    await s.close();
    await prom.stop();
  }
});
