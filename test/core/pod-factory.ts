import type { LabelSelector, PdbView, PodView, Toleration } from '../../lambda/core/kube-types';

/** A fixed "now" for domain tests: 2026-01-01T00:00:00Z. */
export const NOW = Date.UTC(2026, 0, 1);

export interface PodSpec {
  name?: string;
  namespace?: string;
  /** Kind of the controller owner reference; null for a bare pod. @default 'ReplicaSet' */
  owner?: 'ReplicaSet' | 'DaemonSet' | 'Job' | 'StatefulSet' | 'Node' | null;
  /** @default 'Running' */
  phase?: string;
  /** Adds the kubernetes.io/config.mirror annotation. @default false */
  mirror?: boolean;
  /** ms epoch. @default not being deleted */
  deletionTimestamp?: number;
  priorityClassName?: string;
  /** @default false */
  emptyDir?: boolean;
  /** @default { app: name } */
  labels?: Record<string, string>;
  /** terminationGracePeriodSeconds. @default 30 */
  grace?: number;
  /** @default true */
  ready?: boolean;
  /** spec.tolerations. @default none */
  tolerations?: Toleration[];
  /** metadata.deletionGracePeriodSeconds, with deletionTimestamp. */
  deletionGrace?: number;
  /** persistentVolumeClaim volumes. */
  claimNames?: string[];
  /** Its controller was deleted. */
  controllerMissing?: boolean;
}

/** What aws-node and kube-proxy carry: tolerates every taint. */
export const TOLERATE_ALL: Toleration[] = [{ operator: 'Exists' }];

/** A running, ready, ReplicaSet-owned pod unless told otherwise. */
export function pod(spec: PodSpec = {}): PodView {
  const name = spec.name ?? 'web-1';
  const namespace = spec.namespace ?? 'default';
  const owner = spec.owner === undefined ? 'ReplicaSet' : spec.owner;
  return {
    namespace,
    name,
    uid: `uid-${namespace}-${name}`,
    phase: spec.phase ?? 'Running',
    labels: spec.labels ?? { app: name },
    annotations: spec.mirror ? { 'kubernetes.io/config.mirror': 'c0ffee' } : {},
    ...(owner === null ? {} : { controllerKind: owner, controllerName: `${name}-owner` }),
    ...(spec.priorityClassName === undefined ? {} : { priorityClassName: spec.priorityClassName }),
    ...(spec.deletionTimestamp === undefined ? {} : { deletionTimestamp: spec.deletionTimestamp }),
    terminationGracePeriodSeconds: spec.grace ?? 30,
    hasEmptyDir: spec.emptyDir ?? false,
    ready: spec.ready ?? true,
    ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
    ...(spec.deletionGrace !== undefined ? { deletionGracePeriodSeconds: spec.deletionGrace } : {}),
    ...(spec.claimNames ? { claimNames: spec.claimNames } : {}),
    ...(spec.controllerMissing ? { controllerMissing: true } : {}),
  };
}

export interface PdbSpec {
  name?: string;
  namespace?: string;
  /** @default {} (policy/v1: every pod in the namespace) */
  selector?: LabelSelector;
  /** @default 1 */
  disruptionsAllowed?: number;
  currentHealthy?: number;
  desiredHealthy?: number;
  unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow';
  statusStale?: boolean;
}

export function pdb(spec: PdbSpec = {}): PdbView {
  return {
    namespace: spec.namespace ?? 'default',
    name: spec.name ?? 'pdb',
    selector: spec.selector ?? {},
    disruptionsAllowed: spec.disruptionsAllowed ?? 1,
    ...(spec.currentHealthy !== undefined ? { currentHealthy: spec.currentHealthy } : {}),
    ...(spec.desiredHealthy !== undefined ? { desiredHealthy: spec.desiredHealthy } : {}),
    ...(spec.unhealthyPodEvictionPolicy ? { unhealthyPodEvictionPolicy: spec.unhealthyPodEvictionPolicy } : {}),
    ...(spec.statusStale ? { statusStale: true } : {}),
  };
}
