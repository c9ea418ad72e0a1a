/**
 * The whole configuration file: Prometheus' top level (global, scrape_configs, remote_write and
 * the sections Tributary accepts but does not act on) plus Tributary's own sections. Parsing
 * yields the resolved `TributaryConfig`: defaults applied, values each scrape job inherits from
 * `global` filled in, and the checks that need more than one section at a time (timeouts
 * against inherited intervals, unique job names) done. Section schemas live in their own
 * modules; this one assembles them.
 */

import * as z from 'zod';
import { isLegacyLabelName } from '../model/names.js';
import type { KeyPath } from './errors.js';
import { formatDuration } from './duration.js';
import { normalizeHttpClient, oauth2Warnings } from './http-client-config.js';
import { UNSUPPORTED_SD_KINDS } from './discovery.js';
import { remoteWriteAuthWarnings, remoteWriteConfigSchema } from './remote-write.js';
import {
  DEFAULT_SCRAPE_PROTOCOLS,
  PROTO_FIRST_SCRAPE_PROTOCOLS,
  nameEscapingField,
  nameValidationField,
  scrapeConfigSchema,
  scrapeProtocolsSchema,
  vmagentKeyWarnings,
} from './scrape.js';
import type { NameEscapingScheme, NameValidationScheme, RawScrapeConfig, ScrapeProtocol } from './scrape.js';
import { tributarySections } from './tributary.js';
import { AT_KEY, bool, duration, labelSet, opaqueMapping, size, text, uint } from './fields.js';

export const DEFAULT_SCRAPE_INTERVAL = 60_000;
export const DEFAULT_SCRAPE_TIMEOUT = 10_000;
export const DEFAULT_EVALUATION_INTERVAL = 60_000;

const globalSchema = z.strictObject({
  scrape_interval: duration.optional(),
  scrape_timeout: duration.optional(),
  scrape_protocols: scrapeProtocolsSchema.optional(),
  evaluation_interval: duration.default(DEFAULT_EVALUATION_INTERVAL),
  rule_query_offset: duration.default(0),
  external_labels: labelSet.default({}),
  query_log_file: text.optional(),
  scrape_failure_log_file: text.optional(),
  /** Unset (not 0) lets Tributary's default apply: see resolveScrapeConfig. */
  body_size_limit: size.optional(),
  sample_limit: uint.default(0),
  label_limit: uint.default(0),
  label_name_length_limit: uint.default(0),
  label_value_length_limit: uint.default(0),
  target_limit: uint.default(0),
  keep_dropped_targets: uint.default(0),
  metric_name_validation_scheme: nameValidationField,
  metric_name_escaping_scheme: nameEscapingField,
  scrape_native_histograms: bool.default(false),
  convert_classic_histograms_to_nhcb: bool.default(false),
  always_scrape_classic_histograms: bool.default(false),
  extra_scrape_metrics: bool.default(false),
});

/** Prometheus sections Tributary reads but does not act on, and why (for the warning). */
export const IGNORED_SECTIONS = {
  runtime: 'Go runtime tuning does not apply to Tributary; ignored',
  rule_files: 'Tributary does not evaluate rules; ignored',
  alerting: 'Tributary does not send alerts; ignored',
  remote_read: 'Tributary does not serve queries; ignored',
  storage: 'Tributary keeps no TSDB; ignored',
  tracing: 'not supported yet; ignored',
  otlp: 'not supported yet; ignored',
} as const;

/**
 * Prometheus' rule for these patterns: wildcards only in the last path component, so that a
 * pattern is one directory to list (see common/glob.ts).
 */
const scrapeConfigFilePattern = z.string().refine((p) => /^[^*?]*(?:[*?][^/]*)?$/.test(p), {
  error: (iss) =>
    `${JSON.stringify(iss.input)} is not a valid scrape config file pattern: wildcards (* and ?) are allowed in the last path component only`,
});

const documentSchema = z.strictObject({
  global: globalSchema.prefault({}),
  scrape_configs: z.array(scrapeConfigSchema).default([]),
  remote_write: z.array(remoteWriteConfigSchema).default([]),
  runtime: opaqueMapping.optional(),
  rule_files: z.array(text).optional(),
  scrape_config_files: z.array(scrapeConfigFilePattern).optional(),
  alerting: opaqueMapping.optional(),
  remote_read: z.array(opaqueMapping).optional(),
  storage: opaqueMapping.optional(),
  tracing: opaqueMapping.optional(),
  otlp: opaqueMapping.optional(),
  ...tributarySections,
});

type RawDocument = z.output<typeof documentSchema>;
type RawGlobal = RawDocument['global'];

function resolveGlobal(g: RawGlobal, issue: IssueSink) {
  // As in Prometheus, 0 means "not set".
  const scrapeInterval = g.scrape_interval || DEFAULT_SCRAPE_INTERVAL;
  if (g.scrape_timeout && g.scrape_timeout > scrapeInterval) {
    issue(
      ['global', 'scrape_timeout'],
      `scrape_timeout (${formatDuration(g.scrape_timeout)}) must not be greater than scrape_interval (${formatDuration(scrapeInterval)})`,
    );
  }
  const validation: NameValidationScheme = g.metric_name_validation_scheme ?? 'utf8';
  const escaping: NameEscapingScheme =
    g.metric_name_escaping_scheme ?? (validation === 'legacy' ? 'underscores' : 'allow-utf-8');
  if (validation === 'legacy' && escaping === 'allow-utf-8') {
    issue(
      ['global', 'metric_name_escaping_scheme'],
      'allow-utf-8 escaping needs metric_name_validation_scheme utf8',
    );
  }
  if (validation === 'legacy') checkLegacyLabelNames(g.external_labels, ['global', 'external_labels'], issue);
  return {
    ...g,
    scrape_interval: scrapeInterval,
    scrape_timeout: g.scrape_timeout || Math.min(DEFAULT_SCRAPE_TIMEOUT, scrapeInterval),
    /** Unset means each job picks its default from `scrape_native_histograms`. */
    scrape_protocols: g.scrape_protocols satisfies readonly ScrapeProtocol[] | undefined,
    metric_name_validation_scheme: validation,
    metric_name_escaping_scheme: escaping,
  };
}

export type GlobalConfig = ReturnType<typeof resolveGlobal>;

function resolveScrapeConfig(c: RawScrapeConfig, g: GlobalConfig, at: KeyPath, issue: IssueSink) {
  const scrapeInterval = c.scrape_interval || g.scrape_interval;
  if (c.scrape_timeout && c.scrape_timeout > scrapeInterval) {
    const from = c.scrape_interval ? '' : ', from global';
    issue(
      [...at, 'scrape_timeout'],
      `scrape_timeout (${formatDuration(c.scrape_timeout)}) must not be greater than scrape_interval (${formatDuration(scrapeInterval)}${from})`,
    );
  }
  const nativeHistograms = c.scrape_native_histograms ?? g.scrape_native_histograms;
  const validation = c.metric_name_validation_scheme ?? g.metric_name_validation_scheme;
  const escaping =
    c.metric_name_escaping_scheme ??
    (c.metric_name_validation_scheme === undefined
      ? g.metric_name_escaping_scheme
      : validation === 'legacy'
        ? 'underscores'
        : 'allow-utf-8');
  if (escaping === 'allow-utf-8' && validation !== 'utf8') {
    issue(
      [
        ...at,
        c.metric_name_escaping_scheme ? 'metric_name_escaping_scheme' : 'metric_name_validation_scheme',
      ],
      'allow-utf-8 escaping needs metric_name_validation_scheme utf8',
    );
  }
  if (validation === 'legacy') {
    c.static_configs.forEach((sc, i) =>
      checkLegacyLabelNames(sc.labels, [...at, 'static_configs', i, 'labels'], issue),
    );
  }
  const protocols: readonly ScrapeProtocol[] =
    c.scrape_protocols ??
    g.scrape_protocols ??
    (nativeHistograms ? PROTO_FIRST_SCRAPE_PROTOCOLS : DEFAULT_SCRAPE_PROTOCOLS);
  const { scrape_classic_histograms, ...rest } = c;
  return normalizeHttpClient({
    ...rest,
    scrape_interval: scrapeInterval,
    scrape_timeout: c.scrape_timeout || Math.min(g.scrape_timeout, scrapeInterval),
    scrape_protocols: protocols,
    scrape_native_histograms: nativeHistograms,
    always_scrape_classic_histograms:
      c.always_scrape_classic_histograms ?? scrape_classic_histograms ?? g.always_scrape_classic_histograms,
    convert_classic_histograms_to_nhcb:
      c.convert_classic_histograms_to_nhcb ?? g.convert_classic_histograms_to_nhcb,
    extra_scrape_metrics: c.extra_scrape_metrics ?? g.extra_scrape_metrics,
    scrape_failure_log_file: c.scrape_failure_log_file || g.scrape_failure_log_file,
    // Limits: 0 or unset inherits the global limit (whose 0 means "no limit").
    // ... except body_size_limit when neither has the key: undefined, Tributary's default
    body_size_limit: c.body_size_limit || g.body_size_limit || (c.body_size_limit ?? g.body_size_limit),
    sample_limit: c.sample_limit || g.sample_limit,
    label_limit: c.label_limit || g.label_limit,
    label_name_length_limit: c.label_name_length_limit || g.label_name_length_limit,
    label_value_length_limit: c.label_value_length_limit || g.label_value_length_limit,
    target_limit: c.target_limit || g.target_limit,
    keep_dropped_targets: c.keep_dropped_targets || g.keep_dropped_targets,
    metric_name_validation_scheme: validation,
    metric_name_escaping_scheme: escaping,
  });
}

function resolve(doc: RawDocument, ctx: z.RefinementCtx) {
  const issue = issueSink(ctx);
  const global = resolveGlobal(doc.global, issue);
  const scrape_configs = resolveJobs(doc.scrape_configs, global, new Map(), issue);

  const patterns = new Map<string, number>();
  doc.scrape_config_files?.forEach((p, i) => {
    const first = patterns.get(p);
    // Prometheus would read the files twice and refuse their jobs as duplicates.
    if (first !== undefined)
      issue(['scrape_config_files', i], `${JSON.stringify(p)} is listed twice (first as scrape_config_files[${first}])`);
    else patterns.set(p, i);
  });

  const writers = new Map<string, number>();
  doc.remote_write.forEach((w, i) => {
    if (!w.name) return;
    const first = writers.get(w.name);
    if (first !== undefined)
      issue(
        ['remote_write', i, 'name'],
        `duplicate remote_write name ${JSON.stringify(w.name)} (first used by remote_write[${first}])`,
      );
    else writers.set(w.name, i);
  });

  return { ...doc, global, scrape_configs };
}

type IssueSink = (path: KeyPath, message: string, atKey?: boolean) => void;

function issueSink(ctx: z.RefinementCtx): IssueSink {
  return (path, message, atKey) =>
    ctx.addIssue({ code: 'custom', path: [...path], message, ...(atKey ? { params: AT_KEY } : {}) });
}

/** Job names already defined by other files, each with the file that defines it. */
export type JobFiles = ReadonlyMap<string, string>;

/**
 * A file's `scrape_configs` with `global` applied. Job names must be unique within the file and
 * across `taken`, since they identify the targets' `job` label and the scrape pools.
 */
function resolveJobs(raw: readonly RawScrapeConfig[], global: GlobalConfig, taken: JobFiles, issue: IssueSink) {
  const here = new Map<string, number>();
  return raw.map((c, i) => {
    const at = ['scrape_configs', i] as const;
    const elsewhere = taken.get(c.job_name);
    const first = here.get(c.job_name);
    if (elsewhere !== undefined) {
      issue([...at, 'job_name'], `duplicate job_name ${JSON.stringify(c.job_name)} (first defined in ${elsewhere})`);
    } else if (first !== undefined) {
      issue(
        [...at, 'job_name'],
        `duplicate job_name ${JSON.stringify(c.job_name)} (first used by scrape_configs[${first}])`,
      );
    } else {
      here.set(c.job_name, i);
    }
    return resolveScrapeConfig(c, global, at, issue);
  });
}

function checkLegacyLabelNames(labels: Record<string, string>, at: KeyPath, issue: IssueSink): void {
  for (const name of Object.keys(labels)) {
    if (!isLegacyLabelName(name)) {
      issue(
        [...at, name],
        `${JSON.stringify(name)} is not a valid label name under metric_name_validation_scheme legacy`,
        true,
      );
    }
  }
}

/** Parses plain data (as document.ts produces it) into the resolved configuration. */
export const configSchema = documentSchema.transform(resolve);

export type TributaryConfig = z.output<typeof configSchema>;
export type ScrapeConfig = TributaryConfig['scrape_configs'][number];

/**
 * A file named by `scrape_config_files`: nothing but `scrape_configs`, whose jobs inherit the
 * main file's (resolved) `global` and may not reuse a name in `taken`.
 */
export function scrapeConfigFileSchema(
  global: GlobalConfig,
  taken: JobFiles,
): z.ZodType<ScrapeConfig[], unknown> {
  return z
    .strictObject({ scrape_configs: z.array(scrapeConfigSchema).default([]) })
    .transform((doc, ctx) => resolveJobs(doc.scrape_configs, global, taken, issueSink(ctx)));
}

export interface SchemaWarning {
  path: KeyPath;
  message: string;
}

/**
 * Parts of a valid configuration that load but that Tributary does not act on: sections,
 * discovery kinds, remote-write authentication and protocol. Single keys are in the table of
 * unimplemented.ts, which the loader applies next to this.
 */
export function configWarnings(config: TributaryConfig): SchemaWarning[] {
  const warnings: SchemaWarning[] = [];
  for (const [section, message] of Object.entries(IGNORED_SECTIONS)) {
    if (!isEmpty(config[section as keyof typeof IGNORED_SECTIONS]))
      warnings.push({ path: [section], message });
  }
  if (config.global.metric_name_validation_scheme === 'utf8')
    warnings.push(...utf8LabelNameWarnings(config.global.external_labels, ['global', 'external_labels']));
  warnings.push(...scrapeConfigWarnings(config.scrape_configs));
  if (config.ingest.nats !== undefined && config.remote_write.length === 0) {
    warnings.push({ path: ['ingest', 'nats'], message: 'no remote_write URL: the consumer starts only with --remote-write-url (what it consumes must go somewhere)' });
  }
  if (config.cluster.replication_factor > config.cluster.members_count) {
    warnings.push({ path: ['cluster', 'replication_factor'], message: `above members_count (${config.cluster.members_count}): every member scrapes every target` });
  }
  config.remote_write.forEach((w, i) => {
    warnings.push(...remoteWriteAuthWarnings(w, ['remote_write', i]));
    if (w.send_exemplars) warnings.push({ path: ['remote_write', i, 'send_exemplars'], message: 'exemplars are not sent yet' });
  });
  if (config.remote_write_options.receiver.enabled)
    warnings.push({ path: ['remote_write_options', 'receiver', 'enabled'], message: 'deprecated: use ingest.remote_write.http (this key still turns remote write in on, with its max_body_bytes)' });
  return warnings;
}

/** What `configWarnings` says about one file's `scrape_configs`. */
export function scrapeConfigWarnings(jobs: readonly ScrapeConfig[]): SchemaWarning[] {
  const warnings: SchemaWarning[] = [];
  jobs.forEach((c, i) => {
    for (const kind of UNSUPPORTED_SD_KINDS) {
      if (!isEmpty(c[kind]))
        warnings.push({ path: ['scrape_configs', i, kind], message: 'not supported yet; ignored' });
    }
    if (c.oauth2) warnings.push(...oauth2Warnings(c.oauth2, ['scrape_configs', i, 'oauth2']));
    c.http_sd_configs.forEach((sd, j) => sd.oauth2 && warnings.push(...oauth2Warnings(sd.oauth2, ['scrape_configs', i, 'http_sd_configs', j, 'oauth2'])));
    c.consul_sd_configs.forEach((sd, j) => sd.oauth2 && warnings.push(...oauth2Warnings(sd.oauth2, ['scrape_configs', i, 'consul_sd_configs', j, 'oauth2'])));
    c.kubernetes_sd_configs.forEach((sd, j) => sd.oauth2 && warnings.push(...oauth2Warnings(sd.oauth2, ['scrape_configs', i, 'kubernetes_sd_configs', j, 'oauth2'])));
    for (const w of vmagentKeyWarnings(c)) warnings.push({ path: ['scrape_configs', i, w.key], message: w.message });
    if (c.metric_name_validation_scheme === 'utf8') {
      c.static_configs.forEach((sc, j) => warnings.push(...utf8LabelNameWarnings(sc.labels, ['scrape_configs', i, 'static_configs', j, 'labels'])));
    }
  });
  return warnings;
}

/**
 * Label names valid only under Prometheus 3's UTF-8 names: accepted, but Prometheus 2 (and
 * promtool 2.x) refuse them, and receivers that check legacy names may too — worth a word.
 */
export function utf8LabelNameWarnings(labels: Readonly<Record<string, string>>, at: KeyPath): SchemaWarning[] {
  return Object.keys(labels)
    .filter((name) => !isLegacyLabelName(name))
    .map((name) => ({
      path: [...at, name],
      message: `${JSON.stringify(name)} is a valid label name only under UTF-8 names (Prometheus 3; metric_name_validation_scheme utf8, the default); Prometheus 2 refuses it`,
    }));
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}
