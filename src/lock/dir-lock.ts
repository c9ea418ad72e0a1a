/**
 * Keeps a second process off a directory (a remote-write queue, the pushed apps): an OS lock,
 * flock(2), on `<dir>/lock`, which the kernel drops when the holder's last descriptor closes —
 * at its exit, even a `kill -9`, and even while it is a zombie not yet reaped. A pid check could
 * not tell a zombie from a live holder, so a restart right after `kill -9` was refused.
 *
 * Node has no flock call, so the lock is taken by util-linux's `flock` command on a descriptor
 * this process opened and the child inherits: flock locks the open file description, which
 * both share, so the lock stays with this process after the child exits. (Node opens files
 * close-on-exec, so processes Tributary starts later do not inherit it.) The file also holds
 * the holder's pid, for the operator and for the refusal message. Without `flock` (not Linux)
 * the pid check is the fallback, and the caller logs that.
 */

import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const LOCK_FILE = 'lock';

export class DirInUseError extends Error {
  constructor(
    message: string,
    /** The holder's pid as its lock file says, when it says one. */
    readonly pid: number | undefined,
  ) {
    super(message);
  }
}

export interface DirLock {
  release(): void;
  /** Set when the OS lock could not be used and the pid check stands in for it: why. */
  readonly fallback: string | undefined;
}

/** How a refusal reads, given the holder's pid (or "unknown"). */
export type InUseMessage = (pid: string) => string;

/** Takes `dir` (created if needed) for this process; throws DirInUseError when another holds it. */
export function lockDir(dir: string, inUse: InUseMessage): DirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  // not truncated: a holder's pid stays readable for the message below
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  let got = tryFlock(fd);
  if (got === false && holderExiting(readPid(path))) {
    // A process killed with -9 drops the lock only when its last thread is gone, a moment
    // after its main thread shows as a zombie: wait for that rather than refuse a restart.
    got = tryFlock(fd, EXITING_HOLDER_WAIT_S);
  }
  if (got === true) {
    writePid(fd);
    return {
      fallback: undefined,
      release() {
        // the file stays (deleting it would let two processes lock two different files); only
        // the pid goes, so that it names no one
        try {
          ftruncateSync(fd, 0);
        } catch {
          // a stale pid in an unlocked file misleads no check
        }
        closeSync(fd);
      },
    };
  }
  if (got === false) {
    closeSync(fd);
    const pid = readPid(path);
    throw new DirInUseError(inUse(pid === undefined ? 'unknown' : String(pid)), pid);
  }
  closeSync(fd);
  return pidLock(path, inUse, got.reason);
}

/** Whether another process holds `dir`'s lock now (a directory with no lock file is free). */
export function dirLocked(dir: string): boolean {
  const path = join(dir, LOCK_FILE);
  if (!existsSync(path)) return false;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch {
    return false;
  }
  try {
    const got = tryFlock(fd);
    if (got === true || got === false) return !got;
    return livePidHolder(path) !== undefined;
  } finally {
    // releases the lock if it was taken just to look
    closeSync(fd);
  }
}

/** true: taken; false: another process holds it; otherwise why flock could not be used. */
function tryFlock(fd: number, waitSeconds = 0): boolean | { reason: string } {
  const mode = waitSeconds > 0 ? ['--wait', String(waitSeconds)] : ['--nonblock'];
  const r = spawnSync('flock', [...mode, '--exclusive', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  if (r.error) return { reason: `cannot run flock: ${r.error.message}` };
  if (r.status === 0) return true;
  // flock(1) exits 1 when --nonblock finds the lock held (or --wait runs out) (and the -E code is left at its default)
  if (r.status === 1 && r.stderr.length === 0) return false;
  return { reason: `flock exited ${r.status ?? r.signal}: ${r.stderr.toString().trim()}` };
}

/** How long a restart waits for a dead holder's lock to go (its threads still exiting). */
const EXITING_HOLDER_WAIT_S = 5;

/** The pid names no process, or one that has exited and not been reaped (state Z or X). */
function holderExiting(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  // the state follows the command name, which is in parentheses and may hold anything
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

/** The pid, written in place then cut to length, so a full disk rarely refuses it (and a refusal is harmless). */
function writePid(fd: number): void {
  const text = Buffer.from(`${process.pid}\n`);
  try {
    writeSync(fd, text, 0, text.length, 0);
    ftruncateSync(fd, text.length);
  } catch {
    // the lock is the flock, not the file's content: only the operator's hint is lost
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid check without flock: a live process whose pid the file holds (a zombie counts as live). */
function pidLock(path: string, inUse: InUseMessage, reason: string): DirLock {
  const holder = livePidHolder(path);
  if (holder !== undefined) throw new DirInUseError(inUse(String(holder)), holder);
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch {
    // a full disk: the lock is weaker (no pid to check), the queue itself still works
  }
  return {
    fallback: reason,
    release() {
      if (readPid(path) === process.pid) rmSync(path, { force: true });
    },
  };
}

function livePidHolder(path: string): number | undefined {
  const pid = readPid(path);
  if (pid === undefined || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
