/**
 * Top-level sections that are Tributary's own rather than Prometheus': `server` (where to
 * listen, where to keep state) and `log`. New sections (`gateway:`, ...) join `tributarySections`
 * and schema.ts picks them up.
 */

import * as z from 'zod';
import { LOG_FORMATS, LOG_LEVELS } from '../log/logger.js';
import { DEFAULT_LISTEN_ADDRESS, parseListenAddress } from '../server/listen-address.js';
import { nonEmptyText } from './fields.js';

export const DEFAULT_DATA_DIR = './data';

/** Checked with the server's own parser, so an address that loads is one the server can read. */
const listenAddress = z.string().superRefine((s, ctx) => {
  try {
    parseListenAddress(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const serverConfigSchema = z.strictObject({
  listen: listenAddress.default(DEFAULT_LISTEN_ADDRESS),
  /** Relative paths are relative to the working directory. */
  data_dir: nonEmptyText.default(DEFAULT_DATA_DIR),
});

export const logConfigSchema = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info'),
  format: z.enum(LOG_FORMATS).default('logfmt'),
});

export const tributarySections = {
  server: serverConfigSchema.prefault({}),
  log: logConfigSchema.prefault({}),
};

export type ServerConfig = z.output<typeof serverConfigSchema>;
export type LogConfig = z.output<typeof logConfigSchema>;
