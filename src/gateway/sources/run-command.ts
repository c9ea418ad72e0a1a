/**
 * Running a script once: its stdout is the page, bounded in size and time. The script gets its
 * own process group and is ended as a group (SIGTERM, then SIGKILL after a grace period): such
 * scripts are mostly shells whose children would otherwise outlive them and keep stdout open.
 *
 * A failed run answers at once; the killing goes on in the background until the group is gone.
 */

import { spawn } from 'node:child_process';

export interface CommandSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** Merged over the gateway's own environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
  /** Between SIGTERM and SIGKILL. */
  readonly killGraceMs?: number;
}

export type CommandResult =
  | { readonly ok: true; readonly stdout: Buffer }
  | { readonly ok: false; readonly error: string };

const STDERR_TAIL_BYTES = 4096;
const DEFAULT_KILL_GRACE_MS = 2000;

/** Runs `spec`; never rejects. Aborting `signal` kills the process and answers "aborted". */
export function runCommand(spec: CommandSpec, signal: AbortSignal): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve) => {
    if (signal.aborted) {
      resolve({ ok: false, error: 'aborted before start' });
      return;
    }
    const child = spawn(spec.command, [...spec.args], {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const chunks: Buffer[] = [];
    let outBytes = 0;
    let errTail = Buffer.alloc(0);
    let settled = false;
    let exited = false;
    let killTimer: NodeJS.Timeout | undefined;

    const finish = (result: CommandResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // The group is already gone.
      }
    };
    const terminate = (error: string): void => {
      finish({ ok: false, error });
      if (exited && child.stdout?.closed) return;
      killGroup('SIGTERM');
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), spec.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
      killTimer.unref();
    };
    const onAbort = (): void => terminate('aborted: no scrape is waiting any more');
    const deadline = setTimeout(() => terminate(`timed out after ${spec.timeoutMs / 1000}s`), spec.timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });

    child.stdout!.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > spec.maxOutputBytes) {
        terminate(`output exceeds max_output_bytes (${spec.maxOutputBytes} bytes)`);
        return;
      }
      if (!settled) chunks.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      errTail = Buffer.concat([errTail, chunk]);
      if (errTail.length > STDERR_TAIL_BYTES) errTail = errTail.subarray(errTail.length - STDERR_TAIL_BYTES);
    });
    child.on('error', (err) => {
      exited = true;
      finish({ ok: false, error: `cannot run ${spec.command}: ${err.message}` });
    });
    child.on('exit', () => {
      exited = true;
    });
    // 'close' waits for stdio to end as well, so the whole page has been read.
    child.on('close', (code, sig) => {
      exited = true;
      clearTimeout(killTimer);
      if (settled) return;
      if (code === 0) {
        finish({ ok: true, stdout: Buffer.concat(chunks) });
        return;
      }
      const why = sig ? `was killed by ${sig}` : `exited with code ${code}`;
      const last = lastLine(errTail);
      finish({ ok: false, error: `${spec.command} ${why}${last ? `: ${last}` : ''}` });
    });
  });
}

function lastLine(buf: Buffer): string {
  const lines = buf.toString('utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = lines[lines.length - 1] ?? '';
  return last.length > 200 ? last.slice(0, 200) + '…' : last;
}
