/**
 * Prometheus remote write 1.0 on the wire: the `WriteRequest` writer the remote-write sender
 * uses (labels encoded once per series, staleness markers bit-exact) and the parser beside it
 * (tests, and the remote-write receiver to come). Snappy block compression is the `snappy`
 * package's (native), applied by the callers.
 */
export { WriteRequestWriter, encodeLabels, METADATA_TYPES, type MetricMetadata } from './writer.js';
export { parseWriteRequest, WireError, type DecodedWriteRequest, type DecodedSeries, type DecodedSample } from './parser.js';
