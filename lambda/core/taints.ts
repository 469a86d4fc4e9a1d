/**
 * Taints and tolerations, as the scheduler and the DaemonSet controller read
 * them (k8s.io/api/core/v1 toleration.go ToleratesTaint). Pure.
 */
import type { Toleration } from './kube-types';

/** Our own NoSchedule taint: says who cordoned the node and why, and survives a careless uncordon. */
export const DRAIN_TAINT_KEY = 'eks-graceful-drain/draining';

/** The taint the node lifecycle controller adds for spec.unschedulable (the scheduler's NodeUnschedulable plugin reads it). */
export const UNSCHEDULABLE_TAINT_KEY = 'node.kubernetes.io/unschedulable';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

/**
 * ToleratesTaint: an empty effect matches every effect, an empty key (only
 * with Exists) every key; operator '' means Equal, which compares values.
 */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  const operator = toleration.operator || 'Equal';
  if (operator === 'Exists') return true;
  if (operator === 'Equal') return (toleration.value ?? '') === (taint.value ?? '');
  return false;
}

export const toleratesAll = (tolerations: readonly Toleration[], taints: readonly Taint[]): boolean =>
  taints.every((taint) => tolerations.some((t) => toleratesTaint(t, taint)));

/**
 * Our taint's value names the drain: the instance id (or the token hash an
 * event handed over directly still carried), so only an `Exists` toleration
 * (of our key, or of every key) is meant to tolerate it.
 */
export const toleratesDrainTaint = (tolerations: readonly Toleration[]): boolean =>
  tolerations.some(
    (t) => t.operator === 'Exists' && (!t.key || t.key === DRAIN_TAINT_KEY) && (!t.effect || t.effect === 'NoSchedule'),
  );

/** The cordon: spec.unschedulable, which the scheduler treats as this NoSchedule taint. */
export const toleratesUnschedulable = (tolerations: readonly Toleration[]): boolean =>
  tolerations.some((t) => toleratesTaint(t, { key: UNSCHEDULABLE_TAINT_KEY, effect: 'NoSchedule' }));
