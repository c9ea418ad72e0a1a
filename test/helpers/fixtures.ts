/** Files the tests share with the benchmarks. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/fixtures/node_exporter.txt: a real node_exporter page (compiled tests live in dist-test/test/<area>/). */
export function readNodeExporterPage(): string {
  return readFileSync(fileURLToPath(new URL('../../../bench/fixtures/node_exporter.txt', import.meta.url)), 'utf8');
}

/**
 * A data directory of its own for a process or runtime under test, removed after the test:
 * pushed apps and remote-write queues persist there, and must not leak between tests (or
 * meet another test's process holding the directory).
 */
export function tempDataDir(): string {
  return tempDir('tributary-data-');
}

/** A fresh directory under the system's temporary one, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
