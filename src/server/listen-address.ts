/**
 * Listen addresses as operators write them (`HOST:PORT`, `[IPv6]:PORT`, `:PORT` for every
 * interface) and the one-line errors a failed bind turns into, so that a taken port reads
 * `cannot listen on 127.0.0.1:9190: address already in use` rather than a stack trace.
 */

import { isIP } from 'node:net';

/** Local only: exposing the agent to a network is a decision the operator makes explicitly. */
export const DEFAULT_LISTEN_ADDRESS = '127.0.0.1:9190';

export interface ListenAddress {
  /** Undefined means every interface. */
  host: string | undefined;
  port: number;
}

const USAGE = 'want HOST:PORT or [IPv6]:PORT';

/** `cannot listen on ADDRESS: why`, quoting addresses that are empty or would break the line. */
export function listenError(address: string, why: string, cause?: unknown): Error {
  const shown = /^[\x21-\x7e]+$/.test(address) ? address : JSON.stringify(address);
  return new Error(`cannot listen on ${shown}: ${why}`, cause === undefined ? undefined : { cause });
}

/** Parses a listen address; throws an Error with a one-line message when it is malformed. */
export function parseListenAddress(address: string): ListenAddress {
  const fail = (why: string): never => {
    throw listenError(address, why);
  };
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0 || address[close + 1] !== ':') return fail(`invalid address, ${USAGE}`);
    host = address.slice(1, close);
    portText = address.slice(close + 2);
    if (isIP(host) !== 6) return fail(`invalid IPv6 address ${JSON.stringify(host)}`);
  } else {
    const colon = address.lastIndexOf(':');
    if (colon < 0) return fail(`missing port, ${USAGE}`);
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(':')) return fail(`IPv6 addresses must be in brackets, ${USAGE}`);
    if (host !== '' && !/^[A-Za-z0-9.-]+$/.test(host)) return fail(`invalid host ${JSON.stringify(host)}`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    return fail(`invalid port ${JSON.stringify(portText)}, want 0-65535`);
  }
  return { host: host === '' ? undefined : host, port: Number(portText) };
}

/** `host:port` with IPv6 hosts bracketed, as `parseListenAddress` reads it back. */
export function formatListenAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const BIND_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (temporary DNS failure)',
  EAI_FAIL: 'host not found',
  EAI_NONAME: 'host not found',
};

/** The reason half of a bind error's one-line message. */
export function describeBindError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && code in BIND_ERRORS) return BIND_ERRORS[code];
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0];
}
