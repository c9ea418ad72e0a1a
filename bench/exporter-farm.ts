/**
 * Fake exporters for the gateway benchmark, run as a child process so their CPU is not the
 * gateway's: N ports on 127.0.0.1, each serving a page of S series whose values change on every
 * request. Prints the first port once listening.
 * usage: node exporter-farm.js COUNT SERIES
 */
import { createServer } from 'node:http';

const count = Number(process.argv[2] ?? 100);
const series = Number(process.argv[3] ?? 1000);

function page(exporter: number, round: number): Buffer {
  const lines: string[] = [];
  for (let f = 0; f < series / 10; f++) {
    const name = `app_requests_${f}_total`;
    lines.push(`# HELP ${name} Synthetic counter ${f}.`, `# TYPE ${name} counter`);
    for (let i = 0; i < 10; i++) lines.push(`${name}{path="/api/v${i}",method="GET",code="200"} ${exporter * 1000 + f * 10 + i + round}`);
  }
  return Buffer.from(lines.join('\n') + '\n');
}

const ports: number[] = [];
let listening = 0;
for (let e = 0; e < count; e++) {
  const pages = [0, 1, 2, 3].map((r) => page(e, r));
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
