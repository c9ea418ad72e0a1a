/**
 * The scrape pages over real HTTP, fed by a ScrapeStatusSource built from plain objects with
 * jobs and targets in every state: /api/v1/targets in Prometheus' exact shape and with its
 * filters, /targets as HTML (state and job filters, hostile text escaped) and as text for curl,
 * and /service-discovery naming the rule that dropped each target and linking to the debugger.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relabelConfigsSchema } from '../../src/config/relabel.js';
import { Labels } from '../../src/model/labels.js';
import { registerRelabelDebugPages } from '../../src/relabel/debugger/index.js';
import { registerScrapePages } from '../../src/scrape/pages/index.js';
import type { ActiveTargetStatus, ScrapePoolStatus, ScrapeStatusSource, TargetHealth } from '../../src/scrape/status.js';
import type { PageRegistry } from '../../src/ui/index.js';
import { withPageServer } from '../helpers/page-server.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderTargetsText } from '../../src/scrape/pages/targets-page.js';
import { renderServiceDiscoveryBody } from '../../src/scrape/pages/service-discovery-page.js';
import { selfMetricValue, startScraping, waitFor } from '../helpers/scrape-harness.js';

const HOSTILE = '</td><script>alert("x")</script>&';
const NOW = Date.now();

function target(pool: string, host: string, health: TargetHealth, extra: Partial<ActiveTargetStatus> = {}): ActiveTargetStatus {
  return {
    scrapePool: pool,
    scrapeUrl: `http://${host}/metrics`,
    discoveredLabels: Labels.fromRecord({ __address__: host, __metrics_path__: '/metrics', __scheme__: 'http', job: pool }),
    labels: Labels.fromRecord({ instance: host, job: pool }),
    health,
    lastError: health === 'down' ? `Get "http://${host}/metrics": connection refused` : '',
    lastScrapeMs: health === 'unknown' ? 0 : NOW - 3_200,
    lastScrapeDurationSeconds: health === 'unknown' ? 0 : 0.0123,
    lastSamples: health === 'up' ? 321 : 0,
    lastSamplesScraped: health === 'up' ? 400 : 0,
    scrapesTotal: health === 'unknown' ? 0 : 12,
    scrapesFailed: health === 'down' ? 5 : 0,
    scrapeIntervalMs: 15_000,
    scrapeTimeoutMs: 10_000,
    ...extra,
  };
}

const nodeRules = relabelConfigsSchema.parse([
  { source_labels: ['__meta_env'], regex: 'test', action: 'drop' },
  { source_labels: ['__meta_team'], regex: 'infra|web', action: 'keep' },
  { action: 'labelmap', regex: '__meta_(team)' },
]);

const POOLS: ScrapePoolStatus[] = [
  {
    name: 'node',
    relabelConfigs: nodeRules,
    active: [
      target('node', '10.0.0.1:9100', 'up', { lastScrapeMs: Date.UTC(2026, 10, 22, 5, 0, 0, 120) }),
      target('node', '10.0.0.2:9100', 'down', {
        lastError: `line one\nline two ${HOSTILE}`,
        labels: Labels.fromRecord({ instance: '10.0.0.2:9100', job: 'node', note: HOSTILE }),
      }),
    ],
    dropped: [
      { scrapePool: 'node', discoveredLabels: Labels.fromRecord({ __address__: '10.0.0.3:9100', __meta_env: 'test', __meta_team: 'infra' }) },
      { scrapePool: 'node', discoveredLabels: Labels.fromRecord({ __address__: '10.0.0.4:9100', __meta_team: 'sales' }) },
    ],
    droppedCount: 5,
    otherMembers: [],
    discoveryProblems: [],
  },
  {
    name: 'api',
    relabelConfigs: [],
    active: [target('api', 'api-1:8080', 'unknown'), target('api', 'api-2:8080', 'up')],
    dropped: [],
    droppedCount: 0,
    otherMembers: [],
    discoveryProblems: [],
  },
  { name: 'blackbox', relabelConfigs: [], active: [], dropped: [], droppedCount: 0, otherMembers: [], discoveryProblems: [] },
];

const source: ScrapeStatusSource = { pools: () => POOLS };

/** The scrape pages over `status`, with the debugger their links lead to. */
function withPages(fn: (base: string, pages: PageRegistry) => Promise<void>, status: ScrapeStatusSource = source): Promise<void> {
  return withPageServer((server, pages) => {
    registerScrapePages(server, pages, status);
    registerRelabelDebugPages(server, pages);
  }, fn);
}

interface Discovery {
  status: string;
  data: {
    activeTargets: Record<string, unknown>[];
    droppedTargets: { discoveredLabels: Record<string, string>; scrapePool: string }[];
    droppedTargetCounts: Record<string, number> | null;
  };
}

async function api(base: string, query = ''): Promise<Discovery> {
  const res = await fetch(`${base}/api/v1/targets${query}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
  return (await res.json()) as Discovery;
}

const allActive = POOLS.flatMap((p) => p.active);
const allDropped = POOLS.flatMap((p) => p.dropped);
const byName = [...POOLS].sort((a, b) => a.name.localeCompare(b.name));

test("/api/v1/targets has Prometheus' shape, field for field", async () => {
  await withPages(async (base) => {
    const body = await api(base);
    assert.equal(body.status, 'success');
    assert.deepEqual(Object.keys(body.data), ['activeTargets', 'droppedTargets', 'droppedTargetCounts']);
    assert.equal(body.data.activeTargets.length, allActive.length);
    // pools in name order, as Prometheus sorts them
    assert.deepEqual(
      body.data.activeTargets.map((t) => t.scrapeUrl),
      byName.flatMap((p) => p.active.map((t) => t.scrapeUrl)),
    );
    for (const t of body.data.activeTargets) {
      assert.deepEqual(Object.keys(t), [
        'discoveredLabels', 'labels', 'scrapePool', 'scrapeUrl', 'globalUrl', 'lastError',
        'lastScrape', 'lastScrapeDuration', 'health', 'scrapeInterval', 'scrapeTimeout',
      ]);
      const src = allActive.find((s) => s.scrapeUrl === t.scrapeUrl)!;
      assert.deepEqual(t.discoveredLabels, src.discoveredLabels.toRecord());
      assert.deepEqual(t.labels, src.labels.toRecord());
      assert.equal(t.scrapePool, src.scrapePool);
      assert.equal(t.globalUrl, src.scrapeUrl);
      assert.equal(t.lastError, src.lastError);
      assert.equal(t.health, src.health);
      assert.equal(t.lastScrapeDuration, src.lastScrapeDurationSeconds);
      assert.equal(t.scrapeInterval, '15s');
      assert.equal(t.scrapeTimeout, '10s');
      if (src.lastScrapeMs === 0) assert.equal(t.lastScrape, '0001-01-01T00:00:00Z');
      else {
        assert.match(String(t.lastScrape), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/, 'RFC 3339, fraction without trailing zeros');
        assert.equal(Date.parse(String(t.lastScrape)), src.lastScrapeMs);
      }
    }
    assert.ok(body.data.activeTargets.some((t) => t.lastScrape === '2026-11-22T05:00:00.12Z'), "Go's RFC3339Nano drops trailing zeros");
    assert.deepEqual(
      body.data.droppedTargets,
      byName.flatMap((p) => p.dropped.map((d) => ({ discoveredLabels: d.discoveredLabels.toRecord(), scrapePool: p.name }))),
    );
    assert.deepEqual(body.data.droppedTargetCounts, Object.fromEntries(POOLS.map((p) => [p.name, p.droppedCount])));
  });
});

test('/api/v1/targets filters by state and scrapePool as Prometheus does', async () => {
  await withPages(async (base) => {
    const active = await api(base, '?state=active');
    assert.equal(active.data.activeTargets.length, allActive.length);
    assert.deepEqual(active.data.droppedTargets, []);
    assert.equal(active.data.droppedTargetCounts, null);

    const dropped = await api(base, '?state=Dropped');
    assert.deepEqual(dropped.data.activeTargets, []);
    assert.equal(dropped.data.droppedTargets.length, allDropped.length);
    assert.ok(dropped.data.droppedTargetCounts !== null);

    const any = await api(base, '?state=any');
    assert.equal(any.data.activeTargets.length + any.data.droppedTargets.length, allActive.length + allDropped.length);

    const node = await api(base, '?scrapePool=node');
    assert.ok(node.data.activeTargets.length > 0 && node.data.activeTargets.every((t) => t.scrapePool === 'node'));
    assert.ok(node.data.droppedTargets.every((t) => t.scrapePool === 'node'));
    assert.deepEqual(Object.keys(node.data.droppedTargetCounts ?? {}).sort(), POOLS.map((p) => p.name).sort(), 'counts cover every pool');

    const nothing = await api(base, '?state=bogus');
    assert.deepEqual([nothing.data.activeTargets, nothing.data.droppedTargets, nothing.data.droppedTargetCounts], [[], [], null]);
    assert.deepEqual((await api(base, '?scrapePool=nope')).data.activeTargets, []);
  });
});

async function page(base: string, path: string): Promise<string> {
  const res = await fetch(base + path, { headers: { accept: 'text/html' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  return res.text();
}

const rowsOf = (html: string, state: TargetHealth) => html.split(`<tr class="target state-${state}">`).length - 1;

test('/targets lists every job and target, filters by state and job, and escapes what targets report', async () => {
  await withPages(async (base) => {
    const all = await page(base, '/targets');
    for (const s of ['up', 'down', 'unknown'] as const) assert.equal(rowsOf(all, s), allActive.filter((t) => t.health === s).length, s);
    for (const p of POOLS) {
      const up = p.active.filter((t) => t.health === 'up').length;
      assert.ok(all.includes(`${p.name} <span class="${up === p.active.length ? 'muted' : 'bad'}">(${up}/${p.active.length} up)</span>`), p.name);
    }
    assert.doesNotMatch(all, /<script>/);
    assert.ok(all.includes('&lt;/td&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;'), 'hostile label and error shown escaped');
    assert.match(all, /<span title="2026-11-22T05:00:00.120Z">\d[\dwdhms. ]* ago<\/span>/, 'relative time with the absolute one in the title');
    assert.match(all, /<span class="muted">never<\/span>/, 'a target not scraped yet');

    for (const s of ['up', 'down', 'unknown'] as const) {
      const only = await page(base, `/targets?state=${s}`);
      for (const other of ['up', 'down', 'unknown'] as const) {
        assert.equal(rowsOf(only, other), other === s ? allActive.filter((t) => t.health === s).length : 0, `${s}: ${other}`);
      }
      assert.match(only, new RegExp(`<a href="/targets\\?state=${s}" aria-current="true">`));
      // a job with no target in that state is left out
      for (const p of POOLS) assert.equal(only.includes(`data-job="${p.name}"`), p.active.some((t) => t.health === s), `${s}: ${p.name}`);
    }
    const api = await page(base, '/targets?job=api&state=any');
    assert.ok(api.includes('data-job="api"') && !api.includes('data-job="node"'));
    assert.equal(rowsOf(api, 'up') + rowsOf(api, 'unknown'), POOLS[1].active.length);

    const collapsed = await page(base, '/targets?collapse=healthy');
    assert.match(collapsed, /data-job="node">\n<details open>/, 'a job with a target down stays open');
    assert.match(collapsed, /data-job="blackbox">\n<details>/, 'a job with nothing down folds');
  });
});

test('/targets for curl: a line per target under a line per job, as vmagent prints them', async () => {
  await withPages(async (base) => {
    for (const init of [{ headers: { accept: 'text/plain' } }, {}]) {
      const res = await fetch(`${base}/targets`, init);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const lines = (await res.text()).trimEnd().split('\n');
      assert.equal(lines.length, POOLS.length + allActive.length, 'an error with a line break stays on its line');
      let pool: ScrapePoolStatus | undefined;
      let i = 0;
      for (const line of lines) {
        if (!line.startsWith('\t')) {
          pool = POOLS.find((p) => line.startsWith(`job=${JSON.stringify(p.name)} `));
          assert.ok(pool, line);
          assert.ok(line.endsWith(`(${pool.active.filter((t) => t.health === 'up').length}/${pool.active.length} up)`), line);
          i = 0;
          continue;
        }
        const t = pool!.active[i++];
        const m = /^\tstate=(\w+), endpoint=(\S+), labels=(\{.*\}), scrapes_total=(\d+), scrapes_failed=(\d+), last_scrape=(never|[\d.]+s ago), scrape_duration=([\d.]+)s, samples=(\d+), error=(.*)$/.exec(line);
        assert.ok(m, line);
        const [scrapes, failed] = m.splice(4, 2).map(Number);
        assert.deepEqual([scrapes, failed], [t.scrapesTotal, t.scrapesFailed]);
        assert.equal(m[1], t.health);
        assert.equal(m[2], t.scrapeUrl);
        assert.equal(m[3], t.labels.toString());
        assert.equal(m[4] === 'never', t.lastScrapeMs === 0);
        assert.equal(Number(m[5]), Number(t.lastScrapeDurationSeconds.toFixed(3)));
        assert.equal(Number(m[6]), t.lastSamples);
        assert.equal(m[7], t.lastError.replace(/\s+/g, ' '));
      }
    }
    const down = await (await fetch(`${base}/targets?format=text&state=down`)).text();
    assert.equal(down.split('\n').filter((l) => l.startsWith('\tstate=')).length, allActive.filter((t) => t.health === 'down').length);
    assert.ok(down.split('\n').every((l) => !l.startsWith('\t') || l.startsWith('\tstate=down')));
  });
});

test('/targets as JSON is the API answer for what the page shows', async () => {
  await withPages(async (base) => {
    const res = await fetch(`${base}/targets?state=down`, { headers: { accept: 'application/json' } });
    const body = (await res.json()) as Discovery;
    assert.deepEqual(body.data.activeTargets.map((t) => t.scrapeUrl), allActive.filter((t) => t.health === 'down').map((t) => t.scrapeUrl));
    assert.deepEqual(body.data.droppedTargets, []);
  });
});

test('/service-discovery names the rule that dropped each target and links to the debugger with it', async () => {
  await withPages(async (base) => {
    const html = await page(base, '/service-discovery');
    const node = POOLS[0];
    const section = html.slice(html.indexOf('data-job="node"'), html.indexOf('data-job="api"'));
    assert.ok(section.includes(`(${node.active.length} / ${node.active.length + node.droppedCount} active targets, ${node.droppedCount} dropped)`));
    assert.ok(section.includes(`${node.droppedCount - node.dropped.length} dropped targets are not kept`));
    const rows = section.split('<tr class="dropped">').slice(1);
    assert.equal(rows.length, node.dropped.length);
    // the first is dropped by the drop rule, the second by the keep rule
    const expected = [
      [0, 'drop'],
      [1, 'keep'],
    ] as const;
    for (const [i, row] of rows.entries()) {
      const [index, action] = expected[i];
      assert.ok(row.includes(`<code class="rule-index">[${index}]</code> (<code class="action">${action}</code>)`), row);
      assert.equal(nodeRules[index].action, action);
      const href = /<a class="debug" href="([^"]+)"/.exec(row)?.[1].replaceAll('&amp;', '&');
      assert.ok(href?.startsWith('/target-relabel-debug?'), row);
      const res = await fetch(`${base}${href}&format=json`);
      const debug = (await res.json()) as { data: { labels: Record<string, string>; result: { status: string; ruleIndex: number } } };
      assert.deepEqual(debug.data.labels, node.dropped[i].discoveredLabels.toRecord(), 'the link carries the discovered labels');
      assert.deepEqual(debug.data.result, { status: 'dropped', step: index + 1, ruleIndex: index }, 'and the job’s rules');
    }
    assert.equal(section.split('<tr class="active">').length - 1, node.active.length);
    assert.doesNotMatch(html, /<script>/);

    const onlyApi = await page(base, '/service-discovery?job=api');
    assert.ok(onlyApi.includes('data-job="api"') && !onlyApi.includes('data-job="node"'));
  });
});

test('a dropped target too long for a link gets a form that posts to the debugger', async () => {
  const long = Labels.fromRecord({ __address__: 'h:1', __meta_env: 'test', __meta_blob: 'x'.repeat(9000) });
  const pools: ScrapePoolStatus[] = [
    { name: 'big', relabelConfigs: nodeRules, active: [], dropped: [{ scrapePool: 'big', discoveredLabels: long }], droppedCount: 1, otherMembers: [], discoveryProblems: [] },
  ];
  await withPages(async (base) => {
    const html = await page(base, '/service-discovery');
    assert.doesNotMatch(html, /<a class="debug"/);
    const form = /<form class="debug" method="post" action="([^"]+)">(.*?)<\/form>/s.exec(html);
    assert.ok(form);
    const fields = new URLSearchParams();
    for (const m of form[2].matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)) {
      fields.set(m[1], m[2].replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&'));
    }
    const res = await fetch(`${base}${form[1]}?format=json`, { method: 'POST', body: fields });
    const debug = (await res.json()) as { data: { labels: Record<string, string>; result: { status: string; ruleIndex: number } } };
    assert.deepEqual(debug.data.labels, long.toRecord());
    assert.equal(debug.data.result.ruleIndex, 0);
  }, { pools: () => pools });
});

test('the pages are registered for the navigation and the index', async () => {
  await withPages(async (_base, pages) => {
    const listed = new Map(pages.list().map((p) => [p.path, p.nav !== false]));
    assert.equal(listed.get('/targets'), true);
    assert.equal(listed.get('/service-discovery'), true);
    assert.equal(listed.get('/api/v1/targets'), false);
  });
});

test('a job whose service discovery fails says so on /targets and /service-discovery, counts it, and clears once it works', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-sd-problem-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'targets.json');
  writeFileSync(file, '[{"targets": ["127.0.0.1:9"]}]');
  const h = await startScraping(`scrape_configs:
  - job_name: filed
    file_sd_configs: [{files: ['${file}'], refresh_interval: 100ms}]
`);
  t.after(() => h.close());
  assert.equal(h.manager.pools()[0].active.length, 1);
  writeFileSync(file, '[{"targets": ["127.0.0.1:9"], ');
  const [problem] = await waitFor('a discovery problem', () => h.manager.pools()[0].discoveryProblems.length > 0 && h.manager.pools()[0].discoveryProblems, 5000);
  assert.match(problem.message, /targets\.json/);
  assert.equal(h.manager.pools()[0].active.length, 1, 'the last targets stand');
  assert.ok(selfMetricValue(h.registry, 'tributary_discovery_failures_total', { job: 'filed' }) >= 1);
  const text = renderTargetsText(h.manager.pools(), { state: undefined, job: undefined, collapseHealthy: false }, Date.now());
  assert.match(text, /\tdiscovery failing for [\d.]+s \(its last targets stand\): .*targets\.json/);
  assert.match(renderServiceDiscoveryBody(h.manager.pools(), undefined).toString(), /discovery failing for/);
  writeFileSync(file, '[{"targets": ["127.0.0.1:9", "127.0.0.1:10"]}]');
  await waitFor('the problem cleared', () => h.manager.pools()[0].discoveryProblems.length === 0 && h.manager.pools()[0].active.length === 2, 5000);
});
