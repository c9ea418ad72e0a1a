/**
 * Consul's API address from a consul_sd_config, without zod: the schema checks it at load and
 * the discoverer builds its requests on it, so both read `server` the same way.
 */

/**
 * The URL of the API path `path` (`/v1/...`), as hashicorp/consul/api builds it: an `http://`
 * or `https://` prefix on `server` wins over `scheme`, and `path_prefix` goes before the path
 * as written. Undefined when that makes no URL (Prometheus would fail every request instead).
 */
export function consulApiUrl(c: { server: string; scheme: string; path_prefix: string }, path: string): URL | undefined {
  const m = /^(\w+):\/\/(.*)$/.exec(c.server);
  const scheme = m ? m[1] : c.scheme;
  if (scheme !== 'http' && scheme !== 'https') return undefined;
  // Go's URL.String puts the slash a relative path lacks after the host
  const prefix = c.path_prefix === '' || c.path_prefix.startsWith('/') ? c.path_prefix : `/${c.path_prefix}`;
  try {
    return new URL(`${scheme}://${m ? m[2] : c.server}${prefix}${path}`);
  } catch {
    return undefined;
  }
}
