/**
 * The series a rule list is rewriting, copied into a LabelsBuilder only on the first change.
 * Most rules of a typical list only read (drop, keep, a replace whose regex does not match, a
 * set to the value already there), and filling and building a LabelsBuilder costs more than the
 * rules themselves, so reads go to the original `Labels` until something really changes.
 */

import { Labels, LabelsBuilder } from '../model/labels.js';

export class SeriesEdit {
  private labels: Labels = Labels.EMPTY;
  private written: boolean;

  /** With `adopted`, `builder` already holds the series (ProcessBuilder's case). */
  constructor(
    private readonly builder: LabelsBuilder = new LabelsBuilder(),
    adopted = false,
  ) {
    this.written = adopted;
  }

  begin(labels: Labels): this {
    this.labels = labels;
    this.written = false;
    return this;
  }

  get(name: string): string | undefined {
    return this.written ? this.builder.get(name) : this.labels.get(name);
  }

  /** An empty value deletes, as in Prometheus. */
  set(name: string, value: string): void {
    if (!this.written && (this.labels.get(name) ?? '') === value) return;
    this.write().set(name, value);
  }

  del(name: string): void {
    if (!this.written && !this.labels.has(name)) return;
    this.write().del(name);
  }

  forEach(fn: (name: string, value: string) => void): void {
    if (this.written) {
      this.builder.forEach(fn);
      return;
    }
    const kv = this.labels.kv;
    for (let i = 0; i < kv.length; i += 2) fn(kv[i], kv[i + 1]);
  }

  /** The edited series; the original object when nothing changed. */
  result(): Labels {
    if (!this.written) return this.labels;
    const out = this.builder.build();
    return out.equals(this.labels) ? this.labels : out;
  }

  private write(): LabelsBuilder {
    if (!this.written) {
      this.builder.reset(this.labels);
      this.written = true;
    }
    return this.builder;
  }
}
