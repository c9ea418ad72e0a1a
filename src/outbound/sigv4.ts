/**
 * AWS Signature Version 4 for remote write (Amazon Managed Service for Prometheus, service
 * `aps`), as prometheus/common's sigv4 round tripper does it with aws-sdk-go's signer: every
 * request header signed except Authorization, User-Agent and X-Amzn-Trace-Id, plus Host and
 * Content-Length; the body's SHA-256 in the canonical request (no x-amz-content-sha256 header,
 * which only S3 wants); a session token sent and signed as X-Amz-Security-Token.
 *
 * Credentials and region are found as aws-sdk-go's session does with shared config enabled:
 * the block's access_key/secret_key; else, when `profile` is set, that profile of the shared
 * files; else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN); else the
 * AWS_PROFILE (or `default`) profile of ~/.aws/credentials and ~/.aws/config (or the files
 * AWS_SHARED_CREDENTIALS_FILE/AWS_CONFIG_FILE name). Region: the block's, AWS_REGION,
 * AWS_DEFAULT_REGION, the profile's. Not done, as both need calls to AWS: `role_arn`
 * (STS AssumeRole) and instance or container roles — such a signer refuses to sign, so nothing
 * goes out unsigned and the data waits in the queue.
 *
 * The signing itself (`signV4`) is a pure function of the request, the time and the keys,
 * tested with AWS's published test suite.
 */

import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export interface SigV4Request {
  readonly method: string;
  readonly url: URL;
  /** Every header to sign, Host and X-Amz-Date included; names in any case. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: Buffer | string;
}

export interface SigV4Signature {
  readonly canonicalRequest: string;
  readonly stringToSign: string;
  readonly authorization: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

/** Signs `req` as of its X-Amz-Date header. */
export function signV4(req: SigV4Request, credentials: AwsCredentials, region: string, service: string): SigV4Signature {
  const headers = new Map<string, string[]>();
  for (const [name, value] of Object.entries(req.headers)) {
    const key = name.toLowerCase();
    const list = headers.get(key) ?? [];
    for (const v of typeof value === 'string' ? [value] : value) list.push(v.trim().replace(/\s+/g, ' '));
    headers.set(key, list);
  }
  const amzDate = headers.get('x-amz-date')?.[0];
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate)) throw new Error('sigv4: the request needs an X-Amz-Date header');
  const names = [...headers.keys()].sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    req.method.toUpperCase(),
    uriEscape(req.url.pathname || '/', false),
    canonicalQuery(req.url.search),
    names.map((n) => `${n}:${headers.get(n)!.join(',')}\n`).join(''),
    signedHeaders,
    sha256(req.body),
  ].join('\n');
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key: Buffer = hmac('AWS4' + credentials.secretAccessKey, amzDate.slice(0, 8));
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return {
    canonicalRequest,
    stringToSign,
    authorization: `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

/** 20150830T123600Z */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * AWS's URI encoding: unreserved characters kept, every other byte %XX. A path is encoded as it
 * is sent (already escaped), so its escapes are escaped again — what AWS expects of every
 * service but S3.
 */
function uriEscape(s: string, encodeSlash: boolean): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(ch) || (ch === '/' && !encodeSlash)) out += ch;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Parameters decoded, then encoded AWS's way and sorted by name, then value. */
function canonicalQuery(search: string): string {
  if (search.length <= 1) return '';
  const pairs = search
    .slice(1)
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const [k, v] = eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)];
      return [uriEscape(decodeQuery(k), true), uriEscape(decodeQuery(v), true)] as const;
    });
  pairs.sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function decodeQuery(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** The keys of a remote_write `sigv4` block. */
export interface SigV4Config {
  readonly region?: string | undefined;
  readonly access_key?: string | undefined;
  readonly secret_key?: string | undefined;
  readonly profile?: string | undefined;
  readonly role_arn?: string | undefined;
}

/** Headers aws-sdk-go's signer is kept from signing (prometheus/common's deny list). */
const UNSIGNED_HEADERS = new Set(['authorization', 'user-agent', 'x-amzn-trace-id']);

/** Signs one remote_write URL's requests; credentials looked up anew for each (files change). */
export class SigV4Signer {
  constructor(
    private readonly config: SigV4Config,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly service = 'aps',
  ) {}

  /** The headers to add to a request: Authorization, X-Amz-Date and X-Amz-Security-Token. */
  async sign(method: string, url: URL, headers: Readonly<Record<string, string | readonly string[]>>, body: Buffer, now = new Date()): Promise<Record<string, string>> {
    if (this.config.role_arn) {
      throw new Error('sigv4.role_arn needs STS AssumeRole, which Tributary does not do: nothing is sent (give the role\'s keys instead)');
    }
    const { credentials, region } = await this.resolve();
    const added: Record<string, string> = { 'x-amz-date': amzDate(now) };
    if (credentials.sessionToken) added['x-amz-security-token'] = credentials.sessionToken;
    const toSign: Record<string, string | readonly string[]> = { host: url.host };
    for (const [name, value] of Object.entries(headers)) if (!UNSIGNED_HEADERS.has(name.toLowerCase())) toSign[name.toLowerCase()] = value;
    if (body.length > 0) toSign['content-length'] = String(body.length);
    Object.assign(toSign, added);
    const { authorization } = signV4({ method, url, headers: toSign, body }, credentials, region, this.service);
    return { ...added, authorization };
  }

  /** Throws naming what is missing. */
  async resolve(): Promise<{ credentials: AwsCredentials; region: string }> {
    const c = this.config;
    const env = this.env;
    const profileName = c.profile || env.AWS_PROFILE || 'default';
    // the shared files are read only when the block and the environment leave something out
    let profile: Record<string, string> | undefined;
    const fromProfile = async () => (profile ??= await this.profile(profileName));
    let credentials: AwsCredentials | undefined;
    const envKey = env.AWS_ACCESS_KEY_ID || env.AWS_ACCESS_KEY;
    const envSecret = env.AWS_SECRET_ACCESS_KEY || env.AWS_SECRET_KEY;
    if (c.access_key && c.secret_key) credentials = { accessKeyId: c.access_key, secretAccessKey: c.secret_key };
    else if (!c.profile && envKey && envSecret) credentials = { accessKeyId: envKey, secretAccessKey: envSecret, sessionToken: env.AWS_SESSION_TOKEN };
    else {
      const p = await fromProfile();
      if (p.aws_access_key_id && p.aws_secret_access_key) {
        credentials = { accessKeyId: p.aws_access_key_id, secretAccessKey: p.aws_secret_access_key, sessionToken: p.aws_session_token };
      }
    }
    if (credentials === undefined) {
      const missing = c.profile
        ? `profile ${JSON.stringify(profileName)} has no aws_access_key_id/aws_secret_access_key`
        : 'no access_key/secret_key, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or shared credentials profile';
      throw new Error(`sigv4: no AWS credentials (${missing}; instance and container roles are not supported): nothing is sent`);
    }
    const region = c.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || (await fromProfile()).region;
    if (!region) throw new Error('sigv4: no region (set sigv4.region, AWS_REGION or the profile\'s region): nothing is sent');
    return { credentials, region };
  }

  /** A profile's keys from the credentials file, then the config file. */
  private async profile(name: string): Promise<Record<string, string>> {
    const home = homedir();
    const credentialsFile = this.env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials');
    const configFile = this.env.AWS_CONFIG_FILE || join(home, '.aws', 'config');
    const fromConfig = (await readIni(configFile))[name === 'default' ? 'default' : `profile ${name}`] ?? {};
    const fromCredentials = (await readIni(credentialsFile))[name] ?? {};
    return { ...fromConfig, ...fromCredentials };
  }
}

/** The sections of an AWS shared config file; a missing file is empty. */
async function readIni(path: string): Promise<Record<string, Record<string, string>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return {};
  }
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (head) {
      section = out[head[1]] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (section && eq > 0) section[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return out;
}
