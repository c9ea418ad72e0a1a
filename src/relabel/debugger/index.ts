/**
 * The relabel debugger: a label set and a YAML rule list in, every rule's effect out (labels
 * before and after, what was added, removed or changed, the rule that dropped the series), as a
 * page with a form or as JSON. It reads rules with the configuration's YAML reader and schema
 * and runs them with the engine's step-by-step trace, so what it shows is what a configuration
 * would do. Scrape pages link here with a dropped target's labels and its job's rules.
 */
export { registerRelabelDebugPages } from './routes.js';
export {
  relabelDebugHref,
  RELABEL_DEBUG_PATHS,
  RELABEL_DEBUG_MAX_INPUT_BYTES,
  RELABEL_DEBUG_MAX_LINK_LENGTH,
} from './page.js';
export { runRelabelDebug } from './run.js';
export type { DebugRun, DebugStep } from './run.js';
export { RELABEL_DEBUG_MODES, type RelabelDebugMode } from './paths.js';
export { readLabels, readRules, textPosition } from './input.js';
export type { Read } from './input.js';
