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
}

export interface PdbView {
  namespace: string;
  name: string;
  selector: LabelSelector;
  /** status.disruptionsAllowed as the API server last computed it. */
  disruptionsAllowed: number;
}

/** `namespace/name`, the key every report uses for pods and PDBs. */
export const keyOf = (o: { namespace: string; name: string }): string => `${o.namespace}/${o.name}`;
