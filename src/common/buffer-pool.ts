/**
 * Buffers of one size handed out and given back for reuse. Large buffers made afresh cost more
 * than the bytes copied into them: glibc maps each one anew (a page fault per 4 KiB) and V8
 * counts them towards its next collection. A buffer given back while its bytes are still read
 * elsewhere is a bug of the caller; one of another size is left to the collector.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly max: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }

  give(buf: Buffer): void {
    if (buf.buffer.byteLength === this.size && buf.byteOffset === 0 && buf.length === this.size && this.free.length < this.max) this.free.push(buf);
  }
}
