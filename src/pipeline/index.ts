/**
 * The sample pipeline between producers (scrape loops today; push ingestion next) and
 * consumers (remote write, and the gateway's federation-style view of scraped jobs). A
 * producer hands over one `SampleBatch` per scrape, synchronously; a consumer copies what it
 * keeps, because the batch is reused for the producer's next round. Staleness markers travel
 * in the same batches, flagged, so every consumer sees a series end where Prometheus would.
 */
export { SinkFanout, type SampleSink } from './sink.js';
export { LatestSamples, type LatestSeries } from './latest.js';
