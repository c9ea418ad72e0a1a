/**
 * What a socket listener asks of a wire format: turn a connection's bytes, as they arrive,
 * into apps' payloads. One decoder per connection; the listener owns timing, limits on
 * connections and what happens to the payloads.
 */

/** One app's exposition text as it came off the wire. */
export interface WireMessage {
  app: string;
  text: string;
}

export interface WireDecoder {
  /**
   * Takes the next bytes and hands every message they complete to `emit`, in order, as soon as
   * each is complete (not at EOF: the listener treats a connection with nothing held as idle,
   * whether or not its sender will close). Throws WireError on bad input; messages emitted
   * before the throw were good and stand.
   */
  write(chunk: Buffer, emit: (msg: WireMessage) => void): void;
  /** The sender half-closed: emits what is left, or throws if a message was cut short (nothing pending is a normal end). */
  end(emit: (msg: WireMessage) => void): void;
  /** True between messages: nothing of an unfinished message is held. */
  readonly idle: boolean;
  /** Bytes of the unfinished message held so far (0 when idle): what a cut would lose. */
  readonly held: number;
}

export type WireErrorReason = 'decode' | 'too_large';

export class WireError extends Error {
  constructor(
    readonly reason: WireErrorReason,
    message: string,
  ) {
    super(message);
  }
}
