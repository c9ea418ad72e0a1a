/**
 * OpenTelemetry OTLP metrics (`ExportMetricsServiceRequest`, protobuf and JSON) into Prometheus
 * series as Prometheus' OTLP translator makes them: the decoders (`proto.ts`, `json.ts`), the
 * conversion and its per-series caches (`convert.ts`), the naming rules (`names.ts`), the
 * OTLP/HTTP answers (`response.ts`). No protobuf library at run time.
 */
export { OtlpConverter, formatFloat, expBucketBound, FLAG_NO_RECORDED_VALUE, type DeltaTable, type OtlpOptions, type OtlpSink } from './convert.js';
export { decodeOtlpProtobuf, WireError } from './proto.js';
export { decodeOtlpJson, OtlpJsonError } from './json.js';
export { metricName, labelName, unitSuffixes, type OtlpNameKind } from './names.js';
export { exportResponse, statusResponse, STATUS_INVALID_ARGUMENT } from './response.js';
