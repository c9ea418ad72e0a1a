/**
 * `role: pod`: one group per pod (`pod/<namespace>/<name>`), one target per declared container
 * port and one portless target (the pod IP alone) per container that declares none, init
 * containers included and marked. A pod without an IP yet (pending, evicted) is an empty group,
 * as in Prometheus, so its old targets go away.
 */

import { ADDRESS_LABEL, type TargetGroup } from '../target-group.js';
import {
  joinHostPort,
  NAMESPACE_LABEL,
  podLabels,
  POD_CONTAINER_IMAGE,
  POD_CONTAINER_INIT,
  POD_CONTAINER_NAME,
  POD_CONTAINER_PORT_NAME,
  POD_CONTAINER_PORT_NUMBER,
  POD_CONTAINER_PORT_PROTOCOL,
  withNodeLabels,
  type LabelSet,
} from './labels.js';
import type { Lookup, Node, Pod } from './objects.js';

export function podSource(namespace: string, name: string): string {
  return `pod/${namespace}/${name}`;
}

export function podGroup(pod: Pod, nodes: Lookup<Node> | undefined): TargetGroup {
  const m = pod.metadata ?? {};
  const group: TargetGroup = { source: podSource(m.namespace ?? '', m.name ?? ''), targets: [], labels: {} };
  const ip = pod.status?.podIP ?? '';
  if (ip === '') return group;

  group.labels = podLabels(pod);
  group.labels[NAMESPACE_LABEL] = m.namespace ?? '';
  if (nodes) group.labels = withNodeLabels(group.labels, nodes, pod.spec?.nodeName ?? '');

  const containers = pod.spec?.containers ?? [];
  const all = [...containers, ...(pod.spec?.initContainers ?? [])];
  all.forEach((c, i) => {
    const container: LabelSet = {
      [POD_CONTAINER_NAME]: c.name ?? '',
      [POD_CONTAINER_IMAGE]: c.image ?? '',
      [POD_CONTAINER_INIT]: String(i >= containers.length),
    };
    const ports = c.ports ?? [];
    // Without a declared port the target is the bare pod IP; relabeling has to add one.
    if (ports.length === 0) group.targets.push({ [ADDRESS_LABEL]: ip, ...container });
    for (const p of ports) {
      const port = String(p.containerPort ?? 0);
      group.targets.push({
        [ADDRESS_LABEL]: joinHostPort(ip, port),
        ...container,
        [POD_CONTAINER_PORT_NUMBER]: port,
        [POD_CONTAINER_PORT_NAME]: p.name ?? '',
        [POD_CONTAINER_PORT_PROTOCOL]: p.protocol ?? '',
      });
    }
  });
  return group;
}
