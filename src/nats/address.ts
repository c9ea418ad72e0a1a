/**
 * The NATS address form shared by remote_write URLs and `ingest.nats` (see index.ts). Apart from
 * the client so that the configuration's checks do not load it.
 */

export interface NatsAddress {
  readonly servers: readonly string[];
  readonly subject: string;
  readonly stream: string;
  readonly replicas: number;
  readonly user?: string;
  readonly pass?: string;
  /** The address with the password hidden, for logs and pages. */
  readonly shown: string;
}

const ADDRESS = /^nats:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)\/([^?#]+)(?:\?([^#]*))?$/;
const SUBJECT = /^[^\s*>]+$/;
const STREAM_NAME = /^[^\s.*>/\\]+$/;

export function isNatsUrl(url: string): boolean {
  return url.startsWith('nats://');
}

/** Throws an Error saying what is wrong with the address. */
export function parseNatsUrl(url: string): NatsAddress {
  const m = ADDRESS.exec(url);
  if (!m) throw new Error(`${JSON.stringify(redactNats(url))} is not nats://HOST:PORT[,HOST:PORT…]/SUBJECT[?stream=NAME&replicas=N]`);
  const [, user, pass, hosts, rawSubject, query] = m;
  const subject = decodeURIComponent(rawSubject);
  if (!SUBJECT.test(subject) || subject.split('.').some((t) => t === '')) {
    throw new Error(`${JSON.stringify(subject)} is not a subject to publish to (no spaces, wildcards or empty tokens)`);
  }
  const servers = hosts.split(',').map((h) => h.trim());
  for (const h of servers) if (!/^[^:\s]+:\d+$|^\[[0-9a-fA-F:.]+\]:\d+$/.test(h)) throw new Error(`${JSON.stringify(h)} is not HOST:PORT`);
  const params = new URLSearchParams(query ?? '');
  for (const k of params.keys()) if (k !== 'stream' && k !== 'replicas') throw new Error(`unknown parameter ${JSON.stringify(k)} (stream, replicas)`);
  const stream = params.get('stream') ?? `tributary_${subject.replace(/[.*>]/g, '_')}`;
  if (!STREAM_NAME.test(stream)) throw new Error(`${JSON.stringify(stream)} is not a stream name (no spaces, dots, wildcards or slashes)`);
  const replicas = Number(params.get('replicas') ?? '1');
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new Error(`replicas must be 1 to 5, got ${JSON.stringify(params.get('replicas'))}`);
  return {
    servers: servers.map((s) => `nats://${s}`),
    subject,
    stream,
    replicas,
    user: user ? decodeURIComponent(user) : undefined,
    pass: pass ? decodeURIComponent(pass) : undefined,
    shown: redactNats(url),
  };
}

export function redactNats(url: string): string {
  return url.replace(/^(nats:\/\/[^:@/]*):[^@/]*@/, '$1:<secret>@');
}

