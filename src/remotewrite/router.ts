/**
 * The stage every remote-write URL shares: global relabeling, external labels and global
 * labels (cached per series), the series limits (max_hourly_series, max_daily_series), the
 * global stream aggregation, then each series to every URL — or, with `shard_by_url`, to
 * `shard_by_url_replicas` consecutive URLs picked by a hash of its labels, so each URL stores
 * a share of the series (vmagent's -remoteWrite.shardByURL). The aggregation's outputs enter
 * at `distribute`, after the limits, as vmagent's do.
 */

import type { RemoteWriteOptions } from '../config/tributary.js';
import { fnv1a32 } from '../model/hash.js';
import type { Labels } from '../model/labels.js';
import { SampleBatch } from '../model/samples.js';
import type { SampleSink } from '../pipeline/index.js';
import type { LabelsProcessor } from '../relabel/index.js';
import type { StreamAggregation } from '../streamaggr/index.js';
import type { SeriesLimits } from './series-limits.js';
import { applyStages, compileStages } from './stages.js';

/** What the router runs besides its label stages, when configured. */
export interface RouterStages {
  readonly limits?: SeriesLimits;
  readonly aggregation?: StreamAggregation;
}

export class RemoteWriteRouter implements SampleSink {
  private readonly stages: LabelsProcessor | undefined;
  private readonly scratch = new SampleBatch(1024);
  private readonly limited = new SampleBatch(256);
  private readonly passed = new SampleBatch(256);
  /** Per URL, the samples of one batch going to it (sharding only). */
  private readonly parts: SampleBatch[];
  private readonly replicas: number;
  private readonly hashLabels: readonly string[];
  private readonly hashes = new WeakMap<Labels, number>();

  constructor(
    private readonly sinks: readonly SampleSink[],
    options: RemoteWriteOptions,
    externalLabels: Readonly<Record<string, string>>,
    private readonly more: RouterStages = {},
  ) {
    this.stages = compileStages([{ relabel: options.relabel_configs }, { addLabels: externalLabels }, { addLabels: options.labels }]);
    const n = sinks.length;
    this.replicas = options.shard_by_url ? Math.min(options.shard_by_url_replicas, n) : n;
    this.parts = this.replicas < n ? sinks.map(() => new SampleBatch(256)) : [];
    this.hashLabels = [...options.shard_by_url_labels].sort();
  }

  overloaded(): boolean {
    for (const s of this.sinks) if (s.overloaded?.()) return true;
    return false;
  }

  async persisted(): Promise<boolean> {
    const all = await Promise.all(this.sinks.map((s) => s.persisted?.() ?? true));
    return all.every(Boolean);
  }

  write(job: string, batch: SampleBatch): void {
    let source = this.stages ? applyStages(this.stages, batch, this.scratch) : batch;
    if (this.more.limits?.enabled) source = this.more.limits.filter(source, this.limited);
    if (this.more.aggregation) source = this.more.aggregation.process(source, this.passed);
    this.distribute(job, source);
  }

  /** Samples past the shared stages to the URLs. */
  distribute(job: string, source: SampleBatch): void {
    if (source.length === 0) return;
    const sinks = this.sinks;
    const n = sinks.length;
    if (this.replicas >= n) {
      for (const s of sinks) s.write(job, source);
      return;
    }
    const parts = this.parts;
    for (const p of parts) p.reset();
    for (let i = 0; i < source.length; i++) {
      const labels = source.series[i];
      // the hash's range picks the URL, its remainder the URL's sender (queue.ts): taking the
      // remainder here too would send each URL only the series of some of its senders
      const first = Math.floor(((this.shardHash(labels) >>> 0) * n) / 0x1_0000_0000);
      for (let r = 0; r < this.replicas; r++) parts[(first + r) % n].appendFrom(source, i, labels);
    }
    for (let k = 0; k < n; k++) if (parts[k].length > 0) sinks[k].write(job, parts[k]);
  }

  private shardHash(labels: Labels): number {
    if (this.hashLabels.length === 0) return labels.hash;
    let h = this.hashes.get(labels);
    if (h === undefined) {
      h = 0x811c9dc5;
      for (const name of this.hashLabels) h = fnv1a32(labels.get(name) ?? '', fnv1a32(name, h));
      h = h | 0;
      this.hashes.set(labels, h);
    }
    return h;
  }
}
