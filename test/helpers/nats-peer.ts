/**
 * Debian's nats-server with JetStream, started by the tests: one node, or a cluster of nodes
 * on localhost, each with its own store directory so that a node stopped and started again
 * keeps its messages.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { NATS_SERVER } from './peers.js';
import { freePort } from './prometheus-peer.js';

export interface NatsNode {
  readonly port: number;
  readonly clusterPort: number;
  readonly name: string;
  child: ChildProcess;
  log: string;
  /** Starts the node again on the same ports and store (after a stop or kill). */
  restart(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** `count` nodes; more than one form a JetStream cluster (stream replicas up to `count`). */
export async function startNats(dir: string, count = 1): Promise<NatsNode[]> {
  const ports = await Promise.all(Array.from({ length: count }, async () => ({ port: await freePort(), clusterPort: await freePort() })));
  const nodes = ports.map(({ port, clusterPort }, i) => {
    const name = `n${i}`;
    const store = join(dir, name);
    mkdirSync(store, { recursive: true });
    const routes = ports.filter((_, j) => j !== i).map((p) => `"nats-route://127.0.0.1:${p.clusterPort}"`);
    const conf = join(dir, `${name}.conf`);
    writeFileSync(
      conf,
      `server_name: ${name}
listen: 127.0.0.1:${port}
jetstream { store_dir: "${store}" }
${count > 1 ? `cluster { name: c, listen: 127.0.0.1:${clusterPort}, routes: [${routes.join(', ')}] }` : ''}
`,
    );
    const node: NatsNode = {
      port,
      clusterPort,
      name,
      child: undefined as unknown as ChildProcess,
      log: '',
      async restart() {
        node.child = spawn(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
        node.child.stdout!.on('data', (d) => (node.log += d));
        node.child.stderr!.on('data', (d) => (node.log += d));
        const deadline = Date.now() + 15_000;
        while (!(await reachable(port))) {
          if (node.child.exitCode !== null) throw new Error(`nats-server ${name} exited: ${node.log}`);
          if (Date.now() > deadline) throw new Error(`nats-server ${name} not up: ${node.log}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      async stop(signal: NodeJS.Signals = 'SIGTERM') {
        const c = node.child;
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise<void>((r) => c.once('exit', () => r()));
        c.kill(signal);
        await exited;
      },
    };
    return node;
  });
  await Promise.all(nodes.map((n) => n.restart()));
  return nodes;
}

/** The address agents are given: every node, a subject, and the stream's options. */
export function natsUrl(nodes: readonly NatsNode[], subject: string, query = ''): string {
  return `nats://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}/${subject}${query ? `?${query}` : ''}`;
}
