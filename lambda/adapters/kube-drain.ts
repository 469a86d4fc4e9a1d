/**
 * One drain round (Karpenter style: one bounded step, then return a status;
 * the workflow does the long waiting between rounds).
 *
 * A round LISTs the node's pods and the PDBs once, evicts what the policy
 * allows, and then — until `watchUntil` — watches both and evicts more as PDB
 * budgets free up, so a node behind tight PDBs drains at the pace the PDBs
 * allow rather than at the pace of the workflow's polling. It reads each
 * PDB's disruptionsAllowed and evicts no more than that, where kubectl retries
 * every blocked pod every 5 s and collects a 429 each time. Drains that share
 * a PDB take turns on its budget (kube-pdb-share.ts).
 */
import * as k8s from '@kubernetes/client-node';
import { classifyPod, daemonSetWouldReturn, evictionTier, isDaemonSetPod, type EvictionTier, type HoldPolicy, type HoldReason } from '../core/pod-filters';
import { currentTier, laterTiersReserveSeconds, pdbDecision, pdbsSelecting, planEvictions } from '../core/eviction-plan';
import { blockingVolumeAttachments, summarizeNode, type NodeStatus, type VolumeAttachmentView } from '../core/node-status';
import { clampedGraceSeconds, deleteGraceSeconds, graceLeftSeconds } from '../core/deadline';
import { keyOf, type PdbView, type PodView } from '../core/kube-types';
import {
  KubeApiError,
  isDisruptionBudgetRefusal,
  isMultiplePdbError,
  isNamespaceTerminating,
  type ApiStatus,
  toPdbView,
  toPodView,
  type KubeClient,
} from './kube-client';
import { BudgetShare, DRAINING_NODES_SELECTOR } from './kube-pdb-share';

export type EvictionOutcome = 'evicted' | 'gone' | 'blocked' | 'misconfigured' | 'forbidden' | 'retry-later';

export type DrainEvent =
  | { type: 'evicted' | 'gone' | 'retry-later'; pod: string; detail?: string }
  /** The API refused the eviction: its PDB had no budget (429). */
  | { type: 'blocked'; pod: string; pdb?: string }
  /**
   * Not even tried: its PDB allows no disruption now (we read the budget
   * first), or its status lags its spec ('status-stale'). Once per pod and round.
   */
  | { type: 'held-back'; pod: string; pdb: string; reason?: 'status-stale' }
  | { type: 'misconfigured'; pod: string; detail?: string }
  /** The API refused the eviction with 403 for another reason than a terminating namespace (RBAC, a webhook). */
  | { type: 'forbidden'; pod: string; detail?: string }
  | { type: 'pod-deleted'; pod: string }
  /** The pods are gone; the round now waits for these VolumeAttachments to detach (`pod` is empty). Once per round. */
  | { type: 'awaiting-volumes'; pod: ''; volumeAttachments: string[] }
  /** The VolumeAttachments the round waited for are gone. */
  | { type: 'volumes-detached'; pod: ''; waitedMs: number }
  /** Waited for, not evicted (do-not-disrupt…), until `evictAt` at the latest. Once per pod and round. */
  | { type: 'held'; pod: string; reason: HoldReason; evictAt: number }
  /** An evicted pod's Job starts its replacement while the pod still terminates (see jobReplacementRisk). */
  | { type: 'job-replacement'; pod: string; job: string; detail: string }
  /** `endsAt`: the pod's deletionTimestamp after our DELETE (ms epoch), when the server answered with it. */
  | { type: 'force-deleted'; pod: string; graceSeconds: number; endsAt?: number };

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
  /**
   * A node found with nothing to evict or wait for before this moment (ms
   * epoch) is listed again at it before the round calls it drained: a pod
   * bound by a scheduler that had not yet seen the cordon. @default none
   */
  settleUntil?: number;
  /**
   * A pod with a PersistentVolumeClaim was on the node earlier in this drain,
   * so VolumeAttachments of drained pods may still be there. The round also
   * notices such pods itself; only then does it LIST the VolumeAttachments.
   * @default false
   */
  volumeClaimsSeen?: boolean;
  /**
   * The drain's hard limit (ms epoch): a pod whose own grace period would
   * outlive it is evicted with its grace clamped to the time left (a Spot
   * drain's two minutes, a drain evicting late), so that it is gone before the
   * instance rather than killed with it. A second, shorter DELETE cannot do
   * this later: the API server counts it from the first deletion, and the
   * kubelet from when it sees it. @default none: each pod's own grace
   */
  hardLimitAt?: number;
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
  /** Evictions answered with 403 outside a terminating namespace. */
  forbiddenRefusals: number;
  /** The round waited for VolumeAttachments to detach, after the pods had gone. */
  waitedForVolumes: boolean;
  /** `volumeClaimsSeen`, or a pod with a PersistentVolumeClaim was on the node in this round: pass it to the next one. */
  volumeClaimsSeen: boolean;
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

/**
 * PDBs are read per namespace (a LIST and a WATCH each) while the pods to
 * evict are in at most this many namespaces, and cluster-wide (one LIST, one
 * WATCH) beyond: a PDB selects pods of its own namespace only, and with
 * hundreds of drains a scoped watch receives only its namespaces' budget
 * changes, but each namespace costs two requests where the cluster-wide pair
 * costs two in all (bench:drain's node, pods of 10 namespaces, would spend
 * 18 more requests on 104 evictions).
 */
const MAX_SCOPED_NAMESPACES = 4;

export async function drainRound(kube: KubeClient, options: DrainRoundOptions): Promise<DrainRoundResult> {
  const clock = kube.retry.clock;
  const emit = options.onEvent ?? (() => undefined);
  const pods = new Map<string, PodView>();
  const pdbs = new Map<string, PdbView>();
  const attachments = new Map<string, VolumeAttachmentView>();
  const result = {
    evicted: 0, pdbRefusals: 0, misconfiguredRefusals: 0, forbiddenRefusals: 0, waitedForVolumes: false,
    volumeClaimsSeen: options.volumeClaimsSeen ?? false, jobReplacements: 0,
  };
  let volumeWaitSince: number | undefined;
  /** Pods refused for a reason a retry in this round will not fix (403, errors). */
  const holdOff = new Set<string>();
  const misconfigured = new Map<string, string>();
  /** Evictions refused with 403 (not a terminating namespace): retried next round, never silently. */
  const forbidden = new Set<string>();
  /**
   * Pods refused by a PDB (pod → that PDB): not asked again until a PDB that
   * selects them changes (the plan lets unready pods skip budgets).
   */
  const refused = new Map<string, string>();
  /** DaemonSets found deleted this round (namespace/name): their pods have no controller left. */
  const missingDaemonSets = new Set<string>();
  const checkedDaemonSets = new Set<string>();
  /** The PersistentVolumes of pods that stay, by claim (namespace/claim → volume, '' when unbound). */
  const claimVolumes = new Map<string, string>();
  /** jobReplacementRisk by Job (namespace/name), read once per round however many of its pods go. */
  const jobRisks = new Map<string, Promise<string | undefined>>();
  const share = options.share ? new BudgetShare(kube, options.nodeName, options.share.since) : undefined;
  const view = (p: k8s.V1Pod): PodView => {
    const v = toPodView(p);
    if ((v.claimNames?.length ?? 0) > 0) result.volumeClaimsSeen = true;
    return v.controllerKind === 'DaemonSet' && missingDaemonSets.has(`${v.namespace}/${v.controllerName}`)
      ? { ...v, controllerMissing: true }
      : v;
  };

  /**
   * One LIST of the node's pods; PDBs only matter (and are LISTed) while some
   * pod is still to be evicted, and only in the namespaces of those pods when
   * they are few (MAX_SCOPED_NAMESPACES); the VolumeAttachments only once no
   * pod is left to evict or wait for. When a PDB we need may be shared with
   * other drains, the draining nodes too (kube-pdb-share.ts).
   */
  const list = async (): Promise<Versions> => {
    const podList = await kube.call('list pods', ({ core }, requestOptions) =>
      core.listPodForAllNamespaces({ fieldSelector: podFieldSelector(options.nodeName) }, requestOptions),
    );
    await checkDaemonSets(podList.items.map(toPodView));
    pods.clear();
    pdbs.clear();
    attachments.clear();
    for (const p of podList.items) pods.set(keyOf(toPodView(p)), view(p));
    const now = clock.now();
    const versions: Versions = { podsVersion: podList.metadata?.resourceVersion, pdbsVersions: new Map() };
    const namespaces = [...new Set([...pods.values()].filter((p) => classifyPod(p, now, options.hold).action === 'evict').map((p) => p.namespace))].sort();
    if (namespaces.length > MAX_SCOPED_NAMESPACES) {
      const pdbList = await kube.call('list poddisruptionbudgets', ({ policy }, requestOptions) =>
        policy.listPodDisruptionBudgetForAllNamespaces({}, requestOptions),
      );
      for (const b of pdbList.items) pdbs.set(keyOf(toPdbView(b)), toPdbView(b));
      versions.pdbsVersions.set(ALL_NAMESPACES, pdbList.metadata?.resourceVersion);
    } else {
      // At most MAX_SCOPED_NAMESPACES LISTs, side by side.
      const lists = await Promise.all(namespaces.map((namespace) =>
        kube.call(`list poddisruptionbudgets in ${namespace}`, ({ policy }, requestOptions) =>
          policy.listNamespacedPodDisruptionBudget({ namespace }, requestOptions),
        ),
      ));
      lists.forEach((pdbList, i) => {
        for (const b of pdbList.items) pdbs.set(keyOf(toPdbView(b)), toPdbView(b));
        versions.pdbsVersions.set(namespaces[i], pdbList.metadata?.resourceVersion);
      });
    }
    sharing = share !== undefined && sharedBudgets(pods, pdbs, now, options.hold);
    if (sharing) {
      // Announce our demand first, then read the others', so that of two
      // drains starting together at least one sees the other.
      await announce(options.watchUntil);
      versions.nodesVersion = await share!.load();
    }
    return versions;
  };

  /** Some PDB our pods need may be wanted by another drain too: take turns this round. */
  let sharing = false;
  /** Our pods that need a unit of some PDB's budget, announced to the other drains (see kube-pdb-share.ts). */
  const announce = async (awakeUntil: number, opts: { onlyIfShared?: boolean } = {}) => {
    if (!share || !sharing) return;
    await share.announce(demandOf(pods, pdbs, holdOff, clock.now(), options.hold), awakeUntil, clock.now(), opts);
  };
  /** The PDB views this round plans with: our portion of each shared budget. */
  const budgets = (): PdbView[] => (share && sharing ? share.apply(pdbs.values(), clock.now()) : [...pdbs.values()]);

  /**
   * Whether the DaemonSets of pods that would be left (they tolerate our
   * taint) still exist: an orphan is not recreated, so it is evicted like a
   * pod without a controller. Asked only once no normal-tier pod is left: an
   * orphan is evicted in the DaemonSet tier anyway. One GET per DaemonSet and
   * round, as kubectl's daemonSetFilter does.
   */
  const checkDaemonSets = async (listed: PodView[]) => {
    if (currentTier(listed, clock.now(), options.hold) === 'normal') return;
    for (const pod of listed) {
      if (!isDaemonSetPod(pod) || !pod.controllerName || !daemonSetWouldReturn(pod)) continue;
      const key = `${pod.namespace}/${pod.controllerName}`;
      if (checkedDaemonSets.has(key)) continue;
      checkedDaemonSets.add(key);
      try {
        await kube.call(`get daemonset ${key}`, ({ apps }, requestOptions) =>
          apps.readNamespacedDaemonSet({ name: pod.controllerName!, namespace: pod.namespace }, requestOptions),
        );
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 404)) throw err;
        missingDaemonSets.add(key);
      }
    }
  };

  /** The node's VolumeAttachments (a paged LIST: they are cluster-wide) and the volumes of pods that stay. */
  const listAttachments = async (): Promise<string | undefined> => {
    attachments.clear();
    let next: string | undefined;
    let version: string | undefined;
    do {
      const page = await kube.call('list volumeattachments', ({ storage }, requestOptions) =>
        storage.listVolumeAttachment({ limit: VOLUME_ATTACHMENT_PAGE, _continue: next }, requestOptions),
      );
      for (const va of page.items) {
        const v = toVolumeAttachmentView(va);
        if (v.nodeName === options.nodeName) attachments.set(v.name, v);
      }
      version = page.metadata?.resourceVersion;
      next = page.metadata?._continue || undefined;
    } while (next);
    if (attachments.size > 0) await readKeptClaims();
    return version;
  };

  /** GETs the claims of the pods that stay, to know which attachments nobody is going to detach. */
  const readKeptClaims = async () => {
    const now = clock.now();
    for (const pod of pods.values()) {
      if (!staysOnNode(pod, now)) continue;
      for (const claim of pod.claimNames ?? []) {
        const key = `${pod.namespace}/${claim}`;
        if (claimVolumes.has(key)) continue;
        try {
          const pvc = await kube.call(`get persistentvolumeclaim ${key}`, ({ core }, requestOptions) =>
            core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: pod.namespace }, requestOptions),
          );
          claimVolumes.set(key, pvc.spec?.volumeName ?? '');
        } catch (err) {
          if (!(err instanceof KubeApiError && err.status === 404)) throw err;
          claimVolumes.set(key, '');
        }
      }
    }
  };

  const keptVolumes = (): Set<string> => {
    const now = clock.now();
    const kept = new Set<string>();
    for (const pod of pods.values()) {
      if (!staysOnNode(pod, now)) continue;
      for (const claim of pod.claimNames ?? []) {
        const volume = claimVolumes.get(`${pod.namespace}/${claim}`);
        if (volume) kept.add(volume);
      }
    }
    return kept;
  };

  /**
   * The grace an eviction carries when the pod's own would outlive the hard
   * limit (see DrainRoundOptions.hardLimitAt); undefined: the pod's own. The
   * later tiers keep at most a quarter of the time left, so a grace that fits
   * under the rest needs no look at the other pods.
   */
  const clampedEvictionGrace = (pod: PodView): number | undefined => {
    if (options.hardLimitAt === undefined) return undefined;
    const now = clock.now();
    const left = graceLeftSeconds(now, options.hardLimitAt);
    if (pod.terminationGracePeriodSeconds <= left - Math.floor(left / 4)) return undefined;
    const limit = tierGraceLimitSeconds(evictionTier(pod), [...pods.values()], now, options.hardLimitAt, options.hold);
    return limit < pod.terminationGracePeriodSeconds ? limit : undefined;
  };

  const evictOne = async (pod: PodView): Promise<void> => {
    const key = keyOf(pod);
    const clamped = clampedEvictionGrace(pod);
    const outcome = await evict(kube, pod, clamped);
    switch (outcome.outcome) {
      case 'evicted': {
        result.evicted++;
        // Seen as terminating until the watch reports the server's view.
        const now = clock.now();
        pods.set(key, { ...pod, deletionTimestamp: now + (clamped ?? pod.terminationGracePeriodSeconds) * 1000 });
        spendBudget(pod, pdbs);
        emit({ type: 'evicted', pod: key });
        if (pod.controllerKind === 'Job' && pod.controllerName) {
          const job = `${pod.namespace}/${pod.controllerName}`;
          if (!jobRisks.has(job)) jobRisks.set(job, jobReplacementRisk(kube, pod.namespace, pod.controllerName));
          const risk = await jobRisks.get(job);
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
        refused.set(key, pdb ?? '');
        emit({ type: 'blocked', pod: key, pdb });
        break;
      }
      case 'misconfigured':
        result.misconfiguredRefusals++;
        misconfigured.set(key, outcome.detail ?? '');
        holdOff.add(key);
        emit({ type: 'misconfigured', pod: key, detail: outcome.detail });
        break;
      case 'forbidden':
        result.forbiddenRefusals++;
        forbidden.add(key);
        holdOff.add(key);
        emit({ type: 'forbidden', pod: key, detail: outcome.detail });
        break;
      case 'retry-later':
        holdOff.add(key);
        emit({ type: 'retry-later', pod: key, detail: outcome.detail });
        break;
    }
  };

  /** A PDB changed: its budget may have freed up, so the pods it refused (and only those) may be asked again. */
  const onPdbChange = (before: PdbView | undefined, after: PdbView | undefined) => {
    for (const [pod, pdb] of refused) {
      const subject = pods.get(pod);
      const selects = (b: PdbView | undefined) => b !== undefined && subject !== undefined && pdbsSelecting(subject, [b]).length > 0;
      if (pdb === keyOf((after ?? before)!) || selects(before) || selects(after)) refused.delete(pod);
    }
  };

  const heldBack = new Set<string>();
  const held = new Set<string>();
  let watchRestarts = 0;
  /** The latest the round may last: watches must not give up before. */
  const latestEnd = Math.max(options.watchUntil, options.watchLimit ?? options.watchUntil);
  let versions = await list();
  let settled = options.settleUntil === undefined;
  const watcher = new NodeWatcher(kube, options.nodeName, pods, pdbs, attachments, view, onPdbChange, share);
  try {
    for (;;) {
      const skip = new Set([...holdOff, ...refused.keys()]);
      const plan = planEvictions([...pods.values()], budgets(), clock.now(), { alreadyRequested: skip, hold: options.hold });
      for (const { pod, pdb, reason } of plan.blocked) {
        if (!heldBack.has(pod)) emit({ type: 'held-back', pod, pdb, ...(reason ? { reason } : {}) });
        heldBack.add(pod);
      }
      await inParallel(plan.evictNow, options.concurrency ?? 10, evictOne);
      let status = currentStatus(pods, budgets(), misconfigured, forbidden, clock.now(), options.hold);
      for (const h of status.held) {
        if (!held.has(h.pod)) emit({ type: 'held', ...h });
        held.add(h.pod);
      }
      if (status.podsGone) {
        // No pod of this drain ever had a PersistentVolumeClaim: no VolumeAttachment of theirs to wait for.
        if (versions.attachmentsVersion === undefined && result.volumeClaimsSeen) versions.attachmentsVersion = (await listAttachments()) ?? '';
        status = currentStatus(pods, budgets(), misconfigured, forbidden, clock.now(), options.hold, [...attachments.values()], keptVolumes());
        if (status.volumeAttachments.length > 0 && volumeWaitSince === undefined) {
          volumeWaitSince = clock.now();
          result.waitedForVolumes = true;
          emit({ type: 'awaiting-volumes', pod: '', volumeAttachments: status.volumeAttachments });
        } else if (status.volumeAttachments.length === 0 && volumeWaitSince !== undefined) {
          emit({ type: 'volumes-detached', pod: '', waitedMs: clock.now() - volumeWaitSince });
          volumeWaitSince = undefined;
        }
      }
      const now = clock.now();
      if (status.drained && !settled) {
        // Found empty right after the cordon: a scheduler that had not seen the
        // cordon yet may still bind a pod here. List once more after the minimum.
        settled = true;
        watcher.stop();
        if (options.settleUntil! > now) await clock.sleep(options.settleUntil! - now);
        versions = await list();
        continue;
      }
      settled = true;
      const until = roundEnd(options, status.earliestExpectedEnd);
      // Awake until this round's end (renewed if it stretches); a drain done with a PDB releases its portion.
      await announce(until, { onlyIfShared: true });
      const imminent = status.earliestExpectedEnd !== undefined && status.earliestExpectedEnd <= until;
      const detaching = status.podsGone && status.volumeAttachments.length > 0;
      const somethingCanChange =
        detaching ||
        ((options.watch ?? 'eager') === 'eager'
          ? status.blocked.length > 0 || status.deferred.length > 0 || status.terminating > status.stuck.length || status.held.length > 0
          : imminent);
      if (status.drained || now >= until || !somethingCanChange || watchRestarts > MAX_WATCH_RESTARTS) {
        return { status, ...result };
      }
      if (!watcher.started) await watcher.start(versions, emit, latestEnd);
      else if (versions.attachmentsVersion !== undefined) await watcher.watchAttachments(versions.attachmentsVersion, latestEnd);
      // A drain ahead of us whose round ends gives up its portion without a watch event: look again then.
      const changed = await watcher.nextChange(Math.min(until, (sharing ? share?.nextLapse(now) : undefined) ?? Infinity));
      if (changed === 'watch-ended') {
        // The server closed a watch (timeout, 410 Gone for a too old resourceVersion): read again.
        watchRestarts++;
        watcher.stop();
        if (watchRestarts > MAX_WATCH_RESTARTS) continue;
        versions = await list();
        refused.clear();
      }
    }
  } finally {
    watcher.stop();
  }
}

interface Versions {
  podsVersion?: string;
  /**
   * The PDB LISTs' resourceVersions, by namespace (ALL_NAMESPACES for the
   * cluster-wide LIST); empty when no pod was left to evict.
   */
  pdbsVersions: Map<string, string | undefined>;
  /** Set when the draining nodes were listed (a PDB we need may be shared). */
  nodesVersion?: string;
  /** Set once VolumeAttachments were listed (no pod left to evict or wait for). */
  attachmentsVersion?: string;
}

/** The key of Versions.pdbsVersions for a cluster-wide PDB LIST. */
const ALL_NAMESPACES = '';

/** Page size of the VolumeAttachment LIST (a large cluster has thousands). */
const VOLUME_ATTACHMENT_PAGE = 500;

/** A pod the drain leaves, or gave up on as stuck: its volumes stay attached. */
function staysOnNode(pod: PodView, now: number): boolean {
  const verdict = classifyPod(pod, now);
  return verdict.action === 'leave' || (verdict.action === 'wait' && verdict.stuck);
}

function toVolumeAttachmentView(va: k8s.V1VolumeAttachment): VolumeAttachmentView {
  return {
    name: va.metadata?.name ?? '',
    nodeName: va.spec?.nodeName ?? '',
    ...(va.spec?.source?.persistentVolumeName ? { persistentVolumeName: va.spec.source.persistentVolumeName } : {}),
  };
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
  forbidden: Set<string>,
  now: number,
  hold?: HoldPolicy,
  attachments: VolumeAttachmentView[] = [],
  keptVolumes: ReadonlySet<string> = new Set(),
): NodeStatus {
  const all = [...pods.values()];
  // Plan without hold-offs so pods refused this round still count as evictable.
  const plan = planEvictions(all, pdbs, now, { hold });
  // The attachments are already those of this node (see listAttachments).
  const onNode = attachments.map((va) => va.nodeName);
  const status = summarizeNode(all, plan, now, blockingVolumeAttachments(attachments, onNode[0] ?? '', keptVolumes), hold);
  status.forbidden = [...forbidden].filter((pod) => pods.has(pod)).sort();
  const known = new Set(status.misconfigured.map((m) => m.pod));
  for (const [pod, detail] of misconfigured) {
    if (pods.has(pod) && !known.has(pod)) status.misconfigured.push({ pod, pdbs: detail ? [detail] : [] });
  }
  return status;
}

/**
 * Pods the plan would send now if budgets were unlimited that need a unit of
 * a PDB's budget (see pdbDecision), counted per PDB: what this drain announces
 * to the others.
 */
function demandOf(pods: Map<string, PodView>, pdbs: Map<string, PdbView>, holdOff: ReadonlySet<string>, now: number, hold?: HoldPolicy): Record<string, number> {
  const unlimited = [...pdbs.values()].map((b) => ({ ...b, disruptionsAllowed: Number.MAX_SAFE_INTEGER, statusStale: false }));
  const plan = planEvictions([...pods.values()], unlimited, now, { alreadyRequested: holdOff, hold });
  const demand: Record<string, number> = {};
  for (const pod of plan.evictNow) {
    const decision = pdbDecision(pod, unlimited);
    if (decision.kind === 'charge') demand[keyOf(decision.pdb)] = (demand[keyOf(decision.pdb)] ?? 0) + 1;
  }
  return demand;
}

/**
 * Whether another drain may want a budget our pods need: some PDB we would
 * charge counts more healthy pods (status.currentHealthy) than the healthy
 * pods it selects on this node, so it has healthy pods elsewhere. A PDB whose
 * pods are all here is ours alone: no need to read the other draining nodes
 * nor to announce (a node like bench:drain's saves those requests).
 */
function sharedBudgets(pods: Map<string, PodView>, pdbs: Map<string, PdbView>, now: number, hold?: HoldPolicy): boolean {
  const demand = demandOf(pods, pdbs, new Set(), now, hold);
  const healthyHere = new Map<string, number>();
  for (const pod of pods.values()) {
    if (!pod.ready || pod.deletionTimestamp !== undefined) continue;
    for (const b of pdbsSelecting(pod, [...pdbs.values()])) healthyHere.set(keyOf(b), (healthyHere.get(keyOf(b)) ?? 0) + 1);
  }
  return Object.keys(demand).some((key) => (pdbs.get(key)?.currentHealthy ?? 0) > (healthyHere.get(key) ?? 0));
}

/** Mirrors the API server: an accepted eviction spends one disruption of the PDB it was charged to. */
function spendBudget(pod: PodView, pdbs: Map<string, PdbView>): void {
  const decision = pdbDecision(pod, [...pdbs.values()]);
  if (decision.kind !== 'charge') return;
  for (const b of [decision.pdb]) {
    pdbs.set(keyOf(b), { ...b, disruptionsAllowed: Math.max(0, b.disruptionsAllowed - 1) });
  }
}

/** After a 429 our copy of the budget was stale: none left until the watch says otherwise. */
function exhaustBudget(pod: PodView, pdbs: Map<string, PdbView>): string | undefined {
  const selecting = pdbsSelecting(pod, [...pdbs.values()]);
  for (const b of selecting) pdbs.set(keyOf(b), { ...b, disruptionsAllowed: 0 });
  return selecting.length > 0 ? keyOf(selecting[0]) : undefined;
}

interface EvictResult {
  outcome: EvictionOutcome;
  detail?: string;
}

/** POST …/pods/NAME/eviction (policy/v1) with a UID precondition, every answer mapped. */
/** `graceSeconds`: a grace shorter than the pod's own (see DrainRoundOptions.hardLimitAt). */
export async function evict(kube: KubeClient, pod: PodView, graceSeconds?: number): Promise<EvictResult> {
  const body: k8s.V1Eviction = {
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name: pod.name, namespace: pod.namespace },
    deleteOptions: { preconditions: { uid: pod.uid }, ...(graceSeconds !== undefined ? { gracePeriodSeconds: graceSeconds } : {}) },
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
      case 403:
        // A namespace being deleted refuses every create: its pods go anyway,
        // try again next round. Anything else (RBAC, an admission webhook) will
        // not fix itself: an error the caller logs and counts.
        return isNamespaceTerminating(status)
          ? { outcome: 'retry-later', detail: err.message }
          : { outcome: 'forbidden', detail: status?.message ?? err.message };
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

function safeJson(text: string): ApiStatus | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * At the deadline: deletes the pods still to go, so that each ends before
 * `hardLimitAt` less the completion margin, with its own grace if it fits.
 * A pod already terminating whose grace ends too late is deleted again with
 * the grace that puts its end there (see deleteGraceSeconds: the API server
 * counts a shorter grace from the first deletion). Pods the drain leaves stay.
 * `tiered`: only the pods of the first eviction tier with a pod still to go
 * (a Spot drain: DaemonSet and critical pods keep their turn).
 */
export async function forceDeletePods(
  kube: KubeClient,
  nodeName: string,
  hardLimitAt: number,
  onEvent?: (event: DrainEvent) => void,
  options: { tiered?: boolean } = {},
): Promise<number> {
  const now = kube.retry.clock.now();
  const list = await kube.call('list pods', ({ core }, options) =>
    core.listPodForAllNamespaces({ fieldSelector: podFieldSelector(nodeName) }, options),
  );
  let deleted = 0;
  const pods = list.items.map(toPodView);
  const tier = options.tiered ? currentTier(pods, now) : undefined;
  // Tiered, the pods of later tiers keep their reserve at the end (see laterTiersReserveSeconds).
  const endBy = now + (tier ? tierGraceLimitSeconds(tier, pods, now, hardLimitAt) : clampedGraceSeconds(Number.MAX_SAFE_INTEGER, now, hardLimitAt)) * 1000;
  for (const pod of pods) {
    const verdict = classifyPod(pod, now);
    if (verdict.action !== 'evict' && verdict.action !== 'wait') continue;
    if (tier && evictionTier(pod) !== tier) continue;
    const grace = deleteGraceSeconds(pod, now, endBy);
    if (grace === undefined) continue;
    try {
      const answer = await kube.call(`delete ${keyOf(pod)}`, ({ core }, options) =>
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
      const endsAt = answer?.metadata?.deletionTimestamp ? new Date(answer.metadata.deletionTimestamp).getTime() : undefined;
      onEvent?.({ type: 'force-deleted', pod: keyOf(pod), graceSeconds: grace, ...(endsAt !== undefined ? { endsAt } : {}) });
    } catch (err) {
      if (err instanceof KubeApiError && (err.status === 404 || err.status === 409)) continue;
      throw err;
    }
  }
  return deleted;
}

/**
 * The longest grace a pod of `tier` stopped now can have: the time left
 * before the hard limit (less the completion margins), less what the later
 * eviction tiers keep for themselves (laterTiersReserveSeconds).
 */
function tierGraceLimitSeconds(tier: EvictionTier, pods: readonly PodView[], now: number, hardLimitAt: number, hold?: HoldPolicy): number {
  const reserve = laterTiersReserveSeconds(pods, tier, now, graceLeftSeconds(now, hardLimitAt), hold);
  return clampedGraceSeconds(Number.MAX_SAFE_INTEGER, now, hardLimitAt, reserve);
}

async function inParallel<T>(items: T[], limit: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await worker(items[next++]);
  });
  await Promise.all(lanes);
}

/**
 * Watches the node's pods, the PDBs (of the namespaces listed, or all),
 * the draining nodes when sharing budgets and, once the pods are gone, the
 * VolumeAttachments, keeping the maps current, and wakes the round on every
 * change. Each watch starts from its LIST's resourceVersion, so nothing
 * between the LIST and the watch is missed; a resourceVersion the server no
 * longer has ends the watch with an ERROR event (410 Gone), and the round
 * lists again.
 */
class NodeWatcher {
  started = false;
  private watchingAttachments = false;
  private controllers: AbortController[] = [];
  private wake?: (reason: 'changed' | 'watch-ended') => void;
  private pending: 'changed' | 'watch-ended' | undefined;

  constructor(
    private readonly kube: KubeClient,
    private readonly nodeName: string,
    private readonly pods: Map<string, PodView>,
    private readonly pdbs: Map<string, PdbView>,
    private readonly attachments: Map<string, VolumeAttachmentView>,
    private readonly view: (pod: k8s.V1Pod) => PodView,
    private readonly onPdbChange: (before: PdbView | undefined, after: PdbView | undefined) => void,
    private readonly share?: BudgetShare,
  ) {}

  async start(versions: Versions, emit: (e: DrainEvent) => void, until: number) {
    this.started = true;
    this.pending = undefined;
    const watch = await this.newWatch(until);
    this.controllers.push(
      await watch.watch(
        '/api/v1/pods',
        { fieldSelector: podFieldSelector(this.nodeName), resourceVersion: versions.podsVersion, allowWatchBookmarks: true },
        (type, obj: k8s.V1Pod) => {
          if (type === 'BOOKMARK') return;
          if (type === 'ERROR') return this.signal('watch-ended');
          const view = this.view(obj);
          if (type === 'DELETED') {
            this.pods.delete(keyOf(view));
            emit({ type: 'pod-deleted', pod: keyOf(view) });
          } else this.pods.set(keyOf(view), view);
          this.signal('changed');
        },
        this.ended,
      ),
    );
    // One watch per namespace listed, or one for all (none once no pod is left to evict: PDBs cannot matter then).
    for (const [namespace, pdbsVersion] of versions.pdbsVersions) {
      const path = namespace === ALL_NAMESPACES
        ? '/apis/policy/v1/poddisruptionbudgets'
        : `/apis/policy/v1/namespaces/${encodeURIComponent(namespace)}/poddisruptionbudgets`;
      this.controllers.push(
        await watch.watch(
          path,
          { resourceVersion: pdbsVersion, allowWatchBookmarks: true },
          (type, obj: k8s.V1PodDisruptionBudget) => {
            if (type === 'BOOKMARK') return;
            if (type === 'ERROR') return this.signal('watch-ended');
            const view = toPdbView(obj);
            const before = this.pdbs.get(keyOf(view));
            if (type === 'DELETED') this.pdbs.delete(keyOf(view));
            else this.pdbs.set(keyOf(view), view);
            this.onPdbChange(before, type === 'DELETED' ? undefined : view);
            this.signal('changed');
          },
          this.ended,
        ),
      );
    }
    const share = this.share;
    if (share && versions.nodesVersion !== undefined) {
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
          this.ended,
        ),
      );
    }
    if (versions.attachmentsVersion !== undefined) await this.watchAttachments(versions.attachmentsVersion, until);
  }

  /** VolumeAttachments have no field selector on spec.nodeName: the watch is cluster-wide, filtered here. */
  async watchAttachments(version: string, until: number) {
    if (this.watchingAttachments) return;
    this.watchingAttachments = true;
    const watch = await this.newWatch(until);
    this.controllers.push(
      await watch.watch(
        '/apis/storage.k8s.io/v1/volumeattachments',
        { resourceVersion: version, allowWatchBookmarks: true },
        (type, obj: k8s.V1VolumeAttachment) => {
          if (type === 'BOOKMARK') return;
          if (type === 'ERROR') return this.signal('watch-ended');
          const view = toVolumeAttachmentView(obj);
          if (type === 'DELETED' || view.nodeName !== this.nodeName) {
            if (!this.attachments.delete(view.name)) return;
          } else this.attachments.set(view.name, view);
          this.signal('changed');
        },
        this.ended,
      ),
    );
  }

  private async newWatch(until: number) {
    const { config } = await this.kube.connect();
    const watch = new k8s.Watch(config);
    // client-node ends a watch after 30 s without data (a private field of
    // Watch in 2.x); a quiet node is normal, so allow the whole window instead
    // of re-opening the watch mid-round.
    const inactivity = watch as unknown as { requestTimeoutMs?: number };
    if (typeof inactivity.requestTimeoutMs === 'number') {
      inactivity.requestTimeoutMs = Math.max(inactivity.requestTimeoutMs, until - this.kube.retry.clock.now() + 5_000);
    }
    return watch;
  }

  private readonly ended = () => this.signal('watch-ended');

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
    this.watchingAttachments = false;
  }
}
