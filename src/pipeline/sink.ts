import type { SampleBatch } from '../model/samples.js';

/** Anything that takes scraped or pushed samples. */
export interface SampleSink {
  /**
   * `job` names the producer (the scrape job). Called synchronously on the producer's turn:
   * a slow consumer must buffer, not block; the batch is only valid during the call.
   */
  write(job: string, batch: SampleBatch): void;
  /**
   * True when what is written now could not be kept (remote write: a queue whose disk is at its
   * bound would push its oldest data out). Producers that can make their sender wait — push
   * ingestion answers 429, a TCP listener stops reading — ask before they accept; scrapes cannot
   * wait and write anyway (the queue then counts what it drops).
   */
  overloaded?(): boolean;
  /**
   * Resolves true once everything written before the call is safe from a crash (remote write:
   * sent, or on disk and synced); false when it cannot be (a failing disk). Absent: the consumer
   * keeps nothing a crash could lose that matters (a view of the latest values). A producer that
   * acknowledges to its own source only after this (the NATS consumer) loses nothing on `kill -9`.
   */
  persisted?(): Promise<boolean>;
}

/**
 * Hands every batch to all consumers. Consumers come and go (a gateway path that exposes a
 * job, remote-write queues on reload); one that throws is reported and the others still get
 * the batch, so one broken consumer never stops the scrapes feeding the rest.
 */
export class SinkFanout implements SampleSink {
  private consumers: SampleSink[] = [];
  /** Samples written while no consumer was attached (nothing wanted them). */
  unconsumed = 0;

  constructor(private readonly onError: (err: unknown) => void) {}

  add(consumer: SampleSink): () => void {
    this.consumers = [...this.consumers, consumer];
    return () => {
      this.consumers = this.consumers.filter((c) => c !== consumer);
    };
  }

  overloaded(): boolean {
    for (const c of this.consumers) if (c.overloaded?.()) return true;
    return false;
  }

  async persisted(): Promise<boolean> {
    const all = await Promise.all(this.consumers.map((c) => c.persisted?.() ?? true));
    return all.every(Boolean);
  }

  write(job: string, batch: SampleBatch): void {
    const consumers = this.consumers;
    if (consumers.length === 0) {
      this.unconsumed += batch.length;
      return;
    }
    for (const c of consumers) {
      try {
        c.write(job, batch);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
