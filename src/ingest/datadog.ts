/**
 * DataDog on the main listener (`ingest.datadog`), at vmagent's paths so that a DataDog agent or
 * client needs only `dd_url` / the API site pointed at Tributary's `/datadog`:
 *
 * - `POST /datadog/api/v1/series` (JSON; vmagent 1.79.5) and `POST /datadog/api/v2/series` (JSON, or
 *   the agent's protobuf with `Content-Type: application/x-protobuf`; newer vmagents): 202 as
 *   DataDog and vmagent answer, 400 quoting the refused series (the others kept).
 * - What else the agent calls, answered as vmagent 1.79.5 does without taking anything:
 *   `/datadog/api/v1/validate` (`{"valid":true}`, which the agent needs to start sending),
 *   `/datadog/api/v1/check_run` (202), `/datadog/intake` and `/datadog/api/v1/metadata` (200 `{}`).
 *
 * Bodies come gzip or deflate (DataDog clients' `Content-Encoding: deflate` is zlib) or zstd.
 */

import type { ServerResponse } from 'node:http';
import { DatadogBodyError, DatadogParser } from '../formats/datadog/parser.js';
import { MetricPayloadReader } from '../formats/datadog/proto.js';
import type { IngestContext, IngestProtocol } from './context.js';
import type { IngestCall } from './http.js';
import { describeRefusals } from './ingester.js';

const JSON_TYPE = 'application/json';

export const DATADOG_V1_SERIES = '/datadog/api/v1/series';
export const DATADOG_V2_SERIES = '/datadog/api/v2/series';

function json(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

function isProtobuf(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.trim().toLowerCase().startsWith('application/x-protobuf');
}

export const datadog: IngestProtocol = {
  name: 'datadog',
  async start(ctx: IngestContext) {
    const c = ctx.config.datadog;
    if (!c.http) return [];
    const parser = new DatadogParser({ sanitizeMetricName: c.sanitize_metric_name });
    const payloads = new MetricPayloadReader(parser);
    const ingester = ctx.ingester('datadog');
    const series = (path: string, parse: (call: IngestCall, body: Buffer) => void, accepted: string) =>
      ctx.http.add({
        paths: [path],
        ingester,
        maxBodyBytes: c.max_body_bytes,
        encodings: ['identity', 'gzip', 'deflate', 'zstd'],
        read: async (call) => {
          const body = await collect(call.body);
          try {
            parse(call, body);
          } catch (err) {
            if (!(err instanceof DatadogBodyError)) throw err;
            call.rows.invalid(0, err.message, 'syntax');
          }
          // answered here rather than by the glue: DataDog clients read a JSON body on 202
          const summary = call.rows.finish();
          if (summary.invalid > 0) {
            call.res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
            call.res.end(describeRefusals(summary) + '\n');
          } else json(call.res, 202, accepted);
        },
      });
    series(DATADOG_V1_SERIES, (call, body) => parser.v1(body, call.rows), '{"status":"ok"}');
    series(
      DATADOG_V2_SERIES,
      (call, body) => (isProtobuf(call.req.headers['content-type']) ? payloads.read(body, call.rows) : parser.v2(body, call.rows)),
      '{"errors":[]}',
    );
    const stub = (path: string, status: number, body: string) => {
      for (const method of ['GET', 'POST', 'PUT']) ctx.http.plain(method, path, async (_req, res) => json(res, status, body));
    };
    stub('/datadog/api/v1/validate', 200, '{"valid":true}');
    stub('/datadog/api/v1/check_run', 202, '{"status":"ok"}');
    stub('/datadog/intake', 200, '{}');
    stub('/datadog/api/v1/metadata', 200, '{}');
    return [];
  },
};
