/**
 * `role: ingress` (networking.k8s.io/v1): one group per Ingress (`ingress/<namespace>/<name>`),
 * one target per rule and path at the rule's host, for blackbox probing; the scheme is https
 * when one of the Ingress' TLS hosts (wildcards included) covers the rule's host.
 */

import { ADDRESS_LABEL, type TargetGroup } from '../target-group.js';
import { addMetadataLabels, META, NAMESPACE_LABEL, type LabelSet } from './labels.js';
import type { Ingress } from './objects.js';

export function ingressSource(namespace: string, name: string): string {
  return `ingress/${namespace}/${name}`;
}

export function ingressGroup(ing: Ingress): TargetGroup {
  const namespace = ing.metadata?.namespace ?? '';
  const name = ing.metadata?.name ?? '';
  const labels: LabelSet = { [`${META}ingress_name`]: name, [NAMESPACE_LABEL]: namespace };
  if (ing.spec?.ingressClassName !== undefined) labels[`${META}ingress_class_name`] = ing.spec.ingressClassName;
  addMetadataLabels(labels, `${META}ingress_`, ing.metadata);

  const tlsHosts = (ing.spec?.tls ?? []).flatMap((t) => t.hosts ?? []);
  const targets: LabelSet[] = [];
  for (const rule of ing.spec?.rules ?? []) {
    const host = rule.host ?? '';
    const scheme = tlsHosts.some((pattern) => matchesHostnamePattern(pattern, host)) ? 'https' : 'http';
    // A rule without http paths still routes `/`; an empty path means `/` too.
    const paths = rule.http === undefined ? ['/'] : (rule.http.paths ?? []).map((p) => p.path || '/');
    for (const path of paths) {
      targets.push({
        [ADDRESS_LABEL]: host,
        [`${META}ingress_scheme`]: scheme,
        [`${META}ingress_host`]: host,
        [`${META}ingress_path`]: path,
      });
    }
  }
  return { source: ingressSource(namespace, name), targets, labels };
}

/** Equal, or a `*.` pattern matching a host with the same number of labels. */
export function matchesHostnamePattern(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  const p = pattern.split('.');
  const h = host.split('.');
  if (p[0] !== '*' || p.length !== h.length) return false;
  return p.every((part, i) => i === 0 || part === h[i]);
}
