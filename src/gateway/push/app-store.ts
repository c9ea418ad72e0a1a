/**
 * Pushed apps: what apps sent over sockets or the Pushgateway-style HTTP API, held until they
 * send again, are deleted, or expire. Each app is identified by its name (socket apps) or its
 * grouping key (HTTP pushes); a new payload replaces the app's families whole (PUT, sockets) or
 * family by family (POST). Unlike the Pushgateway, apps expire: every app has a TTL (the
 * listener's default or the push's own), so a dead app stops being exposed.
 *
 * A bad payload never reaches the store: callers parse first and only put what parsed, so an
 * app's last good payload survives a malformed push.
 */

import type { MetricFamily } from '../../model/family.js';
import { nextVersion, type SourceSnapshot } from '../source.js';

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
  readonly snapshot: SourceSnapshot;
  /** ms since the epoch of the last accepted push. */
  readonly updatedMs: number;
  /** TTL in ms; 0 = never expires. */
  readonly ttlMs: number;
  /** The last push that was refused, kept for /apps; the payload before it stays exposed. */
  readonly lastError?: string;
  readonly lastErrorMs?: number;
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
}

export interface AppStoreLimits {
  /** Distinct apps held at once; a push for a new app beyond it is refused. */
  maxApps: number;
  /** Series across all apps; a push that would exceed it is refused. */
  maxSeries: number;
}

export const DEFAULT_APP_STORE_LIMITS: AppStoreLimits = { maxApps: 10_000, maxSeries: 5_000_000 };

export class PushLimitError extends Error {}

export class AppStore {
  private readonly apps = new Map<string, PushedApp>();
  private seriesTotal = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly limits: AppStoreLimits = DEFAULT_APP_STORE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores an accepted push. Throws PushLimitError when a limit would be passed. */
  push(req: PushRequest): PushedApp {
    const prev = this.apps.get(req.key);
    if (!prev && this.apps.size >= this.limits.maxApps) {
      throw new PushLimitError(`too many apps: the limit is ${this.limits.maxApps}`);
    }
    let families = req.families;
    if (req.mode === 'merge' && prev) {
      const replaced = new Set(req.families.map((f) => f.name));
      families = [...prev.snapshot.families.filter((f) => !replaced.has(f.name)), ...req.families];
    }
    const series = countSeries(families);
    const prevSeries = prev ? countSeries(prev.snapshot.families) : 0;
    if (this.seriesTotal - prevSeries + series > this.limits.maxSeries) {
      throw new PushLimitError(`too many series: the limit is ${this.limits.maxSeries} across all apps`);
    }
    const at = this.now();
    const app: PushedApp = {
      key: req.key,
      name: req.name,
      groupingLabels: req.groupingLabels ?? {},
      protocol: req.protocol,
      origin: req.origin,
      updatedMs: at,
      ttlMs: req.ttlMs,
      snapshot: {
        families,
        version: nextVersion(),
        ok: true,
        droppedLines: req.droppedLines ?? 0,
        durationSeconds: 0,
        lastSuccessMs: at,
        ...(req.droppedLines ? { error: `${req.droppedLines} bad lines dropped` } : {}),
      },
    };
    this.apps.set(req.key, app);
    this.seriesTotal += series - prevSeries;
    this.changed();
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
    this.apps.delete(key);
    this.seriesTotal -= countSeries(prev.snapshot.families);
    this.changed();
    return true;
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
    let n = 0;
    for (const app of this.apps.values()) {
      if (app.ttlMs > 0 && now - app.updatedMs >= app.ttlMs) {
        this.apps.delete(app.key);
        this.seriesTotal -= countSeries(app.snapshot.families);
        n++;
      }
    }
    if (n > 0) this.changed();
    return n;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}

export function countSeries(families: readonly MetricFamily[]): number {
  let n = 0;
  for (const f of families) n += f.metrics.length;
  return n;
}
