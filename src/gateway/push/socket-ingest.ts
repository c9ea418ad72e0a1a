/**
 * What happens to one app's payload from a socket: parsed leniently (a socket client never
 * sees an error, so its good lines are kept), stored whole with the listener's TTL. A payload
 * of which nothing parsed, one the store refuses (a series twice, a TYPE that clashes with
 * another app's, a reserved app name) or one over a store limit is refused: logged, counted,
 * recorded on the app for /apps, and the app's last good payload stays.
 */

import type { Logger } from '../../log/logger.js';
import { AppStore, PushInvalidError, PushLimitError } from './app-store.js';
import type { PushMetrics } from './push-metrics.js';
import { parseLenient, PushedTextError } from './pushed-text.js';
import type { WireMessage } from './wire-decoder.js';

export interface SocketIngestContext {
  store: AppStore;
  logger: Logger;
  metrics: PushMetrics;
  listener: string;
  protocol: 'json' | 'capnp';
  /** Listener address or path plus peer, for /apps. */
  origin: string;
  ttlMs: number;
  /** The listener's `remote_write` switch. */
  remoteWrite?: boolean;
}

/** Returns whether the payload was stored. */
export function ingestWireMessage(msg: WireMessage, ctx: SocketIngestContext): boolean {
  const refuse = (reason: 'parse' | 'invalid' | 'limit', error: string): false => {
    ctx.store.reject(msg.app, error);
    ctx.metrics.errors.labels(ctx.listener, reason).inc();
    ctx.logger.warn('pushed payload refused', { app: msg.app, reason, error });
    return false;
  };
  let parsed;
  try {
    parsed = parseLenient(msg.text, 'prometheus');
  } catch (err) {
    if (err instanceof PushedTextError) return refuse('parse', err.message);
    throw err;
  }
  try {
    ctx.store.push({
      key: msg.app,
      name: msg.app,
      protocol: ctx.protocol,
      origin: ctx.origin,
      families: parsed.families,
      droppedLines: parsed.dropped,
      ttlMs: ctx.ttlMs,
      mode: 'replace',
      ...(ctx.remoteWrite ? { remoteWrite: true } : {}),
    });
  } catch (err) {
    if (err instanceof PushInvalidError) return refuse('invalid', err.message);
    if (err instanceof PushLimitError) return refuse('limit', err.message);
    throw err;
  }
  ctx.metrics.pushes.labels(ctx.listener, ctx.protocol).inc();
  if (parsed.dropped > 0) {
    ctx.metrics.errors.labels(ctx.listener, 'bad_lines').inc();
    ctx.logger.warn('bad lines dropped from pushed payload', { app: msg.app, dropped: parsed.dropped, first_error: parsed.firstError });
  }
  return true;
}
