/**
 * The Prometheus protobuf exposition format on the wire: length-delimited
 * `io.prometheus.client.MetricFamily` messages (client_model's metrics.proto), which Go's
 * client_golang pushes by default (`application/vnd.google.protobuf;
 * proto=io.prometheus.client.MetricFamily; encoding=delimited`). This folder owns the
 * hand-written parser into the repository's families — in the text format 0.0.4's conventions,
 * so that the text writer renders what Go's expfmt (and so the Pushgateway) would — the writer
 * back to protobuf, and Go's float formatting for `le`/`quantile` values. No protobuf library
 * is needed at run time.
 */
export { parseProtobufFamilies, ProtobufError, type ProtobufParseOptions } from './parser.js';
export { writeProtobufFamilies } from './writer.js';
export { formatGoFloat, parseGoFloat } from './gofloat.js';

/** The Content-Type of a delimited MetricFamily body, as client_golang sends it. */
export { CONTENT_TYPE_PROTOBUF_DELIMITED } from '../media-types.js';
