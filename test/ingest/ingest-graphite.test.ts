/**
 * Graphite plaintext into the pipeline over real TCP and UDP sockets: the lines' samples arrive
 * with their names, tags and timestamps; bad lines are counted and the good ones around them kept.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { tempDataDir } from '../helpers/fixtures.js';
import { selfMetricValue, waitFor } from '../helpers/scrape-harness.js';
import type { Labels } from '../../src/model/labels.js';
import type { SampleBatch } from '../../src/model/samples.js';

/** Every sample the pipeline got, with its Labels object (identity matters: caches key on it). */
class Samples {
  readonly samples: { labels: Labels; value: number; timestampMs: number; job: string }[] = [];
  write(job: string, b: SampleBatch): void {
    for (let i = 0; i < b.length; i++) this.samples.push({ labels: b.series[i], value: b.values[i], timestampMs: b.timestamps[i], job });
  }
}

async function start(t: import('node:test').TestContext) {
  const dir = tempDataDir();
  const file = join(dir, 'tributary.yml');
  writeFileSync(file, `server: {listen: 127.0.0.1:0, data_dir: ${dir}}\ningest:\n  graphite: {listen_address: 127.0.0.1:0}\n`);
  const rt = await startRuntime({ configFile: file, logger: silentLogger });
  t.after(() => rt.close(0));
  const sink = new Samples();
  rt.pipeline.add(sink);
  const [host, port] = rt.ingest.listeners.get('graphite')![0].split(/:(?=\d+$)/);
  return { rt, sink, host, port: Number(port) };
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
