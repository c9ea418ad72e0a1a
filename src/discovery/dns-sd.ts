/**
 * `dns_sd_configs`: one group per name, re-resolved every refresh_interval, with Prometheus'
 * addresses and meta labels (SRV records carry their own port; A, AAAA, MX and NS use the
 * configured one). A lookup that fails keeps that name's last group. The resolver is a
 * parameter because tests (and hosts with no DNS) cannot rely on real records.
 */

import * as dns from 'node:dns/promises';
import type { DnsSdConfig } from '../config/discovery.js';
import type { Logger } from '../log/logger.js';
import { Refresher } from './refresher.js';
import { ADDRESS_LABEL, type Discoverer, type FailureHandler, type TargetGroup, type UpdateHandler } from './target-group.js';

export const DNS_NAME_LABEL = '__meta_dns_name';
export const DNS_SRV_TARGET_LABEL = '__meta_dns_srv_record_target';
export const DNS_SRV_PORT_LABEL = '__meta_dns_srv_record_port';
export const DNS_MX_TARGET_LABEL = '__meta_dns_mx_record_target';
export const DNS_NS_TARGET_LABEL = '__meta_dns_ns_record_target';

/** The slice of node:dns/promises this discoverer uses. */
export interface DnsResolver {
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveMx(name: string): Promise<{ exchange: string; priority: number }[]>;
  resolveNs(name: string): Promise<string[]>;
}

export class DnsDiscoverer implements Discoverer {
  private readonly refresher: Refresher;
  private readonly last = new Map<string, TargetGroup>();
  private readonly log: Logger;

  constructor(
    private readonly config: DnsSdConfig,
    logger: Logger,
    private readonly resolver: DnsResolver = dns,
  ) {
    this.log = logger.child({ discovery: 'dns', type: config.type });
    this.refresher = new Refresher(config.refresh_interval, () => this.resolveAll(), this.log);
  }

  start(onUpdate: UpdateHandler, onFailure?: FailureHandler): void {
    this.refresher.start(onUpdate, onFailure);
  }

  private async resolveAll(): Promise<TargetGroup[]> {
    await Promise.all(
      this.config.names.map(async (name) => {
        try {
          this.last.set(name, { source: name, targets: await this.lookup(name), labels: {} });
        } catch (err) {
          this.log.error('DNS lookup failed; keeping its previous targets', { name, err: err as Error });
          this.refresher.failed(err, name);
        }
      }),
    );
    return this.config.names.flatMap((n) => this.last.get(n) ?? []);
  }

  private async lookup(name: string): Promise<Record<string, string>[]> {
    const r = this.resolver;
    const port = this.config.port ?? 0;
    const target = (address: string, extra: Record<string, string> = {}): Record<string, string> => ({
      [ADDRESS_LABEL]: address,
      [DNS_NAME_LABEL]: name,
      ...extra,
    });
    switch (this.config.type) {
      case 'SRV':
        return (await r.resolveSrv(name)).map((s) => {
          const host = s.name.replace(/\.+$/, '');
          return target(hostPort(host, s.port), {
            [DNS_SRV_TARGET_LABEL]: s.name,
            [DNS_SRV_PORT_LABEL]: String(s.port),
          });
        });
      case 'A':
        return (await r.resolve4(name)).map((ip) => target(hostPort(ip, port)));
      case 'AAAA':
        return (await r.resolve6(name)).map((ip) => target(hostPort(ip, port)));
      case 'MX':
        return (await r.resolveMx(name)).map((m) =>
          target(hostPort(m.exchange.replace(/\.+$/, ''), port), { [DNS_MX_TARGET_LABEL]: m.exchange }),
        );
      case 'NS':
        return (await r.resolveNs(name)).map((ns) =>
          target(hostPort(ns.replace(/\.+$/, ''), port), { [DNS_NS_TARGET_LABEL]: ns }),
        );
    }
  }

  async close(): Promise<void> {
    await this.refresher.close();
  }
}

/** Go's net.JoinHostPort: IPv6 literals get brackets. */
function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
