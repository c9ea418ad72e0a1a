/**
 * Child-process entry of isolated.ts: resolves the configuration it is sent, or reads each
 * relabel rule list it is sent, and sends back the outcome. A configuration is asked once; the
 * rule reader is asked until the parent lets go of it.
 */

import { ConfigError } from './errors.js';
import { readRulesText } from './relabel-rules-text.js';
import { resolveConfig } from './resolve.js';
import type { ResolverAnswer, ResolverQuestion } from './isolated.js';

process.on('message', (question: ResolverQuestion) => {
  void answer(question);
});

async function answer(question: ResolverQuestion): Promise<void> {
  let a: ResolverAnswer;
  try {
    a = 'rules' in question ? { ok: true, rules: readRulesText(question.rules) } : { ok: true, resolved: await resolveConfig(question.config) };
  } catch (err) {
    a = err instanceof ConfigError ? { ok: false, issues: [...err.issues] } : { ok: false, message: (err as Error).message };
  }
  process.send!(a, () => {
    if (!('rules' in question)) process.disconnect();
  });
}
