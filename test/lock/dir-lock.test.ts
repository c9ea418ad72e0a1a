/**
 * The directory lock (flock on `<dir>/lock`) against real processes: a live holder refuses a
 * second taker with its pid in the message; a holder killed with SIGKILL frees the directory at
 * once, even while it is a zombie its parent never reaps (a pid check took it for alive).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirInUseError, dirLocked, lockDir } from '../../src/lock/dir-lock.js';
import { waitFor } from '../helpers/scrape-harness.js';

const MODULE = fileURLToPath(new URL('../../src/lock/dir-lock.js', import.meta.url));
/** A node process that takes the lock, says "locked <pid>" and waits. */
const HOLDER = `import { lockDir } from ${JSON.stringify(MODULE)}; lockDir(process.argv[1], (p) => p); console.log('locked ' + process.pid); setInterval(() => {}, 1e6);`;

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-lock-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Starts `command` and resolves with the pid its holder printed. */
function startHolder(t: { after(fn: () => void): void }, command: string, args: string[]): Promise<{ child: ChildProcess; pid: number }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /locked (\d+)/.exec(out);
      if (m) resolve({ child, pid: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`holder exited ${code}: ${out}`)));
  });
}

const processState = (pid: number) => /State:\s+(\S)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];

test('a live holder refuses the directory, naming its pid; released, it is free', async (t) => {
  const dir = tempDir(t);
  const holder = await startHolder(t, process.execPath, ['--input-type=module', '-e', HOLDER, dir]);
  assert.equal(dirLocked(dir), true);
  assert.throws(
    () => lockDir(dir, (pid) => `in use by pid ${pid}`),
    (err: unknown) => err instanceof DirInUseError && err.pid === holder.pid && err.message === `in use by pid ${holder.pid}`,
  );
  holder.child.kill('SIGTERM');
  await waitFor('the holder gone', () => holder.child.exitCode !== null || holder.child.signalCode !== null, 5_000);
  const mine = lockDir(dir, (pid) => pid);
  assert.equal(mine.fallback, undefined, 'flock is used');
  assert.equal(readFileSync(join(dir, 'lock'), 'utf8').trim(), String(process.pid), 'the file names the holder');
  mine.release();
  assert.equal(dirLocked(dir), false);
});

test('a holder killed with SIGKILL and left a zombie by its parent does not block the directory', async (t) => {
  const dir = tempDir(t);
  // sh starts the holder in the background, then becomes `sleep`, which never reaps it
  const holder = await startHolder(t, 'sh', ['-c', `"$0" --input-type=module -e "$1" "$2" & exec sleep 60`, process.execPath, HOLDER, dir]);
  assert.throws(() => lockDir(dir, (pid) => pid), DirInUseError, 'held while it runs');
  process.kill(holder.pid, 'SIGKILL');
  await waitFor('the holder a zombie', () => processState(holder.pid) === 'Z', 5_000);
  // the pid still exists, as far as kill(pid, 0) can tell: the old check refused here
  assert.doesNotThrow(() => process.kill(holder.pid, 0));
  const mine = lockDir(dir, (pid) => pid);
  assert.equal(processState(holder.pid), 'Z', 'still a zombie when the lock was taken');
  mine.release();
});
