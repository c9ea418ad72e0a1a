/**
 * Prometheus remote write on the wire. 1.0: the `WriteRequest` writers the remote-write sender
 * uses — plain (labels encoded once per series, staleness markers bit-exact; compressed whole by
 * formats/snappy) and snappy-direct (each series' compressed record head cached) — and the parser
 * beside them. 2.0 (v2.ts): the `Request` writer the sender converts queued 1.0 requests
 * with, and its parser; both versions are what src/ingest/remote-write.ts receives.
 */
export {
  WriteRequestWriter,
  CompressingWriteRequestWriter,
  encodeLabels,
  METADATA_TYPES,
  type MetricMetadata,
  type PayloadAlloc,
  type RequestEncoder,
} from './writer.js';
export { SnappyWriteRequestWriter } from './snappy-writer.js';
export { parseWriteRequest, WireError, type DecodedWriteRequest, type DecodedSeries, type DecodedSample } from './parser.js';
export {
  V2RequestWriter,
  V2Symbols,
  parseV2Request,
  V2_CONTENT_TYPE,
  V2_VERSION_HEADER,
  type DecodedV2Series,
  type SeriesMetadata,
} from './v2.js';
