/**
 * The bundle an export ends in: a ZIP (zip.ts, streamed; ZIP64 past 4 GiB) holding
 * `metrics.jsonl` (the export lines as staged, already obfuscated), `metadata.json` and
 * `README.txt`, written under a temporary name in the output folder, fsynced and renamed when
 * whole, its SHA-256 computed from the bytes as they are written (never read back). An export
 * feeds its lines in as it stages them (`BundleWriter`), so the deflate runs beside the export,
 * on several threads, not after it.
 */

import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BufferPool } from '../common/buffer-pool.js';
import { VERSION } from '../common/version.js';
import { writeFully } from '../common/write-fully.js';
import type { ExportResult, Selection } from './types.js';
import { ZipWriter, type ZipEntryStream } from './zip.js';

export interface BundleInfo {
  readonly id: string;
  readonly createdAt: Date;
  readonly startMs: number;
  readonly endMs: number;
  readonly components: readonly string[];
  /** As they appear in the bundle: obfuscated when obfuscation is on. */
  readonly jobs: readonly string[];
  readonly series: number;
  readonly samples: number;
  readonly obfuscated: boolean;
  /** What was obfuscated and dropped: rule and label names, never values. */
  readonly obfuscation: { readonly instance: boolean; readonly job: boolean; readonly labels: readonly string[]; readonly drop: readonly string[] };
  readonly selection: Selection;
  /** `victoriametrics-single`, `prometheus`, ... */
  readonly sourceFlavour?: string;
  readonly sourceVersion?: string;
}

/** Bytes of the ZIP written at once. */
const OUTPUT_CHUNK = 1 << 20;
/** Bytes of staged lines read (and deflated) at once when a bundle is made from the staging file. */
const READ_CHUNK = 2 << 20;

/** Deflate level: 1 compresses export lines nearly as well as 6 (they repeat), at several times the speed. */
export const DEFAULT_COMPRESSION_LEVEL = 1;

/** `tributary-gather_<id>_<YYYYMMDD_HHMMSS>.zip` (UTC). */
export function bundleFileName(id: string, at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}_${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}`;
  return `tributary-gather_${id}_${stamp}.zip`;
}

/** What the temporary files of an export's bundle start with (a crash may leave one: `open()` removes them). */
export function tempPrefix(id: string): string {
  return `.tributary-gather_${id}.tmp-`;
}

export function metadataJson(info: BundleInfo): string {
  // selectors and queries name original label values (`{job="payments"}`): with obfuscation on
  // the bundle says only what kind of selection it was
  const selection = info.obfuscated
    ? 'query' in info.selection
      ? { mode: 'query', stepMs: info.selection.stepMs, withheld: 'the query is not included: obfuscation is on' }
      : { mode: 'selectors', count: info.selection.selectors.length, withheld: 'the selectors are not included: obfuscation is on' }
    : 'query' in info.selection
      ? { mode: 'query', query: info.selection.query, stepMs: info.selection.stepMs }
      : { mode: 'selectors', selectors: info.selection.selectors };
  return (
    JSON.stringify(
      {
        exportId: info.id,
        createdAt: info.createdAt.toISOString(),
        timeRange: { start: new Date(info.startMs).toISOString(), end: new Date(info.endMs).toISOString(), startMs: info.startMs, endMs: info.endMs },
        components: info.components,
        jobs: info.jobs,
        seriesCount: info.series,
        samplesCount: info.samples,
        obfuscated: info.obfuscated,
        obfuscation: info.obfuscated ? info.obfuscation : { drop: info.obfuscation.drop },
        selection,
        source: info.sourceFlavour ? { flavour: info.sourceFlavour, version: info.sourceVersion ?? 'unknown' } : undefined,
        tool: 'tributary gather',
        toolVersion: VERSION,
        format: 'VictoriaMetrics JSON lines (/api/v1/export), one series per line',
      },
      null,
      2,
    ) + '\n'
  );
}

export function readmeText(info: BundleInfo): string {
  const lines = [
    'Tributary gather bundle',
    '=======================',
    '',
    `This ZIP holds metrics exported by Tributary ${VERSION} (tributary gather) for troubleshooting.`,
    '',
    `Export id:   ${info.id}`,
    `Created:     ${info.createdAt.toISOString()}`,
    `Time range:  ${new Date(info.startMs).toISOString()} to ${new Date(info.endMs).toISOString()} (end excluded)`,
    `Series:      ${info.series}`,
    `Samples:     ${info.samples}`,
    `Components:  ${info.components.length > 0 ? info.components.join(', ') : '-'}`,
    `Jobs:        ${info.jobs.length > 0 ? info.jobs.join(', ') : '-'}`,
    '',
    'Files:',
    '  metrics.jsonl   one series per line in VictoriaMetrics export format:',
    '                  {"metric":{"__name__":...,...},"values":[...],"timestamps":[ms,...]}',
    '  metadata.json   what was exported, when, counts, and whether it is obfuscated',
    '  README.txt      this file',
    '',
  ];
  if (info.obfuscated) {
    const what = [info.obfuscation.instance ? 'instance (hosts became 777.777.x.y, ports kept)' : '', info.obfuscation.job ? 'job (became <component>-job-<n>)' : '']
      .filter((s) => s !== '')
      .concat(info.obfuscation.labels.map((l) => `${l} (became ${l}-<n>)`));
    lines.push(
      'Obfuscation: ON. Identifying label values were replaced before they were written:',
      ...what.map((w) => `  - ${w}`),
      '  Any other label carrying one of those original values was replaced by the same stand-in.',
      'The mapping from original to stand-in values is NOT part of this bundle: it stays with the',
      'exporting side, so the recipient cannot reverse it.',
    );
  } else {
    lines.push('Obfuscation: OFF. Label values are as the source stored them.');
  }
  if (info.obfuscation.drop.length > 0) lines.push(`Dropped labels: ${info.obfuscation.drop.join(', ')}`);
  lines.push(
    '',
    'Import into VictoriaMetrics:',
    '  unzip tributary-gather_*.zip metrics.jsonl',
    "  curl -X POST -H 'Content-Type: application/jsonl' --data-binary @metrics.jsonl http://<victoriametrics>:8428/api/v1/import",
    '(cluster: http://<vminsert>:8480/insert/<tenant>/prometheus/api/v1/import), or vmimporter.',
    '',
  );
  return lines.join('\n');
}

/**
 * A bundle being written: `metrics.jsonl` takes its bytes as they come (`write`), deflated off
 * the main thread while the export goes on; `finish` adds `metadata.json` and `README.txt`, makes
 * the file durable and renames it into place; `abort` leaves nothing behind.
 */
export class BundleWriter {
  readonly path: string;
  private readonly tmp: string;
  private readonly hash = createHash('sha256');
  private readonly zip: ZipWriter;
  private readonly file: Promise<FileHandle>;
  private readonly metrics: Promise<ZipEntryStream>;
  /** Archive bytes not yet written: gathered to OUTPUT_CHUNK (a write per deflated block cost more than the hashing). */
  private pieces: Buffer[] = [];
  private pendingBytes = 0;
  private position = 0;

  constructor(
    outputDir: string,
    readonly id: string,
    readonly createdAt: Date,
    private readonly compressionLevel = DEFAULT_COMPRESSION_LEVEL,
  ) {
    const name = bundleFileName(id, createdAt);
    this.path = join(outputDir, name);
    this.tmp = join(outputDir, `${tempPrefix(id)}${createdAt.getTime()}-${process.pid}-${randomBytes(4).toString('hex')}`);
    this.file = open(this.tmp, 'wx', 0o644);
    this.zip = new ZipWriter((piece) => this.output(piece));
    this.metrics = this.file.then(() => this.zip.entry('metrics.jsonl', { mtime: createdAt, level: compressionLevel }));
    // a failure is met by the next write or by finish; until then it is not unhandled
    this.metrics.catch(() => undefined);
  }

  /**
   * Appends to metrics.jsonl; resolves when there is room for more (the deflate keeps up).
   * `chunk` is read until `release` is called.
   */
  async write(chunk: Buffer, release?: () => void): Promise<void> {
    let metrics: ZipEntryStream;
    try {
      metrics = await this.metrics;
    } catch (err) {
      release?.();
      throw err;
    }
    await metrics.write(chunk, release);
  }

  async finish(info: BundleInfo): Promise<Omit<ExportResult, 'series' | 'samples'>> {
    try {
      await (await this.metrics).end();
      const opts = { mtime: this.createdAt, level: this.compressionLevel };
      await this.zip.add('metadata.json', Buffer.from(metadataJson(info)), opts);
      await this.zip.add('README.txt', Buffer.from(readmeText(info)), opts);
      await this.zip.finish();
      await this.flush();
      const fh = await this.file;
      // durable before it is named as done: the staged lines it replaces are deleted next
      await fh.sync();
      await fh.close();
      await rename(this.tmp, this.path);
      await syncDir(dirname(this.path));
    } catch (err) {
      await this.abort();
      throw err;
    }
    return { path: this.path, bytes: this.zip.bytes, sha256: this.hash.digest('hex') };
  }

  async abort(): Promise<void> {
    this.zip.abort();
    await this.file.then((fh) => fh.close()).catch(() => undefined);
    await rm(this.tmp, { force: true });
  }

  private async output(piece: Buffer): Promise<void> {
    this.hash.update(piece);
    this.pieces.push(piece);
    this.pendingBytes += piece.length;
    if (this.pendingBytes >= OUTPUT_CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const pieces = this.pieces;
    const n = this.pendingBytes;
    this.pieces = [];
    this.pendingBytes = 0;
    try {
      await writeFully(await this.file, pieces, this.position);
    } catch (err) {
      throw new Error(`bundle ${this.path}: ${(err as Error).message}`);
    }
    this.position += n;
  }
}

/** Makes a rename in `dir` durable (where the platform lets a folder be fsynced). */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  if (fh === undefined) return;
  try {
    await fh.sync().catch(() => undefined);
  } finally {
    await fh.close();
  }
}

/**
 * Writes the bundle from the staged lines at `metricsPath` into `outputDir` (an export resumed
 * after a stop: its earlier batches are on disk only); resolves with where it is and its
 * SHA-256. A failure leaves no bundle.
 */
export async function writeBundle(
  metricsPath: string,
  outputDir: string,
  info: BundleInfo,
  opts: { compressionLevel?: number; signal?: AbortSignal } = {},
): Promise<Omit<ExportResult, 'series' | 'samples'>> {
  const w = new BundleWriter(outputDir, info.id, info.createdAt, opts.compressionLevel);
  let fh: FileHandle | undefined;
  try {
    fh = await open(metricsPath, 'r');
    // the deflate reads a block after this loop has moved on: each buffer goes back when it is done
    const pool = new BufferPool(READ_CHUNK, 8);
    for (let pos = 0; ; ) {
      opts.signal?.throwIfAborted();
      const buf = pool.take();
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      await w.write(buf.subarray(0, bytesRead), () => pool.give(buf));
    }
  } catch (err) {
    await w.abort();
    throw err;
  } finally {
    await fh?.close();
  }
  return w.finish(info);
}
