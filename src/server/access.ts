/**
 * Access rules for HTTP routes: Basic auth against bcrypt hashes and bearer tokens (inline or
 * from files), checked per request, with `protect` to put a rule in front of a handler.
 *
 * bcrypt is slow on purpose, and a scraper sends the same credentials every few seconds, so
 * successful verifications are remembered in a small cache. Its keys are HMACs of the
 * credentials under a per-process random key: nothing in memory can be turned back into a
 * password, or even checked against a guess without that key.
 */

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Handler } from './http-server.js';
import { sendText } from './respond.js';

/** The shape of `accessSchema` (config/access.ts) once parsed. */
export interface AccessConfig {
  /** User name → bcrypt hash of the password. */
  basic_auth_users?: Record<string, string>;
  bearer_tokens?: string[];
  /** Files each holding one token (surrounding whitespace ignored); read when the rule is built. */
  bearer_token_files?: string[];
}

export type AccessResult =
  | { ok: true; user?: string }
  | { ok: false; status: 401; wwwAuthenticate: string[] };

/** Checks a password against a bcrypt hash; injectable so tests can count calls. */
export type PasswordVerifier = (password: string, hash: string) => Promise<boolean>;

export interface AccessRuleOptions {
  verify?: PasswordVerifier;
  /** Verified credentials remembered; the oldest are forgotten first. */
  cacheSize?: number;
}

export const REALM = 'tributary';
const DEFAULT_CACHE_SIZE = 256;

// loaded on first use: only servers with basic auth need it
const bcryptVerify: PasswordVerifier = async (password, hash) => (await import('bcryptjs')).default.compare(password, hash);

export class AccessRule {
  private readonly users: Map<string, string>;
  /** SHA-256 digests of the tokens, so every comparison is between equal-length buffers. */
  private readonly tokenDigests: Buffer[];
  private readonly verify: PasswordVerifier;
  private readonly cacheSize: number;
  private readonly cacheKey = randomBytes(32);
  /** Verified credential HMAC → user; a Map's insertion order makes it an LRU. */
  private readonly verified = new Map<string, string>();
  /** Verifications under way, so a burst with the same credentials costs one bcrypt round. */
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly challenges: string[];

  constructor(users: Record<string, string>, tokens: readonly string[], opts: AccessRuleOptions = {}) {
    this.users = new Map(Object.entries(users));
    this.tokenDigests = tokens.map(sha256);
    this.verify = opts.verify ?? bcryptVerify;
    this.cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.challenges = [];
    if (this.users.size > 0) this.challenges.push(`Basic realm="${REALM}"`);
    if (this.tokenDigests.length > 0) this.challenges.push(`Bearer realm="${REALM}"`);
    if (this.challenges.length === 0) throw new Error('an access rule needs at least one user or bearer token');
  }

  /** Builds a rule from its configuration, reading token files; errors name the file. */
  static async fromConfig(config: AccessConfig, opts?: AccessRuleOptions): Promise<AccessRule> {
    const tokens = [...(config.bearer_tokens ?? [])];
    for (const file of config.bearer_token_files ?? []) tokens.push(await readTokenFile(file));
    return new AccessRule(config.basic_auth_users ?? {}, tokens, opts);
  }

  async check(req: IncomingMessage): Promise<AccessResult> {
    const header = req.headers.authorization;
    const space = header?.indexOf(' ') ?? -1;
    if (header !== undefined && space > 0) {
      const scheme = header.slice(0, space).toLowerCase();
      const credentials = header.slice(space + 1).trim();
      if (scheme === 'basic' && this.users.size > 0) {
        const user = await this.checkBasic(credentials);
        if (user !== undefined) return { ok: true, user };
      } else if (scheme === 'bearer' && this.tokenDigests.length > 0) {
        if (this.checkToken(credentials)) return { ok: true };
      }
    }
    return { ok: false, status: 401, wwwAuthenticate: this.challenges };
  }

  private async checkBasic(encoded: string): Promise<string | undefined> {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const key = createHmac('sha256', this.cacheKey).update(user).update('\0').update(password).digest('base64');

    const cached = this.verified.get(key);
    if (cached !== undefined) {
      this.verified.delete(key);
      this.verified.set(key, cached);
      return cached;
    }
    let verifying = this.pending.get(key);
    if (!verifying) {
      verifying = this.verifyPassword(user, password).finally(() => this.pending.delete(key));
      this.pending.set(key, verifying);
    }
    if (!(await verifying)) return undefined;
    if (!this.verified.has(key)) {
      this.verified.set(key, user);
      if (this.verified.size > this.cacheSize) this.verified.delete(this.verified.keys().next().value as string);
    }
    return user;
  }

  private async verifyPassword(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    // An unknown user still costs a bcrypt round, so timing does not tell which names exist.
    const ok = await this.verify(password, hash ?? this.users.values().next().value!).catch(() => false);
    return ok && hash !== undefined;
  }

  private checkToken(token: string): boolean {
    const presented = sha256(token);
    let match = false;
    // Every token is compared, so the time taken does not depend on which one matched.
    for (const digest of this.tokenDigests) match = timingSafeEqual(presented, digest) || match;
    return match;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

async function readTokenFile(file: string): Promise<string> {
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message.split('\n')[0];
    throw new Error(`cannot read bearer token file ${file}: ${why}`, { cause: err });
  }
  const token = content.trim();
  if (token === '') throw new Error(`bearer token file ${file} is empty`);
  return token;
}

const users = new WeakMap<IncomingMessage, string>();

/** The Basic-auth user a `protect`ed handler's request was let in as, if any. */
export function authenticatedUser(req: IncomingMessage): string | undefined {
  return users.get(req);
}

const guarded = new WeakSet<Handler>();

/** Whether `handler` came from `protect`, so a server-wide rule must not be applied on top. */
export function hasOwnAccessRule(handler: Handler): boolean {
  return guarded.has(handler);
}

/** Answers 401 unless `rule` lets the request in; then runs `handler`. */
export function protect(rule: AccessRule, handler: Handler): Handler {
  const wrapped: Handler = async (req: IncomingMessage, res: ServerResponse) => {
    const result = await rule.check(req);
    if (!result.ok) {
      res.setHeader('WWW-Authenticate', result.wwwAuthenticate);
      sendText(res, result.status, '401 unauthorized\n');
      return;
    }
    if (result.user !== undefined) users.set(req, result.user);
    await handler(req, res);
  };
  guarded.add(wrapped);
  return wrapped;
}
