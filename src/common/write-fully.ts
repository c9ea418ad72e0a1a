import type { FileHandle } from 'node:fs/promises';

/**
 * Writes every byte of `bufs` at `position`. A short write (a disk filling up) goes on with the
 * rest, so that what stops it is the system's own error (`ENOSPC: no space left on device`)
 * rather than a byte count that names no cause.
 */
export async function writeFully(fh: FileHandle, bufs: readonly Buffer[], position: number): Promise<void> {
  let list = bufs.filter((b) => b.length > 0);
  let pos = position;
  while (list.length > 0) {
    const { bytesWritten } = await fh.writev(list, pos);
    if (bytesWritten <= 0) throw Object.assign(new Error(`EIO: a write at offset ${pos} wrote nothing`), { code: 'EIO' });
    pos += bytesWritten;
    let skip = bytesWritten;
    while (skip > 0) {
      const first = list[0];
      if (first.length <= skip) {
        skip -= first.length;
        list = list.slice(1);
      } else {
        list = [first.subarray(skip), ...list.slice(1)];
        skip = 0;
      }
    }
  }
}

/** An error of the file system in words: its own message, which names the cause (ENOSPC, EROFS, EACCES), for a bare code. */
export function fsProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EROFS: 'the file system is read-only',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOENT: 'no such folder',
    ENOTDIR: 'not a folder',
    EIO: 'input/output error',
  };
  return e.code !== undefined && words[e.code] !== undefined ? `${words[e.code]} (${e.code})` : (e.message ?? String(err));
}
