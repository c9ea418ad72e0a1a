/**
 * Per-source health series, the `up` of the gateway: one set per source and pushed app, kept in
 * the self-metrics registry so they appear on every exposition path with Tributary's own
 * metrics. A failing or slow source shows here instead of failing the scrape.
 */

import type { Registry, Gauge, Counter } from '../selfmetrics/registry.js';
import type { SourceKind, SourceSnapshot } from './source.js';

export class SourceHealth {
  private readonly up: Gauge;
  private readonly duration: Gauge;
  private readonly samples: Gauge;
  private readonly lastSuccess: Gauge;
  private readonly errors: Counter;
  private readonly dropped: Gauge;
  private readonly known = new Set<string>();

  constructor(registry: Registry) {
    this.up = registry.gauge({
      name: 'tributary_source_up',
      help: '1 when the last attempt to get the source succeeded, 0 otherwise.',
      labelNames: ['source', 'kind'],
    });
    this.duration = registry.gauge({
      name: 'tributary_source_duration_seconds',
      help: 'Duration of the last attempt to get the source.',
      labelNames: ['source'],
    });
    this.samples = registry.gauge({
      name: 'tributary_source_samples',
      help: 'Samples the source contributes to the page.',
      labelNames: ['source'],
    });
    this.lastSuccess = registry.gauge({
      name: 'tributary_source_last_success_timestamp_seconds',
      help: 'When the source last gave data, seconds since the epoch (0: never).',
      labelNames: ['source'],
    });
    this.errors = registry.counter({
      name: 'tributary_source_errors_total',
      help: 'Scrapes that found the source failing (its last good data, if any, was served).',
      labelNames: ['source'],
    });
    this.dropped = registry.gauge({
      name: 'tributary_source_dropped_lines',
      help: 'Lines of the source page that could not be parsed and were left out.',
      labelNames: ['source'],
    });
  }

  observe(source: string, kind: SourceKind, s: SourceSnapshot, samples: number): void {
    this.known.add(source);
    this.up.labels(source, kind).set(s.ok ? 1 : 0);
    this.duration.labels(source).set(s.durationSeconds);
    this.samples.labels(source).set(samples);
    this.lastSuccess.labels(source).set(s.lastSuccessMs / 1000);
    this.dropped.labels(source).set(s.droppedLines);
    if (!s.ok) this.errors.labels(source).inc();
  }

  /** Drops the series of sources and apps that are gone (an expired app leaves no trace). */
  retain(live: ReadonlyMap<string, SourceKind>): void {
    for (const source of this.known) {
      if (live.has(source)) continue;
      this.known.delete(source);
      for (const kind of ['http', 'file', 'script', 'push'] as const) this.up.remove(source, kind);
      this.duration.remove(source);
      this.samples.remove(source);
      this.lastSuccess.remove(source);
      this.errors.remove(source);
      this.dropped.remove(source);
    }
  }
}
