import {
  builtinPriorities, controllerOf, Ids, isHealthy, isMirrorPod, isReady, isTerminating, keyOf,
  KubeError, KubeObject, OwnerReference, rfc3339,
} from './objects';
import { matchesStructured, StructuredSelector } from './selectors';
import { SimClock } from '../virtual-clock';

/** The resources a client can watch. */
export type WatchedResource = 'pods' | 'poddisruptionbudgets' | 'nodes';

export interface ChangeEvent {
  resourceVersion: number;
  resource: WatchedResource;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  /** The object before a MODIFIED change, so a filtered watch can turn it into ADDED or DELETED. */
  previous?: KubeObject;
}

/** How a simulated pod behaves; not part of the Kubernetes object. */
interface PodBehaviour {
  /** Seconds from SIGTERM until the process exits; the pod is gone then, or when its grace ends. */
  shutdownSeconds?: number;
  /** Seconds from being scheduled until the Ready condition turns True. */
  readyAfterSeconds: number;
  cancelTimers: Array<() => void>;
  replaced: boolean;
}

/** A controller that owns pods: a ReplicaSet (of a Deployment), a DaemonSet or a Job. */
interface Workload {
  object: KubeObject;
  /** Pod template: labels and spec without nodeName. */
  podLabels: Record<string, string>;
  podSpec: Record<string, unknown>;
  shutdownSeconds?: number;
  readyAfterSeconds: number;
  /** Desired replicas of a ReplicaSet. */
  replicas?: number;
  /** Nodes a DaemonSet runs on. */
  nodes?: string[];
  /** Pod template annotations (karpenter.sh/do-not-disrupt…). */
  podAnnotations?: Record<string, string>;
  /** A Job's pods complete (phase Succeeded) this long after they start, unless stopped first. */
  runSeconds?: number;
}

export interface DeploymentSpec {
  namespace: string;
  name: string;
  replicas: number;
  /** All replicas on one node, or spread round-robin over `nodes`. */
  nodeName?: string;
  nodes?: string[];
  terminationGracePeriodSeconds?: number;
  shutdownSeconds?: number;
  /** @default 2 */
  readyAfterSeconds?: number;
  labels?: Record<string, string>;
  priorityClassName?: string;
  emptyDir?: boolean;
}

export interface PodSpecInput {
  namespace?: string;
  name: string;
  nodeName: string;
  labels?: Record<string, string>;
  terminationGracePeriodSeconds?: number;
  shutdownSeconds?: number;
  priorityClassName?: string;
  emptyDir?: boolean;
  annotations?: Record<string, string>;
}

/** A Job with one pod: its spec as the API server defaults it, and how long its pod runs. */
export interface JobPodInput extends PodSpecInput {
  /** Seconds from start until the pod completes by itself (phase Succeeded). @default runs until stopped */
  runSeconds?: number;
  /** @default 6 */
  backoffLimit?: number;
  /** @default Failed with a podFailurePolicy, else TerminatingOrFailed (the server's default since 1.29) */
  podReplacementPolicy?: 'Failed' | 'TerminatingOrFailed';
  podFailurePolicy?: { rules: Array<{ action: 'Ignore' | 'FailJob' | 'Count'; onPodConditions?: Array<{ type: string }> }> };
}

/** A partial pod object for `addPod`, plus how its process behaves. */
export type PodInput = { metadata: Partial<KubeObject['metadata']> & { name: string }; spec?: any; status?: any; shutdownSeconds?: number };

export interface PdbSpec {
  namespace: string;
  name: string;
  selector: StructuredSelector;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
}

const defaultGraceSeconds = 30;

/**
 * The state of a small EKS cluster and the controllers that act on it, all on
 * a SimClock: the ReplicaSet controller (replacements), the DaemonSet
 * controller, the kubelet (pods exit, mirror pods stay) and the disruption
 * controller (live PDB status). Every change gets the next value of one
 * global resourceVersion and is kept in a history that watches replay.
 */
export class FakeCluster {
  readonly history: ChangeEvent[] = [];
  private readonly listeners = new Set<(e: ChangeEvent) => void>();
  private resourceVersion = 1;
  private readonly ids = new Ids();
  private readonly nodes = new Map<string, KubeObject>();
  private readonly pods = new Map<string, KubeObject>();
  /**
   * Pod keys by spec.nodeName ('' while unscheduled) and by namespace, and by
   * uid: the indexes the API server's watch cache and the controllers keep,
   * so a cluster of 10,000 pods answers as fast as a small one.
   */
  private readonly podsOnNode = new Map<string, Set<string>>();
  private readonly podsInNamespace = new Map<string, Set<string>>();
  private readonly podKeyOfUid = new Map<string, string>();
  private readonly podBehaviour = new Map<string, PodBehaviour>();
  private readonly pdbs = new Map<string, KubeObject>();
  private readonly namespaces = new Map<string, KubeObject>();
  /** Deployments, ReplicaSets, DaemonSets and Jobs by `kind/namespace/name`. */
  private readonly workloadObjects = new Map<string, KubeObject>();
  /** Pod-owning controllers by uid. */
  private readonly workloads = new Map<string, Workload>();
  private nextIp = 10;

  /**
   * @param kubeletReportMs How long after a container stops (on its own, or
   *   killed at the end of its grace period) the kubelet deletes the pod object:
   *   its PLEG relists every second, then the status manager reports the
   *   terminal status and deletes the pod. 0 (the default) deletes it at once.
   */
  constructor(private readonly clock: SimClock, private readonly kubeletReportMs = 0) {}

  currentResourceVersion(): number {
    return this.resourceVersion;
  }

  /** The next resourceVersion, for objects kept outside this class (Leases): one counter, as etcd's revision. */
  nextResourceVersion(): number {
    return ++this.resourceVersion;
  }

  newUid(): string {
    return this.ids.uid();
  }

  /** Stores a CronJob or Job built by sim/kube/batch.ts, served by the batch/v1 routes. */
  addBatchObject(object: KubeObject): KubeObject {
    const { namespace = 'default', name } = object.metadata;
    const stored = this.addWorkloadObject(object.apiVersion, object.kind, namespace, name, { metadata: object.metadata, spec: object.spec, status: object.status });
    return clone(stored);
  }

  subscribe(listener: (e: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Cancels every pending simulated process and readiness timer. */
  stop(): void {
    for (const b of this.podBehaviour.values()) b.cancelTimers.splice(0).forEach((cancel) => cancel());
  }

  // ---- readers (copies: callers cannot change the cluster behind its back)

  listNodes(): KubeObject[] {
    return [...this.nodes.values()].map(clone);
  }

  getNode(name: string): KubeObject {
    const node = this.nodes.get(name);
    if (!node) throw KubeError.notFound('nodes', name);
    return clone(node);
  }

  listPods(namespace?: string): KubeObject[] {
    return this.rawPods({ namespace }).map(clone);
  }

  /**
   * The stored pods (not copies: the caller must not keep or change them) on
   * a node and/or in a namespace, from the indexes. For the server, which
   * serializes them at once.
   */
  rawPods(where: { namespace?: string; nodeName?: string } = {}): KubeObject[] {
    const keys = where.nodeName !== undefined ? this.podsOnNode.get(where.nodeName)
      : where.namespace !== undefined ? this.podsInNamespace.get(where.namespace) : undefined;
    if (where.nodeName === undefined && where.namespace === undefined) return [...this.pods.values()];
    const pods = [...(keys ?? [])].map((k) => this.pods.get(k)!);
    return where.nodeName !== undefined && where.namespace !== undefined ? pods.filter((p) => p.metadata.namespace === where.namespace) : pods;
  }

  /** The stored nodes and PDBs (not copies), for the server. */
  rawNodes(): KubeObject[] {
    return [...this.nodes.values()];
  }

  rawPdbs(namespace?: string): KubeObject[] {
    return [...this.pdbs.values()].filter((p) => !namespace || p.metadata.namespace === namespace);
  }

  /** The first event after `resourceVersion` in the history (binary search: it is in order). */
  historySince(resourceVersion: number): ChangeEvent[] {
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid].resourceVersion <= resourceVersion) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  getPod(namespace: string, name: string): KubeObject {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw KubeError.notFound('pods', name);
    return clone(pod);
  }

  listPdbs(namespace?: string): KubeObject[] {
    return [...this.pdbs.values()].filter((p) => !namespace || p.metadata.namespace === namespace).map(clone);
  }

  getPdb(namespace: string, name: string): KubeObject {
    const pdb = this.pdbs.get(`${namespace}/${name}`);
    if (!pdb) throw KubeError.notFound('poddisruptionbudgets', name, 'policy');
    return clone(pdb);
  }

  listNamespaces(): KubeObject[] {
    return [...this.namespaces.values()].map(clone);
  }

  getNamespace(name: string): KubeObject {
    const ns = this.namespaces.get(name);
    if (!ns) throw KubeError.notFound('namespaces', name);
    return clone(ns);
  }

  /** `kind` is the Kubernetes kind: Deployment, ReplicaSet, DaemonSet or Job. */
  getWorkload(kind: string, namespace: string, name: string, resource: string, group: string): KubeObject {
    const object = this.workloadObjects.get(`${kind}/${namespace}/${name}`);
    if (!object) throw KubeError.notFound(resource, name, group);
    return clone(object);
  }

  listWorkloads(kind: string, namespace?: string): KubeObject[] {
    return [...this.workloadObjects.values()]
      .filter((o) => o.kind === kind && (!namespace || o.metadata.namespace === namespace))
      .map(clone);
  }

  // ---- builders

  addNode(spec: { name: string; instanceId: string; az?: string; unschedulable?: boolean }): KubeObject {
    const az = spec.az ?? 'us-east-1a';
    const ip = this.allocateIp();
    const node: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        ...this.newMetadata(spec.name),
        labels: {
          'kubernetes.io/hostname': spec.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'node.kubernetes.io/instance-type': 'm5.large',
          'topology.kubernetes.io/region': az.slice(0, -1),
          'topology.kubernetes.io/zone': az,
        },
      },
      spec: { providerID: `aws:///${az}/${spec.instanceId}`, ...(spec.unschedulable ? { unschedulable: true } : {}) },
      status: {
        addresses: [
          { type: 'InternalIP', address: ip },
          { type: 'InternalDNS', address: spec.name },
          { type: 'Hostname', address: spec.name },
        ],
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: this.timestamp(), lastTransitionTime: this.timestamp() }],
        nodeInfo: { kubeletVersion: 'v1.31.4-eks-0f56d01', osImage: 'Amazon Linux 2023', containerRuntimeVersion: 'containerd://1.7.25', kernelVersion: '6.1.0', operatingSystem: 'linux', architecture: 'amd64' },
        capacity: { cpu: '2', memory: '7902360Ki', pods: '29' },
        allocatable: { cpu: '1930m', memory: '7213208Ki', pods: '29' },
      },
    };
    this.syncUnschedulableTaint(node);
    this.commit('nodes', 'ADDED', this.nodes, node);
    this.schedulePendingPods();
    return clone(node);
  }

  addDeployment(spec: DeploymentSpec): KubeObject[] {
    const labels = spec.labels ?? { app: spec.name };
    const deployment = this.addWorkloadObject('apps/v1', 'Deployment', spec.namespace, spec.name, {
      spec: { replicas: spec.replicas, selector: { matchLabels: labels }, template: { metadata: { labels } } },
      status: { replicas: spec.replicas, readyReplicas: spec.replicas, availableReplicas: spec.replicas },
    });
    const hash = this.ids.hash();
    const rs = this.addWorkloadObject('apps/v1', 'ReplicaSet', spec.namespace, `${spec.name}-${hash}`, {
      metadata: { labels: { ...labels, 'pod-template-hash': hash }, ownerReferences: [ownerRef(deployment)] },
      spec: { replicas: spec.replicas, selector: { matchLabels: { ...labels, 'pod-template-hash': hash } } },
      status: { replicas: spec.replicas, readyReplicas: spec.replicas },
    });
    const workload = this.registerWorkload(rs, { ...labels, 'pod-template-hash': hash }, spec, { replicas: spec.replicas });
    const nodes = spec.nodes ?? (spec.nodeName ? [spec.nodeName] : []);
    if (nodes.length === 0) throw new Error(`addDeployment ${spec.name}: give nodeName or nodes`);
    return Array.from({ length: spec.replicas }, (_, i) => this.createWorkloadPod(workload, nodes[i % nodes.length], true));
  }

  addDaemonSet(spec: { namespace: string; name: string; nodes: string[]; labels?: Record<string, string>; terminationGracePeriodSeconds?: number; shutdownSeconds?: number }): KubeObject[] {
    const labels = spec.labels ?? { app: spec.name };
    const ds = this.addWorkloadObject('apps/v1', 'DaemonSet', spec.namespace, spec.name, {
      spec: { selector: { matchLabels: labels }, template: { metadata: { labels } } },
      status: { desiredNumberScheduled: spec.nodes.length, currentNumberScheduled: spec.nodes.length, numberReady: spec.nodes.length, numberMisscheduled: 0 },
    });
    const workload = this.registerWorkload(ds, labels, spec, { nodes: spec.nodes });
    // The DaemonSet controller tolerates the cordon taint, so its pods survive a drain.
    workload.podSpec.tolerations = [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }];
    return spec.nodes.map((node) => this.createWorkloadPod(workload, node, true));
  }

  /**
   * A pod of a Job (a CronJob run, say), and the Job controller's answer when
   * it goes (see replaceJobPod): a replacement while it terminates, after it
   * stopped, or none.
   */
  addJobPod(spec: JobPodInput): KubeObject {
    const podReplacementPolicy = spec.podReplacementPolicy ?? (spec.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed');
    const job = this.addWorkloadObject('batch/v1', 'Job', spec.namespace ?? 'default', spec.name, {
      spec: {
        completions: 1, parallelism: 1, backoffLimit: spec.backoffLimit ?? 6, podReplacementPolicy,
        ...(spec.podFailurePolicy ? { podFailurePolicy: spec.podFailurePolicy } : {}),
      },
      status: { active: 1 },
    });
    const labels = { 'job-name': spec.name, ...(spec.labels ?? {}) };
    const workload = this.registerWorkload(job, labels, spec, {});
    workload.podSpec.restartPolicy = 'Never';
    workload.podAnnotations = spec.annotations;
    workload.runSeconds = spec.runSeconds;
    return this.createWorkloadPod(workload, spec.nodeName, true);
  }

  /** A pod without a controller: kubectl drain refuses it without --force. */
  addStandalonePod(spec: PodSpecInput): KubeObject {
    return this.addPod({
      metadata: { name: spec.name, namespace: spec.namespace ?? 'default', labels: spec.labels ?? {} },
      spec: { nodeName: spec.nodeName, ...podSpecOf(spec) },
      shutdownSeconds: spec.shutdownSeconds,
    });
  }

  /** A static pod's mirror: the kubelet owns it and recreates it whatever the API server is told. */
  addMirrorPod(spec: { nodeName: string; name: string; namespace?: string }): KubeObject {
    const node = this.nodes.get(spec.nodeName);
    if (!node) throw new Error(`addMirrorPod: no node ${spec.nodeName}`);
    return this.addPod({
      metadata: {
        name: spec.name,
        namespace: spec.namespace ?? 'kube-system',
        annotations: { 'kubernetes.io/config.mirror': this.ids.hash(), 'kubernetes.io/config.source': 'file' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.metadata.name, uid: node.metadata.uid, controller: true }],
      },
      spec: { nodeName: spec.nodeName, priorityClassName: 'system-node-critical', priority: builtinPriorities['system-node-critical'] },
    });
  }

  /** Any pod; fields not given get the defaults of a running, ready pod. */
  addPod(input: PodInput): KubeObject {
    const namespace = input.metadata.namespace ?? 'default';
    this.ensureNamespace(namespace);
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...this.newMetadata(input.metadata.name, namespace), ...input.metadata, namespace } as KubeObject['metadata'],
      spec: { containers: [{ name: 'main', image: 'public.ecr.aws/docker/library/busybox:1.36' }], terminationGracePeriodSeconds: defaultGraceSeconds, restartPolicy: 'Always', ...(input.spec ?? {}) },
      status: input.status,
    };
    if (this.pods.has(keyOf(pod))) throw new Error(`pod ${keyOf(pod)} already exists`);
    this.podBehaviour.set(pod.metadata.uid, { shutdownSeconds: input.shutdownSeconds, readyAfterSeconds: 0, cancelTimers: [], replaced: false });
    pod.status ??= pod.spec.nodeName ? this.runningStatus(pod.spec.nodeName, true) : pendingStatus();
    this.commit('pods', 'ADDED', this.pods, pod);
    return clone(pod);
  }

  addPdb(spec: PdbSpec): KubeObject {
    this.ensureNamespace(spec.namespace);
    const pdb: KubeObject = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { ...this.newMetadata(spec.name, spec.namespace), generation: 1 },
      spec: {
        selector: spec.selector,
        ...(spec.minAvailable !== undefined ? { minAvailable: spec.minAvailable } : {}),
        ...(spec.maxUnavailable !== undefined ? { maxUnavailable: spec.maxUnavailable } : {}),
      },
    };
    pdb.status = this.pdbStatus(pdb);
    this.commit('poddisruptionbudgets', 'ADDED', this.pdbs, pdb);
    return clone(pdb);
  }

  /** The namespace controller is deleting it: creates (evictions included) are refused with 403. */
  setNamespaceTerminating(name: string): void {
    this.ensureNamespace(name);
    const ns = clone(this.namespaces.get(name)!);
    ns.metadata.deletionTimestamp = this.timestamp();
    ns.status = { phase: 'Terminating' };
    this.namespaces.set(name, ns);
  }

  // ---- API operations

  /** Replaces a node after a PATCH; the resourceVersion in the patched object is a precondition. */
  replaceNode(name: string, patched: KubeObject): KubeObject {
    const current = this.nodes.get(name);
    if (!current) throw KubeError.notFound('nodes', name);
    if (patched.metadata?.resourceVersion !== current.metadata.resourceVersion) {
      throw new KubeError(409, 'Conflict', `Operation cannot be fulfilled on nodes "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: 'nodes' });
    }
    const node = { ...patched, metadata: { ...patched.metadata, name, uid: current.metadata.uid } };
    this.syncUnschedulableTaint(node);
    this.commit('nodes', 'MODIFIED', this.nodes, node, current);
    this.schedulePendingPods();
    return clone(node);
  }

  /**
   * DELETE of a pod. `gracePeriodSeconds` undefined means the pod's own;
   * 0 removes it at once. Returns the pod as the server answers it.
   */
  deletePod(namespace: string, name: string, opts: { gracePeriodSeconds?: number; uid?: string }): KubeObject {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw KubeError.notFound('pods', name);
    if (opts.uid !== undefined && opts.uid !== pod.metadata.uid) {
      throw new KubeError(409, 'Conflict', `Operation cannot be fulfilled on Pod "${name}": Precondition failed: UID in precondition: ${opts.uid}, UID in object meta: ${pod.metadata.uid}`, { name, kind: 'Pod' });
    }
    return this.terminate(pod, opts.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? defaultGraceSeconds);
  }

  /**
   * The eviction subresource, in the order the API server checks
   * (pkg/registry/core/pod/storage/eviction.go, after the NamespaceLifecycle
   * admission plugin).
   */
  evict(namespace: string, name: string, opts: { gracePeriodSeconds?: number; uid?: string }): void {
    if (this.namespaces.get(namespace)?.status?.phase === 'Terminating') {
      throw new KubeError(403, 'Forbidden', `pods "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, {
        name, kind: 'pods', causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
      });
    }
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw KubeError.notFound('pods', name);
    if (opts.uid !== undefined && opts.uid !== pod.metadata.uid) {
      throw new KubeError(409, 'Conflict', `Operation cannot be fulfilled on Pod "${name}": Precondition failed: UID in precondition: ${opts.uid}, UID in object meta: ${pod.metadata.uid}`, { name, kind: 'Pod' });
    }
    const grace = opts.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? defaultGraceSeconds;
    // A pod that is already terminating, or not running, cannot make a budget worse.
    if (isTerminating(pod) || pod.status?.phase !== 'Running') {
      this.terminate(pod, grace);
      return;
    }
    const pdbs = this.rawPdbs(namespace).filter((p) => matchesStructured(p.spec.selector, pod.metadata.labels ?? {}));
    if (pdbs.length > 1) {
      throw new KubeError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    }
    const [pdb] = pdbs;
    // unhealthyPodEvictionPolicy IfHealthyBudget (the default): a pod that is not
    // Ready may go while the budget is met, since it does not count as healthy.
    const unhealthyWithinBudget = pdb && !isReady(pod) && pdb.status.desiredHealthy > 0 && pdb.status.currentHealthy >= pdb.status.desiredHealthy;
    if (pdb && !unhealthyWithinBudget && pdb.status.disruptionsAllowed <= 0) {
      throw new KubeError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
        causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name} needs ${pdb.status.desiredHealthy} healthy pods and has ${pdb.status.currentHealthy} currently` }],
      });
    }
    this.terminate(pod, grace);
  }

  // ---- the simulated controllers and kubelet

  private terminate(pod: KubeObject, graceSeconds: number): KubeObject {
    // The kubelet recreates a mirror pod from its static manifest at once.
    if (isMirrorPod(pod)) return clone(pod);
    if (graceSeconds <= 0) return this.removePod(pod);
    const behaviour = this.podBehaviour.get(pod.metadata.uid)!;
    const deadline = this.clock.now() + graceSeconds * 1000;
    const currentDeadline = pod.metadata.deletionTimestamp ? Date.parse(pod.metadata.deletionTimestamp) : Infinity;
    // A second delete may only shorten the grace period, as on the real server.
    if (deadline >= currentDeadline) return clone(pod);
    behaviour.cancelTimers.splice(0).forEach((cancel) => cancel());
    const next = clone(pod);
    next.metadata.deletionTimestamp = rfc3339(deadline);
    next.metadata.deletionGracePeriodSeconds = graceSeconds;
    this.commit('pods', 'MODIFIED', this.pods, next, pod);
    const shutdown = Math.min(graceSeconds, behaviour.shutdownSeconds ?? Math.min(graceSeconds, 1));
    const exitAt = Math.min(deadline, this.clock.now() + shutdown * 1000) + this.kubeletReportMs;
    behaviour.cancelTimers.push(this.clock.schedule(exitAt, () => this.removePodIfPresent(next.metadata.uid)));
    this.replaceIfOwned(next);
    return clone(next);
  }

  private removePodIfPresent(uid: string): void {
    const key = this.podKeyOfUid.get(uid);
    const pod = key === undefined ? undefined : this.pods.get(key);
    if (pod && pod.metadata.uid === uid) this.removePod(pod);
  }

  private removePod(pod: KubeObject): KubeObject {
    const behaviour = this.podBehaviour.get(pod.metadata.uid);
    behaviour?.cancelTimers.splice(0).forEach((cancel) => cancel());
    this.pods.delete(keyOf(pod));
    this.indexPod(pod, undefined);
    this.podBehaviour.delete(pod.metadata.uid);
    this.recordChange('pods', 'DELETED', pod);
    this.replaceIfOwned(pod, behaviour);
    return clone(pod);
  }

  /**
   * ReplicaSets replace a pod as soon as it starts terminating (terminating
   * pods do not count as active); DaemonSets only once it is gone, on the same node.
   */
  private replaceIfOwned(pod: KubeObject, behaviour = this.podBehaviour.get(pod.metadata.uid)): void {
    const owner = controllerOf(pod);
    const workload = owner && this.workloads.get(owner.uid);
    if (!workload || !behaviour || behaviour.replaced) return;
    const nodeName: string | undefined = pod.spec.nodeName;
    if (owner.kind === 'ReplicaSet') {
      behaviour.replaced = true;
      this.createWorkloadPod(workload, this.pickNode(nodeName), false);
    } else if (owner.kind === 'DaemonSet' && !this.pods.has(keyOf(pod)) && nodeName && workload.nodes?.includes(nodeName)) {
      behaviour.replaced = true;
      this.createWorkloadPod(workload, nodeName, false);
    } else if (owner.kind === 'Job') {
      this.replaceJobPod(pod, workload, behaviour);
    }
  }

  /**
   * The Job controller (pkg/controller/job, isPodFailed): unless the Job's
   * podReplacementPolicy is Failed (or it has a podFailurePolicy), a
   * terminating pod counts as failed at once, and the replacement starts while
   * it still runs; with Failed, only once the pod is gone. A failure past
   * backoffLimit fails the Job instead. A podFailurePolicy rule on
   * DisruptionTarget decides for a pod that was deleted or evicted here:
   * Ignore (not counted, replaced), FailJob (the Job fails).
   */
  private replaceJobPod(pod: KubeObject, workload: Workload, behaviour: PodBehaviour): void {
    const spec = workload.object.spec;
    const status = workload.object.status;
    const onlyFailed = spec.podReplacementPolicy === 'Failed' || spec.podFailurePolicy !== undefined;
    if (pod.status?.phase === 'Succeeded') return;
    if (onlyFailed && this.pods.has(keyOf(pod))) return;
    behaviour.replaced = true;
    const rule = (spec.podFailurePolicy?.rules ?? []).find((r: { onPodConditions?: Array<{ type: string }> }) =>
      (r.onPodConditions ?? []).some((c) => c.type === 'DisruptionTarget'));
    const fail = () => {
      status.active = 0;
      status.conditions = [{ type: 'Failed', status: 'True', reason: rule?.action === 'FailJob' ? 'PodFailurePolicy' : 'BackoffLimitExceeded' }];
    };
    if (rule?.action === 'FailJob') return fail();
    if (rule?.action !== 'Ignore') status.failed = (status.failed ?? 0) + 1;
    if ((status.failed ?? 0) > spec.backoffLimit) return fail();
    this.createWorkloadPod(workload, this.pickNode(pod.spec.nodeName), false);
  }

  /** A Job's pod whose work is done: its container exited 0, the pod stays with phase Succeeded. */
  private completeJobPod(uid: string): void {
    const pod = [...this.pods.values()].find((p) => p.metadata.uid === uid);
    if (!pod || isTerminating(pod)) return;
    const next = clone(pod);
    const finishedAt = this.timestamp();
    next.status = {
      ...next.status,
      phase: 'Succeeded',
      conditions: (next.status.conditions ?? []).map((c: { type: string }) => (c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason: 'PodCompleted' } : c)),
      containerStatuses: (next.status.containerStatuses ?? []).map((c: Record<string, unknown>) => ({ ...c, ready: false, started: false, state: { terminated: { exitCode: 0, reason: 'Completed', finishedAt } } })),
    };
    this.commit('pods', 'MODIFIED', this.pods, next, pod);
    const owner = controllerOf(pod);
    const job = owner && this.workloads.get(owner.uid)?.object;
    if (job) job.status = { ...job.status, active: 0, succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
  }

  /** The scheduler, reduced: a schedulable node, another than `avoid` when there is one, with the fewest pods. */
  private pickNode(avoid?: string): string | undefined {
    const candidates = [...this.nodes.values()].filter((n) => !n.spec.unschedulable).map((n) => n.metadata.name);
    const preferred = candidates.filter((n) => n !== avoid);
    const pool = preferred.length > 0 ? preferred : candidates;
    const load = (node: string) => this.podsOnNode.get(node)?.size ?? 0;
    return pool.sort((a, b) => load(a) - load(b))[0];
  }

  private schedulePendingPods(): void {
    for (const pod of this.rawPods({ nodeName: '' })) {
      if (pod.spec.nodeName || isTerminating(pod)) continue;
      const nodeName = this.pickNode();
      if (!nodeName) return;
      const next = clone(pod);
      next.spec.nodeName = nodeName;
      next.status = this.runningStatus(nodeName, false);
      this.commit('pods', 'MODIFIED', this.pods, next, pod);
      this.scheduleReadiness(next);
    }
  }

  private createWorkloadPod(workload: Workload, nodeName: string | undefined, readyNow: boolean): KubeObject {
    const { namespace, name } = workload.object.metadata;
    const podName = `${name}-${this.ids.suffix()}`;
    const pod = this.addPod({
      metadata: {
        name: podName, namespace, labels: { ...workload.podLabels },
        ...(workload.podAnnotations ? { annotations: { ...workload.podAnnotations } } : {}),
        ownerReferences: [ownerRef(workload.object)],
      },
      spec: { ...clone(workload.podSpec), ...(nodeName ? { nodeName } : {}) },
      status: nodeName ? this.runningStatus(nodeName, readyNow) : pendingStatus(),
      shutdownSeconds: workload.shutdownSeconds,
    });
    this.podBehaviour.get(pod.metadata.uid)!.readyAfterSeconds = workload.readyAfterSeconds;
    if (nodeName && !readyNow) this.scheduleReadiness(pod);
    if (nodeName && workload.runSeconds !== undefined) {
      const uid = pod.metadata.uid;
      this.podBehaviour.get(uid)!.cancelTimers.push(this.clock.schedule(this.clock.now() + workload.runSeconds * 1000, () => this.completeJobPod(uid)));
    }
    return pod;
  }

  private scheduleReadiness(pod: KubeObject): void {
    const behaviour = this.podBehaviour.get(pod.metadata.uid);
    if (!behaviour) return;
    const key = keyOf(pod);
    behaviour.cancelTimers.push(this.clock.schedule(this.clock.now() + behaviour.readyAfterSeconds * 1000, () => {
      const current = this.pods.get(key);
      if (!current || current.metadata.uid !== pod.metadata.uid || isTerminating(current) || isReady(current)) return;
      const next = clone(current);
      next.status = this.runningStatus(current.spec.nodeName, true, current.status.startTime);
      this.commit('pods', 'MODIFIED', this.pods, next, current);
    }));
  }

  /**
   * Recomputes the PDBs' status as the disruption controller would, announcing
   * the changed ones: those of `namespace` after a pod of it changed (a PDB
   * selects pods of its own namespace only), all of them otherwise.
   */
  private refreshPdbs(namespace?: string): void {
    for (const pdb of this.rawPdbs(namespace)) {
      const status = this.pdbStatus(pdb);
      if (JSON.stringify(status) === JSON.stringify(pdb.status)) continue;
      this.commit('poddisruptionbudgets', 'MODIFIED', this.pdbs, { ...clone(pdb), status }, pdb);
    }
  }

  private pdbStatus(pdb: KubeObject) {
    const pods = this.rawPods({ namespace: pdb.metadata.namespace }).filter((p) => matchesStructured(pdb.spec.selector, p.metadata.labels ?? {}));
    const { minAvailable, maxUnavailable } = pdb.spec;
    // As getExpectedPodCount: an integer minAvailable counts the pods, anything else the controllers' scale.
    const expectedPods = typeof minAvailable === 'number' ? pods.length : this.expectedScale(pods);
    const currentHealthy = pods.filter(isHealthy).length;
    const desiredHealthy = minAvailable !== undefined
      ? scaled(minAvailable, expectedPods)
      : Math.max(0, expectedPods - scaled(maxUnavailable ?? 0, expectedPods));
    const disruptionsAllowed = Math.max(0, currentHealthy - desiredHealthy);
    return {
      observedGeneration: 1,
      disruptionsAllowed,
      currentHealthy,
      desiredHealthy,
      expectedPods,
      conditions: [{
        type: 'DisruptionAllowed',
        status: disruptionsAllowed > 0 ? 'True' : 'False',
        reason: disruptionsAllowed > 0 ? 'SufficientPods' : 'InsufficientPods',
        message: '',
        observedGeneration: 1,
        lastTransitionTime: pdb.metadata.creationTimestamp,
      }],
    };
  }

  /** Desired replicas of each distinct controller of `pods`; a pod without a known controller counts as one. */
  private expectedScale(pods: KubeObject[]): number {
    const controllers = new Set<string>();
    let count = 0;
    for (const pod of pods) {
      const owner = controllerOf(pod);
      const workload = owner && this.workloads.get(owner.uid);
      if (!workload) count++;
      else if (!controllers.has(owner.uid)) {
        controllers.add(owner.uid);
        count += workload.replicas ?? workload.nodes?.length ?? 1;
      }
    }
    return count;
  }

  // ---- plumbing

  private commit(resource: WatchedResource, type: ChangeEvent['type'], store: Map<string, KubeObject>, object: KubeObject, previous?: KubeObject): void {
    object.metadata.resourceVersion = String(++this.resourceVersion);
    const before = store.get(keyOf(object));
    store.set(keyOf(object), object);
    if (resource === 'pods') this.indexPod(before, object);
    this.publish({ resourceVersion: this.resourceVersion, resource, type, object: clone(object), previous: previous && clone(previous) });
    if (resource === 'pods') this.refreshPdbs(object.metadata.namespace);
  }

  /** Keeps the pod indexes in step with the store: `before` leaves, `after` enters. */
  private indexPod(before: KubeObject | undefined, after: KubeObject | undefined): void {
    const move = (index: Map<string, Set<string>>, from: string | undefined, to: string | undefined, key: string) => {
      if (from === to) return;
      if (from !== undefined) index.get(from)?.delete(key);
      if (to !== undefined) {
        if (!index.has(to)) index.set(to, new Set());
        index.get(to)!.add(key);
      }
    };
    const key = keyOf((after ?? before)!);
    move(this.podsOnNode, before && (before.spec.nodeName ?? ''), after && (after.spec.nodeName ?? ''), key);
    move(this.podsInNamespace, before?.metadata.namespace, after?.metadata.namespace, key);
    if (before) this.podKeyOfUid.delete(before.metadata.uid);
    if (after) this.podKeyOfUid.set(after.metadata.uid, key);
  }

  /** A deletion: the final object carries a new resourceVersion, as on the real server. */
  private recordChange(resource: WatchedResource, type: 'DELETED', object: KubeObject): void {
    const final = clone(object);
    final.metadata.resourceVersion = String(++this.resourceVersion);
    this.publish({ resourceVersion: this.resourceVersion, resource, type, object: final });
    if (resource === 'pods') this.refreshPdbs(object.metadata.namespace);
  }

  private publish(event: ChangeEvent): void {
    this.history.push(event);
    for (const listener of this.listeners) listener(event);
  }

  private addWorkloadObject(apiVersion: string, kind: string, namespace: string, name: string, body: { metadata?: Partial<KubeObject['metadata']>; spec: unknown; status: unknown }): KubeObject {
    this.ensureNamespace(namespace);
    const object: KubeObject = {
      apiVersion,
      kind,
      metadata: { ...this.newMetadata(name, namespace), generation: 1, ...(body.metadata ?? {}) },
      spec: body.spec,
      status: body.status,
    };
    object.metadata.resourceVersion = String(++this.resourceVersion);
    this.workloadObjects.set(`${kind}/${namespace}/${name}`, object);
    return object;
  }

  private registerWorkload(object: KubeObject, podLabels: Record<string, string>, spec: Partial<DeploymentSpec>, scale: { replicas?: number; nodes?: string[] }): Workload {
    const workload: Workload = {
      object,
      podLabels,
      podSpec: podSpecOf(spec),
      shutdownSeconds: spec.shutdownSeconds,
      readyAfterSeconds: spec.readyAfterSeconds ?? 2,
      ...scale,
    };
    this.workloads.set(object.metadata.uid, workload);
    return workload;
  }

  private ensureNamespace(name: string): void {
    if (this.namespaces.has(name)) return;
    this.namespaces.set(name, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { ...this.newMetadata(name), labels: { 'kubernetes.io/metadata.name': name }, resourceVersion: String(++this.resourceVersion) },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  /** Cordoning makes the node lifecycle controller add this taint; uncordoning removes it. */
  private syncUnschedulableTaint(node: KubeObject): void {
    const key = 'node.kubernetes.io/unschedulable';
    const others = (node.spec.taints ?? []).filter((t: { key: string }) => t.key !== key);
    const existing = (node.spec.taints ?? []).find((t: { key: string }) => t.key === key);
    const taints = node.spec.unschedulable ? [...others, existing ?? { key, effect: 'NoSchedule', timeAdded: this.timestamp() }] : others;
    if (taints.length > 0) node.spec.taints = taints;
    else delete node.spec.taints;
  }

  private runningStatus(nodeName: string, ready: boolean, startTime = this.timestamp()) {
    const node = this.nodes.get(nodeName);
    const hostIP = node?.status.addresses.find((a: { type: string }) => a.type === 'InternalIP')?.address;
    const condition = (type: string, status: boolean) => ({ type, status: status ? 'True' : 'False', lastTransitionTime: this.timestamp() });
    return {
      phase: 'Running',
      conditions: [condition('PodScheduled', true), condition('Initialized', true), condition('ContainersReady', ready), condition('Ready', ready)],
      hostIP,
      podIP: this.allocateIp(),
      startTime,
      containerStatuses: [{ name: 'main', ready, started: true, restartCount: 0, image: 'public.ecr.aws/docker/library/busybox:1.36', imageID: '', state: { running: { startedAt: startTime } } }],
    };
  }

  private newMetadata(name: string, namespace?: string): KubeObject['metadata'] {
    return { name, ...(namespace ? { namespace } : {}), uid: this.ids.uid(), creationTimestamp: this.timestamp() };
  }

  private timestamp(): string {
    return rfc3339(this.clock.now());
  }

  private allocateIp(): string {
    const n = this.nextIp++;
    return `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  }
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function ownerRef(owner: KubeObject): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

function pendingStatus() {
  return { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/0 nodes are available: no schedulable node.' }] };
}

function podSpecOf(spec: Partial<DeploymentSpec>): Record<string, unknown> {
  return {
    containers: [{ name: 'main', image: 'public.ecr.aws/docker/library/busybox:1.36' }],
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? defaultGraceSeconds,
    restartPolicy: 'Always',
    ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName, priority: builtinPriorities[spec.priorityClassName] ?? 0 } : {}),
    ...(spec.emptyDir ? { volumes: [{ name: 'scratch', emptyDir: {} }] } : {}),
  };
}

/** An IntOrString of a PDB against `total`; percentages round up, as the disruption controller does. */
function scaled(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  const percent = Number(value.replace('%', ''));
  return Math.ceil((percent * total) / 100);
}
