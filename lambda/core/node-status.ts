import type { EvictionPlan } from './eviction-plan';
import { keyOf, type PodView } from './kube-types';
import { classifyPod, type EvictionTier, type HoldPolicy, type HoldReason, type LeaveReason, type PodWarning } from './pod-filters';

/**
 * What one drain round found on the node. The caller decides from it whether to
 * complete the lifecycle action, wait (until about `earliestExpectedEnd`), or
 * act on the deadline; it never needs to re-classify pods. Pod keys are
 * `namespace/name`; lists are in key order.
 */
export interface NodeStatus {
  /**
   * No pod is left to evict or to wait for (only finished, left-alone and stuck
   * pods remain) and no VolumeAttachment of theirs is left on the node. Like
   * Karpenter, a pod over 60 s past its deletion timestamp is not waited for:
   * the kubelet is not finishing it, and waiting would hold the node until the
   * deadline for nothing. It is reported in `stuck`.
   */
  drained: boolean;
  /** No pod is left to evict or to wait for; `drained` also waits for `volumeAttachments`. */
  podsGone: boolean;
  /**
   * VolumeAttachments still on the node for volumes of pods that left
   * (Karpenter's volume-detachment wait): the instance must not go before the
   * attach/detach controller has detached them, or the replacement pod waits
   * on a Multi-Attach error for minutes. Names, in order.
   */
  volumeAttachments: string[];
  /** The tier being evicted (see EvictionTier); absent when no pod is left to evict or wait for. */
  tier?: EvictionTier;
  /** Pods whose eviction the API refused with 403 (RBAC, an admission webhook), not a terminating namespace. */
  forbidden: string[];
  /** Pods with verdict 'evict' (no deletionTimestamp yet), including blocked, misconfigured, deferred and already-requested ones. */
  evictable: number;
  /** Pods with a deletionTimestamp, stuck ones included. */
  terminating: number;
  /** Smallest deletionTimestamp among terminating pods that are not stuck, ms epoch; absent when none. */
  earliestExpectedEnd?: number;
  /** Largest deletionTimestamp among terminating pods that are not stuck, ms epoch; absent when none. */
  latestExpectedEnd?: number;
  /** Terminating pods more than 60 s past their deletionTimestamp (Karpenter's "stuck"). */
  stuck: string[];
  /** From the plan: pods whose PDB had no budget left this round. */
  blocked: Array<{ pod: string; pdb: string }>;
  /** From the plan: pods selected by more than one PDB, never sent. */
  misconfigured: Array<{ pod: string; pdbs: string[] }>;
  /** From the plan: pods of later tiers waiting for the earlier ones. */
  deferred: string[];
  /** Succeeded or Failed pods, which need nothing. */
  finished: number;
  /** Pods the drain does not touch: DaemonSet pods that would come back, mirror pods, pods tolerating the drain. */
  leftAlone: Array<{ pod: string; reason: LeaveReason }>;
  /** One entry per warning of each evictable pod (a pod may have two). */
  warnings: Array<{ pod: string; warning: PodWarning }>;
  /** Pods waited for rather than evicted (pod-filters' hold), with when each is evicted at the latest (ms epoch). */
  held: Array<{ pod: string; reason: HoldReason; evictAt: number }>;
}

/**
 * `volumeAttachments`: the node's VolumeAttachments still to wait for, once the pods are gone (see blockingVolumeAttachments).
 * `hold`: pods that ask to be waited for are held (see pod-filters' hold).
 */
export function summarizeNode(pods: PodView[], plan: EvictionPlan, now: number, volumeAttachments: string[] = [], hold?: HoldPolicy): NodeStatus {
  const status: NodeStatus = {
    drained: true,
    podsGone: true,
    volumeAttachments: [...volumeAttachments].sort(compareKeys),
    ...(plan.tier ? { tier: plan.tier } : {}),
    forbidden: [],
    evictable: 0,
    terminating: 0,
    stuck: [],
    blocked: plan.blocked,
    misconfigured: plan.misconfigured,
    deferred: plan.deferred,
    finished: 0,
    leftAlone: [],
    warnings: [],
    held: [],
  };
  const sorted = [...pods].sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  for (const pod of sorted) {
    const verdict = classifyPod(pod, now, hold);
    const key = keyOf(pod);
    switch (verdict.action) {
      case 'none':
        status.finished += 1;
        break;
      case 'leave':
        status.leftAlone.push({ pod: key, reason: verdict.reason });
        break;
      case 'wait':
        status.terminating += 1;
        if (verdict.stuck) {
          status.stuck.push(key);
          break;
        }
        status.earliestExpectedEnd = Math.min(status.earliestExpectedEnd ?? Infinity, verdict.expectedEnd);
        status.latestExpectedEnd = Math.max(status.latestExpectedEnd ?? -Infinity, verdict.expectedEnd);
        break;
      case 'hold':
        status.held.push({ pod: key, reason: verdict.reason, evictAt: verdict.evictAt });
        break;
      case 'evict':
        status.evictable += 1;
        status.warnings.push(...verdict.warnings.map((warning) => ({ pod: key, warning })));
        break;
    }
  }
  status.podsGone = status.evictable === 0 && status.terminating === status.stuck.length && status.held.length === 0;
  status.drained = status.podsGone && status.volumeAttachments.length === 0;
  return status;
}

const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A VolumeAttachment as the drain reads it (storage.k8s.io/v1). */
export interface VolumeAttachmentView {
  name: string;
  nodeName: string;
  /** spec.source.persistentVolumeName; absent for inline volumes. */
  persistentVolumeName?: string;
}

/**
 * The VolumeAttachments to wait for (Karpenter's blockingVolumeAttachments):
 * those on the node, of a PersistentVolume, except the volumes of pods that
 * stay (`keptVolumes`: the PVs of pods the drain leaves or gave up on as
 * stuck), which nobody is going to detach.
 */
export function blockingVolumeAttachments(
  attachments: readonly VolumeAttachmentView[],
  nodeName: string,
  keptVolumes: ReadonlySet<string>,
): string[] {
  return attachments
    .filter((va) => va.nodeName === nodeName && va.persistentVolumeName !== undefined && !keptVolumes.has(va.persistentVolumeName))
    .map((va) => va.name)
    .sort(compareKeys);
}
