/** Debian's VictoriaMetrics single node on a fresh store, stopped and removed when the test ends. */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { VICTORIA_METRICS } from './peers.js';
import { freePort, stopProcess } from './prometheus-peer.js';
import { waitFor } from './scrape-harness.js';

/** Its base URL, once /health answers. */
export async function startVictoriaMetricsFor(t: TestContext): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-vm-'));
  const port = await freePort();
  const vm = spawn(VICTORIA_METRICS, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${join(dir, 'vm')}`, '-loggerLevel=ERROR'], { stdio: 'ignore' });
  t.after(async () => {
    await stopProcess(vm);
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('VictoriaMetrics up', () => fetch(`${url}/health`).then((r) => r.ok, () => false), 20_000);
  return url;
}
