/**
 * Pushed apps kept across restarts, as the Pushgateway's `--persistence.file` keeps its groups:
 * one file per app under `<data_dir>/gateway/apps/`, written when the app changed — at most
 * every interval, and at shutdown — so a busy store costs the writes of what changed, not of
 * everything. Each file is written whole to a temporary name, synced and renamed into place,
 * so a crash leaves the old version or the new one, never half of one. At start every file is
 * read back (an app whose TTL passed while the process was down is dropped); a file that
 * cannot be read is logged, counted and moved aside, never fatal.
 *
 * A failing disk (ENOSPC, EIO) is logged once per episode and counted; the apps stay in memory
 * and are served, and their files are written again at the next interval. An OS lock on a
 * `lock` file (lock/dir-lock.ts) keeps a second process off the directory.
 */

import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exemplar, MetricFamily, MetricPoint, MetricType } from '../../model/family.js';
import { METRIC_TYPES } from '../../model/family.js';
import { Labels } from '../../model/labels.js';
import { lockDir, type DirLock } from '../../lock/dir-lock.js';
import type { Logger } from '../../log/logger.js';
import type { Counter, Registry } from '../../selfmetrics/registry.js';
import { formatValue } from '../../formats/prometheus/writer.js';
import { parseNumber } from '../../formats/prometheus/lex.js';
import type { AppStore, PushedApp, PushProtocol } from './app-store.js';

export const APPS_SUBDIR = join('gateway', 'apps');
const FORMAT_VERSION = 1;

/** An app as saved: everything but its snapshot, which is rebuilt from the families. */
interface SavedApp {
  v: number;
  key: string;
  name: string;
  groupingLabels: Record<string, string>;
  protocol: PushProtocol;
  origin: string;
  ttlMs: number;
  updatedMs: number;
  pushTimeMs: number;
  failureTimeMs: number;
  lastError?: string;
  lastErrorMs?: number;
  familyTimes: [string, number][];
  families: SavedFamily[];
}

interface SavedFamily {
  name: string;
  type: MetricType;
  help?: string;
  unit?: string;
  /** [flat label pairs, value text, timestamp ms?, exemplar?] */
  metrics: [string[], string, number?, SavedExemplar?][];
}

type SavedExemplar = [string[], string, number?];

export class AppPersistence {
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private failing = false;
  private readonly errors: Counter;
  private readonly log: Logger;
  private dirLock: DirLock | undefined;

  constructor(
    private readonly dir: string,
    private readonly store: AppStore,
    logger: Logger,
    registry: Registry,
    private readonly intervalMs: number,
  ) {
    this.log = logger.child({ component: 'push-persistence', dir });
    this.errors = registry.counter({
      name: 'tributary_gateway_persistence_errors_total',
      help: 'Failures to save or load pushed apps under the data directory, by operation.',
      labelNames: ['op'],
    });
  }

  /** Takes the directory, reads every saved app back into the store, then saves changes from now on. */
  async start(): Promise<number> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.lock();
    let loaded = 0;
    const now = Date.now();
    for (const name of (await readdir(this.dir)).sort()) {
      if (!name.endsWith('.json')) {
        // a temporary file of a write the process did not finish
        if (name.endsWith('.tmp')) await unlink(join(this.dir, name)).catch(() => undefined);
        continue;
      }
      const path = join(this.dir, name);
      let saved: SavedApp;
      let app: Omit<PushedApp, 'snapshot'>;
      try {
        saved = decode(JSON.parse(await readFile(path, 'utf8')));
        app = restoreApp(saved);
      } catch (err) {
        this.errors.labels('load').inc();
        this.log.error('a saved pushed app cannot be read; it is moved aside', { file: path, err: (err as Error).message });
        await rename(path, path + '.bad').catch(() => undefined);
        continue;
      }
      if (saved.ttlMs > 0 && now - saved.updatedMs >= saved.ttlMs) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      try {
        this.store.restore(app);
        loaded++;
      } catch (err) {
        this.errors.labels('load').inc();
        this.log.error('a saved pushed app does not fit the store limits; it is left on disk', { app: saved.key, err: (err as Error).message });
      }
    }
    this.unsubscribe = this.store.onChange((key) => this.dirty.add(key));
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
    if (loaded > 0) this.log.info('pushed apps restored', { count: loaded });
    return loaded;
  }

  /** Writes every app that changed since the last flush; one flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.writeDirty().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** A last flush, then the directory is released. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.flushing;
    await this.flush();
    if (this.dirty.size > 0) {
      // The last chance is gone: say what a restart will not bring back.
      this.log.error('pushed apps could not be saved before exit; their latest pushes are lost', { apps: this.dirty.size, keys: [...this.dirty].slice(0, 10).join(' ') });
    }
    this.dirLock?.release();
  }

  private async writeDirty(): Promise<void> {
    if (this.dirty.size === 0) return;
    const keys = [...this.dirty];
    this.dirty.clear();
    let failed = 0;
    let firstError: string | undefined;
    for (const key of keys) {
      const path = join(this.dir, fileName(key));
      const app = this.store.get(key);
      try {
        if (app === undefined) await unlink(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
        else await writeAtomically(path, JSON.stringify(encode(app)));
      } catch (err) {
        // Kept for the next interval; the app is still in memory and served.
        this.dirty.add(key);
        failed++;
        firstError ??= (err as Error).message;
      }
    }
    if (failed > 0) {
      this.errors.labels('save').inc(failed);
      if (!this.failing) this.log.error('cannot save pushed apps; they stay in memory and saving is retried', { apps: failed, err: firstError });
      this.failing = true;
    } else if (this.failing) {
      this.failing = false;
      this.log.info('pushed apps are saved again');
    }
  }

  private lock(): void {
    this.dirLock = lockDir(this.dir, (pid) => `${this.dir} is in use by another process (pid ${pid}); give each Tributary its own --data-dir`);
    if (this.dirLock.fallback) this.log.warn('no OS file lock for the pushed apps: a pid check stands in (a zombie holder blocks it)', { reason: this.dirLock.fallback });
  }
}

/** Keys hold any characters; file names are a hash of them. */
function fileName(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32) + '.json';
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = path + '.tmp';
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

function encode(app: PushedApp): SavedApp {
  return {
    v: FORMAT_VERSION,
    key: app.key,
    name: app.name,
    groupingLabels: { ...app.groupingLabels },
    protocol: app.protocol,
    origin: app.origin,
    ttlMs: app.ttlMs,
    updatedMs: app.updatedMs,
    pushTimeMs: app.pushTimeMs,
    failureTimeMs: app.failureTimeMs,
    ...(app.lastError !== undefined ? { lastError: app.lastError, lastErrorMs: app.lastErrorMs ?? 0 } : {}),
    familyTimes: [...app.familyTimes],
    families: app.families.map((f) => ({
      name: f.name,
      type: f.type,
      ...(f.help !== undefined ? { help: f.help } : {}),
      ...(f.unit !== undefined ? { unit: f.unit } : {}),
      // Values as exposition text: JSON has no NaN or infinities.
      metrics: f.metrics.map((m) => {
        const row: SavedFamily['metrics'][number] = [[...m.labels.kv], formatValue(m.value)];
        if (m.timestamp !== undefined || m.exemplar !== undefined) row.push(m.timestamp);
        if (m.exemplar !== undefined) row.push(encodeExemplar(m.exemplar));
        return row;
      }),
    })),
  };
}

function encodeExemplar(e: Exemplar): SavedExemplar {
  const out: SavedExemplar = [[...e.labels.kv], formatValue(e.value)];
  if (e.timestamp !== undefined) out.push(e.timestamp);
  return out;
}

/** Checks a file's shape; throws with what is wrong. */
function decode(raw: unknown): SavedApp {
  const o = raw as SavedApp;
  if (typeof o !== 'object' || o === null || o.v !== FORMAT_VERSION) throw new Error(`not a saved app of format ${FORMAT_VERSION}`);
  for (const k of ['key', 'name', 'origin'] as const) if (typeof o[k] !== 'string') throw new Error(`${k} is not a string`);
  for (const k of ['ttlMs', 'updatedMs', 'pushTimeMs', 'failureTimeMs'] as const) if (typeof o[k] !== 'number') throw new Error(`${k} is not a number`);
  if (!['pushgateway', 'json', 'capnp'].includes(o.protocol)) throw new Error(`unknown protocol ${JSON.stringify(o.protocol)}`);
  if (!Array.isArray(o.families) || !Array.isArray(o.familyTimes)) throw new Error('families missing');
  for (const f of o.families) {
    if (typeof f.name !== 'string' || !METRIC_TYPES.includes(f.type) || !Array.isArray(f.metrics)) throw new Error('a family is malformed');
  }
  return o;
}

function restoreApp(s: SavedApp): Omit<PushedApp, 'snapshot'> {
  const families: MetricFamily[] = s.families.map((f) => {
    const fam: MetricFamily = { name: f.name, type: f.type, metrics: f.metrics.map(restorePoint) };
    if (f.help !== undefined) fam.help = f.help;
    if (f.unit !== undefined) fam.unit = f.unit;
    return fam;
  });
  return {
    key: s.key,
    name: s.name,
    groupingLabels: s.groupingLabels,
    protocol: s.protocol,
    origin: s.origin,
    ttlMs: s.ttlMs,
    updatedMs: s.updatedMs,
    pushTimeMs: s.pushTimeMs,
    failureTimeMs: s.failureTimeMs,
    ...(s.lastError !== undefined ? { lastError: s.lastError, lastErrorMs: s.lastErrorMs ?? 0 } : {}),
    familyTimes: new Map(s.familyTimes),
    families,
  };
}

function restorePoint(row: SavedFamily['metrics'][number]): MetricPoint {
  const [kv, value, ts, ex] = row;
  const p: MetricPoint = { labels: labelsOf(kv), value: numberOf(value) };
  if (typeof ts === 'number') p.timestamp = ts;
  if (ex !== undefined) {
    const e: Exemplar = { labels: labelsOf(ex[0]), value: numberOf(ex[1]) };
    if (typeof ex[2] === 'number') e.timestamp = ex[2];
    p.exemplar = e;
  }
  return p;
}

/** formatValue's text back to the number, read as the exposition parser reads a value. */
function numberOf(text: unknown): number {
  const v = typeof text === 'string' ? parseNumber(text, 0, text.length) : undefined;
  if (v === undefined) throw new Error(`malformed value ${JSON.stringify(text)}`);
  return v;
}

function labelsOf(kv: unknown): Labels {
  if (!Array.isArray(kv) || kv.length % 2 !== 0 || !kv.every((x) => typeof x === 'string')) throw new Error('malformed labels');
  const pairs: [string, string][] = [];
  for (let i = 0; i < kv.length; i += 2) pairs.push([kv[i] as string, kv[i + 1] as string]);
  return Labels.fromPairs(pairs);
}
