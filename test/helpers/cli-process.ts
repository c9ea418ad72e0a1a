/** The `tributary` command as a user runs it, for the tests that need a real child process. */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tempDataDir } from './fixtures.js';

/** The compiled entry point (compiled tests live in dist-test/test/). */
export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command to its end and collects what it printed. */
export function runCli(args: readonly string[]): Promise<CliResult> {
  // A run (no subcommand, or `run`) gets a data directory of its own unless the test gives one.
  const runs = (args.length === 0 || args[0] === 'run' || args[0].startsWith('--')) && !args.includes('--data-dir');
  const full = runs ? [...args, '--data-dir', tempDataDir()] : args;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...full], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Started {
  child: ChildProcess;
  /** host:port it listens on, from its "Tributary started" log line. */
  address: string;
  /** Everything it logged so far. */
  output: () => string;
}

/** Starts the agent on a free port (JSON logs) and waits for its "started" log line. */
export async function startAgent(extra: readonly string[] = []): Promise<Started> {
  // Each agent gets a data directory of its own unless the test gives one.
  const data = extra.includes('--data-dir') ? [] : ['--data-dir', tempDataDir()];
  const child = spawn(process.execPath, [CLI, '--listen', '127.0.0.1:0', '--log-format', 'json', ...data, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line in: ${out}`)), 15_000);
    child.stderr.on('data', (d) => {
      out += d;
      // only whole lines: a JSON line may arrive in two pieces
      for (const line of out.split('\n').slice(0, -1)) {
        if (!line.startsWith('{')) continue;
        const rec = JSON.parse(line) as { msg: string; listen?: string };
        if (rec.msg === 'Tributary started' && rec.listen) {
          clearTimeout(timer);
          resolve(rec.listen);
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { child, address, output: () => out };
}

/** A process's peak resident memory so far (VmHWM), in bytes. */
export function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM in /proc/<pid>/status');
  return Number(m[1]) * 1024;
}
