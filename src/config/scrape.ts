/**
 * One `scrape_configs` entry as written: every key Prometheus 3 accepts (and a few Prometheus 2
 * spellings), Prometheus' per-job defaults, and the checks that need only the job itself.
 * Values a job inherits from `global` (interval, timeout, limits, protocols, name validation)
 * are left unset here and filled in by schema.ts, which sees both.
 */

import * as z from 'zod';
import { discoveryShape } from './discovery.js';
import {
  authorizationSchema,
  basicAuthSchema,
  checkHttpClient,
  httpClientShape,
  tlsConfigSchema,
} from './http-client-config.js';
import { relabelConfigsSchema } from './relabel.js';
import { SCRAPE_PROTOCOLS, type ScrapeProtocol } from '../formats/media-types.js';
import { AT_KEY, bool, duration, float, nonEmptyText, opaqueMapping, size, text, textList, uint } from './fields.js';

// the protocol names live beside the media types they stand for
export { SCRAPE_PROTOCOLS, type ScrapeProtocol };

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

/**
 * vmagent's own `scrape_config` keys (lib/promscrape/config.go), so a `-promscrape.config` file
 * loads unchanged. Aliases of Prometheus keys (`disable_compression`, `max_scrape_size`) are
 * folded into them by `foldVmagentKeys`, so the rest of Tributary sees one key per setting; the
 * others are carried to the scrape pool. `headers` is not an alias of `http_headers`: vmagent
 * sends its lines as given, Authorization, Host and User-Agent included, in place of its own
 * value of that header, so it becomes `override_headers`.
 */
const vmagentShape = {
  /** Tributary always parses the body while it streams in: accepted, nothing to switch. */
  stream_parse: bool.optional(),
  /** Scrape at multiples of this from the wall clock instead of at the target's hashed phase. */
  scrape_align_interval: duration.optional(),
  /** The phase within the interval instead of the hash (overrides scrape_align_interval, as in vmagent). */
  scrape_offset: duration.optional(),
  disable_compression: bool.optional(),
  /** A new connection for every scrape. */
  disable_keepalive: bool.default(false),
  /** At most this many distinct series per target per 24h; 0 or unset: no limit. */
  series_limit: uint.optional(),
  /** `Name: value` lines sent with each scrape, in place of Tributary's own value of the header. */
  headers: z.array(z.string()).optional(),
  /** vmagent's name for body_size_limit, in vmagent's units (`16MB` = 16·10⁶ bytes). */
  max_scrape_size: z.union([z.string(), z.number()]).optional(),
  no_stale_markers: bool.default(false),
  /** vmagent 1.79's debug mode: log each target's (series') relabeling and drop it. */
  relabel_debug: bool.default(false),
  metric_relabel_debug: bool.default(false),
  proxy_authorization: authorizationSchema.optional(),
  proxy_basic_auth: basicAuthSchema.optional(),
  proxy_bearer_token: text.optional(),
  proxy_bearer_token_file: text.optional(),
  proxy_tls_config: tlsConfigSchema.optional(),
  /** `Name: value` lines sent to the proxy: with CONNECT (https targets), or with each absolute-form request (http ones). */
  proxy_headers: z.array(z.string()).optional(),
  proxy_oauth2: opaqueMapping.optional(),
};

/** vmagent's flagutil.Bytes: a plain number of bytes, or KB/MB/GB/TB (powers of 1000) and KiB/MiB/GiB/TiB. */
export function parseVmagentBytes(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`invalid size ${value}`);
    return Math.floor(value);
  }
  const m = /^([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/.exec(value.trim());
  if (!m) throw new Error(`invalid size ${JSON.stringify(value)}: write a number of bytes, optionally with KB, MB, GB, TB, KiB, MiB, GiB or TiB`);
  const unit = { KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[m[2] ?? ''] ?? 1;
  return Math.floor(Number(m[1]) * unit);
}

/** vmagent's header line: name and value split at the first colon, both trimmed. */
export function parseHeaderLine(line: string): [string, string] | undefined {
  const at = line.indexOf(':');
  if (at <= 0) return undefined;
  const name = line.slice(0, at).trim();
  return name === '' ? undefined : [name, line.slice(at + 1).trim()];
}

interface VmagentKeys {
  enable_compression?: boolean | undefined;
  disable_compression?: boolean | undefined;
  body_size_limit?: number | undefined;
  max_scrape_size?: string | number | undefined;
  headers?: string[] | undefined;
  http_headers?: Record<string, unknown> | undefined;
  proxy_authorization?: unknown;
  proxy_basic_auth?: unknown;
  proxy_bearer_token?: string | undefined;
  proxy_bearer_token_file?: string | undefined;
  proxy_headers?: string[] | undefined;
}

function checkVmagentKeys(c: VmagentKeys, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string): void =>
    ctx.addIssue({ code: 'custom', path, message, params: AT_KEY });
  if (c.enable_compression !== undefined && c.disable_compression !== undefined && c.enable_compression === c.disable_compression) {
    issue(['disable_compression'], `disable_compression: ${c.disable_compression} contradicts enable_compression: ${c.enable_compression} (set one of them)`);
  }
  if (c.max_scrape_size !== undefined) {
    try {
      const n = parseVmagentBytes(c.max_scrape_size);
      if (c.body_size_limit !== undefined && c.body_size_limit !== n) {
        issue(['max_scrape_size'], `max_scrape_size (${n} bytes) and body_size_limit (${c.body_size_limit} bytes) are the same setting: set one of them`);
      }
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['max_scrape_size'], message: (err as Error).message });
    }
  }
  const lines = (key: 'headers' | 'proxy_headers'): void =>
    c[key]?.forEach((line, i) => {
      const h = parseHeaderLine(line);
      const problem = h === undefined ? `${JSON.stringify(line)} is not a header: write "Name: value"` : key === 'headers' ? scrapeHeaderProblem(h[0], h[1]) : undefined;
      if (problem !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key, i], message: problem });
      } else if (key === 'headers' && c.http_headers && Object.keys(c.http_headers).some((n) => n.toLowerCase() === h![0].toLowerCase())) {
        ctx.addIssue({ code: 'custom', path: [key, i], message: `header ${JSON.stringify(h![0])} is also set in http_headers: set it in one place` });
      }
    });
  lines('headers');
  lines('proxy_headers');
  const proxyAuth = (['proxy_authorization', 'proxy_basic_auth', 'proxy_bearer_token', 'proxy_bearer_token_file'] as const).filter(
    (k) => c[k] !== undefined,
  );
  if (proxyAuth.length > 1) issue([proxyAuth[1]], `at most one of ${proxyAuth.join(' and ')} may be set`);
}

/**
 * What in a vmagent `headers` line Tributary cannot send. vmagent accepts any header; the body's
 * framing (Content-Length, Transfer-Encoding) is the transport's, and a body is decoded only
 * when it is gzip or plain, so Accept-Encoding may ask for nothing else.
 */
function scrapeHeaderProblem(name: string, value: string): string | undefined {
  const n = name.toLowerCase();
  if (n === 'content-length' || n === 'transfer-encoding') return `header ${JSON.stringify(name)} cannot be configured: the request's framing is the transport's`;
  // the proxy's credentials go to the proxy only, which a target header cannot say
  if (n === 'proxy-authorization') return `header ${JSON.stringify(name)} cannot be configured here: use proxy_authorization, proxy_basic_auth or proxy_bearer_token`;
  if (n === 'accept-encoding') {
    const codings = value.split(',').map((v) => v.split(';')[0].trim().toLowerCase()).filter((v) => v !== '');
    const other = codings.find((v) => v !== 'gzip' && v !== 'identity');
    if (other !== undefined) return `Accept-Encoding ${JSON.stringify(value)}: Tributary decodes only gzip; write gzip or identity`;
  }
  return undefined;
}

/** One key per setting for the rest of Tributary: vmagent's aliases become the Prometheus keys. */
function foldVmagentKeys<T extends VmagentKeys>(c: T) {
  const { disable_compression, max_scrape_size, headers, ...rest } = c;
  // lower-case names: one value per header whatever its spelling; the last line wins, as
  // vmagent sets (not adds) each one
  let override_headers: Record<string, string> | undefined;
  for (const line of headers ?? []) {
    const [name, value] = parseHeaderLine(line)!;
    (override_headers ??= {})[name.toLowerCase()] = value;
  }
  return {
    ...rest,
    enable_compression: rest.enable_compression ?? !(disable_compression ?? false),
    body_size_limit: max_scrape_size !== undefined ? parseVmagentBytes(max_scrape_size) : rest.body_size_limit,
    ...(override_headers !== undefined ? { override_headers } : {}),
  };
}

/** Parts of a job's vmagent keys Tributary does not act on, or acts on differently: for the load warnings. */
export function vmagentKeyWarnings(c: {
  override_headers?: Readonly<Record<string, string>> | undefined;
  basic_auth?: unknown;
  authorization?: unknown;
  oauth2?: unknown;
  proxy_url?: string | undefined;
  proxy_oauth2?: unknown;
  relabel_debug: boolean;
  metric_relabel_debug: boolean;
  proxy_authorization?: unknown;
  proxy_basic_auth?: unknown;
  proxy_bearer_token?: string | undefined;
  proxy_bearer_token_file?: string | undefined;
  proxy_tls_config?: unknown;
  proxy_headers?: string[] | undefined;
}): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  const auth = (['basic_auth', 'authorization', 'oauth2'] as const).find((k) => c[k] !== undefined);
  if (c.override_headers?.authorization !== undefined && auth !== undefined) {
    // vmagent 1.79 sends basic_auth's (or authorization's) header in place of the line's
    out.push({ key: 'headers', message: `its Authorization line is not sent: ${auth} sets the Authorization header, as in vmagent` });
  }
  if (c.proxy_oauth2 !== undefined && c.proxy_url) out.push({ key: 'proxy_oauth2', message: 'OAuth 2.0 toward the proxy is not supported yet; ignored (use proxy_authorization, proxy_basic_auth or proxy_bearer_token)' });
  if (!c.proxy_url) {
    for (const k of ['proxy_authorization', 'proxy_basic_auth', 'proxy_bearer_token', 'proxy_bearer_token_file', 'proxy_tls_config', 'proxy_headers', 'proxy_oauth2'] as const) {
      if (c[k] !== undefined) out.push({ key: k, message: 'has no effect without proxy_url; ignored' });
    }
  }
  if (c.relabel_debug) {
    out.push({ key: 'relabel_debug', message: "vmagent's debug mode: each target's relabeling is logged and the target is dropped, not scraped (see also /target-relabel-debug)" });
  }
  if (c.metric_relabel_debug) {
    out.push({ key: 'metric_relabel_debug', message: "vmagent's debug mode: each new series' relabeling is logged and the series is dropped, not sent (see also /metric-relabel-debug)" });
  }
  return out;
}

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
    /** Unset: true, unless vmagent's `disable_compression` says otherwise. */
    enable_compression: bool.optional(),
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
    ...vmagentShape,
  })
  .superRefine((c, ctx) => {
    checkHttpClient(c, ctx);
    checkVmagentKeys(c, ctx);
    if (c.always_scrape_classic_histograms !== undefined && c.scrape_classic_histograms !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['scrape_classic_histograms'],
        message: 'set always_scrape_classic_histograms only (scrape_classic_histograms is its old name)',
      });
    }
  })
  .transform(foldVmagentKeys);

export type RawScrapeConfig = z.output<typeof scrapeConfigSchema>;
