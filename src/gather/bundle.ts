/**
 * The bundle an export ends in: a ZIP (yazl, streamed; ZIP64 past 4 GiB) holding
 * `metrics.jsonl` (the export lines as staged, already obfuscated), `metadata.json` and
 * `README.txt`, written under a temporary name in the output folder and renamed when whole, its
 * SHA-256 computed from the bytes as they are written (never read back). An export feeds its
 * lines in as it stages them (`BundleWriter`), so the deflate runs beside the export, not after.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';
import yazl from 'yazl';
import { VERSION } from '../common/version.js';
import type { ExportResult, Selection } from './types.js';

// yazl checksums every byte with buffer-crc32, a table loop in JavaScript (~70 MB/s, as much
// time as the deflate itself); node:zlib's crc32 is native. Same function, same results.
{
  const fromYazl = createRequire(createRequire(import.meta.url).resolve('yazl'));
  const bufferCrc32 = fromYazl('buffer-crc32') as { unsigned: (buf: Buffer, previous?: number) => number };
  bufferCrc32.unsigned = (buf: Buffer, previous?: number) => zlibCrc32(buf, previous ?? 0);
}

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
 * A bundle being written: `metrics.jsonl` takes its bytes as they come (`write`), deflated by
 * node:zlib off the main thread while the export goes on; `finish` adds `metadata.json` and
 * `README.txt` and renames the file into place; `abort` leaves nothing behind.
 */
export class BundleWriter {
  readonly path: string;
  private readonly tmp: string;
  private readonly zip = new yazl.ZipFile();
  private readonly metrics = new PassThrough({ highWaterMark: 4 << 20 });
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private readonly written: Promise<void>;
  private failed: unknown;

  constructor(
    outputDir: string,
    readonly id: string,
    readonly createdAt: Date,
    compressionLevel = DEFAULT_COMPRESSION_LEVEL,
  ) {
    const name = bundleFileName(id, createdAt);
    this.path = join(outputDir, name);
    this.tmp = join(outputDir, `${tempPrefix(id)}${createdAt.getTime()}-${process.pid}-${randomBytes(4).toString('hex')}`);
    this.zip.addReadStream(this.metrics, 'metrics.jsonl', { mtime: createdAt, compressionLevel });
    // the deflate hands out 16 KiB pieces: gathered to 1 MiB before each write (a write per piece
    // cost the main thread more than the hashing)
    let pieces: Buffer[] = [];
    let pending = 0;
    const tap = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.hash.update(chunk);
        this.bytes += chunk.length;
        pieces.push(chunk);
        pending += chunk.length;
        if (pending < OUTPUT_CHUNK) return cb();
        const out = Buffer.concat(pieces, pending);
        pieces = [];
        pending = 0;
        cb(null, out);
      },
      flush: (cb) => cb(null, pending > 0 ? Buffer.concat(pieces, pending) : undefined),
    });
    this.written = pipeline(this.zip.outputStream, tap, createWriteStream(this.tmp, { flags: 'wx', mode: 0o644 }));
    this.written.catch((err: unknown) => {
      this.failed = err;
      // a writer waiting for room is let go; its next write throws
      this.metrics.emit('drain');
    });
  }

  /** Appends to metrics.jsonl; resolves when there is room for more (the deflate keeps up). */
  async write(chunk: Buffer): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    if (!this.metrics.write(chunk)) await once(this.metrics, 'drain');
    if (this.failed !== undefined) throw this.failed;
  }

  async finish(info: BundleInfo): Promise<Omit<ExportResult, 'series' | 'samples'>> {
    try {
      this.metrics.end();
      const mtime = this.createdAt;
      this.zip.addBuffer(Buffer.from(metadataJson(info)), 'metadata.json', { mtime });
      this.zip.addBuffer(Buffer.from(readmeText(info)), 'README.txt', { mtime });
      this.zip.end();
      await this.written;
      await rename(this.tmp, this.path);
    } catch (err) {
      await this.abort();
      throw err;
    }
    return { path: this.path, bytes: this.bytes, sha256: this.hash.digest('hex') };
  }

  async abort(): Promise<void> {
    this.metrics.destroy();
    (this.zip.outputStream as Readable).destroy();
    await this.written.catch(() => undefined);
    await rm(this.tmp, { force: true });
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
  try {
    for await (const chunk of createReadStream(metricsPath, { highWaterMark: 1 << 20, signal: opts.signal })) await w.write(chunk as Buffer);
  } catch (err) {
    await w.abort();
    throw err;
  }
  return w.finish(info);
}
