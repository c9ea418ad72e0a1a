/**
 * Reading a request body with a size cap (pushes, received remote write, the relabel
 * debugger's form): a declared Content-Length over the cap is refused before a byte is read,
 * and a chunked body is cut as soon as it passes the cap, so a client cannot make the server
 * buffer more than the cap.
 */

import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  constructor(
    readonly limit: number,
    what = 'request body',
  ) {
    super(`${what} is larger than the limit of ${limit} bytes`);
  }
}

export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(new BodyTooLargeError(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        req.off('data', onData);
        // Keep draining (without buffering) so the 413 can still be written back.
        req.resume();
        reject(new BodyTooLargeError(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, total)));
    req.once('error', reject);
  });
}
