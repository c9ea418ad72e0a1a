/**
 * Relabeling: the engine that runs `relabel_configs`, `metric_relabel_configs` and
 * `write_relabel_configs` on series — every Prometheus action with Prometheus' exact semantics,
 * vmagent's extra actions, `if:` series selectors and `{{label}}` templates — and a per-series
 * cache in front of it. Config parsing and regex translation live in src/config.
 */
export { Relabeler, type LabelsProcessor } from './relabel.js';
export { CachedRelabeler, DEFAULT_RELABEL_CACHE_ENTRIES, type RelabelCacheOptions } from './cache.js';
export { SeriesSelector, type LabelMatcher, type MatchOp } from './selector.js';
export { GoTemplate } from './template.js';
