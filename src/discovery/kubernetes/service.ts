/**
 * `role: service`: one group per service (`svc/<namespace>/<name>`), one target per service
 * port at the service's DNS name (`<name>.<namespace>.svc:<port>`), for blackbox-style probing.
 */

import { ADDRESS_LABEL, type TargetGroup } from '../target-group.js';
import { joinHostPort, META, serviceLabels, type LabelSet } from './labels.js';
import type { Service } from './objects.js';

export function serviceSource(namespace: string, name: string): string {
  return `svc/${namespace}/${name}`;
}

export function serviceGroup(svc: Service): TargetGroup {
  const name = svc.metadata?.name ?? '';
  const namespace = svc.metadata?.namespace ?? '';
  const type = svc.spec?.type ?? '';
  const targets = (svc.spec?.ports ?? []).map((p) => {
    const port = String(p.port ?? 0);
    const t: LabelSet = {
      [ADDRESS_LABEL]: joinHostPort(`${name}.${namespace}.svc`, port),
      [`${META}service_port_name`]: p.name ?? '',
      [`${META}service_port_number`]: port,
      [`${META}service_port_protocol`]: p.protocol ?? '',
      [`${META}service_type`]: type,
    };
    // An ExternalName service is a DNS alias: it has no cluster IP, its target name instead.
    if (type === 'ExternalName') t[`${META}service_external_name`] = svc.spec?.externalName ?? '';
    else t[`${META}service_cluster_ip`] = svc.spec?.clusterIP ?? '';
    return t;
  });
  return { source: serviceSource(namespace, name), targets, labels: serviceLabels(svc) };
}
