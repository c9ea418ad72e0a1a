/** What every protocol module of src/ingest/ gets to start with, and the shape they all have. */

import type { IngestConfig } from '../config/ingest.js';
import type { Logger } from '../log/logger.js';
import type { SampleSink } from '../pipeline/index.js';
import type { Registry } from '../selfmetrics/registry.js';
import type { HttpServer } from '../server/index.js';
import type { IngestHttp } from './http.js';
import type { Ingester } from './ingester.js';

export interface IngestContext {
  readonly config: IngestConfig;
  /** The main listener's ingestion routes (tenant paths, extra labels, body decoding, the answer). */
  readonly http: IngestHttp;
  readonly server: HttpServer;
  /** The pipeline. */
  readonly sink: SampleSink;
  readonly registry: Registry;
  readonly logger: Logger;
  /** The protocol's entry into the pipeline (one per protocol name, made on first use). */
  ingester(protocol: string): Ingester;
}

/** Something started that must be closed at shutdown (a listener). */
export interface Closable {
  close(): Promise<void>;
}

/** A push protocol: starts what its configuration turns on, returns what to close. */
export interface IngestProtocol {
  readonly name: string;
  start(ctx: IngestContext): Promise<Closable[]>;
}
