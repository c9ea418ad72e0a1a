/**
 * The gateway's pulled sources: a list of named HTTP exporters, files and scripts whose pages
 * the gateway merges into its own exposition. Each entry names exactly one kind; defaults follow
 * reverse_exporter where it has one, except the HTTP timeout (10s rather than its 1s, which
 * fails slow exporters that Prometheus itself would have waited for).
 *
 * Keys Tributary's source implementations cannot honour yet (proxies, `*_ref` secrets)
 * are refused here rather than silently ignored, so a config never means more than it does.
 */

import * as z from 'zod';
import { checkHttpClient, httpClientShape, normalizeHttpClient } from './http-client-config.js';
import { AT_KEY, bool, duration, httpUrl, labelSet, nonEmptyText, size, textList, textMap } from './fields.js';

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

const UNSUPPORTED_HTTP_KEYS = ['proxy_url', 'proxy_from_environment', 'proxy_connect_header'] as const;

const httpSourceSchema = z
  .strictObject({
    url: httpUrl,
    /** on_scrape: fetched during each scrape; poll: fetched every `interval`, last result served. */
    mode: z.enum(['on_scrape', 'poll']).default('on_scrape'),
    interval: duration.default(15_000),
    timeout: duration.default(10_000),
    /** Append the scrape's query parameters to `url` (on_scrape only: a poll has no scrape). */
    forward_params: bool.default(false),
    max_body_bytes: size.default(DEFAULT_MAX_BODY_BYTES),
    // HTTP/2 gains nothing on one keep-alive connection to an exporter, and undici's h2 is
    // still experimental.
    ...httpClientShape({ enable_http2: false }),
  })
  .superRefine((c, ctx) => {
    checkHttpClient(c, ctx);
    for (const key of UNSUPPORTED_HTTP_KEYS) {
      if (c[key] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${key} is not supported for gateway sources`,
          params: AT_KEY,
        });
      }
    }
    refuseRefs(c, ctx, []);
    if (c.mode === 'poll' && c.forward_params) {
      ctx.addIssue({
        code: 'custom',
        path: ['forward_params'],
        message: 'forward_params needs mode: on_scrape (a poll has no scrape to take parameters from)',
        params: AT_KEY,
      });
    }
    if (c.timeout <= 0) ctx.addIssue({ code: 'custom', path: ['timeout'], message: 'timeout must be positive' });
    if (c.mode === 'poll' && c.interval <= 0)
      ctx.addIssue({ code: 'custom', path: ['interval'], message: 'interval must be positive' });
  })
  .transform(normalizeHttpClient);

/** Secret references need a secret manager Tributary does not have. */
function refuseRefs(obj: object, ctx: z.RefinementCtx, path: string[]): void {
  for (const [k, v] of Object.entries(obj)) {
    if (k.endsWith('_ref') && v !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, k],
        message: `${k} is not supported for gateway sources; use the inline or _file form`,
        params: AT_KEY,
      });
    } else if (v && typeof v === 'object' && !Array.isArray(v) && path.length < 2) {
      refuseRefs(v, ctx, [...path, k]);
    }
  }
}

const fileSourceSchema = z.strictObject({
  path: nonEmptyText,
});

const scriptSourceSchema = z
  .strictObject({
    command: nonEmptyText,
    args: textList.default([]),
    /** Added to (and overriding) the gateway's own environment. */
    env: textMap.default({}),
    timeout: duration.default(10_000),
    /** on_scrape: run during scrapes (concurrent scrapes share one run); periodic: every `interval`. */
    mode: z.enum(['on_scrape', 'periodic']).default('on_scrape'),
    interval: duration.default(60_000),
    max_output_bytes: size.default(DEFAULT_MAX_BODY_BYTES),
  })
  .superRefine((c, ctx) => {
    if (c.timeout <= 0) ctx.addIssue({ code: 'custom', path: ['timeout'], message: 'timeout must be positive' });
    if (c.mode === 'periodic' && c.interval <= 0)
      ctx.addIssue({ code: 'custom', path: ['interval'], message: 'interval must be positive' });
  });

/**
 * A scrape job's latest samples, federation-style: the job's targets are scraped by the scrape
 * side on their own schedule and their current series appear on the gateway's page.
 */
const scrapeJobSourceSchema = z.strictObject({
  job: nonEmptyText,
});

/**
 * Source names become label values, log fields and /apps rows; without whitespace, quotes,
 * backslashes or control characters they never need escaping in any of them.
 */
const sourceName = z
  .string()
  .min(1, 'a source name must not be empty')
  .regex(/^[^\s"'\\\p{Cc}]+$/u, 'a source name must not contain whitespace, quotes, backslashes or control characters');

const SOURCE_KINDS = ['http', 'file', 'script', 'scrape'] as const;

export const gatewaySourceSchema = z
  .strictObject({
    name: sourceName,
    /** Static labels added to every series of this source; they override the page's own. */
    labels: labelSet.default({}),
    /** Add the gateway's source label (value: `name`) to every series. */
    source_label: bool.default(true),
    http: httpSourceSchema.optional(),
    file: fileSourceSchema.optional(),
    script: scriptSourceSchema.optional(),
    scrape: scrapeJobSourceSchema.optional(),
  })
  .superRefine((s, ctx) => {
    const set = SOURCE_KINDS.filter((k) => s[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          set.length === 0
            ? 'a source needs one of http, file, script or scrape'
            : `a source takes exactly one of http, file, script or scrape, got ${set.join(' and ')}`,
      });
    }
  });

export const gatewaySourcesSchema = z.array(gatewaySourceSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((s, i) => {
    if (seen.has(s.name)) {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'name'],
        message: `source name ${JSON.stringify(s.name)} is used more than once`,
      });
    }
    seen.add(s.name);
  });
});

export type GatewaySourceConfig = z.output<typeof gatewaySourceSchema>;
export type HttpSourceConfig = z.output<typeof httpSourceSchema>;
export type FileSourceConfig = z.output<typeof fileSourceSchema>;
export type ScriptSourceConfig = z.output<typeof scriptSourceSchema>;
export type ScrapeJobSourceConfig = z.output<typeof scrapeJobSourceSchema>;
/** Input form, for sources built in code (defaults may be left out). */
export type GatewaySourceInput = z.input<typeof gatewaySourceSchema>;
