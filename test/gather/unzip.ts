/** A bundle opened with the system's unzip (a real reader of the ZIP, not ours). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const UNZIP = '/usr/bin/unzip';

export function unzipBundle(zip: string): { files: string[]; metrics: string; metadata: Record<string, unknown>; readme: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gather-unzip-'));
  // -t first: the CRCs are checked, not just the entries listed
  execFileSync(UNZIP, ['-tq', zip]);
  execFileSync(UNZIP, ['-q', zip, '-d', dir]);
  return {
    files: readdirSync(dir).sort(),
    metrics: readFileSync(join(dir, 'metrics.jsonl'), 'utf8'),
    metadata: JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as Record<string, unknown>,
    readme: readFileSync(join(dir, 'README.txt'), 'utf8'),
  };
}

/** Lines of a metrics.jsonl, sorted (batches and splits order lines differently; content is what counts). */
export function sortedLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '').sort();
}

/** Every series of a metrics.jsonl with its points merged across lines, keyed by its metric (labels sorted). */
export function seriesOf(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const o = JSON.parse(line) as { metric: Record<string, string>; values: unknown[]; timestamps: number[] };
    const key = JSON.stringify(Object.fromEntries(Object.entries(o.metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
    let pts = out.get(key);
    if (pts === undefined) out.set(key, (pts = []));
    o.timestamps.forEach((t, i) => (pts as string[]).push(`${t}=${String(o.values[i])}`));
  }
  for (const pts of out.values()) pts.sort();
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}
