// Stream aggregation driven by a test clock: text lines into batches, outputs as sorted lines.

import { streamAggrSchema } from '../../src/config/stream-aggr.js';
import { silentLogger } from '../../src/log/logger.js';
import type { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { parseLabelSet } from '../../src/relabel/index.js';
import { StreamAggregation } from '../../src/streamaggr/index.js';

export const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);

/** `name{labels} value [ts]` lines into a batch; one Labels object per distinct series, as scrapes give. */
export function batchOf(text: string, interned = new Map<string, Labels>()): SampleBatch {
  const b = new SampleBatch(16);
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const close = line.lastIndexOf('}');
    const rest = line.slice(close >= 0 ? close + 1 : line.indexOf(' ')).trim().split(/\s+/);
    const series = line.slice(0, close >= 0 ? close + 1 : line.indexOf(' '));
    let labels = interned.get(series);
    if (!labels) interned.set(series, (labels = parseLabelSet(series)));
    b.append(labels, Number(rest[0]), rest[1] === undefined ? 0 : Number(rest[1]));
  }
  return b;
}

export function lines(b: SampleBatch): string[] {
  const out: string[] = [];
  for (let i = 0; i < b.length; i++) out.push(`${b.series[i].toString().replace(/\{\}$/, "")} ${b.values[i]}`);
  return out.sort();
}

export interface Harness {
  aggr: StreamAggregation;
  outputs: string[];
  passed: string[];
  push(text: string, at?: number): void;
  flushAt(t: number): string[];
}

/**
 * vmagent's test harness: flushes not aligned and flushed on shutdown, so one flush after the
 * pushes gives the whole input's outputs.
 */
export function harness(rulesYaml: object[], section: object = {}, start = T0): Harness {
  const cfg = streamAggrSchema.parse({ rules: rulesYaml.map((r) => ({ no_align_flush_to_interval: true, flush_on_shutdown: true, ...r })), ...section });
  let now = start;
  const h: Harness = {
    outputs: [],
    passed: [],
    aggr: new StreamAggregation(cfg, {
      scope: 'test',
      logger: silentLogger,
      timers: false,
      now: () => now,
      emit: (b) => h.outputs.push(...lines(b)),
    }),
    push(text, at) {
      if (at !== undefined) now = at;
      const pass = new SampleBatch(16);
      h.passed.push(...lines(h.aggr.process(batchOf(text, interned), pass)));
    },
    flushAt(t) {
      now = t;
      h.outputs = [];
      h.aggr.advance(t);
      return h.outputs.sort();
    },
  };
  const interned = new Map<string, Labels>();
  return h;
}

