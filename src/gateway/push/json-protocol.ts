/**
 * exporter-proxy's JSON wire format: the connection carries one JSON object, read to EOF
 * (clients half-close), mapping app names to exposition text — a string, or a list of lines
 * joined with `\n` plus a final `\n`. Every key is an app (exporter-proxy kept one at random).
 * A body of any other shape is refused whole: a client that gets the shape wrong gets it wrong
 * for every app, and half-applying it would hide that.
 */

import { WireError, type WireDecoder, type WireMessage } from './wire-decoder.js';

export class JsonDecoder implements WireDecoder {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  /** `maxBytes` caps the whole connection, since the body is one message. */
  constructor(private readonly maxBytes: number) {}

  get idle(): boolean {
    return this.size === 0;
  }

  get held(): number {
    return this.size;
  }

  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      throw new WireError('too_large', `JSON body is larger than the limit of ${this.maxBytes} bytes`);
    }
    this.chunks.push(chunk);
  }

  end(emit: (msg: WireMessage) => void): void {
    const raw = Buffer.concat(this.chunks, this.size);
    this.chunks.length = 0;
    this.size = 0;
    for (const msg of decodeJsonBody(raw)) emit(msg);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeJsonBody(raw: Buffer): WireMessage[] {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new WireError('decode', 'JSON body is not valid UTF-8');
  }
  if (text.trim() === '') throw new WireError('decode', 'empty JSON body');
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
