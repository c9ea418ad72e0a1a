/**
 * The gather wizard's REST API under `/api/…`, with vmgather's paths: health, config, validate,
 * validate-query, discover, sample (the preview), export start/status/cancel/resume/list (and
 * vmgather's legacy synchronous `POST /api/export`),
 * download (only regular files inside the output folder), and fs list/check (loopback callers
 * only). Request bodies are JSON in snake_case (vmgather's field names where it has them),
 * read under a size cap and checked by hand: a wrong field is named with why it is wrong, as
 * `{"error": "connection.auth.password: …", "field": "connection.auth.password"}`.
 *
 * The connection arrives with every request, secrets included, and lives in memory for that
 * request only (an export's job keeps it while it runs: jobs.ts). Nothing here logs a
 * connection; an error that quotes a secret has it replaced by `<secret>` before it is logged
 * or answered.
 *
 * Shapes (times: RFC 3339 strings or Unix ms; every POST body is `application/json`):
 * - `connection`: `{url, tenant_id?, api_base_path?, auth?: {type: none|basic|bearer|header,
 *   username, password, token, header_name, header_value}, skip_tls_verify?, ca_pem?, timeout_seconds?}`
 * - `POST /api/validate {connection}` → `{valid, flavour, version, api_base, export_api,
 *   attempts: [{url, ok, status, error}], hint, error}` (200 whether or not it is valid)
 * - `POST /api/discover {connection, time_range?: {start, end}}` (default: the last hour) →
 *   `{flavour, version, components: [{component, jobs, job_count, instance_count,
 *   metrics_count_estimate}], jobs: [{job, component, instance_count, metrics_count_estimate}], total_series,
 *   estimated}` (estimated: the counts come from the source's per-day statistics)
 * - the selection, in sample / export: `jobs` (+ `job_components`), `components` (resolved by
 *   discovery), `selector` (one or a list) or `query` + `step_seconds`
 * - `POST /api/validate-query {connection, time_range?, selector | query, step_seconds?}` → `{valid, error, series}`
 * - `POST /api/sample {connection, time_range?, <selection>, obfuscation?, obfuscation_session?,
 *   limit? (1–200, 20)}` → `{samples: [{metric_name, labels, value, timestamp, points}], count,
 *   label_names, obfuscated, obfuscation_session}`; `obfuscation`: `{enabled, obfuscate_instance,
 *   obfuscate_job, custom_labels, drop_labels}`
 * - `POST /api/export/start {connection, time_range, <selection>, obfuscation?,
 *   obfuscation_session?, batch_window_seconds? (30–86400 or "auto")}` → 202 and the status;
 *   `POST /api/export` the same, answered when the job has ended
 * - status (`GET /api/export/status?id=`, `/api/export/list` → `{jobs}`, cancel and resume
 *   `{job_id, connection?}`): `{job_id, state, total_batches, completed_batches, progress,
 *   samples (= metrics_processed), series, average_batch_seconds, eta_seconds, eta,
 *   current_range, error, needs_credentials, started_at, completed_at, result: {archive_path,
 *   archive_name, archive_size_bytes, sha256, series, samples, download_url}}`
 * - `GET /api/download?path=` (relative to the output folder, or absolute inside it),
 *   `GET /api/fs/list?path=` → `{path, parent, entries: [{name, path, is_dir}], truncated}`,
 *   `POST /api/fs/check {path}` → `{path, exists, is_dir, writable, can_create}`
 * - imports (docs/IMPORT.md; import-jobs.ts): `POST /api/import/upload?name=` (the file as
 *   `application/octet-stream`) → 201 `{upload_id, bytes}`; `POST /api/import/analyze` and
 *   `/api/import/start` `{connection, input: {path} | {upload_id}, protocol?, query_url?,
 *   retention_seconds?, max_labels?, skip_bad_lines?, outside?, shift_seconds?, verify?,
 *   restart?, concurrency?, analysis_id? (start: the analyze run whose reading of the file it may
 *   take)}` → 202 and the status (`importStatusOut`); `GET
 *   /api/import/status?id=`, `/api/import/list`, `/api/import/profiles`; `POST
 *   /api/import/cancel|resume {import_id, connection?}`; `input.path` for loopback callers only
 * - errors: `{error, field?, kind?}` with 400 (a field), 403, 404, 409 (a job's state), 413
 *   (body over 1 MiB), 415 (not JSON), 502 (the source failed; `kind` says how), 504 (it timed out)
 */

import { constants as fsConstants } from 'node:fs';
import { access, open, readdir, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { arch, platform } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { VERSION } from '../common/version.js';
import { mediaTypeOf, MEDIA_JSON } from '../formats/media-types.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { HttpServer } from '../server/http-server.js';
import { BodyTooLargeError, readBody } from '../server/request-body.js';
import { sendJson } from '../server/respond.js';
import { fsProblem } from '../common/write-fully.js';
import type { ImportJob, ImportStatus, OutsidePolicy } from './import-job.js';
import { UploadTooLarge, type ImportJobs } from './import-jobs.js';
import type { ImportProtocol } from './import-target.js';
import {
  type AuthConfig,
  type ConnectionConfig,
  type DiscoverResult,
  type ExportJobs,
  type ExportRequest,
  type ExportStatus,
  type ObfuscationConfig,
  type Selection,
  type SeriesSample,
  type Source,
  redactSecrets,
  SourceError,
  type ValidateResult,
} from './types.js';

/** Request bodies are small JSON; the largest part is an uploaded CA bundle. */
export const MAX_BODY_BYTES = 1 << 20;
/** A CA bundle of a few dozen certificates fits; more is not a CA file. */
export const MAX_CA_BYTES = 512 * 1024;
export const DEFAULT_SAMPLE_LIMIT = 20;
export const MAX_SAMPLE_LIMIT = 200;
/** Custom batch windows, as vmgather allows them. */
export const MIN_BATCH_WINDOW_SECONDS = 30;
export const MAX_BATCH_WINDOW_SECONDS = 24 * 3600;
/** Entries of one folder listed by `/api/fs/list`. */
export const MAX_FS_ENTRIES = 1000;

/** A preview's obfuscator, as the API uses it (obfuscate.ts' `Obfuscator`). */
export interface PreviewObfuscator {
  metric(m: Record<string, string>): Record<string, string>;
  /** Numbers the originals the source lists up front, as the export does (obfuscate.ts). */
  seedFrom?(source: Pick<Source, 'labelValues'>, startMs: number, endMs: number): Promise<void>;
}

/** The obfuscation sessions the preview opens and the export continues (obfuscate.ts' `ObfuscationSessions`). */
export interface ObfuscationSessionStore {
  open(cfg: ObfuscationConfig, jobComponents?: Record<string, string>): { id: string; obfuscator: PreviewObfuscator };
  get(id: string): PreviewObfuscator | undefined;
}

export interface GatherApiOptions {
  /** Where bundles are written; `/api/download` serves files from here only. */
  outputDir: string;
  /** Shown by `/api/config`. */
  stagingDir?: string;
  jobs: ExportJobs;
  sessions: ObfuscationSessionStore;
  openSource: (c: ConnectionConfig) => Promise<Source>;
  validate: (c: ConnectionConfig) => Promise<ValidateResult>;
  log?: Logger;
  /**
   * Whether the server listens on a loopback address only: then requests must name a loopback
   * host in `Host` (a page on another site cannot reach the API through DNS rebinding).
   */
  loopbackOnly?: boolean;
  /** The Import tab's runs; without it `/api/import/*` answers 404. */
  imports?: ImportJobs;
}

/** A request the API refuses: its status, the message, and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(field === undefined ? message : `${field}: ${message}`);
  }
}

const bad = (field: string, why: string): ApiError => new ApiError(400, why, field);

/** Per request: the secrets its connection carries, so that no error quotes them. */
interface RequestScope {
  readonly secrets: string[];
}

// ---------------------------------------------------------------------------------------------
// Checking request bodies by hand

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objectAt(v: unknown, field: string): Json {
  if (!isObject(v)) throw bad(field, `must be an object, got ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return 'a string';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

/** Refuses fields the API does not know, so a typo does not silently fall back to a default. */
function onlyKnown(o: Json, field: string, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw bad(field === '' ? k : `${field}.${k}`, `unknown field (known: ${known.join(', ')})`);
  }
}

function stringAt(v: unknown, field: string, opts: { max?: number; empty?: boolean } = {}): string {
  if (typeof v !== 'string') throw bad(field, `must be a string, got ${describe(v)}`);
  if (!opts.empty && v.trim() === '') throw bad(field, 'must not be empty');
  const max = opts.max ?? 4096;
  if (v.length > max) throw bad(field, `longer than ${max} characters`);
  return v;
}

function optionalString(v: unknown, field: string, opts: { max?: number; empty?: boolean } = {}): string | undefined {
  return v === undefined || v === null ? undefined : stringAt(v, field, opts);
}

function boolAt(v: unknown, field: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw bad(field, `must be true or false, got ${describe(v)}`);
  return v;
}

function numberAt(v: unknown, field: string, min: number, max: number, unit = ''): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(field, `must be a number, got ${describe(v)}`);
  if (v < min || v > max) throw bad(field, `must be between ${min} and ${max}${unit}, got ${v}`);
  return v;
}

function stringList(v: unknown, field: string, opts: { max?: number; item?: (s: string, f: string) => void } = {}): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(field, `must be a list of strings, got ${describe(v)}`);
  const max = opts.max ?? 10_000;
  if (v.length > max) throw bad(field, `more than ${max} entries`);
  return v.map((item, i) => {
    const s = stringAt(item, `${field}[${i}]`);
    opts.item?.(s, `${field}[${i}]`);
    return s;
  });
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** RFC 9110 token: what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TENANT = /^\d{1,10}(:\d{1,10})?$/;

function labelName(s: string, field: string): void {
  if (!LABEL_NAME.test(s)) throw bad(field, `${JSON.stringify(s)} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)`);
  if (s === '__name__') throw bad(field, 'the metric name (__name__) cannot be obfuscated or dropped');
}

/**
 * The connection, vmgather's shape: `{url, tenant_id, api_base_path, auth: {type, username,
 * password, token, header_name, header_value}, skip_tls_verify, ca_pem, timeout_seconds}`.
 */
export function parseConnection(v: unknown, field: string, scope?: RequestScope): ConnectionConfig {
  const o = objectAt(v, field);
  onlyKnown(o, field, ['url', 'tenant_id', 'api_base_path', 'auth', 'skip_tls_verify', 'ca_pem', 'timeout_seconds']);
  let url = stringAt(o.url, `${field}.url`).trim();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad(`${field}.url`, `${JSON.stringify(url)} is not a URL (want http://host:port[/path])`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw bad(`${field}.url`, `scheme ${parsed.protocol.replace(/:$/, '')} is not supported, want http or https`);
  }
  if (parsed.password !== '') scope?.secrets.push(decodeURIComponent(parsed.password), parsed.password);
  if (parsed.search !== '' || parsed.hash !== '') throw bad(`${field}.url`, 'must not carry a query string or fragment');
  const basePath = optionalString(o.api_base_path, `${field}.api_base_path`, { empty: true });
  if (basePath !== undefined && basePath !== '') {
    if (!basePath.startsWith('/')) throw bad(`${field}.api_base_path`, 'must start with "/" (as /select/0/prometheus)');
    url = url.replace(/\/+$/, '') + basePath;
  }
  const tenant = optionalString(o.tenant_id, `${field}.tenant_id`, { empty: true, max: 32 });
  if (tenant !== undefined && tenant !== '' && !TENANT.test(tenant)) {
    throw bad(`${field}.tenant_id`, `${JSON.stringify(tenant)} is not a tenant: want accountID or accountID:projectID (digits)`);
  }
  const auth = parseAuth(o.auth, `${field}.auth`, scope);
  const skip = boolAt(o.skip_tls_verify, `${field}.skip_tls_verify`, false);
  const ca = optionalString(o.ca_pem, `${field}.ca_pem`, { max: MAX_CA_BYTES, empty: true });
  if (ca !== undefined && ca !== '' && !ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw bad(`${field}.ca_pem`, 'is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)');
  }
  const timeout = o.timeout_seconds === undefined || o.timeout_seconds === null ? undefined : numberAt(o.timeout_seconds, `${field}.timeout_seconds`, 1, 3600, ' s');
  const hasTls = skip || (ca !== undefined && ca !== '');
  return {
    url,
    ...(tenant !== undefined && tenant !== '' ? { tenant } : {}),
    ...(auth.type !== 'none' ? { auth } : {}),
    ...(hasTls ? { tls: { ...(ca !== undefined && ca !== '' ? { ca } : {}), ...(skip ? { insecureSkipVerify: true } : {}) } } : {}),
    ...(timeout !== undefined ? { timeoutMs: Math.round(timeout * 1000) } : {}),
  };
}

function parseAuth(v: unknown, field: string, scope?: RequestScope): AuthConfig {
  if (v === undefined || v === null) return { type: 'none' };
  const o = objectAt(v, field);
  onlyKnown(o, field, ['type', 'username', 'password', 'token', 'header_name', 'header_value']);
  const type = o.type === undefined ? 'none' : stringAt(o.type, `${field}.type`);
  switch (type) {
    case 'none':
      return { type: 'none' };
    case 'basic': {
      const username = stringAt(o.username, `${field}.username`, { max: 1024 });
      if (username.includes(':')) throw bad(`${field}.username`, 'must not contain ":" (Basic auth separates user and password with it)');
      const password = stringAt(o.password ?? '', `${field}.password`, { max: 4096, empty: true });
      if (password !== '') scope?.secrets.push(password);
      return { type: 'basic', username, password };
    }
    case 'bearer': {
      const token = stringAt(o.token, `${field}.token`, { max: 16384 });
      if (/[\r\n]/.test(token)) throw bad(`${field}.token`, 'must be one line');
      scope?.secrets.push(token);
      return { type: 'bearer', token };
    }
    case 'header': {
      const name = stringAt(o.header_name, `${field}.header_name`, { max: 256 });
      if (!HEADER_NAME.test(name)) throw bad(`${field}.header_name`, `${JSON.stringify(name)} is not an HTTP header name`);
      const value = stringAt(o.header_value, `${field}.header_value`, { max: 16384 });
      if (/[\r\n\0]/.test(value)) throw bad(`${field}.header_value`, 'must be one line');
      scope?.secrets.push(value);
      return { type: 'header', name, value };
    }
    default:
      throw bad(`${field}.type`, `${JSON.stringify(type)} is not an auth type: want none, basic, bearer or header`);
  }
}

/** A time: an RFC 3339 string or Unix milliseconds. */
function timeAt(v: unknown, field: string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0 || v > 8.64e15) throw bad(field, `${v} is not a time in Unix milliseconds`);
    return Math.floor(v);
  }
  if (typeof v === 'string' && v.trim() !== '') {
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) throw bad(field, `${JSON.stringify(v)} is not a time: want RFC 3339 (2024-01-02T03:04:05Z) or Unix milliseconds`);
    return ms;
  }
  throw bad(field, `must be an RFC 3339 time or Unix milliseconds, got ${describe(v)}`);
}

/** `time_range: {start, end}`; absent with `dflt`: the last `dflt` ms. */
function parseRange(v: unknown, field: string, dfltMs?: number): { startMs: number; endMs: number } {
  if ((v === undefined || v === null) && dfltMs !== undefined) {
    const endMs = Date.now();
    return { startMs: endMs - dfltMs, endMs };
  }
  const o = objectAt(v, field);
  onlyKnown(o, field, ['start', 'end']);
  const startMs = timeAt(o.start, `${field}.start`);
  const endMs = timeAt(o.end, `${field}.end`);
  if (endMs <= startMs) throw bad(`${field}.end`, `must be after start (${new Date(startMs).toISOString()})`);
  return { startMs, endMs };
}

/** A label value inside double quotes of a series selector. */
export function quoteLabelValue(v: string): string {
  return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

interface SelectionInput {
  readonly selection?: Selection;
  /** Components to resolve into their jobs by discovery. */
  readonly components: string[];
}

/**
 * What to export: `query` (+ `step_seconds`), `selector` (one or a list), `jobs` (each becomes
 * `{job="…"}`), or `components` (their jobs, found by discovery over the range).
 */
function parseSelection(o: Json): SelectionInput {
  const components = stringList(o.components, 'components', { max: 1000 });
  if (o.query !== undefined && o.query !== null) {
    const query = stringAt(o.query, 'query', { max: 16384 });
    const step = o.step_seconds === undefined || o.step_seconds === null ? 60 : numberAt(o.step_seconds, 'step_seconds', 1, 86_400, ' s');
    if (o.selector !== undefined && o.selector !== null) throw bad('selector', 'give either query or selector, not both');
    return { selection: { query, stepMs: Math.round(step * 1000) }, components: [] };
  }
  if (o.selector !== undefined && o.selector !== null) {
    const list = typeof o.selector === 'string' ? [stringAt(o.selector, 'selector', { max: 16384 })] : stringList(o.selector, 'selector', { max: 100 });
    if (list.length === 0) throw bad('selector', 'must name at least one series selector');
    return { selection: { selectors: list.map((s) => s.trim()) }, components: [] };
  }
  const jobs = stringList(o.jobs, 'jobs', { max: 5000 });
  if (jobs.length > 0) return { selection: { selectors: jobs.map((j) => `{job=${quoteLabelValue(j)}}`) }, components };
  if (components.length > 0) return { components };
  throw new ApiError(400, 'nothing selected: give jobs, components, a selector or a query', 'jobs');
}

function parseObfuscation(v: unknown, field: string): ObfuscationConfig {
  if (v === undefined || v === null) return { enabled: false, instance: false, job: false, labels: [], drop: [] };
  const o = objectAt(v, field);
  onlyKnown(o, field, ['enabled', 'obfuscate_instance', 'obfuscate_job', 'custom_labels', 'drop_labels', 'preserve_structure']);
  const enabled = boolAt(o.enabled, `${field}.enabled`, false);
  const labels = stringList(o.custom_labels, `${field}.custom_labels`, { max: 200, item: labelName });
  const drop = stringList(o.drop_labels, `${field}.drop_labels`, { max: 200, item: labelName });
  for (const d of drop) if (labels.includes(d)) throw bad(`${field}.drop_labels`, `${d} is both obfuscated and dropped: choose one`);
  return {
    enabled,
    instance: enabled && boolAt(o.obfuscate_instance, `${field}.obfuscate_instance`, true),
    job: enabled && boolAt(o.obfuscate_job, `${field}.obfuscate_job`, true),
    labels: enabled ? [...new Set(labels.filter((l) => l !== 'instance' && l !== 'job'))] : [],
    drop: [...new Set(drop)],
  };
}

function parseJobComponents(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  const o = objectAt(v, field);
  const out: Record<string, string> = {};
  for (const [k, c] of Object.entries(o)) out[k] = stringAt(c, `${field}.${k}`, { max: 256 });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Answers

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** A job's status as the API answers it (vmgather's field names where it has them). */
export function statusJson(s: ExportStatus, outputDir: string): Json {
  const r = s.result;
  const active = s.state === 'running' || s.state === 'pending';
  let download: string | undefined;
  if (r !== undefined) {
    const rel = relative(outputDir, r.path);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) download = `/api/download?path=${encodeURIComponent(rel.split(sep).join('/'))}`;
  }
  return {
    job_id: s.id,
    state: s.state,
    total_batches: s.batchesTotal,
    completed_batches: s.batchesDone,
    progress: s.progress,
    metrics_processed: s.samples,
    samples: s.samples,
    series: s.series,
    average_batch_seconds: s.averageBatchSeconds,
    eta_seconds: active && s.etaSeconds !== undefined ? s.etaSeconds : null,
    eta: active && s.etaSeconds !== undefined ? iso(Date.now() + s.etaSeconds * 1000) : null,
    current_range:
      s.currentRange === undefined
        ? null
        : { start: iso(s.currentRange.startMs), end: iso(s.currentRange.endMs), start_ms: s.currentRange.startMs, end_ms: s.currentRange.endMs },
    error: s.error ?? null,
    needs_credentials: s.needsCredentials === true,
    started_at: iso(s.startedAt),
    completed_at: iso(s.finishedAt) ?? null,
    result:
      r === undefined
        ? null
        : {
            archive_path: r.path,
            archive_name: basename(r.path),
            archive_size_bytes: r.bytes,
            sha256: r.sha256,
            series: r.series,
            samples: r.samples,
            download_url: download ?? null,
          },
  };
}

function discoverJson(d: DiscoverResult, source: Source): Json {
  return {
    flavour: source.info.flavour,
    version: source.info.version,
    components: d.components.map((c) => ({
      component: c.component,
      jobs: d.jobs.filter((j) => j.component === c.component).map((j) => j.job),
      job_count: c.jobs,
      instance_count: c.instances,
      metrics_count_estimate: c.series,
    })),
    jobs: d.jobs.map((j) => ({ job: j.job, component: j.component, instance_count: j.instances, metrics_count_estimate: j.series })),
    total_series: d.totalSeries,
    estimated: d.estimated === true,
  };
}

function sampleJson(s: SeriesSample): Json {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.metric)) if (k !== '__name__') labels[k] = v;
  const n = s.values.length;
  return {
    metric_name: s.metric.__name__ ?? '',
    labels,
    value: n > 0 ? s.values[n - 1] : null,
    timestamp: n > 0 ? s.timestamps[n - 1] : null,
    points: n,
  };
}

// ---------------------------------------------------------------------------------------------
// Paths

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Host header names a loopback host: `localhost`, `127.x.y.z`, `[::1]`, any port. */
function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return h.toLowerCase() === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * The real path of a file `/api/download` may serve: `raw` relative to the output folder (or
 * absolute inside it), no `..` segment, resolving (symlinks followed) to a regular file inside
 * the folder's own real path.
 */
export async function resolveDownload(outputDir: string, raw: string): Promise<string> {
  if (raw === '') throw bad('path', 'missing: name a file of the output folder');
  if (raw.includes('\0')) throw bad('path', 'contains a NUL byte');
  if (raw.split(/[\\/]/).includes('..')) throw bad('path', '".." is not allowed: name a file inside the output folder');
  let root: string;
  try {
    root = await realpath(outputDir);
  } catch {
    throw new ApiError(404, `the output folder ${outputDir} does not exist`);
  }
  const wanted = isAbsolute(raw) ? raw : join(root, raw);
  let real: string;
  try {
    real = await realpath(wanted);
  } catch (err) {
    // an absolute path outside the folder is refused whether or not it exists: no probing
    if (isAbsolute(raw) && !isInside(resolve(outputDir), resolve(raw)) && !isInside(root, resolve(raw))) {
      throw new ApiError(403, 'outside the output folder', 'path');
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ApiError(404, `no such file in the output folder: ${raw}`, 'path');
    throw new ApiError(403, `cannot be read: ${(err as Error).message}`, 'path');
  }
  if (!isInside(root, real)) throw new ApiError(403, 'outside the output folder (a symlink leads out of it, or the path is elsewhere)', 'path');
  return real;
}

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}

// ---------------------------------------------------------------------------------------------
// The API

type ApiHandler = (req: IncomingMessage, res: ServerResponse, scope: RequestScope) => Promise<void>;

export class GatherApi {
  private readonly log: Logger;
  /** Job id → the secrets of its connection, so that an error the source quoted them in is never answered with them. */
  private readonly jobSecrets = new Map<string, string[]>();
  /** Session id → the settings it was opened with: an export may continue only a matching one. */
  private readonly sessionKeys = new Map<string, string>();

  constructor(private readonly opts: GatherApiOptions) {
    this.log = (opts.log ?? silentLogger).child({ component: 'gather-api' });
  }

  register(server: HttpServer): void {
    const r = (method: 'GET' | 'POST', path: string, h: ApiHandler, loopbackOnly = false): void => {
      server.route(method, path, (req, res) => this.handle(req, res, h, method, loopbackOnly));
    };
    r('GET', '/api/health', async (_req, res) => sendJson(res, 200, { status: 'ok', version: VERSION }));
    r('GET', '/api/config', async (_req, res) => this.config(res));
    r('POST', '/api/validate', (req, res, s) => this.validate(req, res, s));
    r('POST', '/api/validate-query', (req, res, s) => this.validateQuery(req, res, s));
    r('POST', '/api/discover', (req, res, s) => this.discover(req, res, s));
    r('POST', '/api/sample', (req, res, s) => this.sample(req, res, s));
    r('POST', '/api/export', (req, res, s) => this.exportSync(req, res, s));
    r('POST', '/api/export/start', (req, res, s) => this.exportStart(req, res, s));
    r('GET', '/api/export/status', async (req, res) => this.exportStatus(req, res));
    r('GET', '/api/export/list', async (_req, res) => sendJson(res, 200, { jobs: this.opts.jobs.list().map((s) => this.statusOut(s)) }));
    r('POST', '/api/export/cancel', (req, res) => this.exportCancel(req, res));
    r('POST', '/api/export/resume', (req, res, s) => this.exportResume(req, res, s));
    r('GET', '/api/download', (req, res) => this.download(req, res));
    r('GET', '/api/fs/list', (req, res) => this.fsList(req, res), true);
    r('POST', '/api/fs/check', (req, res) => this.fsCheck(req, res), true);
    r('POST', '/api/import/upload', (req, res) => this.importUpload(req, res));
    r('POST', '/api/import/analyze', (req, res, s) => this.importStart(req, res, s, true));
    r('POST', '/api/import/start', (req, res, s) => this.importStart(req, res, s, false));
    r('GET', '/api/import/status', async (req, res) => {
      const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? '';
      sendJson(res, 200, importStatusOut(id, this.importOf(id).status()));
    });
    r('GET', '/api/import/list', async (_req, res) => sendJson(res, 200, { imports: this.importsOrThrow().list().map((e) => importStatusOut(e.id, e.status)) }));
    r('POST', '/api/import/cancel', (req, res) => this.importCancel(req, res));
    r('POST', '/api/import/resume', (req, res, s) => this.importResume(req, res, s));
    r('GET', '/api/import/profiles', async (_req, res) => sendJson(res, 200, { profiles: await this.importsOrThrow().profiles() }));
  }

  private importsOrThrow(): ImportJobs {
    if (this.opts.imports === undefined) throw new ApiError(404, 'imports are not enabled on this server');
    return this.opts.imports;
  }

  private importOf(id: string): ImportJob {
    const job = this.importsOrThrow().get(id);
    if (job === undefined) throw new ApiError(404, `no import ${JSON.stringify(id)} (finished ones are kept 30 minutes)`, 'import_id');
    return job;
  }

  /** The body is the file itself (application/octet-stream), streamed to disk; `?name=` its name. */
  private async importUpload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const imports = this.importsOrThrow();
    const type = mediaTypeOf(req.headers['content-type']);
    if (type !== 'application/octet-stream') throw new ApiError(415, `send the file as application/octet-stream (got ${type === '' ? 'no Content-Type' : type})`);
    const name = new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? 'upload';
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
    try {
      const up = await imports.upload(req, name, declared);
      sendJson(res, 201, { upload_id: basename(up.path), bytes: up.bytes });
    } catch (err) {
      if (err instanceof UploadTooLarge) throw new ApiError(413, err.message);
      throw new ApiError(507, `the upload could not be stored: ${fsProblem(err)}`);
    }
  }

  private importInputOf(req: IncomingMessage, v: unknown): string {
    const o = objectAt(v, 'input');
    onlyKnown(o, 'input', ['path', 'upload_id']);
    if (o.upload_id !== undefined && o.upload_id !== null) {
      const id = stringAt(o.upload_id, 'input.upload_id', { max: 200 });
      if (!/^[0-9a-f]{12}-[A-Za-z0-9._-]+$/.test(id)) throw bad('input.upload_id', 'is not an upload id (as /api/import/upload answers)');
      return join(this.importsOrThrow().uploadDir, id);
    }
    const path = stringAt(o.path, 'input.path');
    if (path.includes('\0')) throw bad('input.path', 'contains a NUL byte');
    // a path names a file of this machine: only its own user may have the server read one
    if (!isLoopbackAddress(req.socket.remoteAddress)) throw new ApiError(403, 'input.path: files are read for loopback callers only; upload the file instead', 'input.path');
    return resolve(path);
  }

  private async importStart(req: IncomingMessage, res: ServerResponse, scope: RequestScope, dryRun: boolean): Promise<void> {
    const imports = this.importsOrThrow();
    const o = await this.body(req);
    onlyKnown(o, '', ['connection', 'input', 'protocol', 'query_url', 'retention_seconds', 'max_labels', 'skip_bad_lines', 'outside', 'shift_seconds', 'verify', 'restart', 'concurrency', 'analysis_id']);
    // the analyze run this start follows: its reading of the file is taken when it still holds
    const analysisId = dryRun ? undefined : optionalString(o.analysis_id, 'analysis_id', { max: 64 });
    const reuse = analysisId === undefined ? undefined : this.importOf(analysisId);
    const connection = parseConnection(o.connection, 'connection', scope);
    const input = this.importInputOf(req, o.input);
    const protocol = optionalString(o.protocol, 'protocol');
    if (protocol !== undefined && protocol !== 'vm-import' && protocol !== 'remote-write') throw bad('protocol', `${JSON.stringify(protocol)}: want vm-import or remote-write`);
    const outside = optionalString(o.outside, 'outside') ?? 'fail';
    if (!['fail', 'drop', 'shift', 'keep'].includes(outside)) throw bad('outside', `${JSON.stringify(outside)}: want fail, drop, shift or keep`);
    const queryUrl = optionalString(o.query_url, 'query_url', { empty: true });
    const { id, status } = imports.start({
      input,
      target: {
        ...connection,
        protocol: protocol as ImportProtocol | undefined,
        queryUrl: queryUrl === '' ? undefined : queryUrl,
        retentionMs: o.retention_seconds === undefined || o.retention_seconds === null ? undefined : numberAt(o.retention_seconds, 'retention_seconds', 1, 1e11, ' s') * 1000,
        maxLabels: o.max_labels === undefined || o.max_labels === null ? undefined : numberAt(o.max_labels, 'max_labels', 1, 100_000),
      },
      outside: outside as OutsidePolicy,
      shiftMs: o.shift_seconds === undefined || o.shift_seconds === null ? undefined : numberAt(o.shift_seconds, 'shift_seconds', -1e11, 1e11, ' s') * 1000,
      skipBadLines: boolAt(o.skip_bad_lines, 'skip_bad_lines', false),
      verify: boolAt(o.verify, 'verify', true),
      restart: boolAt(o.restart, 'restart', false),
      concurrency: o.concurrency === undefined || o.concurrency === null ? undefined : numberAt(o.concurrency, 'concurrency', 1, 16),
      dryRun,
      reuse,
    });
    sendJson(res, 202, importStatusOut(id, status));
  }

  private async importCancel(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const o = await this.body(req);
    onlyKnown(o, '', ['import_id']);
    const id = stringAt(o.import_id, 'import_id', { max: 64 });
    const job = this.importOf(id);
    const stage = job.status().stage;
    if (['completed', 'failed', 'canceled', 'analyzed'].includes(stage)) throw new ApiError(409, `import ${id} is not running (${stage})`, 'import_id');
    job.cancel();
    sendJson(res, 200, importStatusOut(id, job.status()));
  }

  private async importResume(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const o = await this.body(req);
    onlyKnown(o, '', ['import_id', 'connection']);
    const id = stringAt(o.import_id, 'import_id', { max: 64 });
    this.importOf(id);
    const connection = o.connection === undefined || o.connection === null ? undefined : parseConnection(o.connection, 'connection', scope);
    let status: ImportStatus;
    try {
      status = this.importsOrThrow().resume(id, connection);
    } catch (err) {
      throw new ApiError(409, `cannot resume: ${(err as Error).message}`, 'import_id');
    }
    sendJson(res, 202, importStatusOut(id, status));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, h: ApiHandler, method: string, loopbackOnly: boolean): Promise<void> {
    const scope: RequestScope = { secrets: [] };
    try {
      this.checkCaller(req, method, loopbackOnly);
      await h(req, res, scope);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const { status, message, field, kind } = this.describeError(err, scope);
      if (status >= 500) this.log.warn('gather API request failed', { path: req.url?.split('?')[0], status, error: message });
      sendJson(res, status, { error: message, ...(field !== undefined ? { field } : {}), ...(kind !== undefined ? { kind } : {}) });
    }
  }

  /** Same-origin JSON only: a page of another site can neither post here nor read an answer. */
  private checkCaller(req: IncomingMessage, method: string, loopbackOnly: boolean): void {
    if (loopbackOnly && !isLoopbackAddress(req.socket.remoteAddress)) {
      throw new ApiError(403, 'file system endpoints answer loopback callers only (this request came from ' + String(req.socket.remoteAddress) + ')');
    }
    const host = req.headers.host;
    if (this.opts.loopbackOnly && !isLoopbackHost(host)) {
      throw new ApiError(403, `Host ${JSON.stringify(host ?? '')} is not this loopback server (use http://127.0.0.1 or http://localhost)`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let originHost: string;
      try {
        originHost = new URL(origin).host;
      } catch {
        throw new ApiError(403, `Origin ${JSON.stringify(origin)} is not a URL`);
      }
      if (originHost !== host) throw new ApiError(403, `cross-origin request from ${origin} refused`);
    } else if (origin === 'null') {
      throw new ApiError(403, 'cross-origin request from an opaque origin refused');
    }
    // an upload is the file itself (its handler wants octet-stream, which a form of another site cannot send either)
    if (method === 'POST' && req.url?.split('?')[0] !== '/api/import/upload') {
      const type = mediaTypeOf(req.headers['content-type']);
      if (type !== MEDIA_JSON) throw new ApiError(415, `send the body as ${MEDIA_JSON} (got ${type === '' ? 'no Content-Type' : type})`);
    }
  }

  private describeError(err: unknown, scope: RequestScope): { status: number; message: string; field?: string; kind?: string } {
    const redact = (m: string): string => redactSecrets(m, scope.secrets);
    if (err instanceof ApiError) return { status: err.status, message: redact(err.message), field: err.field };
    if (err instanceof BodyTooLargeError) return { status: 413, message: err.message };
    if (err instanceof SourceError) {
      const status = err.kind === 'timeout' ? 504 : 502;
      return { status, message: redact(`source: ${err.message}`), kind: err.kind };
    }
    return { status: 500, message: redact(`internal error: ${err instanceof Error ? err.message : String(err)}`) };
  }

  private async body(req: IncomingMessage): Promise<Json> {
    const buf = await readBody(req, MAX_BODY_BYTES);
    let v: unknown;
    try {
      v = JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new ApiError(400, `the body is not JSON: ${(err as Error).message}`);
    }
    if (!isObject(v)) throw new ApiError(400, `the body must be a JSON object, got ${describe(v)}`);
    return v;
  }

  private async withSource<T>(connection: ConnectionConfig, fn: (s: Source) => Promise<T>): Promise<T> {
    const source = await this.opts.openSource(connection);
    try {
      return await fn(source);
    } finally {
      await source.close().catch(() => {});
    }
  }

  private config(res: ServerResponse): void {
    sendJson(res, 200, {
      version: VERSION,
      output_dir: this.opts.outputDir,
      staging_dir: this.opts.stagingDir ?? null,
      os: platform(),
      arch: arch(),
      limits: {
        max_body_bytes: MAX_BODY_BYTES,
        max_sample_limit: MAX_SAMPLE_LIMIT,
        batch_window_seconds: { min: MIN_BATCH_WINDOW_SECONDS, max: MAX_BATCH_WINDOW_SECONDS },
      },
    });
  }

  private async validate(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const o = await this.body(req);
    onlyKnown(o, '', ['connection']);
    const connection = parseConnection(o.connection, 'connection', scope);
    const r = await this.opts.validate(connection);
    const redact = (m: string | undefined): string | null => (m === undefined ? null : redactSecrets(m, scope.secrets));
    sendJson(res, 200, {
      valid: r.ok,
      flavour: r.source?.flavour ?? null,
      version: r.source?.version ?? null,
      api_base: r.source?.apiBase ?? null,
      export_api: r.source?.exportApi ?? null,
      attempts: r.attempts.map((a) => ({ url: redact(a.url), ok: a.ok, status: a.status ?? null, error: redact(a.error) })),
      hint: redact(r.hint),
      error: redact(r.error),
    });
  }

  private async validateQuery(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const o = await this.body(req);
    onlyKnown(o, '', ['connection', 'time_range', 'selector', 'query', 'step_seconds']);
    const connection = parseConnection(o.connection, 'connection', scope);
    const { startMs, endMs } = parseRange(o.time_range, 'time_range', 3600_000);
    if ((o.selector === undefined || o.selector === null) && (o.query === undefined || o.query === null)) {
      throw bad('selector', 'give a series selector (selector) or a query (query)');
    }
    const sel = parseSelection(o);
    const r = await this.withSource(connection, (s) => s.validateQuery(sel.selection!, startMs, endMs));
    sendJson(res, 200, { valid: r.ok, error: r.error ?? null, series: r.series ?? null });
  }

  private async discover(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const o = await this.body(req);
    onlyKnown(o, '', ['connection', 'time_range']);
    const connection = parseConnection(o.connection, 'connection', scope);
    const { startMs, endMs } = parseRange(o.time_range, 'time_range', 3600_000);
    const out = await this.withSource(connection, async (s) => discoverJson(await s.discover(startMs, endMs), s));
    sendJson(res, 200, out);
  }

  /** Resolves `components` into the selectors of their jobs (and the job → component map). */
  private async resolveComponents(
    connection: ConnectionConfig,
    input: SelectionInput,
    startMs: number,
    endMs: number,
  ): Promise<{ selection: Selection; jobComponents?: Record<string, string> }> {
    if (input.selection !== undefined) return { selection: input.selection };
    const d = await this.withSource(connection, (s) => s.discover(startMs, endMs));
    const jobs = d.jobs.filter((j) => input.components.includes(j.component));
    if (jobs.length === 0) throw bad('components', `no job of ${input.components.join(', ')} has series in the time range`);
    const jobComponents: Record<string, string> = {};
    for (const j of jobs) jobComponents[j.job] = j.component;
    return { selection: { selectors: jobs.map((j) => `{job=${quoteLabelValue(j.job)}}`) }, jobComponents };
  }

  private sessionKey(cfg: ObfuscationConfig, jobComponents: Record<string, string> | undefined): string {
    const jc = jobComponents === undefined ? [] : Object.entries(jobComponents).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return JSON.stringify([cfg.instance, cfg.job, [...cfg.labels].sort(), [...cfg.drop].sort(), jc]);
  }

  private rememberSession(id: string, key: string): void {
    this.sessionKeys.set(id, key);
    // the store forgets sessions by itself; this map only has to outlive a wizard's few previews
    if (this.sessionKeys.size > 1000) this.sessionKeys.delete(this.sessionKeys.keys().next().value!);
  }

  private async sample(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const o = await this.body(req);
    onlyKnown(o, '', ['connection', 'time_range', 'jobs', 'components', 'selector', 'query', 'step_seconds', 'obfuscation', 'job_components', 'obfuscation_session', 'limit']);
    const connection = parseConnection(o.connection, 'connection', scope);
    const { startMs, endMs } = parseRange(o.time_range, 'time_range', 3600_000);
    const input = parseSelection(o);
    const obfuscation = parseObfuscation(o.obfuscation, 'obfuscation');
    let jobComponents = parseJobComponents(o.job_components, 'job_components');
    const limit = o.limit === undefined || o.limit === null ? DEFAULT_SAMPLE_LIMIT : Math.floor(numberAt(o.limit, 'limit', 1, MAX_SAMPLE_LIMIT));
    const wantedSession = optionalString(o.obfuscation_session, 'obfuscation_session', { max: 200 });
    const resolved = await this.resolveComponents(connection, input, startMs, endMs);
    jobComponents = jobComponents ?? resolved.jobComponents;
    // the session is settled before the source is read: a refused session costs no query
    let session: { id: string; obfuscator: PreviewObfuscator } | undefined;
    let fresh = false;
    if (obfuscation.enabled) {
      const key = this.sessionKey(obfuscation, jobComponents);
      const existing = wantedSession === undefined ? undefined : this.opts.sessions.get(wantedSession);
      if (existing !== undefined && this.sessionKeys.get(wantedSession!) === key) session = { id: wantedSession!, obfuscator: existing };
      else {
        // other settings (or a forgotten session): a new map, named by a new id the export continues
        session = this.opts.sessions.open(obfuscation, jobComponents);
        this.rememberSession(session.id, key);
        fresh = true;
      }
    }
    const found = await this.withSource(connection, async (s) => {
      // a new map numbers what the range holds first, so the preview shows the stand-ins the export will write
      if (fresh) await session!.obfuscator.seedFrom?.(s, startMs, endMs);
      // every label of the selection may be chosen, not only those of the series shown
      return { samples: await s.sample(resolved.selection, startMs, endMs, limit), labelNames: await s.labelNames(resolved.selection, startMs, endMs) };
    });
    const names = new Set<string>(found.labelNames);
    const raw = found.samples;
    for (const r of raw) for (const k of Object.keys(r.metric)) if (k !== '__name__') names.add(k);
    const shown = raw.map((r) => {
      const metric = session !== undefined ? session.obfuscator.metric({ ...r.metric }) : dropLabels(r.metric, obfuscation.drop);
      return sampleJson({ metric, values: r.values, timestamps: r.timestamps });
    });
    sendJson(res, 200, {
      samples: shown,
      count: shown.length,
      label_names: [...names].sort(),
      obfuscated: obfuscation.enabled,
      obfuscation_session: session?.id ?? null,
    });
  }

  private async exportStart(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const status = await this.startExport(await this.body(req), scope);
    sendJson(res, 202, this.statusOut(status));
  }

  /**
   * vmgather's legacy synchronous export: starts a job and answers when it has ended (200 with
   * the result, 502 with the error). A client that goes away leaves the job running: it can
   * be followed with `/api/export/status` and resumed like any other.
   */
  private async exportSync(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const started = await this.startExport(await this.body(req), scope);
    const final = await new Promise<ExportStatus>((resolve) => {
      const settled = (s: ExportStatus | undefined): boolean => s !== undefined && s.state !== 'pending' && s.state !== 'running';
      const off = this.opts.jobs.onChange((s) => {
        if (s.id === started.id && settled(s)) {
          off();
          resolve(s);
        }
      });
      // it may have ended before the listener was in place
      const now = this.opts.jobs.status(started.id);
      if (settled(now)) {
        off();
        resolve(now!);
      }
      res.once('close', off);
    });
    const body = this.statusOut(final);
    sendJson(res, final.state === 'completed' ? 200 : 502, final.state === 'completed' ? body : { ...body, error: `export ${final.state}: ${typeof body.error === 'string' ? body.error : 'no reason given'}` });
  }

  private async startExport(o: Json, scope: RequestScope): Promise<ExportStatus> {
    onlyKnown(o, '', [
      'connection',
      'time_range',
      'jobs',
      'components',
      'selector',
      'query',
      'step_seconds',
      'obfuscation',
      'job_components',
      'obfuscation_session',
      'batch_window_seconds',
    ]);
    const connection = parseConnection(o.connection, 'connection', scope);
    const { startMs, endMs } = parseRange(o.time_range, 'time_range');
    const input = parseSelection(o);
    const obfuscation = parseObfuscation(o.obfuscation, 'obfuscation');
    let jobComponents = parseJobComponents(o.job_components, 'job_components');
    let batchWindowMs: number | undefined;
    if (o.batch_window_seconds !== undefined && o.batch_window_seconds !== null && o.batch_window_seconds !== 'auto') {
      batchWindowMs = Math.round(
        numberAt(o.batch_window_seconds, 'batch_window_seconds', MIN_BATCH_WINDOW_SECONDS, MAX_BATCH_WINDOW_SECONDS, ' s (or "auto")') * 1000,
      );
    }
    const sessionId = optionalString(o.obfuscation_session, 'obfuscation_session', { max: 200 });
    const resolved = await this.resolveComponents(connection, input, startMs, endMs);
    jobComponents = jobComponents ?? resolved.jobComponents;
    if (sessionId !== undefined) {
      if (!obfuscation.enabled) throw bad('obfuscation_session', 'given while obfuscation is off');
      if (this.opts.sessions.get(sessionId) === undefined) throw bad('obfuscation_session', `no session ${JSON.stringify(sessionId)} (expired?): preview again`);
      const key = this.sessionKeys.get(sessionId);
      if (key !== undefined && key !== this.sessionKey(obfuscation, jobComponents)) {
        throw bad('obfuscation_session', 'the preview used other obfuscation settings or jobs: refresh the preview, then export');
      }
    }
    const request: ExportRequest = {
      connection,
      selection: resolved.selection,
      startMs,
      endMs,
      obfuscation,
      ...(batchWindowMs !== undefined ? { batchWindowMs } : {}),
      ...(jobComponents !== undefined ? { jobComponents } : {}),
      ...(sessionId !== undefined ? { obfuscationSession: sessionId } : {}),
    };
    let status: ExportStatus;
    try {
      status = this.opts.jobs.start(request);
    } catch (err) {
      throw new ApiError(409, `cannot start the export: ${(err as Error).message}`);
    }
    this.rememberJobSecrets(status.id, scope);
    this.log.info('export started', { job: status.id, start: iso(startMs), end: iso(endMs), obfuscated: obfuscation.enabled });
    return status;
  }

  private statusOut(s: ExportStatus): Json {
    const out = statusJson(s, this.opts.outputDir);
    const secrets = this.jobSecrets.get(s.id);
    if (secrets !== undefined && typeof out.error === 'string') out.error = redactSecrets(out.error, secrets);
    return out;
  }

  private rememberJobSecrets(id: string, scope: RequestScope): void {
    if (scope.secrets.length === 0) return;
    this.jobSecrets.set(id, [...new Set([...(this.jobSecrets.get(id) ?? []), ...scope.secrets])]);
    // jobs are kept 30 minutes; a wizard starts a handful
    if (this.jobSecrets.size > 1000) this.jobSecrets.delete(this.jobSecrets.keys().next().value!);
  }

  private jobIdOf(v: unknown, field: string): ExportStatus {
    const id = stringAt(v, field, { max: 200 });
    const s = this.opts.jobs.status(id);
    if (s === undefined) throw new ApiError(404, `no export job ${JSON.stringify(id)} (finished jobs are kept 30 minutes)`, field);
    return s;
  }

  private exportStatus(req: IncomingMessage, res: ServerResponse): void {
    const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id');
    if (id === null) throw bad('id', 'missing: /api/export/status?id=<job_id>');
    sendJson(res, 200, this.statusOut(this.jobIdOf(id, 'id')));
  }

  private async exportCancel(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const o = await this.body(req);
    onlyKnown(o, '', ['job_id']);
    const s = this.jobIdOf(o.job_id, 'job_id');
    if (s.state !== 'pending' && s.state !== 'running') throw new ApiError(409, `job ${s.id} is not running (${s.state})`, 'job_id');
    const after = this.opts.jobs.cancel(s.id) ?? s;
    sendJson(res, 200, this.statusOut(after));
  }

  private async exportResume(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const o = await this.body(req);
    onlyKnown(o, '', ['job_id', 'connection']);
    const s = this.jobIdOf(o.job_id, 'job_id');
    if (s.state === 'pending' || s.state === 'running' || s.state === 'completed') {
      throw new ApiError(409, `job ${s.id} is ${s.state}: only a failed, canceled or interrupted export resumes`, 'job_id');
    }
    const connection = o.connection === undefined || o.connection === null ? undefined : parseConnection(o.connection, 'connection', scope);
    if (s.needsCredentials && connection === undefined) {
      throw bad('connection', 'this export was interrupted by a restart and its credentials were not kept: give the connection again');
    }
    let after: ExportStatus;
    try {
      after = this.opts.jobs.resume(s.id, connection);
    } catch (err) {
      throw new ApiError(409, `cannot resume: ${(err as Error).message}`, 'job_id');
    }
    this.rememberJobSecrets(after.id, scope);
    sendJson(res, 202, this.statusOut(after));
  }

  private async download(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = new URL(req.url ?? '/', 'http://x').searchParams.get('path');
    if (raw === null) throw bad('path', 'missing: /api/download?path=<file in the output folder>');
    const real = await resolveDownload(this.opts.outputDir, raw);
    const fh = await open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      throw new ApiError(err.code === 'ENOENT' ? 404 : 403, `cannot open: ${err.code ?? err.message}`, 'path');
    });
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ApiError(400, 'is not a regular file', 'path');
      const name = basename(real).replace(/[^\w.-]/g, '_');
      res.statusCode = 200;
      res.setHeader('Content-Type', name.endsWith('.zip') ? 'application/zip' : 'application/octet-stream');
      res.setHeader('Content-Length', st.size);
      res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
      res.setHeader('Cache-Control', 'no-store');
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await pipeline(fh.createReadStream({ autoClose: false }), res);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  private async fsList(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const asked = new URL(req.url ?? '/', 'http://x').searchParams.get('path');
    if (asked !== null && asked.includes('\0')) throw bad('path', 'contains a NUL byte');
    const path = resolve(asked === null || asked === '' ? this.opts.outputDir : asked);
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (err) {
      throw fsError(err, path);
    }
    const listed = entries
      .map((e) => ({ name: e.name, path: join(path, e.name), is_dir: e.isDirectory() }))
      .sort((a, b) => (a.is_dir !== b.is_dir ? (a.is_dir ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    sendJson(res, 200, {
      path,
      parent: dirname(path) === path ? null : dirname(path),
      entries: listed.slice(0, MAX_FS_ENTRIES),
      truncated: listed.length > MAX_FS_ENTRIES,
    });
  }

  private async fsCheck(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const o = await this.body(req);
    onlyKnown(o, '', ['path']);
    const p = stringAt(o.path, 'path');
    if (p.includes('\0')) throw bad('path', 'contains a NUL byte');
    const path = resolve(p);
    const writable = (dir: string): Promise<boolean> => access(dir, fsConstants.W_OK | fsConstants.X_OK).then(() => true, () => false);
    try {
      const st = await stat(path);
      sendJson(res, 200, { path, exists: true, is_dir: st.isDirectory(), writable: st.isDirectory() && (await writable(path)), can_create: false });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, path);
      const parent = dirname(path);
      const canCreate = await stat(parent).then((st) => st.isDirectory() && writable(parent), () => false);
      sendJson(res, 200, { path, exists: false, is_dir: false, writable: false, can_create: canCreate });
    }
  }
}


function dropLabels(metric: Readonly<Record<string, string>>, drop: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metric)) if (!drop.includes(k)) out[k] = v;
  return out;
}

function fsError(err: unknown, path: string): ApiError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new ApiError(404, `${path} does not exist`, 'path');
  if (code === 'ENOTDIR') return new ApiError(400, `${path} is not a folder`, 'path');
  if (code === 'EACCES' || code === 'EPERM') return new ApiError(403, `${path}: permission denied`, 'path');
  return new ApiError(500, `${path}: ${(err as Error).message}`, 'path');
}

/** An import's status as the API answers it (snake_case, times in seconds). */
export function importStatusOut(id: string, s: ImportStatus): Json {
  const p = s.preflight;
  const a = p?.analysis;
  const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    import_id: id,
    stage: s.stage,
    bytes_done: s.bytesDone,
    bytes_total: s.bytesTotal ?? null,
    progress: s.bytesTotal ? Math.min(1, s.bytesDone / s.bytesTotal) : null,
    lines_done: s.linesDone,
    samples_imported: s.samplesSent,
    samples_total: s.samplesTotal ?? null,
    series_total: s.seriesTotal ?? null,
    chunks_done: s.chunksDone,
    pass: s.pass,
    passes: s.passes,
    retries: s.retries,
    resumed_from: s.resumedFrom,
    acknowledged_bytes: s.acknowledged,
    state_problem: s.stateProblem ?? null,
    analysis_reused: s.analysisReused,
    skipped_lines: s.skippedLines,
    eta_seconds: s.etaSeconds ?? null,
    last_error: s.lastError ?? null,
    error: s.error ?? null,
    stage_seconds: Object.fromEntries(Object.entries(s.stageMs).map(([k, v]) => [k, (v ?? 0) / 1000])),
    preflight:
      p === undefined || a === undefined
        ? null
        : {
            target: {
              write_url: p.target.writeUrl,
              protocol: p.target.protocol,
              flavour: p.target.flavour,
              version: p.target.version,
              tenant: p.target.tenant ?? null,
              retention_seconds: p.target.retentionMs === undefined ? null : p.target.retentionMs / 1000,
              retention_from: p.target.retentionFrom ?? null,
              max_labels: p.target.maxLabels ?? null,
              head_max_time: iso(p.target.headMaxMs),
              out_of_order_window_seconds: p.target.oooWindowMs === undefined ? null : p.target.oooWindowMs / 1000,
            },
            input: { kind: p.input.kind, name: p.input.shown, lines_bytes: p.input.linesSize ?? null, metadata: p.input.metadata ?? null },
            lines: a.lines,
            bad_lines: a.badLines,
            first_bad_lines: a.firstBad,
            series: a.series,
            samples: a.samples,
            metric_names: a.metricNames,
            start: iso(a.minMs),
            end: iso(a.maxMs),
            max_labels_per_series: a.maxLabelsPerSeries,
            series_over_label_limit: a.seriesOverLabelLimit,
            samples_too_old: a.samplesTooOld,
            samples_too_new: a.samplesTooNew,
            samples_inside: a.samplesInside,
            oldest_accepted: iso(p.oldestMs),
            newest_accepted: iso(p.newestMs),
            suggested_shift_seconds: p.suggestedShiftMs === undefined ? null : p.suggestedShiftMs / 1000,
            shifted_by_seconds: p.shiftedByMs === undefined ? null : p.shiftedByMs / 1000,
            ready: p.refusal === undefined,
            refusal: p.refusal ?? null,
            problems: p.problems,
            warnings: p.warnings,
          },
    verification:
      s.verification === undefined
        ? null
        : {
            ok: s.verification.ok,
            expected_series: s.verification.expectedSeries,
            found_series: s.verification.foundSeries,
            expected_samples: s.verification.expectedSamples,
            found_samples: s.verification.foundSamples,
            summary: s.verification.summary,
          },
  };
}

/** Registers the API on `server`. */
export function registerGatherApi(server: HttpServer, opts: GatherApiOptions): GatherApi {
  const api = new GatherApi(opts);
  api.register(server);
  return api;
}
