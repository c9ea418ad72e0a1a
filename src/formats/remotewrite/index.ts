/**
 * Prometheus remote write 1.0 on the wire: the `WriteRequest` writers the remote-write sender
 * uses — plain (labels encoded once per series, staleness markers bit-exact; compressed whole by
 * formats/snappy) and snappy-direct (each series' compressed record head cached) — and the parser
 * beside them (tests, and the remote-write receiver to come).
 */
export {
  WriteRequestWriter,
  CompressingWriteRequestWriter,
  encodeLabels,
  METADATA_TYPES,
  type MetricMetadata,
  type RequestEncoder,
} from './writer.js';
export { SnappyWriteRequestWriter } from './snappy-writer.js';
export { parseWriteRequest, WireError, type DecodedWriteRequest, type DecodedSeries, type DecodedSample } from './parser.js';
