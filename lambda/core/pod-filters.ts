import type { PodView } from './kube-types';
import { toleratesDrainTaint, toleratesUnschedulable } from './taints';

/**
 * Which pods a drain must evict, wait for, or leave alone: the filters of
 * `kubectl drain` (k8s.io/kubectl/pkg/drain/filters.go) and Karpenter's
 * termination rules (sigs.k8s.io/karpenter pkg/utils/pod IsEvictable,
 * IsWaitingEviction; pkg/controllers/node/termination/terminator Evict), as a
 * fixed list of pure predicates.
 */

/**
 * Why an evicted pod deserves a line in the report. kubectl refuses these pods
 * unless given --delete-emptydir-data / --force; here the instance terminates
 * anyway, so they are evicted and the operator is told.
 * - emptyDir: the pod's emptyDir data is lost with it.
 * - unreplicated: no controller will recreate the pod elsewhere (none, or it was deleted).
 * - waited: the pod asked to be waited for (see `hold`) and did not finish in
 *   time: it is evicted now, so that it still gets all of its grace period.
 */
export type PodWarning = 'emptyDir' | 'unreplicated' | 'waited';

/**
 * Karpenter's eviction order (terminator.Evict): a tier is evicted only once
 * every pod of the tiers before it has gone, so that the pods still stopping
 * keep their DNS, CNI, proxies and log shippers.
 * - normal: neither critical nor owned by a DaemonSet;
 * - daemonset: owned by a DaemonSet, not critical (log shippers, agents);
 * - critical: priority class system-cluster-critical or system-node-critical;
 * - critical-daemonset: both.
 */
export type EvictionTier = 'normal' | 'daemonset' | 'critical' | 'critical-daemonset';
export const EVICTION_TIERS: readonly EvictionTier[] = ['normal', 'daemonset', 'critical', 'critical-daemonset'];

/**
 * Why the drain leaves a pod on the node, neither evicting nor waiting for it.
 * - daemonset: a DaemonSet pod that tolerates our taint: the DaemonSet
 *   controller would recreate it on this node at once.
 * - mirror: a static pod's read-only mirror; the kubelet recreates it from its
 *   manifest, so deleting it through the API does nothing.
 * - tolerates-drain: a controller-owned pod that tolerates both our taint and
 *   the cordon: its replacement would be scheduled right back onto this node,
 *   emptier than any other (Karpenter leaves pods tolerating its disruption
 *   taint for the same reason).
 */
export type LeaveReason = 'daemonset' | 'mirror' | 'tolerates-drain';

/**
 * The verdict on one pod.
 * - none/finished: phase Succeeded or Failed; its containers have exited, so
 *   there is nothing to evict or wait for (kubectl: "always removable").
 * - leave: see LeaveReason.
 * - wait/terminating: the pod already has a deletionTimestamp; evicting it again
 *   changes nothing. `expectedEnd` is that timestamp (ms epoch), the moment its
 *   grace period runs out. `stuck` is true once `now` is more than 60 s past it,
 *   Karpenter's sign of a pod the kubelet is not going to finish (a finalizer, a
 *   dead kubelet).
 * - hold: the pod asks not to be disrupted (`reason`: the annotation
 *   karpenter.sh/do-not-disrupt "true" or cluster-autoscaler.kubernetes.io/
 *   safe-to-evict "false", or 'job' when the operator opted in for every pod
 *   of a Job): it is not evicted but waited for, until it finishes on its own
 *   or until `evictAt` (ms epoch), the latest moment an eviction still leaves
 *   it all of its grace period before the deadline policy acts. Only with a
 *   HoldPolicy: without one (no deadline known) such pods are evicted.
 * - evict: send an eviction, in its tier's turn.
 */
export type PodVerdict =
  | { action: 'none'; reason: 'finished' }
  | { action: 'wait'; reason: 'terminating'; expectedEnd: number; stuck: boolean }
  | { action: 'leave'; reason: LeaveReason }
  | { action: 'hold'; reason: HoldReason; evictAt: number }
  | { action: 'evict'; tier: EvictionTier; warnings: PodWarning[] };

export type HoldReason = 'do-not-disrupt' | 'safe-to-evict' | 'job';

/**
 * How the drain treats pods that ask to be waited for.
 * - `waitUntil`: when the deadline policy acts (the deadline's actAt, ms epoch);
 *   a held pod is evicted at the latest at waitUntil − its grace − HOLD_MARGIN_MS.
 * - `waitForJobPods`: also wait for every pod owned by a Job (opt-in).
 */
export interface HoldPolicy {
  waitUntil: number;
  waitForJobPods?: boolean;
}

/** Between a held pod's grace end and the deadline policy: a drain round and the kubelet's report. */
export const HOLD_MARGIN_MS = 60_000;

/** Karpenter's annotation (pkg/apis/v1 DoNotDisruptAnnotationKey). */
export const DO_NOT_DISRUPT_ANNOTATION = 'karpenter.sh/do-not-disrupt';
/** cluster-autoscaler's annotation: "false" keeps it from removing the node. */
export const SAFE_TO_EVICT_ANNOTATION = 'cluster-autoscaler.kubernetes.io/safe-to-evict';

/** Why the pod asks to be waited for, if it does. */
export function holdReason(pod: PodView, policy: Pick<HoldPolicy, 'waitForJobPods'>): HoldReason | undefined {
  if (pod.annotations[DO_NOT_DISRUPT_ANNOTATION] === 'true') return 'do-not-disrupt';
  if (pod.annotations[SAFE_TO_EVICT_ANNOTATION] === 'false') return 'safe-to-evict';
  if (policy.waitForJobPods && pod.controllerKind === 'Job') return 'job';
  return undefined;
}

/** The latest moment to evict a held pod and still give it all of its grace before `waitUntil`. */
export const holdEvictAt = (pod: PodView, policy: HoldPolicy): number =>
  policy.waitUntil - pod.terminationGracePeriodSeconds * 1000 - HOLD_MARGIN_MS;

/** Karpenter's grace past a pod's deletionTimestamp before it calls the pod stuck. */
export const STUCK_AFTER_MS = 60_000;

/** The priority classes Karpenter evicts last (pkg/utils/pod IsCritical). */
export const CRITICAL_PRIORITY_CLASSES: ReadonlySet<string> = new Set(['system-cluster-critical', 'system-node-critical']);

/** kubectl's mirrorPodFilter key (corev1.MirrorPodAnnotationKey). */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

export const isFinished = (pod: PodView): boolean => pod.phase === 'Succeeded' || pod.phase === 'Failed';

/** Owned by a DaemonSet (Karpenter's IsOwnedByDaemonSet reads the owner reference, whether or not the DaemonSet still exists). */
export const isDaemonSetPod = (pod: PodView): boolean => pod.controllerKind === 'DaemonSet';

/** A controller exists that would recreate the pod. */
export const hasLiveController = (pod: PodView): boolean => pod.controllerKind !== undefined && !pod.controllerMissing;

/**
 * The annotation is kubectl's test. The kubelet also makes the Node the mirror
 * pod's controller, which Karpenter tests (IsOwnedByNode); either one suffices.
 */
export const isMirrorPod = (pod: PodView): boolean =>
  Object.prototype.hasOwnProperty.call(pod.annotations, MIRROR_POD_ANNOTATION) || pod.controllerKind === 'Node';

export const isCritical = (pod: PodView): boolean =>
  pod.priorityClassName !== undefined && CRITICAL_PRIORITY_CLASSES.has(pod.priorityClassName);

/**
 * The DaemonSet controller only places a pod on a node whose NoSchedule and
 * NoExecute taints it tolerates (pkg/controller/daemon predicates) and ignores
 * spec.unschedulable (it adds the unschedulable toleration to every pod), so a
 * DaemonSet pod comes back after eviction exactly when it tolerates our taint.
 */
export const daemonSetWouldReturn = (pod: PodView): boolean =>
  isDaemonSetPod(pod) && !pod.controllerMissing && toleratesDrainTaint(pod.tolerations ?? []);

/**
 * The scheduler puts a replacement back on this node only if it tolerates our
 * taint (TaintToleration plugin) and the cordon (NodeUnschedulable plugin):
 * `tolerations: [{operator: Exists}]` does both. A pod without a live
 * controller has no replacement, so it is evicted whatever it tolerates.
 */
export const toleratesDrain = (pod: PodView): boolean =>
  hasLiveController(pod) && toleratesDrainTaint(pod.tolerations ?? []) && toleratesUnschedulable(pod.tolerations ?? []);

export function evictionTier(pod: PodView): EvictionTier {
  if (isCritical(pod)) return isDaemonSetPod(pod) ? 'critical-daemonset' : 'critical';
  return isDaemonSetPod(pod) ? 'daemonset' : 'normal';
}

export interface PodFilter {
  name: string;
  verdict(pod: PodView, now: number, policy?: HoldPolicy): PodVerdict | undefined;
}

/**
 * The filters, in the order they apply; the first one that returns a verdict
 * wins. `now` is ms since the epoch (from the injected clock).
 * - finished comes first: a completed pod needs nothing, whatever owns it.
 * - daemonset, mirror and tolerates-drain come before terminating: like
 *   Karpenter (IsWaitingEviction), the drain never touches nor waits for pods
 *   that would come straight back, even mid-deletion.
 * - hold comes after terminating (a held pod being deleted anyway is waited
 *   for as any other) and before evict; past its evictAt the pod falls through
 *   to evict, with the 'waited' warning.
 * - evict is the fallback: emptyDir and unreplicated only add warnings, because
 *   the node leaves with or without them (kubectl would stop without flags).
 *   DaemonSet pods that do not tolerate our taint get here: they are not
 *   recreated on this node, so they get a graceful stop in their tier.
 */
export const podFilters: ReadonlyArray<PodFilter> = [
  {
    name: 'finished',
    verdict: (pod) => (isFinished(pod) ? { action: 'none', reason: 'finished' } : undefined),
  },
  {
    name: 'daemonset',
    verdict: (pod) => (daemonSetWouldReturn(pod) ? { action: 'leave', reason: 'daemonset' } : undefined),
  },
  {
    name: 'mirror',
    verdict: (pod) => (isMirrorPod(pod) ? { action: 'leave', reason: 'mirror' } : undefined),
  },
  {
    name: 'tolerates-drain',
    verdict: (pod) => (!isDaemonSetPod(pod) && toleratesDrain(pod) ? { action: 'leave', reason: 'tolerates-drain' } : undefined),
  },
  {
    name: 'terminating',
    verdict: (pod, now) =>
      pod.deletionTimestamp === undefined
        ? undefined
        : {
            action: 'wait',
            reason: 'terminating',
            expectedEnd: pod.deletionTimestamp,
            stuck: now > pod.deletionTimestamp + STUCK_AFTER_MS,
          },
  },
  {
    name: 'hold',
    verdict: (pod, now, policy) => {
      const reason = policy && holdReason(pod, policy);
      if (!policy || !reason) return undefined;
      const evictAt = holdEvictAt(pod, policy);
      return now < evictAt ? { action: 'hold', reason, evictAt } : undefined;
    },
  },
  {
    name: 'evict',
    verdict: (pod, _now, policy) => ({
      action: 'evict',
      tier: evictionTier(pod),
      warnings: [
        ...(pod.hasEmptyDir ? (['emptyDir'] as const) : []),
        ...(!hasLiveController(pod) ? (['unreplicated'] as const) : []),
        ...(policy && holdReason(pod, policy) ? (['waited'] as const) : []),
      ],
    }),
  },
];

export function classifyPod(pod: PodView, now: number, policy?: HoldPolicy): PodVerdict {
  for (const filter of podFilters) {
    const verdict = filter.verdict(pod, now, policy);
    if (verdict) return verdict;
  }
  // Unreachable while 'evict' is last and total; kept so a reordering fails loudly.
  throw new Error(`no pod filter gave a verdict for ${pod.namespace}/${pod.name}`);
}
