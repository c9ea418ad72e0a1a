import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricSpan, ObfuscationSessions, Obfuscator, splitInstance } from '../../src/gather/obfuscate.js';
import type { ObfuscationConfig } from '../../src/gather/types.js';
import { fakeSeries } from './jobs-fake-source.js';

const ALL: ObfuscationConfig = { enabled: true, instance: true, job: true, labels: ['team'], drop: [] };

function line(metric: Record<string, string>, values = [1, 2.5], ts = [1000, 2000]): Buffer {
  return Buffer.from(`${JSON.stringify({ metric, values, timestamps: ts })}\n`);
}

test('instances become 777.777.c.d counting up, ports kept, the same host the same value', () => {
  const o = new Obfuscator(ALL);
  assert.equal(o.metric({ instance: 'a:9100' }).instance, '777.777.1.1:9100');
  assert.equal(o.metric({ instance: 'a:9200' }).instance, '777.777.1.1:9200');
  assert.equal(o.metric({ instance: 'b' }).instance, '777.777.1.2');
  assert.equal(o.metric({ instance: '[::1]:9100' }).instance, '777.777.1.3:9100');
  assert.equal(o.metric({ instance: '::1' }).instance, '777.777.1.3', 'bare IPv6 is the same host as [::1]');
  for (let i = 4; i <= 256; i++) o.metric({ instance: `h${i}` });
  // host 255 → 1.255, host 256 → 2.1
  assert.equal(o.metric({ instance: 'h255' }).instance, '777.777.1.255');
  assert.equal(o.metric({ instance: 'h256' }).instance, '777.777.2.1');
  assert.deepEqual(splitInstance('x:y:1'), { host: 'x:y:1', port: undefined });
});

test('jobs become <component>-job-<n> per component, unknown ones unknown-job-<n>, never the name', () => {
  const o = new Obfuscator(ALL, { vmstorage: 'vmstorage', 'vm-select-prod': 'vmselect', 'vmstorage-2': 'vmstorage' });
  assert.equal(o.metric({ job: 'vmstorage' }).job, 'vmstorage-job-1');
  assert.equal(o.metric({ job: 'vm-select-prod' }).job, 'vmselect-job-1');
  assert.equal(o.metric({ job: 'vmstorage-2' }).job, 'vmstorage-job-2');
  assert.equal(o.metric({ job: 'node_exporter' }).job, 'unknown-job-1');
  assert.equal(o.metric({ job: 'payments-api' }).job, 'unknown-job-2');
  assert.equal(o.metric({ job: 'node_exporter' }).job, 'unknown-job-1');
});

test('chosen labels become <label>-<n>, dropped labels go (also with obfuscation off), __name__ stays', () => {
  const o = new Obfuscator({ ...ALL, labels: ['team', 'pod'], drop: ['dc'] });
  assert.deepEqual(o.metric({ __name__: 'up', team: 'red', pod: 'p-1', dc: 'x', other: 'keep' }), { __name__: 'up', team: 'team-1', pod: 'pod-1', other: 'keep' });
  assert.equal(o.metric({ team: 'blue' }).team, 'team-2');
  assert.equal(o.metric({ team: 'red' }).team, 'team-1');
  const off = new Obfuscator({ enabled: false, instance: true, job: true, labels: ['team'], drop: ['dc'] });
  assert.deepEqual(off.metric({ instance: 'a:1', job: 'j', team: 't', dc: 'x' }), { instance: 'a:1', job: 'j', team: 't' });
  assert.equal(off.line(line({ job: 'j', dc: 'x' })).toString(), line({ job: 'j' }).toString());
  const none = new Obfuscator({ enabled: false, instance: false, job: false, labels: [], drop: [] });
  const raw = line({ job: 'j' });
  assert.equal(none.line(raw), raw, 'nothing to do: the same buffer back');
});

test('other labels carrying an original instance, host, job or chosen value get its stand-in', () => {
  const o = new Obfuscator(ALL);
  const m = o.metric({ __name__: 'x', exported_instance: 'db1:9187', instance: 'db1:9187', host: 'db1', scrape_job: 'postgres', job: 'postgres', owner: 'red', team: 'red' });
  assert.deepEqual(m, {
    __name__: 'x',
    exported_instance: '777.777.1.1:9187',
    instance: '777.777.1.1:9187',
    host: '777.777.1.1',
    scrape_job: 'unknown-job-1',
    job: 'unknown-job-1',
    owner: 'team-1',
    team: 'team-1',
  });
  assert.equal(o.metric({ target: 'db1:5432' }).target, '777.777.1.1:5432', 'a known host with another port');
});

test('a series cached before an original was known is rewritten again: no leak through the cache', () => {
  const o = new Obfuscator(ALL);
  const early = line({ __name__: 'a', host: 'web7' });
  assert.match(o.line(early).toString(), /web7/);
  o.line(line({ __name__: 'b', instance: 'web7:80' }));
  assert.doesNotMatch(o.line(early).toString(), /web7/);
});

test('line() rewrites only the metric object, copies values and timestamps byte for byte, equals the object path', () => {
  const o = new Obfuscator(ALL);
  const ref = new Obfuscator(ALL);
  const raw = Buffer.from('{"metric":{"__name__":"m","instance":"a\\"}b:1","job":"j","team":"t"},"values":[1,+Inf,NaN,-0.5e-3],"timestamps":[1,2,3,4]}\n');
  const out = o.line(raw).toString();
  const span = metricSpan(raw);
  assert.ok(span);
  const expected = JSON.stringify(ref.metric(JSON.parse(raw.toString('utf8', span.start, span.end)) as Record<string, string>));
  assert.equal(out, `{"metric":${expected},"values":[1,+Inf,NaN,-0.5e-3],"timestamps":[1,2,3,4]}\n`);
  assert.equal(o.line(raw).toString(), out, 'the cached path gives the same bytes');
  // a line not shaped as the export writes it still has its metric rewritten
  const odd = o.line(Buffer.from('{ "values":[1], "timestamps":[5], "metric" : {"job":"j", "x":{"y":1}} }'));
  assert.equal(JSON.parse(odd.toString()).metric.job, 'unknown-job-1');
});

test('state() restores the same map: a restored obfuscator continues where the first stopped', () => {
  const series = fakeSeries({ jobs: 4, instancesPerJob: 3 });
  const a = new Obfuscator(ALL, { 'job-1': 'vmagent' });
  const half = series.length / 2;
  const outA = series.map((m, i) => (i < half ? a.metric(m) : undefined));
  const restored = new Obfuscator(ALL, { 'job-1': 'vmagent' }, JSON.parse(JSON.stringify(a.state())));
  const whole = new Obfuscator(ALL, { 'job-1': 'vmagent' });
  const wholeOut = series.map((m) => whole.metric(m));
  for (let i = 0; i < series.length; i++) {
    const got = i < half ? outA[i] : restored.metric(series[i]);
    assert.deepEqual(got, wholeOut[i], `series ${i}`);
  }
  // and nothing of the originals is left in the output
  const text = JSON.stringify(wholeOut);
  for (const m of series) {
    for (const v of [m.instance, m.instance.split(':')[0], m.job, m.team]) assert.ok(!text.includes(`"${v}"`), `${v} leaked`);
  }
});

test('sessions: an export continues the preview map; idle sessions expire; their number is bounded', () => {
  let now = 0;
  const s = new ObfuscationSessions(1000, 2, () => now);
  const { id, obfuscator } = s.open(ALL);
  assert.equal(obfuscator.metric({ instance: 'x:1' }).instance, '777.777.1.1:1');
  assert.equal(s.get(id), obfuscator);
  now = 900;
  assert.equal(s.get(id), obfuscator, 'use keeps it alive');
  now = 1800;
  assert.ok(s.get(id));
  now = 3000;
  assert.equal(s.get(id), undefined, 'expired after idling');
  const a = s.open(ALL);
  const b = s.open(ALL);
  const c = s.open(ALL);
  assert.equal(s.get(a.id), undefined, 'the oldest went when a third was opened');
  assert.ok(s.get(b.id) && s.get(c.id));
});

test('seeded from the source\'s label values, stand-ins do not hang on the order series arrive in, and a label carrying an original is caught before the original\'s own series', async () => {
  const series: Record<string, string>[] = [
    { __name__: 'up', instance: 'zeta:9100', job: 'node', team: 'red' },
    { __name__: 'probe', instance: 'alpha:9100', job: 'blackbox', team: 'blue', target: 'zeta:9100', scrape_job: 'node' },
    { __name__: 'up', instance: 'mid:8080', job: 'blackbox', team: 'green' },
  ];
  const source = {
    labelValues: async (label: string) => [...new Set(series.flatMap((m) => (m[label] === undefined ? [] : [m[label]])))],
  };
  const outputs: string[][] = [];
  for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0]]) {
    const o = new Obfuscator(ALL);
    await o.seedFrom(source, { selectors: ['{__name__=~".+"}'] }, 0, 1);
    outputs.push(order.map((i) => o.line(line(series[i])).toString()).sort());
  }
  assert.deepEqual(outputs[1], outputs[0]);
  assert.deepEqual(outputs[2], outputs[0]);
  // hosts numbered in sorted order: alpha, mid, zeta
  const o = new Obfuscator(ALL);
  await o.seedFrom(source, { selectors: ['{__name__=~".+"}'] }, 0, 1);
  const probe = o.metric(series[1]);
  assert.equal(probe.instance, '777.777.1.1:9100');
  assert.equal(probe.target, '777.777.1.3:9100', 'zeta met in another label before its own series');
  assert.equal(probe.scrape_job, probe.job === 'unknown-job-1' ? 'unknown-job-2' : 'unknown-job-1', 'the job name carried elsewhere is its stand-in');
  for (const text of outputs[0]) for (const original of ['zeta', 'alpha', 'mid', '"node"', 'blackbox', 'red', 'blue', 'green']) assert.ok(!text.includes(original), `${original} in ${text}`);
  // a query selection lists nothing: the map is left as it is
  const q = new Obfuscator(ALL);
  await q.seedFrom({ labelValues: async () => assert.fail('not asked') }, { query: 'up', stepMs: 1000 }, 0, 1);
});
