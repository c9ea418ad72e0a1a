/**
 * A Pushgateway client's request body turned into families: read with a size cap, gunzipped
 * when it says `Content-Encoding: gzip` (the decompressed size capped too, so a small bomb
 * cannot become a large body), and parsed by its Content-Type — delimited protobuf
 * `MetricFamily` messages (client_golang's default), OpenMetrics, or else the text format, as
 * the Pushgateway reads them. Every failure is a PushBodyError or BodyTooLargeError whose
 * message tells the client what and where; nothing here touches the store.
 */

import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';
import type { MetricFamily } from '../../model/family.js';
import { isDelimitedProtobuf, textFormatOf } from '../../formats/media-types.js';
import { decodeExposition } from '../../formats/prometheus/decode.js';
import { parseFamilies } from '../../formats/prometheus/families.js';
import { ExpositionError } from '../../formats/prometheus/parser.js';
import { normalizePushed } from './pushgateway-families.js';
import { BodyTooLargeError, readBody } from '../../server/request-body.js';

export type PushBodyFormat = 'text' | 'openmetrics' | 'protobuf';

/** A body that cannot be read or parsed; the message says where. */
export class PushBodyError extends Error {
  constructor(
    message: string,
    /** 400, or 415 for an encoding that is not read at all. */
    readonly status = 400,
    /** The body was read, but its metrics break a rule: a failed push of the group (see ProtobufError.invalid). */
    readonly invalid = false,
  ) {
    super(message);
  }
}

/**
 * The format a Content-Type names. Protobuf needs both parameters client_golang sends, as in
 * the Pushgateway; anything that is neither protobuf nor OpenMetrics is read as text.
 */
export function pushBodyFormat(contentType: string | undefined): PushBodyFormat {
  if (textFormatOf(contentType) === 'openmetrics') return 'openmetrics';
  return isDelimitedProtobuf(contentType) ? 'protobuf' : 'text';
}

/** The request body, decompressed; both the sent and the decompressed size are capped. */
export async function readPushBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const raw = await readBody(req, maxBytes);
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return raw;
  if (encoding !== 'gzip' && encoding !== 'x-gzip') throw new PushBodyError(`Content-Encoding ${JSON.stringify(encoding)} is not supported: send gzip or nothing`, 415);
  return new Promise<Buffer>((resolve, reject) => {
    gunzip(raw, { maxOutputLength: maxBytes }, (err, out) => {
      if (!err) return resolve(out);
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return reject(new BodyTooLargeError(maxBytes, 'decompressed request body'));
      reject(new PushBodyError(`cannot decompress the gzip body: ${err.message}`));
    });
  });
}

/**
 * Parses a body strictly: the first problem is the error, with its line and column (or byte).
 * Histograms and summaries come out as the Pushgateway stores them (pushgateway-families.ts).
 */
export async function parsePushBody(body: Buffer, format: PushBodyFormat, maxSamples: number): Promise<MetricFamily[]> {
  if (format === 'protobuf') {
    // Loaded on the first protobuf push: most gateways never see one.
    const { parseProtobufFamilies, ProtobufError } = await import('../../formats/protobuf/index.js');
    try {
      // Stored as pushed; the page adds the +Inf bucket (completedForPage), the JSON API does not.
      return parseProtobufFamilies(body, { maxSamples, infBucket: false });
    } catch (err) {
      if (err instanceof ProtobufError) throw new PushBodyError(`protobuf body: ${err.message}`, 400, err.invalid);
      throw err;
    }
  }
  try {
    const families = parseFamilies(decodeExposition(body), { format: format === 'openmetrics' ? 'openmetrics' : 'prometheus' }).families;
    return normalizePushed(families);
  } catch (err) {
    if (err instanceof ExpositionError) throw new PushBodyError(`text format parsing error in ${err.message}`);
    throw err;
  }
}
