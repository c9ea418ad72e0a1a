/**
 * `role: endpoints`: one group per Endpoints object (`endpoints/<namespace>/<name>`) with one
 * target per address and port, ready addresses first. A target whose address is a pod gets the
 * pod's labels and, when a container declares that port, the container's; and every port a
 * seen pod declares that no endpoint port covers becomes a target of its own, so sidecars'
 * metrics ports are discovered too. The service of the same name lends its labels to the group.
 * The pod bookkeeping is shared with endpointslice.ts.
 */

import { ADDRESS_LABEL, type TargetGroup } from '../target-group.js';
import {
  addMetadataLabels,
  joinHostPort,
  META,
  NAMESPACE_LABEL,
  podLabels,
  POD_CONTAINER_IMAGE,
  POD_CONTAINER_NAME,
  POD_CONTAINER_PORT_NAME,
  POD_CONTAINER_PORT_NUMBER,
  POD_CONTAINER_PORT_PROTOCOL,
  serviceLabels,
  withNodeLabels,
  type LabelSet,
} from './labels.js';
import { objectKey, type EndpointAddress, type EndpointPort, type Endpoints, type Lookup, type Node, type ObjectReference, type Pod, type Service } from './objects.js';

export function endpointsSource(namespace: string, name: string): string {
  return `endpoints/${namespace}/${name}`;
}

/** What the endpoints and endpointslice roles look objects up in. */
export interface EndpointLookups {
  readonly pods: Lookup<Pod>;
  readonly services: Lookup<Service>;
  /** Only with `attach_metadata: {node: true}`. */
  readonly nodes: Lookup<Node> | undefined;
}

export function endpointsGroup(eps: Endpoints, lookups: EndpointLookups): TargetGroup {
  const namespace = eps.metadata?.namespace ?? '';
  const name = eps.metadata?.name ?? '';
  let labels: LabelSet = { [NAMESPACE_LABEL]: namespace, [`${META}endpoints_name`]: name };
  const svc = lookups.services.get(`${namespace}/${name}`);
  if (svc) labels = { ...labels, ...serviceLabels(svc) };
  addMetadataLabels(labels, `${META}endpoints_`, eps.metadata, false);

  const group: TargetGroup = { source: endpointsSource(namespace, name), targets: [], labels };
  const pods = new SeenPods(lookups.pods, (p) => p.protocol ?? '');
  const add = (addr: EndpointAddress, port: EndpointPort, ready: string): void => {
    let target: LabelSet = {
      [ADDRESS_LABEL]: joinHostPort(addr.ip ?? '', port.port ?? 0),
      [`${META}endpoint_port_name`]: port.name ?? '',
      [`${META}endpoint_port_protocol`]: port.protocol ?? '',
      [`${META}endpoint_ready`]: ready,
    };
    if (addr.targetRef) {
      target[`${META}endpoint_address_target_kind`] = addr.targetRef.kind ?? '';
      target[`${META}endpoint_address_target_name`] = addr.targetRef.name ?? '';
    }
    if (addr.nodeName !== undefined) target[`${META}endpoint_node_name`] = addr.nodeName;
    if (addr.hostname) target[`${META}endpoint_hostname`] = addr.hostname;
    target = withNodeLabels(target, lookups.nodes, addr.nodeName);
    group.targets.push(pods.attach(target, addr.targetRef, port));
  };
  for (const subset of eps.subsets ?? []) {
    for (const port of subset.ports ?? []) {
      for (const addr of subset.addresses ?? []) add(addr, port, 'true');
      // The same target again, not ready: a consumer keeps the later one.
      for (const addr of subset.notReadyAddresses ?? []) add(addr, port, 'false');
    }
  }
  group.targets.push(...pods.uncoveredPortTargets());
  return group;
}

/**
 * The pods an endpoints or endpointslice group's addresses refer to, and which of their ports
 * those addresses covered. `containerProtocol` picks the protocol label of a matched container
 * port: the endpoint port's in the endpoints role, the container port's in endpointslice.
 */
export class SeenPods {
  private readonly seen = new Map<string, { pod: Pod; ports: number[] }>();

  constructor(
    private readonly pods: Lookup<Pod>,
    private readonly matchedProtocol: (endpointPort: EndpointPort, containerProtocol: string) => string,
  ) {}

  /** `target` with the pod's labels when `ref` names a known pod (pod labels win), else as it is. */
  attach(target: LabelSet, ref: ObjectReference | undefined, port: EndpointPort): LabelSet {
    if (ref === undefined || ref.kind !== 'Pod') return target;
    const pod = this.pods.get(`${ref.namespace ?? ''}/${ref.name ?? ''}`);
    if (pod === undefined) return target;
    const key = objectKey(pod);
    let entry = this.seen.get(key);
    if (entry === undefined) this.seen.set(key, (entry = { pod, ports: [] }));
    const out = { ...target, ...podLabels(pod) };
    if (port.port !== undefined) {
      for (const c of pod.spec?.containers ?? []) {
        const cport = (c.ports ?? []).find((cp) => cp.containerPort === port.port);
        if (cport === undefined) continue;
        // not a return: Prometheus goes on, and a later container with the port wins
        out[POD_CONTAINER_NAME] = c.name ?? '';
        out[POD_CONTAINER_IMAGE] = c.image ?? '';
        out[POD_CONTAINER_PORT_NAME] = cport.name ?? '';
        out[POD_CONTAINER_PORT_NUMBER] = String(port.port);
        out[POD_CONTAINER_PORT_PROTOCOL] = this.matchedProtocol(port, cport.protocol ?? '');
      }
      entry.ports.push(port.port);
    }
    return out;
  }

  /** A target for each container port of a seen pod that no endpoint port matched. */
  uncoveredPortTargets(): LabelSet[] {
    const out: LabelSet[] = [];
    for (const { pod, ports } of this.seen.values()) {
      for (const c of pod.spec?.containers ?? []) {
        for (const cport of c.ports ?? []) {
          const number = cport.containerPort ?? 0;
          if (ports.includes(number)) continue;
          out.push({
            [ADDRESS_LABEL]: joinHostPort(pod.status?.podIP ?? '', number),
            [POD_CONTAINER_NAME]: c.name ?? '',
            [POD_CONTAINER_IMAGE]: c.image ?? '',
            [POD_CONTAINER_PORT_NAME]: cport.name ?? '',
            [POD_CONTAINER_PORT_NUMBER]: String(number),
            [POD_CONTAINER_PORT_PROTOCOL]: cport.protocol ?? '',
            ...podLabels(pod),
          });
        }
      }
    }
    return out;
  }
}
