/**
 * The import paths side by side with vmagent 1.79.5: the same bodies to `/api/v1/import`
 * (JSON lines, gzip too), `/api/v1/import/csv` and `/api/v1/import/prometheus` of both, each
 * into its own VictoriaMetrics; the stored series, values and timestamps are the same — bad
 * lines included, which both drop (Tributary answering 400, vmagent logging them). Then the
 * round trip: what one VictoriaMetrics exports (`/api/v1/export`), imported into Tributary,
 * is the same series in the other storage.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { jsonLine } from '../../src/formats/jsonline/writer.js';
import { Labels } from '../../src/model/labels.js';
import { exportSeries, startSideBySide, type Agent, type ExportedSeries, type SideBySide } from '../helpers/ingest-peers.js';
import { waitFor } from '../helpers/scrape-harness.js';

async function both(sbs: SideBySide, path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<number[]> {
  const send = (a: Agent) => fetch(`${a.http}${path}`, { method: 'POST', body, headers }).then(async (r) => (await r.arrayBuffer(), r.status));
  return Promise.all([send(sbs.vmagent), send(sbs.tributary)]);
}

/** Both storages, settled, hold the same series under `match` (at least `minSeries`). */
async function compare(sbs: SideBySide, match: string, minSeries: number): Promise<void> {
  const [want, got] = await sbs.settle(minSeries, match);
  assert.ok(want.length >= minSeries, `vmagent stored ${want.length} series`);
  assert.deepEqual(got, want);
}

/** The series with their metric names' prefix `from` made `to`. */
function renamed(series: ExportedSeries[], from: string, to: string): ExportedSeries[] {
  return series.map((x) => ({ ...x, metric: { ...x.metric, __name__: x.metric.__name__.replace(from, to) } }));
}

test('import paths: the same bodies give the same series in storage as vmagent; an export imported again is the same', { timeout: 170_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const s = Math.floor(Date.now() / 1000) - 600;
  const ms = s * 1000;

  await t.test('/api/v1/import (JSON lines)', async () => {
    const lines = [
      `{"metric":{"__name__":"j_a","k":"v"},"values":[1,2.5,+Inf,-Inf,1e400],"timestamps":[${ms},${ms + 1000},${ms + 2000},${ms + 3000},${ms + 4000}]}`,
      `{"metric":{"__name__":"j_b"},"values":[1,2],"timestamps":[${ms}]}`,
      `{"metric":{"k":"noname"},"values":[7],"timestamps":[${ms}]}`,
      `{"metric":{"__name__":"j_c","empty":""},"values":[1e3],"timestamps":[1.5e12]}`,
      `{"metric":{"__name__":"j_e"},"values":[true],"timestamps":[${ms}]}`,
      `{"metric":{"__name__":"j_j","__name__":"j_j2"},"values":[6],"timestamps":[${ms}]}`,
      `{"metric":{"__name__":"j_k"},"values":[6],"timestamps":[${ms}],"extra":{"x":[1]}}`,
      ` {"timestamps":[${ms}],"values":[ 8 ],"metric":{"__name__":"j_m","z":"1","a":"2"}} `,
      `{"metric":{"__name__":"j_n"},"values":[NaN,nan,-Inf,INF],"timestamps":[${ms},${ms + 1},${ms + 2},${ms + 3}]}`,
      `{"metric":{"__name__":"j_o","esc":"a\\"b\\\\c\\u00e9\\n"},"values":[9,00,-0,123456789012345678901234],"timestamps":[${ms},${ms + 1},${ms + 2},${ms + 3}]}`,
      `{"metric":{"__name__":"j_q"},"values":[.5],"timestamps":[${ms}]}`,
      `{"metric":{"__name__":"j_r"},"values":[0.1,1e-7,12345.678,-9007199254740993],"timestamps":[${ms},${ms + 1},${ms + 2},${ms + 3}]}`,
      `{"metric":{"__name__":"j_a","k":"v"},"values":[3],"timestamps":[${ms + 5000}]}`,
      '',
      'not json at all',
    ].join('\n');
    const [a, b] = await both(sbs, '/api/v1/import', lines);
    assert.equal(a, 204);
    assert.equal(b, 400);
    const gz = `{"metric":{"__name__":"j_gz","x":"y"},"values":[1,2],"timestamps":[${ms},${ms + 15000}]}\n`;
    assert.deepEqual(await both(sbs, '/api/v1/import?extra_label=env=test&extra_label=k=over', gzipSync(gz + lines.split('\n')[0]), { 'content-encoding': 'gzip' }), [204, 204]);
    await compare(sbs, '{__name__=~"j_.*"}', 9);
    const noname = '{k="noname"}';
    await compare(sbs, noname, 1);
  });

  await t.test('/api/v1/import/csv', async () => {
    const rows = [
      `GOOG,1.23,4.56,${s}`,
      `"MS""FT",1,2,${s}`,
      `AAPL,,3,${s}`,
      `"a,b",7,8,${s},extra,"cols"`,
      'IBM,9',
      `ORCL,bad,5,${s}`,
      'SAP,5,6,notatime',
      `"unterminated,5,6,${s}`,
      `"x"y,5,6,${s}`,
      `,11,12,${s}`,
      ` SP , 13 ,14,${s}`,
      `INF1,NaN,Inf,${s}`,
      `INF2,-inf,+Inf,${s}`,
      `EXP,1e3,-2.5E-3,${s}`,
      `HEX,0x10,1,${s}`,
      `GOOG,2,3,${s + 10}`,
    ].join('\r\n');
    const fmt = encodeURIComponent('2:metric:c_ask,3:metric:c_bid,1:label:ticker,4:time:unix_s');
    const [a, b] = await both(sbs, `/api/v1/import/csv?format=${fmt}`, rows);
    assert.equal(a, 204);
    assert.equal(b, 400);
    const iso = new Date(ms + 123).toISOString();
    const rfc = [`x,${iso},1`, `y,${iso.replace('Z', '+00:00')},2`, `z,${iso.slice(0, 19)}+02:00,3`, `w,${iso.slice(0, 19)}.987654321Z,4`].join('\n');
    assert.deepEqual(await both(sbs, `/api/v1/import/csv?format=${encodeURIComponent('1:label:host,2:time:rfc3339,3:metric:c_rfc')}&extra_label=src=csv`, rfc), [204, 204]);
    const d = new Date(ms);
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const two = (n: number) => String(n).padStart(2, '0');
    const custom = `${two(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0100,5\n`;
    assert.deepEqual(await both(sbs, `/api/v1/import/csv?format=${encodeURIComponent('1:time:custom:02/Jan/2006:15:04:05 -0700,2:metric:c_custom')}`, custom), [204, 204]);
    await compare(sbs, '{__name__=~"c_.*"}', 10);
  });

  await t.test('/api/v1/import/prometheus', async () => {
    const text = [
      '# HELP p_a help text',
      '# TYPE p_a counter',
      'p_a{x="1"} 10',
      `p_b{x="2"} 20 ${ms + 5000}`,
      'p_c{esc="a\\"b\\\\c\\nd"} 3',
      'p_d{a="",b="v"} 4',
      'bad line here',
      'p_e 1e3',
      'p_f NaN',
      'p_g +Inf',
      'p_h -Inf',
      'p_i{a="1",} 5',
      'p_j\t7',
      'p_k 8 9 10',
      '# TYPE p_hist histogram',
      'p_hist_bucket{le="0.1"} 1',
      'p_hist_bucket{le="+Inf"} 2',
      'p_hist_sum 0.3',
      'p_hist_count 2',
      ' p_o 13',
      'p_q 0x10',
    ].join('\n');
    const [a, b] = await both(sbs, `/api/v1/import/prometheus?timestamp=${ms}`, text);
    assert.equal(a, 204);
    assert.equal(b, 400);
    assert.deepEqual(await both(sbs, `/api/v1/import/prometheus?timestamp=${ms + 30000}&extra_label=env=p`, gzipSync('p_a{x="1"} 11\np_z 1\n'), { 'content-encoding': 'gzip' }), [204, 204]);
    const [c, d] = await both(sbs, '/api/v1/import/prometheus?timestamp=1.5', 'p_y 1\n');
    assert.equal(c, 400);
    assert.equal(d, 400);
    await compare(sbs, '{__name__=~"p_.*"}', 14);
  });

  await t.test('round trip: VictoriaMetrics export → Tributary import → the same series in the other storage', async () => {
    // written by Tributary's export-line writer straight into the reference's storage (so
    // VictoriaMetrics reads the writer's lines, bare +Inf and -Inf included), then exported
    const seed: string[] = [];
    for (let i = 0; i < 50; i++) {
      const values = [i, i + 0.5, -i * 1e6, i % 7 === 0 ? Infinity : i / 3, i % 11 === 0 ? -Infinity : 1e-9 * i];
      const ts = values.map((_, k) => ms + i * 100 + k * 15_000);
      seed.push(jsonLine(Labels.fromRecord({ __name__: `rt_m${i % 5}`, instance: `host-${i}:9100`, job: 'node', path: `/var/"q"\\${i}`, utf: 'é€😀' }), values, ts));
    }
    const r = await fetch(`${sbs.vmagent.storage}/api/v1/import`, { method: 'POST', body: seed.join('\n') });
    assert.equal(r.status, 204);
    await fetch(`${sbs.vmagent.storage}/internal/force_flush`);
    const exported = await fetch(`${sbs.vmagent.storage}/api/v1/export?${new URLSearchParams({ 'match[]': '{__name__=~"rt_.*"}' })}`).then((x) => x.text());
    assert.equal(exported.trim().split('\n').length, 50);
    // VictoriaMetrics keeps values as decimals of 12 significant digits, and its float-to-decimal
    // step is not exact (8.33333333333 comes back 8.33333333332): the reference for what a second
    // storage holds is therefore the same export imported through vmagent, under other names
    const [viaVmagent, viaTributary] = await both(sbs, '/api/v1/import', gzipSync(exported.replaceAll('"__name__":"rt_', '"__name__":"rv_')), { 'content-encoding': 'gzip' });
    assert.equal(viaVmagent, 204);
    assert.equal(viaTributary, 204);
    const imported = await fetch(`${sbs.tributary.http}/api/v1/import`, { method: 'POST', body: gzipSync(exported), headers: { 'content-encoding': 'gzip' } });
    assert.equal(imported.status, 204, await imported.text());
    await compare(sbs, '{__name__=~"rv_.*"}', 50);
    let last = '';
    const settled = await waitFor(
      'the round trip to settle',
      async () => {
        const [want, got] = await Promise.all([exportSeries(sbs.vmagent.storage, '{__name__=~"rv_.*"}'), exportSeries(sbs.tributary.storage, '{__name__=~"rt_.*"}')]);
        const shape = JSON.stringify(got);
        const done = got.length === 50 && shape === last;
        last = shape;
        return done && [renamed(want, 'rv_', 'rt_'), got];
      },
      30_000,
    );
    assert.deepEqual(settled[1], settled[0]);
    // and values the decimals hold exactly come back as the first storage exported them
    const first = await exportSeries(sbs.vmagent.storage, '{__name__=~"rt_.*"}');
    // (the series' first three samples: i, i + 0.5, -i * 1e6; the last two may be i / 3 and 1e-9 * i)
    const exact = (rows: ExportedSeries[]) => rows.map((r) => ({ ...r, values: r.values.slice(0, 3), timestamps: r.timestamps.slice(0, 3) }));
    assert.equal(first.length, 50);
    assert.deepEqual(exact(settled[1]), exact(first));
  });
});
