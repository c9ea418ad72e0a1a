/**
 * The scrape loop's semantics against real HTTP targets, each scrape triggered by the test
 * (the jobs' interval is an hour, so the schedule never interferes): labels attached as
 * Prometheus does (honor_labels, exported_ renames), timestamps (honor_timestamps), the auto
 * series, staleness markers when a series vanishes, a scrape fails or a target goes away,
 * metric relabeling cached per series, the limits, and the streaming page reader.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { Entry, newExpositionParser } from '../../src/formats/prometheus/parser.js';
import { PageReader } from '../../src/scrape/page-reader.js';
import { acceptHeader, nextScrapeTime } from '../../src/scrape/index.js';
import { selfMetricValue, startScraping, startTarget, waitFor, type RecordedSample } from '../helpers/scrape-harness.js';
import { rng as seededRandom } from '../helpers/seeded-random.js';
import { readNodeExporterPage } from '../helpers/fixtures.js';
import { startProxy } from '../helpers/proxy-server.js';

const HOUR = `
global:
  scrape_interval: 1h
  scrape_timeout: 10s
`;

function job(address: string, extra = ''): string {
  return `${HOUR}scrape_configs:
  - job_name: app
    static_configs:
      - targets: ['${address}']
        labels: {env: prod}
${extra}`;
}

const bySeries = (samples: RecordedSample[]) => new Map(samples.map((s) => [s.series, s]));

/** One target serving `page`, scraped by job "app" (with `extra` config), cleaned up after the test. */
async function scrapeOne(t: TestContext, page: string, extra = '') {
  const target = await startTarget();
  target.page(page);
  t.after(() => target.close());
  const h = await startScraping(job(target.address, extra));
  t.after(() => h.close());
  const [loop] = await h.loops('app');
  return { target, h, loop };
}

test('a scrape: target labels on every series, auto series, one batch per scrape', async (t) => {
  const { target, h, loop } = await scrapeOne(t, '# TYPE a counter\na_total 1\nb{x="1"} 2.5\n');
  await loop.scrapeOnce();
  const got = bySeries(h.sink.last());
  const inst = target.address;
  const suffix = `env="prod", instance="${inst}", job="app"}`;
  assert.equal(got.get(`a_total{${suffix}`)?.value, 1);
  assert.equal(got.get(`b{env="prod", instance="${inst}", job="app", x="1"}`)?.value, 2.5);
  assert.equal(got.get(`up{${suffix}`)?.value, 1);
  assert.equal(got.get(`scrape_samples_scraped{${suffix}`)?.value, 2);
  assert.equal(got.get(`scrape_samples_post_metric_relabeling{${suffix}`)?.value, 2);
  assert.equal(got.get(`scrape_series_added{${suffix}`)?.value, 2);
  const duration = got.get(`scrape_duration_seconds{${suffix}`)!.value;
  assert.ok(duration > 0 && duration < 5, `duration ${duration}`);
  // all samples of a scrape carry its start time
  assert.equal(new Set(h.sink.last().map((s) => s.ts)).size, 1);
  assert.equal(h.sink.batches.length, 1);

  await loop.scrapeOnce();
  const second = bySeries(h.sink.last());
  assert.equal(second.get(`scrape_series_added{${suffix}`)?.value, 0, 'cached series are not added again');
  assert.ok(second.get(`up{${suffix}`)!.ts > got.get(`up{${suffix}`)!.ts);
  assert.equal(loop.status().health, 'up');
  assert.equal(loop.status().lastSamples, 2);
});

test('staleness: a vanished series, a failed scrape and a removed target', async (t) => {
  const { target, h, loop } = await scrapeOne(t, 'a 1\nb 2\n');
  const lbl = `{env="prod", instance="${target.address}", job="app"}`;
  await loop.scrapeOnce();
  target.page('a 3\n');
  await loop.scrapeOnce();
  let got = bySeries(h.sink.last());
  assert.equal(got.get('a' + lbl)?.value, 3);
  const staleB = got.get('b' + lbl);
  assert.ok(staleB?.stale, 'b is marked stale');
  assert.ok(Number.isNaN(staleB.value));
  await loop.scrapeOnce();
  assert.equal(bySeries(h.sink.last()).get('b' + lbl), undefined, 'a stale marker is written once');

  target.handle((_req, res) => {
    res.writeHead(500);
    res.end('database locked');
  });
  await loop.scrapeOnce();
  got = bySeries(h.sink.last());
  assert.ok(got.get('a' + lbl)?.stale, 'a failed scrape makes every series stale');
  assert.equal(got.get('up' + lbl)?.value, 0);
  assert.match(loop.status().lastError, /HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/metrics: database locked/);
  assert.equal(loop.status().health, 'down');

  target.page('a 4\n');
  await loop.scrapeOnce();
  assert.equal(bySeries(h.sink.last()).get('a' + lbl)?.value, 4);
  // the job loses its target: everything it wrote goes stale, the auto series included
  h.manager.apply([]);
  const final = await waitFor('stale markers of the removed target', () => {
    const m = bySeries(h.sink.last());
    return m.get('up' + lbl)?.stale ? m : undefined;
  });
  for (const name of ['a', 'up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_series_added']) {
    assert.ok(final.get(name + lbl)?.stale, `${name} stale when the target goes away`);
  }
});

test('honor_labels false renames clashing labels exported_*; true keeps the page\'s', async (t) => {
  const target = await startTarget();
  target.page('m{job="other",instance="x",exported_job="y"} 1\nn{env="dev"} 2\n');
  for (const honor of [false, true]) {
    const h = await startScraping(job(target.address, `    honor_labels: ${honor}\n`));
    t.after(() => h.close());
    const [loop] = await h.loops('app');
    await loop.scrapeOnce();
    const names = [...bySeries(h.sink.last()).keys()].filter((s) => s.startsWith('m{') || s.startsWith('n{'));
    if (!honor) {
      assert.deepEqual(names.sort(), [
        `m{env="prod", exported_exported_job="other", exported_instance="x", exported_job="y", instance="${target.address}", job="app"}`,
        `n{env="prod", exported_env="dev", instance="${target.address}", job="app"}`,
      ]);
    } else {
      assert.deepEqual(names.sort(), [
        'm{env="prod", exported_job="y", instance="x", job="other"}',
        `n{env="dev", instance="${target.address}", job="app"}`,
      ]);
    }
  }
  await target.close();
});

test('honor_timestamps: page timestamps kept (and no stale marker for them) or replaced', async (t) => {
  const target = await startTarget();
  target.page('with_ts 1 1700000000000\nplain 2\n');
  for (const honor of [true, false]) {
    const h = await startScraping(job(target.address, `    honor_timestamps: ${honor}\n`));
    t.after(() => h.close());
    const [loop] = await h.loops('app');
    await loop.scrapeOnce();
    const got = bySeries(h.sink.last());
    const lbl = `{env="prod", instance="${target.address}", job="app"}`;
    const start = got.get('up' + lbl)!.ts;
    assert.equal(got.get('with_ts' + lbl)!.ts, honor ? 1700000000000 : start);
    assert.equal(got.get('plain' + lbl)!.ts, start);
    target.page('other 1\n');
    await loop.scrapeOnce();
    const after = bySeries(h.sink.last());
    assert.equal(after.get('with_ts' + lbl)?.stale === true, !honor, 'explicit timestamps get no stale marker when honored');
    assert.ok(after.get('plain' + lbl)?.stale);
    target.page('with_ts 1 1700000000000\nplain 2\n');
  }
  await target.close();
});

test('metric relabeling: drops and rewrites once per distinct series', async (t) => {
  const target = await startTarget();
  target.page('go_gc_x 1\nnode_cpu{mode="idle",cpu="0"} 5\nnode_cpu{mode="user",cpu="0"} 6\n');
  const rules = `    metric_relabel_configs:
      - {source_labels: [__name__], regex: 'go_.*', action: drop}
      - {source_labels: [__name__, mode], separator: '@', regex: 'node_cpu@(.+)', target_label: cpu_mode, replacement: '$1'}
      - {regex: 'cpu', action: labeldrop}
`;
  const h = await startScraping(job(target.address, rules));
  t.after(async () => {
    await h.close();
    await target.close();
  });
  const [loop] = await h.loops('app');
  await loop.scrapeOnce();
  const lbl = `env="prod", instance="${target.address}", job="app"`;
  const got = bySeries(h.sink.last());
  assert.equal(got.get(`node_cpu{cpu_mode="idle", ${lbl}, mode="idle"}`)?.value, 5);
  assert.equal(got.get(`node_cpu{cpu_mode="user", ${lbl}, mode="user"}`)?.value, 6);
  assert.equal([...got.keys()].filter((k) => k.startsWith('go_')).length, 0);
  assert.equal(got.get(`scrape_samples_scraped{${lbl}}`)?.value, 3);
  assert.equal(got.get(`scrape_samples_post_metric_relabeling{${lbl}}`)?.value, 2);
  // the same Labels object every scrape: the rules ran once per series, not per scrape
  const firstRun = h.sink.batches.length;
  await loop.scrapeOnce();
  assert.equal(h.sink.batches.length, firstRun + 1);
  assert.equal(bySeries(h.sink.last()).get(`scrape_series_added{${lbl}}`)?.value, 0);
});

test('limits fail the scrape with Prometheus\' messages', async (t) => {
  const target = await startTarget();
  target.page('a{l1="x",l2="y"} 1\nb 2\nc{long_label_name="v"} 3\nd{v="0123456789abcdef"} 4\n');
  const cases: [string, RegExp][] = [
    ['sample_limit: 3', /sample_limit exceeded \(limit: 3\)/],
    ['label_limit: 2', /label_limit exceeded \(metric: a, number of labels: 6, limit: 2\)/],
    ['label_name_length_limit: 10', /label_name_length_limit exceeded \(metric: c, label name: long_label_name, length: 15, limit: 10\)/],
    ['label_value_length_limit: 12', /label_value_length_limit exceeded \(metric: (a|d), label name: \w+, value: "[^"]+", length: \d+, limit: 12\)/],
  ];
  for (const [limit, message] of cases) {
    const h = await startScraping(job(target.address, `    ${limit}\n`));
    t.after(() => h.close());
    const [loop] = await h.loops('app');
    await loop.scrapeOnce();
    assert.equal(loop.status().health, 'down', limit);
    assert.match(loop.status().lastError, message);
    const got = bySeries(h.sink.last());
    assert.equal(got.get(`up{env="prod", instance="${target.address}", job="app"}`)?.value, 0);
    assert.equal([...got.keys()].filter((k) => /^[abcd]\{/.test(k)).length, 0, 'no sample of a failed scrape is kept');
  }
  await target.close();
});

test('over sample_limit the page is still read to its end: scraped and post-relabeling count every line, none is kept', async (t) => {
  const page = 'a 1\nb 2\nc 3\nd 4\nd 4\ne 5\ndrop_me 6\n';
  const { target, h, loop } = await scrapeOne(
    t,
    page,
    "    sample_limit: 2\n    metric_relabel_configs: [{source_labels: [__name__], regex: 'drop_.*', action: drop}]\n",
  );
  const lbl = `{env="prod", instance="${target.address}", job="app"}`;
  for (let i = 0; i < 2; i++) {
    await loop.scrapeOnce();
    const got = bySeries(h.sink.last());
    assert.equal(loop.status().lastError, 'sample_limit exceeded (limit: 2)');
    assert.equal(got.get(`up${lbl}`)?.value, 0);
    assert.equal(got.get(`scrape_samples_scraped${lbl}`)?.value, 7, 'what the target exposed (Prometheus, vmagent)');
    // Prometheus counts the duplicate and leaves out what metric relabeling drops
    assert.equal(got.get(`scrape_samples_post_metric_relabeling${lbl}`)?.value, 6);
    assert.equal(got.get(`scrape_samples_limit${lbl}`)?.value, 2);
    assert.equal([...got.keys()].filter((k) => /^[a-e]\{/.test(k)).length, 0, 'no sample of a failed scrape is kept');
  }
});

test('target relabeling: per-target path, params, scheme and interval; dropped targets kept for pages', async (t) => {
  const target = await startTarget();
  const seen: string[] = [];
  target.handle((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('x 1\n');
  });
  const h = await startScraping(`${HOUR}scrape_configs:
  - job_name: probe
    metrics_path: /probe
    params: {module: [http_2xx, extra], other: [o]}
    static_configs:
      - targets: ['example.org', 'drop.me']
        labels: {__meta_zone: eu}
    relabel_configs:
      - {source_labels: [__address__], regex: 'drop\\.me', action: drop}
      - {source_labels: [__address__], target_label: __param_target}
      - {source_labels: [__param_target], target_label: instance}
      - {target_label: __address__, replacement: '${target.address}'}
      - {source_labels: [__meta_zone], target_label: zone}
      - {target_label: __scrape_interval__, replacement: 2h}
`);
  t.after(async () => {
    await h.close();
    await target.close();
  });
  const [loop] = await h.loops('probe');
  assert.equal(loop.target.intervalMs, 2 * 3600_000);
  assert.equal(loop.target.labels.toString(), '{instance="example.org", job="probe", zone="eu"}');
  assert.equal(loop.target.discovered.get('__meta_zone'), 'eu');
  assert.equal(loop.target.discovered.get('__metrics_path__'), '/probe');
  await loop.scrapeOnce();
  assert.equal(seen[0], '/probe?module=http_2xx&module=extra&other=o&target=example.org');
  const status = h.manager.pools()[0];
  assert.equal(status.active.length, 1);
  assert.equal(status.droppedCount, 1);
  assert.equal(status.dropped[0].discoveredLabels.get('__address__'), 'drop.me');
});

test('page reader: pieces cut anywhere parse like the whole page, errors keep page line numbers', () => {
  const page = readNodeExporterPage();
  const whole: string[] = [];
  const p = newExpositionParser(page, { format: 'prometheus' });
  for (let e = p.next(); e !== Entry.End; e = p.next()) if (e === Entry.Series) whole.push(`${p.seriesKey()} ${p.value}`);
  const rng = seededRandom(7);
  const bytes = Buffer.from(page);
  for (let round = 0; round < 20; round++) {
    const got: string[] = [];
    const reader = new PageReader((q) => void got.push(`${q.seriesKey()} ${q.value}`), undefined);
    reader.begin('text/plain; version=0.0.4');
    let at = 0;
    while (at < bytes.length) {
      const n = 1 + Math.floor(rng() * (round < 3 ? 3 : 4000));
      reader.chunk(bytes.subarray(at, at + n));
      at += n;
    }
    reader.end();
    assert.deepEqual(got, whole);
  }
  // a bad line far into the page: its line number is the page's, not the piece's
  const bad = 'a 1\n'.repeat(5000) + 'b{x=} 1\n';
  const reader = new PageReader(() => {}, undefined);
  reader.begin('text/plain');
  const buf = Buffer.from(bad);
  assert.throws(() => {
    for (let i = 0; i < buf.length; i += 1000) reader.chunk(buf.subarray(i, i + 1000));
    reader.end();
  }, /line 5001, column 5/);
  // OpenMetrics: "# EOF" may only come last, across pieces too
  const om = new PageReader(() => {}, undefined);
  om.begin('application/openmetrics-text; version=1.0.0');
  om.chunk(Buffer.from('a 1\n# EOF\n'));
  assert.throws(() => {
    om.chunk(Buffer.from('b 2\n'));
    om.end();
  }, /line 3, column 1: unexpected content after "# EOF"/);
  const noEof = new PageReader(() => {}, undefined);
  noEof.begin('application/openmetrics-text');
  noEof.chunk(Buffer.from('a 1\n'));
  assert.throws(() => noEof.end(), /expected "# EOF"/);
  // multi-byte characters split between chunks decode intact
  const utf = Buffer.from('m{v="żółw 🐢"} 1\n');
  const seenValues: string[] = [];
  const r2 = new PageReader((q) => void seenValues.push(q.labels().get('v') ?? ''), undefined);
  r2.begin('text/plain');
  for (let i = 0; i < utf.length; i++) r2.chunk(utf.subarray(i, i + 1));
  r2.end();
  assert.deepEqual(seenValues, ['żółw 🐢']);
});

test('content types: OpenMetrics parsed as such, unknown types refused unless a fallback is set', async (t) => {
  const { target, h, loop } = await scrapeOne(t, '');
  target.page('# TYPE c counter\nc_total 1 1700000000.5\n# EOF\n', 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  await loop.scrapeOnce();
  const lbl = `{env="prod", instance="${target.address}", job="app"}`;
  assert.equal(bySeries(h.sink.last()).get('c_total' + lbl)?.ts, 1700000000500);
  target.page('a 1\n', 'text/html');
  await loop.scrapeOnce();
  assert.match(loop.status().lastError, /received unsupported Content-Type "text\/html" and no fallback_scrape_protocol specified for target/);
  const h2 = await startScraping(job(target.address, '    fallback_scrape_protocol: PrometheusText0.0.4\n'));
  t.after(() => h2.close());
  const [loop2] = await h2.loops('app');
  await loop2.scrapeOnce();
  assert.equal(loop2.status().health, 'up');
  assert.equal(bySeries(h2.sink.last()).get('a' + lbl)?.value, 1);
});

test('no Content-Type: read as text (Prometheus 2, vmagent) and counted; fallback_scrape_protocol picks another format', async (t) => {
  let body = 'a 1\n';
  const target = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  t.after(() => target.close());
  const lbl = `{env="prod", instance="${target.address}", job="app"}`;
  const h = await startScraping(job(target.address));
  t.after(() => h.close());
  const [loop] = await h.loops('app');
  await loop.scrapeOnce();
  assert.equal(loop.status().health, 'up', loop.status().lastError);
  assert.equal(bySeries(h.sink.last()).get('a' + lbl)?.value, 1);
  assert.equal(selfMetricValue(h.registry, 'tributary_scrape_fallback_content_type_total', { job: 'app' }), 1);

  const om = await startScraping(job(target.address, '    fallback_scrape_protocol: OpenMetricsText1.0.0\n'));
  t.after(() => om.close());
  const [omLoop] = await om.loops('app');
  await omLoop.scrapeOnce();
  assert.match(omLoop.status().lastError, /expected "# EOF"/, 'read as OpenMetrics');
  // OpenMetrics timestamps are seconds
  body = 'a 2 1700000000.5\n# EOF\n';
  await omLoop.scrapeOnce();
  assert.equal(omLoop.status().health, 'up', omLoop.status().lastError);
  assert.deepEqual({ ...bySeries(om.sink.last()).get('a' + lbl) }, { series: 'a' + lbl, value: 2, ts: 1700000000500, stale: false });
  assert.equal(selfMetricValue(om.registry, 'tributary_scrape_fallback_content_type_total', { job: 'app' }), 2);
});

test('gzip bodies are decompressed; the Accept header follows scrape_protocols', async (t) => {
  const target = await startTarget();
  let accept = '';
  target.handle((req, res) => {
    accept = String(req.headers.accept);
    const gz = String(req.headers['accept-encoding']).includes('gzip');
    res.writeHead(200, { 'content-type': 'text/plain', ...(gz ? { 'content-encoding': 'gzip' } : {}) });
    res.end(gz ? gzipSync('zipped 42\n') : 'zipped 0\n');
  });
  const h = await startScraping(job(target.address, '    scrape_protocols: [PrometheusText0.0.4, OpenMetricsText1.0.0]\n'));
  t.after(async () => {
    await h.close();
    await target.close();
  });
  const [loop] = await h.loops('app');
  await loop.scrapeOnce();
  assert.equal(bySeries(h.sink.last()).get(`zipped{env="prod", instance="${target.address}", job="app"}`)?.value, 42);
  assert.equal(accept, 'text/plain;version=0.0.4;q=0.3,application/openmetrics-text;version=1.0.0;q=0.2,*/*;q=0.1');
  assert.equal(acceptHeader(['PrometheusProto', 'PrometheusText0.0.4']), 'text/plain;version=0.0.4;q=0.2,*/*;q=0.1');
  // enable_compression: false asks for the page as it is
  const plain = await startScraping(job(target.address, '    enable_compression: false\n'));
  t.after(() => plain.close());
  const [loop2] = await plain.loops('app');
  await loop2.scrapeOnce();
  assert.equal(bySeries(plain.sink.last()).get(`zipped{env="prod", instance="${target.address}", job="app"}`)?.value, 0);
});

test('schedule: a fixed phase per target within the interval', () => {
  const interval = 15_000;
  for (const [now, phase] of [
    [1_000_000, 3_000],
    [1_003_000, 3_000],
    [1_014_999, 14_999],
    [1_015_000, 0],
  ] as const) {
    const t = nextScrapeTime(now, interval, phase);
    assert.ok(t > now && t - now <= interval, `${now} ${phase} -> ${t}`);
    assert.equal(t % interval, phase % interval);
  }
});

test('proxy_url: the scrape goes through the proxy', async (t) => {
  const target = await startTarget();
  target.page('via_proxy 1\n');
  const proxy = await startProxy(t);
  const h = await startScraping(job(target.address, `    proxy_url: ${proxy.url}\n`));
  t.after(async () => {
    await h.close();
    await target.close();
  });
  const [loop] = await h.loops('app');
  await loop.scrapeOnce();
  assert.equal(loop.status().health, 'up', loop.status().lastError);
  assert.equal(bySeries(h.sink.last()).get(`via_proxy{env="prod", instance="${target.address}", job="app"}`)?.value, 1);
  // absolute form, as Prometheus and vmagent send a plain-http target's request; no tunnel
  assert.deepEqual(proxy.requests, [`GET http://${target.address}/metrics`]);
  assert.deepEqual(proxy.tunnels, []);
});
