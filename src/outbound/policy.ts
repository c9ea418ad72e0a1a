/**
 * How every outbound connection behaves whatever its settings, one value each for both ways out
 * (http1.ts for plain `http://`, undici for TLS, proxies and HTTP/2): how long an idle
 * keep-alive connection stays open and how many redirects a request follows. Prometheus' Go
 * client and vmagent keep idle connections for minutes and follow at most 10 redirects.
 */

/** Connections idle longer than this are closed; exporters are scraped far more often. */
export const KEEP_ALIVE_MS = 5 * 60_000;

/** Go's net/http stops after 10 redirects; so do Prometheus and vmagent. */
export const MAX_REDIRECTS = 10;

/** The statuses a redirect is followed on (with a Location), as Go's client and undici's interceptor do. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
