/**
 * The file path patterns Prometheus allows for file_sd and `scrape_config_files`: wildcards
 * (`*`, `?`) only in the last path component, so a pattern is one directory to list plus a name
 * matcher. Hidden files are matched like any other, as Go's filepath.Glob does.
 */

import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface FilePattern {
  readonly dir: string;
  /** undefined when the pattern names one file. */
  readonly matcher: RegExp | undefined;
  readonly path: string;
}

export function compilePattern(pattern: string): FilePattern {
  const name = basename(pattern);
  if (!/[*?]/.test(name)) return { dir: dirname(pattern), matcher: undefined, path: pattern };
  const source = [...name]
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.+()[\]{}|]/g, '\\$&')))
    .join('');
  return { dir: dirname(pattern), matcher: new RegExp(`^${source}$`, 's'), path: pattern };
}

/** The existing files the pattern matches, sorted; a missing directory matches nothing. */
export async function expandPattern(p: FilePattern): Promise<string[]> {
  if (!p.matcher) {
    const exists = await stat(p.path).then((s) => s.isFile(), () => false);
    return exists ? [p.path] : [];
  }
  let entries: string[];
  try {
    entries = await readdir(p.dir);
  } catch {
    return [];
  }
  const matcher = p.matcher;
  return entries
    .filter((e) => matcher.test(e))
    .sort()
    .map((e) => join(p.dir, e));
}
