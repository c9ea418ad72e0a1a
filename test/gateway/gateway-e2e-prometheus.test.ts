/**
 * The gateway end to end with a real Prometheus server scraping it: two HTTP exporters that
 * share family names (and disagree on one TYPE), a textfile, and an app pushed with curl, all
 * merged on Tributary's /metrics; Prometheus must scrape it cleanly, see every source's series
 * under its `exporter_name`, and keep scraping when one exporter dies. promtool checks the page.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../../src/runtime/runtime.js';
import { CURL, PROMTOOL, requirePeer } from '../helpers/peers.js';
import { PROMETHEUS, freePort, stopProcess } from '../helpers/prometheus-peer.js';
import { promtoolCheck, sleep, startTributary, staticExporter } from '../helpers/gateway-harness.js';

/**
 * An exporter's page. Both exporters expose the same families with the same HELP/TYPE;
 * `e2e_conflict` is a gauge on A and a counter on B, so B's copy must be left out (the first
 * source decides the TYPE).
 */
function exporterPage(ok: number, errors: number, temp: number, conflictType: 'gauge' | 'counter', conflict: number): string {
  return `# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200"} ${ok}
http_requests_total{code="500"} ${errors}
# HELP temp_celsius Temperature.
# TYPE temp_celsius gauge
temp_celsius{room="hall"} ${temp}
# HELP e2e_conflict A family whose TYPE the exporters disagree on.
# TYPE e2e_conflict ${conflictType}
e2e_conflict ${conflict}
`;
}
const PAGE_A = exporterPage(10, 1, 21.5, 'gauge', 3);
const PAGE_B = exporterPage(20, 2, 19.25, 'counter', 4);
const TEXTFILE = `# HELP textfile_backup_size_bytes Size of the last backup.
# TYPE textfile_backup_size_bytes gauge
textfile_backup_size_bytes{volume="data"} 4096
`;
const PUSHED = `# HELP batch_records_processed_total Records the batch job processed.
# TYPE batch_records_processed_total counter
batch_records_processed_total 12345
# HELP batch_last_success_timestamp_seconds Last successful run.
# TYPE batch_last_success_timestamp_seconds gauge
batch_last_success_timestamp_seconds 1700000000
`;

function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(prom: string, q: string): Promise<PromSample[]> {
  const res = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as { status: string; data?: { resultType: string; result: PromSample[] }; error?: string };
  assert.equal(body.status, 'success', `query ${q}: ${body.error}`);
  assert.equal(body.data!.resultType, 'vector');
  return body.data!.result;
}

/** label=value of the one series of `q` matching `match`, as number; undefined if absent. */
function valueOf(samples: PromSample[], match: Record<string, string>): number | undefined {
  const s = samples.find((x) => Object.entries(match).every(([k, v]) => x.metric[k] === v));
  return s === undefined ? undefined : Number(s.value[1]);
}

interface Target {
  health: string;
  lastError: string;
  scrapeUrl: string;
  labels: Record<string, string>;
}

async function targets(prom: string): Promise<Target[]> {
  const res = await fetch(`${prom}/api/v1/targets`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as { data: { activeTargets: Target[] } };
  return body.data.activeTargets;
}


test('Prometheus scrapes the merged gateway page: every source under its exporter_name, values intact, survives a dead exporter', { timeout: 120_000 }, async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  if (!requirePeer(t, CURL, 'curl')) return;

  const dir = mkdtempSync(join(tmpdir(), 'tributary-e2e-prom-'));
  const expA = await staticExporter(PAGE_A);
  const expB = await staticExporter(PAGE_B);
  let runtime: Runtime | undefined;
  let prometheus: ChildProcess | undefined;
  let promLog = '';
  try {
    const textfile = join(dir, 'backup.prom');
    writeFileSync(textfile, TEXTFILE);
    const yaml = `
gateway:
  sources:
    - name: exporter-a
      http: { url: "${expA.url}", timeout: 2s }
    - name: exporter-b
      http: { url: "${expB.url}", timeout: 2s }
    - name: backups
      file: { path: "${textfile}" }
`;
    const tr = await startTributary(yaml);
    runtime = tr.runtime;
    const base = tr.base;

    // The batch job pushes the way Pushgateway users do.
    const pushFile = join(dir, 'push.txt');
    writeFileSync(pushFile, PUSHED);
    const push = await run(CURL, ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '--data-binary', `@${pushFile}`, `${base}/metrics/job/batch/instance/x`]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal(push.stdout, '200');

    // promtool reads the page as Prometheus' parser does; lint about names is allowed, errors not.
    if (requirePeer(t, PROMTOOL, 'prometheus')) {
      const page = await (await fetch(`${base}/metrics`, { headers: { Accept: 'text/plain; version=0.0.4' } })).text();
      const r = promtoolCheck(page);
      const out = r.lines.join('\n');
      assert.doesNotMatch(out, /error while linting/, `promtool could not parse the page:\n${out}\n${page}`);
      assert.ok(r.status === 0 || r.status === 3, `promtool exited ${r.status}:\n${out}`);
      // lint lines look like `name: problem`; none may be about anything but naming conventions
      for (const line of r.lines) {
        assert.match(line, /should have|should not|suffix|camelCase|non-base unit|counter metrics|_total|units/i, `promtool: ${line}`);
      }
    }

    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: tributary
    # as for a Pushgateway: keep the pushed app's job and instance
    honor_labels: true
    static_configs:
      - targets: ["${runtime.address}"]
`,
    );
    // The port is picked free, released, then bound by Prometheus; a test running beside this
    // one may take it in between, so a start that fails to bind is retried on a fresh port.
    let prom = '';
    let promExited: Promise<never> | undefined;
    for (let attempt = 1; attempt <= 3 && promExited === undefined; attempt++) {
      const promPort = await freePort();
      promLog = '';
      const child = spawn(
        PROMETHEUS,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prometheus = child;
      child.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
      const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`prometheus exited with ${code}:\n${promLog}`))));
      exited.catch(() => {});
      const url = `http://127.0.0.1:${promPort}`;
      const ready = await Promise.race([
        exited.then(
          () => false,
          () => false,
        ),
        waitFor('Prometheus to answer /-/ready', 30_000, async () => ((await fetch(url + '/-/ready').catch(() => undefined))?.ok ? true : undefined)),
      ]);
      if (ready) {
        prom = url;
        promExited = exited;
      } else if (!/address already in use/.test(promLog) || attempt === 3) {
        throw new Error(`prometheus did not start:\n${promLog}`);
      }
    }

    // Up, with a clean last scrape, within 30 s.
    const target = await Promise.race([
      promExited!,
      waitFor('the Tributary target to be up', 30_000, async () => {
        const ts = await targets(prom);
        const tr = ts.find((x) => x.scrapeUrl === `${base}/metrics`);
        return tr && tr.health === 'up' ? tr : undefined;
      }),
    ]);
    assert.equal(target.lastError, '', 'the scrape left no error');

    // Wait until the series are queryable (the first scrape may land just after "up").
    const bySource = await waitFor('series of every source in Prometheus', 30_000, async () => {
      const r = await query(prom, 'count by (exporter_name) ({exporter_name!=""})');
      const names = r.map((s) => s.metric.exporter_name);
      return ['exporter-a', 'exporter-b', 'backups', 'batch', 'tributary'].every((n) => names.includes(n)) ? r : undefined;
    });
    assert.deepEqual(
      bySource.map((s) => s.metric.exporter_name).sort(),
      ['backups', 'batch', 'exporter-a', 'exporter-b', 'tributary'],
      'no series without a known source',
    );

    const requests = await query(prom, 'http_requests_total');
    assert.equal(requests.length, 4, JSON.stringify(requests));
    assert.equal(valueOf(requests, { exporter_name: 'exporter-a', code: '200' }), 10);
    assert.equal(valueOf(requests, { exporter_name: 'exporter-a', code: '500' }), 1);
    assert.equal(valueOf(requests, { exporter_name: 'exporter-b', code: '200' }), 20);
    assert.equal(valueOf(requests, { exporter_name: 'exporter-b', code: '500' }), 2);
    const temps = await query(prom, 'temp_celsius{room="hall"}');
    assert.equal(valueOf(temps, { exporter_name: 'exporter-a' }), 21.5);
    assert.equal(valueOf(temps, { exporter_name: 'exporter-b' }), 19.25);
    // The TYPE conflict: A's gauge is kept, B's counter is left out and counted.
    const conflict = await query(prom, '{__name__=~"e2e_conflict(_total)?"}');
    assert.deepEqual(conflict.map((s) => [s.metric.exporter_name, s.value[1]]), [['exporter-a', '3']]);
    // (the gauge describes the path's previous page, so give it a scrape or two)
    await waitFor('tributary_gateway_type_conflicts{path="/metrics"} to be 1', 10_000, async () =>
      valueOf(await query(prom, 'tributary_gateway_type_conflicts'), { path: '/metrics' }) === 1 ? true : undefined,
    );
    // The textfile.
    assert.equal(valueOf(await query(prom, 'textfile_backup_size_bytes'), { exporter_name: 'backups', volume: 'data' }), 4096);
    // The pushed app: its grouping key survives as job and instance (honor_labels).
    const records = await query(prom, 'batch_records_processed_total');
    assert.equal(records.length, 1, JSON.stringify(records));
    assert.equal(records[0].metric.job, 'batch');
    assert.equal(records[0].metric.instance, 'x');
    assert.equal(records[0].metric.exporter_name, 'batch');
    assert.equal(records[0].value[1], '12345');
    assert.equal(valueOf(await query(prom, 'batch_last_success_timestamp_seconds'), { job: 'batch', instance: 'x' }), 1700000000);
    // Health per source.
    const up = await query(prom, 'tributary_source_up');
    for (const s of ['exporter-a', 'exporter-b', 'backups']) assert.equal(valueOf(up, { source: s }), 1, `tributary_source_up{source="${s}"}`);
    assert.equal(valueOf(up, { source: 'exporter-a' }), 1);
    assert.equal(up.find((s) => s.metric.source === 'exporter-a')?.metric.kind, 'http');
    assert.equal(up.find((s) => s.metric.source === 'backups')?.metric.kind, 'file');

    // One exporter dies: the scrape stays up, its health goes to 0, the others keep their data.
    await expA.close();
    await waitFor('tributary_source_up{source="exporter-a"} to be 0', 30_000, async () => {
      const r = await query(prom, 'tributary_source_up{source="exporter-a"}');
      return r.length === 1 && r[0].value[1] === '0' ? true : undefined;
    });
    const after = (await targets(prom)).find((x) => x.scrapeUrl === `${base}/metrics`);
    assert.equal(after?.health, 'up', `the scrape still succeeds: ${after?.lastError}`);
    assert.equal(after?.lastError, '');
    // A's series went stale (it served no data), B's, the file's and the push's are there.
    await waitFor('exporter-a series to go stale', 15_000, async () =>
      (await query(prom, 'temp_celsius{exporter_name="exporter-a"}')).length === 0 ? true : undefined,
    );
    assert.equal(valueOf(await query(prom, 'temp_celsius'), { exporter_name: 'exporter-b' }), 19.25);
    assert.equal(valueOf(await query(prom, 'http_requests_total'), { exporter_name: 'exporter-b', code: '200' }), 20);
    assert.equal(valueOf(await query(prom, 'textfile_backup_size_bytes'), { exporter_name: 'backups' }), 4096);
    assert.equal(valueOf(await query(prom, 'batch_records_processed_total'), { job: 'batch', instance: 'x' }), 12345);
    const upAfter = await query(prom, 'tributary_source_up');
    assert.equal(valueOf(upAfter, { source: 'exporter-b' }), 1);
    assert.equal(valueOf(upAfter, { source: 'backups' }), 1);
    // With A gone, B's counter is no longer in conflict with anything: it is exposed now
    // (Prometheus negotiates OpenMetrics, where a counter's sample is named `<family>_total`).
    await waitFor('exporter-b e2e_conflict after exporter-a died', 15_000, async () => {
      const r = await query(prom, '{__name__=~"e2e_conflict(_total)?"}');
      if (r.length === 1 && r[0].metric.exporter_name === 'exporter-b') return true;
      throw new Error(`e2e_conflict is ${JSON.stringify(r)}`);
    });

    // Last, so that everything above is checked first: the pushed series carry their grouping
    // labels once. (Tributary currently also exposes exported_job/exported_instance copies.)
    const copies = await query(prom, '{exported_job!=""} or {exported_instance!=""}');
    assert.deepEqual(
      copies.map((s) => s.metric),
      [],
      'pushed series must not carry exported_job / exported_instance copies of their grouping labels',
    );
  } finally {
    if (prometheus) await stopProcess(prometheus);
    await runtime?.close(1_000);
    await expA.close();
    await expB.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
