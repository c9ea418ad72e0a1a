/** Worker-thread entry of isolated.ts: resolves the configuration and posts the outcome. */

import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from './errors.js';
import { resolveConfig, type ConfigSources } from './resolve.js';
import type { WorkerAnswer } from './isolated.js';

let answer: WorkerAnswer;
try {
  answer = { ok: true, resolved: await resolveConfig(workerData as ConfigSources) };
} catch (err) {
  answer = err instanceof ConfigError ? { ok: false, issues: [...err.issues] } : { ok: false, message: (err as Error).message };
}
parentPort!.postMessage(answer);
