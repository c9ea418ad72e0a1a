/**
 * OTLP from the OpenTelemetry JS SDK through Tributary into a real VictoriaMetrics by remote
 * write, read back with /api/v1/export: what storage holds is what the in-process tests see.
 * No differential against vmagent here: vmagent 1.79 has no OpenTelemetry ingestion (its
 * `/opentelemetry/v1/metrics` came in later releases), so only Tributary's side is checked.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { startSideBySide } from '../helpers/ingest-peers.js';
import { waitFor } from '../helpers/scrape-harness.js';

test('OTLP protobuf from the SDK lands in VictoriaMetrics as Prometheus series (counter, histogram, gauge, target_info)', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `${sbs.tributary.http}/opentelemetry/v1/metrics` }),
    exportIntervalMillis: 3_600_000,
  });
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'billing', 'service.instance.id': 'b-1', region: 'eu' }), readers: [reader] });
  const meter = provider.getMeter('m');
  meter.createCounter('invoices.sent', { unit: '{invoice}' }).add(4, { currency: 'EUR' });
  const h = meter.createHistogram('invoice.render.time', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
  h.record(5);
  h.record(50);
  meter.createObservableGauge('queue.length').addCallback((r) => r.observe(17));
  const before = Date.now();
  await reader.forceFlush();

  let got: Awaited<ReturnType<typeof sbs.tributary.export>> = [];
  await waitFor(
    'the series in storage',
    async () => {
      got = await sbs.tributary.export();
      return got.length >= 8;
    },
    30_000,
  );
  const byKey = Object.fromEntries(got.map((s) => [JSON.stringify(s.metric), s]));
  const id = { instance: 'b-1', job: 'billing' };
  const want: [Record<string, string>, number][] = [
    [{ __name__: 'invoices_sent_total', currency: 'EUR', ...id }, 4],
    [{ __name__: 'invoice_render_time_milliseconds_bucket', ...id, le: '10' }, 1],
    [{ __name__: 'invoice_render_time_milliseconds_bucket', ...id, le: '100' }, 2],
    [{ __name__: 'invoice_render_time_milliseconds_bucket', ...id, le: '+Inf' }, 2],
    [{ __name__: 'invoice_render_time_milliseconds_sum', ...id }, 55],
    [{ __name__: 'invoice_render_time_milliseconds_count', ...id }, 2],
    [{ __name__: 'queue_length', ...id }, 17],
    [{ __name__: 'target_info', ...id, region: 'eu' }, 1],
  ];
  assert.equal(got.length, want.length, JSON.stringify(got.map((s) => s.metric)));
  for (const [metric, value] of want) {
    const sorted = Object.fromEntries(Object.entries(metric).sort(([a], [b]) => (a < b ? -1 : 1)));
    const s = byKey[JSON.stringify(sorted)];
    assert.ok(s, `${JSON.stringify(sorted)} in storage`);
    assert.deepEqual(s.values, [value]);
    assert.ok(s.timestamps[0] >= before - 1000 && s.timestamps[0] <= Date.now(), 'the export time, in ms');
  }
  // after the checks (its last export would be a second sample), before Tributary closes
  await provider.shutdown();

  // why there is no differential: vmagent 1.79.5 does not serve the path at all
  const r = await fetch(`${sbs.vmagent.http}/opentelemetry/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(0) });
  const text = await r.text();
  assert.equal(r.status, 400);
  assert.match(text, /unsupported path requested/);
});
