/**
 * The `gateway:` section: named sources (HTTP exporters, files, scripts), pushed apps
 * (Pushgateway-style HTTP and socket listeners), and the exposition paths that serve them
 * merged. Without the section, `/metrics` serves Tributary's own metrics plus whatever apps
 * push over HTTP.
 */

import * as z from 'zod';
import { isLegacyLabelName } from '../model/names.js';
import { bool, duration, nonEmptyText } from './fields.js';
import { gatewaySourcesSchema } from './gateway-sources.js';
import { pushConfigSchema } from './gateway-push.js';
import { accessSchema } from './access.js';

export const DEFAULT_SOURCE_LABEL = 'exporter_name';
/** Below Prometheus' default scrape timeout (10s), so that a slow source never fails the scrape. */
export const DEFAULT_GATEWAY_TIMEOUT_MS = 9_500;

/** Paths Tributary serves itself; an exposition path may not take them. */
const RESERVED_PATHS = ['/', '/apps', '/health', '/ready'];

const pathSchema = z.strictObject({
  path: nonEmptyText.superRefine((p, ctx) => {
    if (!p.startsWith('/')) ctx.addIssue({ code: 'custom', message: `a path starts with "/": ${JSON.stringify(p)}` });
    else if (RESERVED_PATHS.includes(p) || p.startsWith('/metrics/job')) ctx.addIssue({ code: 'custom', message: `${p} is one of Tributary's own paths` });
  }),
  /** Names of the sources served here; all of them when left out. */
  sources: z.array(nonEmptyText).optional(),
  pushed_apps: bool.default(true),
  self_metrics: bool.default(true),
  /** Deadline for collecting this path's sources in one scrape. */
  timeout: duration.default(DEFAULT_GATEWAY_TIMEOUT_MS),
  /** Who may scrape this path (basic auth users with bcrypt hashes, bearer tokens); open when left out. */
  access: accessSchema.optional(),
});

export const gatewayConfigSchema = z
  .strictObject({
    /** Label naming each series' source; "" turns it off everywhere. */
    source_label: z.string().default(DEFAULT_SOURCE_LABEL),
    sources: gatewaySourcesSchema.default([]),
    push: pushConfigSchema.prefault({}),
    paths: z.array(pathSchema).default([{ path: '/metrics', pushed_apps: true, self_metrics: true, timeout: DEFAULT_GATEWAY_TIMEOUT_MS }]),
  })
  .superRefine((g, ctx) => {
    if (g.source_label !== '' && !isLegacyLabelName(g.source_label)) {
      ctx.addIssue({ code: 'custom', path: ['source_label'], message: `${JSON.stringify(g.source_label)} is not a valid label name` });
    }
    const names = new Set(g.sources.map((s) => s.name));
    g.sources.forEach((s, i) => {
      if (g.source_label !== '' && Object.hasOwn(s.labels, g.source_label)) {
        ctx.addIssue({ code: 'custom', path: ['sources', i, 'labels', g.source_label], message: `a static label may not be the source label ${JSON.stringify(g.source_label)}` });
      }
    });
    const seen = new Set<string>();
    g.paths.forEach((p, i) => {
      if (seen.has(p.path)) ctx.addIssue({ code: 'custom', path: ['paths', i, 'path'], message: `path ${p.path} is listed twice` });
      seen.add(p.path);
      p.sources?.forEach((n, j) => {
        if (!names.has(n)) ctx.addIssue({ code: 'custom', path: ['paths', i, 'sources', j], message: `no source is named ${JSON.stringify(n)}` });
      });
    });
  });

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type GatewayPathConfig = z.output<typeof pathSchema>;
