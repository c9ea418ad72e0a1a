/** A bare HTTP server on 127.0.0.1:0 with just the pages a test registers, closed afterwards. */
import { Registry } from '../../src/selfmetrics/index.js';
import { HttpServer } from '../../src/server/index.js';
import { PageRegistry } from '../../src/ui/index.js';

export async function withPageServer(
  register: (server: HttpServer, pages: PageRegistry) => void,
  fn: (base: string, pages: PageRegistry) => Promise<void>,
): Promise<void> {
  const server = new HttpServer({ registry: new Registry() });
  const pages = new PageRegistry();
  register(server, pages);
  const address = await server.listen('127.0.0.1:0');
  try {
    await fn(`http://${address}`, pages);
  } finally {
    await server.close();
  }
}
