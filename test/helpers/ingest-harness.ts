/**
 * What the in-process push-ingestion tests share: a Tributary runtime started on a config of a
 * few lines, with a `Samples` sink on its pipeline that records every sample it is handed; and
 * the text mutator of the line protocols' fuzz tests.
 */

import type { TestContext } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import type { Labels } from '../../src/model/labels.js';
import type { SampleBatch } from '../../src/model/samples.js';
import { startRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { tempDataDir } from './fixtures.js';

export interface Got {
  readonly labels: Labels;
  readonly value: number;
  readonly timestampMs: number;
  readonly stale: boolean;
  /** The job the batch was written under (the protocol's name for pushed samples). */
  readonly job: string;
}

/** A pipeline sink keeping every sample in arrival order. */
export class Samples {
  readonly samples: Got[] = [];

  write(job: string, b: SampleBatch): void {
    for (let i = 0; i < b.length; i++) this.samples.push({ labels: b.series[i], value: b.values[i], timestampMs: b.timestamps[i], stale: b.isStale(i), job });
  }

  /** `[series, value, timestamp]` per sample, in arrival order. */
  rows(): [string, number, number][] {
    return this.samples.map((s) => [s.labels.toString(), s.value, s.timestampMs]);
  }

  /** `series value timestamp` lines, sorted. */
  lines(): string[] {
    return this.samples.map((s) => `${s.labels.toString()} ${s.value} ${s.timestampMs}`).sort();
  }

  /** The last value of each series (`Labels.toString()`) whose metric name passes `filter`. */
  last(filter: (name: string) => boolean = () => true): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.samples) if (filter(s.labels.metricName)) out[s.labels.toString()] = s.value;
    return out;
  }

  /** The samples written under `job`. */
  of(job: string): Got[] {
    return this.samples.filter((s) => s.job === job);
  }

  clear(): void {
    this.samples.length = 0;
  }
}

/**
 * A runtime on `server: {listen: 127.0.0.1:0, data_dir: <temp>}` plus `config` (YAML top-level
 * sections, e.g. `ingest:\n  graphite: {listen_address: 127.0.0.1:0}\n`), closed after the test,
 * with a `Samples` sink on its pipeline.
 */
export async function startIngest(t: TestContext, config: string): Promise<{ rt: Runtime; sink: Samples }> {
  const dir = tempDataDir();
  const file = join(dir, 'tributary.yml');
  writeFileSync(file, `server: {listen: 127.0.0.1:0, data_dir: ${dir}}\n${config}`);
  const rt = await startRuntime({ configFile: file, logger: silentLogger });
  t.after(() => rt.close(0));
  const sink = new Samples();
  rt.pipeline.add(sink);
  return { rt, sink };
}

/** The port of a protocol's `n`th listener (`host:port` in `rt.ingest.listeners`). */
export function listenerPort(rt: Runtime, protocol: string, n = 0): number {
  return Number(rt.ingest.listeners.get(protocol)![n].split(/:(?=\d+$)/)[1]);
}

/** Mutations of valid input for the fuzz tests: bytes flipped, inserted, deleted, specials and slices spliced in. */
export function mutate(rand: () => number, text: string, specials: readonly string[]): Buffer {
  const bytes = [...Buffer.from(text)];
  const n = 1 + Math.floor(rand() * 6);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rand() * (bytes.length + 1));
    const op = rand();
    if (op < 0.25) bytes[at] = Math.floor(rand() * 256);
    else if (op < 0.45) bytes.splice(at, 1 + Math.floor(rand() * 4));
    else if (op < 0.75) bytes.splice(at, 0, ...Buffer.from(specials[Math.floor(rand() * specials.length)]));
    else bytes.splice(at, 0, ...bytes.slice(Math.floor(rand() * bytes.length), Math.floor(rand() * bytes.length)));
  }
  return Buffer.from(bytes);
}
