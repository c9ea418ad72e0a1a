/**
 * DataDog v1 side by side with vmagent 1.79.5: the same `/datadog/api/v1/series` bodies (plain,
 * gzip, deflate, with extra_label) to both, each into its own VictoriaMetrics; the stored series,
 * values and timestamps are the same. vmagent 1.79.5 has no `/datadog/api/v2/series` (it answers
 * 400 "unsupported path"), so v2 has no reference here.
 *
 * vmagent 1.79.5 reuses its decoded request objects without clearing them
 * (VictoriaMetrics issue 3432, fixed later): a series that leaves out `host` or `tags` inherits
 * them from an earlier request. Only the first request here leaves keys out; the later ones name
 * every key. Where Tributary differs on purpose (a refused series does not sink the request,
 * `device` becomes a label, a tag with an empty name is skipped) the test says so explicitly.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, gzipSync } from 'node:zlib';
import { startSideBySide, type Agent } from '../helpers/ingest-peers.js';

async function send(agent: Agent, body: string, opts: { encoding?: 'gzip' | 'deflate'; query?: string } = {}): Promise<number> {
  const data = opts.encoding === 'gzip' ? gzipSync(body) : opts.encoding === 'deflate' ? deflateSync(body) : Buffer.from(body);
  const r = await fetch(`${agent.http}/datadog/api/v1/series${opts.query ?? ''}`, {
    method: 'POST',
    body: data,
    headers: { 'content-type': 'application/json', ...(opts.encoding ? { 'content-encoding': opts.encoding } : {}) },
  });
  await r.arrayBuffer();
  return r.status;
}

test('datadog v1: the same bodies give the same series in storage as vmagent', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const now = Math.floor(Date.now() / 1000) - 600;
  const first = JSON.stringify({
    series: [
      { metric: 'system.load.1', host: 'web-1', tags: ['env:prod', 'role:db:primary', 'standalone', 'host:tagged'], points: [[now, 0.5], [now + 10, 0.75], [now + 20.5, 1.25]] },
      { metric: 'system.load.1', host: 'web-2', tags: ['env:prod'], points: [[now, 2]] },
      { metric: 'no.host.no.tags', points: [[now + 1.9996, -3.5]] },
      { metric: 'dup.tags', host: 'h', tags: ['a:1', 'a:2', 'b:x', 'b'], points: [[now, 7]] },
      { metric: 'empty.value', host: 'h', tags: ['gone:', 'kept:yes'], points: [[now, 8]] },
      { metric: 'odd-name/with spaces é', host: 'h', tags: ['ünï:cödé'], points: [[now, 9]] },
      { metric: 'big.values', host: 'h', tags: [], points: [[now, 1e15], [now + 1, 123456789.125]] },
      { metric: 'tiny.values', host: 'h', tags: [], points: [[now, 1.5e-7], [now + 1, -0.001]] },
      { metric: 'typed.count', host: 'h', tags: ['k:v'], type: 'count', interval: 10, points: [[now, 42]] },
      { metric: 'extra.point.fields', host: 'h', tags: [], points: [[now, 5, 99]] },
    ],
  });
  const full = (metric: string, value: number, ts = now) => ({ metric, host: 'h2', tags: ['env:stage'], points: [[ts, value]] });
  const later: [string, Parameters<typeof send>[2]][] = [
    [JSON.stringify({ series: [full('gzipped', 1), full('gzipped', 2, now + 30)] }), { encoding: 'gzip' }],
    [JSON.stringify({ series: [full('deflated', 3)] }), { encoding: 'deflate' }],
    [JSON.stringify({ series: [full('with.extra', 4)] }), { query: '?extra_label=dc=eu&extra_label=env=override' }],
    [JSON.stringify({ series: [{ metric: 'many.series', host: 'h3', tags: ['i:0'], points: [[now, 0]] }, ...Array.from({ length: 50 }, (_, i) => ({ metric: 'many.series', host: 'h3', tags: [`i:${i + 1}`], points: [[now, i], [now + 60, i * 2]] }))] }), {}],
  ];
  for (const agent of [sbs.vmagent, sbs.tributary]) {
    assert.equal(await send(agent, first), 202, agent.name);
    for (const [body, opts] of later) assert.equal(await send(agent, body, opts), 202, agent.name);
  }
  await sbs.settle(64);
  const [want, got] = await Promise.all([sbs.vmagent.export(), sbs.tributary.export()]);
  assert.equal(want.length, 64);
  assert.deepEqual(got, want);
});

test('datadog v1: where Tributary differs from vmagent 1.79.5 on purpose', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const now = Math.floor(Date.now() / 1000) - 600;
  // a series vmagent cannot decode sinks its whole request there; Tributary refuses that series alone
  const partial = JSON.stringify({ series: [{ metric: 'partial.good', host: 'h', tags: [], points: [[now, 1]] }, { metric: 5, host: 'h', tags: [], points: [[now, 2]] }] });
  // `device`: a label in newer vmagents, dropped by 1.79.5 (two devices would become one series)
  const device = JSON.stringify({ series: [{ metric: 'disk.used', host: 'h', tags: [], device: 'sda1', points: [[now, 3]] }] });
  // a tag with an empty name: vmagent sends a label named "", which VictoriaMetrics takes as the metric name
  const nameless = JSON.stringify({ series: [{ metric: 'nameless.tag', host: 'h', tags: [':oops'], points: [[now, 4]] }] });
  for (const agent of [sbs.vmagent, sbs.tributary]) {
    assert.equal(await send(agent, partial), 400, agent.name);
    assert.equal(await send(agent, device), 202, agent.name);
    assert.equal(await send(agent, nameless), 202, agent.name);
  }
  await sbs.settle(2);
  const [want, got] = await Promise.all([sbs.vmagent.export(), sbs.tributary.export()]);
  const names = (s: typeof want) => s.map((x) => JSON.stringify(x.metric));
  assert.deepEqual(names(want), ['{"__name__":"disk.used","host":"h"}', '{"__name__":"oops","host":"h"}']);
  assert.deepEqual(names(got), ['{"__name__":"disk.used","device":"sda1","host":"h"}', '{"__name__":"nameless.tag","host":"h"}', '{"__name__":"partial.good","host":"h"}']);
});
