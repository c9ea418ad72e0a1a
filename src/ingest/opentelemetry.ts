/**
 * OTLP/HTTP metrics (`ingest.opentelemetry`): `POST /opentelemetry/v1/metrics` and VictoriaMetrics'
 * `/opentelemetry/api/v1/push`, protobuf (`application/x-protobuf`) or JSON (`application/json`),
 * gzip and the rest decoded by IngestHttp. Answers as OTLP/HTTP wants them, in the request's
 * encoding: 200 with an `ExportMetricsServiceResponse` (its `partial_success` counting and
 * quoting refused rows), 400 with a `google.rpc.Status` when the body cannot be decoded (what was
 * decoded before the fault is kept). Owns the running totals that turn delta sums and histograms
 * into cumulative ones when `delta_temporality: cumulative`.
 */

import type { Labels } from '../model/labels.js';
import { KeyedLabels } from '../model/keyed-labels.js';
import {
  decodeOtlpJson,
  decodeOtlpProtobuf,
  exportResponse,
  OtlpConverter,
  OtlpJsonError,
  STATUS_INVALID_ARGUMENT,
  statusResponse,
  WireError,
  type DeltaTable,
} from '../formats/otlp/index.js';
import type { IngestContext, IngestProtocol } from './context.js';
import { IngestRefusal } from './http.js';
import { describeRefusals } from './ingester.js';

export const OTLP_PATHS = ['/opentelemetry/v1/metrics', '/opentelemetry/api/v1/push'];

/**
 * Running totals of delta series by output series. Bounded as the label caches are: a series
 * not pushed for a long while loses its total and starts again from its next delta, which a
 * reader of the counter sees as a reset (rate() takes it as one).
 */
export class DeltaSums implements DeltaTable {
  private readonly totals = new KeyedLabels<object>(400_000);

  add(series: Labels, delta: number): number {
    const t = this.slot(series, () => ({ v: 0 }));
    t.v += delta;
    return t.v;
  }

  slot<T extends object>(series: Labels, make: () => T): T {
    const key = series.key;
    let t = this.totals.get(key) as T | undefined;
    if (t === undefined) {
      t = make();
      this.totals.set(key, t);
    }
    return t;
  }
}

const PROTOBUF_TYPES = new Set(['', 'application/x-protobuf', 'application/protobuf']);

export const opentelemetry: IngestProtocol = {
  name: 'opentelemetry',
  async start(ctx: IngestContext) {
    const c = ctx.config.opentelemetry;
    if (!c.http) return [];
    const opts = {
      prometheusNaming: c.prometheus_naming,
      promoteScope: c.promote_scope_metadata,
      promoteResourceAttributes: c.promote_resource_attributes,
      delta: c.delta_temporality === 'cumulative' ? new DeltaSums() : undefined,
    };
    // one converter per encoding: their caches are keyed by raw protobuf bytes and by JSON text, which must not meet
    const protoConv = new OtlpConverter(opts);
    const jsonConv = new OtlpConverter(opts);
    ctx.http.add({
      paths: OTLP_PATHS,
      ingester: ctx.ingester('opentelemetry'),
      maxBodyBytes: c.max_body_bytes,
      encodings: ['identity', 'gzip', 'deflate', 'zstd'],
      read: async ({ req, res, body, rows }) => {
        const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        const json = type === 'application/json';
        if (!json && !PROTOBUF_TYPES.has(type)) {
          throw new IngestRefusal(415, `Content-Type ${JSON.stringify(type)}: OTLP/HTTP is application/x-protobuf or application/json`);
        }
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(chunk);
        const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        let fault: string | undefined;
        try {
          if (json) decodeOtlpJson(buf, jsonConv, rows);
          else decodeOtlpProtobuf(buf, protoConv, rows);
        } catch (err) {
          if (!(err instanceof WireError || err instanceof OtlpJsonError)) throw err;
          fault = err.message;
        }
        const summary = rows.finish();
        const headers = { 'content-type': json ? 'application/json' : 'application/x-protobuf' };
        let payload: Buffer;
        if (fault !== undefined) {
          const kept = summary.rows > 0 ? ` (${summary.rows} samples before it were taken)` : '';
          res.writeHead(400, headers);
          payload = statusResponse(json, STATUS_INVALID_ARGUMENT, `cannot decode the ExportMetricsServiceRequest: ${fault}${kept}`);
        } else {
          res.writeHead(200, headers);
          payload = exportResponse(json, summary.invalid, summary.invalid > 0 ? describeRefusals(summary) : '');
        }
        res.end(payload);
      },
    });
    return [];
  },
};
