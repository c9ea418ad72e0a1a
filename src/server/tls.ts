/**
 * TLS for the listener: reading and checking the certificate, key and client CA files at
 * start, and turning the client-auth mode into Node's handshake options. Every failure is one
 * line naming the file, so a wrong path or a key that belongs to another certificate reads as
 * such instead of as an OpenSSL error stack. Key material is never put into a message.
 */

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { SecureContextOptions, Server as TlsServer, TlsOptions } from 'node:tls';

/**
 * `none`: no client certificate is asked for. `request`: one is asked for and, when presented,
 * must be signed by the client CA; clients without one still get through (access rules can
 * then decide). `require_and_verify`: a CA-signed client certificate is needed to connect.
 */
export const CLIENT_AUTH_MODES = ['none', 'request', 'require_and_verify'] as const;
export type ClientAuth = (typeof CLIENT_AUTH_MODES)[number];

export const TLS_MIN_VERSIONS = ['TLS12', 'TLS13'] as const;
export type TlsMinVersion = (typeof TLS_MIN_VERSIONS)[number];

export interface ServerTlsOptions {
  certFile: string;
  keyFile: string;
  /** Client certificates are verified against these; required unless `clientAuth` is `none`. */
  clientCaFile?: string;
  /** Defaults to `require_and_verify` when `clientCaFile` is set, else `none`. */
  clientAuth?: ClientAuth;
  minVersion?: TlsMinVersion;
}

/** Everything the HTTPS server needs, with the files already read and checked. */
export interface LoadedServerTls {
  clientAuth: ClientAuth;
  /** Certificates and protocol versions, installed with `setSecureContext`. */
  context: SecureContextOptions;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function effectiveClientAuth(opts: Pick<ServerTlsOptions, 'clientAuth' | 'clientCaFile'>): ClientAuth {
  return opts.clientAuth ?? (opts.clientCaFile !== undefined ? 'require_and_verify' : 'none');
}

/**
 * What the handshake asks of clients; needs no files, so the server is created with it and
 * the certificates follow at `listen`.
 */
export function handshakeOptions(clientAuth: ClientAuth): Pick<TlsOptions, 'requestCert' | 'rejectUnauthorized'> {
  return {
    requestCert: clientAuth !== 'none',
    // `request` lets certificate-less clients through; a presented but unverifiable
    // certificate is still refused, by the server right after the handshake (http-server.ts).
    rejectUnauthorized: clientAuth === 'require_and_verify',
  };
}

/** Reads and checks the files; rejects with a one-line Error naming the offending file. */
export async function loadServerTls(opts: ServerTlsOptions): Promise<LoadedServerTls> {
  const clientAuth = effectiveClientAuth(opts);
  if (clientAuth !== 'none' && opts.clientCaFile === undefined) {
    throw new Error(`TLS client_auth ${clientAuth} needs a client CA file`);
  }
  const certPem = await readPem('certificate', opts.certFile);
  const keyPem = await readPem('key', opts.keyFile);
  const chain = parseCertificates('certificate', opts.certFile, certPem);
  const key = parseKey(opts.keyFile, keyPem);
  if (!chain[0].checkPrivateKey(key)) {
    throw new Error(`TLS key file ${opts.keyFile} does not belong to the certificate in ${opts.certFile}`);
  }
  const context: SecureContextOptions = {
    cert: certPem,
    key: keyPem,
    minVersion: opts.minVersion === 'TLS13' ? 'TLSv1.3' : 'TLSv1.2',
  };
  if (opts.clientCaFile !== undefined && clientAuth !== 'none') {
    const caPem = await readPem('client CA', opts.clientCaFile);
    parseCertificates('client CA', opts.clientCaFile, caPem);
    context.ca = caPem;
  }
  return { clientAuth, context };
}

async function readPem(what: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message.split('\n')[0];
    throw new Error(`cannot read TLS ${what} file ${file}: ${why}`, { cause: err });
  }
}

function parseCertificates(what: string, file: string, pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error(`TLS ${what} file ${file} holds no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new Error(`TLS ${what} file ${file}: certificate ${i + 1} is not valid`, { cause: err });
    }
  });
}

function parseKey(file: string, pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    // OpenSSL's message may quote the input; only its kind is reported.
    throw new Error(`TLS key file ${file} holds no readable PEM private key (an encrypted key is not supported)`, {
      cause: err,
    });
  }
}

/**
 * Go's net/http answer to plain HTTP on a TLS port, to the byte: Prometheus and vmagent users
 * know this message, and it says what is wrong where a closed connection says nothing.
 */
export const PLAIN_HTTP_ON_TLS_REPLY = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';

export interface PlainHttpAnswerOptions {
  /** How long a new connection may stay silent, and how long an answered one is kept for its reader. */
  timeoutMs: number;
  onPlainHttp?: (socket: Socket) => void;
  onSilent?: (socket: Socket) => void;
}

/**
 * Makes `server` look at the first bytes of each connection before its TLS handshake starts,
 * and answer plain HTTP with `PLAIN_HTTP_ON_TLS_REPLY`. Everything else goes to TLS as it came,
 * the bytes read handed back first: a TLS client waits one chunk, which it had to send anyway.
 * Call it right after creating the server, before adding `connection` listeners of your own:
 * the ones present then (Node's, which starts the handshake) are run after the look.
 */
export function answerPlainHttp(server: TlsServer, opts: PlainHttpAnswerOptions): void {
  const handshakers = server.listeners('connection') as ((socket: Socket) => void)[];
  for (const l of handshakers) server.off('connection', l);
  server.on('connection', (raw: Socket) => {
    // A reset before the first byte has nothing to report; 'close' follows and cleans up.
    const ignore = (): void => {};
    const onTimeout = (): void => {
      opts.onSilent?.(raw);
      raw.destroy();
    };
    const onData = (chunk: Buffer): void => {
      raw.off('data', onData);
      raw.off('timeout', onTimeout);
      raw.setTimeout(0);
      raw.pause();
      if (looksLikeHttpRequest(chunk)) {
        opts.onPlainHttp?.(raw);
        // The rest of the request is read and dropped: closing with unread data would send a
        // reset, which can destroy the answer before the client has read it.
        raw.resume();
        raw.setTimeout(opts.timeoutMs, () => raw.destroy());
        raw.end(PLAIN_HTTP_ON_TLS_REPLY);
        return;
      }
      // TLS (or garbage, which fails the handshake as before): the TLS socket reads what the
      // raw one holds before it reads the connection itself.
      raw.unshift(chunk);
      for (const l of handshakers) l.call(server, raw);
      raw.off('error', ignore);
    };
    raw.on('error', ignore);
    raw.on('data', onData);
    // The handshake timeout only starts with the handshake; until then this one holds.
    raw.setTimeout(opts.timeoutMs);
    raw.once('timeout', onTimeout);
  });
}

/**
 * An HTTP request line starts with a method: upper-case letters, then a space. A TLS record
 * starts with its content type (a ClientHello with 0x16) and an SSLv2 hello with a set high bit,
 * so neither is taken for one. The first chunk may end inside the method.
 */
function looksLikeHttpRequest(chunk: Buffer): boolean {
  const first = chunk[0];
  if (first === undefined || first < 0x41 || first > 0x5a) return false;
  const end = Math.min(chunk.length, 24);
  for (let i = 1; i < end; i++) {
    const c = chunk[i];
    if (c === 0x20) return true;
    if (!((c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f)) return false;
  }
  return chunk.length < 24;
}
