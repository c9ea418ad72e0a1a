/**
 * The data model every part of Tributary shares: series identities (`Labels`), columnar sample
 * batches with an exact staleness marker, and metric families as exposition pages carry them.
 */
export * from './labels.js';
export * from './samples.js';
export * from './family.js';
export * from './names.js';
