/**
 * Drains that share a PodDisruptionBudget take turns, with no coordinator.
 *
 * Without this, every drain reads the same `disruptionsAllowed` and evicts up
 * to it: with twenty drains behind one PDB, nineteen of them get 429s for
 * every unit of budget (340 of 400 evictions refused in
 * examples/twenty-nodes.yaml).
 *
 * How it works: every drain announces on its own Node object (annotation
 * DEMAND_ANNOTATION, next to our draining taint) how many pods it still has
 * to evict under each PDB, when its lifecycle action started, and until when
 * its current round is awake to use a budget. Every drain reads the other
 * draining nodes (one LIST + WATCH of nodes with `spec.unschedulable=true`)
 * and computes, the same way, who gets each unit of a PDB's budget:
 *
 * - the drains awake now, ordered by (action start, node name): first come,
 *   first served, so the earliest node finishes first and the budget never
 *   waits for anyone while somebody can use it;
 * - walking that order, each drain takes min(its demand, what is left of
 *   disruptionsAllowed); a drain may evict only its own portion.
 *
 * The sum of the portions never exceeds disruptionsAllowed, so drains that
 * see the same picture never race each other to a 429; they can only race
 * when one's picture lags (a watch event in flight), which costs a refusal,
 * not a stall.
 *
 * Fairness: first come, first served uses the whole budget at every moment,
 * so the last node finishes at the PDB-paced ideal (the budget spent at full
 * rate), and earlier nodes finish earlier.
 *
 * Drains that die or sleep hold nothing: a demand counts only while its
 * `awakeUntil` is in the future (plus AWAKE_SLACK_MS). A drain between rounds
 * (a Wait state) or whose Lambda died is skipped, and its share passes to the
 * next drain at once; it takes its place again when its next round announces.
 */

/** Annotation on the draining node: JSON of NodeDemand. */
export const DEMAND_ANNOTATION = 'eks-graceful-drain/pdb-demand';

/** A drain's announcement, as stored on its node. */
export interface NodeDemand {
  /** When the drain's lifecycle action started (ms epoch): the queue order. */
  since: number;
  /** End of the announcing round (ms epoch): after it the demand holds no share. */
  awakeUntil: number;
  /** Pods still to evict that need a unit of a PDB's budget, by PDB key (`namespace/name`). */
  pdbs: Record<string, number>;
}

export interface DrainingNode {
  name: string;
  demand: NodeDemand;
}

/** A demand past its awakeUntil by more than this no longer counts (clock skew between Lambdas, round overrun). */
export const AWAKE_SLACK_MS = 2_000;

const compare = (a: DrainingNode, b: DrainingNode): number =>
  a.demand.since - b.demand.since || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The part of `disruptionsAllowed` of PDB `pdb` that node `self` may use now.
 * `self` counts with its own current demand whatever the others' list says
 * about it (its own announcement may lag).
 */
export function shareOf(
  pdb: string,
  disruptionsAllowed: number,
  self: DrainingNode,
  others: Iterable<DrainingNode>,
  now: number,
): number {
  let left = Math.max(0, disruptionsAllowed);
  const own = self.demand.pdbs[pdb] ?? 0;
  if (own <= 0) return 0;
  const queue = [...others].filter((n) => n.name !== self.name && isAwake(n.demand, now) && (n.demand.pdbs[pdb] ?? 0) > 0);
  queue.push(self);
  queue.sort(compare);
  for (const node of queue) {
    const wants = node === self ? own : node.demand.pdbs[pdb];
    if (node === self) return Math.min(wants, left);
    left -= Math.min(wants, left);
    if (left === 0) return 0;
  }
  return 0;
}

/**
 * No round outlives a Lambda invocation (15 min at most): an announcement
 * awake further ahead was not written by a drain of ours (anyone who may patch
 * nodes can write the annotation) and holds nothing, so it cannot starve the
 * real drains of a budget.
 */
export const MAX_AWAKE_AHEAD_MS = 15 * 60_000;

export const isAwake = (demand: NodeDemand, now: number): boolean =>
  demand.awakeUntil + AWAKE_SLACK_MS >= now && demand.awakeUntil <= now + MAX_AWAKE_AHEAD_MS;

/** Reads a node's announcement; anything malformed counts as no demand. */
export function parseDemand(text: string | undefined): NodeDemand | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<NodeDemand>;
    if (typeof value.since !== 'number' || typeof value.awakeUntil !== 'number' || typeof value.pdbs !== 'object' || value.pdbs === null) {
      return undefined;
    }
    const pdbs: Record<string, number> = {};
    for (const [k, v] of Object.entries(value.pdbs)) if (typeof v === 'number' && v > 0) pdbs[k] = Math.floor(v);
    return { since: value.since, awakeUntil: value.awakeUntil, pdbs };
  } catch {
    return undefined;
  }
}

/** Same counts (an announcement is re-sent only when they change or it is about to expire). */
export function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a).filter((k) => a[k] > 0);
  const kb = Object.keys(b).filter((k) => b[k] > 0);
  return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}
