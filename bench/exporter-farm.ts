/**
 * Fake exporters for the gateway and scrape benchmarks, run as a child process so their CPU is
 * not the benchmarked process's: N ports on 127.0.0.1, each serving a page whose values change
 * on every request (4 rotating variants). Prints the ports as a JSON array once listening.
 * usage: node exporter-farm.js COUNT SERIES                synthetic counters, S series each
 *        node exporter-farm.js COUNT --page FILE [MULT]    a real page (the node_exporter
 *          fixture) MULT times over, as ../shared/bench/targets.mjs serves it: a `shard` label
 *          0..MULT-1 on every series when MULT > 1, every value + 3 × the variant
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fromPage, synthetic } from './exporter-pages.js';

const count = Number(process.argv[2] ?? 100);
const pageFile = process.argv[3] === '--page' ? process.argv[4] : undefined;
const series = Number(process.argv[3] ?? 1000);
const mult = Number(process.argv[5] ?? 1);

const template = pageFile === undefined ? undefined : readFileSync(pageFile, 'utf8');
const shared = template === undefined ? undefined : [0, 1, 2, 3].map((r) => fromPage(template, r, mult));

const ports: number[] = [];
let listening = 0;
for (let e = 0; e < count; e++) {
  const pages = shared ?? [0, 1, 2, 3].map((r) => synthetic(series, e, r));
  let n = 0;
  const server = createServer((_req, res) => {
    const body = pages[n++ & 3];
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => {
    ports[e] = (server.address() as { port: number }).port;
    if (++listening === count) process.stdout.write(JSON.stringify(ports) + '\n');
  });
}
