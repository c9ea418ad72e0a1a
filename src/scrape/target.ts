/**
 * From discovered target groups to scrape targets, following Prometheus' TargetsFromGroup and
 * PopulateLabels (Prometheus 3: no port is added to an address): the group's labels under the
 * target's own, the job's defaults (`job`, `__scrape_interval__`, `__scrape_timeout__`,
 * `__metrics_path__`, `__scheme__`, `__param_<name>`) where discovery set none, target
 * relabeling, then checks of what relabeling produced, `__meta_*` removed and `instance`
 * defaulted to the address. What comes out is either a target, a target dropped by
 * relabeling (kept for the pages), or an error naming the bad label.
 */

import { fnv1a32 } from '../model/hash.js';
import type { ScrapeConfig } from '../config/schema.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import type { TargetGroup } from '../discovery/index.js';
import { Labels, LabelsBuilder } from '../model/labels.js';
import type { Relabeler } from '../relabel/index.js';

export const ADDRESS = '__address__';
export const SCHEME = '__scheme__';
export const METRICS_PATH = '__metrics_path__';
export const SCRAPE_INTERVAL = '__scrape_interval__';
export const SCRAPE_TIMEOUT = '__scrape_timeout__';
export const PARAM_PREFIX = '__param_';
const META_PREFIX = '__meta_';
/** vmagent's per-target override of sample_limit. */
export const SAMPLE_LIMIT = '__sample_limit__';
/** vmagent's per-target override of series_limit. */
export const SERIES_LIMIT = '__series_limit__';

/** A target to scrape: everything a scrape loop needs, fixed for the loop's lifetime. */
export interface ScrapeTarget {
  /** Labels as discovered plus the job's defaults, before relabeling. */
  readonly discovered: Labels;
  /** All labels after relabeling, `__` ones included (they configure the scrape). */
  readonly internal: Labels;
  /** What every series of the target carries: no `__` labels. */
  readonly labels: Labels;
  readonly url: URL;
  /** The URL without credentials, for pages and errors. */
  readonly shownUrl: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** 0 = no limit. */
  readonly sampleLimit: number;
  /** Distinct series per 24h (vmagent's series_limit); 0 = no limit. */
  readonly seriesLimit: number;
  /** vmagent's scrape_align_interval and scrape_offset; 0 = unset (the hash sets the phase). */
  readonly alignMs: number;
  readonly offsetMs: number;
  /**
   * Identity across discovery updates and reloads: equal identities scrape the same thing
   * the same way, so the running loop can be kept.
   */
  readonly identity: string;
  /**
   * What the target's series are: its labels and URL. A target whose identity changed but
   * not this (a new interval, timeout or limit) is the same target scraped differently: its
   * loop hands the series over to the new one, so they do not go stale.
   */
  readonly seriesKey: string;
  /**
   * Stable per target, also across a change of interval or limits: the phase of its scrapes
   * within the interval (the hash modulo the interval, as in Prometheus).
   */
  readonly hash: number;
}

export type PopulateResult =
  | { readonly kind: 'target'; readonly target: ScrapeTarget }
  | { readonly kind: 'dropped'; readonly discovered: Labels }
  | { readonly kind: 'error'; readonly discovered: Labels; readonly error: string };

/** Builds every target of a group; the group's order is kept. */
export function targetsFromGroup(group: TargetGroup, cfg: ScrapeConfig, relabeler: TargetRelabeler): PopulateResult[] {
  const lb = new LabelsBuilder();
  return group.targets.map((t) => {
    lb.reset();
    for (const [n, v] of Object.entries(t)) lb.set(n, v);
    for (const [n, v] of Object.entries(group.labels)) if (!(n in t)) lb.set(n, v);
    return populate(lb, cfg, relabeler);
  });
}

/** Target relabeling: the job's rules, or vmagent's relabel_debug mode (relabel-debug.ts). */
export type TargetRelabeler = Pick<Relabeler, 'processBuilder'>;

function populate(lb: LabelsBuilder, cfg: ScrapeConfig, relabeler: TargetRelabeler): PopulateResult {
  const setDefault = (name: string, value: string): void => {
    if (!lb.get(name)) lb.set(name, value);
  };
  setDefault('job', cfg.job_name);
  setDefault(SCRAPE_INTERVAL, formatDuration(cfg.scrape_interval));
  setDefault(SCRAPE_TIMEOUT, formatDuration(cfg.scrape_timeout));
  setDefault(METRICS_PATH, cfg.metrics_path);
  setDefault(SCHEME, cfg.scheme);
  for (const [name, values] of Object.entries(cfg.params)) {
    if (values.length > 0) setDefault(PARAM_PREFIX + name, values[0]);
  }
  const discovered = lb.build();
  if (!relabeler.processBuilder(lb)) return { kind: 'dropped', discovered };
  const fail = (error: string): PopulateResult => ({ kind: 'error', discovered, error });

  const address = lb.get(ADDRESS);
  if (!address) return fail('no __address__ label after relabeling');
  const where = splitAddress(address);
  let intervalMs: number;
  let timeoutMs: number;
  try {
    intervalMs = parseDuration(lb.get(SCRAPE_INTERVAL) ?? '');
  } catch (err) {
    return fail(`error parsing scrape interval (__scrape_interval__): ${(err as Error).message}`);
  }
  try {
    timeoutMs = parseDuration(lb.get(SCRAPE_TIMEOUT) ?? '');
  } catch (err) {
    return fail(`error parsing scrape timeout (__scrape_timeout__): ${(err as Error).message}`);
  }
  if (intervalMs === 0) return fail('scrape interval cannot be 0');
  if (timeoutMs === 0) return fail('scrape timeout cannot be 0');
  if (timeoutMs > intervalMs) {
    return fail(
      `scrape timeout cannot be greater than scrape interval (${JSON.stringify(lb.get(SCRAPE_TIMEOUT))} > ${JSON.stringify(lb.get(SCRAPE_INTERVAL))})`,
    );
  }
  let sampleLimit = cfg.sample_limit ?? 0;
  const limitLabel = lb.get(SAMPLE_LIMIT);
  if (limitLabel !== undefined) {
    const n = Number(limitLabel);
    if (!Number.isSafeInteger(n) || n < 0) return fail(`__sample_limit__ ${JSON.stringify(limitLabel)} is not a whole number`);
    sampleLimit = n;
  }
  let seriesLimit = cfg.series_limit ?? 0;
  const seriesLabel = lb.get(SERIES_LIMIT);
  if (seriesLabel !== undefined && seriesLabel !== '') {
    const n = Number(seriesLabel);
    if (!Number.isSafeInteger(n) || n < 0) return fail(`__series_limit__ ${JSON.stringify(seriesLabel)} is not a whole number`);
    seriesLimit = n;
  }

  const metaNames: string[] = [];
  lb.forEach((name) => {
    if (name.startsWith(META_PREFIX)) metaNames.push(name);
  });
  for (const name of metaNames) lb.del(name);
  setDefault('instance', where.instance);
  const internal = lb.build();
  for (let i = 0; i < internal.size; i++) {
    if (internal.value(i).includes('\uFFFD')) {
      return fail(`invalid label value for ${JSON.stringify(internal.name(i))}: ${JSON.stringify(internal.value(i))}`);
    }
  }

  let url: URL;
  try {
    url = targetUrl(internal, cfg.params, where);
  } catch (err) {
    return fail(`cannot build the scrape URL: ${(err as Error).message}`);
  }
  const labels = publicLabels(internal);
  const shownUrl = redactedUrl(url);
  const alignMs = cfg.scrape_align_interval ?? 0;
  const offsetMs = cfg.scrape_offset ?? 0;
  const seriesKey = `${labels.key}\n${url.href}`;
  const identity = `${seriesKey}\n${intervalMs}\n${timeoutMs}\n${sampleLimit}\n${seriesLimit}\n${alignMs}\n${offsetMs}`;
  return {
    kind: 'target',
    target: {
      discovered,
      internal,
      labels,
      url,
      shownUrl,
      intervalMs,
      timeoutMs,
      sampleLimit,
      seriesLimit,
      alignMs,
      offsetMs,
      identity,
      seriesKey,
      hash: fnv1a32(seriesKey),
    },
  };
}

/**
 * What `__address__` says. Prometheus wants `host:port`; vmagent also takes a URL
 * (`http://host:port/path?query`, or `host:port/path`) whose scheme and path replace
 * `__scheme__` and `__metrics_path__`, with `instance` defaulting to its `host:port` — the
 * scheme's default port added, as vmagent does. A plain `host:port` keeps Prometheus 3's rule.
 */
export interface AddressParts {
  readonly host: string;
  readonly instance: string;
  readonly scheme?: string;
  /** Path and query from the address, when it had any. */
  readonly path?: string;
}

export function splitAddress(address: string): AddressParts {
  let rest = address;
  let scheme: string | undefined;
  for (const s of ['http', 'https']) {
    if (rest.startsWith(`${s}://`)) {
      scheme = s;
      rest = rest.slice(s.length + 3);
    }
  }
  const slash = rest.indexOf('/');
  const host = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash) : undefined;
  if (scheme === undefined && path === undefined) return { host, instance: host };
  return { host, instance: withPort(host, scheme === 'https' ? 443 : 80), scheme, path };
}

function withPort(host: string, port: number): string {
  if (host.startsWith('[')) return /\]:\d+$/.test(host) ? host : `${host}:${port}`;
  const colons = host.split(':').length - 1;
  if (colons === 1) return host;
  // more than one colon: a bare IPv6 address, bracketed as Go's net.JoinHostPort does
  return colons > 1 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The time of the first scrape after `now`: at the target's hashed phase of the interval, or,
 * with vmagent's `scrape_offset`, at that offset from multiples of the interval, or with
 * `scrape_align_interval`, at multiples of it — the interval then keeps the rhythm, as in
 * vmagent's scrapeWork.run (an offset makes the interval the alignment). `clusterSeed`: the
 * cluster name's hash (0: none).
 */
export function scrapePhase(target: ScrapeTarget, now: number, clusterSeed = 0): number {
  const interval = target.intervalMs;
  const align = target.offsetMs > 0 ? interval : target.alignMs;
  // another cluster scraping the same targets (cluster.name) scrapes each at another moment,
  // so the storage's deduplication keeps one cluster's samples rather than a mix (vmagent's reason)
  if (align <= 0) return (clusterSeed === 0 ? target.hash : fnv1a32(String(clusterSeed), target.hash)) % interval;
  const sleep = (align - (now % align) + target.offsetMs) % interval;
  return (now + sleep) % interval;
}

/** Prometheus' Target.URL: the job's params, each overridden (first value) by a `__param_` label. */
function targetUrl(internal: Labels, params: Readonly<Record<string, readonly string[]>>, where: AddressParts): URL {
  const merged = new Map<string, string[]>();
  for (const [k, v] of Object.entries(params)) merged.set(k, [...v]);
  for (let i = 0; i < internal.size; i++) {
    const name = internal.name(i);
    if (!name.startsWith(PARAM_PREFIX)) continue;
    const key = name.slice(PARAM_PREFIX.length);
    const values = merged.get(key);
    if (values && values.length > 0) values[0] = internal.value(i);
    else merged.set(key, [internal.value(i)]);
  }
  const scheme = where.scheme ?? internal.get(SCHEME) ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') throw new Error(`unsupported __scheme__ ${JSON.stringify(scheme)}`);
  const query = new URLSearchParams();
  // Go's url.Values.Encode sorts by key; so does Prometheus' scrape URL
  for (const key of [...merged.keys()].sort()) for (const v of merged.get(key)!) query.append(key, v);
  const encoded = query.toString();
  if (where.path !== undefined) {
    // vmagent: the address' own query stays as written, the params follow it
    const url = new URL(`${scheme}://${where.host}${where.path}`);
    if (encoded !== '') url.search = url.search === '' ? encoded : `${url.search.slice(1)}&${encoded}`;
    return url;
  }
  let path = internal.get(METRICS_PATH) ?? '/metrics';
  if (!path.startsWith('/')) path = '/' + path;
  const url = new URL(`${scheme}://${where.host}`);
  url.pathname = path;
  url.search = encoded;
  return url;
}

function publicLabels(internal: Labels): Labels {
  const out: string[] = [];
  for (let i = 0; i < internal.size; i++) {
    const name = internal.name(i);
    if (!name.startsWith('__')) out.push(name, internal.value(i));
  }
  return Labels.fromSortedFlat(out);
}

function redactedUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const u = new URL(url.href);
  u.username = u.password = '';
  return u.href;
}
