/** Child-process entry of isolated.ts: resolves the configuration it is sent and sends back the outcome. */

import { ConfigError } from './errors.js';
import { resolveConfig, type ConfigSources } from './resolve.js';
import type { ResolverAnswer } from './isolated.js';

process.once('message', (sources: ConfigSources) => {
  void answer(sources);
});

async function answer(sources: ConfigSources): Promise<void> {
  let a: ResolverAnswer;
  try {
    a = { ok: true, resolved: await resolveConfig(sources) };
  } catch (err) {
    a = err instanceof ConfigError ? { ok: false, issues: [...err.issues] } : { ok: false, message: (err as Error).message };
  }
  process.send!(a, () => process.disconnect());
}
