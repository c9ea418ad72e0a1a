/**
 * Structured logging: one line per event, logfmt (default) or JSON, with levels. Every module
 * takes a `Logger` and adds its own fields with `child`, so lines carry their origin
 * (`component=server`) without string formatting at call sites. Secrets must never be passed
 * as fields; callers redact them before logging.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'logfmt' | 'json';
export type LogFields = Record<string, unknown>;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
export const LOG_LEVELS = Object.keys(LEVEL_RANK) as LogLevel[];
export const LOG_FORMATS: readonly LogFormat[] = ['logfmt', 'json'];

export interface LogSink {
  write(line: string): void;
}

export class Logger {
  private readonly minRank: number;

  constructor(
    readonly level: LogLevel = 'info',
    readonly format: LogFormat = 'logfmt',
    private readonly sink: LogSink = process.stderr,
    private readonly fields: LogFields = {},
  ) {
    this.minRank = LEVEL_RANK[level];
  }

  child(fields: LogFields): Logger {
    return new Logger(this.level, this.format, this.sink, { ...this.fields, ...fields });
  }

  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= this.minRank;
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.minRank <= 0) this.emit('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    if (this.minRank <= 1) this.emit('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    if (this.minRank <= 2) this.emit('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.emit('error', msg, fields);
  }

  private emit(level: LogLevel, msg: string, fields?: LogFields): void {
    const all: LogFields = { ts: new Date().toISOString(), level, msg, ...this.fields, ...fields };
    this.sink.write((this.format === 'json' ? JSON.stringify(all, jsonReplacer) : toLogfmt(all)) + '\n');
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function toLogfmt(fields: LogFields): string {
  let out = '';
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
    out += (out === '' ? '' : ' ') + k + '=' + (/^[^\s"=\\]+$/.test(s) ? s : JSON.stringify(s));
  }
  return out;
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger = new Logger('error', 'logfmt', { write() {} });
