/**
 * The embedded defaults scrape Tributary's own `/metrics`, as Prometheus' default configuration
 * scrapes Prometheus, so a first start shows a target that is up. The target is the address
 * the server actually bound (a `--listen` override, port 0, IPv6), known only after listening;
 * kept free of the schema library so the long-lived process can use it (see isolated.ts).
 */

export const SELF_SCRAPE_JOB = 'tributary';

/** Where to reach a listener bound at `bound` (`host:port`, `[v6]:port`) from this host. */
export function selfScrapeTarget(bound: string): string {
  const colon = bound.lastIndexOf(':');
  const host = bound.slice(0, colon);
  const port = bound.slice(colon + 1);
  // every interface: the loopback of the same family answers
  if (host === '[::]' || host === '') return `[::1]:${port}`;
  if (host === '0.0.0.0') return `127.0.0.1:${port}`;
  return bound;
}
