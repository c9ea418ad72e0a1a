/**
 * Where the relabel debugger lives: its modes and their paths (Tributary's own and vmagent's).
 * Kept apart from the pages so that registering the routes loads nothing else (see routes.ts).
 */

/** `relabel`: the rules alone; `target` and `metric` name vmagent's two debug pages. */
export type RelabelDebugMode = 'relabel' | 'target' | 'metric';

export const RELABEL_DEBUG_MODES: readonly RelabelDebugMode[] = ['relabel', 'target', 'metric'];

export const RELABEL_DEBUG_PATHS: Readonly<Record<RelabelDebugMode, string>> = {
  relabel: '/relabel-debug',
  target: '/target-relabel-debug',
  metric: '/metric-relabel-debug',
};
