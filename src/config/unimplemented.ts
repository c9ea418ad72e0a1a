/**
 * Keys the schemas accept, so that a prometheus.yml or vmagent configuration loads unchanged,
 * but that Tributary does not act on (or acts on only for some values). Each is a warning at
 * load and in `check-config`, naming the key and what is not done: a key is never ignored in
 * silence. The table is matched against what the file says (the YAML as written, after it
 * validated), so a key is reported where it is written and a default never is.
 *
 * The other warnings are in schema.ts' `configWarnings` (whole sections, service discovery
 * kinds, remote-write authentication and protocol); a key Tributary starts to implement leaves
 * this table in the same change.
 */

import type { KeyPath } from './errors.js';
import { parseBool } from './fields.js';
import type { SchemaWarning } from './schema.js';

/** A key path where `*` stands for any index of a list (or any key of a mapping). */
type Pattern = readonly string[];

interface UnimplementedKey {
  readonly path: Pattern;
  readonly message: string;
  /** Only values that ask for what is not done; absent: any value. */
  readonly when?: (value: unknown) => boolean;
}

const isTrue = (v: unknown) => typeof v === 'string' && safe(() => parseBool(v));
const isFalse = (v: unknown) => typeof v === 'string' && safe(() => !parseBool(v));
const nonZero = (v: unknown) => typeof v === 'string' && !/^[-+]?0*(?:\.0*)?$/.test(v);
const other = (...fine: string[]) => (v: unknown) => typeof v === 'string' && v !== '' && !fine.includes(v);
const listing = (item: string) => (v: unknown) => Array.isArray(v) && v.includes(item);

function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

const NATIVE = 'native histograms are not scraped yet (classic histograms are); ignored';
const ESCAPING =
  'not applied: Tributary asks targets for UTF-8 names (escaping=allow-utf-8) and sends names as scraped; ignored';
const VALIDATION =
  'legacy is checked in the configuration only: scraped metric and label names are neither checked nor escaped';
const FAILURE_LOG = 'scrape failures are not written to a file (see /targets and the log); ignored';
const PROTO = 'the protobuf scrape format is not supported yet: text formats are asked for instead';
const SECRET_REF = 'secret references need a secret manager Tributary does not have; ignored (use the inline or _file form)';

/** Keys of every HTTP client (scrapes, HTTP service discovery, remote write). */
const HTTP_CLIENT_KEYS: readonly UnimplementedKey[] = [
  { path: ['basic_auth', 'username_ref'], message: SECRET_REF },
  { path: ['basic_auth', 'password_ref'], message: SECRET_REF },
  { path: ['authorization', 'credentials_ref'], message: SECRET_REF },
  { path: ['tls_config', 'ca_ref'], message: SECRET_REF },
  { path: ['tls_config', 'cert_ref'], message: SECRET_REF },
  { path: ['tls_config', 'key_ref'], message: SECRET_REF },
  { path: ['no_proxy'], message: 'not supported yet: proxy_url is used for every host; ignored' },
  {
    path: ['proxy_from_environment'],
    message: 'not supported yet: HTTP_PROXY, HTTPS_PROXY and NO_PROXY are not read; requests go direct',
    when: isTrue,
  },
];

const HTTP_CLIENTS: readonly Pattern[] = [
  ['scrape_configs', '*'],
  ['scrape_configs', '*', 'http_sd_configs', '*'],
  ['scrape_configs', '*', 'consul_sd_configs', '*'],
  ['scrape_configs', '*', 'kubernetes_sd_configs', '*'],
  ['remote_write', '*'],
];

/** The keys per scrape job, also settable in `global`. */
const SCRAPE_KEYS: readonly UnimplementedKey[] = [
  { path: ['scrape_native_histograms'], message: NATIVE, when: isTrue },
  { path: ['convert_classic_histograms_to_nhcb'], message: 'classic histograms are not converted to native ones; ignored', when: isTrue },
  { path: ['scrape_failure_log_file'], message: FAILURE_LOG, when: (v) => v !== '' && v !== undefined },
  { path: ['metric_name_validation_scheme'], message: VALIDATION, when: (v) => v === 'legacy' },
  { path: ['metric_name_escaping_scheme'], message: ESCAPING, when: other('allow-utf-8') },
  { path: ['scrape_protocols'], message: PROTO, when: listing('PrometheusProto') },
];

const WINDOWS = { message: 'aggregation windows are not supported; samples go to the interval they arrive in (as with enable_windows: false)', when: isTrue };

/** The keys of a vmagent stream aggregation file (a list of rules). */
export const STREAM_AGGR_FILE_KEYS: readonly UnimplementedKey[] = [{ path: ['*', 'enable_windows'], ...WINDOWS }];

export const UNIMPLEMENTED_KEYS: readonly UnimplementedKey[] = [
  { path: ['stream_aggr', 'rules', '*', 'enable_windows'], ...WINDOWS },
  { path: ['remote_write', '*', 'stream_aggr', 'rules', '*', 'enable_windows'], ...WINDOWS },
  { path: ['global', 'query_log_file'], message: 'Tributary serves no queries; ignored', when: (v) => v !== '' },
  { path: ['global', 'evaluation_interval'], message: 'Tributary evaluates no rules; ignored' },
  { path: ['global', 'rule_query_offset'], message: 'Tributary evaluates no rules; ignored' },
  ...SCRAPE_KEYS.map((k) => ({ ...k, path: ['global', ...k.path] })),
  ...SCRAPE_KEYS.map((k) => ({ ...k, path: ['scrape_configs', '*', ...k.path] })),
  { path: ['scrape_configs', '*', 'native_histogram_bucket_limit'], message: NATIVE, when: nonZero },
  { path: ['scrape_configs', '*', 'native_histogram_min_bucket_factor'], message: NATIVE, when: nonZero },
  ...HTTP_CLIENTS.flatMap((at) => HTTP_CLIENT_KEYS.map((k) => ({ ...k, path: [...at, ...k.path] }))),
  { path: ['remote_write', '*', 'round_robin_dns'], message: 'not supported yet: the first address DNS returns is used; ignored', when: isTrue },
  {
    path: ['remote_write', '*', 'queue_config', 'capacity'],
    message: 'not used: samples wait in a disk queue bounded by max_disk_usage; ignored',
  },
  {
    path: ['remote_write', '*', 'queue_config', 'min_shards'],
    message: 'not used: Tributary sends with a fixed number of senders (queue_config.senders); ignored',
  },
  {
    path: ['remote_write', '*', 'queue_config', 'max_shards'],
    message: 'not used: Tributary sends with a fixed number of senders (queue_config.senders); ignored',
  },
  {
    path: ['remote_write', '*', 'queue_config', 'retry_on_http_429'],
    message: '429 answers are always retried, as in later Prometheus versions; false is ignored',
    when: isFalse,
  },
];

/** The warnings for the keys of `UNIMPLEMENTED_KEYS` that `data` (a validated document) writes. */
export function unimplementedKeyWarnings(data: unknown, keys: readonly UnimplementedKey[] = UNIMPLEMENTED_KEYS): SchemaWarning[] {
  const warnings: SchemaWarning[] = [];
  for (const key of keys) {
    for (const [path, value] of matches(data, key.path, [])) {
      if (value === undefined || value === null) continue;
      if (key.when && !key.when(value)) continue;
      warnings.push({ path, message: key.message });
    }
  }
  return warnings;
}

function matches(data: unknown, pattern: Pattern, at: KeyPath): [KeyPath, unknown][] {
  if (pattern.length === 0) return [[at, data]];
  if (data === null || typeof data !== 'object') return [];
  const [head, ...rest] = pattern;
  if (head === '*') {
    const entries: [string | number, unknown][] = Array.isArray(data) ? data.map((v, i) => [i, v]) : Object.entries(data);
    return entries.flatMap(([k, v]) => matches(v, rest, [...at, k]));
  }
  if (Array.isArray(data) || !Object.hasOwn(data, head)) return [];
  return matches((data as Record<string, unknown>)[head], rest, [...at, head]);
}
