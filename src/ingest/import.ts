/**
 * VictoriaMetrics' import paths on the main listener (`ingest.import.http`), as vmagent serves
 * them: `/api/v1/import` (JSON lines, protocol `jsonline`), `/api/v1/import/csv?format=...`
 * (`csv`) and `/api/v1/import/prometheus[?timestamp=ms]` (`prometheus_import`), each with its
 * tenant twin `/insert/<tenant>/prometheus/...`. Bodies stream through a `LineSplitter` per
 * request; the parsers (and so their series caches) are shared between requests.
 */

import { CsvFormatError, CsvParser, parseCsvFormat } from '../formats/csv/parser.js';
import { JsonLineParser } from '../formats/jsonline/parser.js';
import { PrometheusImportCache, PrometheusImportLines } from '../formats/prometheus-import/parser.js';
import { LineSplitter, type LineFormat } from '../formats/rows/index.js';
import type { IngestContext, IngestProtocol } from './context.js';
import { IngestRefusal, type BodyEncoding, type IngestCall } from './http.js';

export const IMPORT_PATH = '/api/v1/import';
export const IMPORT_CSV_PATH = '/api/v1/import/csv';
export const IMPORT_PROMETHEUS_PATH = '/api/v1/import/prometheus';

/** vmagent takes any method on these paths; POST and PUT are what clients send. */
const methods = ['POST', 'PUT'];
/**
 * Bodies that decode as they stream (vmagent takes gzip alone); not snappy, whose block is
 * decoded whole — an import body can be gigabytes.
 */
const encodings: BodyEncoding[] = ['identity', 'gzip', 'deflate', 'zstd'];

/** CSV parsers kept by `format` argument (each has its series cache); past this many the map starts again. */
const MAX_CSV_FORMATS = 32;

async function readLines(call: IngestCall, format: LineFormat, maxLineBytes: number): Promise<void> {
  const splitter = new LineSplitter(format, maxLineBytes);
  for await (const chunk of call.body) splitter.push(chunk, call.rows);
  splitter.end(call.rows);
}

/** vmagent's `timestamp` query arg: integer milliseconds; absent or 0 means now. */
function defaultTimestamp(url: URL): number {
  const arg = url.searchParams.get('timestamp');
  if (arg === null || arg === '') return 0;
  if (!/^-?\d+$/.test(arg) || !Number.isSafeInteger(Number(arg))) {
    throw new IngestRefusal(400, `cannot parse \`timestamp=${arg}\` query arg: expected integer milliseconds since the epoch`);
  }
  return Number(arg);
}

export const vmImport: IngestProtocol = {
  name: 'import',
  async start(ctx: IngestContext) {
    const c = ctx.config.import;
    if (!c.http) return [];
    const maxLineBytes = c.max_line_bytes;
    const maxBodyBytes = c.max_body_bytes;

    const json = new JsonLineParser();
    ctx.http.add({
      paths: [IMPORT_PATH],
      ingester: ctx.ingester('jsonline'),
      maxBodyBytes,
      methods,
      encodings,
      read: (call) => readLines(call, json, maxLineBytes),
    });

    const csvParsers = new Map<string, CsvParser>();
    ctx.http.add({
      paths: [IMPORT_CSV_PATH],
      ingester: ctx.ingester('csv'),
      maxBodyBytes,
      methods,
      encodings,
      read: async (call) => {
        const spec = call.url.searchParams.get('format') ?? '';
        let parser = csvParsers.get(spec);
        if (parser === undefined) {
          try {
            parser = new CsvParser(parseCsvFormat(spec));
          } catch (err) {
            if (err instanceof CsvFormatError) throw new IngestRefusal(400, `cannot parse the \`format\` query arg: ${err.message}`);
            throw err;
          }
          if (csvParsers.size >= MAX_CSV_FORMATS) csvParsers.clear();
          csvParsers.set(spec, parser);
        }
        await readLines(call, parser, maxLineBytes);
      },
    });

    const promCache = new PrometheusImportCache();
    ctx.http.add({
      paths: [IMPORT_PROMETHEUS_PATH],
      ingester: ctx.ingester('prometheus_import'),
      maxBodyBytes,
      methods,
      encodings,
      read: async (call) => {
        const lines = new PrometheusImportLines(promCache, defaultTimestamp(call.url));
        try {
          await readLines(call, lines, maxLineBytes);
        } finally {
          // what was read before a refusal (413, a broken gzip stream) is kept, as the other paths keep it
          lines.flush(call.rows);
        }
      },
    });
    return [];
  },
};
