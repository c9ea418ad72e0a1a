/**
 * Loading a configuration file: expand `%{ENV}` references, parse YAML into data and a position
 * index, validate with the schema, and turn every problem into a `ConfigIssue` with the file,
 * line, column and key path it is about. All problems of a stage are reported together; later
 * stages run only when earlier ones found nothing, since a missing variable or a syntax error
 * would make the schema's complaints misleading.
 *
 * A file also brings in the files its `scrape_config_files` patterns match (each validated the
 * same way, its problems pointing into itself) and has its relative paths resolved against its
 * own directory (paths.ts).
 */

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter } from 'yaml';
import type * as z from 'zod';
import { parseYaml } from './document.js';
import type { LocationIndex } from './document.js';
import { expandEnv } from './env.js';
import type { Env } from './env.js';
import { ConfigError, formatPath } from './errors.js';
import type { ConfigIssue, ConfigWarning, KeyPath } from './errors.js';
import { describeValue } from './fields.js';
import { compilePattern, expandPattern } from '../common/glob.js';
import { decodeUtf8 } from '../model/utf8.js';
import { STREAM_AGGR_FILE_KEYS, unimplementedKeyWarnings } from './unimplemented.js';
import { streamAggrFileSchema, streamAggrSchema, type StreamAggrConfig } from './stream-aggr.js';
import { resolveConfigPaths, resolveScrapeConfigPaths } from './paths.js';
import { configSchema, configWarnings, scrapeConfigFileSchema, scrapeConfigWarnings } from './schema.js';
import type { SchemaWarning, ScrapeConfig, TributaryConfig } from './schema.js';

export interface LoadedConfig {
  config: TributaryConfig;
  warnings: ConfigWarning[];
}

/** What the main file's top level must be, for the message when it is something else. */
const MAIN_DOCUMENT = 'a mapping of sections (global, scrape_configs, ...)';
/** Likewise for a file named by `scrape_config_files`. */
const SCRAPE_CONFIG_FILE = 'a mapping with scrape_configs';
/** Likewise for a stream aggregation file (`stream_aggr.config`). */
const STREAM_AGGR_FILE = 'a list of stream aggregation rules';

/**
 * Parses configuration text; `fileName` is only used in messages. Throws `ConfigError`.
 * Reads no files: relative paths stay as written and `scrape_config_files` are not read (a
 * warning says so), since text has no directory to take them from; `loadConfigFile` does both.
 */
export function parseConfigText(text: string, fileName: string, env: Env = process.env): LoadedConfig {
  const doc = validateDocument(text, fileName, env, configSchema, MAIN_DOCUMENT);
  const config = doc.value;
  const warnings = [...doc.warnings, ...schemaWarnings(doc, [...configWarnings(config), ...unimplementedKeyWarnings(doc.raw)])];
  if (config.scrape_config_files?.length) {
    warnings.push(
      doc.issueAt(
        ['scrape_config_files'],
        'read only when the configuration is loaded from a file; ignored',
      ),
    );
  }
  for (const { section, at } of streamAggrSections(config)) {
    if (section.config !== undefined) warnings.push(doc.issueAt([...at, 'config'], 'read only when the configuration is loaded from a file; ignored'));
  }
  checkScrapeSources(config, doc);
  return { config, warnings: sorted(warnings) };
}

/**
 * Reads and parses a configuration file, and the files its `scrape_config_files` name; relative
 * paths are resolved against the directory of the file they are written in. Throws
 * `ConfigError`, or the file system's error for the main file.
 */
export async function loadConfigFile(path: string, env: Env = process.env, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const doc = validateDocument(decodeConfigText(await readFile(path), path), path, env, configSchema, MAIN_DOCUMENT);
  const config = doc.value;
  const warnings = sorted([...doc.warnings, ...schemaWarnings(doc, [...configWarnings(config), ...unimplementedKeyWarnings(doc.raw)])]);
  // Before the included files are read, so their jobs inherit `global` with its paths resolved.
  resolveConfigPaths(config, dirname(resolve(path)));
  const mainJobs = config.scrape_configs.map((job, i) => ({ job, at: ['scrape_configs', i] as KeyPath, doc: doc as ValidatedDocument<unknown> }));
  const included = await loadScrapeConfigFiles(config, path, doc, env);
  config.scrape_configs.push(...included.jobs.map((j) => j.job));
  if (opts.streamAggrConfig !== undefined) config.stream_aggr = { ...(config.stream_aggr ?? streamAggrSchema.parse({})), config: resolve(opts.streamAggrConfig) };
  const aggrWarnings = await loadStreamAggrFiles(config, doc, env);
  checkScrapeSources(config, doc);
  if (opts.jobProblems) {
    const problems: ConfigIssue[] = [];
    for (const { job, at, doc: where } of [...mainJobs, ...included.jobs]) {
      for (const p of await opts.jobProblems(job)) problems.push(where.issueAt([...at, ...p.at], p.message));
    }
    if (problems.length > 0) throw new ConfigError(problems);
  }
  return { config, warnings: [...warnings, ...included.warnings, ...aggrWarnings] };
}

/** Every stream aggregation section of the configuration, with its key path. */
function streamAggrSections(config: TributaryConfig): { section: StreamAggrConfig; at: KeyPath }[] {
  const out: { section: StreamAggrConfig; at: KeyPath }[] = [];
  if (config.stream_aggr) out.push({ section: config.stream_aggr, at: ['stream_aggr'] });
  config.remote_write.forEach((w, i) => {
    if (w.stream_aggr) out.push({ section: w.stream_aggr, at: ['remote_write', i, 'stream_aggr'] });
  });
  return out;
}

/**
 * The rules of the files `stream_aggr.config` names (globally and per URL), read as vmagent
 * reads its -streamAggr.config and put before the section's inline `rules`; problems point into
 * the file they are in, or at the `config` key when the file cannot be read.
 */
async function loadStreamAggrFiles(config: TributaryConfig, main: ValidatedDocument<TributaryConfig>, env: Env): Promise<ConfigWarning[]> {
  const problems: ConfigIssue[] = [];
  const warnings: ConfigWarning[] = [];
  for (const { section, at } of streamAggrSections(config)) {
    const file = section.config;
    if (file === undefined) continue;
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      problems.push(main.issueAt([...at, 'config'], `cannot read ${file}: ${(err as Error).message}`));
      continue;
    }
    try {
      const doc = validateDocument(decodeConfigText(bytes, file), file, env, streamAggrFileSchema, STREAM_AGGR_FILE, 'list');
      section.rules = [...doc.value, ...section.rules];
      warnings.push(...sorted([...doc.warnings, ...schemaWarnings(doc, unimplementedKeyWarnings(doc.raw, STREAM_AGGR_FILE_KEYS))]));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.issues);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return warnings;
}

export interface LoadOptions {
  /**
   * Checks beyond the file, run on every job once it loaded: check-config passes discovery's
   * file_sd check here (the files a job names, read as discovery would, as promtool does; a
   * running agent logs such problems and keeps the last good groups), which config cannot
   * import, being below discovery.
   */
  readonly jobProblems?: (job: ScrapeConfig) => Promise<JobProblem[]>;
  /** `--stream-aggr-config`: the global stream aggregation file, in place of the file's `stream_aggr.config`. */
  readonly streamAggrConfig?: string;
}

/**
 * A vmagent stream aggregation file on its own (`--stream-aggr-config` with the embedded
 * defaults), as the global section's only rules. Throws ConfigError.
 */
export async function loadStreamAggrFile(file: string, env: Env = process.env): Promise<{ section: StreamAggrConfig; warnings: ConfigWarning[] }> {
  const path = resolve(file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new ConfigError([{ file: path, line: 1, column: 1, path: '', message: `cannot read the stream aggregation file: ${(err as Error).message}` }]);
  }
  const doc = validateDocument(decodeConfigText(bytes, path), path, env, streamAggrFileSchema, STREAM_AGGR_FILE, 'list');
  const section = { ...streamAggrSchema.parse({}), config: path, rules: doc.value };
  return { section, warnings: sorted([...doc.warnings, ...schemaWarnings(doc, unimplementedKeyWarnings(doc.raw, STREAM_AGGR_FILE_KEYS))]) };
}

export interface JobProblem {
  /** Within the job, e.g. `file_sd_configs[k].files[m]`. */
  readonly at: KeyPath;
  readonly message: string;
}

/** A gateway `scrape` source must name a job of the configuration (from any of its files). */
function checkScrapeSources(config: TributaryConfig, doc: { issueAt(path: KeyPath, message: string): ConfigIssue }): void {
  const jobs = new Set(config.scrape_configs.map((c) => c.job_name));
  const issues: ConfigIssue[] = [];
  config.gateway.sources.forEach((s, i) => {
    if (s.scrape && !jobs.has(s.scrape.job)) {
      issues.push(
        doc.issueAt(
          ['gateway', 'sources', i, 'scrape', 'job'],
          `no scrape job named ${JSON.stringify(s.scrape.job)}${jobs.size > 0 ? ` (jobs: ${[...jobs].join(', ')})` : ' (scrape_configs is empty)'}`,
        ),
      );
    }
  });
  if (issues.length > 0) throw new ConfigError(issues);
}

/**
 * The jobs of the files `config.scrape_config_files` matches, in pattern order and then file
 * name order, as Prometheus appends them. A pattern matching nothing is fine (Prometheus
 * agrees); a file matched by two patterns is read once. Problems of every file are reported
 * together, each in its own file.
 */
async function loadScrapeConfigFiles(
  config: TributaryConfig,
  mainFile: string,
  main: ValidatedDocument<TributaryConfig>,
  env: Env,
): Promise<{ jobs: { job: ScrapeConfig; at: KeyPath; doc: ValidatedDocument<unknown> }[]; warnings: ConfigWarning[] }> {
  const taken = new Map<string, string>(config.scrape_configs.map((c) => [c.job_name, mainFile]));
  const jobs: { job: ScrapeConfig; at: KeyPath; doc: ValidatedDocument<unknown> }[] = [];
  const warnings: ConfigWarning[] = [];
  const problems: ConfigIssue[] = [];
  const seen = new Set<string>();
  const patterns = config.scrape_config_files ?? [];
  for (const [i, pattern] of patterns.entries()) {
    for (const file of await expandPattern(compilePattern(pattern))) {
      if (seen.has(file)) continue;
      seen.add(file);
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (err) {
        // The pattern is what the author can fix, so the problem points at it.
        problems.push(main.issueAt(['scrape_config_files', i], `cannot read ${file}: ${(err as Error).message}`));
        continue;
      }
      let doc: ValidatedDocument<ScrapeConfig[]>;
      try {
        doc = validateDocument(decodeConfigText(bytes, file), file, env, scrapeConfigFileSchema(config.global, taken), SCRAPE_CONFIG_FILE);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(...err.issues);
        continue;
      }
      for (const job of doc.value) {
        resolveScrapeConfigPaths(job, dirname(file));
        taken.set(job.job_name, file);
      }
      jobs.push(...doc.value.map((job, j) => ({ job, at: ['scrape_configs', j] as KeyPath, doc: doc as ValidatedDocument<unknown> })));
      warnings.push(...sorted([...doc.warnings, ...schemaWarnings(doc, [...scrapeConfigWarnings(doc.value), ...unimplementedKeyWarnings(doc.raw)])]));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { jobs, warnings };
}

/**
 * The file's text; bytes that are not UTF-8 are an error at their line and column (and the key
 * they are in), as Prometheus refuses them.
 */
function decodeConfigText(bytes: Uint8Array, fileName: string): string {
  const r = decodeUtf8(bytes);
  if (r.ok) return r.text;
  const path = parseYaml(r.lossy).index.pathAt(r.lossyOffset);
  throw new ConfigError([{ file: fileName, line: r.line, column: r.column, path: formatPath(path), message: r.message }]);
}

interface ValidatedDocument<T> {
  value: T;
  /** The document as written (plain YAML data, scalars as text), for `unimplementedKeyWarnings`. */
  raw: unknown;
  /** Warnings about the YAML itself; the schema's are the caller's to add, with `issueAt`. */
  warnings: ConfigWarning[];
  /** An issue about what was written at `path` (or at its nearest written ancestor). */
  issueAt(path: KeyPath, message: string): ConfigIssue;
}

function schemaWarnings(doc: ValidatedDocument<unknown>, warnings: readonly SchemaWarning[]): ConfigWarning[] {
  return warnings.map((w) => doc.issueAt(w.path, w.message));
}

/**
 * One YAML document of `fileName` validated by `schema`, its problems located in that file;
 * `expected` says what the top level must be. Throws `ConfigError`.
 */
function validateDocument<T>(
  text: string,
  fileName: string,
  env: Env,
  schema: z.ZodType<T, unknown>,
  expected: string,
  topLevel: 'mapping' | 'list' = 'mapping',
): ValidatedDocument<T> {
  const expansion = expandEnv(text, env);
  const lines = new LineCounter();
  lines.addNewLine(0);
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);

  const at = (sourceOffset: number, path: KeyPath, message: string): ConfigIssue => {
    const { line, col } = lines.linePos(sourceOffset);
    return { file: fileName, line, column: col, path: formatPath(path), message };
  };
  const atExpanded = (offset: number, path: KeyPath, message: string) =>
    at(expansion.toSourceOffset(offset), path, message);

  const doc = parseYaml(expansion.text);
  const early: ConfigIssue[] = [];
  for (const p of expansion.problems)
    early.push(at(p.sourceOffset, doc.index.pathAt(p.expandedOffset), p.message));
  for (const e of doc.errors) {
    const first =
      e.relatedOffset === undefined
        ? ''
        : ` (first defined on line ${lines.linePos(expansion.toSourceOffset(e.relatedOffset)).line})`;
    early.push(atExpanded(e.offset, e.path, e.message + first));
  }
  if (early.length > 0) throw new ConfigError(sorted(early));

  const data = doc.data === undefined ? (topLevel === 'list' ? [] : {}) : doc.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data) !== (topLevel === 'list')) {
    throw new ConfigError([atExpanded(0, [], `the file must hold ${expected}, not ${describeValue(data)}`)]);
  }

  // Which keys the object rejecting an unknown key has, for "did you mean" hints.
  const knownKeys = new WeakMap<object, string[]>();
  const result = schema.safeParse(data, {
    reportInput: true,
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const shape = (iss.inst as { shape?: Record<string, unknown> } | undefined)?.shape;
        if (shape && iss.input && typeof iss.input === 'object') knownKeys.set(iss.input, Object.keys(shape));
        return undefined;
      }
      return zodMessage(iss);
    },
  });
  if (!result.success) {
    const issues = result.error.issues.flatMap((iss) => locateIssue(iss, doc.index, knownKeys, atExpanded));
    throw new ConfigError(sorted(issues));
  }

  return {
    value: result.data,
    raw: data,
    warnings: doc.warnings.map((w) => atExpanded(w.offset, w.path, w.message)),
    issueAt: (path, message) => {
      const loc = doc.index.nearest(path).loc;
      return atExpanded(loc.keyStart ?? loc.start, path, message);
    },
  };
}

type Locate = (offset: number, path: KeyPath, message: string) => ConfigIssue;

function locateIssue(
  iss: z.core.$ZodIssue,
  index: LocationIndex,
  knownKeys: WeakMap<object, string[]>,
  at: Locate,
): ConfigIssue[] {
  const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (iss.code === 'unrecognized_keys') {
    const known = iss.input && typeof iss.input === 'object' ? knownKeys.get(iss.input) : undefined;
    return iss.keys.map((key) => {
      const keyPath = [...path, key];
      const loc = index.get(keyPath) ?? index.nearest(keyPath).loc;
      const hint = known ? closest(key, known) : undefined;
      return at(
        loc.keyStart ?? loc.start,
        keyPath,
        `unknown key ${JSON.stringify(key)}${hint ? `; did you mean ${JSON.stringify(hint)}?` : ''}`,
      );
    });
  }
  const loc = index.get(path);
  if (!loc) {
    const nearest = index.nearest(path);
    const last = path[path.length - 1];
    // Nothing was written at this path: a required key is missing (point at its mapping), or
    // the check is about a value a default filled in (point at the closest written ancestor).
    const missing = iss.input === undefined && nearest.depth === path.length - 1 && typeof last === 'string';
    const message =
      missing && isTypeComplaint(iss) ? `missing required key ${JSON.stringify(last)}` : iss.message;
    return [at(nearest.loc.start, path, message)];
  }
  const atKey = iss.code === 'custom' && (iss.params as { at?: string } | undefined)?.at === 'key';
  // Written but empty (`key:`): the data holds undefined, which the messages call "nothing".
  const message =
    iss.input === undefined ? iss.message.replace(/, got nothing$/, ', got an empty value') : iss.message;
  return [at(atKey ? (loc.keyStart ?? loc.start) : loc.start, path, message)];
}

/** A complaint that the value has the wrong type, which for an absent key means it is missing. */
function isTypeComplaint(iss: z.core.$ZodIssue): boolean {
  return iss.code === 'invalid_type' || (iss.code === 'custom' && iss.message.startsWith('expected '));
}

const NOUNS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** Messages for zod's own issues, worded like the rest; `undefined` keeps zod's. */
function zodMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${NOUNS[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
    case 'invalid_value':
      if (iss.values.length === 1)
        return `expected ${JSON.stringify(iss.values[0])}, got ${describeValue(iss.input)}`;
      return `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}; got ${describeValue(iss.input)}`;
    case 'too_small':
      if (iss.origin === 'string' && Number(iss.minimum) === 1) return 'must not be empty';
      if (iss.origin === 'array')
        return `needs at least ${iss.minimum} ${Number(iss.minimum) === 1 ? 'item' : 'items'}`;
      return undefined;
    case 'invalid_union':
      return `unexpected ${describeValue(iss.input)}`;
    default:
      return undefined;
  }
}

function sorted(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** The known key closest to a misspelt one, if it is close enough to be the likely intent. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.min(3, Math.floor(key.length / 2) + 1);
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...new Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
