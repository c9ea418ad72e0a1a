/**
 * Pushed apps into the pipeline: where a listener or the Pushgateway API has `remote_write:
 * true`, every accepted push's samples go to the runtime's SinkFanout as well as to the gateway
 * page — global relabeling, then every remote-write URL — under the job `push`. Series are
 * labelled as the page shows them (the pusher's labels with the grouping key applied, the
 * gateway's source label naming the app, a pushed label of that name kept as `exported_<name>`),
 * stamped with the push time (pushes carry no timestamps of their own: the store refuses them).
 *
 * An app's series that stop being pushed get staleness markers, as a scrape's vanished series
 * do: when a push replaces the app without them, and for all of them when the app is deleted,
 * wiped or expires. What was sent per app — its output `Labels`, one object per series across
 * pushes, so the relabel and remote-write caches keyed on identity hit — is this module's side
 * table; the store knows nothing of it.
 */

import { attachExportingClashes } from '../../model/attach-labels.js';
import { Labels, LabelsBuilder } from '../../model/labels.js';
import { SampleBatch } from '../../model/samples.js';
import type { SampleSink } from '../../pipeline/sink.js';
import type { AppStore, PushedApp } from './app-store.js';

/** The `job` the pipeline's consumers see pushed samples under. */
export const PUSH_JOB = 'push';

interface Sent {
  /** The push (its time) last sent. */
  pushTimeMs: number;
  /** Series key (as pushed) → the Labels sent for it. */
  series: Map<string, Labels>;
}

export class PushPipeline {
  private readonly sent = new Map<string, Sent>();
  private readonly batch = new SampleBatch(256);
  private readonly lb = new LabelsBuilder();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: AppStore,
    private readonly sink: SampleSink,
    /** The gateway's `source_label` ('' for none). */
    private readonly sourceLabelName: string,
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = store.onChange((key) => this.changed(key));
  }

  close(): void {
    this.unsubscribe();
  }

  private changed(key: string): void {
    const app = this.store.get(key);
    const prev = this.sent.get(key);
    if (app === undefined) {
      // deleted, wiped or expired: its series end here
      if (prev === undefined) return;
      this.sent.delete(key);
      this.send((b) => {
        const at = this.now();
        for (const labels of prev.series.values()) b.appendStale(labels, at);
      });
      return;
    }
    if (!app.remoteWrite || app.pushTimeMs === 0 || app.pushTimeMs === prev?.pushTimeMs) return; // a refusal, not a push
    this.pushed(key, app, prev);
  }

  private pushed(key: string, app: PushedApp, prev: Sent | undefined): void {
    const at = app.pushTimeMs;
    const series = new Map<string, Labels>();
    const added = this.sourceLabelName === '' ? Labels.EMPTY : Labels.fromPairs([[this.sourceLabelName, app.name]]);
    this.send((b) => {
      for (const f of app.families) {
        // POST merges: only the families this push wrote are new samples; the rest keep their series
        const fresh = app.familyTimes.get(f.name) === at;
        for (const m of f.metrics) {
          const k = m.labels.key;
          let out = prev?.series.get(k);
          if (out === undefined) {
            out = added.size === 0 ? m.labels : this.labelled(m.labels, added);
          }
          series.set(k, out);
          if (fresh) b.append(out, m.value, at);
        }
      }
      if (prev !== undefined) for (const [k, labels] of prev.series) if (!series.has(k)) b.appendStale(labels, at);
    });
    this.sent.set(key, { pushTimeMs: at, series });
  }

  private labelled(labels: Labels, added: Labels): Labels {
    attachExportingClashes(this.lb.reset(labels), added);
    return this.lb.build();
  }

  private send(fill: (b: SampleBatch) => void): void {
    const b = this.batch;
    b.reset();
    try {
      fill(b);
      if (b.length > 0) this.sink.write(PUSH_JOB, b);
    } finally {
      b.reset();
    }
  }
}
