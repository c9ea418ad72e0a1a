/**
 * Relabeling: the engine that runs `relabel_configs`, `metric_relabel_configs` and
 * `write_relabel_configs` on series — every Prometheus action with Prometheus' exact semantics,
 * vmagent's extra actions, `if:` series selectors and `{{label}}` templates — a per-series
 * cache in front of it, a step-by-step trace and rules written back as YAML for the pages, and
 * (in debugger/, imported on its own so the engine does not pull in the web UI) the relabel
 * debugger page. Config parsing and regex translation live in src/config.
 */
export { Relabeler, type LabelsProcessor } from './relabel.js';
export { CachedRelabeler, DEFAULT_RELABEL_CACHE_ENTRIES, type RelabelCacheOptions } from './cache.js';
export { SeriesSelector, SelectorSyntaxError, parseLabelSet, type LabelMatcher, type MatchOp } from '../config/selector.js';
export { GoTemplate } from './template.js';
export { RelabelTracer, traceRelabel, relabelOutcome, type RelabelStep, type RelabelOutcome } from './trace.js';
