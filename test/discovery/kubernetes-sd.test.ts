/**
 * Kubernetes service discovery against a small node:http server that replays the Kubernetes
 * API's documented LIST and WATCH responses (there is no API server in Debian to test against
 * here): list documents with a resourceVersion, chunked watch streams of newline-delimited
 * events, bookmarks, 410 Gone both as an HTTP status and as a watch ERROR event, connections
 * dropped mid-watch and a server that is down for a while. The objects and the label sets
 * expected of them are those of Prometheus 2.42's discovery/kubernetes *_test.go cases.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo, Socket } from 'node:net';
import { kubernetesSdConfigSchema } from '../../src/config/discovery.js';
import { ConfigError, loadConfigFile, parseConfigText, type ConfigIssue } from '../../src/config/index.js';
import { KubernetesDiscoverer, type KubernetesDiscovererOptions, type TargetGroup } from '../../src/discovery/index.js';
import { startScraping, startTarget, waitFor } from '../helpers/scrape-harness.js';
import { LogCapture } from '../helpers/log-capture.js';
import { tempDir as tempDirUnder } from '../helpers/fixtures.js';

const execFile = promisify(execFileCb);

const tempDir = (): string => tempDirUnder('tributary-k8s-');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };

interface Seen {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
}

/**
 * The API server's side of LIST and WATCH for whatever collection paths a test fills. Each
 * change bumps one resourceVersion counter, as etcd's revision does; a watch from an older
 * version than `oldestWatchable` is answered with an ERROR event of code 410, as the API server
 * does once the version has left its watch cache.
 */
class FakeApiServer {
  readonly seen: Seen[] = [];
  private readonly collections = new Map<string, Map<string, Obj>>();
  private readonly watches = new Map<string, Set<ServerResponse>>();
  private readonly sockets = new Set<Socket>();
  private revision = 100;
  /** Watches from before this version get 410 Gone. */
  oldestWatchable = 0;
  /** Answers the next watch requests with this HTTP status instead of a stream. */
  failWatchesWith: number[] = [];
  port = 0;
  private server: Server;

  private constructor(private readonly tls: { key: Buffer; cert: Buffer } | undefined) {
    this.server = this.makeServer();
  }

  static async start(t: TestContext, tls?: { key: Buffer; cert: Buffer }): Promise<FakeApiServer> {
    const api = new FakeApiServer(tls);
    await api.listen();
    t.after(() => api.stop());
    return api;
  }

  private makeServer(): Server {
    const tls = this.tls;
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return server as Server;
  }

  private listen(): Promise<void> {
    return new Promise((resolve) =>
      this.server.listen(this.port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      }),
    );
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Makes `path` a collection (so it lists, even empty) holding `objects`. */
  set(path: string, ...objects: Obj[]): void {
    const c = new Map<string, Obj>();
    for (const o of objects) c.set(key(o), this.stamp(o));
    this.collections.set(path, c);
  }

  /** A watch event on `path`, applied to the collection and streamed to its watchers. */
  emit(path: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', o: Obj): void {
    const c = this.collections.get(path)!;
    const stamped = this.stamp(o);
    if (type === 'DELETED') c.delete(key(o));
    else c.set(key(o), stamped);
    this.send(path, { type, object: stamped });
  }

  /** An event written in two pieces, as a large object arrives in several chunks. */
  async emitSplit(path: string, type: 'ADDED' | 'MODIFIED', o: Obj): Promise<void> {
    const stamped = this.stamp(o);
    this.collections.get(path)!.set(key(o), stamped);
    const text = JSON.stringify({ type, object: stamped }) + '\n';
    const half = Math.floor(text.length / 2);
    for (const res of this.watches.get(path) ?? []) res.write(text.slice(0, half));
    await sleep(30);
    for (const res of this.watches.get(path) ?? []) res.write(text.slice(half));
  }

  bookmark(path: string): string {
    const rv = String(++this.revision);
    this.send(path, { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: rv } } });
    return rv;
  }

  /** An ERROR event (a Status object) on the open watches of `path`. */
  error(path: string, code: number, reason: string): void {
    this.send(path, { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `too old resource version`, reason, code } });
  }

  /** Cuts the open watches of `path` without ending their responses (a broken connection). */
  dropWatches(path: string): void {
    for (const res of this.watches.get(path) ?? []) res.socket?.destroy();
    this.watches.delete(path);
  }

  get currentRevision(): number {
    return this.revision;
  }

  watchers(path: string): number {
    return this.watches.get(path)?.size ?? 0;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Back on the same port, with the same objects. */
  async restart(): Promise<void> {
    this.server = this.makeServer();
    await this.listen();
  }

  requestsTo(path: string, watch: boolean): Seen[] {
    return this.seen.filter((s) => s.path === path && (s.query.get('watch') === 'true') === watch);
  }

  private stamp(o: Obj): Obj {
    return { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.revision) } };
  }

  private send(path: string, event: unknown): void {
    for (const res of this.watches.get(path) ?? []) res.write(JSON.stringify(event) + '\n');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, 'http://x');
    this.seen.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    const c = this.collections.get(url.pathname);
    if (!c) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
      return;
    }
    if (url.searchParams.get('watch') !== 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(this.revision) }, items: [...c.values()] }));
      return;
    }
    const status = this.failWatchesWith.shift();
    if (status !== undefined) {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: status === 410 ? 'Gone' : 'InternalError', code: status }));
      return;
    }
    // chunked, flushed per event, as the API server streams a watch
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (Number(url.searchParams.get('resourceVersion')) < this.oldestWatchable) {
      res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 } }) + '\n');
      return;
    }
    let set = this.watches.get(url.pathname);
    if (!set) this.watches.set(url.pathname, (set = new Set()));
    set.add(res);
    res.on('close', () => set.delete(res));
  }
}

function key(o: Obj): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** A started discoverer and every update it delivered. */
class Run {
  readonly all: TargetGroup[][] = [];
  readonly log = new LogCapture();
  readonly discoverer: KubernetesDiscoverer;

  constructor(t: TestContext, config: Record<string, unknown>, options: KubernetesDiscovererOptions = {}) {
    this.discoverer = new KubernetesDiscoverer(kubernetesSdConfigSchema.parse(config), this.log.logger, {
      timing: { initialBackoffMs: 20, maxBackoffMs: 100, watchTimeoutSeconds: () => 60 },
      coalesceMs: 20,
      env: {},
      ...options,
    });
    this.discoverer.start((g) => this.all.push(g));
    t.after(() => this.discoverer.close());
  }

  get last(): TargetGroup[] | undefined {
    return this.all[this.all.length - 1];
  }

  async waitFor(pred: (g: TargetGroup[]) => boolean, timeoutMs = 3000): Promise<TargetGroup[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = this.last;
      if (last && pred(last)) return last;
      if (Date.now() > deadline) throw new Error(`no matching update; last was ${JSON.stringify(last, null, 1)}`);
      await sleep(10);
    }
  }

  /** The first update. */
  first(): Promise<TargetGroup[]> {
    return this.waitFor(() => true);
  }
}

async function until(what: string, pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const PODS = '/api/v1/pods';
const NODES = '/api/v1/nodes';
const SERVICES = '/api/v1/services';
const ENDPOINTS = '/api/v1/endpoints';
const SLICES = '/apis/discovery.k8s.io/v1/endpointslices';
const INGRESSES = '/apis/networking.k8s.io/v1/ingresses';

// --- Prometheus' test objects ---------------------------------------------------------------

/** pod_test.go's makeMultiPortPods (and its init container case). */
function multiPortPod(): Obj {
  return {
    metadata: {
      name: 'testpod',
      namespace: 'default',
      labels: { 'test/label': 'testvalue' },
      annotations: { 'test/annotation': 'testannotationvalue' },
      uid: 'abc123',
      ownerReferences: [{ kind: 'testcontrollerkind', name: 'testcontrollername', controller: true }],
    },
    spec: {
      nodeName: 'testnode',
      containers: [
        {
          name: 'testcontainer0',
          image: 'testcontainer0:latest',
          ports: [
            { name: 'testport0', protocol: 'TCP', containerPort: 9000 },
            { name: 'testport1', protocol: 'UDP', containerPort: 9001 },
          ],
        },
        { name: 'testcontainer1', image: 'testcontainer1:latest' },
      ],
      initContainers: [{ name: 'initcontainer', image: 'initcontainer:latest' }],
    },
    status: { podIP: '1.2.3.4', hostIP: '2.3.4.5', phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** pod_test.go's makePods. */
function simplePod(namespace = 'default', name = 'testpod'): Obj {
  return {
    metadata: { name, namespace, uid: 'abc123' },
    spec: { nodeName: 'testnode', containers: [{ name: 'testcontainer', image: 'testcontainer:latest', ports: [{ name: 'testport', protocol: 'TCP', containerPort: 9000 }] }] },
    status: { podIP: '1.2.3.4', hostIP: '2.3.4.5', phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function simplePodGroup(namespace = 'default', name = 'testpod'): TargetGroup {
  return {
    source: `pod/${namespace}/${name}`,
    targets: [
      {
        __address__: '1.2.3.4:9000',
        __meta_kubernetes_pod_container_name: 'testcontainer',
        __meta_kubernetes_pod_container_image: 'testcontainer:latest',
        __meta_kubernetes_pod_container_init: 'false',
        __meta_kubernetes_pod_container_port_number: '9000',
        __meta_kubernetes_pod_container_port_name: 'testport',
        __meta_kubernetes_pod_container_port_protocol: 'TCP',
      },
    ],
    labels: {
      __meta_kubernetes_pod_name: name,
      __meta_kubernetes_pod_ip: '1.2.3.4',
      __meta_kubernetes_pod_ready: 'true',
      __meta_kubernetes_pod_phase: 'Running',
      __meta_kubernetes_pod_node_name: 'testnode',
      __meta_kubernetes_pod_host_ip: '2.3.4.5',
      __meta_kubernetes_pod_uid: 'abc123',
      __meta_kubernetes_namespace: namespace,
    },
  };
}

/** node_test.go's makeNode("test", "1.2.3.4", {"test-label": ...}, {"test-annotation": ...}). */
function node(name = 'test', address = '1.2.3.4', labels: Record<string, string> = { 'test-label': 'testvalue' }): Obj {
  return {
    metadata: { name, labels, annotations: { 'test-annotation': 'testannotationvalue' } },
    status: {
      addresses: [
        { type: 'Hostname', address: `${name}.local` },
        { type: 'InternalIP', address },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    },
  };
}

/** service_test.go's makeService. */
function service(name = 'testservice'): Obj {
  return {
    metadata: { name, namespace: 'default', labels: { 'test-label': 'testvalue' }, annotations: { 'test-annotation': 'testannotationvalue' } },
    spec: { ports: [{ name: 'testport', protocol: 'TCP', port: 30900 }], type: 'ClusterIP', clusterIP: '10.0.0.1' },
  };
}

/** endpoints_test.go's makeEndpoints, plus an address of a pod. */
function endpoints(): Obj {
  return {
    metadata: { name: 'testendpoints', namespace: 'default', labels: { 'app.kubernetes.io/name': 'test' } },
    subsets: [
      {
        addresses: [{ ip: '1.2.3.4', hostname: 'testendpoint1', nodeName: 'foobar' }],
        ports: [{ name: 'testport', port: 9000, protocol: 'TCP' }],
      },
      {
        addresses: [{ ip: '2.3.4.5' }],
        notReadyAddresses: [{ ip: '2.3.4.5' }],
        ports: [{ name: 'testport', port: 9001, protocol: 'TCP' }],
      },
      {
        addresses: [{ ip: '6.7.8.9', targetRef: { kind: 'Node', name: 'barbaz' } }],
        ports: [{ name: 'testport', port: 9002, protocol: 'TCP' }],
      },
      {
        addresses: [{ ip: '4.3.2.1', nodeName: 'testnode', targetRef: { kind: 'Pod', name: 'testpod', namespace: 'default' } }],
        ports: [{ name: 'testport', port: 9000, protocol: 'TCP' }],
      },
    ],
  };
}

/** endpoints_test.go's pod for TestEndpointsDiscoveryWithNodeMetadata and friends: two ports, one covered. */
function endpointsPod(): Obj {
  return {
    metadata: { name: 'testpod', namespace: 'default', uid: 'deadbeef' },
    spec: {
      nodeName: 'testnode',
      containers: [
        {
          name: 'c1',
          image: 'c1:latest',
          ports: [
            { name: 'mainport', containerPort: 9000, protocol: 'TCP' },
            { name: 'sideport', containerPort: 9001, protocol: 'TCP' },
          ],
        },
      ],
    },
    status: { podIP: '4.3.2.1', hostIP: '2.3.4.5' },
  };
}

/** What a target of the pod's container port carries; the endpoints name 9000, and the pod's other port (9001) is a target of its own. */
const containerPort = (name: string, port: number) => ({
  __meta_kubernetes_pod_container_name: 'c1',
  __meta_kubernetes_pod_container_image: 'c1:latest',
  __meta_kubernetes_pod_container_port_name: name,
  __meta_kubernetes_pod_container_port_number: String(port),
  __meta_kubernetes_pod_container_port_protocol: 'TCP',
});

const endpointsPodLabels = {
  __meta_kubernetes_pod_name: 'testpod',
  __meta_kubernetes_pod_ip: '4.3.2.1',
  __meta_kubernetes_pod_ready: 'unknown',
  __meta_kubernetes_pod_phase: '',
  __meta_kubernetes_pod_node_name: 'testnode',
  __meta_kubernetes_pod_host_ip: '2.3.4.5',
  __meta_kubernetes_pod_uid: 'deadbeef',
};
const mainPort = { ...endpointsPodLabels, ...containerPort('mainport', 9000) };
const sidePortTarget = { __address__: '4.3.2.1:9001', ...containerPort('sideport', 9001), ...endpointsPodLabels };

/** endpointslice_test.go's makeEndpointSliceV1. */
function endpointSlice(): Obj {
  return {
    metadata: { name: 'testendpoints', namespace: 'default', labels: { 'kubernetes.io/service-name': 'testendpoints' } },
    addressType: 'IPv4',
    ports: [{ name: 'testport', port: 9000, protocol: 'TCP', appProtocol: 'http' }],
    endpoints: [
      {
        addresses: ['1.2.3.4'],
        conditions: { ready: true, serving: true, terminating: false },
        hostname: 'testendpoint1',
        targetRef: {},
        nodeName: 'foobar',
        deprecatedTopology: { topology: 'value' },
      },
      { addresses: ['2.3.4.5'], conditions: { ready: true, serving: true, terminating: false } },
      { addresses: ['3.4.5.6'], conditions: { ready: false, serving: true, terminating: true } },
      { addresses: ['4.3.2.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'testpod', namespace: 'default' }, nodeName: 'testnode' },
    ],
  };
}

/** ingress_test.go's makeIngress (TLS for the wildcard host only). */
function ingress(): Obj {
  return {
    metadata: { name: 'testingress', namespace: 'default', labels: { 'test/label': 'testvalue' }, annotations: { 'test/annotation': 'testannotationvalue' } },
    spec: {
      ingressClassName: 'testclass',
      tls: [{ hosts: ['*.example.com'] }],
      rules: [
        { host: 'example.com', http: { paths: [{ path: '/' }, { path: '/foo' }] } },
        // no paths at all: "/"
        { host: 'test.example.com', http: { paths: [{}] } },
        { host: 'nohttp.example.com' },
      ],
    },
  };
}

// --- the roles --------------------------------------------------------------------------------

test('role pod: a target per container port, portless containers and init containers marked', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS, multiPortPod());
  const run = new Run(t, { role: 'pod', api_server: api.url });
  const [group] = await run.first();
  assert.deepEqual(group, {
    source: 'pod/default/testpod',
    targets: [
      {
        __address__: '1.2.3.4:9000',
        __meta_kubernetes_pod_container_name: 'testcontainer0',
        __meta_kubernetes_pod_container_image: 'testcontainer0:latest',
        __meta_kubernetes_pod_container_init: 'false',
        __meta_kubernetes_pod_container_port_number: '9000',
        __meta_kubernetes_pod_container_port_name: 'testport0',
        __meta_kubernetes_pod_container_port_protocol: 'TCP',
      },
      {
        __address__: '1.2.3.4:9001',
        __meta_kubernetes_pod_container_name: 'testcontainer0',
        __meta_kubernetes_pod_container_image: 'testcontainer0:latest',
        __meta_kubernetes_pod_container_init: 'false',
        __meta_kubernetes_pod_container_port_number: '9001',
        __meta_kubernetes_pod_container_port_name: 'testport1',
        __meta_kubernetes_pod_container_port_protocol: 'UDP',
      },
      {
        __address__: '1.2.3.4',
        __meta_kubernetes_pod_container_name: 'testcontainer1',
        __meta_kubernetes_pod_container_image: 'testcontainer1:latest',
        __meta_kubernetes_pod_container_init: 'false',
      },
      {
        __address__: '1.2.3.4',
        __meta_kubernetes_pod_container_name: 'initcontainer',
        __meta_kubernetes_pod_container_image: 'initcontainer:latest',
        __meta_kubernetes_pod_container_init: 'true',
      },
    ],
    labels: {
      __meta_kubernetes_pod_name: 'testpod',
      __meta_kubernetes_pod_ip: '1.2.3.4',
      __meta_kubernetes_pod_ready: 'true',
      __meta_kubernetes_pod_phase: 'Running',
      __meta_kubernetes_pod_node_name: 'testnode',
      __meta_kubernetes_pod_host_ip: '2.3.4.5',
      __meta_kubernetes_pod_uid: 'abc123',
      __meta_kubernetes_pod_controller_kind: 'testcontrollerkind',
      __meta_kubernetes_pod_controller_name: 'testcontrollername',
      __meta_kubernetes_pod_label_test_label: 'testvalue',
      __meta_kubernetes_pod_labelpresent_test_label: 'true',
      __meta_kubernetes_pod_annotation_test_annotation: 'testannotationvalue',
      __meta_kubernetes_pod_annotationpresent_test_annotation: 'true',
      __meta_kubernetes_namespace: 'default',
    },
  });
});

test('role pod: watch events add, update and delete pods; a pod losing its IP keeps an empty group', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS);
  const run = new Run(t, { role: 'pod', api_server: api.url });
  assert.deepEqual(await run.first(), []);
  await until('a watch', () => api.watchers(PODS) === 1);

  await api.emitSplit(PODS, 'ADDED', simplePod());
  assert.deepEqual(await run.waitFor((g) => g.length === 1), [simplePodGroup()]);

  const noIp = simplePod();
  (noIp.status as Record<string, unknown>).podIP = '';
  api.emit(PODS, 'MODIFIED', noIp);
  assert.deepEqual(await run.waitFor((g) => g[0]?.targets.length === 0), [{ source: 'pod/default/testpod', targets: [], labels: {} }]);

  api.emit(PODS, 'DELETED', simplePod());
  assert.deepEqual(await run.waitFor((g) => g.length === 0), []);
});

test('role pod: a burst of events is one delivery', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS);
  const run = new Run(t, { role: 'pod', api_server: api.url }, { coalesceMs: 300 });
  await run.first();
  await until('a watch', () => api.watchers(PODS) === 1);
  const before = run.all.length;
  for (let i = 0; i < 50; i++) api.emit(PODS, 'ADDED', simplePod('default', `pod-${i}`));
  await run.waitFor((g) => g.length === 50);
  await sleep(400);
  assert.equal(run.all.length, before + 1);
});

test('role pod with attach_metadata: the node labels of the pod node', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS, simplePod());
  api.set(NODES, node('testnode', '1.2.3.4', { 'kubernetes.io/os': 'linux' }));
  const run = new Run(t, { role: 'pod', api_server: api.url, attach_metadata: { node: true } });
  const [group] = await run.first();
  assert.deepEqual(group.labels, {
    ...simplePodGroup().labels,
    __meta_kubernetes_node_name: 'testnode',
    __meta_kubernetes_node_label_kubernetes_io_os: 'linux',
    __meta_kubernetes_node_labelpresent_kubernetes_io_os: 'true',
  });
  // a node relabelled changes its pods' groups
  await until('a node watch', () => api.watchers(NODES) === 1);
  api.emit(NODES, 'MODIFIED', node('testnode', '1.2.3.4', { 'kubernetes.io/os': 'windows' }));
  await run.waitFor((g) => g[0].labels.__meta_kubernetes_node_label_kubernetes_io_os === 'windows');
});

test('role node: the kubelet address in the preferred order, instance, addresses by type', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(NODES, node());
  const run = new Run(t, { role: 'node', api_server: api.url });
  assert.deepEqual(await run.first(), [
    {
      source: 'node/test',
      targets: [
        {
          __address__: '1.2.3.4:10250',
          instance: 'test',
          __meta_kubernetes_node_address_Hostname: 'test.local',
          __meta_kubernetes_node_address_InternalIP: '1.2.3.4',
        },
      ],
      labels: {
        __meta_kubernetes_node_name: 'test',
        __meta_kubernetes_node_label_test_label: 'testvalue',
        __meta_kubernetes_node_labelpresent_test_label: 'true',
        __meta_kubernetes_node_annotation_test_annotation: 'testannotationvalue',
        __meta_kubernetes_node_annotationpresent_test_annotation: 'true',
      },
    },
  ]);
});

test('role service: a target per port at the service DNS name', async (t) => {
  const api = await FakeApiServer.start(t);
  const external = service('testservice-external');
  external.spec = { ports: [{ name: 'testport', protocol: 'TCP', port: 31900 }], type: 'ExternalName', externalName: 'FooExternalName' };
  api.set(SERVICES, service(), external);
  const run = new Run(t, { role: 'service', api_server: api.url });
  const labels = (name: string) => ({
    __meta_kubernetes_service_name: name,
    __meta_kubernetes_namespace: 'default',
    __meta_kubernetes_service_label_test_label: 'testvalue',
    __meta_kubernetes_service_labelpresent_test_label: 'true',
    __meta_kubernetes_service_annotation_test_annotation: 'testannotationvalue',
    __meta_kubernetes_service_annotationpresent_test_annotation: 'true',
  });
  assert.deepEqual(await run.first(), [
    {
      source: 'svc/default/testservice',
      targets: [
        {
          __address__: 'testservice.default.svc:30900',
          __meta_kubernetes_service_port_name: 'testport',
          __meta_kubernetes_service_port_number: '30900',
          __meta_kubernetes_service_port_protocol: 'TCP',
          __meta_kubernetes_service_type: 'ClusterIP',
          __meta_kubernetes_service_cluster_ip: '10.0.0.1',
        },
      ],
      labels: labels('testservice'),
    },
    {
      source: 'svc/default/testservice-external',
      targets: [
        {
          __address__: 'testservice-external.default.svc:31900',
          __meta_kubernetes_service_port_name: 'testport',
          __meta_kubernetes_service_port_number: '31900',
          __meta_kubernetes_service_port_protocol: 'TCP',
          __meta_kubernetes_service_type: 'ExternalName',
          __meta_kubernetes_service_external_name: 'FooExternalName',
        },
      ],
      labels: labels('testservice-external'),
    },
  ]);
});

test('role endpoints: addresses, readiness, target refs, pod and service labels, uncovered pod ports', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(ENDPOINTS, endpoints());
  api.set(PODS, endpointsPod());
  const svc = service('testendpoints');
  svc.metadata.labels = { 'app/name': 'test' };
  svc.metadata.annotations = {};
  api.set(SERVICES, svc);
  api.set(NODES, node('foobar', '9.9.9.9', { az: 'us-east1' }));
  const run = new Run(t, { role: 'endpoints', api_server: api.url, attach_metadata: { node: true } });
  const [group] = await run.first();
  const port = { __meta_kubernetes_endpoint_port_name: 'testport', __meta_kubernetes_endpoint_port_protocol: 'TCP' };
  assert.deepEqual(group, {
    source: 'endpoints/default/testendpoints',
    targets: [
      {
        __address__: '1.2.3.4:9000',
        __meta_kubernetes_endpoint_hostname: 'testendpoint1',
        __meta_kubernetes_endpoint_node_name: 'foobar',
        ...port,
        __meta_kubernetes_endpoint_ready: 'true',
        __meta_kubernetes_node_name: 'foobar',
        __meta_kubernetes_node_label_az: 'us-east1',
        __meta_kubernetes_node_labelpresent_az: 'true',
      },
      { __address__: '2.3.4.5:9001', ...port, __meta_kubernetes_endpoint_ready: 'true' },
      { __address__: '2.3.4.5:9001', ...port, __meta_kubernetes_endpoint_ready: 'false' },
      {
        __address__: '6.7.8.9:9002',
        __meta_kubernetes_endpoint_address_target_kind: 'Node',
        __meta_kubernetes_endpoint_address_target_name: 'barbaz',
        ...port,
        __meta_kubernetes_endpoint_ready: 'true',
      },
      {
        __address__: '4.3.2.1:9000',
        __meta_kubernetes_endpoint_address_target_kind: 'Pod',
        __meta_kubernetes_endpoint_address_target_name: 'testpod',
        __meta_kubernetes_endpoint_node_name: 'testnode',
        ...port,
        __meta_kubernetes_endpoint_ready: 'true',
        ...mainPort,
      },
      sidePortTarget,
    ],
    labels: {
      __meta_kubernetes_namespace: 'default',
      __meta_kubernetes_endpoints_name: 'testendpoints',
      __meta_kubernetes_service_name: 'testendpoints',
      __meta_kubernetes_service_label_app_name: 'test',
      __meta_kubernetes_service_labelpresent_app_name: 'true',
      __meta_kubernetes_endpoints_label_app_kubernetes_io_name: 'test',
      __meta_kubernetes_endpoints_labelpresent_app_kubernetes_io_name: 'true',
    },
  });

  // the service changing changes the endpoints' group
  await until('a service watch', () => api.watchers(SERVICES) === 1);
  svc.metadata.labels = { 'app/name': 'svc' };
  api.emit(SERVICES, 'MODIFIED', svc);
  await run.waitFor((g) => g[0].labels.__meta_kubernetes_service_label_app_name === 'svc');
});

test('role endpointslice: conditions, topology, app protocol, service and pod labels', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(SLICES, endpointSlice());
  api.set(PODS, endpointsPod());
  api.set(SERVICES, { metadata: { name: 'testendpoints', namespace: 'default', labels: { 'app/name': 'test' } }, spec: {} });
  const run = new Run(t, { role: 'endpointslice', api_server: api.url });
  const [group] = await run.first();
  const port = {
    __meta_kubernetes_endpointslice_port: '9000',
    __meta_kubernetes_endpointslice_port_name: 'testport',
    __meta_kubernetes_endpointslice_port_protocol: 'TCP',
    __meta_kubernetes_endpointslice_port_app_protocol: 'http',
  };
  const conditions = (ready: string, serving: string, terminating: string) => ({
    __meta_kubernetes_endpointslice_endpoint_conditions_ready: ready,
    __meta_kubernetes_endpointslice_endpoint_conditions_serving: serving,
    __meta_kubernetes_endpointslice_endpoint_conditions_terminating: terminating,
  });
  assert.deepEqual(group, {
    source: 'endpointslice/default/testendpoints',
    targets: [
      {
        __address__: '1.2.3.4:9000',
        ...port,
        ...conditions('true', 'true', 'false'),
        __meta_kubernetes_endpointslice_endpoint_hostname: 'testendpoint1',
        __meta_kubernetes_endpointslice_address_target_kind: '',
        __meta_kubernetes_endpointslice_address_target_name: '',
        __meta_kubernetes_endpointslice_endpoint_topology_topology: 'value',
        __meta_kubernetes_endpointslice_endpoint_topology_present_topology: 'true',
      },
      { __address__: '2.3.4.5:9000', ...port, ...conditions('true', 'true', 'false') },
      { __address__: '3.4.5.6:9000', ...port, ...conditions('false', 'true', 'true') },
      {
        __address__: '4.3.2.1:9000',
        ...port,
        __meta_kubernetes_endpointslice_endpoint_conditions_ready: 'true',
        __meta_kubernetes_endpointslice_address_target_kind: 'Pod',
        __meta_kubernetes_endpointslice_address_target_name: 'testpod',
        ...mainPort,
      },
      sidePortTarget,
    ],
    labels: {
      __meta_kubernetes_namespace: 'default',
      __meta_kubernetes_endpointslice_name: 'testendpoints',
      __meta_kubernetes_endpointslice_address_type: 'IPv4',
      __meta_kubernetes_service_name: 'testendpoints',
      __meta_kubernetes_service_label_app_name: 'test',
      __meta_kubernetes_service_labelpresent_app_name: 'true',
    },
  });
});

test('role ingress: a target per rule and path, https where a TLS host matches', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(INGRESSES, ingress());
  const run = new Run(t, { role: 'ingress', api_server: api.url });
  const target = (host: string, scheme: string, path: string) => ({
    __address__: host,
    __meta_kubernetes_ingress_scheme: scheme,
    __meta_kubernetes_ingress_host: host,
    __meta_kubernetes_ingress_path: path,
  });
  assert.deepEqual(await run.first(), [
    {
      source: 'ingress/default/testingress',
      targets: [
        target('example.com', 'http', '/'),
        target('example.com', 'http', '/foo'),
        target('test.example.com', 'https', '/'),
        target('nohttp.example.com', 'https', '/'),
      ],
      labels: {
        __meta_kubernetes_ingress_name: 'testingress',
        __meta_kubernetes_namespace: 'default',
        __meta_kubernetes_ingress_class_name: 'testclass',
        __meta_kubernetes_ingress_label_test_label: 'testvalue',
        __meta_kubernetes_ingress_labelpresent_test_label: 'true',
        __meta_kubernetes_ingress_annotation_test_annotation: 'testannotationvalue',
        __meta_kubernetes_ingress_annotationpresent_test_annotation: 'true',
      },
    },
  ]);
});

// --- namespaces and selectors ---------------------------------------------------------------

test('namespaces: one list and watch per namespace; selectors passed through as query parameters', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set('/api/v1/namespaces/ns1/pods', simplePod('ns1'));
  api.set('/api/v1/namespaces/ns2/pods', simplePod('ns2'));
  const run = new Run(t, {
    role: 'pod',
    api_server: api.url,
    namespaces: { names: ['ns1', 'ns2'] },
    selectors: [{ role: 'pod', label: 'app in (web, api),tier!=db', field: 'spec.nodeName=testnode' }],
  });
  assert.deepEqual(await run.first(), [simplePodGroup('ns1'), simplePodGroup('ns2')]);
  await until('both watches', () => api.watchers('/api/v1/namespaces/ns1/pods') === 1 && api.watchers('/api/v1/namespaces/ns2/pods') === 1);
  for (const ns of ['ns1', 'ns2']) {
    for (const watch of [false, true]) {
      const [req] = api.requestsTo(`/api/v1/namespaces/${ns}/pods`, watch);
      assert.equal(req.query.get('labelSelector'), 'app in (web, api),tier!=db');
      assert.equal(req.query.get('fieldSelector'), 'spec.nodeName=testnode');
    }
  }
  assert.equal(api.requestsTo(PODS, false).length, 0);
  api.emit('/api/v1/namespaces/ns2/pods', 'DELETED', simplePod('ns2'));
  assert.deepEqual(await run.waitFor((g) => g.length === 1), [simplePodGroup('ns1')]);
});

// --- list and watch -------------------------------------------------------------------------

test('watch: from the list resourceVersion with bookmarks; resumes from the last bookmark after a dropped connection', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS, simplePod());
  const listedAt = String(api.currentRevision);
  const run = new Run(t, { role: 'pod', api_server: api.url });
  await run.first();
  await until('a watch', () => api.watchers(PODS) === 1);
  const [watch] = api.requestsTo(PODS, true);
  assert.equal(watch.query.get('resourceVersion'), listedAt);
  assert.equal(watch.query.get('allowWatchBookmarks'), 'true');
  assert.equal(watch.query.get('timeoutSeconds'), '60');

  const rv = api.bookmark(PODS);
  await sleep(50);
  api.dropWatches(PODS);
  await run.log.waitFor('kubernetes watch failed');
  await until('a second watch', () => api.watchers(PODS) === 1);
  const watches = api.requestsTo(PODS, true);
  assert.equal(watches[watches.length - 1].query.get('resourceVersion'), rv);
  assert.equal(api.requestsTo(PODS, false).length, 1, 'no second list');

  // and events keep coming through the resumed watch
  api.emit(PODS, 'ADDED', simplePod('default', 'second'));
  await run.waitFor((g) => g.length === 2);
});

test('watch: 410 Gone as a watch ERROR event lists again, and what was deleted meanwhile goes', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS, simplePod('default', 'a'), simplePod('default', 'b'));
  const run = new Run(t, { role: 'pod', api_server: api.url });
  assert.equal((await run.first()).length, 2);
  await until('a watch', () => api.watchers(PODS) === 1);
  // b deleted while the watch cache moved past our version
  api.set(PODS, simplePod('default', 'a'));
  api.error(PODS, 410, 'Expired');
  assert.deepEqual(await run.waitFor((g) => g.length === 1), [simplePodGroup('default', 'a')]);
  assert.equal(api.requestsTo(PODS, false).length, 2);
  await run.log.waitFor('kubernetes watch expired; listing again');
});

test('watch: 410 Gone as the HTTP status, or a version already too old, lists again', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS, simplePod('default', 'a'));
  api.failWatchesWith = [410];
  const run = new Run(t, { role: 'pod', api_server: api.url });
  await run.first();
  await until('a watch after the second list', () => api.watchers(PODS) === 1);
  assert.equal(api.requestsTo(PODS, false).length, 2);

  // a dropped watch resuming from a version the server no longer has: ERROR 410, then a list
  // (at the server's current version, which it can watch from)
  api.oldestWatchable = api.currentRevision + 1;
  api.set(PODS, simplePod('default', 'a'), simplePod('default', 'b'));
  api.dropWatches(PODS);
  await run.waitFor((g) => g.length === 2);
  await until('a watch again', () => api.watchers(PODS) === 1);
  assert.equal(api.requestsTo(PODS, false).length, 3);
  const watches = api.requestsTo(PODS, true);
  assert.equal(watches[watches.length - 1].query.get('resourceVersion'), String(api.currentRevision));
});

test('watch: a server that answers 410 to every watch is not hammered', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS, simplePod());
  api.failWatchesWith = Array<number>(1000).fill(410);
  const run = new Run(t, { role: 'pod', api_server: api.url });
  await run.first();
  await sleep(500);
  // back-off from 20ms doubling to 100ms: about 8 rounds in 500ms, not hundreds
  assert.ok(api.requestsTo(PODS, false).length < 15, `${api.requestsTo(PODS, false).length} lists`);
  assert.deepEqual(run.last, [simplePodGroup()]);
});

test('an unreachable API server keeps every target, and discovery resumes when it is back', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS, simplePod());
  const run = new Run(t, { role: 'pod', api_server: api.url });
  await run.first();
  await until('a watch', () => api.watchers(PODS) === 1);
  const updates = run.all.length;

  await api.stop();
  await run.log.waitFor('keeping the current targets');
  await sleep(300); // several failed attempts at the longest back-off
  assert.equal(run.all.length, updates, 'no update while the server is down');
  assert.deepEqual(run.last, [simplePodGroup()]);

  // a server error is no different
  await api.restart();
  api.failWatchesWith = [500, 500];
  await until('a watch again', () => api.watchers(PODS) === 1, 5000);
  api.emit(PODS, 'ADDED', simplePod('default', 'second'));
  await run.waitFor((g) => g.length === 2);
  assert.ok(run.log.lines.some((l) => l.includes('HTTP 500')));
});

test('a list that fails at start is retried; nothing is delivered before every informer has listed', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS, simplePod());
  // services are missing (404) at first: endpoints cannot be built yet
  api.set(ENDPOINTS, endpoints());
  const run = new Run(t, { role: 'endpoints', api_server: api.url });
  await run.log.waitFor('kubernetes list failed');
  assert.equal(run.all.length, 0);
  api.set(SERVICES);
  const [group] = await run.first();
  assert.equal(group.source, 'endpoints/default/testendpoints');
});

// --- connecting -----------------------------------------------------------------------------

/** A key and a self-signed certificate for 127.0.0.1, the certificate also written to `<dir>/ca.crt`. */
async function selfSigned(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  await execFile('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'ca.crt'), '-days', '2', '-subj', '/CN=kubernetes', '-addext', 'subjectAltName=IP:127.0.0.1']);
  return { key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'ca.crt')) };
}

test('in-cluster: KUBERNETES_SERVICE_HOST/PORT, the CA and a token re-read when it rotates, own namespace', async (t) => {
  const dir = tempDir();
  const tls = await selfSigned(dir);
  writeFileSync(join(dir, 'token'), 'token-1\n');
  writeFileSync(join(dir, 'namespace'), 'monitoring');
  const api = await FakeApiServer.start(t, tls);
  api.set('/api/v1/namespaces/monitoring/pods', simplePod('monitoring'));
  api.set('/api/v1/namespaces/default/pods', simplePod('default'));
  const run = new Run(
    t,
    { role: 'pod', namespaces: { own_namespace: true, names: ['default'] } },
    { env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port), TRIBUTARY_KUBERNETES_SERVICE_ACCOUNT_DIR: dir } },
  );
  assert.deepEqual(await run.first(), [simplePodGroup('default'), simplePodGroup('monitoring')]);
  assert.ok(api.seen.length > 0 && api.seen.every((s) => s.authorization === 'Bearer token-1'));

  await until('the watches', () => api.watchers('/api/v1/namespaces/monitoring/pods') === 1);
  writeFileSync(join(dir, 'token'), 'token-2\n');
  api.dropWatches('/api/v1/namespaces/monitoring/pods');
  await until('a watch again', () => api.watchers('/api/v1/namespaces/monitoring/pods') === 1);
  assert.equal(api.seen[api.seen.length - 1].authorization, 'Bearer token-2');
});

test('in-cluster without KUBERNETES_SERVICE_HOST: an error that says so', async (t) => {
  const run = new Run(t, { role: 'pod' }, { env: {} });
  await run.log.waitFor('KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined');
});

test('kubeconfig_file: the current context server and user token; relative paths from the file', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(NODES, node());
  const dir = tempDir();
  writeFileSync(join(dir, 'token'), 'file-token');
  const file = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: dev',
      'clusters:',
      '  - name: other',
      '    cluster: {server: "http://127.0.0.1:1"}',
      '  - name: local',
      `    cluster: {server: "${api.url}"}`,
      'contexts:',
      '  - name: prod',
      '    context: {cluster: other, user: admin}',
      '  - name: dev',
      '    context: {cluster: local, user: dev}',
      'users:',
      '  - name: admin',
      '    user: {token: wrong}',
      '  - name: dev',
      '    user: {tokenFile: token}',
    ].join('\n'),
  );
  const run = new Run(t, { role: 'node', kubeconfig_file: file });
  assert.equal((await run.first())[0].source, 'node/test');
  assert.equal(api.seen[0].authorization, 'Bearer file-token');
});

test('kubeconfig_file: a static token, and basic auth', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(NODES, node());
  const dir = tempDir();
  for (const [user, want] of [
    ['{token: abc}', 'Bearer abc'],
    ['{username: u, password: p}', `Basic ${Buffer.from('u:p').toString('base64')}`],
  ]) {
    const file = join(dir, 'config');
    writeFileSync(file, `current-context: c\ncontexts: [{name: c, context: {cluster: k, user: me}}]\nclusters: [{name: k, cluster: {server: "${api.url}"}}]\nusers: [{name: me, user: ${user}}]\n`);
    const before = api.seen.length;
    const run = new Run(t, { role: 'node', kubeconfig_file: file });
    await run.first();
    assert.equal(api.seen[before].authorization, want);
    await run.discoverer.close();
  }
});

test('kubeconfig_file: an https server trusted through certificate-authority-data', async (t) => {
  const dir = tempDir();
  const tls = await selfSigned(dir);
  const api = await FakeApiServer.start(t, tls);
  api.set(NODES, node());
  const file = join(dir, 'config');
  const ca = tls.cert.toString('base64');
  writeFileSync(file, `current-context: c\ncontexts: [{name: c, context: {cluster: k, user: me}}]\nclusters: [{name: k, cluster: {server: "${api.url}", certificate-authority-data: ${ca}}}]\nusers: [{name: me, user: {token: abc}}]\n`);
  const run = new Run(t, { role: 'node', kubeconfig_file: file });
  assert.equal((await run.first())[0].source, 'node/test');
  assert.equal(api.seen[0].authorization, 'Bearer abc');
});

test('kubeconfig_file: what cannot be used is logged, and retried (the file may still be written)', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'config');
  writeFileSync(file, 'current-context: c\ncontexts: [{name: c, context: {cluster: k, user: me}}]\nclusters: [{name: k, cluster: {server: "https://k8s"}}]\nusers: [{name: me, user: {exec: {command: aws}}}]\n');
  const run = new Run(t, { role: 'node', kubeconfig_file: file });
  await run.log.waitFor('user \\"me\\": exec credentials are not supported by Tributary');
  writeFileSync(file, 'current-context: c\ncontexts: [{name: c, context: {cluster: nope, user: me}}]\n');
  await run.log.waitFor('no cluster \\"nope\\" in clusters');
  assert.equal(run.all.length, 0);
});

test('close() stops the informers and their watches', async (t) => {
  const api = await FakeApiServer.start(t);
  api.set(PODS, simplePod());
  const run = new Run(t, { role: 'pod', api_server: api.url });
  await run.first();
  await until('a watch', () => api.watchers(PODS) === 1);
  await run.discoverer.close();
  await until('the watch closed', () => api.watchers(PODS) === 0);
  const updates = run.all.length;
  api.emit(PODS, 'ADDED', simplePod('default', 'late'));
  await sleep(60);
  assert.equal(run.all.length, updates);
});

// --- end to end -----------------------------------------------------------------------------

test('end to end: a scrape job with kubernetes_sd_configs scrapes the annotated pods, relabeled the usual way', async (t) => {
  const target = await startTarget();
  target.page('app_requests_total 7\n');
  t.after(() => target.close());
  const port = Number(target.address.split(':')[1]);
  const api = await FakeApiServer.start(t);
  const pod = (name: string, scrape: string): Obj => ({
    metadata: { name, namespace: 'default', labels: { app: name }, annotations: { 'prometheus.io/scrape': scrape } },
    spec: { containers: [{ name: 'app', ports: [{ name: 'metrics', containerPort: port, protocol: 'TCP' }] }] },
    status: { podIP: '127.0.0.1', phase: 'Running' },
  });
  api.set(PODS, pod('web', 'true'), pod('db', 'false'));
  const h = await startScraping(`global: {scrape_interval: 1s}
scrape_configs:
  - job_name: k8s
    kubernetes_sd_configs: [{role: pod, api_server: '${api.url}'}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], action: keep, regex: 'true'}
      - {action: labelmap, regex: __meta_kubernetes_pod_label_(.+)}
      - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
`);
  t.after(() => h.close());
  const sample = await waitFor('a scrape of the web pod', () => h.sink.batches.flatMap((b) => b.samples).find((x) => x.series.startsWith('app_requests_total')));
  for (const label of ['app="web"', 'pod="web"', 'namespace="default"', `instance="127.0.0.1:${port}"`, 'job="k8s"']) assert.ok(sample.series.includes(label), sample.series);
  assert.equal(sample.value, 7);
  assert.equal((await h.loops('k8s')).length, 1);
});

// --- configuration --------------------------------------------------------------------------

function issuesOf(sd: string): ConfigIssue[] {
  const text = `scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs:\n      - ${sd}\n`;
  try {
    parseConfigText(text, 'test.yml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return [...err.issues];
  }
  return [];
}

function oneIssue(sd: string, path: string, message: RegExp): void {
  const issues = issuesOf(sd);
  assert.equal(issues.length, 1, JSON.stringify(issues));
  assert.equal(issues[0].path, `scrape_configs[0].kubernetes_sd_configs[0]${path}`);
  assert.equal(issues[0].line, 4);
  assert.match(issues[0].message, message);
}

test('config: a minimal entry loads with Prometheus defaults, and is no longer reported as unsupported', () => {
  const { config, warnings } = parseConfigText('scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs: [{role: endpoints}]\n', 'test.yml', {});
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.scrape_configs[0].kubernetes_sd_configs, [
    {
      role: 'endpoints',
      namespaces: { own_namespace: false, names: [] },
      selectors: [],
      attach_metadata: { node: false },
      follow_redirects: true,
      enable_http2: true,
    },
  ]);
});

test('config: role is required and must be known', () => {
  oneIssue('{api_server: "https://k8s:6443"}', '.role', /^role missing \(one of: pod, service, endpoints, endpointslice, node, ingress\)/);
  oneIssue('{role: pods}', '.role', /unknown Kubernetes SD role "pods"/);
});

test('config: api_server and kubeconfig_file are mutually exclusive', () => {
  oneIssue('{role: pod, api_server: "https://k8s:6443", kubeconfig_file: /etc/kube.yaml}', '.kubeconfig_file', /cannot use 'kubeconfig_file' and 'api_server' simultaneously/);
});

test('config: HTTP client keys need api_server; own_namespace only in-cluster', () => {
  oneIssue('{role: pod, bearer_token: x}', '.bearer_token', /provide the 'api_server' URL explicitly/);
  oneIssue('{role: pod, kubeconfig_file: k.yaml, tls_config: {insecure_skip_verify: true}}', '.tls_config', /together with 'kubeconfig_file'/);
  oneIssue('{role: pod, api_server: "https://k8s", namespaces: {own_namespace: true}}', '.namespaces.own_namespace', /'api_server' and 'namespaces.own_namespace'/);
  assert.deepEqual(issuesOf('{role: pod, api_server: "https://k8s", bearer_token: x}'), []);
});

test('config: selectors of the roles the role allows, each once, parseable', () => {
  oneIssue('{role: node, selectors: [{role: pod, label: "a=b"}]}', '.selectors[0].role', /^node role supports only node selectors/);
  oneIssue('{role: endpoints, selectors: [{role: ingress}]}', '.selectors[0].role', /endpoints role supports only pod, service, endpoints selectors/);
  oneIssue('{role: pod, selectors: [{role: pod}, {role: pod}]}', '.selectors[1].role', /duplicated selector role: pod/);
  oneIssue('{role: pod, selectors: [{role: notarole}]}', '.selectors[0].role', /unknown Kubernetes SD role/);
  oneIssue('{role: pod, selectors: [{role: pod, label: "app in (a b"}]}', '.selectors[0].label', /invalid label selector/);
  oneIssue('{role: pod, selectors: [{role: pod, field: "spec.nodeName"}]}', '.selectors[0].field', /invalid field selector/);
  assert.deepEqual(issuesOf('{role: pod, selectors: [{role: pod, label: "app=web,!canary,tier notin (db),env", field: "spec.nodeName=n1,status.phase!=Failed"}, {role: node, label: "kubernetes.io/os=linux"}]}'), []);
});

test('config: kubeconfig_file and HTTP client files are relative to the configuration file', async () => {
  const dir = tempDir();
  const file = join(dir, 'tributary.yml');
  writeFileSync(
    file,
    'scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs:\n      - {role: node, kubeconfig_file: kube/config}\n      - {role: pod, api_server: "https://k8s", bearer_token_file: token}\n',
  );
  const { config, warnings } = await loadConfigFile(file, {});
  assert.deepEqual(warnings, []);
  const [a, b] = config.scrape_configs[0].kubernetes_sd_configs;
  assert.equal(a.kubeconfig_file, join(dir, 'kube/config'));
  assert.deepEqual(b.authorization, { type: 'Bearer', credentials_file: join(dir, 'token') });
});
