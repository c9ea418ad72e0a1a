/**
 * Influx side by side with vmagent 1.79.5: the same payloads — tags, escapes, int/uint/float/bool
 * fields, numeric strings, several fields a line, every precision and the timestamp units told
 * by size, db and extra_label, gzip, the v2 path — over HTTP, TCP and UDP to both, each into its
 * own VictoriaMetrics; the stored series, values and timestamps are the same. Naming options are
 * compared too (vmagent's -influx* flags against the matching ingest.influx keys). Where Tributary
 * differs on purpose (a non-numeric string field: vmagent stores 0, Tributary skips the field)
 * the test asserts exactly that difference.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { gzipSync } from 'node:zlib';
import { sendTcp, startSideBySide, type Agent, type ExportedSeries, type SideBySide } from '../helpers/ingest-peers.js';
import { rng } from '../helpers/seeded-random.js';

function sendUdp(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = createSocket('udp4');
    u.send(text, port, '127.0.0.1', (err) => {
      u.close();
      if (err) reject(err);
      else resolve();
    });
  });
}

async function postBoth(sbs: SideBySide, path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<void> {
  await Promise.all(
    [sbs.vmagent, sbs.tributary].map(async (a: Agent) => {
      const r = await fetch(a.http + path, { method: 'POST', body, headers });
      const text = await r.text();
      assert.equal(r.status, 204, `${a.name} ${path}: ${r.status} ${text}`);
    }),
  );
}

/** Timestamps half an hour ago, in every unit. */
function times() {
  const ms = Date.now() - 30 * 60_000 + 123;
  const s = Math.floor(ms / 1000);
  return { ms, s, us: `${ms}456`, ns: `${ms}456789`, m: Math.floor(ms / 60_000), h: Math.floor(ms / 3_600_000) };
}

const key = (s: ExportedSeries) => JSON.stringify(s.metric);

test('influx: the same lines over HTTP, TCP and UDP give the same series in storage as vmagent', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const ts = times();
  // telegraf-like lines, no precision: units told by size (ns here)
  await postBoth(
    sbs,
    '/write?db=telegraf',
    [
      `cpu,cpu=cpu-total,host=web-1 usage_user=12.5,usage_system=3.25,usage_idle=84.25,usage_iowait=0 ${ts.ns}`,
      `mem,host=web-1 total=16777216000i,used=8388608000i,available_percent=50.0,swap_free=123u ${ts.ns}`,
      `disk,device=sda1,fstype=ext4,host=web-1,mode=rw,path=/ free=1.5e11,used_percent=42.42,inodes_used=12345i ${ts.ns}`,
      `system,host=web-1 load1=0.25,load5=0.5,n_cpus=8i,uptime=123456u,up=true,degraded=F ${ts.ns}`,
      `net,host=web-1,interface=eth0 bytes_recv=9223372036854775807i,bytes_sent=18446744073709551615u,err_in=-3i ${ts.ns}`,
      `esc\\ measurement\\,x,tag\\ key=tag\\ value\\=1\\,2,back=sl\\\\ash field\\ key=1.5,field\\=eq=2 ${ts.ns}`,
      `dbtag,db=from_tag,host=a v=7 ${ts.ns}`,
      `emptytag,a=,b=x v=8 ${ts.ns}`,
      `,host=nomeasurement bare=9 ${ts.ns}`,
      `numstr,host=a num="12.5",f=1 ${ts.ns}`,
      `bools a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE ${ts.ns}`,
      `floats a=-0.5,b=1e-3,c=6.02E23,d=00012,g=123456789012345678901234567890,h=0.1 ${ts.ns}`,
      '# a comment',
      '',
      `dup,t=a,t=b x=1 ${ts.ns}`,
      `spaced  x=1  ${ts.ns}`,
      `quoted,t="q" f=1,note="a, b=c \\" d" ${ts.ns}`,
      `utf8,host=zürich température=21.5 ${ts.ns}`,
    ].join('\n'),
  );
  await postBoth(sbs, '/write?precision=s&db=seconds', `p_s,host=a x=1 ${ts.s}\np_s,host=b x=2 ${ts.s + 1}`);
  await postBoth(sbs, '/write?precision=ms', `p_ms x=1 ${ts.ms}`);
  await postBoth(sbs, '/write?precision=u', `p_u x=1 ${ts.us}`);
  await postBoth(sbs, '/write?precision=us', `p_us x=1 ${ts.us}`);
  await postBoth(sbs, '/write?precision=ns', `p_ns x=1 ${ts.ns}`);
  // sub-millisecond parts past the half: truncated (Go's integer division), not rounded
  await postBoth(sbs, '/write?precision=ns', `trunc_ns x=1 ${ts.ms}999999`);
  await postBoth(sbs, '/write?precision=us', `trunc_us x=1 ${ts.ms}999`);
  await postBoth(sbs, '/write', `trunc_auto x=1 ${ts.ms}999999`);
  await postBoth(sbs, '/write?precision=m', `p_m x=1 ${ts.m}`);
  await postBoth(sbs, '/write?precision=h', `p_h x=1 ${ts.h}`);
  await postBoth(sbs, '/write', `auto_s x=1 ${ts.s}\nauto_ms x=1 ${ts.ms}\nauto_us x=1 ${ts.us}\nauto_ns x=1 ${ts.ns}`);
  await postBoth(sbs, '/api/v2/write?org=o&bucket=b&precision=ns', `v2,host=a x=1,y=2i ${ts.ns}`);
  await postBoth(sbs, '/api/v2/write?precision=s', `v2s x=1 ${ts.s}`);
  await postBoth(sbs, '/write?db=x&extra_label=env=prod&extra_label=db=over', `extra,host=a x=1 ${ts.ns}`);
  await postBoth(sbs, '/write?db=gz', gzipSync(Array.from({ length: 50 }, (_, i) => `gz,i=${i} x=${i}.5,y=${i}i ${ts.ns}`).join('\n')), { 'content-encoding': 'gzip' });
  // a later sample of series already sent
  await postBoth(sbs, '/write?db=telegraf', `cpu,cpu=cpu-total,host=web-1 usage_user=13.5 ${Number(ts.ms) + 10_000}456789`);

  const tcp = [`tcp,host=a x=1,y=2i ${ts.ns}`, `tcp,host=b x=3 ${ts.s}`, `tcp_ms x=4 ${ts.ms}`, `tcp\\ esc,t\\,1=v\\ 1 f=t ${ts.ns}`].join('\n') + '\n';
  await Promise.all([sendTcp(sbs.vmagent.ports.influx, tcp), sendTcp(sbs.tributary.ports.influx, tcp)]);
  const udp = `udp,host=a x=5 ${ts.ns}\nudp,host=b x=6 ${ts.s}\n`;
  await Promise.all([sendUdp(sbs.vmagent.ports.influx, udp), sendUdp(sbs.tributary.ports.influx, udp)]);

  await sbs.settle(150);
  const [want, got] = await Promise.all([sbs.vmagent.export(), sbs.tributary.export()]);
  assert.ok(want.length >= 150, `vmagent stored ${want.length} series`);
  // the one difference on purpose: a string field that is not a number (vmagent stores 0)
  const skipped = want.filter((s) => s.metric.__name__ === 'quoted_note');
  assert.deepEqual(
    skipped.map((s) => s.values),
    [[0]],
  );
  assert.deepEqual(got, want.filter((s) => s.metric.__name__ !== 'quoted_note'));
  assert.ok(got.some((s) => s.metric.__name__ === 'tcp_x') && got.some((s) => s.metric.__name__ === 'udp_x'));
  // no db query arg: no db label (vmagent has no default db)
  assert.deepEqual(want.find((s) => s.metric.__name__ === 'p_ms_x')?.metric, { __name__: 'p_ms_x' });
  for (const name of ['trunc_ns_x', 'trunc_us_x', 'trunc_auto_x']) assert.deepEqual(want.find((s) => s.metric.__name__ === name)?.timestamps, [ts.ms], name);
  assert.ok(got.some((s) => key(s) === JSON.stringify({ __name__: 'cpu_usage_user', cpu: 'cpu-total', db: 'telegraf', host: 'web-1' }) && s.values.length === 2));
});

test('influx naming options as vmagent: skip_single_field, separator, db_label, trim_timestamp', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t, {
    vmagentFlags: ['-influxSkipSingleField', '-influxMeasurementFieldSeparator=.', '-influxDBLabel=database', '-influxTrimTimestamp=1s'],
    tributaryInflux: 'skip_single_field: true, measurement_field_separator: ".", db_label: database, trim_timestamp: 1s',
  });
  if (!sbs) return;
  const ts = times();
  const body = [
    `one,host=a x=1 ${ts.ns}`,
    `two,host=a x=1,y=2 ${ts.ns}`,
    `,host=a bare=3 ${ts.ns}`,
    `withdb,database=own x=4 ${ts.ns}`,
    `numstr s="5" ${ts.ns}`,
  ].join('\n');
  await postBoth(sbs, '/write?db=mine', body);
  const tcp = `tcp x=1 ${ts.ns}\n`;
  await Promise.all([sendTcp(sbs.vmagent.ports.influx, tcp), sendTcp(sbs.tributary.ports.influx, tcp)]);
  await sbs.settle(7);
  const [want, got] = await Promise.all([sbs.vmagent.export(), sbs.tributary.export()]);
  assert.equal(want.length, 7);
  assert.ok(want.some((s) => s.metric.__name__ === 'two.x'));
  assert.ok(want.every((s) => s.timestamps.every((x) => x % 1000 === 0)));
  assert.deepEqual(got, want);
});

test('influx skip_measurement as vmagent -influxSkipMeasurement', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t, { vmagentFlags: ['-influxSkipMeasurement'], tributaryInflux: 'skip_measurement: true' });
  if (!sbs) return;
  const ts = times();
  await postBoth(sbs, '/write', `m,host=a x=1,y=2 ${ts.ns}\nother,host=b z=3 ${ts.ns}\n,host=c w=4 ${ts.ns}`);
  await sbs.settle(4);
  const [want, got] = await Promise.all([sbs.vmagent.export(), sbs.tributary.export()]);
  assert.equal(want.length, 4);
  assert.deepEqual(got, want);
});

/** Random lines from the grammar both agents agree on (no non-numeric strings, no `.5`/`5.`/`+5` floats). */
function generatedLines(seed: number, count: number, nsBase: bigint): string[] {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const int = (max: number) => Math.floor(rand() * max);
  const ident = (escapes: readonly string[]) => {
    let s = pick(['m', 'cpu', 'Mëtric', 'a.b', 'x_y', 'k8s']);
    for (let i = int(3); i > 0; i--) s += pick(['a', 'b', '0', '_', '-', ...escapes]);
    return s;
  };
  const digits = (n: number) => {
    let s = String(1 + int(9));
    for (let i = 1; i < n; i++) s += String(int(10));
    return s;
  };
  const float = () => {
    const sign = rand() < 0.3 ? '-' : '';
    switch (int(6)) {
      case 0:
        return sign + digits(1 + int(18));
      case 1:
        return `${sign}${int(1000)}.${digits(1 + int(17))}`;
      case 2:
        return `${sign}${digits(1 + int(17))}e${rand() < 0.5 ? '-' : ''}${int(280)}`;
      case 3:
        return `${sign}0.${'0'.repeat(int(8))}${digits(1 + int(16))}`;
      case 4:
        return `${sign}${digits(1 + int(3))}.${digits(1 + int(3))}E+${int(20)}`;
      default:
        return `${sign}${int(100)}`;
    }
  };
  const value = () => {
    switch (int(6)) {
      case 0:
        return `${rand() < 0.3 ? '-' : ''}${digits(1 + int(19)).slice(0, 18)}i`;
      case 1:
        return `${digits(1 + int(19)).slice(0, 19)}u`;
      case 2:
        return pick(['t', 'T', 'true', 'True', 'TRUE', 'f', 'F', 'false', 'False', 'FALSE']);
      case 3:
        return `"${float()}"`;
      default:
        return float();
    }
  };
  const series: string[] = [];
  for (let i = 0; i < count / 3; i++) {
    let s = ident(['\\ ', '\\,']);
    for (let k = int(4); k > 0; k--) s += `,${ident(['\\ ', '\\,', '\\='])}=${ident(['\\ ', '\\,', '\\=', '"'])}`;
    series.push(s);
  }
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    // distinct field names and a millisecond of its own per line: no two samples of a series at one
    // timestamp, whose order in storage would be either agent's
    const fields = new Map<string, string>();
    for (let k = 1 + int(4); k > 0; k--) fields.set(ident(['\\ ', '\\,', '\\=']), value());
    const ts = nsBase + BigInt(i) * 1_000_000n + BigInt(int(1_000_000));
    // a tag of its own per line: one sample per series — VictoriaMetrics keeps a block's values under
    // one decimal exponent, so a series mixing magnitudes loses low digits depending on how its
    // samples happened to be grouped into blocks, differently in each storage
    lines.push(`${pick(series)},line=${i} ${[...fields].map(([k, v]) => `${k}=${v}`).join(',')} ${ts}`);
  }
  return lines;
}

test('influx: generated lines (escapes, every value type, long floats) give the same series as vmagent', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const nsBase = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  const lines = generatedLines(1979, 600, nsBase);
  for (let i = 0; i < lines.length; i += 200) await postBoth(sbs, '/write?db=gen', lines.slice(i, i + 200).join('\n'));
  await sbs.settle(100);
  const [want, got] = await Promise.all([sbs.vmagent.export(), sbs.tributary.export()]);
  assert.ok(want.length >= 100, `vmagent stored ${want.length} series`);
  assert.deepEqual(got, want);
});
