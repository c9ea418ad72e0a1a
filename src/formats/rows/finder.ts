/**
 * `Buffer.indexOf` for one byte within a line, for the line parsers of the import paths (JSON
 * lines, CSV, Prometheus text), which get many lines out of one chunk. A plain indexOf from a
 * line's start runs on past the line's end when the byte is not in it — through the whole
 * chunk when it is in none of the lines after (a one-column CSV body has no comma at all), once
 * per line: quadratic. A `ByteFinder` remembers where its last search ended, so within a chunk
 * each byte is searched once whatever the lines hold. (It keeps the last chunk it searched.)
 */

export class ByteFinder {
  private buf: Buffer | undefined;
  /** Where the last search started, and what it found there (-1: nothing up to the buffer's end). */
  private from = 0;
  private at = -1;

  constructor(private readonly byte: number) {}

  /** The first `byte` at or after `from` and before `end`, or -1. */
  find(buf: Buffer, from: number, end: number): number {
    if (buf !== this.buf || from < this.from || (this.at >= 0 && this.at < from)) {
      this.buf = buf;
      this.from = from;
      this.at = buf.indexOf(this.byte, from);
    }
    return this.at >= 0 && this.at < end ? this.at : -1;
  }
}
