import { createHash } from 'node:crypto';
import {
  builtinPriorities, controllerOf, Ids, isHealthy, isMirrorPod, isReady, isTerminating, keyOf,
  KubeError, KubeObject, OwnerReference, rfc3339,
} from './objects';
import { matchesStructured, StructuredSelector } from './selectors';
import { SimClock } from '../virtual-clock';

/** The resources a client can watch. */
export type WatchedResource = 'pods' | 'poddisruptionbudgets' | 'nodes' | 'volumeattachments';

/** A pod toleration (core/v1). */
export interface Toleration { key?: string; operator?: string; value?: string; effect?: string; tolerationSeconds?: number }
interface Taint { key: string; value?: string; effect: string }

/** k8s.io/api/core/v1 toleration.go ToleratesTaint. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  const operator = t.operator || 'Equal';
  return operator === 'Exists' || (operator === 'Equal' && (t.value ?? '') === (taint.value ?? ''));
}

/** The scheduler's TaintToleration filter and the DaemonSet controller: every NoSchedule and NoExecute taint tolerated. */
export const toleratesNodeTaints = (tolerations: Toleration[], node: KubeObject): boolean =>
  (node.spec.taints ?? [])
    .filter((taint: Taint) => taint.effect === 'NoSchedule' || taint.effect === 'NoExecute')
    .every((taint: Taint) => tolerations.some((t) => toleratesTaint(t, taint)));

/**
 * What the DaemonSet controller adds to every pod it creates
 * (pkg/controller/daemon/util AddOrUpdateDaemonPodTolerations): it ignores
 * spec.unschedulable, and survives the usual node conditions.
 */
export const daemonSetTolerations: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

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
  /** When the process exits (or is killed), once it got SIGTERM. */
  exitAt?: number;
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
  persistentVolume?: boolean;
  /** Pod template annotations (karpenter.sh/do-not-disrupt…). */
  podAnnotations?: Record<string, string>;
  /** A Job's pods complete (phase Succeeded) this long after they start, unless stopped first. */
  runSeconds?: number;
  /** The Job controller's backoff record: failures since the last success (the last one is now, when a replacement is due). */
  failuresAfterLastSuccess?: number;
}

/** pkg/controller/job: DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff. */
const JOB_BACKOFF_MS = 10_000;
const JOB_BACKOFF_MAX_MS = 360_000;

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
  tolerations?: Toleration[];
  /** Each pod gets its own PersistentVolumeClaim, bound to a CSI volume attached to its node (an EBS volume, say). */
  persistentVolume?: boolean;
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
  tolerations?: Toleration[];
  persistentVolume?: boolean;
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
export type PodInput = { metadata: Partial<KubeObject['metadata']> & { name: string }; spec?: any; status?: any; shutdownSeconds?: number; persistentVolume?: boolean };

export interface PdbSpec {
  namespace: string;
  name: string;
  selector: StructuredSelector;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow';
}

export interface FakeClusterOptions {
  /**
   * Seconds from a pod's removal until the attach/detach controller and the
   * CSI driver have detached its volumes and the VolumeAttachment is gone.
   * @default 10
   */
  volumeDetachSeconds?: number;
  /**
   * Seconds the disruption controller takes to process a PDB spec change:
   * until then status.observedGeneration lags metadata.generation. @default 2
   */
  pdbObserveSeconds?: number;
  /**
   * Milliseconds from a container stopping (on its own, or killed at the end
   * of its grace period) until the kubelet deletes the pod object: its PLEG
   * relists every second, then the status manager reports the terminal status
   * and deletes the pod. @default 0 (at once)
   */
  kubeletReportMs?: number;
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
  private readonly volumeAttachments = new Map<string, KubeObject>();
  private readonly claims = new Map<string, KubeObject>();
  /** PDBs whose spec changed and that the disruption controller has not processed yet. */
  private readonly unobservedPdbs = new Set<string>();
  private nextIp = 10;
  private readonly volumeDetachSeconds: number;
  private readonly pdbObserveSeconds: number;
  private readonly kubeletReportMs: number;
  /** Changes at or before this resourceVersion are compacted: a watch from there gets 410 Gone. */
  private compactedRevision = 0;

  constructor(private readonly clock: SimClock, options: FakeClusterOptions = {}) {
    this.volumeDetachSeconds = options.volumeDetachSeconds ?? 10;
    this.pdbObserveSeconds = options.pdbObserveSeconds ?? 2;
    this.kubeletReportMs = options.kubeletReportMs ?? 0;
  }

  /** The oldest resourceVersion a watch may start from. */
  oldestWatchableRevision(): number {
    return this.compactedRevision;
  }

  /**
   * etcd compaction (kube-apiserver compacts every 5 minutes by default) and
   * the watch cache's limited window: changes up to `revision` are forgotten,
   * so a watch or a paged LIST that starts before it gets 410 Gone.
   * @param revision @default the current resourceVersion
   */
  compact(revision = this.resourceVersion): void {
    this.compactedRevision = Math.max(this.compactedRevision, revision);
    const keep = this.history.filter((e) => e.resourceVersion > this.compactedRevision);
    this.history.splice(0, this.history.length, ...keep);
  }

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

  listVolumeAttachments(): KubeObject[] {
    return [...this.volumeAttachments.values()].map(clone);
  }

  getVolumeAttachment(name: string): KubeObject {
    const va = this.volumeAttachments.get(name);
    if (!va) throw KubeError.notFound('volumeattachments', name, 'storage.k8s.io');
    return clone(va);
  }

  listClaims(namespace?: string): KubeObject[] {
    return [...this.claims.values()].filter((c) => !namespace || c.metadata.namespace === namespace).map(clone);
  }

  getClaim(namespace: string, name: string): KubeObject {
    const claim = this.claims.get(`${namespace}/${name}`);
    if (!claim) throw KubeError.notFound('persistentvolumeclaims', name);
    return clone(claim);
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

  /** `taints`: beyond the unschedulable one, which follows spec.unschedulable. */
  addNode(spec: { name: string; instanceId: string; az?: string; unschedulable?: boolean; taints?: Array<{ key: string; value?: string; effect: string }> }): KubeObject {
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
      spec: { providerID: `aws:///${az}/${spec.instanceId}`, ...(spec.unschedulable ? { unschedulable: true } : {}), ...(spec.taints?.length ? { taints: spec.taints } : {}) },
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

  /**
   * `tolerations`: the template's own (aws-node and kube-proxy carry
   * `[{operator: Exists}]`); the controller adds its usual ones, the cordon's
   * included, so a pod comes back on a drained node only if it tolerates the
   * drain's own taint.
   */
  addDaemonSet(spec: { namespace: string; name: string; nodes: string[]; labels?: Record<string, string>; terminationGracePeriodSeconds?: number; shutdownSeconds?: number; tolerations?: Toleration[]; priorityClassName?: string }): KubeObject[] {
    const labels = spec.labels ?? { app: spec.name };
    const ds = this.addWorkloadObject('apps/v1', 'DaemonSet', spec.namespace, spec.name, {
      spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { tolerations: spec.tolerations ?? [] } } },
      status: { desiredNumberScheduled: spec.nodes.length, currentNumberScheduled: spec.nodes.length, numberReady: spec.nodes.length, numberMisscheduled: 0 },
    });
    const workload = this.registerWorkload(ds, labels, spec, { nodes: spec.nodes });
    workload.podSpec.tolerations = [...(spec.tolerations ?? []), ...daemonSetTolerations];
    return spec.nodes.map((node) => this.createWorkloadPod(workload, node, true));
  }

  /** Deletes a workload object only (propagationPolicy Orphan without the garbage collector's clean-up of owner references): its pods stay, owned by nothing that exists. */
  deleteWorkload(kind: string, namespace: string, name: string): void {
    const key = `${kind}/${namespace}/${name}`;
    const object = this.workloadObjects.get(key);
    if (!object) throw KubeError.notFound(kind.toLowerCase() + 's', name);
    this.workloadObjects.delete(key);
    this.workloads.delete(object.metadata.uid);
  }

  /**
   * A PDB spec change: metadata.generation goes up at once, status follows
   * when the disruption controller has processed it (`pdbObserveSeconds`);
   * meanwhile the eviction API refuses what it would charge to it.
   */
  updatePdb(namespace: string, name: string, change: Partial<Pick<PdbSpec, 'minAvailable' | 'maxUnavailable' | 'selector' | 'unhealthyPodEvictionPolicy'>>): KubeObject {
    const key = `${namespace}/${name}`;
    const current = this.pdbs.get(key);
    if (!current) throw KubeError.notFound('poddisruptionbudgets', name, 'policy');
    const next = clone(current);
    next.spec = { ...next.spec, ...change };
    if (change.minAvailable !== undefined) delete next.spec.maxUnavailable;
    if (change.maxUnavailable !== undefined) delete next.spec.minAvailable;
    next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    this.unobservedPdbs.add(key);
    this.commit('poddisruptionbudgets', 'MODIFIED', this.pdbs, next, current);
    this.clock.schedule(this.clock.now() + this.pdbObserveSeconds * 1000, () => {
      this.unobservedPdbs.delete(key);
      this.refreshPdbs();
    });
    return clone(next);
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
      persistentVolume: spec.persistentVolume,
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
    if (input.persistentVolume) this.claimVolume(pod);
    this.commit('pods', 'ADDED', this.pods, pod);
    this.attachVolumes(pod);
    if (!pod.spec.nodeName) this.schedulePendingPods();
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
        ...(spec.unhealthyPodEvictionPolicy ? { unhealthyPodEvictionPolicy: spec.unhealthyPodEvictionPolicy } : {}),
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
    if (pdb && !isReady(pod)) {
      // A pod that is not Ready does not count as healthy: with AlwaysAllow it
      // always goes, with IfHealthyBudget (the default) while the budget is met;
      // neither charges the budget.
      if (pdb.spec.unhealthyPodEvictionPolicy === 'AlwaysAllow') return void this.terminate(pod, grace);
      if (pdb.status.desiredHealthy > 0 && pdb.status.currentHealthy >= pdb.status.desiredHealthy) return void this.terminate(pod, grace);
    }
    if (pdb) {
      // checkAndDecrement: a status the controller has not caught up with allows nothing.
      if ((pdb.status.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) {
        throw new KubeError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
          causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name} is still being processed by the server.` }],
        });
      }
      if (pdb.status.disruptionsAllowed <= 0) {
        throw new KubeError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
          causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name} needs ${pdb.status.desiredHealthy} healthy pods and has ${pdb.status.currentHealthy} currently` }],
        });
      }
      // The API server decrements disruptionsAllowed itself; here the
      // disruption controller's recount follows the pod's change at once.
    }
    this.terminate(pod, grace);
  }

  // ---- the simulated controllers and kubelet

  /**
   * Graceful deletion as the API server records it and the kubelet carries it
   * out (apiserver pkg/registry/rest/delete.go BeforeDelete):
   * - first deletion: deletionTimestamp = now + grace;
   * - again with a shorter grace: deletionTimestamp = old deletionTimestamp −
   *   old grace + new grace, counted from the first deletion; moved up to now
   *   (with a grace of 1 s, unless 0) if that is in the past; a grace not
   *   shorter changes nothing;
   * - the kubelet kills the process `grace` seconds after it sees the update
   *   (its pod worker restarts the kill with the shorter period), unless it
   *   exits first; the pod object goes when the process has.
   */
  private terminate(pod: KubeObject, graceSeconds: number): KubeObject {
    // The kubelet recreates a mirror pod from its static manifest at once.
    if (isMirrorPod(pod)) return clone(pod);
    const now = this.clock.now();
    const behaviour = this.podBehaviour.get(pod.metadata.uid)!;
    let deletionTimestamp = now + graceSeconds * 1000;
    let period = graceSeconds;
    if (isTerminating(pod)) {
      const previous = pod.metadata.deletionGracePeriodSeconds;
      if (!previous) return this.removePod(pod);
      if (graceSeconds >= previous) return clone(pod);
      deletionTimestamp = Date.parse(pod.metadata.deletionTimestamp!) - previous * 1000 + graceSeconds * 1000;
      if (deletionTimestamp < now) {
        deletionTimestamp = now;
        if (period !== 0) period = 1;
      }
    }
    if (period <= 0) return this.removePod(pod);
    const exitAt = Math.min(
      behaviour.exitAt ?? Infinity,
      now + period * 1000,
      now + Math.min(period, behaviour.shutdownSeconds ?? Math.min(period, 1)) * 1000,
    );
    behaviour.cancelTimers.splice(0).forEach((cancel) => cancel());
    behaviour.exitAt = exitAt;
    const next = clone(pod);
    next.metadata.deletionTimestamp = rfc3339(deletionTimestamp);
    next.metadata.deletionGracePeriodSeconds = period;
    this.commit('pods', 'MODIFIED', this.pods, next, pod);
    behaviour.cancelTimers.push(this.clock.schedule(exitAt + this.kubeletReportMs, () => this.removePodIfPresent(next.metadata.uid)));
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
    this.detachVolumes(pod);
    this.replaceIfOwned(pod, behaviour);
    return clone(pod);
  }

  /**
   * ReplicaSets replace a pod as soon as it starts terminating (terminating
   * pods do not count as active), and the scheduler places the replacement;
   * DaemonSets only once it is gone, on the same node, and only if the pod
   * tolerates the node's NoSchedule and NoExecute taints (pkg/controller/daemon
   * NodeShouldRunDaemonPod: a DaemonSet pod is not placed on a node whose
   * taints it does not tolerate, while a running one is left alone unless a
   * NoExecute taint evicts it).
   */
  private replaceIfOwned(pod: KubeObject, behaviour = this.podBehaviour.get(pod.metadata.uid)): void {
    const owner = controllerOf(pod);
    const workload = owner && this.workloads.get(owner.uid);
    if (!workload || !behaviour || behaviour.replaced) return;
    const nodeName: string | undefined = pod.spec.nodeName;
    if (owner.kind === 'ReplicaSet') {
      behaviour.replaced = true;
      this.createWorkloadPod(workload, this.pickNode((workload.podSpec.tolerations ?? []) as Toleration[]), false);
    } else if (owner.kind === 'DaemonSet' && !this.pods.has(keyOf(pod)) && nodeName && workload.nodes?.includes(nodeName)) {
      const node = this.nodes.get(nodeName);
      if (!node || !toleratesNodeTaints((workload.podSpec.tolerations ?? []) as Toleration[], node)) return;
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
   * The replacement waits out the controller's backoff (backoff_utils.go:
   * 10 s doubled per failure since the last success, at most 6 min, counted
   * from the failure: a deleted pod's deletionTimestamp − its grace, that is
   * the DELETE; a stopped pod's exit), and goes wherever the scheduler puts it.
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
    const now = this.clock.now();
    const failures = (workload.failuresAfterLastSuccess ?? 0) + 1;
    workload.failuresAfterLastSuccess = failures;
    const delay = Math.min(JOB_BACKOFF_MS * 2 ** (failures - 1), JOB_BACKOFF_MAX_MS);
    this.clock.schedule(now + delay, () => {
      if ((status.conditions ?? []).some((c: { type: string; status: string }) => (c.type === 'Failed' || c.type === 'Complete') && c.status === 'True')) return;
      this.createWorkloadPod(workload, this.pickNode((workload.podSpec.tolerations ?? []) as Toleration[]), false);
    });
  }

  /** A Job's pod whose work is done: its container exited 0, the pod stays with phase Succeeded. */
  private completeJobPod(uid: string): void {
    const key = this.podKeyOfUid.get(uid);
    const pod = key === undefined ? undefined : this.pods.get(key);
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
    const workload = owner && this.workloads.get(owner.uid);
    if (workload) {
      workload.failuresAfterLastSuccess = 0;
      workload.object.status = { ...workload.object.status, active: 0, succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
    }
  }

  /**
   * The scheduler, reduced to what a drain meets: its filters NodeUnschedulable
   * (a cordoned node only for pods tolerating node.kubernetes.io/unschedulable)
   * and TaintToleration (every NoSchedule/NoExecute taint tolerated), then the
   * node with the fewest pods, as resource scoring favours an emptier node:
   * which is why a replacement that tolerates the drain lands right back on the
   * node being drained. Like the real scheduler it has no memory of where a
   * replaced pod ran.
   */
  private pickNode(tolerations: Toleration[]): string | undefined {
    const fits = (node: KubeObject) =>
      (!node.spec.unschedulable || tolerations.some((t) => toleratesTaint(t, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })))
      && toleratesNodeTaints(tolerations, node);
    const candidates = [...this.nodes.values()].filter(fits).map((n) => n.metadata.name);
    const load = (node: string) => this.podsOnNode.get(node)?.size ?? 0;
    return candidates.sort((a, b) => load(a) - load(b) || (a < b ? -1 : 1))[0];
  }

  private schedulePendingPods(): void {
    for (const pod of this.rawPods({ nodeName: '' })) {
      if (pod.spec.nodeName || isTerminating(pod)) continue;
      const nodeName = this.pickNode(pod.spec.tolerations ?? []);
      if (!nodeName) continue;
      const next = clone(pod);
      next.spec.nodeName = nodeName;
      next.status = this.runningStatus(nodeName, false);
      this.commit('pods', 'MODIFIED', this.pods, next, pod);
      this.attachVolumes(next);
      this.scheduleReadiness(next);
    }
  }

  /**
   * A pod that asked for a PersistentVolume gets a claim bound to a new CSI
   * volume (as a StorageClass with immediate binding does), attached to its
   * node once it is scheduled.
   */
  private claimVolume(pod: KubeObject): void {
    const namespace = pod.metadata.namespace!;
    const name = `data-${pod.metadata.name}`;
    const volumeName = `pvc-${this.ids.uid()}`;
    const claim: KubeObject = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { ...this.newMetadata(name, namespace), resourceVersion: String(++this.resourceVersion) },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } }, storageClassName: 'gp3', volumeName, volumeMode: 'Filesystem' },
      status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '10Gi' } },
    };
    this.claims.set(`${namespace}/${name}`, claim);
    pod.spec.volumes = [...(pod.spec.volumes ?? []), { name: 'data', persistentVolumeClaim: { claimName: name } }];
  }

  /** The attach/detach controller and the CSI driver: a VolumeAttachment per claimed volume on the pod's node. */
  private attachVolumes(pod: KubeObject): void {
    const nodeName: string | undefined = pod.spec.nodeName;
    if (!nodeName) return;
    for (const volume of pod.spec.volumes ?? []) {
      const claimName = volume.persistentVolumeClaim?.claimName;
      const claim = claimName && this.claims.get(`${pod.metadata.namespace}/${claimName}`);
      if (!claim) continue;
      const volumeName: string = claim.spec.volumeName;
      const name = `csi-${createHash('sha256').update(`${volumeName}/${nodeName}`).digest('hex').slice(0, 64)}`;
      if (this.volumeAttachments.has(name)) continue;
      const va: KubeObject = {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'VolumeAttachment',
        metadata: { ...this.newMetadata(name), annotations: { 'csi.alpha.kubernetes.io/node-id': nodeName }, finalizers: ['external-attacher/ebs-csi-aws-com'] },
        spec: { attacher: 'ebs.csi.aws.com', nodeName, source: { persistentVolumeName: volumeName } },
        status: { attached: true, attachmentMetadata: { devicePath: '/dev/xvdaa' } },
      };
      this.commit('volumeattachments', 'ADDED', this.volumeAttachments, va);
    }
  }

  /**
   * Once the pod is gone and no other pod on the node uses the volume, the
   * attach/detach controller detaches it: the VolumeAttachment goes
   * `volumeDetachSeconds` later (EBS detaches take seconds to a minute).
   */
  private detachVolumes(pod: KubeObject): void {
    const nodeName: string | undefined = pod.spec.nodeName;
    if (!nodeName) return;
    const claimed = (p: KubeObject) => new Set<string>((p.spec.volumes ?? []).flatMap((v: any) => {
      const claim = v.persistentVolumeClaim && this.claims.get(`${p.metadata.namespace}/${v.persistentVolumeClaim.claimName}`);
      return claim ? [claim.spec.volumeName] : [];
    }));
    const volumes = claimed(pod);
    if (volumes.size === 0) return;
    this.clock.schedule(this.clock.now() + this.volumeDetachSeconds * 1000, () => {
      const stillUsed = new Set(this.rawPods({ nodeName }).flatMap((p) => [...claimed(p)]));
      for (const va of [...this.volumeAttachments.values()]) {
        const volume = va.spec.source.persistentVolumeName;
        if (va.spec.nodeName !== nodeName || !volumes.has(volume) || stillUsed.has(volume)) continue;
        this.volumeAttachments.delete(va.metadata.name);
        this.recordChange('volumeattachments', 'DELETED', va);
      }
    });
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
      persistentVolume: workload.persistentVolume,
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
  /**
   * The disruption controller's sync: the status of every PDB (of `namespace`),
   * or, after a pod change, of those selecting that pod before or after it
   * (the controller's pod handlers enqueue just those: getPdbForPod).
   */
  private refreshPdbs(namespace?: string, ...podLabels: Array<Record<string, string> | undefined>): void {
    for (const pdb of this.rawPdbs(namespace)) {
      if (this.unobservedPdbs.has(keyOf(pdb))) continue;
      if (podLabels.length > 0 && !podLabels.some((labels) => labels && matchesStructured(pdb.spec.selector, labels))) continue;
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
    const observedGeneration = pdb.metadata.generation ?? 1;
    return {
      observedGeneration,
      disruptionsAllowed,
      currentHealthy,
      desiredHealthy,
      expectedPods,
      conditions: [{
        type: 'DisruptionAllowed',
        status: disruptionsAllowed > 0 ? 'True' : 'False',
        reason: disruptionsAllowed > 0 ? 'SufficientPods' : 'InsufficientPods',
        message: '',
        observedGeneration,
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
    if (resource === 'pods') this.refreshPdbs(object.metadata.namespace, object.metadata.labels ?? {}, before?.metadata.labels);
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
    if (resource === 'pods') this.refreshPdbs(object.metadata.namespace, object.metadata.labels ?? {});
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
      persistentVolume: spec.persistentVolume,
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
    ...(spec.tolerations ? { tolerations: clone(spec.tolerations) } : {}),
  };
}

/** An IntOrString of a PDB against `total`; percentages round up, as the disruption controller does. */
function scaled(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  const percent = Number(value.replace('%', ''));
  return Math.ceil((percent * total) / 100);
}
