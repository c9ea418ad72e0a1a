/**
 * Stream aggregation rules in vmagent's format (its `-streamAggr.config` file: a YAML list of
 * rules), and the settings around them: the global `stream_aggr:` section (vmagent's
 * -streamAggr.* flags) and `remote_write[].stream_aggr` (its -remoteWrite.streamAggr.* flags).
 * A vmagent file is read unchanged, from `stream_aggr.config` (or `--stream-aggr-config`) or
 * written inline under `rules:`. Everything is checked at load: a bad selector, interval,
 * output or relabeling rule is an error at its file, line and key.
 */

import * as z from 'zod';
import { parseDuration } from './duration.js';
import { AT_KEY, bool, duration, nonEmptyText, text, uint } from './fields.js';
import { checkSelectors, relabelConfigsSchema } from './relabel.js';
import { parseOutput } from './stream-aggr-outputs.js';

export { PLAIN_OUTPUTS, parseOutput, type OutputSpec, type PlainOutput } from './stream-aggr-outputs.js';

const selectorList = z.union([z.string(), z.array(z.string())], { error: 'expected a series selector or a list of them' });

const durationText = z.string().superRefine((s, ctx) => {
  try {
    if (parseDuration(s) <= 0) ctx.addIssue({ code: 'custom', message: 'must be positive' });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/**
 * One rule, keys as vmagent's `streamaggr.Config`. `interval` stays as written, since it is part
 * of the output names (`:1m_`, `:5m_`); `enable_windows` is accepted and warned about (not done).
 */
export const streamAggrRuleSchema = z
  .strictObject({
    name: text.optional(),
    match: selectorList.optional(),
    interval: durationText,
    no_align_flush_to_interval: bool.default(false),
    flush_on_shutdown: bool.default(false),
    dedup_interval: duration.optional(),
    staleness_interval: duration.optional(),
    ignore_first_sample_interval: duration.optional(),
    outputs: z.array(z.string()).min(1, 'at least one output is needed'),
    keep_metric_names: bool.default(false),
    ignore_old_samples: bool.optional(),
    ignore_first_intervals: uint.optional(),
    by: z.array(nonEmptyText).default([]),
    without: z.array(nonEmptyText).default([]),
    drop_input_labels: z.array(nonEmptyText).optional(),
    input_relabel_configs: relabelConfigsSchema.default([]),
    output_relabel_configs: relabelConfigsSchema.default([]),
    enable_windows: bool.optional(),
  })
  .superRefine((r, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message, params: AT_KEY });
    checkSelectors(r.match, 'match', issue);
    const seen = new Map<string, number>();
    r.outputs.forEach((o, i) => {
      try {
        const spec = parseOutput(o);
        const key = spec.kind;
        const first = seen.get(key);
        if (first !== undefined) issue(['outputs', i], `${JSON.stringify(o)} repeats outputs[${first}]`);
        seen.set(key, i);
      } catch (err) {
        issue(['outputs', i], (err as Error).message);
      }
    });
    if (r.keep_metric_names) {
      if (r.outputs.length !== 1) issue(['keep_metric_names'], 'needs exactly one output (the output names would clash)');
      else if (/^\s*histogram_bucket\s*$|^\s*quantiles\(.*,/.test(r.outputs[0]))
        issue(['keep_metric_names'], `cannot be used with ${JSON.stringify(r.outputs[0])}: it makes several series of each input name`);
    }
    if (r.by.length > 0 && r.without.length > 0) issue(['without'], 'by and without cannot both be set');
    let interval = 0;
    try {
      interval = parseDuration(r.interval);
    } catch {
      return;
    }
    if (interval > 0 && interval < 1000) issue(['interval'], 'must be at least 1s');
    if (r.dedup_interval !== undefined && r.dedup_interval > 0 && interval > 0) {
      if (r.dedup_interval > interval) issue(['dedup_interval'], `must not exceed interval (${r.interval})`);
      else if (interval % r.dedup_interval !== 0) issue(['dedup_interval'], `interval (${r.interval}) must be a multiple of it`);
    }
    if (r.staleness_interval !== undefined && r.staleness_interval < interval) issue(['staleness_interval'], `must be at least interval (${r.interval})`);
  });

export type StreamAggrRule = z.output<typeof streamAggrRuleSchema>;

/** A file named by `stream_aggr.config`: the rule list exactly as vmagent reads it. */
export const streamAggrFileSchema = z.array(streamAggrRuleSchema);

/**
 * Aggregation, deduplication and their switches at one place of the pipeline: globally (before
 * the samples are routed to URLs) or for one `remote_write` URL. The defaults of
 * `ignore_old_samples`, `ignore_first_intervals` and `drop_input_labels` fill in the rules that
 * do not set them, as vmagent's flags of the same names do. `dedup_interval` without rules
 * deduplicates every sample; with rules, the rules' input. What goes on besides the outputs:
 * samples no rule matched, unless `drop_input`; samples a rule matched only with `keep_input`
 * (both set: only the matched ones — vmagent's rule).
 */
export const streamAggrSchema = z
  .strictObject({
    /** A vmagent stream aggregation file; its rules come before `rules`. */
    config: nonEmptyText.optional(),
    rules: streamAggrFileSchema.default([]),
    keep_input: bool.default(false),
    drop_input: bool.default(false),
    dedup_interval: duration.default(0),
    ignore_old_samples: bool.default(false),
    ignore_first_intervals: uint.default(0),
    drop_input_labels: z.array(nonEmptyText).default([]),
    /**
     * Tributary: how often the aggregation state is written under the data directory (and at a
     * stop), so a restart loses neither counts nor counter history; a `kill -9` loses at most
     * the samples aggregated since the last write.
     */
    state_write_interval: duration.refine((n) => n >= 1000, 'must be at least 1s').default(10_000),
  });

export type StreamAggrConfig = z.output<typeof streamAggrSchema>;
