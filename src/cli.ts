#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=20
/**
 * The `tributary` command: see `cli/main.ts`. The V8 flags (also in `npm start`) trade a little
 * CPU for memory: a 2 MiB young generation (a scrape allocates little that outlives it; 1 MiB
 * saved 5 MB but cost 5% more CPU in scavenges), and an old one grown by 20% rather than doubled.
 * Scavenges run on the main thread alone: what survives a 2 MiB young generation is tens of
 * kilobytes, less than it costs to hand out to helper threads and wait for them — in parallel
 * a scavenge took twice as long and cost a third more CPU (--trace-gc-nvp, 400 targets).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-parallel-scavenge');
const argv = process.argv.slice(2);
// `gather` is a tool of its own: loaded without the agent's modules (a quarter of a second at start)
const run: Promise<number | undefined> =
  argv[0] === 'gather' ? import('./cli/gather.js').then((m) => m.gatherMain(argv.slice(1))) : import('./cli/main.js').then((m) => m.main(argv));

run.then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tributary: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
