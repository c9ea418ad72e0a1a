/**
 * The data model every part of Tributary shares: series identities (`Labels`), columnar sample
 * batches with an exact staleness marker, metric families as exposition pages carry them, and
 * the rule for attaching a source's labels to a series (honor_labels, `exported_`).
 */
export * from './labels.js';
export * from './attach-labels.js';
export * from './samples.js';
export * from './family.js';
export * from './names.js';
