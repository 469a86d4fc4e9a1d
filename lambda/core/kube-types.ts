/**
 * The slice of Kubernetes objects the drain policy reads. Adapters convert the
 * client library's objects into these, so lambda/core never imports a client.
 * Timestamps are milliseconds since the epoch.
 */

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

export interface PodView {
  namespace: string;
  name: string;
  uid: string;
  /** Pending | Running | Succeeded | Failed | Unknown */
  phase: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Kind of the owner reference with controller=true (ReplicaSet, DaemonSet, Job, StatefulSet, Node…), if any. */
  controllerKind?: string;
  controllerName?: string;
  priorityClassName?: string;
  /** Set once the pod is being deleted: the moment its grace period ends. */
  deletionTimestamp?: number;
  /** spec.terminationGracePeriodSeconds; Kubernetes defaults it to 30. */
  terminationGracePeriodSeconds: number;
  /** Whether any volume is an emptyDir (its data is lost when the pod leaves). */
  hasEmptyDir: boolean;
  /** The Ready condition is True. */
  ready: boolean;
  /** spec.tolerations. @default none */
  tolerations?: Toleration[];
  /** metadata.deletionGracePeriodSeconds: the grace the pending deletion was given (the API server counts a shorter one from it). */
  deletionGracePeriodSeconds?: number;
  /** claimName of each persistentVolumeClaim volume. @default none */
  claimNames?: string[];
  /**
   * Its controller (a DaemonSet, say) no longer exists: nothing will recreate
   * the pod, so it is treated as a pod without a controller. Set by the adapter. @default false
   */
  controllerMissing?: boolean;
}

/** A pod's toleration (core/v1 Toleration). operator '' means Equal. */
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface PdbView {
  namespace: string;
  name: string;
  selector: LabelSelector;
  /** status.disruptionsAllowed as the API server last computed it. */
  disruptionsAllowed: number;
  /** status.currentHealthy / desiredHealthy: the eviction API lets an unready pod go while current >= desired > 0. @default 0 */
  currentHealthy?: number;
  desiredHealthy?: number;
  /** spec.unhealthyPodEvictionPolicy. @default 'IfHealthyBudget' */
  unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow';
  /** status.observedGeneration < metadata.generation: the API refuses every eviction it would charge. @default false */
  statusStale?: boolean;
}

/** `namespace/name`, the key every report uses for pods and PDBs. */
export const keyOf = (o: { namespace: string; name: string }): string => `${o.namespace}/${o.name}`;
