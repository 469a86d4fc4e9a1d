import { keyOf, type PdbView, type PodView } from './kube-types';
import { selectorMatches } from './label-selector';
import { classifyPod, EVICTION_TIERS, evictionTier, type EvictionTier, type HoldPolicy } from './pod-filters';

/**
 * Which pods one drain round evicts. The round is idempotent: it re-reads the
 * pods and PDBs each time and asks for no more than the API would grant, so
 * the caller just runs it again later (Karpenter's "one step, then come back").
 */
export interface EvictionPlan {
  /** Pods to send an eviction for now, in that order (namespace/name; one tier per round). */
  evictNow: PodView[];
  /**
   * The API would refuse these now (429), so they are not sent; retried when
   * the PDB changes. `reason` is 'status-stale' when the PDB's status lags its
   * spec (observedGeneration < generation), absent when the budget is spent.
   */
  blocked: Array<{ pod: string; pdb: string; reason?: 'status-stale' }>;
  /** More than one PDB selects the pod: the eviction API answers 500 for it until someone fixes the PDBs, so it is not sent. */
  misconfigured: Array<{ pod: string; pdbs: string[] }>;
  /** Pods of a later tier held back until every pod of the earlier tiers has gone. */
  deferred: string[];
  /** The tier this round works on: the first one with a pod still on the node. Absent when no tier holds a pod. */
  tier?: EvictionTier;
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
 * What the eviction API does with one pod under its PDBs
 * (kubernetes pkg/registry/core/pod/storage/eviction.go):
 * - a Pending pod (or a finished or terminating one) ignores PDBs;
 * - more than one PDB: 500, never fixes itself;
 * - an unready pod goes without charging the budget under AlwaysAllow, and
 *   under IfHealthyBudget (the default) while currentHealthy >= desiredHealthy > 0;
 * - otherwise checkAndDecrement: 429 while status.observedGeneration lags
 *   metadata.generation ("still being processed"), 429 when disruptionsAllowed
 *   is 0, else the budget shrinks by one.
 */
export type PdbDecision =
  | { kind: 'free' }
  | { kind: 'charge'; pdb: PdbView }
  | { kind: 'stale'; pdb: PdbView }
  | { kind: 'misconfigured'; pdbs: PdbView[] };

export function pdbDecision(pod: PodView, pdbs: readonly PdbView[]): PdbDecision {
  if (pod.phase === 'Pending') return { kind: 'free' };
  const selecting = pdbsSelecting(pod, pdbs);
  if (selecting.length > 1) return { kind: 'misconfigured', pdbs: selecting };
  if (selecting.length === 0) return { kind: 'free' };
  const pdb = selecting[0];
  if (!pod.ready) {
    if (pdb.unhealthyPodEvictionPolicy === 'AlwaysAllow') return { kind: 'free' };
    const current = pdb.currentHealthy ?? 0;
    const desired = pdb.desiredHealthy ?? 0;
    if (current >= desired && desired > 0) return { kind: 'free' };
  }
  return pdb.statusStale ? { kind: 'stale', pdb } : { kind: 'charge', pdb };
}

/** PDBs in the pod's namespace whose selector matches its labels. */
export const pdbsSelecting = (pod: PodView, pdbs: readonly PdbView[]): PdbView[] =>
  pdbs.filter((pdb) => pdb.namespace === pod.namespace && selectorMatches(pdb.selector, pod.labels));

/**
 * Rules:
 * - only pods whose verdict is 'evict' and that were not already requested;
 * - tiers as in Karpenter's terminator (normal, daemonset, critical,
 *   critical-daemonset): a tier waits while a pod of an earlier tier is still
 *   on the node, evictable (even blocked or already requested) or terminating.
 *   A terminating pod that is stuck (> 60 s past its deletionTimestamp) no
 *   longer holds its tier, as Karpenter's IsWaitingEviction excludes it; pods
 *   the drain leaves never do;
 * - each PDB lends at most `disruptionsAllowed` evictions per round, shared by
 *   all the pods it selects; pods the API lets through without charging it
 *   (see pdbDecision) are sent without touching the budget;
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

  const tier = currentTier(pods, now, opts.hold);
  const candidates = pods
    .filter((pod) => classifyPod(pod, now, opts.hold).action === 'evict' && !alreadyRequested.has(keyOf(pod)))
    .sort(byKey);
  const plan: EvictionPlan = {
    evictNow: [],
    blocked: [],
    misconfigured: [],
    deferred: candidates.filter((pod) => evictionTier(pod) !== tier).map(keyOf),
    ...(tier ? { tier } : {}),
  };
  const budget = new Map(pdbs.map((pdb) => [keyOf(pdb), Math.max(0, pdb.disruptionsAllowed)]));

  for (const pod of candidates.filter((p) => evictionTier(p) === tier)) {
    const decision = pdbDecision(pod, pdbs);
    switch (decision.kind) {
      case 'free':
        plan.evictNow.push(pod);
        break;
      case 'misconfigured':
        plan.misconfigured.push({ pod: keyOf(pod), pdbs: decision.pdbs.map(keyOf).sort(compareKeys) });
        break;
      case 'stale':
        plan.blocked.push({ pod: keyOf(pod), pdb: keyOf(decision.pdb), reason: 'status-stale' });
        break;
      case 'charge': {
        const pdb = keyOf(decision.pdb);
        const left = budget.get(pdb) ?? 0;
        if (left > 0) {
          budget.set(pdb, left - 1);
          plan.evictNow.push(pod);
        } else {
          plan.blocked.push({ pod: keyOf(pod), pdb });
        }
        break;
      }
    }
  }
  return plan;
}

/**
 * The first tier with a pod still to evict, held (a job waited for may need
 * DNS and its log shipper until it ends), or still terminating (not stuck).
 */
export function currentTier(pods: readonly PodView[], now: number, hold?: HoldPolicy): EvictionTier | undefined {
  const holding = new Set<EvictionTier>();
  for (const pod of pods) {
    const verdict = classifyPod(pod, now, hold);
    if (verdict.action === 'evict' || verdict.action === 'hold' || (verdict.action === 'wait' && !verdict.stuck)) holding.add(evictionTier(pod));
  }
  return EVICTION_TIERS.find((tier) => holding.has(tier));
}

/** Plain code-unit order, so the plan does not depend on the runtime's locale. */
const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Seconds of the time left that the pods of the tiers after `tier` keep for
 * themselves when a deadline squeezes the drain: the longest grace among the
 * later-tier pods still to evict or held, at most a quarter of `leftSeconds`.
 * An earlier-tier pod whose grace is clamped to the time left is clamped this
 * much more, so the log shippers, DNS and proxies that go last still get a
 * graceful stop (without it a Spot drain whose job pods use the whole two
 * minutes leaves the DaemonSet tier a grace of 0). No later-tier pod: 0.
 */
export function laterTiersReserveSeconds(pods: readonly PodView[], tier: EvictionTier, now: number, leftSeconds: number, hold?: HoldPolicy): number {
  const rank = EVICTION_TIERS.indexOf(tier);
  let longest = 0;
  for (const pod of pods) {
    if (EVICTION_TIERS.indexOf(evictionTier(pod)) <= rank) continue;
    const action = classifyPod(pod, now, hold).action;
    if (action === 'evict' || action === 'hold') longest = Math.max(longest, pod.terminationGracePeriodSeconds);
  }
  return Math.max(0, Math.min(longest, Math.floor(leftSeconds / 4)));
}
