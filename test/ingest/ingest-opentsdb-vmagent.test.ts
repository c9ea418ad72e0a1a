/**
 * OpenTSDB side by side with vmagent 1.79.5: the same telnet `put` lines over TCP, and the same
 * `/api/put` bodies over HTTP (on the telnet port and on the HTTP port of its own), to both,
 * each into its own VictoriaMetrics; the stored series, values and timestamps are the same.
 * The one deliberate difference checked too: telnet timestamps in milliseconds. And Graphite and
 * OpenTSDB datagrams over UDP.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { gzipSync } from 'node:zlib';
import { assertNowStamped, sendTcp, startSideBySide, type Agent } from '../helpers/ingest-peers.js';

test('opentsdb telnet: the same put lines give the same series in storage as vmagent', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const T = Math.floor(Date.now() / 1000) - 60;
  const lines = [
    `put sys.cpu.user ${T} 42.5 host=web01 cpu=0`,
    `put sys.cpu.user ${T + 10} 43 host=web01 cpu=0`,
    `put no.tags ${T} 2`,
    `put no.tags.trailing ${T} 3 `,
    `put  sep.spaces  ${T}  4  a=b  c=d`,
    ` put sep.leading ${T} 5 a=b`,
    `put sep.crlf ${T} 6 a=b\r`,
    `put tags.empty ${T} 7 a= =b c=d`,
    `put tags.eqeq ${T} 8 a=b=c`,
    `put tags.dup ${T} 9 a=1 a=2`,
    `put tags.rename ${T} 10 __name__=tags.renamed`,
    `put name;with=semicolon ${T} 11 a=b`,
    `put tags.utf8 ${T} 12 ä=ö`,
    `put ts.frac ${T}.7 13 a=b`,
    `put ts.exp 1.7e9 14 a=b`,
    `put ts.negative -1 15 a=b`,
    `put num.inf ${T} +Inf a=b`,
    `put num.nan ${T} nan a=b`,
    `put num.expfrac ${T} 1.e5 a=b`,
    `put num.small ${T} 1.5e-7 a=b`,
    // refused by both
    `put bad.tabs\t${T}\t1\ta=b`,
    `put bad.noeq ${T} 1 a=b foo`,
    `put bad.valtab ${T} 1\ta=b`,
    `PUT bad.upper ${T} 1 a=b`,
    `put bad.plus ${T} +1 a=b`,
    `put bad.missing ${T}`,
    `put bad.ts x 1`,
    `version`,
  ].join('\n') + '\n';
  await Promise.all([sendTcp(sbs.vmagent.ports.opentsdb, lines), sendTcp(sbs.tributary.ports.opentsdb, lines)]);
  const [want, got] = await sbs.settle(17);
  assert.ok(want.length >= 17, `vmagent stored ${want.length} series`);
  assert.deepEqual(got, want);
  assert.ok(!want.some((s) => s.metric.__name__.startsWith('bad.')));
});

test('opentsdb telnet: a timestamp of 0 is now for both; milliseconds are kept here and lost by vmagent 1.79.5', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const T = Math.floor(Date.now() / 1000) - 60;
  const lines = `put now.zero 0 1 a=b\nput now.zerofrac 0.5 2\n`;
  await Promise.all([sendTcp(sbs.vmagent.ports.opentsdb, lines), sendTcp(sbs.tributary.ports.opentsdb, lines)]);
  const [want, got] = await sbs.settle(2);
  assertNowStamped(got, want);
  const ms = `put ms.stamp ${T}123 3 a=b\n`;
  await Promise.all([sendTcp(sbs.vmagent.ports.opentsdb, ms), sendTcp(sbs.tributary.ports.opentsdb, ms)]);
  const [want2, got2] = await sbs.settle(2);
  assert.equal(want2.length, 2, 'vmagent 1.79.5 multiplies the milliseconds by 1000: storage drops the sample');
  const kept = got2.find((s) => s.metric.__name__ === 'ms.stamp');
  assert.deepEqual(kept?.timestamps, [T * 1000 + 123]);
});

test('opentsdb HTTP /api/put: the same bodies give the same series in storage as vmagent', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const T = Math.floor(Date.now() / 1000) - 60;
  const bodies: { body: string | Buffer; gzip?: boolean }[] = [
    { body: JSON.stringify({ metric: 'h.one', timestamp: T, value: 1, tags: { host: 'a' } }) },
    {
      body: JSON.stringify([
        { metric: 'h.arr', timestamp: T, value: '2.5', tags: { a: 'b' } },
        { metric: 'h.ms', timestamp: T * 1000 + 123, value: 3 },
        { metric: 'h.msfrac', timestamp: T * 1000 + 123.9, value: 4 },
        { metric: 'h.frac', timestamp: T + 0.9, value: 5 },
        { metric: 'h.strts', timestamp: String(T), value: '1e3' },
        { metric: 'h.strzero', timestamp: T, value: '0.00' },
        { metric: 'h.emptytag', timestamp: T, value: 6, tags: { a: '', '': 'x', c: 'd' } },
        { metric: 'h.esc\u00e4', timestamp: T, value: 7, tags: { 'k\n': 'v"' } },
        { metric: 'h.infv', timestamp: T, value: '-Inf' },
        { metric: 'h.negts', timestamp: -5, value: 8 },
        // refused by both, the rest of the body kept
        { metric: 'h.bad', value: 'abc' },
        { metric: 'h.numtag', timestamp: T, value: 5, tags: { a: 1 } },
        { value: 10 },
        { metric: '', value: 11 },
        { metric: 'h.bool', value: true },
        { metric: 'h.null', value: null },
        { metric: 'h.tagsnull', timestamp: T, value: 1, tags: null },
        { metric: 'h.tsnull', timestamp: null, value: 1 },
        { metric: 'h.strsp', timestamp: T, value: ' 1' },
      ]),
    },
    { body: `{"metric":"h.dupkey","metric":"h.dupkey2","timestamp":${T},"value":1}` },
    { body: `[{"metric":"h.nanliteral","timestamp":${T},"value":NaN},{"metric":"h.infliteral","timestamp":${T},"value":-Inf}]` },
    { body: gzipSync(JSON.stringify([{ metric: 'h.gzip', timestamp: T, value: 12, tags: { z: 'y' } }])), gzip: true },
    // refused whole by both
    { body: `[{"metric":"h.syntax","timestamp":${T},"value":1}, nope]` },
    { body: `{"metric":"h.tail","timestamp":${T},"value":1} x` },
  ];
  const post = async (base: string, b: (typeof bodies)[number]): Promise<number> => {
    const r = await fetch(`${base}/api/put`, { method: 'POST', body: b.body, headers: b.gzip ? { 'content-encoding': 'gzip' } : {} });
    await r.arrayBuffer();
    return r.status;
  };
  for (const [i, b] of bodies.entries()) {
    // alternate between the HTTP port of its own and the telnet port
    const port = (a: Agent) => (i % 2 === 0 ? a.ports.opentsdbHttp : a.ports.opentsdb);
    const [vs, ts]: number[] = await Promise.all([post(`http://127.0.0.1:${port(sbs.vmagent)}`, b), post(`http://127.0.0.1:${port(sbs.tributary)}`, b)]);
    // vmagent answers 204 even when it dropped objects; Tributary says 400 and quotes them
    if (vs === 400) assert.equal(ts, 400, `body ${i}`);
    else assert.ok(ts === 204 || ts === 400, `body ${i}: ${ts}`);
  }
  const [want, got] = await sbs.settle(13);
  assert.ok(want.length >= 13, `vmagent stored ${want.length} series`);
  assert.deepEqual(got, want);
  assert.ok(!want.some((s) => ['h.bad', 'h.syntax', 'h.tail', 'h.tagsnull'].includes(s.metric.__name__)));
});

test('graphite and opentsdb telnet over UDP: the same datagrams give the same series as vmagent', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const T = Math.floor(Date.now() / 1000) - 60;
  const udp = createSocket('udp4');
  t.after(() => udp.close());
  const send = (port: number, text: string) => new Promise<void>((resolve, reject) => udp.send(text, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  const graphite = `udp.g.one 1 ${T}\nudp.g.tags;a=b;c= 2 ${T}\n bad 3 ${T}\nudp.g.two 4 ${T}.5`;
  const tsdb = `put udp.o.one ${T} 1 host=a\nput udp.o.bad ${T} x\nput udp.o.two ${T} 2 a= b=c`;
  for (const a of [sbs.vmagent, sbs.tributary]) {
    await send(a.ports.graphite, graphite);
    await send(a.ports.opentsdb, tsdb);
  }
  const [want, got] = await sbs.settle(5);
  assert.equal(want.length, 5);
  assert.deepEqual(got, want);
});
