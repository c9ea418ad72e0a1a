/**
 * The official InfluxDB JS client (`@influxdata/influxdb-client`) writing to Tributary: the v2
 * write API (org, bucket, precision; gzip above its threshold; a URL with the `/influx` prefix)
 * into the pipeline, v1 `/write` with `fetch` as Telegraf's v1 output sends it, and the same
 * client writing to vmagent and Tributary side by side, landing in VictoriaMetrics the same way.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfluxDB, Point, setLogger } from '@influxdata/influxdb-client';
import { silentLogger } from '../../src/log/logger.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import type { SampleBatch } from '../../src/model/samples.js';
import { tempDataDir } from '../helpers/fixtures.js';
import { startSideBySide } from '../helpers/ingest-peers.js';

class Lines {
  readonly lines: string[] = [];
  write(_job: string, b: SampleBatch): void {
    for (let i = 0; i < b.length; i++) this.lines.push(`${b.series[i].toString()} ${b.values[i]} ${b.timestamps[i]}`);
  }
}

async function start(t: TestContext, influx = '') {
  const dir = tempDataDir();
  const file = join(dir, 'tributary.yml');
  writeFileSync(file, `server: {listen: 127.0.0.1:0, data_dir: ${dir}}\ningest:\n  influx: {http: true${influx ? ', ' + influx : ''}}\n`);
  const rt = await startRuntime({ configFile: file, logger: silentLogger });
  t.after(() => rt.close(0));
  const sink = new Lines();
  rt.pipeline.add(sink);
  return { sink, base: `http://${rt.address}` };
}

/** Points of every field type the client writes. */
function points(at: Date, n = 1, withString = true): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < n; i++) {
    const p = new Point('weather')
      .tag('location', `city ${i}`)
      .tag('sensor', 's=1,2')
      .floatField('temperature', 21.5 + i)
      .intField('humidity', 40 + i)
      .uintField('readings', 1000 + i)
      .booleanField('ok', i % 2 === 0)
      .timestamp(at);
    out.push(withString ? p.stringField('note', 'not a number') : p);
  }
  return out;
}

test('influxdb-client v2 writeApi (org, bucket, ns) into the pipeline; gzip above the threshold; the /influx prefix', async (t) => {
  const { sink, base } = await start(t, 'bucket_as_db: true');
  const at = new Date(1700000000123);
  const plain = new InfluxDB({ url: base, token: 'ignored' }).getWriteApi('my-org', 'my-bucket', 'ns', { maxRetries: 0, gzipThreshold: 1_000_000 });
  plain.writePoints(points(at));
  await plain.close();
  assert.deepEqual(sink.lines.sort(), [
    'weather_humidity{db="my-bucket", location="city 0", sensor="s=1,2"} 40 1700000000123',
    'weather_ok{db="my-bucket", location="city 0", sensor="s=1,2"} 1 1700000000123',
    'weather_readings{db="my-bucket", location="city 0", sensor="s=1,2"} 1000 1700000000123',
    'weather_temperature{db="my-bucket", location="city 0", sensor="s=1,2"} 21.5 1700000000123',
  ]);
  sink.lines.length = 0;

  // many points: the client gzips the body; under /influx, in seconds
  const gz = new InfluxDB({ url: `${base}/influx`, token: 'ignored' }).getWriteApi('my-org', 'other', 's', { maxRetries: 0, gzipThreshold: 100 });
  gz.writePoints(points(at, 50));
  await gz.close();
  assert.equal(sink.lines.length, 200);
  assert.ok(sink.lines.includes('weather_humidity{db="other", location="city 49", sensor="s=1,2"} 89 1700000000000'));
});

test('v1 /write as Telegraf sends it (db, precision, rp ignored) and the client failing loudly on a refused line', async (t) => {
  const { sink, base } = await start(t);
  const r = await fetch(`${base}/write?db=telegraf&rp=autogen&precision=s&consistency=any`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'Telegraf/1.30' },
    body: 'cpu,cpu=cpu0,host=h usage_user=1.25,usage_system=0.5 1700000000\n',
  });
  assert.equal(r.status, 204, await r.text());
  assert.deepEqual(sink.lines.sort(), ['cpu_usage_system{cpu="cpu0", db="telegraf", host="h"} 0.5 1700000000000', 'cpu_usage_user{cpu="cpu0", db="telegraf", host="h"} 1.25 1700000000000']);

  // a refused line reaches the client as an HTTP error naming it (the client's own log of it silenced)
  const previous = setLogger({ error: () => undefined, warn: () => undefined });
  t.after(() => setLogger(previous));
  const api = new InfluxDB({ url: base, token: 'x' }).getWriteApi('o', 'b', 'ns', { maxRetries: 0 });
  api.writeRecord('good x=1 1700000000000000000');
  api.writeRecord('bad x=notanumber 1700000000000000000');
  await assert.rejects(api.flush(), (err: Error & { statusCode?: number; body?: string }) => err.statusCode === 400 && /line 2: field "x": invalid value/.test(err.message));
  await api.close().catch(() => undefined);
  assert.ok(sink.lines.includes('good_x{} 1 1700000000000'), 'the good line of the refused request was kept');
});

test('influxdb-client into vmagent and Tributary: the same series land in VictoriaMetrics', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const at = new Date(Date.now() - 20 * 60_000);
  for (const agent of [sbs.vmagent, sbs.tributary]) {
    const api = new InfluxDB({ url: agent.http, token: 'x' }).getWriteApi('org', 'bucket', 'ms', { maxRetries: 0, gzipThreshold: 500 });
    // string fields aside (vmagent stores 0 for a text, Tributary skips it): every other type
    api.writePoints(points(at, 20, false));
    api.writePoint(new Point('client_v2').tag('host', 'a').floatField('x', 1.5).timestamp(at));
    await api.close();
    const v1 = await fetch(`${agent.http}/write?db=legacy&precision=s`, { method: 'POST', body: `client_v1,host=a x=2 ${Math.floor(at.getTime() / 1000)}` });
    assert.equal(v1.status, 204);
  }
  await sbs.settle(82);
  const [want, got] = await Promise.all([sbs.vmagent.export(), sbs.tributary.export()]);
  assert.equal(want.length, 82);
  assert.deepEqual(got, want);
  assert.deepEqual(
    got.find((s) => s.metric.__name__ === 'client_v1_x')?.metric,
    { __name__: 'client_v1_x', db: 'legacy', host: 'a' },
  );
});
