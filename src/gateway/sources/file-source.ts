/**
 * A file holding an exposition page (textfile-collector style), re-read only when it changes.
 * Changes are noticed two ways: a watch on the directory (which sees atomic rename-replace,
 * where a watch on the file itself would stay bound to the old inode) and, as a fallback for
 * filesystems where watches miss events, a stat comparison (inode, size, mtime, ctime) on every
 * snapshot.
 *
 * A missing file means no data, not the last good page: writers delete their file when what it
 * described is gone, and serving it on would report a dead thing as alive. Other read errors
 * (permissions, I/O) are taken as passing and keep the last good page, and so is a file caught
 * while it is written (its last line unterminated, or its size or times changing during the
 * read): writers should write a temporary file and rename it into place, as node_exporter's
 * textfile collector asks. A page that is not valid UTF-8 is refused: no data.
 */

import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { FileSourceConfig } from '../../config/gateway-sources.js';
import type { Logger } from '../../log/logger.js';
import type { GatewaySource, ScrapeContext, SourceKind, SourceSnapshot } from '../source.js';
import { PageState, sniffFormat } from './page-state.js';

/**
 * Whether a page is whole: it ends with a newline (or is empty), as promtool requires, or ends
 * with OpenMetrics' `# EOF`, after which the newline is optional.
 */
export function isComplete(raw: Buffer): boolean {
  return raw.length === 0 || raw[raw.length - 1] === 0x0a || sniffFormat(raw) === 'openmetrics';
}

export class FileSource implements GatewaySource {
  readonly kind: SourceKind = 'file';
  readonly origin: string;
  private readonly page = new PageState();
  private readonly log: Logger;
  private watcher: FSWatcher | undefined;
  /** Set by the watcher: re-read even if stat looks the same (coarse mtimes). */
  private dirty = true;
  private statKey: string | undefined;
  private pending: Promise<SourceSnapshot> | undefined;

  constructor(
    readonly name: string,
    config: FileSourceConfig,
    logger: Logger,
  ) {
    this.origin = resolve(config.path);
    this.log = logger.child({ source: name, kind: 'file' });
    this.startWatch();
  }

  snapshot(_ctx: ScrapeContext): Promise<SourceSnapshot> {
    // Concurrent scrapes share one check; reading is quick, so the scrape signal is not needed.
    this.pending ??= this.check().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async check(): Promise<SourceSnapshot> {
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const st = await stat(this.origin, { bigint: true });
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      if (!this.dirty && key === this.statKey && this.page.attemptCount > 0 && this.page.snapshot.ok) {
        return this.page.snapshot;
      }
      // Cleared before reading: a change during the read marks it dirty again for next time.
      this.dirty = false;
      const raw = await readFile(this.origin);
      const after = await stat(this.origin, { bigint: true });
      const changing = `${after.dev}:${after.ino}:${after.size}:${after.mtimeNs}:${after.ctimeNs}` !== key;
      if (changing || !isComplete(raw)) {
        // Caught mid-write: the next scrape reads it again. Until then the last complete
        // version stands, marked as failing so that a file left like this does not go unseen.
        this.dirty = true;
        const why = changing ? 'changed while it was read' : 'ends in the middle of a line';
        return this.page.fail(`file ${this.origin} ${why} (still being written? write to a temporary file and rename it into place); serving the last complete version`, seconds(), 'keep-last-good');
      }
      this.statKey = key;
      return this.page.accept(raw, sniffFormat(raw), seconds(), 'no-data');
    } catch (err) {
      this.statKey = undefined;
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return this.page.fail(`file ${this.origin} does not exist`, seconds(), 'no-data');
      this.log.warn('cannot read file', { err: e.message });
      return this.page.fail(`cannot read ${this.origin}: ${e.message}`, seconds(), 'keep-last-good');
    }
  }

  private startWatch(): void {
    const file = basename(this.origin);
    try {
      this.watcher = watch(dirname(this.origin), { persistent: false }, (_event, filename) => {
        if (filename === null || filename.toString() === file) this.dirty = true;
      });
      this.watcher.on('error', (err) => {
        // The directory went away or the watch broke: stat checks carry on alone.
        this.log.debug('file watch stopped', { err });
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.log.debug('cannot watch directory; relying on stat checks', { err });
    }
  }
}
