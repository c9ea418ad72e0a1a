/**
 * The gateway's pulled sources at their edges, end to end on a running Tributary:
 * - the same bytes give the same series whichever kind of source they come from (HTTP, file,
 *   script), including a page that repeats its families without `# TYPE` and one larger than
 *   the outbound client's 64 KiB read chunks;
 * - a file caught while it is written is not read as complete;
 * - a page that is not valid UTF-8 is refused (pulled or pushed);
 * - pushes may not take the name of a configured source or of Tributary itself;
 * - a family with no sample the text format can write leaves no HELP/TYPE behind.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fromPage } from '../../bench/exporter-pages.js';
import { PROMTOOL, requirePeer } from '../helpers/peers.js';
import { readNodeExporterPage } from '../helpers/fixtures.js';
import {
  appsJson,
  bytesExporter,
  fileSource,
  gatewayYaml,
  get,
  httpSource,
  promtoolCheck,
  put,
  serveExporter,
  sleep,
  testDir,
  withTributary,
  type AppJson,
} from '../helpers/gateway-harness.js';
import { rng } from '../helpers/seeded-random.js';

const CAT = '/bin/cat';

// ------------------------------------------------------------------ helpers

/** A page that must come with 200. */
async function page(url: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await get(url, headers);
  assert.equal(r.status, 200, `GET ${url}: ${r.status} ${r.body}`);
  return r.body;
}

async function app(base: string, name: string): Promise<AppJson> {
  const a = (await appsJson(base)).find((x) => x.name === name);
  assert.ok(a, `${name} on /apps`);
  return a;
}

function upLine(source: string, kind: string, up: 0 | 1): RegExp {
  return new RegExp(`^tributary_source_up\\{exporter_name="tributary",kind="${kind}",source="${source}"\\} ${up}$`, 'm');
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function sampleValue(text: string): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    default:
      return Number(text);
  }
}

/**
 * The sample lines of a text-format page as series → value, the series written canonically
 * (`name{labels sorted}`, empty label values left out), `exporter_name` taken out. `exporter`: only lines of that source
 * (undefined: lines without an `exporter_name`, i.e. a source page). Read independently of
 * Tributary's parser. Throws on a series seen twice.
 */
function seriesOf(text: string, exporter: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const close = line.lastIndexOf('}');
    let name: string;
    let rest: string;
    const labels: [string, string][] = [];
    if (brace >= 0 && brace < line.indexOf(' ')) {
      name = line.slice(0, brace);
      // A label with an empty value is no label (Prometheus' rule).
      for (const m of line.slice(brace + 1, close).matchAll(LABEL)) if (m[2] !== '') labels.push([m[1], m[2]]);
      rest = line.slice(close + 1).trim();
    } else {
      const sp = line.indexOf(' ');
      name = line.slice(0, sp);
      rest = line.slice(sp + 1).trim();
    }
    const source = labels.find(([k]) => k === 'exporter_name')?.[1];
    if (source !== exporter) continue;
    const key = name + '{' + labels.filter(([k]) => k !== 'exporter_name').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}="${v}"`).join(',') + '}';
    assert.ok(!out.has(key), `series ${key} twice (exporter ${exporter})`);
    out.set(key, sampleValue(rest.split(' ')[0]));
  }
  return out;
}

function assertSameSeries(actual: Map<string, number>, expected: Map<string, number>, what: string): void {
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !expected.has(k));
  assert.deepEqual({ missing: missing.slice(0, 10), extra: extra.slice(0, 10) }, { missing: [], extra: [] }, `${what}: ${missing.length} missing, ${extra.length} extra`);
  const wrong: string[] = [];
  for (const [k, v] of expected) if (!Object.is(actual.get(k), v)) wrong.push(`${k}: ${actual.get(k)} instead of ${v}`);
  assert.deepEqual(wrong.slice(0, 10), [], `${what}: ${wrong.length} values differ`);
}

// ------------------------------------------------------------------ same bytes, same result

test('same bytes, same result: the bench page (node_exporter × 2, families repeated without TYPE) over HTTP, from a file and from a script gives the same 1,014 series', { timeout: 60_000 }, async (t) => {
  const template = readNodeExporterPage();
  const withPromtool = requirePeer(t, PROMTOOL, 'prometheus');
  const dir = testDir(t, 'tributary-edges-same-');
  let round = 0;
  const exp = await bytesExporter(() => fromPage(template, round, 2));
  t.after(() => exp.close());
  const file = join(dir, 'bench.prom');
  writeFileSync(file, fromPage(template, 0, 2));
  const yaml = gatewayYaml({
    'via-http': httpSource(exp.url),
    'via-file': fileSource(file),
    'via-script': `script: { command: "${CAT}", args: ["${file}"] }`,
  });
  await withTributary(yaml, async ({ base }) => {
    for (round = 0; round < 3; round++) {
      const bytes = fromPage(template, round, 2);
      assert.ok(bytes.length > 64 * 1024, 'the page is larger than one 64 KiB read');
      writeFileSync(file, bytes);
      const expected = seriesOf(bytes.toString('utf8'), undefined);
      assert.equal(expected.size, 1014, 'the bench page has 1,014 series');
      const merged = await page(`${base}/metrics`);
      const got = ['via-http', 'via-file', 'via-script'].map((s) => seriesOf(merged, s));
      for (const [i, s] of ['via-http', 'via-file', 'via-script'].entries()) {
        assert.equal(got[i].size, 1014, `round ${round}: ${s} has ${got[i].size} series`);
        assertSameSeries(got[i], expected, `round ${round}: ${s} against the source page`);
      }
      assert.deepEqual([...got[1]], [...got[0]], `round ${round}: file and HTTP`);
      assert.deepEqual([...got[2]], [...got[0]], `round ${round}: script and HTTP`);
      for (const s of ['via-http', 'via-file', 'via-script']) {
        const kind = s.slice(4);
        assert.match(merged, upLine(s, kind, 1), `round ${round}: ${s} up`);
        assert.match(merged, new RegExp(`^tributary_source_samples\\{exporter_name="tributary",source="${s}"\\} 1014$`, 'm'));
      }

      // One TYPE per family, the source's; the second copy's samples sit under it.
      const types = new Map<string, string>();
      for (const m of bytes.toString('utf8').matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2]);
      const written = [...merged.matchAll(/^# TYPE (\S+) (\S+)$/gm)];
      const perName = new Map<string, number>();
      for (const m of written) perName.set(m[1], (perName.get(m[1]) ?? 0) + 1);
      assert.deepEqual([...perName].filter(([, n]) => n > 1), [], 'a family with two TYPE lines');
      for (const m of written) if (types.has(m[1])) assert.equal(m[2], types.get(m[1]), `TYPE of ${m[1]}`);
      for (const [name, type] of types) assert.ok(written.some((m) => m[1] === name && m[2] === type), `# TYPE ${name} ${type} on the page`);

      if (round === 0 && withPromtool) {
        // Prometheus' own parser and linter: no error, no warning the source page does not have.
        const source = promtoolCheck(bytes.toString('utf8'));
        const check = promtoolCheck(merged);
        assert.ok(!check.lines.some((l) => /error while linting/i.test(l)), check.lines.join('\n'));
        assert.ok(check.status === 0 || check.status === 3, `promtool exited ${check.status}:\n${check.lines.join('\n')}`);
        const before = new Set(source.lines);
        assert.deepEqual(check.lines.filter((l) => !before.has(l)), [], 'lint warnings the gateway page adds');
      }
    }
  });
});

test('a page larger than 64 KiB over HTTP (Content-Length, and chunked in odd pieces) keeps every value exact across changing pages', { timeout: 60_000 }, async (t) => {
  const N = 4000;
  const pages: { body: Buffer; values: number[] }[] = [];
  for (let round = 0; round < 4; round++) {
    const r = rng(1000 + round);
    const lines = ['# HELP big_value Values with many digits.', '# TYPE big_value gauge'];
    const values: number[] = [];
    for (let i = 0; i < N; i++) {
      const x = r();
      // Full-precision doubles, small and large, negative, integers, exponents.
      const v = i % 7 === 0 ? Math.round(x * 1e12) : i % 7 === 1 ? -x * 1e-9 : i % 7 === 2 ? x * 1e300 : x * 10 ** ((i % 13) - 6);
      values.push(v);
      lines.push(`big_value{idx="${i}",pad="${'p'.repeat(1 + (i % 23))}"} ${v}`);
    }
    pages.push({ body: Buffer.from(lines.join('\n') + '\n'), values });
  }
  assert.ok(pages[0].body.length > 3 * 64 * 1024, `page of ${pages[0].body.length} bytes`);
  let current = 0;
  const withLength = await bytesExporter(() => pages[current].body);
  t.after(() => withLength.close());
  const chunked = await serveExporter((_req, res) => {
    const b = pages[current].body;
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    // Pieces that end anywhere: mid-number, mid-label, right after a newline.
    let at = 0;
    let n = 0;
    const sizes = [1, 7_001, 65_535, 65_536, 65_537, 13, 40_000];
    const next = (): void => {
      if (at >= b.length) {
        res.end();
        return;
      }
      const end = Math.min(b.length, at + sizes[n++ % sizes.length]);
      res.write(b.subarray(at, end));
      at = end;
      setImmediate(next);
    };
    next();
  });
  t.after(() => chunked.close());
  const yaml = gatewayYaml({ length: httpSource(withLength.url), chunked: httpSource(chunked.url) }, '  paths:\n    - path: /metrics\n      self_metrics: false\n');
  await withTributary(yaml, async (tr) => {
    for (const round of [0, 1, 2, 3, 1, 1]) {
      current = round;
      const merged = await page(`${tr.base}/metrics`);
      for (const source of ['length', 'chunked']) {
        const got = seriesOf(merged, source);
        assert.equal(got.size, N, `round ${round}: ${source} has ${got.size} series`);
        const wrong: string[] = [];
        pages[round].values.forEach((v, i) => {
          const key = `big_value{idx="${i}",pad="${'p'.repeat(1 + (i % 23))}"}`;
          if (!Object.is(got.get(key), v)) wrong.push(`${key}: ${got.get(key)} instead of ${v}`);
        });
        assert.deepEqual(wrong.slice(0, 10), [], `round ${round}, ${source}: ${wrong.length} values not exact`);
      }
    }
  });
});

// ------------------------------------------------------------------ half-written files

test('half-written files: a last line without its newline is not complete; the last complete version is served, marked down, until the newline comes', { timeout: 30_000 }, async (t) => {
  const dir = testDir(t, 'tributary-edges-half-');
  const half = join(dir, 'half.prom');
  const never = join(dir, 'never.prom');
  const om = join(dir, 'om.prom');
  writeFileSync(half, 'a 1\nb 1234\n');
  writeFileSync(never, 'never_a 1\nnever_b 2');
  writeFileSync(om, '# TYPE om_value gauge\nom_value{k="x"} 5\n# EOF');
  await withTributary(gatewayYaml({ half: fileSource(half), never: fileSource(never), om: fileSource(om) }), async ({ base }) => {
    let p = await page(`${base}/metrics`);
    assert.match(p, /^a\{exporter_name="half"\} 1$/m);
    assert.match(p, /^b\{exporter_name="half"\} 1234$/m);
    assert.match(p, upLine('half', 'file', 1));
    // Never complete: nothing from it, down, and why.
    assert.doesNotMatch(p, /^never_/m);
    assert.match(p, upLine('never', 'file', 0));
    assert.match((await app(base, 'never')).lastError ?? '', /being written/);
    assert.equal((await app(base, 'never')).series, 0);
    // OpenMetrics: `# EOF` ends the page, with or without a newline after it.
    assert.match(p, /^om_value\{exporter_name="om",k="x"\} 5$/m);
    assert.match(p, upLine('om', 'file', 1));
    assert.equal((await app(base, 'om')).lastError, undefined);

    // The writer is in the middle of `12345\n`: `b 12` so far.
    writeFileSync(half, 'a 1\nb 12');
    for (let i = 0; i < 2; i++) {
      p = await page(`${base}/metrics`);
      assert.match(p, /^b\{exporter_name="half"\} 1234$/m, 'the last complete version');
      assert.doesNotMatch(p, /^b\{exporter_name="half"\} 12$/m, 'not the half-written value');
      assert.match(p, /^a\{exporter_name="half"\} 1$/m);
      assert.match(p, upLine('half', 'file', 0));
      const h = await app(base, 'half');
      assert.match(h.lastError ?? '', /being written/, `reason: ${h.lastError}`);
      assert.equal(h.series, 2);
    }

    // The rest of the line and its newline.
    writeFileSync(half, 'a 1\nb 12345\n');
    p = await page(`${base}/metrics`);
    assert.match(p, /^b\{exporter_name="half"\} 12345$/m);
    assert.match(p, upLine('half', 'file', 1));
    assert.equal((await app(base, 'half')).lastError, undefined);

    // The never-complete file completed: served.
    writeFileSync(never, 'never_a 1\nnever_b 2\n');
    p = await page(`${base}/metrics`);
    assert.match(p, /^never_b\{exporter_name="never"\} 2$/m);
    assert.match(p, upLine('never', 'file', 1));
  });
});

/**
 * What is guaranteed for a file rewritten in place (truncated, then written in pieces) while
 * scrapes read it: as long as the writer pauses only in the middle of a line, a scrape serves
 * either the whole new version or the last complete one, never a part. A pause exactly at a
 * line end (or right after the truncation, an empty file) leaves a file that looks complete and
 * cannot be told from a finished one: writers should write a temporary file and rename it into
 * place. Here the truncation and the first piece are written without a pause, every later
 * pause is mid-line.
 */
test('an in-place rewrite of a 3,000-series file in pieces: every scrape serves all 3,000 series of one complete version, never a partial set', { timeout: 60_000 }, async (t) => {
  const N = 3000;
  const dir = testDir(t, 'tributary-edges-rewrite-');
  const file = join(dir, 'rw.prom');
  const version = (v: number): Buffer => {
    const lines = ['# HELP rw_value A file rewritten in place.', '# TYPE rw_value gauge'];
    for (let i = 0; i < N; i++) lines.push(`rw_value{i="${i}"} ${v}`);
    return Buffer.from(lines.join('\n') + '\n');
  };
  writeFileSync(file, version(100));
  let writer: Promise<void> | undefined;
  let stopWriter = (): void => {};
  try {
    await withTributary(gatewayYaml({ rw: fileSource(file) }), async ({ base }) => {
      // The file is read at scrapes: one before the rewrites, so that a complete version is known.
      const first = await page(`${base}/metrics`);
      assert.equal(seriesOf(first, 'rw').size, N);
      assert.match(first, upLine('rw', 'file', 1));

      const VERSIONS = 8;
      let writing = true;
      let stop = false;
      stopWriter = () => {
        stop = true;
      };
      let written = 100;
      writer = (async () => {
        try {
          for (let v = 101; v <= 100 + VERSIONS && !stop; v++) {
            const bytes = version(v);
            // Cut points inside lines (never right after a newline), spread over the file.
            const cuts: number[] = [];
            for (let k = 1; k <= 5; k++) {
              let at = Math.floor((bytes.length * k) / 6);
              while (bytes[at - 1] === 0x0a) at++;
              cuts.push(at);
            }
            cuts.push(bytes.length);
            const fd = openSync(file, 'w'); // truncates
            try {
              let from = 0;
              for (const [i, to] of cuts.entries()) {
                if (i > 0) await sleep(15); // a pause, mid-line
                writeSync(fd, bytes, from, to - from);
                from = to;
              }
            } finally {
              closeSync(fd);
            }
            written = v;
            await sleep(60); // complete for a while: scrapes read this version
          }
        } finally {
          writing = false;
        }
      })();

      let scrapes = 0;
      let caughtWriting = 0;
      let last = 100;
      const seenVersions = new Set<number>();
      while (writing) {
        const p = await page(`${base}/metrics`);
        scrapes++;
        const got = seriesOf(p, 'rw');
        assert.equal(got.size, N, `scrape ${scrapes}: ${got.size} series instead of ${N}`);
        const values = new Set(got.values());
        assert.equal(values.size, 1, `scrape ${scrapes}: series from different versions: ${[...values].join(', ')}`);
        const v = [...values][0];
        // A version the writer had finished (the newest one the gateway could read whole, which
        // need not be the newest finished: one read in the middle of the next is kept), and
        // never an older one than a scrape before served.
        assert.ok(v >= last, `scrape ${scrapes}: version ${v} after ${last}`);
        assert.ok(v <= written, `scrape ${scrapes}: version ${v}, but the writer finished only ${written}`);
        last = v;
        seenVersions.add(v);
        if (/^tributary_source_up\{exporter_name="tributary",kind="file",source="rw"\} 0$/m.test(p)) caughtWriting++;
      }
      await writer;
      const p = await page(`${base}/metrics`);
      const final = seriesOf(p, 'rw');
      assert.equal(final.size, N);
      assert.deepEqual(new Set(final.values()), new Set([100 + VERSIONS]));
      assert.match(p, upLine('rw', 'file', 1));
      // Not vacuous: scrapes did meet the file half-written, and saw several versions.
      assert.ok(caughtWriting > 0, `${scrapes} scrapes, none caught the file being written`);
      assert.ok(seenVersions.size >= 3, `versions seen: ${[...seenVersions].join(', ')}`);
    });
  } finally {
    stopWriter();
    await writer;
  }
});

// ------------------------------------------------------------------ invalid UTF-8

const INVALID_UTF8 = Buffer.concat([Buffer.from('# TYPE bad_value gauge\nbad_value{v="'), Buffer.from([0xff, 0xfe]), Buffer.from('"} 2\nother_value 3\n')]);

test('invalid UTF-8 in a label value: a file or HTTP source\'s page is refused (no series, down, line and column on /apps), a push gets 400', { timeout: 30_000 }, async (t) => {
  const dir = testDir(t, 'tributary-edges-utf8-');
  const badHttp = await bytesExporter(() => INVALID_UTF8);
  t.after(() => badHttp.close());
  const goodHttp = await bytesExporter(() => Buffer.from('# TYPE fine_value gauge\nfine_value{v="ünïcödé ✓"} 1\n'));
  t.after(() => goodHttp.close());
  const badFile = join(dir, 'bad.prom');
  // Valid at first: its series are served, then gone once the file turns invalid.
  writeFileSync(badFile, '# TYPE bad_value gauge\nbad_value{v="ok"} 1\nother_value 3\n');
  await withTributary(gatewayYaml({ badfile: fileSource(badFile), badhttp: httpSource(badHttp.url), good: httpSource(goodHttp.url) }), async ({ base }) => {
    let p = await page(`${base}/metrics`);
    assert.match(p, /^bad_value\{exporter_name="badfile",v="ok"\} 1$/m);

    writeFileSync(badFile, INVALID_UTF8);
    for (let i = 0; i < 2; i++) {
      p = await page(`${base}/metrics`);
      assert.ok(!p.includes('\ufffd'), 'no replacement character on the page');
      for (const s of ['badfile', 'badhttp']) {
        assert.deepEqual([...seriesOf(p, s).keys()], [], `${s}: nothing of the refused page`);
      }
      assert.match(p, upLine('badfile', 'file', 0));
      assert.match(p, upLine('badhttp', 'http', 0));
      // Other sources are unaffected.
      assert.match(p, /^fine_value\{exporter_name="good",v="ünïcödé ✓"\} 1$/m);
      assert.match(p, upLine('good', 'http', 1));
    }
    for (const s of ['badfile', 'badhttp']) {
      const a = await app(base, s);
      assert.equal(a.series, 0);
      assert.match(a.lastError ?? '', /invalid UTF-8/i, `${s}: ${a.lastError}`);
      // `bad_value{v="` is 13 characters: the bad byte is line 2, column 14.
      assert.match(a.lastError ?? '', /line 2, column 14\b/, `${s}: ${a.lastError}`);
    }
    assert.equal((await app(base, 'good')).lastError, undefined);

    // The same bytes pushed: refused, naming the line; nothing stored.
    const r = await put(`${base}/metrics/job/x`, INVALID_UTF8);
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /invalid UTF-8/i);
    assert.match(r.body, /line 2\b/);
    p = await page(`${base}/metrics`);
    assert.deepEqual([...seriesOf(p, 'x').keys()], []);
  });
});

// ------------------------------------------------------------------ name collisions

test('name collisions: pushes as job "node" (a configured source) or "tributary" get 400 naming the conflict; tributary_build_info stays Tributary\'s own', { timeout: 30_000 }, async (t) => {
  const dir = testDir(t, 'tributary-edges-names-');
  writeFileSync(join(dir, 'node.prom'), '# TYPE node_value gauge\nnode_value 1\n');
  await withTributary(gatewayYaml({ node: fileSource(join(dir, 'node.prom')) }), async ({ base }) => {
    // Plain, with more grouping labels, and base64-encoded ("bm9kZQ" is "node").
    for (const path of ['/metrics/job/node', '/metrics/job/node/instance/i1', '/metrics/job@base64/bm9kZQ']) {
      const r = await put(base + path, '# TYPE node_value gauge\nnode_value 666\n');
      assert.equal(r.status, 400, `${path}: ${r.status} ${r.body}`);
      assert.match(r.body, /"node"/, r.body);
      assert.match(r.body, /configured source/, r.body);
    }
    const own = await put(`${base}/metrics/job/tributary`, '# TYPE tributary_build_info gauge\ntributary_build_info{version="forged"} 1\n');
    assert.equal(own.status, 400, own.body);
    assert.match(own.body, /"tributary"/, own.body);
    assert.match(own.body, /Tributary's own/, own.body);

    const p = await page(`${base}/metrics`);
    assert.deepEqual(seriesOf(p, 'node'), new Map([['node_value{}', 1]]), 'the source\'s series only');
    const build = p.split('\n').filter((l) => l.startsWith('tributary_build_info'));
    assert.equal(build.length, 1, build.join('\n'));
    assert.match(build[0], /^tributary_build_info\{exporter_name="tributary",[^}]*\} 1$/);
    assert.doesNotMatch(p, /forged/);
    assert.deepEqual((await appsJson(base)).map((a) => a.name), ['node'], 'no pushed app was created');
  });
});

// ------------------------------------------------------------------ empty family

test('a family with only a _created sample leaves no HELP/TYPE block on the text page, scrape after scrape', { timeout: 30_000 }, async (t) => {
  const dir = testDir(t, 'tributary-edges-empty-');
  // As an OpenMetrics exporter writes a counter that has no value yet: `x` sorts after every
  // other family, so it is the last one on the page; `a_created_only` is one in the middle.
  writeFileSync(join(dir, 'created.prom'), '# TYPE x counter\nx_created 1.7e9\n# EOF');
  writeFileSync(join(dir, 'mid.prom'), '# HELP a_created_only Created only.\n# TYPE a_created_only counter\na_created_only_created 1.7e9\n# TYPE b_gauge gauge\nb_gauge 2\n# EOF\n');
  await withTributary(gatewayYaml({ created: fileSource(join(dir, 'created.prom')), mid: fileSource(join(dir, 'mid.prom')) }), async (tr) => {
    // Several scrapes: later pages are made from the earlier ones (copies, patched values).
    for (let i = 0; i < 4; i++) {
      const r = await get(`${tr.base}/metrics`);
      assert.equal(r.status, 200, `scrape ${i}: ${r.status} ${r.body}`);
      assert.doesNotMatch(r.body, /^# (TYPE|HELP) x /m, `scrape ${i}`);
      assert.doesNotMatch(r.body, /^x_created/m, `scrape ${i}`);
      assert.doesNotMatch(r.body, /^# (TYPE|HELP) a_created_only /m, `scrape ${i}`);
      assert.doesNotMatch(r.body, /^a_created_only/m, `scrape ${i}`);
      assert.match(r.body, /^b_gauge\{exporter_name="mid"\} 2$/m, `scrape ${i}`);
      assert.match(r.body, upLine('created', 'file', 1), `scrape ${i}`);
      assert.match(r.body, upLine('mid', 'file', 1), `scrape ${i}`);
      // The page ends with a complete sample line of the last family written.
      assert.ok(r.body.endsWith('\n'), `scrape ${i}: ends with a newline`);
      assert.doesNotMatch(r.body.slice(r.body.lastIndexOf('\n', r.body.length - 2) + 1), /^#/, `scrape ${i}: ends with a header`);
    }
  });
});

test('a push whose family has another TYPE than a configured source shows it is refused with 400, not accepted and left off the page', async (t) => {
  const dir = testDir(t, 'tributary-push-vs-source-');
  writeFileSync(join(dir, 'node.prom'), '# TYPE node_load1 gauge\nnode_load1 0.5\n');
  await withTributary(gatewayYaml({ files: fileSource(join(dir, 'node.prom')) }), async ({ base }) => {
    await get(`${base}/metrics`); // the source is read on scrape
    const r = await put(`${base}/metrics/job/pusher`, '# TYPE node_load1 counter\nnode_load1 3\n');
    assert.equal(r.status, 400);
    assert.match(r.body, /family "node_load1" is counter here but gauge in source "files"/);
    const same = await put(`${base}/metrics/job/pusher`, '# TYPE node_load1 gauge\nnode_load1 3\n');
    assert.equal(same.status, 200, same.body);
    const page = (await get(`${base}/metrics`)).body;
    assert.match(page, /^node_load1\{exporter_name="pusher",instance="",job="pusher"\} 3$/m);
  });
});
