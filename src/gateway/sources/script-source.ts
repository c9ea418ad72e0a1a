/**
 * A script whose stdout is an exposition page. `on_scrape` runs it during scrapes, one run shared
 * by all concurrent scrapes and killed once none of them waits any more; `periodic` runs it in
 * the background and serves the last good page. On-scrape failures show no data (there is no
 * "last good" a scrape could trust to be current); periodic failures keep the last good page and
 * are counted.
 */

import type { ScriptSourceConfig } from '../../config/gateway-sources.js';
import type { Logger } from '../../log/logger.js';
import type { GatewaySource, ScrapeContext, SourceSnapshot, SourceKind } from '../source.js';
import { PageState, sniffFormat } from './page-state.js';
import { Poller } from './poller.js';
import { runCommand, type CommandSpec } from './run-command.js';
import { SharedRun } from './shared-run.js';

export class ScriptSource implements GatewaySource {
  readonly kind: SourceKind = 'script';
  readonly origin: string;
  private readonly page = new PageState();
  private readonly spec: CommandSpec;
  private readonly shared: SharedRun<SourceSnapshot>;
  private readonly poller: Poller | undefined;
  private readonly log: Logger;

  constructor(
    readonly name: string,
    private readonly config: ScriptSourceConfig,
    logger: Logger,
  ) {
    this.origin = [config.command, ...config.args].join(' ');
    this.log = logger.child({ source: name, kind: 'script' });
    this.spec = {
      command: config.command,
      args: config.args,
      env: config.env,
      timeoutMs: config.timeout,
      maxOutputBytes: config.max_output_bytes,
    };
    this.shared = new SharedRun((signal) => this.runOnce(signal, 'no-data'));
    if (config.mode === 'periodic') {
      this.poller = new Poller(config.interval, async (signal) => {
        await this.runOnce(signal, 'keep-last-good');
      });
      this.poller.start();
    }
  }

  /** Runs that failed since start. */
  get failures(): number {
    return this.page.failures;
  }

  async snapshot(ctx: ScrapeContext): Promise<SourceSnapshot> {
    if (this.poller) return this.poller.latest(this.page, ctx.signal, this.config.timeout);
    const outcome = await this.shared.join(ctx.signal);
    if (outcome.aborted) {
      // This scrape gave up; the page state is left as it was for the scrapes still waiting.
      return { ...this.page.snapshot, ok: false, error: `scrape aborted while running ${this.config.command}` };
    }
    return outcome.value;
  }

  async close(): Promise<void> {
    this.shared.cancel();
    await this.poller?.close();
  }

  private async runOnce(signal: AbortSignal, onFailure: 'no-data' | 'keep-last-good'): Promise<SourceSnapshot> {
    const started = performance.now();
    const result = await runCommand(this.spec, signal);
    const seconds = (performance.now() - started) / 1000;
    if (result.ok) return this.page.accept(result.stdout, sniffFormat(result.stdout), seconds, onFailure);
    if (signal.aborted) {
      // Nobody waits for this run any more (all scrapes gone, or shutting down): recording it
      // would only blank the page or count a failure that was ours.
      return this.page.snapshot;
    }
    this.log.warn('script failed', { err: result.error });
    return this.page.fail(result.error, seconds, onFailure);
  }
}
