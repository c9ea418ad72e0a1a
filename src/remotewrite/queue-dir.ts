/**
 * Where each remote-write URL keeps its disk queue: `<data_dir>/remotewrite/<host>-<hash>/`,
 * the hash taken over the entry's name and URL so that two entries never share a directory and
 * a changed URL starts a new queue. An OS lock on its `lock` file (lock/dir-lock.ts; the file
 * holds the owner's pid) keeps a second process off a queue in use; a `url` file names the
 * endpoint (without credentials or query) for operators. Directories of URLs no longer configured are removed at start, as vmagent does.
 */

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RemoteWriteConfig } from '../config/remote-write.js';
import { DirInUseError, dirLocked, lockDir, type DirLock } from '../lock/dir-lock.js';
import type { Logger } from '../log/logger.js';
import { shownUrl } from '../outbound/index.js';

export const QUEUES_SUBDIR = 'remotewrite';

export function queueDirName(config: Pick<RemoteWriteConfig, 'url' | 'name'>, occurrence = 0): string {
  const host = config.url.startsWith('nats://') ? `nats-${config.url.replace(/^nats:\/\/[^/]*\//, '').replace(/\?.*$/, '')}` : new URL(config.url).hostname;
  // Prometheus allows one URL in several entries (other auth, relabeling): the second and later
  // unnamed ones get a queue of their own, by their place among the entries with that URL
  const id = `${config.name ?? ''}\n${config.url}${occurrence > 0 ? `\n${occurrence}` : ''}`;
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 16);
  return `${host.replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 64)}-${hash}`;
}

/** The endpoint as logs and the `url` label show it (no userinfo or query: they may hold secrets). */
export function describeUrl(config: Pick<RemoteWriteConfig, 'url'>): string {
  return shownUrl(config.url);
}

export { DirInUseError as QueueDirInUseError };

/** Takes the directory for this process (returns its release); throws QueueDirInUseError when another process holds it. */
export function lockQueueDir(dir: string, config: Pick<RemoteWriteConfig, 'url'>, log: Logger): () => void {
  let lock: DirLock;
  try {
    lock = lockDir(dir, (pid) =>
      pid === String(process.pid)
        ? `remote-write queue ${dir} is opened twice by this process (pid ${pid}); two entries must not share a queue`
        : `remote-write queue ${dir} is in use by another process (pid ${pid}); give each Tributary its own --data-dir`,
    );
  } catch (err) {
    if (err instanceof DirInUseError) throw err;
    // a full or failing disk (no room for the directory): the queue runs from memory and tries
    // the disk again; refusing to start would stop scraping too
    log.error('cannot take the remote-write queue directory; running without its lock', { dir, err: (err as Error).message });
    return () => {};
  }
  if (lock.fallback) log.warn('no OS file lock for the remote-write queue: a pid check stands in (a zombie holder blocks it)', { dir, reason: lock.fallback });
  try {
    writeFileSync(join(dir, 'url'), describeUrl(config) + '\n');
  } catch (err) {
    // for the operator only; a full disk must not stop the queue
    log.warn('cannot write the remote-write queue\'s url file', { dir, err: (err as Error).message });
  }
  return () => lock.release();
}

export interface RemovedQueue {
  readonly dir: string;
  readonly url: string;
  readonly bytes: number;
}

/**
 * Removes queue directories under `root` other than `keep`, unless another process holds them.
 * Asynchronous: a removed URL's queue may be a gigabyte of segments, removed at a reload while
 * scraping goes on.
 */
export async function removeUnconfiguredQueues(root: string, keep: ReadonlySet<string>): Promise<RemovedQueue[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return []; // no queue yet
  }
  const removed: RemovedQueue[] = [];
  for (const name of names) {
    const dir = join(root, name);
    if (keep.has(name) || !(await stat(dir)).isDirectory()) continue;
    if (dirLocked(dir)) continue;
    let url = '';
    try {
      url = (await readFile(join(dir, 'url'), 'utf8')).trim();
    } catch {
      // not one of ours, or damaged: still a stale queue
    }
    const bytes = await directoryBytes(dir);
    await rm(dir, { recursive: true, force: true });
    removed.push({ dir, url, bytes });
  }
  return removed;
}

async function directoryBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? await directoryBytes(p) : (await stat(p)).size;
  }
  return n;
}
