/**
 * `kubernetes_sd_configs`, checked as Prometheus 2.42 checks them (discovery/kubernetes
 * SDConfig.UnmarshalYAML): a role is required; `api_server` and `kubeconfig_file` exclude each
 * other; HTTP client keys need `api_server` (a kubeconfig or the in-cluster account brings its
 * own credentials); `namespaces.own_namespace` only in-cluster; selectors at most one per role,
 * of the roles the configured role lists, and their label and field selectors parseable, so a
 * typo is an error at load rather than an API server refusing every list.
 */

import * as z from 'zod';
import { checkHttpClient, httpClientShape, normalizeHttpClient } from './http-client-config.js';
import { AT_KEY, bool, httpUrl, text } from './fields.js';

export const KUBERNETES_ROLES = ['pod', 'service', 'endpoints', 'endpointslice', 'node', 'ingress'] as const;
export type KubernetesRole = (typeof KUBERNETES_ROLES)[number];

/** The selector roles each role accepts (Prometheus' allowedSelectors, in its order). */
export const ALLOWED_SELECTORS: Readonly<Record<KubernetesRole, readonly KubernetesRole[]>> = {
  pod: ['pod', 'node'],
  service: ['service'],
  endpointslice: ['pod', 'service', 'endpointslice'],
  endpoints: ['pod', 'service', 'endpoints'],
  node: ['node'],
  ingress: ['ingress'],
};

const ROLE_LIST = KUBERNETES_ROLES.join(', ');

const role = z.enum(KUBERNETES_ROLES, {
  error: (iss) =>
    iss.input === undefined || iss.input === null || iss.input === ''
      ? `role missing (one of: ${ROLE_LIST})`
      : `unknown Kubernetes SD role ${JSON.stringify(iss.input)} (one of: ${ROLE_LIST})`,
});

const selectorSchema = z
  .strictObject({
    role,
    label: text.optional(),
    field: text.optional(),
  })
  .superRefine((s, ctx) => {
    const labelProblem = s.label === undefined ? undefined : labelSelectorProblem(s.label);
    if (labelProblem) ctx.addIssue({ code: 'custom', path: ['label'], message: labelProblem });
    const fieldProblem = s.field === undefined ? undefined : fieldSelectorProblem(s.field);
    if (fieldProblem) ctx.addIssue({ code: 'custom', path: ['field'], message: fieldProblem });
  });

export const kubernetesSdConfigSchema = z
  .strictObject({
    role,
    api_server: httpUrl.optional(),
    kubeconfig_file: text.optional(),
    namespaces: z
      .strictObject({
        own_namespace: bool.default(false),
        names: z.array(text).default([]),
      })
      .default({ own_namespace: false, names: [] }),
    selectors: z.array(selectorSchema).default([]),
    attach_metadata: z.strictObject({ node: bool.default(false) }).default({ node: false }),
    ...httpClientShape({ enable_http2: true }),
  })
  .superRefine((c, ctx) => {
    checkHttpClient(c, ctx);
    if (c.api_server !== undefined && c.kubeconfig_file !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['kubeconfig_file'],
        message: "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
        params: AT_KEY,
      });
    }
    const customClient = customHttpClientKey(c);
    if (customClient !== undefined) {
      if (c.kubeconfig_file !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [customClient],
          message: "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
          params: AT_KEY,
        });
      } else if (c.api_server === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [customClient],
          message: "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
          params: AT_KEY,
        });
      }
    }
    if (c.namespaces.own_namespace && (c.api_server !== undefined || c.kubeconfig_file !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['namespaces', 'own_namespace'],
        message: `cannot use '${c.api_server !== undefined ? 'api_server' : 'kubeconfig_file'}' and 'namespaces.own_namespace' simultaneously`,
        params: AT_KEY,
      });
    }
    const seen = new Set<string>();
    c.selectors.forEach((s, i) => {
      if (seen.has(s.role)) {
        ctx.addIssue({ code: 'custom', path: ['selectors', i, 'role'], message: `duplicated selector role: ${s.role}` });
      }
      seen.add(s.role);
      const allowed = ALLOWED_SELECTORS[c.role];
      if (!allowed.includes(s.role)) {
        ctx.addIssue({
          code: 'custom',
          path: ['selectors', i, 'role'],
          message: `${c.role} role supports only ${allowed.join(', ')} selectors`,
        });
      }
    });
  })
  .transform(normalizeHttpClient);

export type KubernetesSdConfig = z.output<typeof kubernetesSdConfigSchema>;

/** HTTP client keys that differ from Prometheus' DefaultHTTPClientConfig. */
const HTTP_CLIENT_KEYS = [
  'basic_auth',
  'authorization',
  'oauth2',
  'bearer_token',
  'bearer_token_file',
  'tls_config',
  'proxy_url',
  'no_proxy',
  'proxy_from_environment',
  'proxy_connect_header',
  'http_headers',
] as const;

function customHttpClientKey(c: Record<string, unknown>): string | undefined {
  if (c.follow_redirects === false) return 'follow_redirects';
  if (c.enable_http2 === false) return 'enable_http2';
  return HTTP_CLIENT_KEYS.find((k) => c[k] !== undefined);
}

// --- selectors: the grammar of k8s.io/apimachinery's labels.Parse and fields.ParseSelector ----

/** A label name: an optional DNS-subdomain prefix and `/`, then a qualified name. */
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label value: empty, or like a name (at most 63 characters). */
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Why `s` is not a Kubernetes label selector, or undefined when it is one. */
export function labelSelectorProblem(s: string): string | undefined {
  if (s.trim() === '') return undefined;
  for (const raw of splitRequirements(s)) {
    const r = raw.trim();
    const why = requirementProblem(r);
    if (why) return `invalid label selector ${JSON.stringify(s)}: ${JSON.stringify(r)} ${why}`;
  }
  return undefined;
}

/** Commas outside `( )` separate requirements (`env in (a, b)` is one). */
function splitRequirements(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (s[i] === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

function requirementProblem(r: string): string | undefined {
  const key = (k: string): string | undefined => (QUALIFIED_NAME.test(k) ? undefined : `has an invalid key ${JSON.stringify(k)}`);
  const value = (v: string): string | undefined => (LABEL_VALUE.test(v) ? undefined : `has an invalid value ${JSON.stringify(v)}`);
  let m: RegExpExecArray | null;
  if ((m = /^!\s*([^\s=!<>(),]+)$/.exec(r))) return key(m[1]);
  if ((m = /^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(r))) {
    return key(m[1]) ?? m[3].split(',').map((v) => v.trim()).map(value).find((p) => p !== undefined);
  }
  if ((m = /^([^\s=!<>(),]+)\s*(==|=|!=)\s*([^\s,()]*)$/.exec(r))) return key(m[1]) ?? value(m[3]);
  if ((m = /^([^\s=!<>(),]+)\s*(<|>)\s*(\S+)$/.exec(r))) {
    return key(m[1]) ?? (/^-?\d+$/.test(m[3]) ? undefined : `compares with ${JSON.stringify(m[3])}, which is not an integer`);
  }
  if ((m = /^([^\s=!<>(),]+)$/.exec(r))) return key(m[1]);
  return 'is not a requirement (key, !key, key=value, key!=value, key in (...), key notin (...))';
}

/** Why `s` is not a Kubernetes field selector (`key=value`, `key==value`, `key!=value`, comma-separated). */
export function fieldSelectorProblem(s: string): string | undefined {
  if (s === '') return undefined;
  // a backslash escapes the next character, commas and operators included
  const terms: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) {
      cur += s[i] + s[++i];
    } else if (s[i] === ',') {
      terms.push(cur);
      cur = '';
    } else cur += s[i];
  }
  terms.push(cur);
  for (const t of terms) {
    const op = /(?<!\\)(!=|==|=)/.exec(t);
    if (!op) return `invalid field selector ${JSON.stringify(s)}: can't understand ${JSON.stringify(t)}`;
  }
  return undefined;
}
