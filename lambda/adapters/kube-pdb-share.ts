/**
 * The Kubernetes side of shared PDB budgets (see lambda/core/pdb-share.ts):
 * reading the other draining nodes' demands, announcing our own on our node,
 * and applying our portion to the PDB views a round plans with.
 *
 * Requests: one LIST of nodes with `fieldSelector=spec.unschedulable=true`
 * (cordoned nodes only: the only ones that can be draining; nodes have no
 * field selector for a taint) when a round (re)lists, a WATCH of the same
 * selection for the rest of the round, and a merge PATCH of our node's
 * annotation when our demand changes (at most once per eviction batch).
 */
import * as k8s from '@kubernetes/client-node';
import { AWAKE_SLACK_MS, DEMAND_ANNOTATION, isAwake, parseDemand, sameCounts, shareOf, type DrainingNode, type NodeDemand } from '../core/pdb-share';
import { keyOf, type PdbView } from '../core/kube-types';
import { KubeApiError, type KubeClient } from './kube-client';
import { DRAIN_TAINT_KEY } from './kube-nodes';

export const DRAINING_NODES_SELECTOR = 'spec.unschedulable=true';

/** Re-announce before our announcement would lapse while the round still runs. */
const RENEW_BEFORE_MS = 5_000;

/**
 * Mid-round, counts that went down are re-announced at most this often: a
 * stale count only makes the drains behind us leave a unit of budget unused
 * until then, while a PATCH per eviction would cost more requests than the
 * evictions themselves.
 */
export const ANNOUNCE_INTERVAL_MS = 1_000;

export class BudgetShare {
  /** Other draining nodes' demands, by node name. */
  readonly others = new Map<string, DrainingNode>();
  private announced?: NodeDemand;
  private announcedAt = -Infinity;
  private demand: Record<string, number> = {};
  /** A mid-round announcement held back by ANNOUNCE_INTERVAL_MS: when it is due. */
  private deferredUntil?: number;

  constructor(
    private readonly kube: KubeClient,
    private readonly nodeName: string,
    private readonly since: number,
  ) {}

  /** LISTs the draining nodes; returns the resourceVersion to watch from. */
  async load(): Promise<string | undefined> {
    const list = await this.kube.call('list draining nodes', ({ core }, options) =>
      core.listNode({ fieldSelector: DRAINING_NODES_SELECTOR }, options),
    );
    this.others.clear();
    for (const node of list.items) this.observe('ADDED', node);
    return list.metadata?.resourceVersion;
  }

  /** A node from the LIST or the watch. */
  observe(type: string, node: k8s.V1Node): void {
    const name = node.metadata?.name;
    if (!name) return;
    const demand = parseDemand(node.metadata?.annotations?.[DEMAND_ANNOTATION]);
    const ours = (node.spec?.taints ?? []).some((t) => t.key === DRAIN_TAINT_KEY);
    if (name === this.nodeName) return; // our own demand is what we last announced
    if (type === 'DELETED' || !demand || !ours) this.others.delete(name);
    else this.others.set(name, { name, demand });
  }

  /**
   * Announces our demand (pods to evict per PDB) awake until `awakeUntil`,
   * unless what the node already says is the same and lasts long enough.
   */
  async announce(demand: Record<string, number>, awakeUntil: number, now: number, opts: { onlyIfShared?: boolean } = {}): Promise<void> {
    this.demand = demand;
    const last = this.announced;
    const empty = Object.keys(demand).length === 0;
    if (last && sameCounts(last.pdbs, demand) && (empty || last.awakeUntil >= Math.min(awakeUntil, now + RENEW_BEFORE_MS))) return;
    if (!last && empty) return;
    this.deferredUntil = undefined;
    if (opts.onlyIfShared) {
      // Mid-round, counts that went down matter only to other drains that are awake:
      // a drain alone saves the PATCH (a newcomer makes the next change re-announce).
      if (![...this.others.values()].some((n) => isAwake(n.demand, now))) return;
      if (now < this.announcedAt + ANNOUNCE_INTERVAL_MS) {
        this.deferredUntil = this.announcedAt + ANNOUNCE_INTERVAL_MS;
        return;
      }
    }
    const next: NodeDemand = { since: this.since, awakeUntil, pdbs: demand };
    const body = { metadata: { annotations: { [DEMAND_ANNOTATION]: JSON.stringify(next) } } };
    try {
      await this.kube.call(`announce demand on ${this.nodeName}`, ({ core }, options) =>
        core.patchNode({ name: this.nodeName, body }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch, options)),
      );
      this.announced = next;
      this.announcedAt = now;
    } catch (err) {
      // Not announcing costs the others a few 429s, not our drain: go on.
      if (!(err instanceof KubeApiError)) throw err;
    }
  }

  /**
   * When the round should look again without a watch event (ms epoch): the
   * next awake demand on a budget we want lapses, or a held-back announcement is due.
   */
  nextLapse(now: number): number | undefined {
    let next = this.deferredUntil;
    for (const n of this.others.values()) {
      if (!isAwake(n.demand, now) || !Object.keys(n.demand.pdbs).some((p) => (this.demand[p] ?? 0) > 0)) continue;
      const lapse = n.demand.awakeUntil + AWAKE_SLACK_MS + 1;
      next = next === undefined ? lapse : Math.min(next, lapse);
    }
    return next;
  }

  /** The PDB views with each budget we want cut down to our portion of it. */
  apply(pdbs: Iterable<PdbView>, now: number): PdbView[] {
    const self: DrainingNode = { name: this.nodeName, demand: { since: this.since, awakeUntil: Infinity, pdbs: this.demand } };
    return [...pdbs].map((b) => {
      const key = keyOf(b);
      if (!(this.demand[key] > 0)) return b;
      return { ...b, disruptionsAllowed: shareOf(key, b.disruptionsAllowed, self, this.others.values(), now) };
    });
  }
}
