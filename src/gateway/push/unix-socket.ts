/**
 * The file side of a Unix socket listener: clearing a stale socket left by a dead process
 * (but never a live one, nor a file that is not a socket), and giving the new socket the
 * configured mode, owner and group. Names are looked up in /etc/passwd and /etc/group, which
 * is what a name means to `chown` on the systems this runs on; Node has no getpwnam.
 */

import { chmod, chown, lstat, readFile, unlink } from 'node:fs/promises';
import { connect } from 'node:net';

export interface UnixSocketFileOptions {
  mode?: number;
  owner?: string | number;
  group?: string | number;
}

/** Removes `path` if it is a socket nobody accepts on; throws if it is live or not a socket. */
export async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`cannot listen on ${path}: the file exists and is not a socket`);
  if (await isLive(path)) throw new Error(`cannot listen on ${path}: another process is accepting connections on it`);
  await unlink(path);
}

function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    // ECONNREFUSED is the stale case; any other failure also means nobody is serving it.
    s.once('error', () => resolve(false));
  });
}

export async function applySocketFileOptions(path: string, opts: UnixSocketFileOptions): Promise<void> {
  if (opts.mode !== undefined) await chmod(path, opts.mode);
  if (opts.owner !== undefined || opts.group !== undefined) {
    const uid = opts.owner === undefined ? -1 : await resolveId(opts.owner, '/etc/passwd', 'user');
    const gid = opts.group === undefined ? -1 : await resolveId(opts.group, '/etc/group', 'group');
    await chown(path, uid, gid);
  }
}

async function resolveId(ref: string | number, database: string, what: string): Promise<number> {
  if (typeof ref === 'number') return ref;
  if (/^[0-9]+$/.test(ref)) return Number(ref);
  const text = await readFile(database, 'utf8');
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === ref && f.length >= 3) return Number(f[2]);
  }
  throw new Error(`unknown ${what} ${JSON.stringify(ref)} (looked up in ${database})`);
}
