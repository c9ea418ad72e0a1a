/**
 * Graphite plaintext into the pipeline over real TCP and UDP sockets: the lines' samples arrive
 * with their names, tags and timestamps; bad lines are counted and the good ones around them kept.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { selfMetricValue, waitFor } from '../helpers/scrape-harness.js';
import type { Labels } from '../../src/model/labels.js';
import { GraphiteParser } from '../../src/formats/graphite/parser.js';
import { LineSplitter } from '../../src/formats/rows/index.js';
import { rng } from '../helpers/seeded-random.js';
import { mutate, startIngest, listenerPort } from '../helpers/ingest-harness.js';

/** Every sample the pipeline got, with its Labels object (identity matters: caches key on it). */

async function start(t: import('node:test').TestContext) {
  const { rt, sink } = await startIngest(t, `ingest:\n  graphite: {listen_address: 127.0.0.1:0}\n`);
  return { rt, sink, host: '127.0.0.1', port: listenerPort(rt, 'graphite') };
}

test('graphite over TCP: names, tags, timestamps; a bad line is counted and the rest kept', async (t) => {
  const { rt, sink, host, port } = await start(t);
  const sock = connect(port, host);
  await new Promise((r) => sock.once('connect', r));
  sock.end('foo.bar 1.5 1700000000\nfoo.baz;env=prod;dc=eu 2 1700000010\nbroken line here x\nfoo.bar 3 1700000020\n');
  await waitFor('three samples', () => sink.samples.length >= 3, 5_000);
  assert.deepEqual(
    sink.samples.map((s) => [s.labels.toString(), s.value, s.timestampMs]),
    [
      ['{"foo.bar"}', 1.5, 1700000000000],
      ['{"foo.baz", dc="eu", env="prod"}', 2, 1700000010000],
      ['{"foo.bar"}', 3, 1700000020000],
    ],
  );
  assert.equal(sink.samples[0].labels, sink.samples[2].labels, 'a series sent again is the same Labels object');
  await waitFor('the bad line counted', () => selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'graphite', reason: 'value' }) === 1, 5_000);
});

test('graphite over UDP: a datagram of lines; no timestamp means now', async (t) => {
  const { sink, host, port } = await start(t);
  const udp = createSocket('udp4');
  t.after(() => udp.close());
  const before = Date.now();
  udp.send('udp.metric 42\n', port, host);
  await waitFor('the sample', () => sink.samples.length >= 1, 5_000);
  assert.equal(sink.samples[0].labels.toString(), '{"udp.metric"}');
  assert.equal(sink.samples[0].value, 42);
  assert.ok(sink.samples[0].timestampMs >= Math.floor(before / 1000) * 1000 && sink.samples[0].timestampMs <= Date.now());
});

test('graphite fuzz: mutated lines never throw or hang, and chunking does not change what is read', () => {
  const rand = rng(18);
  const base = 'a.b.c 1.5 1700000000\nx;k=v;k2=v2 -2e3 1700000000.5\nn;; nan -1\ns\t\t7\t1700000001  \r\n';
  const specials = [' ', '\t', ';', '=', '\n', '\r', '-', '.', 'e', '+', 'inf', 'nan', '0', '9'.repeat(30), ';=;', '\u00e4', '\x00'];
  const started = Date.now();
  for (let i = 0; i < 3000; i++) {
    const input = mutate(rand, base, specials);
    const runs: string[][] = [];
    for (const chunked of [false, true]) {
      const parser = new GraphiteParser({ trimTimestampMs: 1000, sanitizeMetricName: i % 2 === 0 });
      const seen: string[] = [];
      const sink = {
        now: 1_800_000_000_000,
        sample(labels: Labels, value: number, ts: number) {
          assert.equal(typeof value, 'number');
          assert.ok(Number.isInteger(ts), `timestamp ${ts}`);
          seen.push(`${labels.toString()} ${value} ${ts}`);
        },
        invalid(line: number, reason: string) {
          assert.ok(line >= 1 && reason.length > 0);
          seen.push(`invalid ${line}`);
        },
      };
      const splitter = new LineSplitter(parser, 256);
      if (chunked) for (let p = 0; p < input.length; p += 3) splitter.push(input.subarray(p, p + 3), sink);
      else splitter.push(input, sink);
      splitter.end(sink);
      runs.push(seen);
    }
    assert.deepEqual(runs[1], runs[0], `input ${JSON.stringify(input.toString('latin1'))}`);
  }
  assert.ok(Date.now() - started < 60_000);
});

test('graphite: sanitize_metric_name collapses dots and replaces what Prometheus names do not allow', () => {
  const parser = new GraphiteParser({ trimTimestampMs: 1000, sanitizeMetricName: true });
  const got: string[] = [];
  const sink = { now: 0, sample: (l: Labels) => void got.push(l.metricName), invalid: () => assert.fail('refused') };
  for (const line of ['a..b...c 1 1700000000', 'disk-used/sda%x;dev=sda 1 1700000000', 'ok:name_1.x 1 1700000000']) {
    const b = Buffer.from(line);
    parser.line(b, 0, b.length, 1, sink);
  }
  assert.deepEqual(got, ['a.b.c', 'disk_used_sda_x', 'ok:name_1.x']);
});
