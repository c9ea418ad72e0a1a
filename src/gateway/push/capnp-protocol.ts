/**
 * exporter-proxy's Cap'n Proto wire format: `InboundMetrics` messages in the standard stream
 * framing (segment count − 1, segment sizes in words, padding to 8 bytes, segments), any number
 * one after another until EOF. capnp-ts reads only whole messages, so the framing is tracked
 * here: the header says how long the message is, the bytes are held until it is complete, and
 * an oversized message is refused from its header, before its body is buffered.
 */

import { Message } from 'capnp-ts';
import { InboundMetrics } from './inbound-metrics.capnp.js';
import { WireError, type WireDecoder, type WireMessage } from './wire-decoder.js';

/** Far above what a two-field struct needs; bounds the header a client can make us read. */
const MAX_SEGMENTS = 512;

export class CapnpDecoder implements WireDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Total length of the message being read, once its header is in; 0 before. */
  private messageBytes = 0;
  private messages = 0;

  /** `maxMessageBytes` caps each message, framing included. */
  constructor(private readonly maxMessageBytes: number) {}

  get idle(): boolean {
    return this.size === 0;
  }

  get held(): number {
    return this.size;
  }

  write(chunk: Buffer, emit: (msg: WireMessage) => void): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    for (;;) {
      if (this.messageBytes === 0 && !this.readHeader()) return;
      if (this.size < this.messageBytes) return;
      const all = this.take();
      const frame = all.subarray(0, this.messageBytes);
      this.putBack(all.subarray(this.messageBytes));
      this.messageBytes = 0;
      emit(this.decode(frame));
    }
  }

  end(): void {
    if (this.size > 0) {
      const need = this.messageBytes > 0 ? `${this.messageBytes} bytes` : 'a complete header';
      throw new WireError('decode', `message ${this.messages + 1} cut short at EOF: got ${this.size} bytes, need ${need}`);
    }
  }

  /** Reads the frame header once it is all in; false while more bytes are needed. */
  private readHeader(): boolean {
    if (this.size < 4) return false;
    const head = this.take();
    const segments = head.readUInt32LE(0) + 1;
    if (segments > MAX_SEGMENTS) {
      throw new WireError('decode', `message ${this.messages + 1}: ${segments} segments in the frame header; at most ${MAX_SEGMENTS} are accepted`);
    }
    // Segment count and sizes, padded to a whole word.
    const headerBytes = Math.ceil((4 + 4 * segments) / 8) * 8;
    if (this.size < headerBytes) return false;
    let total = headerBytes;
    for (let i = 0; i < segments; i++) total += head.readUInt32LE(4 + 4 * i) * 8;
    if (total > this.maxMessageBytes) {
      throw new WireError('too_large', `message ${this.messages + 1} is ${total} bytes, over the limit of ${this.maxMessageBytes}`);
    }
    this.messageBytes = total;
    return true;
  }

  private decode(frame: Buffer): WireMessage {
    this.messages++;
    // capnp-ts must not be handed a pooled Buffer's backing store: give it its own copy.
    const own = new Uint8Array(frame.length);
    own.set(frame);
    try {
      const root = new Message(own.buffer, false, false).getRoot(InboundMetrics);
      const app = root.getAppName();
      const text = root.getData();
      if (app === '') throw new Error('appName is empty');
      return { app, text };
    } catch (err) {
      throw new WireError('decode', `message ${this.messages}: ${(err as Error).message}`);
    }
  }

  /** The held bytes as one buffer (joined at most once per stage, so trickling stays linear). */
  private take(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0];
  }

  private putBack(rest: Buffer): void {
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
  }
}
