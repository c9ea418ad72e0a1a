/**
 * The wizard's imports: running `ImportJob`s by id (a preflight is one run with `dryRun`), a
 * failed or cancelled one started again under its id (it resumes from its saved point),
 * bundles uploaded from the browser kept under `<data-dir>/import-uploads/`, and the recent
 * connection profiles (`<data-dir>/import-profiles.json`: URL, tenant, kind of auth and user
 * name, TLS choice — never a password, token or header value).
 */

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { ImportJob, type ImportOptions, type ImportStatus } from './import-job.js';
import type { ConnectionConfig } from './types.js';

/** An upload larger than this is refused (413); a bundle of a month of a large cluster fits. */
export const MAX_UPLOAD_BYTES = 64 * 1024 ** 3;
/** Profiles kept, most recent first. */
const MAX_PROFILES = 10;
/** Finished imports are listed this long. */
const KEEP_FINISHED_MS = 30 * 60_000;

export interface ImportProfile {
  readonly url: string;
  readonly tenant?: string;
  readonly protocol?: string;
  readonly queryUrl?: string;
  readonly authType: string;
  readonly username?: string;
  readonly headerName?: string;
  readonly insecureSkipVerify?: boolean;
  readonly usedAt: string;
}

interface Entry {
  readonly id: string;
  job: ImportJob;
  run: Promise<ImportStatus>;
  finishedAt?: number;
}

export class ImportJobs {
  private readonly jobs = new Map<string, Entry>();

  constructor(private readonly dataDir: string) {}

  get uploadDir(): string {
    return join(this.dataDir, 'import-uploads');
  }

  /** Starts an import (or a preflight, with `dryRun`); its id and first status. */
  start(options: Omit<ImportOptions, 'dataDir'>): { id: string; status: ImportStatus } {
    this.prune();
    const id = randomBytes(8).toString('hex');
    const job = new ImportJob({ ...options, dataDir: this.dataDir });
    const e: Entry = { id, job, run: this.track(job) };
    this.jobs.set(id, e);
    if (!options.dryRun) void this.remember(options.target);
    return { id, status: job.status() };
  }

  private track(job: ImportJob): Promise<ImportStatus> {
    return job.run().then((s) => {
      for (const e of this.jobs.values()) if (e.job === job) e.finishedAt = Date.now();
      return s;
    });
  }

  get(id: string): ImportJob | undefined {
    return this.jobs.get(id)?.job;
  }

  list(): { id: string; status: ImportStatus }[] {
    this.prune();
    return [...this.jobs.values()].map((e) => ({ id: e.id, status: e.job.status() }));
  }

  cancel(id: string): boolean {
    const e = this.jobs.get(id);
    if (e === undefined) return false;
    e.job.cancel();
    return true;
  }

  /** Starts a stopped import again under its id: it goes on from its saved point. `connection` replaces the one it had (credentials given again). */
  resume(id: string, connection?: ConnectionConfig): ImportStatus {
    const e = this.jobs.get(id);
    if (e === undefined) throw new Error(`no import ${id}`);
    const stage = e.job.status().stage;
    if (stage !== 'failed' && stage !== 'canceled') throw new Error(`import ${id} is ${stage}: only a failed or cancelled import resumes`);
    const o = e.job.options;
    const job = new ImportJob({ ...o, restart: false, target: connection !== undefined ? { ...o.target, ...connection } : o.target });
    e.job = job;
    e.finishedAt = undefined;
    e.run = this.track(job);
    return job.status();
  }

  /** Streams an upload to a file of its own; its path. Throws when it is over the limit or the disk refuses it (the partial file removed). */
  async upload(body: Readable, name: string, declaredBytes: number | undefined): Promise<{ path: string; bytes: number }> {
    if (declaredBytes !== undefined && declaredBytes > MAX_UPLOAD_BYTES) throw new UploadTooLarge();
    await mkdir(this.uploadDir, { recursive: true, mode: 0o700 });
    const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 100) || 'upload';
    const path = join(this.uploadDir, `${randomBytes(6).toString('hex')}-${safe}`);
    let bytes = 0;
    const counter = async function* (src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const c of src) {
        bytes += c.length;
        if (bytes > MAX_UPLOAD_BYTES) throw new UploadTooLarge();
        yield c;
      }
    };
    try {
      await pipeline(body, counter, createWriteStream(path, { mode: 0o600 }));
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    return { path, bytes };
  }

  async profiles(): Promise<ImportProfile[]> {
    try {
      const v = JSON.parse(await readFile(join(this.dataDir, 'import-profiles.json'), 'utf8')) as unknown;
      return Array.isArray(v) ? (v as ImportProfile[]) : [];
    } catch {
      return [];
    }
  }

  /** Keeps the connection without its secrets, most recent first. */
  private async remember(c: ImportOptions['target']): Promise<void> {
    const a = c.auth;
    const p: ImportProfile = {
      url: c.url,
      ...(c.tenant !== undefined ? { tenant: c.tenant } : {}),
      ...(c.protocol !== undefined ? { protocol: c.protocol } : {}),
      ...(c.queryUrl !== undefined ? { queryUrl: c.queryUrl } : {}),
      authType: a?.type ?? 'none',
      ...(a?.type === 'basic' ? { username: a.username } : {}),
      ...(a?.type === 'header' ? { headerName: a.name } : {}),
      ...(c.tls?.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
      usedAt: new Date().toISOString(),
    };
    const same = (q: ImportProfile): boolean => q.url === p.url && q.tenant === p.tenant && q.authType === p.authType && q.username === p.username;
    const list = [p, ...(await this.profiles()).filter((q) => !same(q))].slice(0, MAX_PROFILES);
    const path = join(this.dataDir, 'import-profiles.json');
    try {
      await mkdir(this.dataDir, { recursive: true });
      await writeFile(`${path}.tmp`, JSON.stringify(list, null, 1), { mode: 0o600 });
      await rename(`${path}.tmp`, path);
    } catch {
      // profiles are a convenience: a read-only data folder only loses them
    }
  }

  /** Stops running imports (they resume when started again) and waits for them. */
  async close(): Promise<void> {
    for (const e of this.jobs.values()) e.job.cancel();
    await Promise.all([...this.jobs.values()].map((e) => e.run.catch(() => undefined)));
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, e] of this.jobs) if (e.finishedAt !== undefined && now - e.finishedAt > KEEP_FINISHED_MS) this.jobs.delete(id);
  }
}

export class UploadTooLarge extends Error {
  constructor() {
    super(`the upload is over ${MAX_UPLOAD_BYTES / 1024 ** 3} GiB`);
  }
}
