/**
 * Where the API server is and how to authenticate, in client-go's three ways: `api_server` with
 * the job's own HTTP client keys; a kubeconfig file's current context; or, with neither, the
 * in-cluster service account (KUBERNETES_SERVICE_HOST/PORT, the token and CA mounted under
 * /var/run/secrets/kubernetes.io/serviceaccount). The token is named by file, so the HttpClient
 * reads it on every request and a rotated (projected, hourly) token is picked up. The mount
 * directory can be moved with TRIBUTARY_KUBERNETES_SERVICE_ACCOUNT_DIR (or the discoverer's
 * `serviceAccountDir` option), for tests and for running outside a pod with a copied account.
 */

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { KubernetesSdConfig } from '../../config/discovery.js';
import { HttpClient, type HttpClientSettings, type TlsSettings } from '../../outbound/index.js';
import { joinHostPort } from './labels.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const SERVICE_ACCOUNT_DIR_ENV = 'TRIBUTARY_KUBERNETES_SERVICE_ACCOUNT_DIR';

export interface Connection {
  readonly server: URL;
  readonly client: HttpClient;
}

export interface ConnectionOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Overrides the env variable and the default mount. */
  readonly serviceAccountDir?: string;
}

export function serviceAccountDir(options: ConnectionOptions): string {
  return options.serviceAccountDir ?? options.env[SERVICE_ACCOUNT_DIR_ENV] ?? SERVICE_ACCOUNT_DIR;
}

/** Throws an Error that says what is missing or malformed. */
export async function connect(config: KubernetesSdConfig, options: ConnectionOptions): Promise<Connection> {
  if (config.api_server !== undefined) return { server: new URL(config.api_server), client: new HttpClient(config) };
  const settings = config.kubeconfig_file !== undefined ? await fromKubeconfig(config.kubeconfig_file) : inCluster(options);
  return { server: settings.server, client: new HttpClient(settings.client) };
}

/** The namespace of the pod Tributary runs in (`namespaces.own_namespace`). */
export async function ownNamespace(options: ConnectionOptions): Promise<string> {
  const file = `${serviceAccountDir(options)}/namespace`;
  let name: string;
  try {
    name = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new Error(`could not determine the pod's namespace from ${file}: ${(err as Error).message}`);
  }
  if (name === '') throw new Error(`could not read the own namespace name: ${file} is empty`);
  return name;
}

interface Settings {
  readonly server: URL;
  readonly client: HttpClientSettings;
}

function inCluster(options: ConnectionOptions): Settings {
  const host = options.env.KUBERNETES_SERVICE_HOST;
  const port = options.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error('unable to load in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (or set api_server or kubeconfig_file)');
  }
  const dir = serviceAccountDir(options);
  const token = `${dir}/token`;
  if (!existsSync(token)) throw new Error(`unable to load in-cluster configuration: no service account token at ${token}`);
  const ca = `${dir}/ca.crt`;
  return {
    server: new URL(`https://${joinHostPort(host, port)}`),
    client: {
      follow_redirects: true,
      enable_http2: true,
      authorization: { type: 'Bearer', credentials_file: token },
      // client-go goes on with the system's roots when the CA file is missing
      ...(existsSync(ca) ? { tls_config: { ca_file: ca } } : {}),
    },
  };
}

/** The current context of a kubeconfig file (client-go's clientcmd, the parts a client needs). */
async function fromKubeconfig(file: string): Promise<Settings> {
  const fail = (what: string): never => {
    throw new Error(`kubeconfig ${file}: ${what}`);
  };
  let doc: Record<string, unknown>;
  try {
    const { parse } = await import('yaml');
    doc = (parse(await readFile(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (err) {
    return fail((err as Error).message);
  }
  const str = (o: Record<string, unknown>, k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
  /** The `key` mapping of the entry named `name` in the list `section` (kubeconfig's named lists). */
  const find = (section: string, key: string, name: string | undefined): Record<string, unknown> => {
    const list = doc[section];
    const entry = Array.isArray(list) ? (list as Record<string, unknown>[]).find((e) => e?.name === name) : undefined;
    const value = entry?.[key];
    if (typeof value !== 'object' || value === null) return fail(`no ${key} ${JSON.stringify(name)} in ${section}`);
    return value as Record<string, unknown>;
  };
  const contextName = str(doc, 'current-context') ?? fail('no current-context');
  const context = find('contexts', 'context', contextName);
  const clusterName = str(context, 'cluster');
  const userName = str(context, 'user');
  const cluster = find('clusters', 'cluster', clusterName);
  const user = userName ? find('users', 'user', userName) : {};
  // client-go resolves a kubeconfig's relative paths against the file's directory
  const path = (p: string | undefined): string | undefined => (p === undefined || isAbsolute(p) ? p : resolve(dirname(file), p));
  const data = (d: string | undefined): string | undefined => (d === undefined ? undefined : Buffer.from(d, 'base64').toString('utf8'));

  const server = str(cluster, 'server') ?? fail(`cluster ${JSON.stringify(clusterName)} has no server`);
  for (const unsupported of ['exec', 'auth-provider'])
    if (user[unsupported] !== undefined) fail(`user ${JSON.stringify(userName)}: ${unsupported} credentials are not supported by Tributary; use a token or a client certificate`);

  const tls: { -readonly [K in keyof TlsSettings]: TlsSettings[K] } = {};
  tls.ca = data(str(cluster, 'certificate-authority-data'));
  if (!tls.ca) tls.ca_file = path(str(cluster, 'certificate-authority'));
  tls.cert = data(str(user, 'client-certificate-data'));
  if (!tls.cert) tls.cert_file = path(str(user, 'client-certificate'));
  tls.key = data(str(user, 'client-key-data'));
  if (!tls.key) tls.key_file = path(str(user, 'client-key'));
  tls.server_name = str(cluster, 'tls-server-name');
  if (cluster['insecure-skip-tls-verify'] === true) tls.insecure_skip_verify = true;

  const token = str(user, 'token');
  const tokenFile = path(str(user, 'tokenFile'));
  const username = str(user, 'username');
  const client: HttpClientSettings = {
    follow_redirects: true,
    enable_http2: true,
    tls_config: tls,
    proxy_url: str(cluster, 'proxy-url'),
    ...(token || tokenFile ? { authorization: { type: 'Bearer', credentials: token, credentials_file: token ? undefined : tokenFile } } : {}),
    ...(!token && !tokenFile && username ? { basic_auth: { username, password: str(user, 'password') } } : {}),
  };
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return fail(`server ${JSON.stringify(server)} is not a URL`);
  }
  return { server: url, client };
}
