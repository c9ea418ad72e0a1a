/**
 * `file_sd_configs`: target groups from JSON and YAML files named by path patterns, re-read
 * when their directories change (fs.watch) and every refresh_interval regardless, because
 * watches miss events on some filesystems (NFS, some container mounts). Like Prometheus, a
 * file that cannot be read or parsed keeps the groups it last yielded, so a half-written edit
 * does not drop targets; a file that is gone drops its groups.
 */

import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FileSdConfig } from '../config/discovery.js';
import type { Logger } from '../log/logger.js';
import { compilePattern, expandPattern, type FilePattern } from '../common/glob.js';
import { groupsFromDocument } from './group-document.js';
import { jsonErrorPosition } from './json-position.js';
import { decodeUtf8 } from '../model/utf8.js';
import type { Discoverer, FailureHandler, TargetGroup, UpdateHandler } from './target-group.js';
import { GroupReporter } from './target-group.js';

export const FILEPATH_LABEL = '__meta_filepath';

/** Editors and `mv` produce bursts of events; one re-read after the burst is enough. */
const DEBOUNCE_MS = 50;

export class FileDiscoverer implements Discoverer {
  private readonly patterns: FilePattern[];
  private readonly byFile = new Map<string, TargetGroup[]>();
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly log: Logger;
  private readonly reporter: GroupReporter;

  constructor(
    private readonly config: FileSdConfig,
    logger: Logger,
  ) {
    this.patterns = config.files.map(compilePattern);
    this.log = logger.child({ discovery: 'file' });
    this.reporter = new GroupReporter(this.log);
  }

  start(onUpdate: UpdateHandler, onFailure?: FailureHandler): void {
    this.reporter.start(onUpdate, onFailure);
    for (const dir of new Set(this.patterns.map((p) => p.dir))) this.watchDir(dir);
    this.timer = setInterval(() => this.refresh(), this.config.refresh_interval);
    this.refresh();
  }

  private watchDir(dir: string): void {
    try {
      const w = watch(dir, { persistent: false }, () => this.scheduleRefresh());
      w.on('error', (err) => this.log.warn('file watch failed; relying on refresh_interval', { dir, err }));
      this.watchers.push(w);
    } catch (err) {
      this.log.warn('cannot watch directory; relying on refresh_interval', { dir, err: err as Error });
    }
  }

  private scheduleRefresh(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.refresh(), DEBOUNCE_MS);
  }

  /** Serialized: a change seen during a refresh triggers one more afterwards. */
  private refresh(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.readAll().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    });
  }

  private async readAll(): Promise<void> {
    const files = new Set<string>();
    for (const p of this.patterns) for (const f of await expandPattern(p)) files.add(f);
    for (const f of this.byFile.keys()) if (!files.has(f)) this.byFile.delete(f);
    let failed = false;
    for (const f of files) {
      try {
        this.byFile.set(f, await readGroups(f));
      } catch (err) {
        // Keep the previous groups of f (if any): it may be mid-edit.
        this.log.error('cannot read file_sd file; keeping its previous targets', { file: f, err: err as Error });
        this.reporter.failed(err, f);
        failed = true;
      }
    }
    if (this.closed) return;
    const groups = [...files].flatMap((f) => this.byFile.get(f) ?? []);
    this.reporter.report(groups, !failed);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    await this.running;
  }
}

/** Throws an Error whose message locates the problem in the file. */
export async function readGroups(file: string): Promise<TargetGroup[]> {
  const bytes = await readFile(file);
  const isJson = extname(file).toLowerCase() === '.json';
  // Prometheus reads JSON leniently (Go's encoding/json turns bad bytes into U+FFFD) and YAML
  // strictly; so does this.
  let text: string;
  if (isJson) text = bytes.toString('utf8');
  else {
    const r = decodeUtf8(bytes);
    if (!r.ok) throw new Error(`invalid YAML at line ${r.line}, column ${r.column}: ${r.message}`);
    text = r.text;
  }
  const doc = isJson ? parseJson(text) : await parseYaml(text);
  return groupsFromDocument(doc, file, { [FILEPATH_LABEL]: file }, { rejectUnknownKeys: !isJson });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const at = jsonErrorPosition(text);
    const where = at ? ` at line ${at.line}, column ${at.column}` : '';
    throw new Error(`invalid JSON${where}: ${(err as Error).message}`);
  }
}

/** The YAML parser is loaded on the first YAML file: most agents never read one after start. */
async function parseYaml(text: string): Promise<unknown> {
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const at = err.linePos?.[0];
    const where = at ? ` at line ${at.line}, column ${at.col}` : '';
    throw new Error(`invalid YAML${where}: ${err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  return doc.toJS();
}
