import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ChangeEvent, DeploymentSpec, FakeCluster, FakeClusterOptions, JobPodInput, PdbSpec, PodInput, PodSpecInput, WatchedResource } from './cluster';
import { discoveryDocument, versionInfo } from './discovery';
import { cronJobObject, jobObject, type CronJobInput, type JobInput } from './batch';
import { LeaseStore } from './leases';
import { FaultInjector } from './faults';
import { FlowControl, type FlowControlOptions } from './flow-control';
import { KubeError, KubeObject, keyOf, statusObject } from './objects';
import { PatchError, patchContentTypes } from './patch';
import { AdmissionPolicies } from './admission';
import { forbidden, RbacAuthorizer, requestAttributes, type UserInfo } from './rbac';
import { parseFieldSelector, parseLabelSelector, Predicate, SelectorError } from './selectors';
import { toTable, wantsTable } from './tables';
import { testPki } from './pki';
import { RealSimClock, SimClock } from '../virtual-clock';

export type { FaultSpec } from './faults';

export interface FakeKubeServerOptions {
  /** @default new RealSimClock() */
  clock?: SimClock;
  /** Delay before each request is handled, on `clock`. @default 0 */
  latencyMs?: number;
  /**
   * The bearer token of the cluster admin (group system:masters, which RBAC
   * does not restrict). Other tokens are known only once added with addUser.
   * @default 'fake-token'
   */
  token?: string;
  /** API Priority and Fairness: seats and queues of our priority level (see flow-control.ts). @default none (unlimited) */
  flowControl?: FlowControlOptions;
  /** How the simulated controllers and kubelets pace themselves (volume detach, PDB status, pod deletion). */
  cluster?: FakeClusterOptions;
  /** What GET /version answers (an older server for the audit's version checks). @default versionInfo (1.31) */
  version?: { major: string; minor: string; gitVersion: string };
}

export interface RequestRecord {
  /** Arrival time on the server's clock. */
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** HTTP status, 0 while in progress, or 'reset' when the socket was destroyed. */
  status: number | 'reset' | 'hang';
  /** The Kubernetes verb: get, list, watch, patch, delete, create… */
  verb: string;
  /** Rejected by API Priority and Fairness before any handler ran (429). */
  rejectedByFlowControl?: boolean;
  /** The user the bearer token maps to, once authenticated. */
  user?: string;
}

export interface RequestFilter {
  method?: string;
  path?: RegExp | string;
  verb?: string;
  status?: number | 'reset' | 'hang';
}

interface Request {
  /** The authenticated user (set before any route runs). */
  user?: UserInfo;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

type Params = Record<string, string>;
type Handler = (req: Request, p: Params, res: ServerResponse, log: RequestRecord) => unknown;

interface Route {
  method: string;
  pattern: RegExp;
  verb: (req: Request) => string;
  handle: Handler;
}

/** A clock may offer busy tokens (VirtualClock does): the server holds one while it works. */
type Holdable = { hold?: () => () => void };
const noop = () => {};

const isWatch = (req: Request) => ['true', '1'].includes(req.query.get('watch') ?? '');
const listOrWatch = (req: Request) => (isWatch(req) ? 'watch' : 'list');

/** Fields the real API server can select pods and nodes by. */
const podFields: Record<string, (p: KubeObject) => string> = {
  'metadata.name': (p) => p.metadata.name,
  'metadata.namespace': (p) => p.metadata.namespace ?? '',
  'spec.nodeName': (p) => p.spec.nodeName ?? '',
  'spec.restartPolicy': (p) => p.spec.restartPolicy ?? '',
  'spec.schedulerName': (p) => p.spec.schedulerName ?? 'default-scheduler',
  'spec.serviceAccountName': (p) => p.spec.serviceAccountName ?? 'default',
  'status.phase': (p) => p.status?.phase ?? '',
  'status.podIP': (p) => p.status?.podIP ?? '',
  'status.nominatedNodeName': (p) => p.status?.nominatedNodeName ?? '',
};
const nodeFields: Record<string, (n: KubeObject) => string> = {
  'metadata.name': (n) => n.metadata.name,
  'spec.unschedulable': (n) => String(n.spec.unschedulable ?? false),
};
/** VolumeAttachments select by name only: there is no spec.nodeName field selector (clients filter). */
const clusterFields: Record<string, (o: KubeObject) => string> = {
  'metadata.name': (o) => o.metadata.name,
};
const namespacedFields: Record<string, (o: KubeObject) => string> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace ?? '',
};

/**
 * A Kubernetes API server over HTTPS, enough for kubectl drain and
 * @kubernetes/client-node: discovery, nodes, pods, evictions, PDBs and
 * watches, with the state and the controllers of a FakeCluster on a SimClock.
 */
export class FakeKubeServer {
  readonly requests: RequestRecord[] = [];
  /** Watches streaming now (their request records), and the most seen at once with what they selected then. */
  readonly openWatches = new Set<RequestRecord>();
  peakWatches: { count: number; at: number; records: RequestRecord[] } = { count: 0, at: 0, records: [] };
  readonly faults = new FaultInjector();
  readonly caPem: string;
  readonly token: string;
  readonly clock: SimClock;
  /** Present when the server models API Priority and Fairness. */
  readonly flowControl?: FlowControl;
  /** RBAC of the cluster: the bootstrap discovery roles, plus what applyRbac adds. */
  readonly rbac = new RbacAuthorizer();
  /** ValidatingAdmissionPolicies in force (node updates are checked against them). */
  readonly admission = new AdmissionPolicies();
  private readonly users = new Map<string, UserInfo>();
  private readonly cluster: FakeCluster;
  /** The APF seat of each request in progress, so a watch can give it up once it streams. */
  private readonly seats = new WeakMap<ServerResponse, () => void>();
  readonly leases: LeaseStore;
  private readonly version: typeof versionInfo;
  private readonly latencyMs: number;
  private readonly routes: Route[];
  private readonly sockets = new Set<Socket>();
  private readonly handshakeHolds = new WeakMap<Socket, () => void>();
  /** The hold of each request in progress, so a watch can give it up once it streams. */
  private readonly requestHolds = new WeakMap<ServerResponse, () => void>();
  private readonly closeWatches = new Set<() => void>();
  /** The objects of paged LISTs, by snapshot id (what etcd keeps until compaction). */
  private readonly snapshots = new Map<string, KubeObject[]>();
  private snapshotIds = 0;
  private server!: Server;
  private port = 0;

  private constructor(opts: FakeKubeServerOptions) {
    this.clock = opts.clock ?? new RealSimClock();
    this.token = opts.token ?? 'fake-token';
    this.users.set(this.token, { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] });
    this.latencyMs = opts.latencyMs ?? 0;
    if (opts.flowControl) this.flowControl = new FlowControl(opts.flowControl);
    this.caPem = testPki().caPem;
    this.cluster = new FakeCluster(this.clock, opts.cluster);
    this.version = { ...versionInfo, ...(opts.version ?? {}) };
    this.leases = new LeaseStore({ clock: this.clock, nextResourceVersion: () => this.cluster.nextResourceVersion(), uid: () => this.cluster.newUid() });
    this.routes = this.buildRoutes();
  }

  static async start(opts: FakeKubeServerOptions = {}): Promise<FakeKubeServer> {
    const server = new FakeKubeServer(opts);
    await server.listen();
    return server;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Writes a kubeconfig (server, CA, bearer token) into `dir` and returns its path. */
  writeKubeconfig(dir: string): string {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'kubeconfig');
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') } }],
      users: [{ name: 'fake', user: { token: this.token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    };
    // JSON is valid YAML, and kubectl reads either.
    writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
    return path;
  }

  /**
   * Lets `token` in as `user` (every authenticated user is also in
   * system:authenticated), as an EKS access entry maps an IAM role to a
   * username and Kubernetes groups. What the user may do is up to RBAC.
   */
  addUser(token: string, user: UserInfo): void {
    const groups = user.groups.includes('system:authenticated') ? user.groups : [...user.groups, 'system:authenticated'];
    this.users.set(token, { username: user.username, groups });
  }

  /**
   * `kubectl apply -f` of manifests the fake enforces: ClusterRoles, Roles and
   * their bindings (RBAC), ValidatingAdmissionPolicies and their bindings.
   */
  apply(yamlText: string): void {
    this.rbac.apply(yamlText);
    this.admission.apply(yamlText);
  }

  async stop(): Promise<void> {
    this.cluster.stop();
    for (const close of [...this.closeWatches]) close();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- builders and readers for tests (see FakeCluster)

  addNode(spec: Parameters<FakeCluster['addNode']>[0]): KubeObject { return this.cluster.addNode(spec); }
  addPod(input: PodInput): KubeObject { return this.cluster.addPod(input); }
  addDeployment(spec: DeploymentSpec): KubeObject[] { return this.cluster.addDeployment(spec); }
  addDaemonSet(spec: Parameters<FakeCluster['addDaemonSet']>[0]): KubeObject[] { return this.cluster.addDaemonSet(spec); }
  addMirrorPod(spec: Parameters<FakeCluster['addMirrorPod']>[0]): KubeObject { return this.cluster.addMirrorPod(spec); }
  addPdb(spec: PdbSpec): KubeObject { return this.cluster.addPdb(spec); }
  addStandalonePod(spec: PodSpecInput): KubeObject { return this.cluster.addStandalonePod(spec); }
  addJobPod(spec: JobPodInput): KubeObject { return this.cluster.addJobPod(spec); }
  setNamespaceTerminating(namespace: string): void { this.cluster.setNamespaceTerminating(namespace); }
  /** A DELETE by someone else (a user, a controller), as the API server handles it; `gracePeriodSeconds` undefined: the pod's own. */
  deletePod(namespace: string, name: string, gracePeriodSeconds?: number): KubeObject { return this.cluster.deletePod(namespace, name, { gracePeriodSeconds }); }
  updatePdb(namespace: string, name: string, change: Parameters<FakeCluster['updatePdb']>[2]): KubeObject { return this.cluster.updatePdb(namespace, name, change); }
  deleteWorkload(kind: string, namespace: string, name: string): void { this.cluster.deleteWorkload(kind, namespace, name); }
  /** Forgets the changes up to `revision` (default: all so far): watches and paged LISTs from before get 410 Gone. */
  compact(revision?: number): void { this.cluster.compact(revision); }
  volumeAttachments(): KubeObject[] { return this.cluster.listVolumeAttachments(); }
  currentResourceVersion(): number { return this.cluster.currentResourceVersion(); }
  /** A CronJob with the API server's defaults (sim/kube/batch.ts). */
  addCronJob(input: CronJobInput): KubeObject { return this.cluster.addBatchObject(cronJobObject(input, this.cluster.newUid(), Number(this.version.minor))); }
  /** A Job with the API server's defaults; `ownedBy` a CronJob makes it one of its runs. */
  addJob(input: JobInput): KubeObject { return this.cluster.addBatchObject(jobObject(input, this.cluster.newUid(), Number(this.version.minor))); }

  pods(filter: { nodeName?: string; namespace?: string } = {}): KubeObject[] {
    return this.cluster.listPods(filter.namespace).filter((p) => !filter.nodeName || p.spec.nodeName === filter.nodeName);
  }

  node(name: string): KubeObject { return this.cluster.getNode(name); }
  /** Sets annotations on a node as a client's merge patch would (a test's stand-in for another writer). */
  patchNodeAnnotations(name: string, annotations: Record<string, string>): KubeObject {
    const node = this.cluster.getNode(name);
    node.metadata.annotations = { ...(node.metadata.annotations ?? {}), ...annotations };
    return this.cluster.replaceNode(name, node);
  }
  /** Follows every change of the cluster (what watches see); returns the unsubscribe function. */
  onChange(listener: Parameters<FakeCluster['subscribe']>[0]): () => void { return this.cluster.subscribe(listener); }
  pdbs(namespace?: string): KubeObject[] { return this.cluster.listPdbs(namespace); }
  jobs(namespace?: string): KubeObject[] { return this.cluster.listWorkloads('Job', namespace); }

  countRequests(filter: RequestFilter = {}): number {
    return this.requests.filter((r) =>
      (!filter.method || r.method === filter.method.toUpperCase())
      && (!filter.verb || r.verb === filter.verb)
      && (filter.status === undefined || r.status === filter.status)
      && (!filter.path || (typeof filter.path === 'string' ? r.path === filter.path : filter.path.test(r.path))),
    ).length;
  }

  countByVerb(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.requests) counts[r.verb] = (counts[r.verb] ?? 0) + 1;
    return counts;
  }

  // ---- HTTP

  private async listen(): Promise<void> {
    const pki = testPki();
    this.server = createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem, keepAliveTimeout: 60_000 }, (req, res) => {
      void this.onRequest(req, res);
    });
    // A new connection is busy from its TCP accept (TLS handshake included)
    // until its first request arrives and takes over with its own hold.
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      const release = this.hold();
      this.handshakeHolds.set(socket, release);
      socket.once('close', () => {
        release();
        this.sockets.delete(socket);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private hold(): () => void {
    return (this.clock as Holdable).hold?.() ?? noop;
  }

  private async onRequest(incoming: IncomingMessage, res: ServerResponse): Promise<void> {
    let release = this.hold();
    // Node's TLSSocket keeps the TCP socket it wraps in `_parent`.
    const tcp = (incoming.socket as Socket & { _parent?: Socket })._parent ?? incoming.socket;
    this.handshakeHolds.get(tcp)?.();
    this.requestHolds.set(res, () => release());
    res.once('finish', () => release());
    res.once('close', () => release());
    const url = new URL(incoming.url ?? '/', this.url);
    const req: Request = { method: incoming.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: incoming.headers, body: await readBody(incoming) };
    if (this.flowControl) {
      // Waiting in an APF queue is idle time for the clock.
      release();
      const seat = await this.flowControl.acquire();
      release = this.hold();
      if (!seat) return this.rejectTooMany(req, res);
      this.seats.set(res, seat);
      res.once('finish', seat);
      res.once('close', seat);
    }
    if (this.latencyMs > 0) {
      // The request is "on the wire": let virtual time pass for it.
      release();
      await this.clock.sleep(this.latencyMs);
      release = this.hold();
    }
    const route = this.routes.find((r) => r.method === req.method && r.pattern.test(req.path));
    const log: RequestRecord = {
      at: this.clock.now(), method: req.method, path: req.path,
      query: Object.fromEntries(req.query), status: 0, verb: route ? route.verb(req) : req.method.toLowerCase(),
    };
    this.requests.push(log);
    res.once('finish', () => { if (log.status === 0) log.status = res.statusCode; });
    try {
      const injected = this.injectFault(req, res, log);
      if (injected === 'hang') return release(); // nothing happens until the client gives up
      if (injected) return;
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const user = bearer === undefined ? undefined : this.users.get(bearer);
      if (!user) throw new KubeError(401, 'Unauthorized', 'Unauthorized');
      log.user = user.username;
      req.user = user;
      // Authorization comes before routing, as in kube-apiserver's handler chain.
      const attributes = requestAttributes(req.method, req.path, req.query);
      if (!this.rbac.authorize(user, attributes).allowed) throw forbidden(user, attributes);
      if (!route) throw new KubeError(404, 'NotFound', 'the server could not find the requested resource');
      const params = route.pattern.exec(req.path)!.groups ?? {};
      const body = await route.handle(req, params, res, log);
      if (body !== undefined) this.send(res, log, 200, body);
    } catch (err) {
      this.sendError(res, log, err);
    }
  }

  /** APF found the queues full: 429 with Retry-After, before any handler ran. */
  private rejectTooMany(req: Request, res: ServerResponse): void {
    const route = this.routes.find((r) => r.method === req.method && r.pattern.test(req.path));
    const log: RequestRecord = {
      at: this.clock.now(), method: req.method, path: req.path,
      query: Object.fromEntries(req.query), status: 0, verb: route ? route.verb(req) : req.method.toLowerCase(),
      rejectedByFlowControl: true,
    };
    this.requests.push(log);
    const retryAfterSeconds = this.flowControl!.retryAfterSeconds;
    res.setHeader('Retry-After', String(retryAfterSeconds));
    this.send(res, log, 429, statusObject(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds }));
  }

  private injectFault(req: Request, res: ServerResponse, log: RequestRecord): boolean | 'hang' {
    const watch = req.query.get('watch');
    const fault = this.faults.pick(req.method, req.path, watch === 'true' || watch === '1');
    if (!fault) return false;
    if (fault.status === 'hang') {
      log.status = 'hang';
      return 'hang';
    }
    if (fault.status === 'reset') {
      log.status = 'reset';
      res.socket?.destroy();
      return true;
    }
    if (fault.status === 403) {
      this.send(res, log, 403, statusObject(403, 'Forbidden', forbiddenMessage(req, log.verb, fault.user), forbiddenDetails(req)));
      return true;
    }
    if (fault.status === 429 && fault.disruptionBudget) {
      this.send(res, log, 429, statusObject(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
        causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${fault.disruptionBudget} needs 1 healthy pods and has 1 currently` }],
      }));
      return true;
    }
    const reasons = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable' } as const;
    const messages = { 429: 'Too many requests, please try again later.', 500: 'Internal error occurred: injected fault', 503: 'The server is currently unable to handle the request' };
    if (fault.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(fault.retryAfterSeconds));
    const details = fault.retryAfterSeconds !== undefined ? { retryAfterSeconds: fault.retryAfterSeconds } : undefined;
    this.send(res, log, fault.status, statusObject(fault.status, reasons[fault.status], messages[fault.status], details));
    return true;
  }

  private send(res: ServerResponse, log: RequestRecord, code: number, body: unknown): void {
    log.status = code;
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private sendError(res: ServerResponse, log: RequestRecord, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e = err instanceof KubeError ? err
      : err instanceof SelectorError ? KubeError.badRequest(err.message)
        : err instanceof PatchError ? new KubeError(err.status, err.status === 422 ? 'Invalid' : 'BadRequest', err.message)
          : new KubeError(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`);
    this.send(res, log, e.code, statusObject(e.code, e.reason, e.message, e.details));
  }

  // ---- routes

  private buildRoutes(): Route[] {
    const c = this.cluster;
    const get = (pattern: RegExp, handle: Handler, verb: Route['verb'] = () => 'get'): Route => ({ method: 'GET', pattern, verb, handle });
    const ns = '/namespaces/(?<ns>[^/]+)';
    const name = '/(?<name>[^/]+)';
    const re = (source: string) => new RegExp(`^${source}$`);
    return [
      get(/^\/(version|api|apis|api\/v1|apis\/[^/]+\/v1)$/, (req) => {
        const doc = discoveryDocument(req.path, `127.0.0.1:${this.port}`, this.version);
        if (!doc) throw new KubeError(404, 'NotFound', 'the server could not find the requested resource');
        return doc;
      }),
      get(re('/api/v1/nodes'), (req, _p, res, log) => this.collection(req, res, log, 'nodes', 'NodeList', 'v1', c.rawNodes(), nodeFields), listOrWatch),
      get(re(`/api/v1/nodes${name}`), (_r, p) => c.getNode(p.name)),
      { method: 'PATCH', pattern: re(`/api/v1/nodes${name}`), verb: () => 'patch', handle: (req, p) => this.patchNode(req, p.name) },
      get(re('/api/v1/namespaces'), (req, _p, res, log) => this.collection(req, res, log, undefined, 'NamespaceList', 'v1', c.listNamespaces(), namespacedFields), listOrWatch),
      get(re(`/api/v1${ns}`), (_r, p) => c.getNamespace(p.ns)),
      // The pods of one node come from the node index, as the API server's watch cache indexes spec.nodeName.
      get(re('/api/v1/pods'), (req, _p, res, log) => this.collection(req, res, log, 'pods', 'PodList', 'v1', c.rawPods({ nodeName: nodeNameSelected(req) }), podFields), listOrWatch),
      get(re(`/api/v1${ns}/pods`), (req, p, res, log) => this.collection(req, res, log, 'pods', 'PodList', 'v1', c.rawPods({ namespace: p.ns, nodeName: nodeNameSelected(req) }), podFields, p.ns), listOrWatch),
      get(re(`/api/v1${ns}/pods${name}`), (_r, p) => c.getPod(p.ns, p.name)),
      { method: 'DELETE', pattern: re(`/api/v1${ns}/pods${name}`), verb: () => 'delete', handle: (req, p) => c.deletePod(p.ns, p.name, deleteOptions(req.query, parseJson(req.body))) },
      { method: 'POST', pattern: re(`/api/v1${ns}/pods${name}/eviction`), verb: () => 'create', handle: (req, p, res, log) => this.evict(req, p, res, log) },
      get(re('/apis/policy/v1/poddisruptionbudgets'), (req, _p, res, log) => this.collection(req, res, log, 'poddisruptionbudgets', 'PodDisruptionBudgetList', 'policy/v1', c.rawPdbs(), namespacedFields), listOrWatch),
      get(re(`/apis/policy/v1${ns}/poddisruptionbudgets`), (req, p, res, log) => this.collection(req, res, log, 'poddisruptionbudgets', 'PodDisruptionBudgetList', 'policy/v1', c.rawPdbs(p.ns), namespacedFields, p.ns), listOrWatch),
      get(re(`/apis/policy/v1${ns}/poddisruptionbudgets${name}`), (_r, p) => c.getPdb(p.ns, p.name)),
      get(re('/apis/storage.k8s.io/v1/volumeattachments'), (req, _p, res, log) => this.collection(req, res, log, 'volumeattachments', 'VolumeAttachmentList', 'storage.k8s.io/v1', c.listVolumeAttachments(), clusterFields), listOrWatch),
      get(re(`/apis/storage.k8s.io/v1/volumeattachments${name}`), (_r, p) => c.getVolumeAttachment(p.name)),
      get(re('/api/v1/persistentvolumeclaims'), (req, _p, res, log) => this.collection(req, res, log, undefined, 'PersistentVolumeClaimList', 'v1', c.listClaims(), namespacedFields), listOrWatch),
      get(re(`/api/v1${ns}/persistentvolumeclaims`), (req, p, res, log) => this.collection(req, res, log, undefined, 'PersistentVolumeClaimList', 'v1', c.listClaims(p.ns), namespacedFields, p.ns), listOrWatch),
      get(re(`/api/v1${ns}/persistentvolumeclaims${name}`), (_r, p) => c.getClaim(p.ns, p.name)),
      ...this.workloadRoutes(),
      ...this.leaseRoutes(),
    ];
  }

  /** coordination.k8s.io/v1 Leases: create, get, list, update (PUT) and delete, with resourceVersion conflicts. */
  private leaseRoutes(): Route[] {
    const base = '^/apis/coordination\\.k8s\\.io/v1/namespaces/(?<ns>[^/]+)/leases';
    const one = new RegExp(`${base}/(?<name>[^/]+)$`);
    return [
      {
        method: 'GET', pattern: new RegExp(`${base}$`), verb: () => 'list',
        handle: (req, p, res, log) => this.collection(req, res, log, undefined, 'LeaseList', 'coordination.k8s.io/v1', this.leases.list(p.ns), namespacedFields, p.ns),
      },
      { method: 'GET', pattern: one, verb: () => 'get', handle: (_r, p) => this.leases.get(p.ns, p.name) },
      {
        method: 'POST', pattern: new RegExp(`${base}$`), verb: () => 'create',
        handle: (req, p, res, log) => { this.send(res, log, 201, this.leases.create(p.ns, parseJson(req.body))); return undefined; },
      },
      {
        method: 'PUT', pattern: one, verb: () => 'update',
        handle: (req, p, res, log) => {
          const { lease, created } = this.leases.update(p.ns, p.name, parseJson(req.body));
          this.send(res, log, created ? 201 : 200, lease);
          return undefined;
        },
      },
      {
        method: 'DELETE', pattern: one, verb: () => 'delete',
        handle: (req, p) => {
          this.leases.delete(p.ns, p.name, parseJson(req.body)?.preconditions);
          return statusObject(200, '', '');
        },
      },
    ];
  }

  /** DaemonSets, ReplicaSets, Deployments and Jobs: read-only, as far as pods need owners. */
  private workloadRoutes(): Route[] {
    const kinds = [
      ['apps', 'daemonsets', 'DaemonSet'], ['apps', 'replicasets', 'ReplicaSet'],
      ['apps', 'deployments', 'Deployment'], ['batch', 'jobs', 'Job'], ['batch', 'cronjobs', 'CronJob'],
    ] as const;
    return kinds.flatMap(([group, resource, kind]): Route[] => [
      {
        method: 'GET', pattern: new RegExp(`^/apis/${group}/v1(/namespaces/(?<ns>[^/]+))?/${resource}$`), verb: () => 'list',
        handle: (req, p, res, log) => this.collection(req, res, log, undefined, `${kind}List`, `${group}/v1`, this.cluster.listWorkloads(kind, p.ns), namespacedFields, p.ns),
      },
      {
        method: 'GET', pattern: new RegExp(`^/apis/${group}/v1/namespaces/(?<ns>[^/]+)/${resource}/(?<name>[^/]+)$`), verb: () => 'get',
        handle: (_r, p) => this.cluster.getWorkload(kind, p.ns, p.name, resource, group),
      },
    ]);
  }

  private patchNode(req: Request, name: string): KubeObject {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim() as keyof typeof patchContentTypes;
    const apply = patchContentTypes[contentType];
    if (!apply) throw new KubeError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${Object.keys(patchContentTypes).join(', ')}`);
    const current = this.cluster.getNode(name);
    const patched = apply(current, parseJson(req.body));
    const verdict = this.admission.admit({
      operation: 'UPDATE', apiGroup: '', apiVersion: 'v1', resource: 'nodes', subresource: '',
      object: patched, oldObject: current, user: req.user!,
    });
    if (!verdict.allowed) throw new KubeError(403, 'Forbidden', `nodes "${name}" is forbidden: ${verdict.refusals.join(', ')}`, { name, kind: 'nodes' });
    return this.cluster.replaceNode(name, patched);
  }

  private evict(req: Request, p: Params, res: ServerResponse, log: RequestRecord): undefined {
    const eviction = parseJson(req.body) ?? {};
    if (eviction.metadata?.name !== undefined && eviction.metadata.name !== p.name) {
      throw KubeError.badRequest(`name in URL does not match name in Eviction object`);
    }
    this.cluster.evict(p.ns, p.name, deleteOptions(new URLSearchParams(), eviction.deleteOptions));
    this.send(res, log, 201, statusObject(201, '', ''));
    return undefined;
  }

  /** A LIST (JSON or Table) or, with ?watch, a stream of changes. `objects` may be the stored ones: they are serialized at once, never kept. */
  private collection(req: Request, res: ServerResponse, log: RequestRecord, resource: WatchedResource | undefined, listKind: string, apiVersion: string, objects: KubeObject[], fields: Record<string, (o: any) => string>, namespace?: string): unknown {
    const byLabels = parseLabelSelector(req.query.get('labelSelector') ?? undefined);
    const byFields = parseFieldSelector(req.query.get('fieldSelector') ?? undefined, fields);
    const matches = (o: KubeObject) => (!namespace || o.metadata.namespace === namespace) && byLabels(o.metadata.labels ?? {}) && byFields(o);
    if (isWatch(req)) {
      if (!resource) throw new KubeError(405, 'MethodNotAllowed', 'watch is not supported on this resource by the fake');
      this.watch(req, res, log, resource, objects.filter(matches), matches);
      return undefined;
    }
    const page = this.page(req, objects.filter(matches));
    const metadata = {
      resourceVersion: page.resourceVersion,
      ...(page.continue ? { continue: page.continue, remainingItemCount: page.remaining } : {}),
    };
    if (wantsTable(req.headers.accept)) return { ...toTable(page.items, page.resourceVersion, this.clock.now(), req.query.get('includeObject') ?? undefined), metadata };
    return { kind: listKind, apiVersion, metadata, items: page.items };
  }

  /**
   * `limit` and `continue`, as the API server pages a LIST from etcd: every
   * page comes from the snapshot of the first one (a consistent list), in key
   * order; a continue token older than the last compaction is answered with
   * 410 Expired ("The provided continue parameter is too old …").
   */
  private page(req: Request, matching: KubeObject[]): { items: KubeObject[]; resourceVersion: string; continue?: string; remaining?: number } {
    const limit = Number(req.query.get('limit') ?? 0);
    const token = req.query.get('continue');
    let items = [...matching].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
    let resourceVersion = this.cluster.currentResourceVersion();
    if (token) {
      const parsed = parseContinue(token);
      const snapshot = parsed && this.snapshots.get(parsed.snapshot);
      if (!parsed || !snapshot) throw KubeError.badRequest('continue key is not valid: invalid continue token');
      if (parsed.resourceVersion <= this.cluster.oldestWatchableRevision()) {
        throw new KubeError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      }
      items = snapshot.filter((o) => keyOf(o) > parsed.after);
      resourceVersion = parsed.resourceVersion;
    }
    if (!(limit > 0) || items.length <= limit) return { items, resourceVersion: String(resourceVersion) };
    const id = token ? parseContinue(token)!.snapshot : String(++this.snapshotIds);
    if (!token) this.snapshots.set(id, items);
    const pageItems = items.slice(0, limit);
    const next = Buffer.from(JSON.stringify({ rv: resourceVersion, start: keyOf(pageItems[pageItems.length - 1]), s: id })).toString('base64');
    return { items: pageItems, resourceVersion: String(resourceVersion), continue: next, remaining: items.length - limit };
  }

  /**
   * Newline-delimited watch events. Without a resourceVersion (or with "0")
   * the current objects come first as ADDED, as the real server does; with
   * one, the changes after it are replayed from the history. A MODIFIED
   * change that moves an object in or out of the selection becomes ADDED or
   * DELETED. The stream ends after timeoutSeconds on the server's clock
   * (default 1800 s, the API server's minimum request timeout).
   */
  private watch(req: Request, res: ServerResponse, log: RequestRecord, resource: WatchedResource, current: KubeObject[], matches: Predicate<KubeObject>): void {
    log.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const write = (type: string, object: KubeObject, line = `${JSON.stringify({ type, object })}\n`) => {
      const release = this.hold();
      res.write(line, () => release());
    };
    const deliver = (e: ChangeEvent) => {
      if (e.resource !== resource) return;
      const translated = translate(e, matches);
      if (translated) write(translated, e.object, serialized(e, translated));
    };
    const since = req.query.get('resourceVersion');
    const oldest = this.cluster.oldestWatchableRevision();
    if (since && since !== '0' && Number(since) < oldest) {
      // The watch cache no longer holds that revision: the real server answers
      // 200 and a single ERROR event with a 410 Expired Status, then ends the
      // stream; clients LIST again and watch from the new resourceVersion.
      write('ERROR', statusObject(410, 'Expired', `too old resource version: ${since} (${oldest})`) as unknown as KubeObject);
      res.end();
      this.requestHolds.get(res)?.();
      return;
    }
    if (!since || since === '0') current.forEach((o) => write('ADDED', o));
    else this.cluster.historySince(Number(since)).forEach(deliver);
    const unsubscribe = this.cluster.subscribe(deliver);
    const timeoutSeconds = Number(req.query.get('timeoutSeconds') ?? 1800);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      cancelTimeout();
      this.openWatches.delete(log);
      this.closeWatches.delete(close);
      res.end();
    };
    const cancelTimeout = this.clock.schedule(this.clock.now() + timeoutSeconds * 1000, close);
    this.openWatches.add(log);
    if (this.openWatches.size > this.peakWatches.count) {
      this.peakWatches = { count: this.openWatches.size, at: this.clock.now(), records: [...this.openWatches] };
    }
    this.closeWatches.add(close);
    res.once('close', close);
    // An open watch is idle, not busy: from now on only its writes hold the clock,
    // and (APF) it no longer occupies a seat once its initial events are sent.
    this.requestHolds.get(res)?.();
    this.seats.get(res)?.();
  }
}

/** The spec.nodeName=X term of a pod field selector, if any: the node index answers it. */
function nodeNameSelected(req: Request): string | undefined {
  const terms = (req.query.get('fieldSelector') ?? '').split(',').map((t) => t.trim());
  const term = terms.find((t) => /^spec\.nodeName==?[^=]/.test(t) && !t.includes('!='));
  return term === undefined ? undefined : term.replace(/^spec\.nodeName==?/, '');
}

/** One serialization of an event per type, shared by every watch that sends it (the watch cache does the same). */
const serializedEvents = new WeakMap<ChangeEvent, Map<string, string>>();
function serialized(e: ChangeEvent, type: string): string {
  let byType = serializedEvents.get(e);
  if (!byType) serializedEvents.set(e, (byType = new Map()));
  let line = byType.get(type);
  if (line === undefined) byType.set(type, (line = `${JSON.stringify({ type, object: e.object })}\n`));
  return line;
}

/** The resource, subresource, group and namespace of a request path, as RBAC names them. */
function rbacTarget(path: string): { resource: string; name?: string; group: string; namespace?: string } {
  const m = /^\/(?:api\/v1|apis\/(?<group>[^/]+)\/[^/]+)(?:\/namespaces\/(?<ns>[^/]+))?\/(?<resource>[^/]+)(?:\/(?<name>[^/]+)(?:\/(?<sub>[^/]+))?)?$/.exec(path);
  const g = m?.groups ?? {};
  return { resource: g.sub ? `${g.resource}/${g.sub}` : g.resource ?? path, name: g.name, group: g.group ?? '', namespace: g.ns };
}

/** The message of an RBAC denial (k8s.io/apiserver authorization: forbidden). */
function forbiddenMessage(req: Request, verb: string, user = 'arn:aws:sts::111122223333:assumed-role/drain/fn'): string {
  const t = rbacTarget(req.path);
  const subject = `${t.resource.split('/')[0]}${t.name ? ` "${t.name}"` : ''}`;
  return `${subject} is forbidden: User "${user}" cannot ${verb} resource "${t.resource}" in API group "${t.group}"${t.namespace ? ` in the namespace "${t.namespace}"` : ' at the cluster scope'}`;
}

function forbiddenDetails(req: Request): Record<string, unknown> {
  const t = rbacTarget(req.path);
  return { ...(t.name ? { name: t.name } : {}), kind: t.resource.split('/')[0], ...(t.group ? { group: t.group } : {}) };
}

function translate(e: ChangeEvent, matches: Predicate<KubeObject>): string | undefined {
  const now = matches(e.object);
  if (e.type !== 'MODIFIED') return now ? e.type : undefined;
  const before = e.previous ? matches(e.previous) : now;
  if (before && now) return 'MODIFIED';
  if (now) return 'ADDED';
  if (before) return 'DELETED';
  return undefined;
}

/** DeleteOptions from the query string and the body (client-node sends them in the body). */
function deleteOptions(query: URLSearchParams, body: any): { gracePeriodSeconds?: number; uid?: string } {
  const fromQuery = query.get('gracePeriodSeconds');
  const grace = body?.gracePeriodSeconds ?? (fromQuery !== null ? Number(fromQuery) : undefined);
  return { gracePeriodSeconds: grace, uid: body?.preconditions?.uid };
}

function parseContinue(token: string): { resourceVersion: number; after: string; snapshot: string } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof parsed.rv !== 'number' || typeof parsed.start !== 'string' || typeof parsed.s !== 'string') return undefined;
    return { resourceVersion: parsed.rv, after: parsed.start, snapshot: parsed.s };
  } catch {
    return undefined;
  }
}

function parseJson(text: string): any {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw KubeError.badRequest('the request body is not valid JSON');
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
