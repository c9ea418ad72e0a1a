/** A logger whose lines a test keeps, to wait for (and inspect) what was reported. */

import { Logger } from '../../src/log/logger.js';

export class LogCapture {
  readonly lines: string[] = [];
  readonly logger = new Logger('debug', 'json', { write: (l: string) => void this.lines.push(l) });

  async waitFor(substring: string, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find((l) => l.includes(substring));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no log line with ${JSON.stringify(substring)}; got ${this.lines.join('')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
