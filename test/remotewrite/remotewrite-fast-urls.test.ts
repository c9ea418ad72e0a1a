/**
 * Several `compression: fast` URLs, each with its own series codes (formats/remotewrite/
 * snappy-writer.ts keeps them per writer, not on the series): two URLs whose records follow
 * different predecessors (one drops every fifth series) both get requests that decompress to
 * exactly what the plain writer encodes, and after the first scrape both write every record
 * head from their codes — none is built again, as one table shared by both would have to.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uncompressSync } from 'snappy';
import { parseWriteRequest, WriteRequestWriter } from '../../src/formats/remotewrite/index.js';
import { seriesCodeCounts } from '../../src/formats/remotewrite/snappy-writer.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { receiver, startQueues } from '../helpers/remotewrite-harness.js';

const SERIES = 300;

test('two fast URLs: each keeps its own series codes and sends byte-correct requests', async (t) => {
  const bodies: Buffer[][] = [[], []];
  const receivers = [await receiver((_n, _r, body) => (bodies[0].push(body), { status: 204 })), await receiver((_n, _r, body) => (bodies[1].push(body), { status: 204 }))];
  t.after(() => Promise.all(receivers.map((r) => r.close())));
  const { rw, pipeline } = await startQueues(
    t,
    `remote_write:
  - url: ${receivers[0].url}
    queue_config: {senders: 1, compression: fast}
  - url: ${receivers[1].url}
    queue_config: {senders: 1, compression: fast}
    write_relabel_configs: [{source_labels: [drop], regex: 'yes', action: drop}]
`,
  );
  const series = Array.from({ length: SERIES }, (_, i) =>
    Labels.fromRecord({ __name__: `node_metric_${i >> 3}`, cpu: String(i & 7), instance: 'host:9100', job: 'node', drop: i % 5 === 0 ? 'yes' : 'no' }),
  );
  const kept = [SERIES, SERIES - SERIES / 5];
  const built: number[] = [];
  for (let scrape = 0; scrape < 4; scrape++) {
    const b = new SampleBatch(SERIES);
    for (let i = 0; i < SERIES; i++) {
      if (scrape === 2 && i % 7 === 0) b.appendStale(series[i], 1_700_000_000_000 + scrape * 15_000);
      else b.append(series[i], i % 4 === 0 ? i : scrape * 1.5 + i, 1_700_000_000_000 + scrape * 15_000);
    }
    const before = seriesCodeCounts.built;
    pipeline.write('job', b);
    // one request per URL and scrape: the request boundaries are the same every time
    for (const q of rw.queues) assert.ok(await q.flush(30_000));
    built.push(seriesCodeCounts.built - before);
  }
  await rw.close();

  // every record but each request's first is written from a code: built once by each URL, then
  // reused (one table for both would rebuild, their records following other predecessors)
  assert.deepEqual(built, [kept[0] - 1 + kept[1] - 1, 0, 0, 0]);

  const plain = new WriteRequestWriter(1024);
  for (const [u, got] of bodies.entries()) {
    assert.equal(got.length, 4, `URL ${u}: one request per scrape`);
    let samples = 0;
    for (const body of got) {
      const raw = Buffer.from(uncompressSync(body) as Buffer);
      const decoded = parseWriteRequest(raw);
      const again = new SampleBatch(decoded.timeseries.length);
      for (const ts of decoded.timeseries) {
        const [s] = ts.samples;
        if (s.stale) again.appendStale(ts.labels, s.timestampMs);
        else again.append(ts.labels, s.value, s.timestampMs);
      }
      plain.reset();
      plain.append(again);
      assert.ok(raw.equals(plain.bytes()), `URL ${u}: the request decompresses to the plain writer's bytes`);
      samples += decoded.timeseries.length;
    }
    assert.equal(samples, 4 * kept[u]);
  }
  // what each URL received, in order: every series of each scrape, its value or staleness marker
  const seen = receivers.map((r) => r.got.flatMap((x) => x.body.timeseries.map((s) => `${s.labels.get('cpu')} ${s.samples[0].stale ? 'stale' : s.samples[0].value}`)));
  const want = (u: number) =>
    [0, 1, 2, 3].flatMap((scrape) =>
      series.flatMap((l, i) => (u === 1 && i % 5 === 0 ? [] : [`${l.get('cpu')} ${scrape === 2 && i % 7 === 0 ? 'stale' : i % 4 === 0 ? i : scrape * 1.5 + i}`])),
    );
  assert.deepEqual(seen[0], want(0));
  assert.deepEqual(seen[1], want(1));
});
