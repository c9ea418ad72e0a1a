/**
 * Which members of a scrape cluster own a target: rendezvous (highest random weight) hashing
 * of the target's identity after relabeling. Every member computes the same answer on its own,
 * so N members with one configuration scrape each target exactly `replication_factor` times
 * without talking to each other. Rendezvous rather than vmagent's hash-modulo-N: when the
 * member count changes only the targets the new member wins (about 1/N of them) move, where a
 * modulo moves nearly all of them and every moved target risks a gap.
 */

import { fmix32, fnv1a32 } from '../model/hash.js';
import type { ClusterConfig } from '../config/cluster.js';

const mix32 = (h: number): number => fmix32(h) >>> 0;

export class ClusterMembership {
  readonly self: number;
  readonly count: number;
  readonly replicas: number;
  /** Moves every target's scrape phase by the same amount on this cluster's members. */
  readonly phaseSeed: number;
  private readonly seeds: Uint32Array;
  private readonly scores: Float64Array;

  constructor(c: Pick<ClusterConfig, 'members_count' | 'member_num' | 'replication_factor' | 'name'>) {
    this.count = c.members_count;
    this.self = c.member_num;
    this.replicas = Math.min(c.replication_factor, c.members_count);
    this.phaseSeed = c.name === '' ? 0 : fnv1a32(c.name);
    this.seeds = new Uint32Array(this.count);
    for (let m = 0; m < this.count; m++) this.seeds[m] = mix32((m + 1) * 0x9e3779b9);
    this.scores = new Float64Array(this.count);
  }

  /** Scrapes every target itself: not a cluster, or one where every member has everything. */
  get ownsAll(): boolean {
    return this.replicas >= this.count;
  }

  /** The members that scrape the target with this key, by descending weight. */
  owners(key: string): number[] {
    if (this.ownsAll) return Array.from({ length: this.count }, (_, i) => i);
    const h = fnv1a32(key);
    for (let m = 0; m < this.count; m++) this.scores[m] = mix32(h ^ this.seeds[m]) * this.count + m;
    const order = Array.from({ length: this.count }, (_, i) => i).sort((a, b) => this.scores[b] - this.scores[a]);
    return order.slice(0, this.replicas);
  }

  owns(key: string): boolean {
    return this.ownsAll || this.owners(key).includes(this.self);
  }

  /** The identity of the sharding: equal keys shard every target the same way. */
  get key(): string {
    return `${this.count}/${this.self}/${this.replicas}/${this.phaseSeed}`;
  }
}

export const SINGLE_MEMBER = new ClusterMembership({ members_count: 1, member_num: 0, replication_factor: 1, name: '' });
