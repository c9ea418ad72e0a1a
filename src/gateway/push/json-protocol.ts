/**
 * exporter-proxy's JSON wire format: JSON objects mapping app names to exposition text — a
 * string, or a list of lines joined with `\n` plus a final `\n`. Every key is an app
 * (exporter-proxy kept one at random). An object of any other shape is refused whole: a client
 * that gets the shape wrong gets it wrong for every app, and half-applying it would hide that.
 *
 * Each top-level JSON value is one message, complete at its closing byte: it is decoded and its
 * apps stored at once, whether the client then half-closes (as `nc -q 0` does; exporter-proxy
 * read to EOF), keeps the connection open, or sends more objects later. Objects may follow one
 * another with or without whitespace or newlines between them (newline-delimited JSON works).
 * The framing is found by a byte scanner that tracks only what a JSON value's end depends on:
 * the depth of `{`/`[` outside strings, and whether it is inside a string or just after a `\`
 * there. It never copies or allocates per byte and jumps through strings with `indexOf`, so it
 * costs a fraction of the `JSON.parse` that follows. A top-level value that is not an object
 * (a string, a number, a stray `}`) is framed as well as JSON allows and then refused by that
 * parse with its precise error. EOF with nothing pending is a normal end; EOF inside a value is
 * an error. The byte limit applies to each message, from its first byte (whitespace between
 * messages is skipped, not held). A UTF-8 byte order mark may precede a message.
 */

import { WireError, type WireDecoder, type WireMessage } from './wire-decoder.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const BOM = [0xef, 0xbb, 0xbf] as const;
/** Bytes of a string scanned one by one before jumping with indexOf. */
const SHORT_RUN = 32;

/** Bytes that end a bare top-level scalar (`42`, `true`): JSON whitespace and structure. */
const ENDS_SCALAR = new Uint8Array(256);
for (const c of ' \t\n\r{}[],:"') ENDS_SCALAR[c.charCodeAt(0)] = 1;

export class JsonDecoder implements WireDecoder {
  /** Bytes of the current message that came in earlier chunks. */
  private chunks: Buffer[] = [];
  private size = 0;
  /** A message has begun: its first byte (not whitespace) has arrived. */
  private open = false;
  /** Nesting of `{` and `[` outside strings. */
  private depth = 0;
  private inString = false;
  /** The previous byte was a `\` inside a string. */
  private escaped = false;
  /** Inside a bare top-level scalar, which ends at the next delimiter (or EOF). */
  private scalar = false;
  /** Bytes of a byte order mark matched so far at a message's start (1 or 2), 0 when none. */
  private bom = 0;
  private messages = 0;

  /** `maxMessageBytes` caps each message (each top-level value). */
  constructor(private readonly maxMessageBytes: number) {}

  get idle(): boolean {
    return !this.open;
  }

  get held(): number {
    return this.size;
  }

  write(chunk: Buffer, emit: (msg: WireMessage) => void): void {
    const n = chunk.length;
    /** Where the current message starts in this chunk; -1 when none is open. */
    let start = this.open ? 0 : -1;
    // Cached positions of the next `"` and `\` at or after the last search; -1 = not searched
    // yet, n = none left in this chunk. Both only move forward, so each byte is searched once.
    let quote = -1;
    let backslash = -1;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        // Exposition text escapes every few bytes (`\n`, `\"`): a short byte loop finds those
        // cheapest; a long run without either is crossed with indexOf.
        let b = 0;
        const near = i + SHORT_RUN < n ? i + SHORT_RUN : n;
        while (i < near && (b = chunk[i]) !== QUOTE && b !== BACKSLASH) i++;
        if (i === near) {
          if (near === n) break; // the string goes on in the next chunk
          if (quote < i) {
            quote = chunk.indexOf(QUOTE, i);
            if (quote < 0) quote = n;
          }
          if (backslash < i) {
            backslash = chunk.indexOf(BACKSLASH, i);
            if (backslash < 0) backslash = n;
          }
          i = quote < backslash ? quote : backslash;
          if (i === n) break;
          b = chunk[i];
        }
        i++;
        if (b === BACKSLASH) {
          this.escaped = true;
          continue;
        }
        this.inString = false;
        if (this.depth === 0) {
          this.finish(chunk, start, i, emit);
          start = -1;
        }
        continue;
      }
      const b = chunk[i];
      if (this.depth > 0) {
        if (b === QUOTE) {
          this.inString = true;
        } else if (b === 0x7b || b === 0x5b) {
          this.depth++;
        } else if ((b === 0x7d || b === 0x5d) && --this.depth === 0) {
          this.finish(chunk, start, i + 1, emit);
          start = -1;
        }
        i++;
        continue;
      }
      if (this.scalar) {
        if (ENDS_SCALAR[b] === 1) {
          // The delimiter is not part of the scalar: it is read again at the top level.
          this.scalar = false;
          this.finish(chunk, start, i, emit);
          start = -1;
        } else {
          i++;
        }
        continue;
      }
      if (this.bom > 0) {
        if (b === BOM[this.bom]) {
          this.bom = (this.bom + 1) % BOM.length;
          i++;
        } else {
          this.bom = 0;
          this.scalar = true; // not a BOM after all: JSON.parse will say what it is
        }
        continue;
      }
      // Top level, between values.
      if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) {
        i++; // skipped between messages; held after a BOM, which opened one
        continue;
      }
      if (!this.open) {
        this.open = true;
        start = i;
        if (b === BOM[0]) {
          this.bom = 1;
          i++;
          continue;
        }
      }
      i++;
      if (b === 0x7b || b === 0x5b) {
        this.depth = 1;
      } else if (b === QUOTE) {
        this.inString = true;
      } else if (b === 0x7d || b === 0x5d || b === 0x2c || b === 0x3a) {
        this.finish(chunk, start, i, emit); // a stray `}`, `]`, `,` or `:`: refused by the parse
        start = -1;
      } else {
        this.scalar = true;
      }
    }
    if (start >= 0) {
      this.size += n - start;
      if (this.size > this.maxMessageBytes) throw this.tooLarge();
      this.chunks.push(start === 0 ? chunk : chunk.subarray(start));
    }
  }

  end(emit: (msg: WireMessage) => void): void {
    if (!this.open) return;
    if (this.scalar) {
      this.scalar = false;
      this.finish(Buffer.alloc(0), 0, 0, emit); // complete at EOF, and refused by its shape
      return;
    }
    const raw = this.take(Buffer.alloc(0), 0, 0);
    const n = this.messages + 1;
    let why = 'unterminated';
    try {
      decodeJsonMessage(raw);
    } catch (err) {
      why = (err as Error).message;
    }
    throw new WireError('decode', `message ${n} cut short at EOF after ${raw.length} bytes: ${why}`);
  }

  /** The message ends at `end` of this chunk: decode it and hand its apps on. */
  private finish(chunk: Buffer, start: number, end: number, emit: (msg: WireMessage) => void): void {
    if (this.size + (end - start) > this.maxMessageBytes) throw this.tooLarge();
    const raw = this.take(chunk, start, end);
    const n = ++this.messages;
    this.open = false;
    let apps: WireMessage[];
    try {
      apps = decodeJsonMessage(raw);
    } catch (err) {
      if (err instanceof WireError) throw new WireError(err.reason, `message ${n}: ${err.message}`);
      throw err;
    }
    for (const app of apps) emit(app);
  }

  /** The held bytes plus `chunk[start, end)` as one buffer (a view when nothing was held); clears the held bytes. */
  private take(chunk: Buffer, start: number, end: number): Buffer {
    const tail = chunk.subarray(start, end);
    const raw = this.size === 0 ? tail : Buffer.concat([...this.chunks, tail], this.size + tail.length);
    this.chunks = [];
    this.size = 0;
    return raw;
  }

  private tooLarge(): WireError {
    return new WireError('too_large', `message ${this.messages + 1} is larger than the limit of ${this.maxMessageBytes} bytes`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One top-level JSON value as the apps it pushes; throws WireError (`decode`) with the precise reason. */
export function decodeJsonMessage(raw: Buffer): WireMessage[] {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new WireError('decode', 'JSON is not valid UTF-8');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new WireError('decode', `invalid JSON: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new WireError('decode', 'expected a JSON object of app names to exposition text');
  }
  const out: WireMessage[] = [];
  for (const [app, value] of Object.entries(body)) {
    if (app === '') throw new WireError('decode', 'an app name is empty');
    if (typeof value === 'string') {
      out.push({ app, text: value });
    } else if (Array.isArray(value) && value.every((l): l is string => typeof l === 'string')) {
      out.push({ app, text: value.length === 0 ? '' : value.join('\n') + '\n' });
    } else {
      throw new WireError('decode', `app ${JSON.stringify(app)}: expected a string or a list of strings`);
    }
  }
  return out;
}
