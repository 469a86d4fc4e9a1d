import { keyOf, type PdbView, type PodView } from './kube-types';
import { selectorMatches } from './label-selector';
import { classifyPod, isCritical, isDaemonSetPod, isFinished, isMirrorPod, type HoldPolicy } from './pod-filters';

/**
 * Which pods one drain round evicts. The round is idempotent: it re-reads the
 * pods and PDBs each time and asks for no more than the API would grant, so
 * the caller just runs it again later (Karpenter's "one step, then come back").
 */
export interface EvictionPlan {
  /** Pods to send an eviction for now, in that order (namespace/name; one tier per round). */
  evictNow: PodView[];
  /** Its PDB (`namespace/name`) has no disruption budget left this round; retried next round. */
  blocked: Array<{ pod: string; pdb: string }>;
  /** More than one PDB selects the pod: the eviction API answers 500 for it until someone fixes the PDBs, so it is not sent. */
  misconfigured: Array<{ pod: string; pdbs: string[] }>;
  /** Critical-tier pods held back until no normal-tier pod is left on the node. */
  deferred: string[];
}

export interface PlanOptions {
  /**
   * Pod keys whose eviction was already accepted but whose deletionTimestamp the
   * pod list does not show yet. They are not sent again, and not charged to a
   * PDB again: the API server already decremented its budget.
   * @default none
   */
  alreadyRequested?: ReadonlySet<string>;
  /** Pods that ask to be waited for are held, not evicted (see pod-filters' hold). @default none: evicted */
  hold?: HoldPolicy;
}

/**
 * Rules:
 * - only pods whose verdict is 'evict' and that were not already requested;
 * - tiers as in Karpenter's terminator: critical pods wait while a normal-tier
 *   pod is still on the node, evictable or terminating. A terminating pod that
 *   is stuck (> 60 s past its deletionTimestamp) no longer holds the tier back,
 *   as Karpenter's IsWaitingEviction excludes it; DaemonSet and mirror pods
 *   never do, since the drain leaves them;
 * - a PDB applies only to pods in its namespace whose labels its selector matches;
 * - each PDB lends at most `disruptionsAllowed` evictions per round, shared by
 *   all the pods it selects;
 * - the eviction API ignores PDBs for Pending pods and, while the PDB is healthy,
 *   does not charge it for unready pods (registry/core/pod/storage/eviction.go):
 *   those are sent without touching the budget. Blocking them here could stall a
 *   drain forever on a pod that never becomes ready; at worst the API answers 429
 *   and the next round tries again;
 * - pods no PDB selects are always evicted.
 */
export function planEvictions(
  pods: PodView[],
  pdbs: PdbView[],
  now: number,
  opts: PlanOptions = {},
): EvictionPlan {
  const alreadyRequested = opts.alreadyRequested ?? new Set<string>();
  const byKey = (a: PodView, b: PodView) => compareKeys(keyOf(a), keyOf(b));

  const candidates = pods
    .filter((pod) => classifyPod(pod, now, opts.hold).action === 'evict' && !alreadyRequested.has(keyOf(pod)))
    .sort(byKey);
  const normal = candidates.filter((pod) => !isCritical(pod));
  const critical = candidates.filter(isCritical);
  const tierOpen = !pods.some((pod) => holdsNormalTier(pod, now, opts.hold));

  const plan: EvictionPlan = {
    evictNow: [],
    blocked: [],
    misconfigured: [],
    deferred: tierOpen ? [] : critical.map(keyOf),
  };
  const budget = new Map(pdbs.map((pdb) => [keyOf(pdb), Math.max(0, pdb.disruptionsAllowed)]));

  for (const pod of tierOpen ? [...normal, ...critical] : normal) {
    if (pod.phase === 'Pending') {
      plan.evictNow.push(pod);
      continue;
    }
    const selecting = pdbs.filter((pdb) => pdb.namespace === pod.namespace && selectorMatches(pdb.selector, pod.labels));
    if (selecting.length > 1) {
      plan.misconfigured.push({ pod: keyOf(pod), pdbs: selecting.map(keyOf).sort(compareKeys) });
      continue;
    }
    if (selecting.length === 0 || !pod.ready) {
      plan.evictNow.push(pod);
      continue;
    }
    const pdb = keyOf(selecting[0]);
    const left = budget.get(pdb) ?? 0;
    if (left > 0) {
      budget.set(pdb, left - 1);
      plan.evictNow.push(pod);
    } else {
      plan.blocked.push({ pod: keyOf(pod), pdb });
    }
  }
  return plan;
}

/**
 * A normal-tier pod still on the node: evictable (even if blocked or already
 * requested), held (a job waited for may need DNS until it ends), or
 * terminating but not stuck.
 */
function holdsNormalTier(pod: PodView, now: number, hold?: HoldPolicy): boolean {
  if (isFinished(pod) || isDaemonSetPod(pod) || isMirrorPod(pod) || isCritical(pod)) return false;
  const verdict = classifyPod(pod, now, hold);
  return verdict.action === 'evict' || verdict.action === 'hold' || (verdict.action === 'wait' && !verdict.stuck);
}

/** Plain code-unit order, so the plan does not depend on the runtime's locale. */
const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
