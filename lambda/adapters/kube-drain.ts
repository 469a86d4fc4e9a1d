/**
 * One drain round (Karpenter style: one bounded step, then return a status;
 * the workflow does the long waiting between rounds).
 *
 * A round LISTs the node's pods and the cluster's PDBs once, evicts what the
 * policy allows, and then — until `watchUntil` — watches both and evicts more
 * as PDB budgets free up, so a node behind tight PDBs drains at the pace the
 * PDBs allow rather than at the pace of the workflow's polling. It reads each
 * PDB's disruptionsAllowed and evicts no more than that, where kubectl retries
 * every blocked pod every 5 s and collects a 429 each time.
 */
import * as k8s from '@kubernetes/client-node';
import { classifyPod, type HoldPolicy, type HoldReason } from '../core/pod-filters';
import { planEvictions } from '../core/eviction-plan';
import { selectorMatches } from '../core/label-selector';
import { summarizeNode, type NodeStatus } from '../core/node-status';
import { clampedGraceSeconds } from '../core/deadline';
import { keyOf, type PdbView, type PodView } from '../core/kube-types';
import {
  KubeApiError,
  isDisruptionBudgetRefusal,
  isMultiplePdbError,
  toPdbView,
  toPodView,
  type KubeClient,
} from './kube-client';
import { BudgetShare, DRAINING_NODES_SELECTOR } from './kube-pdb-share';

export type EvictionOutcome = 'evicted' | 'gone' | 'blocked' | 'misconfigured' | 'retry-later';

export type DrainEvent =
  | { type: 'evicted' | 'gone' | 'retry-later'; pod: string; detail?: string }
  /** The API refused the eviction: its PDB had no budget (429). */
  | { type: 'blocked'; pod: string; pdb?: string }
  /** Not even tried: its PDB allows no disruption now (we read the budget first). Once per pod and round. */
  | { type: 'held-back'; pod: string; pdb: string }
  | { type: 'misconfigured'; pod: string; detail?: string }
  | { type: 'pod-deleted'; pod: string }
  /** Waited for, not evicted (do-not-disrupt…), until `evictAt` at the latest. Once per pod and round. */
  | { type: 'held'; pod: string; reason: HoldReason; evictAt: number }
  /** An evicted pod's Job starts its replacement while the pod still terminates (see jobReplacementRisk). */
  | { type: 'job-replacement'; pod: string; job: string; detail: string }
  | { type: 'force-deleted'; pod: string; graceSeconds: number };

export interface DrainRoundOptions {
  nodeName: string;
  /** Keep watching and evicting until this moment (ms epoch); at or before now: a single pass. */
  watchUntil: number;
  /**
   * How far past `watchUntil` the round may go to see a grace period end,
   * rather than hand it to the workflow's next poll (ms epoch): any end before
   * it when watching eagerly (one longer round costs less than a Wait and
   * another round), otherwise one within GRACE_END_SLACK_MS. @default watchUntil
   */
  watchLimit?: number;
  /**
   * What makes the round keep watching until `watchUntil`:
   * - 'eager': anything that may change soon — a PDB's budget freeing up, the
   *   critical tier opening, any terminating pod (it may exit before its grace
   *   ends). Right while a drain is young or moving: cheaper than polling often.
   * - 'imminent': only grace periods that end within the window. For a drain
   *   that has been stuck for a while, paced polling costs less than Lambda seconds.
   * @default 'eager'
   */
  watch?: 'eager' | 'imminent';
  /** Evictions in flight at once. @default 10 */
  concurrency?: number;
  /**
   * Take turns with the other drains on shared PDB budgets (lambda/core/pdb-share.ts):
   * `since` is when this drain's lifecycle action started (ms epoch), its place in
   * the queue. Absent: this round uses whole budgets, as if alone.
   */
  share?: { since: number };
  /** Wait for pods that ask for it instead of evicting them (pod-filters' hold). @default none: evict them */
  hold?: HoldPolicy;
  onEvent?: (event: DrainEvent) => void;
}

export interface DrainRoundResult {
  status: NodeStatus;
  /** Evictions the API accepted in this round. */
  evicted: number;
  /** Evictions refused because a PDB had no budget (429). */
  pdbRefusals: number;
  /** Evictions answered with "more than one PodDisruptionBudget" (500). */
  misconfiguredRefusals: number;
  /** Evicted pods whose Job starts a replacement while they still terminate. */
  jobReplacements: number;
}

const podFieldSelector = (nodeName: string) => `spec.nodeName=${nodeName}`;

/**
 * Watches a round may re-open after the server ended them (client-node also
 * ends a watch silent for 30 s). Past this the round returns and leaves the
 * rest to the workflow's polling: a watch refused at once (RBAC without
 * `watch`, a proxy) must not turn into a LIST loop.
 */
const MAX_WATCH_RESTARTS = 3;

/** A grace period ending this soon after the window is worth waiting for (plus the kubelet's report). */
const GRACE_END_SLACK_MS = 10_000;
/**
 * How long after a grace period ends the round keeps watching for the pod to
 * go: the kubelet kills the container at the end of the grace, its PLEG notices
 * within a second, and only then does it report the final status and delete
 * the pod. Seen 1–3 s; a round that stopped at +2 s handed the completion to
 * the next poll (≥ 5 s later). The round returns as soon as the pod is gone.
 */
const KUBELET_REPORT_MS = 10_000;

export async function drainRound(kube: KubeClient, options: DrainRoundOptions): Promise<DrainRoundResult> {
  const clock = kube.retry.clock;
  const emit = options.onEvent ?? (() => undefined);
  const pods = new Map<string, PodView>();
  const pdbs = new Map<string, PdbView>();
  const result = { evicted: 0, pdbRefusals: 0, misconfiguredRefusals: 0, jobReplacements: 0 };
  /** Pods refused for a reason a retry in this round will not fix (403, errors). */
  const holdOff = new Set<string>();
  const misconfigured = new Map<string, string>();
  /** Pods refused by a PDB: not asked again until a PDB changes (the plan lets unready pods skip budgets). */
  const refused = new Set<string>();

  const share = options.share ? new BudgetShare(kube, options.nodeName, options.share.since) : undefined;

  /**
   * One LIST of the node's pods. PDBs only matter (and are LISTed) while some
   * pod is still to be evicted, and only in the namespaces of those pods: a
   * PDB selects pods of its own namespace only, and a cluster-wide LIST per
   * drain per round would not scale to hundreds of drains.
   */
  const list = async () => {
    const podList = await kube.call('list pods', ({ core }, requestOptions) =>
      core.listPodForAllNamespaces({ fieldSelector: podFieldSelector(options.nodeName) }, requestOptions),
    );
    pods.clear();
    pdbs.clear();
    for (const p of podList.items) pods.set(keyOf(toPodView(p)), toPodView(p));
    const now = clock.now();
    const namespaces = [...new Set([...pods.values()].filter((p) => classifyPod(p, now, options.hold).action === 'evict').map((p) => p.namespace))].sort();
    const pdbsVersions = new Map<string, string | undefined>();
    for (const namespace of namespaces) {
      const pdbList = await kube.call(`list poddisruptionbudgets in ${namespace}`, ({ policy }, requestOptions) =>
        policy.listNamespacedPodDisruptionBudget({ namespace }, requestOptions),
      );
      for (const b of pdbList.items) pdbs.set(keyOf(toPdbView(b)), toPdbView(b));
      pdbsVersions.set(namespace, pdbList.metadata?.resourceVersion);
    }
    // Shared budgets: announce our demand first, then read the others', so that
    // of two drains starting together at least one sees the other.
    if (share && pdbs.size > 0) await announce(options.watchUntil);
    const nodesVersion = share && pdbs.size > 0 ? await share.load() : undefined;
    return { podsVersion: podList.metadata?.resourceVersion, pdbsVersions, nodesVersion };
  };

  /** Our pods that need a unit of some PDB's budget, announced to the other drains (see kube-pdb-share.ts). */
  const announce = async (awakeUntil: number, opts: { onlyIfShared?: boolean } = {}) => {
    if (!share) return;
    await share.announce(demandOf(pods, pdbs, holdOff, clock.now(), options.hold), awakeUntil, clock.now(), opts);
  };
  /** The PDB views this round plans with: our portion of each shared budget. */
  const budgets = () => (share ? share.apply(pdbs.values(), clock.now()) : [...pdbs.values()]);

  const evictOne = async (pod: PodView): Promise<void> => {
    const key = keyOf(pod);
    const outcome = await evict(kube, pod);
    switch (outcome.outcome) {
      case 'evicted': {
        result.evicted++;
        // Seen as terminating until the watch reports the server's view.
        const now = clock.now();
        pods.set(key, { ...pod, deletionTimestamp: now + pod.terminationGracePeriodSeconds * 1000 });
        spendBudget(pod, pdbs);
        emit({ type: 'evicted', pod: key });
        if (pod.controllerKind === 'Job' && pod.controllerName) {
          const risk = await jobReplacementRisk(kube, pod.namespace, pod.controllerName);
          if (risk) {
            result.jobReplacements++;
            emit({ type: 'job-replacement', pod: key, job: `${pod.namespace}/${pod.controllerName}`, detail: risk });
          }
        }
        break;
      }
      case 'gone':
        pods.delete(key);
        emit({ type: 'gone', pod: key });
        break;
      case 'blocked': {
        result.pdbRefusals++;
        const pdb = exhaustBudget(pod, pdbs);
        refused.add(key);
        emit({ type: 'blocked', pod: key, pdb });
        break;
      }
      case 'misconfigured':
        result.misconfiguredRefusals++;
        misconfigured.set(key, outcome.detail ?? '');
        holdOff.add(key);
        emit({ type: 'misconfigured', pod: key, detail: outcome.detail });
        break;
      case 'retry-later':
        holdOff.add(key);
        emit({ type: 'retry-later', pod: key, detail: outcome.detail });
        break;
    }
  };

  const heldBack = new Set<string>();
  const held = new Set<string>();
  let watchRestarts = 0;
  /** The latest the round may last: watches must not give up before. */
  const latestEnd = Math.max(options.watchUntil, options.watchLimit ?? options.watchUntil);
  let versions = await list();
  const watcher = new NodeWatcher(kube, options.nodeName, pods, pdbs, () => refused.clear(), share);
  try {
    for (;;) {
      const skip = new Set([...holdOff, ...refused]);
      const plan = planEvictions([...pods.values()], budgets(), clock.now(), { alreadyRequested: skip, hold: options.hold });
      for (const { pod, pdb } of plan.blocked) {
        if (!heldBack.has(pod)) emit({ type: 'held-back', pod, pdb });
        heldBack.add(pod);
      }
      await inParallel(plan.evictNow, options.concurrency ?? 10, evictOne);
      const status = currentStatus(pods, budgets(), misconfigured, clock.now(), options.hold);
      for (const h of status.held) {
        if (!held.has(h.pod)) emit({ type: 'held', ...h });
        held.add(h.pod);
      }
      const now = clock.now();
      const until = roundEnd(options, status.earliestExpectedEnd);
      // Awake until this round's end (renewed if it stretches); a drain done with a PDB releases its portion.
      if (versions.nodesVersion !== undefined) await announce(until, { onlyIfShared: true });
      const imminent = status.earliestExpectedEnd !== undefined && status.earliestExpectedEnd <= until;
      const somethingCanChange =
        (options.watch ?? 'eager') === 'eager'
          ? status.blocked.length > 0 || status.deferred.length > 0 || status.terminating > status.stuck.length || status.held.length > 0
          : imminent;
      if (status.drained || now >= until || !somethingCanChange || watchRestarts > MAX_WATCH_RESTARTS) {
        return { status, ...result };
      }
      if (!watcher.started) await watcher.start(versions, emit, latestEnd);
      // A drain ahead of us whose round ends gives up its portion without a watch event: look again then.
      const changed = await watcher.nextChange(Math.min(until, share?.nextLapse(now) ?? Infinity));
      if (changed === 'watch-ended') {
        // The server closed a watch (timeout, too old resourceVersion): read again.
        watchRestarts++;
        watcher.stop();
        if (watchRestarts > MAX_WATCH_RESTARTS) continue;
        versions = await list();
        refused.clear();
        await watcher.start(versions, emit, latestEnd);
      }
    }
  } finally {
    watcher.stop();
  }
}

/**
 * The window, stretched to see a grace period end and the kubelet's report of
 * it, also when the grace ends inside the window but its report may come
 * after it (see DrainRoundOptions.watchLimit).
 */
function roundEnd(options: DrainRoundOptions, earliestExpectedEnd: number | undefined): number {
  const limit = options.watchLimit ?? options.watchUntil;
  if (earliestExpectedEnd === undefined) return options.watchUntil;
  const seen = earliestExpectedEnd + KUBELET_REPORT_MS;
  if (seen <= options.watchUntil) return options.watchUntil;
  const stretchable = (options.watch ?? 'eager') === 'eager' ? limit : options.watchUntil + GRACE_END_SLACK_MS + KUBELET_REPORT_MS;
  return seen <= Math.min(limit, stretchable) ? seen : options.watchUntil;
}

function currentStatus(
  pods: Map<string, PodView>,
  pdbs: PdbView[],
  misconfigured: Map<string, string>,
  now: number,
  hold?: HoldPolicy,
): NodeStatus {
  const all = [...pods.values()];
  // Plan without hold-offs so pods refused this round still count as evictable.
  const plan = planEvictions(all, pdbs, now, { hold });
  const status = summarizeNode(all, plan, now, hold);
  const known = new Set(status.misconfigured.map((m) => m.pod));
  for (const [pod, detail] of misconfigured) {
    if (pods.has(pod) && !known.has(pod)) status.misconfigured.push({ pod, pdbs: detail ? [detail] : [] });
  }
  return status;
}

/**
 * Pods the plan would send if budgets were unlimited that need a unit of a
 * PDB's budget (Running, Ready, under exactly one PDB), counted per PDB: what
 * this drain announces to the others.
 */
function demandOf(pods: Map<string, PodView>, pdbs: Map<string, PdbView>, holdOff: ReadonlySet<string>, now: number, hold?: HoldPolicy): Record<string, number> {
  const unlimited = [...pdbs.values()].map((b) => ({ ...b, disruptionsAllowed: Number.MAX_SAFE_INTEGER }));
  const plan = planEvictions([...pods.values()], unlimited, now, { alreadyRequested: holdOff, hold });
  const demand: Record<string, number> = {};
  for (const pod of plan.evictNow) {
    if (pod.phase === 'Pending' || !pod.ready) continue;
    const selecting = pdbsSelecting(pod, pdbs);
    if (selecting.length === 1) demand[keyOf(selecting[0])] = (demand[keyOf(selecting[0])] ?? 0) + 1;
  }
  return demand;
}

/** PDBs in the pod's namespace whose selector matches it. */
const pdbsSelecting = (pod: PodView, pdbs: Map<string, PdbView>): PdbView[] =>
  [...pdbs.values()].filter((b) => b.namespace === pod.namespace && selectorMatches(b.selector, pod.labels));

/** Mirrors the API server: an accepted eviction spends one disruption of each PDB. */
function spendBudget(pod: PodView, pdbs: Map<string, PdbView>): void {
  for (const b of pdbsSelecting(pod, pdbs)) {
    pdbs.set(keyOf(b), { ...b, disruptionsAllowed: Math.max(0, b.disruptionsAllowed - 1) });
  }
}

/** After a 429 our copy of the budget was stale: none left until the watch says otherwise. */
function exhaustBudget(pod: PodView, pdbs: Map<string, PdbView>): string | undefined {
  const selecting = pdbsSelecting(pod, pdbs);
  for (const b of selecting) pdbs.set(keyOf(b), { ...b, disruptionsAllowed: 0 });
  return selecting.length > 0 ? keyOf(selecting[0]) : undefined;
}

interface EvictResult {
  outcome: EvictionOutcome;
  detail?: string;
}

/** POST …/pods/NAME/eviction (policy/v1) with a UID precondition, every answer mapped. */
export async function evict(kube: KubeClient, pod: PodView): Promise<EvictResult> {
  const body: k8s.V1Eviction = {
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name: pod.name, namespace: pod.namespace },
    deleteOptions: { preconditions: { uid: pod.uid } },
  };
  try {
    await kube.call(`evict ${keyOf(pod)}`, ({ core }, options) =>
      core.createNamespacedPodEviction({ name: pod.name, namespace: pod.namespace, body }, options),
    );
    return { outcome: 'evicted' };
  } catch (err) {
    if (!(err instanceof KubeApiError)) throw err;
    const cause = (err.cause as { body?: unknown } | undefined)?.body;
    const status = typeof cause === 'string' ? safeJson(cause) : undefined;
    switch (err.status) {
      case 404: // already gone
        return { outcome: 'gone' };
      case 409:
        // Usually the UID precondition: the pod we listed is gone. But the API
        // server also answers 409 when its own PDB update kept conflicting, with
        // the pod still there: look before calling it gone (kubectl does too).
        return (await podStillThere(kube, pod)) ? { outcome: 'retry-later', detail: err.message } : { outcome: 'gone' };
      case 429:
        return isDisruptionBudgetRefusal(status)
          ? { outcome: 'blocked' }
          : { outcome: 'retry-later', detail: 'API throttling persisted' };
      case 500:
        if (isMultiplePdbError(status)) return { outcome: 'misconfigured', detail: status?.message };
        return { outcome: 'retry-later', detail: err.message };
      case 403: // namespace terminating (or RBAC): try again next round
      default:
        return { outcome: 'retry-later', detail: err.message };
    }
  }
}

/**
 * Whether the Job of an evicted pod starts a replacement while the pod still
 * runs its grace period (pkg/controller/job isPodFailed): unless its
 * podReplacementPolicy is Failed (or it has a podFailurePolicy, which implies
 * Failed), a terminating pod counts as failed at once, and the controller
 * either starts another pod beside it (failures left under backoffLimit) or
 * marks the whole Job failed while the pod still works. Undefined when
 * neither happens. A Job that cannot be read (gone, RBAC) is not reported.
 */
export async function jobReplacementRisk(kube: KubeClient, namespace: string, name: string): Promise<string | undefined> {
  let job: k8s.V1Job;
  try {
    job = await kube.call(`get job ${namespace}/${name}`, ({ batch }, options) => batch.readNamespacedJob({ name, namespace }, options));
  } catch (err) {
    if (err instanceof KubeApiError) return undefined;
    throw err;
  }
  const spec = job.spec;
  if (!spec || spec.podReplacementPolicy === 'Failed' || spec.podFailurePolicy) return undefined;
  const policy = spec.podReplacementPolicy ?? 'TerminatingOrFailed (the default)';
  const backoffLimit = spec.backoffLimit ?? 6;
  const failed = job.status?.failed ?? 0;
  return failed < backoffLimit
    ? `podReplacementPolicy ${policy}: the Job starts a replacement while this pod still terminates (two copies at once); set podReplacementPolicy: Failed`
    : `podReplacementPolicy ${policy} and backoffLimit ${backoffLimit} reached: the Job is marked failed while this pod still terminates; set podReplacementPolicy: Failed`;
}

async function podStillThere(kube: KubeClient, pod: PodView): Promise<boolean> {
  try {
    const current = await kube.call(`get ${keyOf(pod)}`, ({ core }, options) =>
      core.readNamespacedPod({ name: pod.name, namespace: pod.namespace }, options),
    );
    return current.metadata?.uid === pod.uid;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return false;
    throw err;
  }
}

function safeJson(text: string): { message?: string; details?: { causes?: Array<{ reason?: string }> } } | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * At the deadline: deletes the pods still to go, with their grace clamped to
 * the time left before `hardLimitAt`. A pod already terminating whose grace
 * ends too late is deleted again with the shorter grace (the API server
 * shortens a pending deletion). DaemonSet and mirror pods stay.
 */
export async function forceDeletePods(
  kube: KubeClient,
  nodeName: string,
  hardLimitAt: number,
  onEvent?: (event: DrainEvent) => void,
): Promise<number> {
  const now = kube.retry.clock.now();
  const list = await kube.call('list pods', ({ core }, options) =>
    core.listPodForAllNamespaces({ fieldSelector: podFieldSelector(nodeName) }, options),
  );
  let deleted = 0;
  for (const pod of list.items.map(toPodView)) {
    const verdict = classifyPod(pod, now);
    if (verdict.action !== 'evict' && verdict.action !== 'wait') continue;
    const grace = clampedGraceSeconds(pod.terminationGracePeriodSeconds, now, hardLimitAt);
    if (verdict.action === 'wait' && verdict.expectedEnd <= now + grace * 1000) continue;
    try {
      await kube.call(`delete ${keyOf(pod)}`, ({ core }, options) =>
        core.deleteNamespacedPod(
          {
            name: pod.name,
            namespace: pod.namespace,
            gracePeriodSeconds: grace,
            body: { gracePeriodSeconds: grace, preconditions: { uid: pod.uid } },
          },
          options,
        ),
      );
      deleted++;
      onEvent?.({ type: 'force-deleted', pod: keyOf(pod), graceSeconds: grace });
    } catch (err) {
      if (err instanceof KubeApiError && (err.status === 404 || err.status === 409)) continue;
      throw err;
    }
  }
  return deleted;
}

async function inParallel<T>(items: T[], limit: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await worker(items[next++]);
  });
  await Promise.all(lanes);
}

/**
 * Watches the node's pods, the PDBs of the namespaces listed, and (when
 * sharing budgets) the draining nodes, keeping the maps current, and wakes
 * the round on every change. Every watch starts from its LIST's
 * resourceVersion, so nothing between the LIST and the watch is missed.
 */
class NodeWatcher {
  started = false;
  private controllers: AbortController[] = [];
  private wake?: (reason: 'changed' | 'watch-ended') => void;
  private pending: 'changed' | 'watch-ended' | undefined;

  constructor(
    private readonly kube: KubeClient,
    private readonly nodeName: string,
    private readonly pods: Map<string, PodView>,
    private readonly pdbs: Map<string, PdbView>,
    private readonly onPdbChange: () => void,
    private readonly share?: BudgetShare,
  ) {}

  async start(
    versions: { podsVersion?: string; pdbsVersions: Map<string, string | undefined>; nodesVersion?: string },
    emit: (e: DrainEvent) => void,
    until: number,
  ) {
    const { podsVersion } = versions;
    this.started = true;
    this.pending = undefined;
    const { config } = await this.kube.connect();
    const watch = new k8s.Watch(config);
    // client-node ends a watch after 30 s without data (a private field of
    // Watch in 2.x); a quiet node is normal, so allow the whole window instead
    // of re-opening the watch mid-round.
    const inactivity = watch as unknown as { requestTimeoutMs?: number };
    if (typeof inactivity.requestTimeoutMs === 'number') {
      inactivity.requestTimeoutMs = Math.max(inactivity.requestTimeoutMs, until - this.kube.retry.clock.now() + 5_000);
    }
    const ended = () => this.signal('watch-ended');
    this.controllers.push(
      await watch.watch(
        '/api/v1/pods',
        { fieldSelector: podFieldSelector(this.nodeName), resourceVersion: podsVersion, allowWatchBookmarks: true },
        (type, obj: k8s.V1Pod) => {
          if (type === 'BOOKMARK') return;
          if (type === 'ERROR') return this.signal('watch-ended');
          const view = toPodView(obj);
          if (type === 'DELETED') {
            this.pods.delete(keyOf(view));
            emit({ type: 'pod-deleted', pod: keyOf(view) });
          } else this.pods.set(keyOf(view), view);
          this.signal('changed');
        },
        ended,
      ),
    );
    // One watch per namespace listed (none once no pod is left to evict: PDBs cannot matter then).
    for (const [namespace, pdbsVersion] of versions.pdbsVersions) {
      this.controllers.push(
        await watch.watch(
          `/apis/policy/v1/namespaces/${encodeURIComponent(namespace)}/poddisruptionbudgets`,
          { resourceVersion: pdbsVersion, allowWatchBookmarks: true },
          (type, obj: k8s.V1PodDisruptionBudget) => {
            if (type === 'BOOKMARK') return;
            if (type === 'ERROR') return this.signal('watch-ended');
            const view = toPdbView(obj);
            if (type === 'DELETED') this.pdbs.delete(keyOf(view));
            else this.pdbs.set(keyOf(view), view);
            this.onPdbChange();
            this.signal('changed');
          },
          ended,
        ),
      );
    }
    const share = this.share;
    if (!share || versions.nodesVersion === undefined) return;
    // The other drains' demands change as they evict: our portion with them.
    this.controllers.push(
      await watch.watch(
        '/api/v1/nodes',
        { fieldSelector: DRAINING_NODES_SELECTOR, resourceVersion: versions.nodesVersion, allowWatchBookmarks: true },
        (type, obj: k8s.V1Node) => {
          if (type === 'BOOKMARK') return;
          if (type === 'ERROR') return this.signal('watch-ended');
          share.observe(type, obj);
          this.signal('changed');
        },
        ended,
      ),
    );
  }

  /** Resolves on the next change, when a watch ends, or at `until`. */
  async nextChange(until: number): Promise<'changed' | 'watch-ended' | 'timeout'> {
    if (this.pending) {
      const reason = this.pending;
      this.pending = undefined;
      return reason;
    }
    const clock = this.kube.retry.clock;
    const abort = new AbortController();
    const woken = new Promise<'changed' | 'watch-ended'>((resolve) => (this.wake = resolve));
    const timedOut = clock.sleep(Math.max(0, until - clock.now()), abort.signal).then(() => 'timeout' as const);
    const reason = await Promise.race([woken, timedOut]);
    abort.abort();
    this.wake = undefined;
    this.pending = undefined;
    return reason;
  }

  private signal(reason: 'changed' | 'watch-ended') {
    if (this.wake) this.wake(reason);
    else if (this.pending !== 'watch-ended') this.pending = reason;
  }

  stop() {
    for (const c of this.controllers) c.abort();
    this.controllers = [];
    this.started = false;
  }
}
