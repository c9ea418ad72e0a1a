/**
 * The binary form of the aggregation state: numbers as little-endian float64 or uint32, label
 * sets as their packed form's bytes (one byte per character, labels-packed.ts), written into
 * one growing buffer and read back with bounds checked — a damaged file is an error, never a
 * wrong state.
 */

import { endianness } from 'node:os';

/** Typed arrays are copied as bytes where their order is the file's. */
const LITTLE_ENDIAN = endianness() === 'LE';

export class StateWriter {
  private buf: Buffer;
  private view: DataView;
  length = 0;

  /** `size`: what it will probably hold (the last state's size), so that it seldom grows. */
  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, size));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  u32(n: number): void {
    this.room(4);
    this.view.setUint32(this.length, n, true);
    this.length += 4;
  }

  f64(n: number): void {
    this.room(8);
    this.view.setFloat64(this.length, n, true);
    this.length += 8;
  }

  /** `n` values of `a` from 0, as raw float64. */
  f64s(a: Float64Array | readonly number[], n: number): void {
    this.room(8 * n);
    if (a instanceof Float64Array && LITTLE_ENDIAN) return this.raw(a, 8 * n);
    for (let i = 0; i < n; i++) this.view.setFloat64(this.length + 8 * i, a[i], true);
    this.length += 8 * n;
  }

  /** `n` values of `a` from 0, as int32. */
  i32s(a: Int32Array, n: number): void {
    this.room(4 * n);
    if (LITTLE_ENDIAN) return this.raw(a, 4 * n);
    for (let i = 0; i < n; i++) this.view.setInt32(this.length + 4 * i, a[i], true);
    this.length += 4 * n;
  }

  /** The first `bytes` bytes of `a` as they are, at any offset: the state holds millions of numbers. */
  private raw(a: ArrayBufferView, bytes: number): void {
    this.length += Buffer.from(a.buffer, a.byteOffset, bytes).copy(this.buf, this.length);
  }

  /** A one-byte-per-character string (a packed label set), length first. */
  latin1(s: string): void {
    this.u32(s.length);
    this.room(s.length);
    this.length += this.buf.write(s, this.length, 'latin1');
  }

  /** Empty again, its buffer kept for the next state. */
  reset(): this {
    this.length = 0;
    return this;
  }

  /** Writes `n` at `at`, which must be written already (a length known only afterwards). */
  patchU32(at: number, n: number): void {
    this.view.setUint32(at, n, true);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

export class StateReader {
  private readonly view: DataView;
  private at = 0;

  constructor(private readonly buf: Buffer) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** The next `n` bytes as a reader of their own (a section that may be skipped). */
  section(n: number): StateReader {
    this.need(n);
    const r = new StateReader(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return r;
  }

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new Error(`the state ends early (at byte ${this.at}, ${n} more needed)`);
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }

  f64s(into: Float64Array | number[], n: number): void {
    this.need(8 * n);
    if (into instanceof Float64Array && LITTLE_ENDIAN) return this.raw(into, 8 * n);
    for (let i = 0; i < n; i++) into[i] = this.view.getFloat64(this.at + 8 * i, true);
    this.at += 8 * n;
  }

  i32s(into: Int32Array, n: number): void {
    this.need(4 * n);
    if (LITTLE_ENDIAN) return this.raw(into, 4 * n);
    for (let i = 0; i < n; i++) into[i] = this.view.getInt32(this.at + 4 * i, true);
    this.at += 4 * n;
  }

  /** The next `bytes` bytes into `into` as they are (checked by the caller). */
  private raw(into: ArrayBufferView, bytes: number): void {
    this.buf.copy(Buffer.from(into.buffer, into.byteOffset, bytes), 0, this.at, this.at + bytes);
    this.at += bytes;
  }

  latin1(): string {
    const n = this.u32();
    this.need(n);
    const s = this.buf.toString('latin1', this.at, this.at + n);
    this.at += n;
    return s;
  }
}
