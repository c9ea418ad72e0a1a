/**
 * Pushed apps: what apps sent over sockets or the Pushgateway-style HTTP API, held until they
 * send again, are deleted, or expire. Each app is identified by its name (socket apps) or its
 * grouping key (HTTP pushes); a new payload replaces the app's families whole (PUT, sockets) or
 * family by family (POST). Unlike the Pushgateway, apps may expire: every app has a TTL (the
 * listener's or path's, or the push's own; 0 keeps it until it is deleted, as the Pushgateway
 * does), so a dead app stops being exposed.
 *
 * Every push is checked against what is stored before it is taken, as the Pushgateway checks
 * it: no timestamps, no series twice, no family whose TYPE differs from the same family
 * in another app (or in a configured source or Tributary's own metrics), no histogram or
 * summary whose `_bucket`, `_sum` or `_count` names another app's family, no series identical
 * to another app's. A push
 * that fails is refused whole — what was stored before stays, and the sender is told — rather
 * than taken and then dropped from the page by the merger. Groups pushed over HTTP carry
 * `push_time_seconds` and `push_failure_time_seconds` as the Pushgateway's do; a refused push
 * sets the latter, creating the group if it is new, as the Pushgateway does.
 */

import type { MetricFamily, MetricType } from '../../model/family.js';
import { familiesOf, frameFromFamilies } from '../../model/frame.js';
import { Labels } from '../../model/labels.js';
import { nextVersion, type SourceSnapshot } from '../source.js';
import { completedForPage } from './pushgateway-families.js';

export type PushProtocol = 'pushgateway' | 'json' | 'capnp';

export interface PushedApp {
  /** Identity: the socket app name, or the rendered grouping key (`job="a",instance="b"`). */
  readonly key: string;
  /** Value of the source label for this app's series. */
  readonly name: string;
  /** Labels added to every series (the Pushgateway grouping key); empty for socket apps. */
  readonly groupingLabels: Readonly<Record<string, string>>;
  readonly protocol: PushProtocol;
  /** Listener socket path or address, plus the peer when known. */
  readonly origin: string;
  /** The families as pushed (grouping labels applied), without the push-time series. */
  readonly families: readonly MetricFamily[];
  /** When each family was last written, ms since the epoch. */
  readonly familyTimes: ReadonlyMap<string, number>;
  /** The last successful change, ms since the epoch; 0 = never (a group a refused push created). */
  readonly pushTimeMs: number;
  /** The last refused change, ms since the epoch; 0 = never. */
  readonly failureTimeMs: number;
  /** What the page shows: the families, plus the push-time series for HTTP groups. */
  readonly snapshot: SourceSnapshot;
  /** ms since the epoch of the last change (push, or refusal that created the group): the TTL counts from here. */
  readonly updatedMs: number;
  /** TTL in ms; 0 = never expires. */
  readonly ttlMs: number;
  /** The last push that was refused, kept for /apps; the payload before it stays exposed. */
  readonly lastError?: string;
  readonly lastErrorMs?: number;
  /** Pushed where `remote_write: true`: its samples also go into the pipeline (push-pipeline.ts). */
  readonly remoteWrite?: boolean;
}

export interface PushRequest {
  key: string;
  name: string;
  groupingLabels?: Readonly<Record<string, string>>;
  protocol: PushProtocol;
  origin: string;
  families: readonly MetricFamily[];
  droppedLines?: number;
  ttlMs: number;
  /** 'replace': the whole app (PUT, sockets); 'merge': only the families named in the push (POST). */
  mode: 'replace' | 'merge';
  /** The listener's or path's `remote_write` switch. */
  remoteWrite?: boolean;
}

export interface AppStoreLimits {
  /** Distinct apps held at once; a push for a new app beyond it is refused. */
  maxApps: number;
  /** Series across all apps; a push that would exceed it is refused. */
  maxSeries: number;
}

export const DEFAULT_APP_STORE_LIMITS: AppStoreLimits = { maxApps: 10_000, maxSeries: 5_000_000 };

/** A push over a store limit (HTTP 429). */
export class PushLimitError extends Error {}

/** A push whose metrics are invalid or clash with what is stored (HTTP 400). */
export class PushInvalidError extends Error {}

/** What the Pushgateway says before every validation error; clients and their users know it. */
export const INVALID_PREFIX = 'pushed metrics are invalid or inconsistent with existing metrics: ';

export interface AppStoreOptions {
  /** Why an app may not take this name (a configured source's, Tributary's own), or undefined. */
  reservedName?: (name: string) => string | undefined;
  /** A family the page shows from elsewhere (a configured source, Tributary's own), which pushes must not contradict. */
  reservedFamily?: (name: string) => { type: MetricType; owner: string } | undefined;
}

export const PUSH_TIME = 'push_time_seconds';
export const PUSH_FAILURE_TIME = 'push_failure_time_seconds';
const PUSH_TIME_HELP = 'Last Unix time when changing this group in the Pushgateway succeeded.';
const PUSH_FAILURE_TIME_HELP = 'Last Unix time when changing this group in the Pushgateway failed.';

/** The suffixes a histogram's or summary's samples take, which no other family may be named with. */
const COMPOSITE_SUFFIXES: Partial<Record<MetricType, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  summary: ['_sum', '_count'],
};

export class AppStore {
  private readonly apps = new Map<string, PushedApp>();
  private seriesTotal = 0;
  private readonly listeners = new Set<(key: string) => void>();
  /** Family name → type → apps that have it; the consistency check of every push reads it. */
  private readonly familyTypes = new Map<string, Map<MetricType, number>>();
  /** Label sets of the push-time series of each group, kept so the group's layout stays the same. */
  private readonly timeLabels = new Map<string, [Labels, Labels]>();

  constructor(
    readonly limits: AppStoreLimits = DEFAULT_APP_STORE_LIMITS,
    private readonly now: () => number = Date.now,
    private readonly options: AppStoreOptions = {},
  ) {}

  /**
   * Stores an accepted push. Throws PushInvalidError (recorded on the app: for HTTP groups as
   * its failure time, creating the group if it is new) or PushLimitError.
   */
  push(req: PushRequest): PushedApp {
    const prev = this.apps.get(req.key);
    const reserved = this.options.reservedName?.(req.name);
    if (reserved !== undefined) throw new PushInvalidError(reserved);
    let families = [...req.families];
    if (req.mode === 'merge' && prev) {
      const replaced = new Set(req.families.map((f) => f.name));
      families = [...prev.families.filter((f) => !replaced.has(f.name)), ...req.families];
    }
    if (req.protocol === 'pushgateway') {
      // The push-time series are the gateway's own: a pushed family of that name is replaced.
      families = families.filter((f) => f.name !== PUSH_TIME && f.name !== PUSH_FAILURE_TIME);
    }
    const problem = this.check(req, families);
    if (problem !== undefined) {
      this.refused(req, problem);
      throw new PushInvalidError(INVALID_PREFIX + problem);
    }
    const over = this.overLimit(prev, countSeries(families));
    if (over !== undefined) {
      this.reject(req.key, over);
      throw new PushLimitError(over);
    }
    const at = this.now();
    const familyTimes = new Map(req.mode === 'merge' && prev ? prev.familyTimes : []);
    for (const f of req.families) familyTimes.set(f.name, at);
    for (const name of familyTimes.keys()) if (!families.some((f) => f.name === name)) familyTimes.delete(name);
    const app = this.build(
      {
        key: req.key,
        name: req.name,
        groupingLabels: req.groupingLabels ?? {},
        protocol: req.protocol,
        origin: req.origin,
        families,
        familyTimes,
        // never before a refusal it follows (which may have been put a millisecond ahead, below)
        pushTimeMs: prev !== undefined && at < prev.failureTimeMs ? prev.failureTimeMs : at,
        failureTimeMs: prev?.failureTimeMs ?? 0,
        updatedMs: at,
        ttlMs: req.ttlMs,
        ...(req.remoteWrite ? { remoteWrite: true } : {}),
      },
      prev,
      req.droppedLines ?? 0,
    );
    this.put(app, prev);
    return app;
  }

  /** Records a refused push for /apps without touching the app's data. */
  reject(key: string, error: string): void {
    const prev = this.apps.get(key);
    if (!prev) return;
    this.apps.set(key, { ...prev, lastError: error, lastErrorMs: this.now() });
  }

  delete(key: string): boolean {
    const prev = this.apps.get(key);
    if (!prev) return false;
    this.remove(prev);
    this.changed(key);
    return true;
  }

  /** Deletes every app (the Pushgateway's wipe); returns how many there were. */
  wipe(): number {
    const all = [...this.apps.values()];
    for (const app of all) this.remove(app);
    for (const app of all) this.changed(app.key);
    return all.length;
  }

  get(key: string): PushedApp | undefined {
    return this.apps.get(key);
  }

  /** Live apps, sorted by key; expired ones are removed first. */
  list(): PushedApp[] {
    this.expire();
    return [...this.apps.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  get size(): number {
    return this.apps.size;
  }

  get series(): number {
    return this.seriesTotal;
  }

  /** Removes apps whose TTL has passed; returns how many. */
  expire(): number {
    const now = this.now();
    const gone: PushedApp[] = [];
    for (const app of this.apps.values()) {
      if (app.ttlMs > 0 && now - app.updatedMs >= app.ttlMs) gone.push(app);
    }
    for (const app of gone) this.remove(app);
    for (const app of gone) this.changed(app.key);
    return gone.length;
  }

  /**
   * Takes back an app saved before a restart, as it was (times included), without the checks
   * of a push: they held when it was stored. Refused only when a limit is full.
   */
  restore(saved: Omit<PushedApp, 'snapshot'>): PushedApp {
    const prev = this.apps.get(saved.key);
    const over = this.overLimit(prev, countSeries(saved.families));
    if (over !== undefined) throw new PushLimitError(over);
    const app = this.build(saved, prev, 0);
    this.put(app, prev);
    return app;
  }

  /** `fn(key)` after every change of an app (push, refusal that changed it, delete, expiry). */
  onChange(fn: (key: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Why the push cannot be taken, or undefined. */
  private check(req: PushRequest, families: readonly MetricFamily[]): string | undefined {
    const seen = new Set<string>();
    const names = new Set<string>();
    for (const f of families) {
      for (const m of f.metrics) {
        // One rule for every protocol: a pushed sample is exposed "now" for as long as it is
        // held; a timestamp would make Prometheus refuse it as too old once it ages.
        if (m.timestamp !== undefined) return 'pushed metrics must not have timestamps';
        if (seen.has(m.labels.key)) return `series ${m.labels.toString()} is pushed more than once`;
        seen.add(m.labels.key);
      }
      if (names.has(f.name)) return `family ${JSON.stringify(f.name)} is pushed more than once`;
      names.add(f.name);
    }
    for (const f of families) {
      const shown = this.options.reservedFamily?.(f.name);
      if (shown !== undefined && shown.type !== f.type) {
        return `family ${JSON.stringify(f.name)} is ${typeWord(f.type)} here but ${typeWord(shown.type)} in ${shown.owner}`;
      }
      const other = this.otherTypes(f.name, req.key);
      if (other !== undefined && other !== f.type) {
        return `family ${JSON.stringify(f.name)} is ${typeWord(f.type)} here but ${typeWord(other)} in ${this.holderOf(f.name, other, req.key)}`;
      }
      for (const suffix of COMPOSITE_SUFFIXES[f.type] ?? []) {
        const clash = this.otherTypes(f.name + suffix, req.key);
        if (clash !== undefined) return `${typeWord(f.type)} ${JSON.stringify(f.name)} collides with family ${JSON.stringify(f.name + suffix)} in ${this.holderOf(f.name + suffix, clash, req.key)}`;
      }
      for (const [type, suffixes] of Object.entries(COMPOSITE_SUFFIXES) as [MetricType, readonly string[]][]) {
        for (const suffix of suffixes) {
          if (!f.name.endsWith(suffix)) continue;
          const base = f.name.slice(0, -suffix.length);
          if (this.otherTypes(base, req.key) === type) {
            return `family ${JSON.stringify(f.name)} collides with ${typeWord(type)} ${JSON.stringify(base)} in ${this.holderOf(base, type, req.key)}`;
          }
        }
      }
    }
    return this.overlap(req, seen);
  }

  /**
   * A series identical to one of another app's. Only apps exposed under the same source label
   * value, whose grouping labels do not contradict this push's, can hold one, so only those
   * are compared.
   */
  private overlap(req: PushRequest, keys: ReadonlySet<string>): string | undefined {
    const mine = req.groupingLabels ?? {};
    for (const app of this.apps.values()) {
      if (app.key === req.key || app.name !== req.name) continue;
      if (!compatible(mine, app.groupingLabels)) continue;
      for (const f of app.families) {
        for (const m of f.metrics) {
          if (keys.has(m.labels.key)) return `series ${m.labels.toString()} is already pushed in ${describeApp(app)}`;
        }
      }
    }
    return undefined;
  }

  /** The type other apps give `name` (they agree: every push was checked). */
  private otherTypes(name: string, exceptKey: string): MetricType | undefined {
    const types = this.familyTypes.get(name);
    if (types === undefined) return undefined;
    const self = this.apps.get(exceptKey);
    for (const [type, count] of types) {
      const own = self?.families.some((f) => f.name === name && f.type === type) ? 1 : 0;
      if (count - own > 0) return type;
    }
    return undefined;
  }

  /** Which other app has family `name` of `type`, for the message (the error path only). */
  private holderOf(name: string, type: MetricType, exceptKey: string): string {
    for (const app of this.apps.values()) {
      if (app.key !== exceptKey && app.families.some((f) => f.name === name && f.type === type)) return describeApp(app);
    }
    return 'another app';
  }

  /**
   * Records a push refused for its metrics (here or by the body's reader): the failure time of
   * an HTTP group (creating it), the error for /apps. `problem` comes without INVALID_PREFIX.
   */
  refused(req: Omit<PushRequest, 'families' | 'mode'>, problem: string): void {
    const prev = this.apps.get(req.key);
    const at = this.now();
    const error = INVALID_PREFIX + problem;
    const creatable = !prev && this.apps.size < this.limits.maxApps && this.options.reservedName?.(req.name) === undefined;
    if (req.protocol !== 'pushgateway' || (!prev && !creatable)) {
      if (prev) this.apps.set(req.key, { ...prev, lastError: error, lastErrorMs: at });
      return;
    }
    const app = this.build(
      {
        key: req.key,
        name: req.name,
        groupingLabels: req.groupingLabels ?? {},
        protocol: req.protocol,
        origin: prev?.origin ?? req.origin,
        families: prev?.families ?? [],
        familyTimes: prev?.familyTimes ?? new Map(),
        pushTimeMs: prev?.pushTimeMs ?? 0,
        // after a push in the same millisecond, still later than it: last_push_successful is
        // read off the order of the two times, as the Pushgateway reads its nanosecond ones
        failureTimeMs: prev !== undefined && at <= prev.pushTimeMs ? prev.pushTimeMs + 1 : at,
        updatedMs: prev?.updatedMs ?? at,
        ttlMs: prev?.ttlMs ?? req.ttlMs,
        ...(prev?.remoteWrite ? { remoteWrite: true } : {}),
        lastError: error,
        lastErrorMs: at,
      },
      prev,
      prev?.snapshot.droppedLines ?? 0,
    );
    this.put(app, prev);
  }

  /** Which limit storing `series` series in place of `prev` would pass, or undefined. */
  private overLimit(prev: PushedApp | undefined, series: number): string | undefined {
    if (!prev && this.apps.size >= this.limits.maxApps) return `too many apps: the limit is ${this.limits.maxApps}`;
    if (this.seriesTotal - (prev ? seriesOf(prev) : 0) + series > this.limits.maxSeries) {
      return `too many series: the limit is ${this.limits.maxSeries} across all apps`;
    }
    return undefined;
  }

  /** The app with its snapshot: families (and push times), framed against the previous layout. */
  private build(a: Omit<PushedApp, 'snapshot'>, prev: PushedApp | undefined, droppedLines: number): PushedApp {
    const shown = a.protocol === 'pushgateway' ? [...completedForPage(a.families), ...this.timeFamilies(a)] : a.families;
    // An app that pushes the same series again keeps its layout: only values are rendered anew.
    const frame = frameFromFamilies(shown, prev?.snapshot.frame.layout);
    return {
      ...a,
      snapshot: {
        frame,
        version: nextVersion(),
        ok: a.failureTimeMs <= a.pushTimeMs,
        droppedLines,
        durationSeconds: 0,
        lastSuccessMs: a.pushTimeMs,
        ...(droppedLines > 0 ? { error: `${droppedLines} bad lines dropped` } : a.lastError !== undefined ? { error: a.lastError } : {}),
      },
    };
  }

  private timeFamilies(a: Omit<PushedApp, 'snapshot'>): MetricFamily[] {
    let labels = this.timeLabels.get(a.key);
    if (labels === undefined) {
      const grouping = Object.entries(a.groupingLabels);
      labels = [Labels.fromPairs([['__name__', PUSH_TIME], ...grouping]), Labels.fromPairs([['__name__', PUSH_FAILURE_TIME], ...grouping])];
      this.timeLabels.set(a.key, labels);
    }
    return [
      { name: PUSH_FAILURE_TIME, type: 'gauge', help: PUSH_FAILURE_TIME_HELP, metrics: [{ labels: labels[1], value: a.failureTimeMs / 1000 }] },
      { name: PUSH_TIME, type: 'gauge', help: PUSH_TIME_HELP, metrics: [{ labels: labels[0], value: a.pushTimeMs / 1000 }] },
    ];
  }

  private put(app: PushedApp, prev: PushedApp | undefined): void {
    if (prev) this.unindex(prev);
    this.apps.set(app.key, app);
    this.index(app);
    this.seriesTotal += seriesOf(app) - (prev ? seriesOf(prev) : 0);
    this.changed(app.key);
  }

  private remove(app: PushedApp): void {
    this.apps.delete(app.key);
    this.unindex(app);
    this.timeLabels.delete(app.key);
    this.seriesTotal -= seriesOf(app);
  }

  private index(app: PushedApp): void {
    for (const f of app.families) {
      let types = this.familyTypes.get(f.name);
      if (types === undefined) this.familyTypes.set(f.name, (types = new Map()));
      types.set(f.type, (types.get(f.type) ?? 0) + 1);
    }
  }

  private unindex(app: PushedApp): void {
    for (const f of app.families) {
      const types = this.familyTypes.get(f.name);
      if (types === undefined) continue;
      const n = (types.get(f.type) ?? 0) - 1;
      if (n > 0) types.set(f.type, n);
      else types.delete(f.type);
      if (types.size === 0) this.familyTypes.delete(f.name);
    }
  }

  private changed(key: string): void {
    for (const fn of this.listeners) fn(key);
  }
}

/** Series an app holds, as the limits count them (the push-time series are not the pusher's). */
function seriesOf(app: PushedApp): number {
  return countSeries(app.families);
}

/** Grouping labels that can meet on one series: none has another value in the other set. */
function compatible(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(a)) {
    const w = b[k];
    if (w !== undefined && w !== '' && v !== '' && w !== v) return false;
  }
  return true;
}

function describeApp(app: PushedApp): string {
  return app.protocol === 'pushgateway' ? `group {${app.key}}` : `app ${JSON.stringify(app.key)}`;
}

function typeWord(type: MetricType): string {
  return type === 'unknown' ? 'untyped' : type;
}

/** The families of an app as materialized objects, push-time series included (APIs, tests). */
export function shownFamilies(app: PushedApp): MetricFamily[] {
  return familiesOf(app.snapshot.frame);
}

export function countSeries(families: readonly MetricFamily[]): number {
  let n = 0;
  for (const f of families) n += f.metrics.length;
  return n;
}
