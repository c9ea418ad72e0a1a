/**
 * `role: node`: one group per node (`node/<name>`) with one target, the kubelet's address
 * (`instance` set to the node name), picked from the node's addresses in Prometheus' (and
 * kubectl's) order of preference; each address type's first address is also a label. A node
 * with no address yields no group.
 */

import { ADDRESS_LABEL, type TargetGroup } from '../target-group.js';
import { addMetadataLabels, joinHostPort, META, sanitizeLabelName, type LabelSet } from './labels.js';
import type { Node } from './objects.js';

const INSTANCE_LABEL = 'instance';

/** k8s.io/kubernetes' pkg/util/node order; LegacyHostIP is what Prometheus still checks. */
const ADDRESS_PREFERENCE = ['InternalIP', 'InternalDNS', 'ExternalIP', 'ExternalDNS', 'LegacyHostIP', 'Hostname'];

export function nodeSource(name: string): string {
  return `node/${name}`;
}

/** The node's own labels (role node), not the subset `attach_metadata` adds to other roles. */
export function nodeLabels(node: Node): LabelSet {
  return addMetadataLabels({ [`${META}node_name`]: node.metadata?.name ?? '' }, `${META}node_`, node.metadata);
}

export function nodeGroup(node: Node): TargetGroup | undefined {
  const name = node.metadata?.name ?? '';
  const byType = new Map<string, string[]>();
  for (const a of node.status?.addresses ?? []) {
    const type = a.type ?? '';
    byType.set(type, [...(byType.get(type) ?? []), a.address ?? '']);
  }
  const preferred = ADDRESS_PREFERENCE.find((t) => byType.has(t));
  if (preferred === undefined) return undefined;
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0;
  const target: LabelSet = {
    [ADDRESS_LABEL]: joinHostPort(byType.get(preferred)![0], port),
    [INSTANCE_LABEL]: name,
  };
  for (const [type, addresses] of byType) target[sanitizeLabelName(`${META}node_address_${type}`)] = addresses[0];
  return { source: nodeSource(name), targets: [target], labels: nodeLabels(node) };
}
