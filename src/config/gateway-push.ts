/**
 * The gateway's `push:` section: how apps push metrics to it — the Pushgateway-style HTTP API
 * and TCP/Unix socket listeners speaking exporter-proxy's JSON or Cap'n Proto framing — and
 * what pushed apps may cost (TTL, apps, series, body size). The lead wires it into `gateway:`.
 */

import * as z from 'zod';
import { parseListenAddress } from '../server/listen-address.js';
import { bool, duration, nonEmptyText, size, uint } from './fields.js';
import { accessSchema } from './access.js';

export const DEFAULT_PUSH_TTL_MS = 5 * 60 * 1000;
export const DEFAULT_PUSH_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Same parser as the listeners use, so an address that loads is one they can bind. */
const tcpAddress = z.string().superRefine((s, ctx) => {
  try {
    parseListenAddress(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/** Octal as `chmod` spells it; a YAML number would lose the leading 0 and read as decimal. */
const socketMode = z
  .union([z.string(), z.number()])
  .transform((v, ctx): number => {
    const s = String(v);
    if (!/^0?[0-7]{3,4}$/.test(s) && !/^0o[0-7]{3,4}$/.test(s)) {
      ctx.addIssue({ code: 'custom', message: `expected an octal file mode such as "0660", got ${JSON.stringify(s)}` });
      return z.NEVER;
    }
    return parseInt(s.replace(/^0o/, ''), 8);
  });

/** A user or group: a name, or a numeric id. */
const ownerRef = z.union([z.string().min(1), z.number().int().nonnegative()]);

export const pushListenerSchema = z
  .strictObject({
    /** Label of this listener in logs and metrics; defaults to the address or path. */
    name: nonEmptyText.optional(),
    tcp: tcpAddress.optional(),
    unix: nonEmptyText.optional(),
    format: z.enum(['json', 'capnp']),
    /** Overrides `push.default_ttl` for apps arriving here. */
    ttl: duration.optional(),
    unix_socket_mode: socketMode.optional(),
    unix_socket_owner: ownerRef.optional(),
    unix_socket_group: ownerRef.optional(),
    /** Connections read at once. More are accepted and wait, unread and in order, for a slot. */
    max_connections: uint.refine((n) => n >= 1, 'must be at least 1').default(64),
    /**
     * Connections that may wait for a slot. Past this a new connection is reset at once, counted
     * as `too_many_connections` and logged; 0 refuses every connection over `max_connections`.
     */
    max_pending_connections: uint.default(4096),
    /**
     * How long a sender may pause in the middle of a message (a JSON object, a Cap'n Proto
     * message) before the connection is cut and the partial message counted as a `timeout`.
     * Every chunk received restarts it; it does not run between messages. When connections wait
     * for a slot, one whose message has taken longer than this gives its slot up (`make_room`),
     * and so does one idle between messages (sooner once it has delivered a message).
     */
    read_timeout: duration.refine((n) => n > 0, 'must be positive').default(10_000),
    /**
     * How long a connection may sit idle between messages before it is closed; 0 = no limit.
     * Persistent Cap'n Proto senders push every N seconds on one connection and expect it to be
     * there; a close only makes their next push fail. TCP keep-alive (15 s) reaps connections
     * whose peer is gone, and idle ones give way when connections wait (see `read_timeout`).
     */
    idle_timeout: duration.default(0),
    /** Bytes one message (a JSON object, a Cap'n Proto message) may carry; defaults to `push.max_body_bytes`. */
    max_bytes: size.optional(),
    /**
     * Also send the apps pushed here into the pipeline — global relabeling and every remote-write
     * URL, job `push` — labelled as on the gateway page; staleness markers when an app goes.
     */
    remote_write: bool.default(false),
  })
  .superRefine((l, ctx) => {
    if ((l.tcp === undefined) === (l.unix === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a listener needs exactly one of tcp or unix' });
    }
    if (l.tcp !== undefined && (l.unix_socket_mode !== undefined || l.unix_socket_owner !== undefined || l.unix_socket_group !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'unix_socket_mode, unix_socket_owner and unix_socket_group only apply to unix listeners' });
    }
  });

export const pushConfigSchema = z.strictObject({
  /** 0 keeps apps until they are deleted, as the Pushgateway does. */
  default_ttl: duration.default(DEFAULT_PUSH_TTL_MS),
  max_apps: uint.default(10_000),
  max_series: uint.default(5_000_000),
  max_body_bytes: size.default(DEFAULT_PUSH_MAX_BODY_BYTES),
  /**
   * Keep pushed apps (HTTP groups and socket apps) under `<data_dir>/gateway/apps/` across
   * restarts, written every `persistence_interval` and at shutdown (the Pushgateway's
   * `--persistence.file`); the interval is the most of the pushes a `kill -9` can lose.
   */
  persistence: bool.default(true),
  persistence_interval: duration.default(5_000),
  http: z
    .strictObject({
      enabled: bool.default(true),
      /** TTL of groups pushed over HTTP; `push.default_ttl` when left out; 0 keeps them until deleted. */
      ttl: duration.optional(),
      /** Serve `PUT /api/v1/admin/wipe` (the Pushgateway's `--web.enable-admin-api`). */
      enable_admin_api: bool.default(false),
      /** Who may push, delete and read the push API; open when left out. */
      access: accessSchema.optional(),
      /** Also send the groups pushed here into the pipeline (as a listener's `remote_write`). */
      remote_write: bool.default(false),
    })
    .prefault({}),
  listeners: z
    .array(pushListenerSchema)
    .default([])
    .superRefine((ls, ctx) => {
      // Listener names label metrics; two listeners under one name would share counters.
      const seen = new Set<string>();
      ls.forEach((l, i) => {
        const name = l.name ?? l.tcp ?? l.unix ?? '';
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [i], message: `listener ${JSON.stringify(name)} is defined twice` });
        seen.add(name);
      });
    }),
});

export type PushListenerConfig = z.output<typeof pushListenerSchema>;
export type PushConfig = z.output<typeof pushConfigSchema>;
