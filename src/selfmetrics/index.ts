/**
 * Self-metrics: what Tributary reports about its own health on /metrics. The `Registry` owns
 * counters, gauges and histograms that other parts create (request counts, scrape durations,
 * per-target figures through registered `Collector`s) and renders them, with the process
 * collector's `process_*` metrics, as `MetricFamily` objects for the exposition writer.
 */
export {
  Registry,
  Metric,
  Counter,
  CounterChild,
  Gauge,
  GaugeChild,
  Histogram,
  HistogramChild,
  DEFAULT_BUCKETS,
} from './registry.js';
export type { Collector, MetricOptions, GaugeOptions, HistogramOptions, RegistryOptions } from './registry.js';
export { ProcessCollector } from './process.js';
export type { ProcessCollectorOptions } from './process.js';
