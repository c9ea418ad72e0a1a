/**
 * Stream aggregation and deduplication, vmagent's (`-streamAggr.*`, `-remoteWrite.streamAggr.*`)
 * with its rule files read unchanged: samples aggregated by time and labels before they are
 * written (`rule.ts`: one rule; `outputs.ts`: the table of outputs; `vmrange.ts`: the
 * histogram buckets), deduplication of every sample (`dedup.ts`), one place of it in the
 * pipeline with its timer and its state kept on disk across restarts (`aggregation.ts`), and
 * `tributary_streamaggr_*` (`metrics.ts`). Remote write places it: globally in its router, per
 * URL in the URL's queue.
 */

export { StreamAggregation, type StreamAggregationOptions } from './aggregation.js';
export { StreamAggrMetrics } from './metrics.js';
export { RuleAggregator } from './rule.js';
