/** Files the tests share with the benchmarks. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** bench/fixtures/node_exporter.txt: a real node_exporter page (compiled tests live in dist-test/test/). */
export function readNodeExporterPage(): string {
  return readFileSync(fileURLToPath(new URL('../../bench/fixtures/node_exporter.txt', import.meta.url)), 'utf8');
}
