/**
 * Where each remote-write URL keeps its disk queue: `<data_dir>/remotewrite/<host>-<hash>/`,
 * the hash taken over the entry's name and URL so that two entries never share a directory and
 * a changed URL starts a new queue. A `lock` file (holding the owner's pid) keeps a second
 * process off a queue in use; a `url` file names the endpoint (without credentials or query)
 * for operators. Directories of URLs no longer configured are removed at start, as vmagent does.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RemoteWriteConfig } from '../config/remote-write.js';

export const QUEUES_SUBDIR = 'remotewrite';

export function queueDirName(config: Pick<RemoteWriteConfig, 'url' | 'name'>): string {
  const url = new URL(config.url);
  const hash = createHash('sha256').update(`${config.name ?? ''}\n${config.url}`).digest('hex').slice(0, 16);
  return `${url.hostname.replace(/[^A-Za-z0-9.-]/g, '_')}-${hash}`;
}

/** The endpoint without userinfo and query, which may hold secrets. */
export function describeUrl(config: Pick<RemoteWriteConfig, 'url'>): string {
  const u = new URL(config.url);
  return u.origin + u.pathname;
}

export class QueueDirInUseError extends Error {}

/** Takes the directory for this process; throws QueueDirInUseError when a live process holds it. */
export function lockQueueDir(dir: string, config: Pick<RemoteWriteConfig, 'url'>): () => void {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'lock');
  const holder = lockHolder(lock);
  if (holder !== undefined) {
    throw new QueueDirInUseError(`remote-write queue ${dir} is in use by another process (pid ${holder}); give each Tributary its own --data-dir`);
  }
  writeFileSync(lock, String(process.pid));
  writeFileSync(join(dir, 'url'), describeUrl(config) + '\n');
  return () => {
    if (lockHolder(lock) === undefined) rmSync(lock, { force: true });
  };
}

/** The pid of another live process holding `lock`, if any (a stale lock is ignored). */
function lockHolder(lock: string): number | undefined {
  if (!existsSync(lock)) return undefined;
  const pid = Number(readFileSync(lock, 'utf8').trim());
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

export interface RemovedQueue {
  readonly dir: string;
  readonly url: string;
  readonly bytes: number;
}

/** Removes queue directories under `root` other than `keep`, unless another process holds them. */
export function removeUnconfiguredQueues(root: string, keep: ReadonlySet<string>): RemovedQueue[] {
  if (!existsSync(root)) return [];
  const removed: RemovedQueue[] = [];
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    if (keep.has(name) || !statSync(dir).isDirectory()) continue;
    if (lockHolder(join(dir, 'lock')) !== undefined) continue;
    let url = '';
    try {
      url = readFileSync(join(dir, 'url'), 'utf8').trim();
    } catch {
      // not one of ours, or damaged: still a stale queue
    }
    const bytes = directoryBytes(dir);
    rmSync(dir, { recursive: true, force: true });
    removed.push({ dir, url, bytes });
  }
  return removed;
}

function directoryBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? directoryBytes(p) : statSync(p).size;
  }
  return n;
}
