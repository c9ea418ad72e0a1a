/**
 * Gather's obfuscation: the map from a customer's identifying label values to stand-ins
 * (`777.777.c.d` hosts, `<component>-job-<n>` jobs, `<label>-<n>` values) and its use on export
 * lines as bytes. One `Obfuscator` per export, its map carried from the preview (a session of
 * `ObfuscationSessions`) through the export and every resume (its `state()` lives in the job's
 * staging state, never in the bundle), so one original always has one stand-in.
 *
 * Beyond vmgather: a job of unknown component is `unknown-job-<n>` (never its name), and every
 * other label value equal to an original instance, host, job or chosen label value is replaced
 * too (`exported_instance`, `host`, `scrape_job`, ...): the bundle holds none of the originals
 * that the rules cover. `__name__` is never rewritten.
 */

import { randomUUID } from 'node:crypto';
import type { ObfuscationConfig, Selection, Source } from './types.js';

/** What an obfuscator has handed out, as plain JSON (the job's staging state). */
export interface ObfuscatorState {
  /** host (without port, IPv6 without brackets) → `777.777.c.d`, in the order they were met. */
  readonly hosts: Record<string, string>;
  readonly jobs: Record<string, string>;
  /** component → jobs named so far. */
  readonly jobCounters: Record<string, number>;
  /** label → original → stand-in. */
  readonly labels: Record<string, Record<string, string>>;
  /** Every original met (instance, host, job, chosen value) → the stand-in other labels carrying it get. */
  readonly values: Record<string, string>;
}

/** Rewritten `metric` objects kept per raw bytes; beyond, the cache starts over (a lookup miss costs one parse). */
const MAX_CACHED = 200_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

/** Where the `metric` object of an export line is: `[start, end)` covers `{...}`; undefined: not an export line. */
export function metricSpan(raw: Buffer): { start: number; end: number } | undefined {
  // Export lines start `{"metric":{` (VictoriaMetrics and source.ts write them so); others go the slow way.
  let i = raw.indexOf('"metric"');
  if (i < 0) return undefined;
  i += 8;
  while (i < raw.length && raw[i] !== LBRACE) {
    const c = raw[i];
    if (c !== 0x3a && c !== 0x20 && c !== 0x09) return undefined;
    i++;
  }
  if (i >= raw.length) return undefined;
  const start = i;
  i++;
  let inString = false;
  for (; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === RBRACE) return { start, end: i + 1 };
    else if (c === LBRACE) return undefined; // label values are strings; a nested object is not an export line
  }
  return undefined;
}

/** Splits `instance` into host and port: `h:9100`, `[::1]:9100`, `::1` (bare IPv6: all host), `h`. */
export function splitInstance(v: string): { host: string; port: string | undefined } {
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    if (close > 0) {
      const rest = v.slice(close + 1);
      return { host: v.slice(1, close), port: /^:\d+$/.test(rest) ? rest.slice(1) : undefined };
    }
  }
  const colon = v.lastIndexOf(':');
  if (colon > 0 && v.indexOf(':') === colon && /^\d+$/.test(v.slice(colon + 1))) return { host: v.slice(0, colon), port: v.slice(colon + 1) };
  return { host: v, port: undefined };
}

export class Obfuscator {
  private readonly hosts = new Map<string, string>();
  private readonly jobs = new Map<string, string>();
  private readonly jobCounters = new Map<string, number>();
  private readonly labelMaps = new Map<string, Map<string, string>>();
  /** Any original value (instance as written, host, job, chosen label value) → its stand-in. */
  private readonly anyValue = new Map<string, string>();
  private readonly chosen: ReadonlySet<string>;
  private readonly drop: ReadonlySet<string>;
  private readonly cache = new Map<string, Buffer>();
  private readonly jobComponents: Readonly<Record<string, string>>;

  constructor(
    readonly cfg: ObfuscationConfig,
    jobComponents?: Readonly<Record<string, string>>,
    state?: ObfuscatorState,
  ) {
    this.jobComponents = jobComponents ?? {};
    this.drop = new Set(cfg.drop);
    // `--obfuscate instance` or `job` given as a label name means the rule of that name
    this.chosen = new Set(cfg.labels.filter((l) => l !== '__name__' && !(l === 'instance' && cfg.instance) && !(l === 'job' && cfg.job)));
    if (state) {
      for (const [h, o] of Object.entries(state.hosts)) this.hosts.set(h, o);
      for (const [j, o] of Object.entries(state.jobs)) this.jobs.set(j, o);
      for (const [c, n] of Object.entries(state.jobCounters)) this.jobCounters.set(c, n);
      for (const [l, m] of Object.entries(state.labels)) this.labelMaps.set(l, new Map(Object.entries(m)));
      for (const [v, o] of Object.entries(state.values)) this.anyValue.set(v, o);
    } else if (cfg.enabled && cfg.job) {
      // the jobs discovery found are named up front, in sorted order: the names do not hang on the
      // order the source happens to send series in, and a label carrying a job name is caught
      // before the job itself is met
      for (const j of Object.keys(this.jobComponents).sort()) this.jobValue(j);
    }
  }

  /**
   * Numbers the originals the source lists for the rule labels before any series is met: hosts,
   * jobs and chosen values, each in sorted order (after whatever the map holds already, e.g. a
   * preview's). Two exports of the same data — one uninterrupted, one killed and resumed — then
   * give every original the same stand-in, and a label carrying an original is caught in a
   * series met before the original's own.
   */
  seed(values: { readonly instance?: readonly string[]; readonly job?: readonly string[]; readonly labels?: Readonly<Record<string, readonly string[]>> }): void {
    if (!this.cfg.enabled) return;
    if (this.cfg.instance && values.instance) {
      const byHost = values.instance.map((v) => ({ v, host: splitInstance(v).host }));
      byHost.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.v < b.v ? -1 : a.v > b.v ? 1 : 0));
      for (const { v } of byHost) this.instanceValue(v);
    }
    if (this.cfg.job && values.job) for (const j of [...values.job].sort()) this.jobValue(j);
    for (const l of this.chosen) for (const v of [...(values.labels?.[l] ?? [])].sort()) this.labelValue(l, v);
    this.cache.clear();
  }

  /**
   * `seed` with the values the source holds for the rule labels that are on, over the range — in
   * every series, not only the selection's: a host exported from another job (a blackbox
   * `target`, an `exported_instance`) is then known as an original too.
   */
  async seedFrom(source: Pick<Source, 'labelValues'>, startMs: number, endMs: number): Promise<void> {
    if (!this.cfg.enabled) return;
    const everything: Selection = { selectors: [] };
    const labels = [...(this.cfg.instance ? ['instance', 'exported_instance'] : []), ...(this.cfg.job ? ['job', 'exported_job'] : []), ...this.chosen];
    const values: Record<string, string[]> = {};
    const found = await Promise.all(labels.map((l) => source.labelValues(l, everything, startMs, endMs)));
    labels.forEach((l, i) => (values[l] = found[i]));
    const both = (a: string, b: string) => [...new Set([...(values[a] ?? []), ...(values[b] ?? [])])];
    this.seed({ instance: both('instance', 'exported_instance'), job: both('job', 'exported_job'), labels: values });
  }

  /** Whether lines are rewritten at all (obfuscation on, or labels to drop). */
  get active(): boolean {
    return (this.cfg.enabled && (this.cfg.instance || this.cfg.job || this.chosen.size > 0)) || this.drop.size > 0;
  }

  /** The series with the rules applied: a new object, keys in their original order. */
  metric(m: Readonly<Record<string, string>>): Record<string, string> {
    const out: Record<string, string> = {};
    const on = this.cfg.enabled;
    if (on) {
      // the rule labels first: their originals are then known to the rest of this series
      if (this.cfg.instance && typeof m.instance === 'string') this.instanceValue(m.instance);
      if (this.cfg.job && typeof m.job === 'string') this.jobValue(m.job);
      if (this.cfg.instance && typeof m.exported_instance === 'string') this.instanceValue(m.exported_instance);
      if (this.cfg.job && typeof m.exported_job === 'string') this.jobValue(m.exported_job);
      for (const l of this.chosen) if (typeof m[l] === 'string') this.labelValue(l, m[l]);
    }
    for (const k of Object.keys(m)) {
      if (this.drop.has(k)) continue;
      const v = m[k];
      let o: string;
      if (!on || k === '__name__' || typeof v !== 'string') o = v;
      // `exported_*`: the target's own label kept beside the scrape's (honor_labels: false)
      else if ((k === 'instance' || k === 'exported_instance') && this.cfg.instance) o = this.instanceValue(v);
      else if ((k === 'job' || k === 'exported_job') && this.cfg.job) o = this.jobValue(v);
      else if (this.chosen.has(k)) o = this.labelValue(k, v);
      else o = this.otherValue(v);
      // a label named `__proto__` is a label like any other, not the object's prototype
      if (k === '__proto__') Object.defineProperty(out, k, { value: o, enumerable: true, writable: true, configurable: true });
      else out[k] = o;
    }
    return out;
  }

  /**
   * One export line (`{"metric":{...},"values":[...],"timestamps":[...]}`, its newline kept if
   * it has one) with its `metric` object rewritten; the rest is copied as it is. The rewritten
   * object is cached by the raw object's bytes, so a series met again costs a lookup.
   */
  line(raw: Buffer): Buffer {
    if (!this.active) return raw;
    const span = metricSpan(raw);
    if (span === undefined) return this.slowLine(raw);
    const rewritten = this.metricBytes(raw, span.start, span.end);
    const out = Buffer.allocUnsafe(raw.length - (span.end - span.start) + rewritten.length);
    raw.copy(out, 0, 0, span.start);
    rewritten.copy(out, span.start);
    raw.copy(out, span.start + rewritten.length, span.end);
    return out;
  }

  /**
   * The rewritten bytes of the `metric` object at `raw[start, end)`, from the cache when met
   * before: the same Buffer object for as long as the cache holds it (the export counts series
   * by that identity before it falls back to the bytes).
   */
  metricBytes(raw: Buffer, start: number, end: number): Buffer {
    const key = raw.toString('latin1', start, end);
    let hit = this.cache.get(key);
    if (hit === undefined) {
      const m = JSON.parse(raw.toString('utf8', start, end)) as Record<string, string>;
      hit = Buffer.from(JSON.stringify(this.metric(m)));
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(key, hit);
    }
    return hit;
  }

  /** A line not shaped as the export writes it: parsed whole, written back with its metric rewritten. */
  private slowLine(raw: Buffer): Buffer {
    const nl = raw.length > 0 && raw[raw.length - 1] === 0x0a;
    const text = raw.toString('utf8', 0, nl ? raw.length - 1 : raw.length).trim();
    if (text === '') return raw;
    const obj = JSON.parse(text) as { metric?: Record<string, string> };
    if (obj.metric && typeof obj.metric === 'object') obj.metric = this.metric(obj.metric);
    return Buffer.from(JSON.stringify(obj) + (nl ? '\n' : ''));
  }

  private instanceValue(v: string): string {
    const { host, port } = splitInstance(v);
    let o = this.hosts.get(host);
    if (o === undefined) {
      const n = this.hosts.size + 1;
      o = `777.777.${Math.floor((n - 1) / 255) + 1}.${((n - 1) % 255) + 1}`;
      this.hosts.set(host, o);
      this.original(host, o);
    }
    const full = port === undefined ? o : `${o}:${port}`;
    this.original(v, full);
    return full;
  }

  private jobValue(v: string): string {
    let o = this.jobs.get(v);
    if (o === undefined) {
      const component = sanitizeComponent(this.jobComponents[v]);
      const n = (this.jobCounters.get(component) ?? 0) + 1;
      this.jobCounters.set(component, n);
      o = `${component}-job-${n}`;
      this.jobs.set(v, o);
      this.original(v, o);
    }
    return o;
  }

  private labelValue(label: string, v: string): string {
    let map = this.labelMaps.get(label);
    if (map === undefined) this.labelMaps.set(label, (map = new Map()));
    let o = map.get(v);
    if (o === undefined) {
      o = `${label}-${map.size + 1}`;
      map.set(v, o);
      this.original(v, o);
    }
    return o;
  }

  /**
   * Records an original so that other labels carrying it are rewritten too. A series cached
   * before may hold it in such a label: the cache starts over (a cost of the first batches,
   * while new originals still appear; never a leak).
   */
  private original(v: string, o: string): void {
    if (this.anyValue.has(v)) return;
    this.anyValue.set(v, o);
    this.cache.clear();
  }

  private otherValue(v: string): string {
    const direct = this.anyValue.get(v);
    if (direct !== undefined) return direct;
    // `host:port` of a host known without that port (an `exported_instance` of another port)
    if (this.cfg.instance) {
      const { host, port } = splitInstance(v);
      if (port !== undefined) {
        const o = this.hosts.get(host);
        if (o !== undefined) return `${o}:${port}`;
      }
    }
    return v;
  }

  state(): ObfuscatorState {
    const labels: Record<string, Record<string, string>> = {};
    for (const [l, m] of this.labelMaps) labels[l] = Object.fromEntries(m);
    return {
      hosts: Object.fromEntries(this.hosts),
      jobs: Object.fromEntries(this.jobs),
      jobCounters: Object.fromEntries(this.jobCounters),
      labels,
      values: Object.fromEntries(this.anyValue),
    };
  }

  /** The stand-in of a job (for metadata.json's job list), naming it if not yet met. */
  jobName(job: string): string {
    return this.cfg.enabled && this.cfg.job ? this.jobValue(job) : job;
  }
}

/** A component as it may appear in a name: anything but `[A-Za-z0-9_.]` dropped; empty → `unknown`. */
function sanitizeComponent(c: string | undefined): string {
  const s = (c ?? '').replace(/[^A-Za-z0-9_.]/g, '');
  return s === '' ? 'unknown' : s;
}

/** Whether a state read from disk has the shape `state()` writes (a damaged file is refused, not half-read). */
export function isObfuscatorState(v: unknown): v is ObfuscatorState {
  const rec = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  const strings = (x: unknown) => rec(x) && Object.values(x).every((s) => typeof s === 'string');
  if (!rec(v)) return false;
  return (
    strings(v.hosts) &&
    strings(v.jobs) &&
    rec(v.jobCounters) &&
    Object.values(v.jobCounters).every((n) => typeof n === 'number') &&
    rec(v.labels) &&
    Object.values(v.labels).every(strings) &&
    strings(v.values)
  );
}

/** Sessions idle this long are forgotten. */
const SESSION_IDLE_MS = 60 * 60 * 1000;
const MAX_SESSIONS = 100;

/**
 * The obfuscators of previews, by id: an export that names a session continues its map, so a
 * value seen in the preview keeps its stand-in in the bundle. Idle sessions expire after an
 * hour; beyond `MAX_SESSIONS` the least recently used goes.
 */
export class ObfuscationSessions {
  private readonly sessions = new Map<string, { obfuscator: Obfuscator; usedAt: number }>();

  constructor(
    private readonly idleMs = SESSION_IDLE_MS,
    private readonly max = MAX_SESSIONS,
    private readonly now: () => number = Date.now,
  ) {}

  open(cfg: ObfuscationConfig, jobComponents?: Readonly<Record<string, string>>): { id: string; obfuscator: Obfuscator } {
    this.expire();
    while (this.sessions.size >= this.max) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    const id = randomUUID();
    const obfuscator = new Obfuscator(cfg, jobComponents);
    this.sessions.set(id, { obfuscator, usedAt: this.now() });
    return { id, obfuscator };
  }

  get(id: string): Obfuscator | undefined {
    this.expire();
    const s = this.sessions.get(id);
    if (s === undefined) return undefined;
    // re-inserted: the map's order is the order of last use
    this.sessions.delete(id);
    s.usedAt = this.now();
    this.sessions.set(id, s);
    return s.obfuscator;
  }

  private expire(): void {
    const limit = this.now() - this.idleMs;
    for (const [id, s] of this.sessions) {
      if (s.usedAt >= limit) break;
      this.sessions.delete(id);
    }
  }
}
