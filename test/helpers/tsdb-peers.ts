/**
 * What the Graphite and OpenTSDB tests share: lines over TCP, and comparing series that each
 * agent stamped with its own "now" (same names and values, timestamps seconds apart at most).
 */

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { ExportedSeries, SideBySide } from './ingest-peers.js';
import { waitFor } from './scrape-harness.js';

/** Writes `text` on a fresh TCP connection and closes it; resolves once the peer closed too. */
export function sendTcp(port: number, text: string | Buffer, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host, () => s.end(text));
    s.resume();
    s.once('close', () => resolve());
    s.once('error', reject);
  });
}

/** Series stamped "now" by each agent: the same names and values, timestamps a few seconds apart at most. */
export function assertNowStamped(got: ExportedSeries[], want: ExportedSeries[], slackMs = 5_000): void {
  assert.deepEqual(
    got.map((s) => [s.metric, s.values]),
    want.map((s) => [s.metric, s.values]),
  );
  for (let i = 0; i < got.length; i++) {
    for (let k = 0; k < got[i].timestamps.length; k++) {
      assert.ok(Math.abs(got[i].timestamps[k] - want[i].timestamps[k]) <= slackMs, `${JSON.stringify(got[i].metric)}: ${got[i].timestamps[k]} vs ${want[i].timestamps[k]}`);
      assert.equal(got[i].timestamps[k] % 1000, 0, 'now is whole seconds, as vmagent');
    }
  }
}

/**
 * `/api/v1/export` of a storage, sorted, tolerating the bare `+Inf`, `-Inf` and `NaN` values
 * VictoriaMetrics writes there (not JSON; the shared helper's export chokes on them).
 */
export async function exportSeries(storage: string, match = '{__name__=~".+"}'): Promise<ExportedSeries[]> {
  await fetch(`${storage}/internal/force_flush`).catch(() => undefined);
  const r = await fetch(`${storage}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`);
  if (!r.ok) throw new Error(`export from ${storage}: ${r.status} ${await r.text()}`);
  const out: ExportedSeries[] = [];
  for (const line of (await r.text()).split('\n')) {
    if (line.trim() === '') continue;
    const fixed = line.replace(/"values":\[([^\]]*)\]/, (_m, vs: string) => `"values":[${vs.split(',').map((v) => (/^[+-]?Inf$|^NaN$/.test(v) ? JSON.stringify(v) : v)).join(',')}]`);
    const s = JSON.parse(fixed) as { metric: Record<string, string>; values: (number | string)[]; timestamps: number[] };
    const metric = Object.fromEntries(Object.entries(s.metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const values = s.values.map((v) => (typeof v === 'number' ? v : v === 'NaN' ? NaN : v.startsWith('-') ? -Infinity : Infinity));
    const pairs = s.timestamps.map((ts, i) => [ts, values[i]] as const).sort((a, b) => a[0] - b[0]);
    out.push({ metric, timestamps: pairs.map((p) => p[0]), values: pairs.map((p) => p[1]) });
  }
  return out.sort((a, b) => {
    const ka = JSON.stringify(a.metric);
    const kb = JSON.stringify(b.metric);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

/** Both storages of a side-by-side run, read with `exportSeries` until they stop changing. */
export async function settledExports(sbs: SideBySide, minSeries: number, match?: string): Promise<[ExportedSeries[], ExportedSeries[]]> {
  let last = '';
  let same = 0;
  let result: [ExportedSeries[], ExportedSeries[]] = [[], []];
  await waitFor(
    'both storages to settle',
    async () => {
      await new Promise((r) => setTimeout(r, 300));
      result = await Promise.all([exportSeries(sbs.vmagent.storage, match), exportSeries(sbs.tributary.storage, match)]);
      const [a, b] = result;
      const shape = JSON.stringify([a.length, b.length, a.reduce((n, s) => n + s.values.length, 0), b.reduce((n, s) => n + s.values.length, 0)]);
      same = shape === last ? same + 1 : 0;
      last = shape;
      return a.length >= minSeries && b.length >= minSeries && same >= 3;
    },
    30_000,
  );
  return result;
}
