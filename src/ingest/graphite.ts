/** Graphite plaintext over TCP and UDP (`ingest.graphite.listen_address`, vmagent's -graphiteListenAddr). */

import { GraphiteParser } from '../formats/graphite/parser.js';
import type { IngestContext, IngestProtocol } from './context.js';
import { startLineListener } from './listeners.js';

export const graphite: IngestProtocol = {
  name: 'graphite',
  async start(ctx: IngestContext) {
    const c = ctx.config.graphite;
    if (c.listen_address === undefined) return [];
    const parser = new GraphiteParser({ trimTimestampMs: c.trim_timestamp, sanitizeMetricName: c.sanitize_metric_name });
    const listener = await startLineListener({
      address: c.listen_address,
      ingester: ctx.ingester('graphite'),
      format: () => parser,
      maxLineBytes: c.max_line_bytes,
    });
    return [listener];
  },
};
