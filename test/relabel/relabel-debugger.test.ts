/**
 * The step-by-step trace against the engine (every Prometheus TestRelabel case, vmagent's `if:`,
 * a set emptied between rules, and seeded random rule lists), label sets read back from their
 * notation with errors placed by column, rules written back as YAML and read again, rule text
 * errors placed by line, and the debugger pages over real HTTP: JSON, HTML with hostile input,
 * the vmagent aliases' modes, and the size limit.
 */
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { relabelConfigsSchema, type RelabelConfig } from '../../src/config/relabel.js';
import { Labels } from '../../src/model/labels.js';
import { formatRelabelRule, formatRelabelRules } from '../../src/relabel/rule-text.js';
import {
  parseLabelSet,
  Relabeler,
  relabelOutcome,
  SelectorSyntaxError,
  traceRelabel,
} from '../../src/relabel/index.js';
import {
  readLabels,
  readRules as readRulesIsolated,
  type Read,
  registerRelabelDebugPages,
  RELABEL_DEBUG_MAX_INPUT_BYTES,
  relabelDebugHref,
} from '../../src/relabel/debugger/index.js';
import type { ConfigIssue } from '../../src/config/errors.js';
// the rule reader itself, in this process (the pages run it in the resolver's child)
import { readRulesText as readRules } from '../../src/config/relabel-rules-text.js';
import type { PageRegistry } from '../../src/ui/index.js';
import { withPageServer } from '../helpers/page-server.js';
import { PROMETHEUS_RELABEL_CASES } from '../helpers/relabel-cases.js';
import { rng } from '../helpers/seeded-random.js';

const rules = (raw: Record<string, unknown>[]): RelabelConfig[] => relabelConfigsSchema.parse(raw);

function firstIssue(read: Read<unknown>, input: string): ConfigIssue {
  assert.ok(!read.ok, input);
  return read.issues[0];
}

/** The trace's verdict in the engine's terms: the labels, or undefined when dropped. */
function traced(configs: readonly RelabelConfig[], input: Labels): Labels | undefined {
  const outcome = relabelOutcome(input, traceRelabel(configs, input));
  return outcome.kind === 'kept' ? outcome.labels : undefined;
}

// ---------------------------------------------------------------- trace

test('the trace ends where Relabeler.process does, on every Prometheus TestRelabel case', () => {
  for (const c of PROMETHEUS_RELABEL_CASES) {
    const configs = rules(c.rules);
    const input = Labels.fromRecord(c.input);
    const steps = traceRelabel(configs, input);
    assert.deepEqual(traced(configs, input)?.toRecord(), Relabeler.compile(configs).process(input)?.toRecord(), c.name);
    // each step starts from the one before; only a drop ends the trace early
    let before = input;
    for (const [i, s] of steps.entries()) {
      assert.equal(s.index, i, c.name);
      assert.ok(s.before.equals(before), c.name);
      assert.equal(s.rule, configs[i]);
      if (!s.dropped) before = s.after;
      else assert.equal(i, steps.length - 1, `${c.name}: nothing after the drop`);
    }
    if (steps.at(-1)?.dropped !== true) assert.equal(steps.length, configs.length, c.name);
  }
});

test('a set emptied between rules is not dropped there, as in the whole list', () => {
  const configs = rules([{ action: 'labeldrop', regex: '.*' }, { target_label: 'x', replacement: 'y' }]);
  const input = Labels.fromRecord({ a: 'b' });
  const steps = traceRelabel(configs, input);
  assert.equal(steps.length, 2);
  assert.ok(!steps[0].dropped && steps[0].after.size === 0);
  assert.deepEqual(traced(configs, input)?.toRecord(), { x: 'y' });
  assert.deepEqual(Relabeler.compile(configs).process(input)?.toRecord(), { x: 'y' });

  const emptying = rules([{ action: 'labelkeep', regex: 'nothing' }]);
  assert.deepEqual(relabelOutcome(input, traceRelabel(emptying, input)), { kind: 'emptied' });
  assert.equal(Relabeler.compile(emptying).process(input), undefined);
});

test("vmagent's if: a keep whose selector does not match drops at that rule; other actions are skipped", () => {
  const configs = rules([
    { if: '{env="dev"}', target_label: 'tier', replacement: 'low' },
    { action: 'keep', if: '{team="infra"}' },
    { target_label: 'after', replacement: 'yes' },
  ]);
  const other = Labels.fromRecord({ env: 'prod', team: 'web' });
  const steps = traceRelabel(configs, other);
  assert.equal(steps.length, 2);
  assert.ok(!steps[0].dropped && steps[0].after === steps[0].before, 'a skipped rule leaves the set as it was');
  assert.ok(steps[1].dropped);
  assert.equal(Relabeler.compile(configs).process(other), undefined);

  const infra = Labels.fromRecord({ env: 'dev', team: 'infra' });
  assert.deepEqual(traced(configs, infra)?.toRecord(), Relabeler.compile(configs).process(infra)?.toRecord());
  assert.deepEqual(traced(configs, infra)?.toRecord(), { env: 'dev', team: 'infra', tier: 'low', after: 'yes' });
});

test('seeded random rule lists: the trace agrees with the engine', () => {
  const random = rng(20261122);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const names = ['a', 'b', 'c', '__name__', '__tmp'];
  const values = ['', 'x', 'xy', 'y', 'prod'];
  const makers: (() => Record<string, unknown>)[] = [
    () => ({ source_labels: [pick(names)], regex: pick(['x.*', '(.*)', 'y']), target_label: pick(names), replacement: pick(['$1', 'v', '']) }),
    () => ({ action: 'keep', source_labels: [pick(names)], regex: pick(['x.*', '.*', 'prod']) }),
    () => ({ action: 'drop', source_labels: [pick(names), pick(names)], regex: pick(['x;.*', 'prod;prod', ';']) }),
    () => ({ action: 'labeldrop', regex: pick(['a', '__.*', 'b|c']) }),
    () => ({ action: 'labelkeep', regex: pick(['a|b', '.*', '__name__']) }),
    () => ({ action: 'labelmap', regex: pick(['(a)', '__(tmp)', '(.)']), replacement: 'm_$1' }),
    () => ({ action: 'hashmod', source_labels: [pick(names)], target_label: pick(names), modulus: 3 }),
    () => ({ action: pick(['keepequal', 'dropequal']), source_labels: [pick(names)], target_label: pick(names) }),
    () => ({ action: pick(['keep', 'drop']), if: `{${pick(names.slice(0, 3))}=${JSON.stringify(pick(values))}}` }),
    () => ({ if: `{a=~"x.*"}`, target_label: 'z', replacement: '{{b}}' }),
  ];
  for (let n = 0; n < 500; n++) {
    const raw = Array.from({ length: 1 + Math.floor(random() * 5) }, () => pick(makers)());
    const rec: Record<string, string> = {};
    for (const name of names) if (random() < 0.6) rec[name] = pick(values.slice(1));
    const configs = rules(raw);
    const input = Labels.fromRecord(rec);
    const what = `${input} with ${JSON.stringify(raw)}`;
    assert.deepEqual(traced(configs, input)?.toRecord(), Relabeler.compile(configs).process(input)?.toRecord(), what);
  }
});

// ---------------------------------------------------------------- label sets in notation

test('a label set reads the same from metric{...}, {__name__=...}, quoted names and escapes', () => {
  const a = parseLabelSet('http_requests_total{code="200", method="GET"}');
  const b = parseLabelSet('{ method = "GET",\n  __name__="http_requests_total", code="200", }');
  assert.ok(a.equals(b));
  assert.equal(a.metricName, 'http_requests_total');
  assert.deepEqual(parseLabelSet('{"my.metric", "a.b"="c"}').toRecord(), { __name__: 'my.metric', 'a.b': 'c' });
  assert.deepEqual(parseLabelSet(`{a='x"y', b="tab\\tq\\"\\\\", c=\`raw\\n\`}`).toRecord(), { a: 'x"y', b: 'tab\tq"\\', c: 'raw\\n' });
  assert.equal(parseLabelSet('{}').size, 0);
});

test('Labels.toString reads back as the same set, hostile names and values included', () => {
  const sets: Record<string, string>[] = [
    { __name__: 'up', job: 'node' },
    { __name__: 'my.metric', 'utf-8.label': 'line1\nline2', quote: 'a"b\\c' },
    { 'a b': '</textarea><script>alert(1)</script>', tab: '\t', uni: 'ü€😀' },
    { __address__: '10.0.0.1:9100', __meta_x: '' + '\u0007' },
  ];
  for (const rec of sets) {
    const l = Labels.fromRecord(rec);
    assert.ok(parseLabelSet(l.toString()).equals(l), l.toString());
  }
});

test('label set errors say what is wrong and where', () => {
  const at = (text: string) => firstIssue(readLabels(text), text);
  let issue = at('m{a="b" c="d"}');
  assert.equal(issue.column, 'm{a="b" '.length + 1);
  assert.match(issue.message, /expected , or \}/);
  issue = at('{a="1",\n b=~"x"}');
  assert.deepEqual([issue.line, issue.column], [2, 3], "at the operator");
  assert.match(issue.message, /only "="/);
  issue = at('m{a="1", a="2"}');
  assert.equal(issue.column, 'm{a="1", '.length + 1);
  assert.match(issue.message, /"a" is given twice/);
  issue = at('m{__name__="n"}');
  assert.match(issue.message, /"__name__" is given twice/);
  issue = at('{a="1" or b="2"}');
  assert.match(issue.message, /or/);
  issue = at('{a="b}');
  assert.equal(issue.column, 4, 'an unclosed string points at its opening quote');
  issue = at('{a="\\q"}');
  assert.equal(issue.column, 5, 'a bad escape points at its backslash');
  assert.equal(at('  ').column, 1);
  assert.throws(() => parseLabelSet('{a=}'), SelectorSyntaxError);
});

// ---------------------------------------------------------------- rules as text

test('rules written back as YAML read back as the same configs', () => {
  const lists: Record<string, unknown>[][] = [
    ...PROMETHEUS_RELABEL_CASES.map((c) => c.rules),
    [
      { action: 'keep', if: ['{a="b"}', 'up'], source_labels: ['x'], regex: ['a', 'b'] },
      { action: 'graphite', match: '*.server.*.total', labels: { __name__: '${2}_total', job: '$1' } },
      { target_label: 'y', replacement: 'yes', separator: '' },
      { target_label: 'n', replacement: 'null' },
      { target_label: 't', replacement: '~' },
      { source_labels: ['a'], regex: '#[x]: {y}', target_label: 'z', replacement: "it's" },
    ],
  ];
  for (const raw of lists) {
    const configs = rules(raw);
    const text = formatRelabelRules(configs);
    const back = readRules(text);
    assert.ok(back.ok, text);
    assert.deepEqual(back.value, configs, text);
    for (const rule of configs) {
      const one = formatRelabelRule(rule);
      assert.ok(!one.includes('\n'), one);
      const read = readRules(`- ${one}`);
      assert.ok(read.ok, one);
      assert.deepEqual(read.value, [rule], one);
    }
  }
});

test('rule errors carry the line, column and key path', () => {
  const first = (text: string) => firstIssue(readRules(text), text);
  let issue = first('- action: keep\n  source_labels: [a]\n  regexp: x\n');
  assert.deepEqual([issue.line, issue.column, issue.path], [3, 3, '[0].regexp']);
  assert.match(issue.message, /unknown key "regexp"/);

  issue = first('- action: drop\n  regex: x\n- action: keep\n  regex: "a(b"\n');
  assert.deepEqual([issue.line, issue.path], [4, '[1].regex']);
  assert.match(issue.message, /invalid regex/);

  issue = first('- action: replace\n  source_labels: [a]\n');
  assert.deepEqual([issue.line, issue.path], [1, '[0]']);
  assert.match(issue.message, /needs target_label/);

  issue = first('- action: keep\n  source_labels: "a\n');
  assert.equal(issue.line, 2, 'an unclosed quote is placed where it opens');
  assert.match(issue.message, /YAML syntax error/);

  issue = first('- action: keep\n  if: \'{a="b"\'\n');
  assert.deepEqual([issue.line, issue.path], [2, '[0].if']);
  assert.match(issue.message, /invalid series selector: missing closing \}/);

  issue = first('relabel_configs:\n  - action: keep\n    source_labels: a\n');
  assert.deepEqual([issue.line, issue.path], [3, 'relabel_configs[0].source_labels']);
  assert.match(issue.message, /expected a list, got "a"/);

  assert.match(first('action: keep\n').message, /expected a list, got a mapping/);
  const empty = readRules('');
  assert.ok(empty.ok && empty.value.length === 0);
});

test('the debugger reads rules in the resolver child exactly as in process', async () => {
  const text = '- action: keep\n  source_labels: [a]\n  regexp: x\n';
  assert.deepEqual(await readRulesIsolated(text), readRules(text));
  const good = '- source_labels: [a]\n  target_label: b\n';
  assert.deepEqual(await readRulesIsolated(good), readRules(good));
  assert.deepEqual(await readRulesIsolated('  \n'), { ok: true, value: [] });
  // requests at once take turns in the child, each answered with its own rules
  const texts = [good, text, '- action: drop\n  regex: a(\n', '- target_label: x\n  replacement: y\n'];
  assert.deepEqual(await Promise.all(texts.map(readRulesIsolated)), texts.map(readRules));
});

test('the rule reader child is kept between reads, yet an agent that read rules still exits by itself', async () => {
  const script = `
    import { readRulesIsolated } from '${new URL('../../src/config/isolated.js', import.meta.url).href}';
    let t = performance.now();
    await readRulesIsolated('- action: drop\\n');
    const first = performance.now() - t;
    t = performance.now();
    const r = await readRulesIsolated('- target_label: x\\n');
    console.log(r.ok, first, performance.now() - t);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise<number | null | 'hung'>((resolve) => {
    const timer = setTimeout(() => resolve('hung'), 30_000);
    child.on('exit', (c) => (clearTimeout(timer), resolve(c)));
  });
  if (code === 'hung') child.kill('SIGKILL');
  assert.equal(code, 0, `the process did not end by itself: ${out}`);
  const [ok, first, second] = out.trim().split(' ');
  assert.equal(ok, 'true');
  // a second read goes to the waiting child: no new Node process with the schema to start
  assert.ok(Number(second) < Number(first) / 4, `the first read took ${first} ms, the second ${second} ms`);
});

// ---------------------------------------------------------------- the pages over HTTP

const withDebugger = (fn: (base: string, pages: PageRegistry) => Promise<void>) => withPageServer(registerRelabelDebugPages, fn);

interface DebugJson {
  status: string;
  data: {
    mode: string;
    steps: { step: number; ruleIndex: number | null; before: Record<string, string>; after: Record<string, string> | null; dropped: boolean; changes: Record<string, string> }[];
    result: { status: string; labels?: Record<string, string> | null; step?: number; ruleIndex?: number; warning?: string };
  };
  errors?: { field: string; line: number; column: number; path: string; message: string }[];
}

async function debugJson(base: string, path: string, labels: string, ruleText: string): Promise<{ status: number; body: DebugJson }> {
  const q = new URLSearchParams({ labels, rules: ruleText, format: 'json' });
  const res = await fetch(`${base}${path}?${q}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return { status: res.status, body: (await res.json()) as DebugJson };
}

test("the debugger gives the engine's result on every Prometheus TestRelabel case, step by step", async () => {
  await withDebugger(async (base) => {
    for (const c of PROMETHEUS_RELABEL_CASES) {
      const configs = rules(c.rules);
      const input = Labels.fromRecord(c.input);
      const { status, body } = await debugJson(base, '/relabel-debug', input.toString(), formatRelabelRules(configs));
      assert.equal(status, 200, c.name);
      const expected = Relabeler.compile(configs).process(input)?.toRecord();
      if (expected === undefined) {
        assert.notEqual(body.data.result.status, 'kept', c.name);
      } else {
        assert.equal(body.data.result.status, 'kept', c.name);
        assert.deepEqual(body.data.result.labels, expected, c.name);
      }
      const last = body.data.steps.at(-1);
      if (body.data.result.status === 'dropped') assert.equal(last?.dropped, true);
      for (const s of body.data.steps) {
        if (s.after === null) continue;
        for (const [name, change] of Object.entries(s.changes)) {
          if (change === 'added') assert.ok(!(name in s.before) && name in s.after, c.name);
          if (change === 'removed') assert.ok(name in s.before && !(name in s.after), c.name);
          if (change === 'changed') assert.notEqual(s.before[name], s.after[name], c.name);
        }
      }
    }
  });
});

test('target mode ends with the labels a scrape target keeps; metric mode with the rules alone', async () => {
  await withDebugger(async (base) => {
    const labels = '{__address__="10.0.0.7:8080", __meta_app="api", job="pods"}';
    const text = '- action: labelmap\n  regex: __meta_(.+)\n';
    const target = await debugJson(base, '/target-relabel-debug', labels, text);
    assert.equal(target.body.data.mode, 'target');
    assert.deepEqual(target.body.data.result.labels, { app: 'api', instance: '10.0.0.7:8080', job: 'pods' });
    assert.deepEqual(target.body.data.steps.map((s) => s.ruleIndex), [0, null, null]);
    const metric = await debugJson(base, '/metric-relabel-debug', labels, text);
    assert.equal(metric.body.data.mode, 'metric');
    assert.deepEqual(metric.body.data.result.labels, { __address__: '10.0.0.7:8080', __meta_app: 'api', app: 'api', job: 'pods' });
    // the mode parameter wins over the path
    const asked = await fetch(`${base}/relabel-debug?${new URLSearchParams({ labels, rules: text, mode: 'target', format: 'json' })}`);
    assert.equal(((await asked.json()) as DebugJson).data.mode, 'target');
    const noAddress = await debugJson(base, '/target-relabel-debug', '{a="b"}', '[]');
    assert.match(noAddress.body.data.result.warning ?? '', /no __address__/);
  });
});

test('bad input answers 400 with every problem placed; JSON and HTML alike', async () => {
  await withDebugger(async (base) => {
    const { status, body } = await debugJson(base, '/relabel-debug', 'up{a="1" b="2"}', '- action: keep\n  regex: x\n  bogus: 1\n');
    assert.equal(status, 400);
    assert.deepEqual(
      body.errors?.map((e) => [e.field, e.line, e.column]),
      [
        ['labels', 1, 'up{a="1" '.length + 1],
        ['rules', 3, 3],
      ],
    );
    const res = await fetch(`${base}/relabel-debug?${new URLSearchParams({ labels: '{a="1"}', rules: '- action: keep\n  regex: "a(b"\n' })}`);
    assert.equal(res.status, 400);
    const page = await res.text();
    assert.match(page, /rules:2:10: \[0\]\.regex: invalid regex/);
    assert.match(page, /<pre> {2}regex: &quot;a\(b&quot;\n {9}\^<\/pre>/, 'the line is shown with a caret under the column');
  });
});

test('everything typed in is escaped on the page', async () => {
  await withDebugger(async (base) => {
    const hostile = '</textarea><script>alert(1)</script>';
    const labels = `{a=${JSON.stringify(hostile)}}`;
    const ruleText = `- target_label: b\n  replacement: ${JSON.stringify(hostile)}\n# ${hostile}\n`;
    for (const query of [{ labels, rules: ruleText }, { labels: hostile, rules: hostile }]) {
      const res = await fetch(`${base}/relabel-debug?${new URLSearchParams(query)}`);
      const page = await res.text();
      assert.doesNotMatch(page, /<script>|<\/textarea><script/);
      assert.ok(page.includes('&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;'));
      assert.equal(page.split('</textarea>').length - 1, 2, 'only the two textareas close');
    }
  });
});

test('input over 64 KiB is refused with 413 and says why; a long POSTed form within it runs', async () => {
  await withDebugger(async (base) => {
    const big = `{a="${'x'.repeat(RELABEL_DEBUG_MAX_INPUT_BYTES)}"}`;
    const res = await fetch(`${base}/relabel-debug`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ labels: big, rules: '[]' }).toString(),
    });
    assert.equal(res.status, 413);
    assert.match(await res.text(), /larger than 64 KiB/);

    const long = `{a="${'x'.repeat(20_000)}"}`;
    const ok = await fetch(`${base}/relabel-debug?format=json`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ labels: long, rules: '- action: drop\n  source_labels: [a]\n  regex: x+\n' }).toString(),
    });
    assert.equal(ok.status, 200);
    assert.deepEqual(((await ok.json()) as DebugJson).data.result, { status: 'dropped', step: 1, ruleIndex: 0 });
  });
});

test('the bare page offers a worked example; links prefill the form; all three paths are listed', async () => {
  await withDebugger(async (base, pages) => {
    const bare = await (await fetch(`${base}/target-relabel-debug`)).text();
    assert.match(bare, /<textarea id="labels"[^>]*>\n\{__address__=/);
    assert.match(bare, /<option value="target" selected>/);
    const input = Labels.fromRecord({ __address__: 'h:1', keep: 'no' });
    const configs = rules([{ action: 'keep', source_labels: ['keep'], regex: 'yes' }]);
    const page = await (await fetch(base + relabelDebugHref('target', input, configs))).text();
    assert.ok(page.includes('__address__=&quot;h:1&quot;'));
    assert.match(page, /Dropped at step 1/);
    assert.deepEqual(
      pages.list().map((p) => [p.path, p.nav !== false]),
      [
        ['/relabel-debug', true],
        ['/target-relabel-debug', false],
        ['/metric-relabel-debug', false],
      ],
    );
  });
});
