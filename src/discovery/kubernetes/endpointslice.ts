/**
 * `role: endpointslice` (discovery.k8s.io/v1): one group per EndpointSlice
 * (`endpointslice/<namespace>/<name>`), one target per endpoint address and port, with the
 * endpoint's conditions, hostname, target and topology as labels; pods and uncovered container
 * ports as in the endpoints role (endpoints.ts). The slice's service is the one its
 * `kubernetes.io/service-name` label names.
 */

import { ADDRESS_LABEL, type TargetGroup } from '../target-group.js';
import { joinHostPort, META, NAMESPACE_LABEL, PRESENT, sanitizeLabelName, serviceLabels, withNodeLabels, type LabelSet } from './labels.js';
import { SeenPods, type EndpointLookups } from './endpoints.js';
import type { EndpointPort, EndpointSlice, SliceEndpoint } from './objects.js';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const PREFIX = `${META}endpointslice_`;

export function endpointSliceSource(namespace: string, name: string): string {
  return `endpointslice/${namespace}/${name}`;
}

export function endpointSliceGroup(slice: EndpointSlice, lookups: EndpointLookups): TargetGroup {
  const namespace = slice.metadata?.namespace ?? '';
  const name = slice.metadata?.name ?? '';
  let labels: LabelSet = {
    [NAMESPACE_LABEL]: namespace,
    [`${PREFIX}name`]: name,
    [`${PREFIX}address_type`]: slice.addressType ?? '',
  };
  const serviceName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  const svc = serviceName === undefined ? undefined : lookups.services.get(`${namespace}/${serviceName}`);
  if (svc) labels = { ...labels, ...serviceLabels(svc) };

  const group: TargetGroup = { source: endpointSliceSource(namespace, name), targets: [], labels };
  const pods = new SeenPods(lookups.pods, (_p, containerProtocol) => containerProtocol);
  const add = (address: string, ep: SliceEndpoint, port: EndpointPort): void => {
    let target: LabelSet = { [ADDRESS_LABEL]: port.port === undefined ? address : joinHostPort(address, port.port) };
    if (port.name !== undefined) target[`${PREFIX}port_name`] = port.name;
    if (port.protocol !== undefined) target[`${PREFIX}port_protocol`] = port.protocol;
    if (port.port !== undefined) target[`${PREFIX}port`] = String(port.port);
    if (port.appProtocol !== undefined) target[`${PREFIX}port_app_protocol`] = port.appProtocol;
    const c = ep.conditions ?? {};
    if (c.ready !== undefined) target[`${PREFIX}endpoint_conditions_ready`] = String(c.ready);
    if (c.serving !== undefined) target[`${PREFIX}endpoint_conditions_serving`] = String(c.serving);
    if (c.terminating !== undefined) target[`${PREFIX}endpoint_conditions_terminating`] = String(c.terminating);
    if (ep.hostname !== undefined) target[`${PREFIX}endpoint_hostname`] = ep.hostname;
    if (ep.targetRef) {
      target[`${PREFIX}address_target_kind`] = ep.targetRef.kind ?? '';
      target[`${PREFIX}address_target_name`] = ep.targetRef.name ?? '';
    }
    for (const [k, v] of Object.entries(ep.deprecatedTopology ?? {})) {
      const n = sanitizeLabelName(k);
      target[`${PREFIX}endpoint_topology_${n}`] = v;
      target[`${PREFIX}endpoint_topology_present_${n}`] = PRESENT;
    }
    target = withNodeLabels(target, lookups.nodes, ep.nodeName);
    group.targets.push(pods.attach(target, ep.targetRef, port));
  };
  for (const ep of slice.endpoints ?? []) {
    for (const port of slice.ports ?? []) {
      for (const address of ep.addresses ?? []) add(address, ep, port);
    }
  }
  group.targets.push(...pods.uncoveredPortTargets());
  return group;
}
