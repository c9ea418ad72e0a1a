/**
 * One `scrape_configs` entry as written: every key Prometheus 3 accepts (and a few Prometheus 2
 * spellings), Prometheus' per-job defaults, and the checks that need only the job itself.
 * Values a job inherits from `global` (interval, timeout, limits, protocols, name validation)
 * are left unset here and filled in by schema.ts, which sees both.
 */

import * as z from 'zod';
import { discoveryShape } from './discovery.js';
import { checkHttpClient, httpClientShape } from './http-client.js';
import { relabelConfigsSchema } from './relabel.js';
import { bool, duration, float, nonEmptyText, size, text, textList, uint } from './fields.js';

export const SCRAPE_PROTOCOLS = [
  'PrometheusProto',
  'OpenMetricsText0.0.1',
  'OpenMetricsText1.0.0',
  'PrometheusText0.0.4',
  'PrometheusText1.0.0',
] as const;
export type ScrapeProtocol = (typeof SCRAPE_PROTOCOLS)[number];

export const DEFAULT_SCRAPE_PROTOCOLS: readonly ScrapeProtocol[] = [
  'OpenMetricsText1.0.0',
  'OpenMetricsText0.0.1',
  'PrometheusText1.0.0',
  'PrometheusText0.0.4',
];

/** Used when native histograms are scraped: they only travel in the protobuf format. */
export const PROTO_FIRST_SCRAPE_PROTOCOLS: readonly ScrapeProtocol[] = [
  'PrometheusProto',
  ...DEFAULT_SCRAPE_PROTOCOLS,
];

export const scrapeProtocolsSchema = z
  .array(z.enum(SCRAPE_PROTOCOLS))
  .min(1, { error: 'scrape_protocols cannot be empty' })
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((p, i) => {
      if (seen.has(p)) ctx.addIssue({ code: 'custom', path: [i], message: `${p} is listed twice` });
      seen.add(p);
    });
  });

export const NAME_VALIDATION_SCHEMES = ['legacy', 'utf8'] as const;
export const NAME_ESCAPING_SCHEMES = ['allow-utf-8', 'underscores', 'dots', 'values'] as const;
export type NameValidationScheme = (typeof NAME_VALIDATION_SCHEMES)[number];
export type NameEscapingScheme = (typeof NAME_ESCAPING_SCHEMES)[number];

/** Blank means "inherit", as in Prometheus. */
export const nameValidationField = z
  .enum(['', ...NAME_VALIDATION_SCHEMES])
  .transform((s) => (s === '' ? undefined : s))
  .optional();
export const nameEscapingField = z
  .enum(['', ...NAME_ESCAPING_SCHEMES])
  .transform((s) => (s === '' ? undefined : s))
  .optional();

export const scrapeConfigSchema = z
  .strictObject({
    job_name: nonEmptyText,
    scrape_interval: duration.optional(),
    scrape_timeout: duration.optional(),
    scrape_protocols: scrapeProtocolsSchema.optional(),
    fallback_scrape_protocol: z.enum(SCRAPE_PROTOCOLS).optional(),
    scrape_native_histograms: bool.optional(),
    always_scrape_classic_histograms: bool.optional(),
    /** Prometheus 2 name of `always_scrape_classic_histograms`. */
    scrape_classic_histograms: bool.optional(),
    convert_classic_histograms_to_nhcb: bool.optional(),
    extra_scrape_metrics: bool.optional(),
    scrape_failure_log_file: text.optional(),
    metrics_path: text.default('/metrics'),
    scheme: z.enum(['http', 'https']).default('http'),
    params: z.record(z.string(), textList).default({}),
    honor_labels: bool.default(false),
    honor_timestamps: bool.default(true),
    track_timestamps_staleness: bool.default(false),
    enable_compression: bool.default(true),
    body_size_limit: size.optional(),
    sample_limit: uint.optional(),
    label_limit: uint.optional(),
    label_name_length_limit: uint.optional(),
    label_value_length_limit: uint.optional(),
    target_limit: uint.optional(),
    keep_dropped_targets: uint.optional(),
    native_histogram_bucket_limit: uint.default(0),
    native_histogram_min_bucket_factor: float.default(0),
    metric_name_validation_scheme: nameValidationField,
    metric_name_escaping_scheme: nameEscapingField,
    ...httpClientShape({ enable_http2: true }),
    relabel_configs: relabelConfigsSchema.default([]),
    metric_relabel_configs: relabelConfigsSchema.default([]),
    ...discoveryShape,
  })
  .superRefine((c, ctx) => {
    checkHttpClient(c, ctx);
    if (c.always_scrape_classic_histograms !== undefined && c.scrape_classic_histograms !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['scrape_classic_histograms'],
        message: 'set always_scrape_classic_histograms only (scrape_classic_histograms is its old name)',
      });
    }
    // Prometheus rejects URLs as static targets unless relabeling could turn them into addresses.
    if (c.relabel_configs.length === 0) {
      c.static_configs.forEach((sc, i) =>
        sc.targets.forEach((t, j) => {
          const problem = targetAddressProblem(t);
          if (problem) ctx.addIssue({ code: 'custom', path: ['static_configs', i, 'targets', j], message: problem });
        }),
      );
    }
  });

/**
 * What is wrong with a target address written for a job without `relabel_configs` (which could
 * otherwise turn it into one); also applied to file_sd targets by `check-config`.
 */
export function targetAddressProblem(t: string): string | undefined {
  if (t.includes('/'))
    return `${JSON.stringify(t)} is not a valid target address: write host:port, and set scheme and metrics_path for the rest`;
  return undefined;
}

export type RawScrapeConfig = z.output<typeof scrapeConfigSchema>;
