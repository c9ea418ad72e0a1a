/**
 * The `__meta_kubernetes_*` label sets more than one role attaches: an object's labels and
 * annotations (each as a value and a `present` flag), a pod's, a service's, and the node labels
 * `attach_metadata: {node: true}` adds. Names and values exactly as Prometheus 2.42 sets them,
 * Kubernetes label keys sanitized the way its strutil.SanitizeLabelName does.
 */

import type { Lookup, Node, Pod, Service } from './objects.js';

export const META = '__meta_kubernetes_';
export const NAMESPACE_LABEL = `${META}namespace`;
export const NODE_NAME_LABEL = `${META}node_name`;
export const PRESENT = 'true';

export type LabelSet = Record<string, string>;

/** Every character outside [a-zA-Z0-9_] (each code point, as Go's regexp sees them) becomes `_`. */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/gu, '_');
}

/** `<prefix>label_<k>`, `<prefix>labelpresent_<k>` and the same for annotations. */
export function addMetadataLabels(
  ls: LabelSet,
  prefix: string,
  meta: { readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> } | undefined,
  withAnnotations = true,
): LabelSet {
  for (const [k, v] of Object.entries(meta?.labels ?? {})) {
    const n = sanitizeLabelName(k);
    ls[`${prefix}label_${n}`] = v;
    ls[`${prefix}labelpresent_${n}`] = PRESENT;
  }
  if (withAnnotations) {
    for (const [k, v] of Object.entries(meta?.annotations ?? {})) {
      const n = sanitizeLabelName(k);
      ls[`${prefix}annotation_${n}`] = v;
      ls[`${prefix}annotationpresent_${n}`] = PRESENT;
    }
  }
  return ls;
}

/** Go's net.JoinHostPort: IPv6 literals get brackets. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export const POD_CONTAINER_NAME = `${META}pod_container_name`;
export const POD_CONTAINER_IMAGE = `${META}pod_container_image`;
export const POD_CONTAINER_PORT_NAME = `${META}pod_container_port_name`;
export const POD_CONTAINER_PORT_NUMBER = `${META}pod_container_port_number`;
export const POD_CONTAINER_PORT_PROTOCOL = `${META}pod_container_port_protocol`;
export const POD_CONTAINER_INIT = `${META}pod_container_init`;

/** The pod-wide labels (Prometheus' podLabels), shared by the pod, endpoints and endpointslice roles. */
export function podLabels(pod: Pod): LabelSet {
  const m = pod.metadata ?? {};
  const ls: LabelSet = {
    [`${META}pod_name`]: m.name ?? '',
    [`${META}pod_ip`]: pod.status?.podIP ?? '',
    [`${META}pod_ready`]: podReady(pod),
    [`${META}pod_phase`]: pod.status?.phase ?? '',
    [`${META}pod_node_name`]: pod.spec?.nodeName ?? '',
    [`${META}pod_host_ip`]: pod.status?.hostIP ?? '',
    [`${META}pod_uid`]: m.uid ?? '',
  };
  const controller = m.ownerReferences?.find((r) => r.controller === true);
  if (controller?.kind) ls[`${META}pod_controller_kind`] = controller.kind;
  if (controller?.name) ls[`${META}pod_controller_name`] = controller.name;
  return addMetadataLabels(ls, `${META}pod_`, m);
}

/** The Ready condition's status in lower case; `unknown` when the pod has none. */
function podReady(pod: Pod): string {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  return (ready ? ready.status ?? '' : 'Unknown').toLowerCase();
}

/** The service-wide labels (Prometheus' serviceLabels), shared by the service, endpoints and endpointslice roles. */
export function serviceLabels(svc: Service): LabelSet {
  const ls: LabelSet = {
    [`${META}service_name`]: svc.metadata?.name ?? '',
    [NAMESPACE_LABEL]: svc.metadata?.namespace ?? '',
  };
  return addMetadataLabels(ls, `${META}service_`, svc.metadata);
}

/**
 * `ls` with the node's name and labels (not its annotations) when `nodes` holds `nodeName`
 * (Prometheus' addNodeLabels); unchanged when the node is unknown or no lookup is given.
 */
export function withNodeLabels(ls: LabelSet, nodes: Lookup<Node> | undefined, nodeName: string | undefined): LabelSet {
  if (nodes === undefined || nodeName === undefined) return ls;
  const node = nodes.get(nodeName);
  if (node === undefined) return ls;
  ls[NODE_NAME_LABEL] = nodeName;
  return addMetadataLabels(ls, `${META}node_`, node.metadata, false);
}
