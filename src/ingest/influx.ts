/**
 * The Influx line protocol's server glue: vmagent's HTTP paths on the main listener (`/write`,
 * `/api/v2/write` and their `/influx/` twins, with `db`, `precision` and — on the v2 paths when
 * `bucket_as_db` is on — `bucket`; `/query` answering `SHOW DATABASES` and `/ping` as vmagent
 * does, so Telegraf and the InfluxDB clients start writing), and the TCP+UDP listener of
 * `ingest.influx.listen_address` (vmagent's -influxListenAddr). A request's body is cut into
 * lines as it streams in; each line's samples go to the pipeline, a bad line is quoted in the 400.
 */

import type { ServerResponse } from 'node:http';
import { InfluxParser, InfluxSeries, parsePrecision } from '../formats/influx/parser.js';
import { CONTENT_TYPE_JSON } from '../formats/media-types.js';
import { LineSplitter } from '../formats/rows/index.js';
import { describeRefusals } from './ingester.js';
import type { IngestContext, IngestProtocol, Closable } from './context.js';
import { startLineListener } from './listeners.js';

export const INFLUX_WRITE_PATHS = ['/write', '/influx/write', '/api/v2/write', '/influx/api/v2/write'] as const;
const V2_PATHS = new Set(['/api/v2/write', '/influx/api/v2/write']);

export const influx: IngestProtocol = {
  name: 'influx',
  async start(ctx: IngestContext) {
    const c = ctx.config.influx;
    if (!c.http && c.listen_address === undefined) return [];
    const series = new InfluxSeries({
      measurementFieldSeparator: c.measurement_field_separator,
      skipSingleField: c.skip_single_field,
      skipMeasurement: c.skip_measurement,
      dbLabel: c.db_label,
      trimTimestampMs: c.trim_timestamp,
    });
    const ingester = ctx.ingester('influx');
    const parts: Closable[] = [];
    if (c.http) {
      ctx.http.add({
        paths: INFLUX_WRITE_PATHS,
        ingester,
        maxBodyBytes: c.max_body_bytes,
        // vmagent answers every method on these paths; clients POST
        methods: ['POST', 'PUT', 'GET'],
        encodings: ['identity', 'gzip', 'deflate', 'zstd'],
        read: async ({ url, body, rows, res }) => {
          const q = url.searchParams;
          let db = q.get('db') ?? '';
          if (db === '' && c.bucket_as_db && V2_PATHS.has(url.pathname.replace(/^\/insert\/[^/]+(?:\/prometheus)?/, ''))) db = q.get('bucket') ?? '';
          const splitter = new LineSplitter(new InfluxParser(series, db, parsePrecision(q.get('precision'))), c.max_line_bytes);
          for await (const chunk of body) splitter.push(chunk, rows);
          splitter.end(rows);
          // the glue's finish() after this one only finds an empty batch
          const summary = rows.finish();
          if (summary.invalid > 0) answerRefusals(res, describeRefusals(summary));
        },
      });
      const databases = JSON.stringify({
        results: [{ statement_id: 0, series: [{ name: 'databases', columns: ['name'], values: (c.database_names.length > 0 ? c.database_names : ['_internal']).map((n) => [n]) }] }],
      });
      // vmagent answers any query on /query with the database list: clients (Telegraf) ask SHOW DATABASES or CREATE DATABASE first
      const query = (_req: unknown, res: ServerResponse) => {
        res.writeHead(200, { 'content-type': CONTENT_TYPE_JSON });
        res.end(databases);
      };
      const ping = (_req: unknown, res: ServerResponse) => {
        res.writeHead(204);
        res.end();
      };
      for (const path of ['/query', '/influx/query']) for (const m of ['GET', 'POST']) ctx.http.plain(m, path, query);
      for (const path of ['/ping', '/influx/ping']) for (const m of ['GET', 'POST']) ctx.http.plain(m, path, ping);
    }
    if (c.listen_address !== undefined) {
      // no query args on a socket: no db label, and the timestamp's unit told by its size
      parts.push(
        await startLineListener({
          address: c.listen_address,
          ingester,
          format: () => new InfluxParser(series),
          maxLineBytes: c.max_line_bytes,
        }),
      );
    }
    return parts;
  },
};

/**
 * Refused lines answered as InfluxDB answers them: 400 with a JSON `error` (v1) and `message`
 * (v2) that says "partial write: unable to parse". Telegraf's v1 output reads that JSON and, on
 * those words, drops the batch; on a plain-text 400 it would send the whole batch again and
 * again, its good lines (already kept here) with it.
 */
function answerRefusals(res: ServerResponse, text: string): void {
  const message = `partial write: unable to parse ${text}`;
  res.writeHead(400, { 'content-type': CONTENT_TYPE_JSON });
  res.end(JSON.stringify({ code: 'invalid', error: message, message }) + '\n');
}
