/**
 * The standard `process_*` metrics (names and meanings as Prometheus' client libraries export
 * them) plus Node-specific health signals: event-loop lag, heap use and build information.
 * Linux figures come from small /proc files read at collection time; on other systems, or
 * when a file cannot be read, the metric is left out rather than reported wrong.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { MetricFamily, MetricType } from '../model/family.js';
import { Labels, METRIC_NAME } from '../model/labels.js';
import type { Collector } from './registry.js';

export interface ProcessCollectorOptions {
  /** Tributary's version, for `tributary_build_info`. */
  version?: string;
  /** Where procfs is mounted; tests point this at a fixture. */
  procRoot?: string;
  /**
   * Sampling period of the event-loop monitor (default 100 ms). Each sample wakes the process:
   * at Node's default of 10 ms those hundred wake-ups a second cost an idle agent more CPU than
   * a scrape, while ten a second still catch any stall longer than a few sampling periods.
   */
  eventLoopResolutionMs?: number;
}

/**
 * USER_HZ, the unit of /proc/self/stat's starttime. The kernel fixes it at 100 for userspace on
 * every architecture Node runs on, and Node has no sysconf binding to ask.
 */
const CLOCK_TICKS_PER_SECOND = 100;

const QUANTILES = [0.5, 0.9, 0.99] as const;

function point(name: string, value: number, extra?: Record<string, string>): { labels: Labels; value: number } {
  return { labels: Labels.fromRecord({ ...extra, [METRIC_NAME]: name }), value };
}

function single(name: string, type: MetricType, help: string, value: number): MetricFamily {
  return { name, type, help, metrics: [point(name, value)] };
}

/** Fields of /proc/[pid]/stat after the command name, which may itself hold spaces and ')'. */
function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
}
// Field numbers from proc(5), shifted: statFields()[0] is field 3 (state).
const STAT_STARTTIME = 22 - 3;
const STAT_VSIZE = 23 - 3;

/**
 * Event-loop lag is exposed as a summary: quantiles 0.5/0.9/0.99 over the samples taken since
 * the previous collection (so each scrape sees the lag of its own interval, as prom-client
 * does), with `_sum` and `_count` accumulated over the whole life of the process. The monitor
 * measures the interval between timer wake-ups, so its own resolution is subtracted to leave
 * only the delay.
 */
export class ProcessCollector implements Collector {
  private readonly version: string;
  private readonly procRoot: string;
  private readonly startTime: number;
  private readonly loop: IntervalHistogram;
  private readonly resolutionNs: number;
  private lagSum = 0;
  private lagCount = 0;

  constructor(opts: ProcessCollectorOptions = {}) {
    this.version = opts.version ?? 'unknown';
    this.procRoot = opts.procRoot ?? '/proc';
    this.startTime = this.readStartTime() ?? Date.now() / 1000 - process.uptime();
    const resolution = opts.eventLoopResolutionMs ?? 100;
    this.resolutionNs = resolution * 1e6;
    this.loop = monitorEventLoopDelay({ resolution });
    this.loop.enable();
  }

  /** Stops the event-loop monitor. */
  close(): void {
    this.loop.disable();
  }

  collect(): MetricFamily[] {
    const out: MetricFamily[] = [];
    const cpu = process.cpuUsage();
    out.push(
      single('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6),
    );
    const mem = process.memoryUsage();
    out.push(single('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', mem.rss));
    const vsize = this.readVirtualMemory();
    if (vsize !== undefined) {
      out.push(single('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes.', vsize));
    }
    const openFds = this.readOpenFds();
    if (openFds !== undefined) {
      out.push(single('process_open_fds', 'gauge', 'Number of open file descriptors.', openFds));
    }
    const maxFds = this.readMaxFds();
    if (maxFds !== undefined) {
      out.push(single('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', maxFds));
    }
    out.push(
      single('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', this.startTime),
    );
    out.push(single('tributary_heap_used_bytes', 'gauge', 'V8 heap in use, in bytes.', mem.heapUsed));
    out.push(this.eventLoopLag());
    out.push({
      name: 'tributary_build_info',
      type: 'gauge',
      help: 'Always 1; labels say which build of Tributary is running on which Node.js.',
      metrics: [point('tributary_build_info', 1, { version: this.version, node_version: process.version })],
    });
    return out;
  }

  private eventLoopLag(): MetricFamily {
    const name = 'tributary_event_loop_lag_seconds';
    const h = this.loop;
    const n = h.count;
    const lag = (ns: number): number => Math.max(0, ns - this.resolutionNs) / 1e9;
    const metrics = QUANTILES.map((q) => point(name, n === 0 ? NaN : lag(h.percentile(q * 100)), { quantile: String(q) }));
    if (n > 0) {
      this.lagSum += Math.max(0, h.mean * n - this.resolutionNs * n) / 1e9;
      this.lagCount += n;
    }
    h.reset();
    metrics.push(point(name + '_sum', this.lagSum), point(name + '_count', this.lagCount));
    return {
      name,
      type: 'summary',
      help: 'Event-loop delay in seconds; quantiles cover the time since the previous collection.',
      metrics,
    };
  }

  private read(rel: string): string | undefined {
    if (process.platform !== 'linux') return undefined;
    try {
      return readFileSync(`${this.procRoot}/${rel}`, 'utf8');
    } catch {
      return undefined;
    }
  }

  private readStartTime(): number | undefined {
    const stat = this.read('stat');
    const self = this.read('self/stat');
    if (stat === undefined || self === undefined) return undefined;
    const btime = /^btime (\d+)$/m.exec(stat);
    const ticks = Number(statFields(self)[STAT_STARTTIME]);
    if (!btime || !Number.isFinite(ticks)) return undefined;
    return Number(btime[1]) + ticks / CLOCK_TICKS_PER_SECOND;
  }

  private readVirtualMemory(): number | undefined {
    const self = this.read('self/stat');
    if (self === undefined) return undefined;
    const v = Number(statFields(self)[STAT_VSIZE]);
    return Number.isFinite(v) ? v : undefined;
  }

  private readOpenFds(): number | undefined {
    if (process.platform !== 'linux') return undefined;
    try {
      return readdirSync(`${this.procRoot}/self/fd`).length;
    } catch {
      return undefined;
    }
  }

  private readMaxFds(): number | undefined {
    const limits = this.read('self/limits');
    if (limits === undefined) return undefined;
    const m = /^Max open files\s+(\S+)/m.exec(limits);
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  }
}
