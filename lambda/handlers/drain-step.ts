/**
 * DrainStep: one drain round, then where to go next (complete, deadline,
 * heartbeat, continue-as-new or wait until when).
 *
 * Kubernetes API trouble does not end the drain: the round is counted as
 * failed and the loop goes on (heartbeats included) until the API answers
 * again or has been failing for API_OUTAGE_LIMIT_MS, when the drain gives up
 * and the state machine releases the instance.
 */
import type { DrainState, DrainSummary } from '../core/drain-state';
import { HISTORY_EVENTS } from '../core/history-budget';
import { continuationName } from '../core/lifecycle-event';
import type { NodeStatus } from '../core/node-status';
import { decideAfterRound, roundEndsBy, type Routing } from '../core/next-step';
import { MIN_WAIT_MS } from '../core/pacing';
import { KubeApiError } from '../adapters/kube-client';
import { drainRound, type DrainEvent } from '../adapters/kube-drain';
import { TransientError } from '../adapters/errors';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { kubeApi } from './capabilities/kube';
import { ec2Instances } from './capabilities/instances';
import { withRealDeps, type BaseDeps, type DepsWith } from './deps';
import { checkInstance, deriveDrain, refused } from './target';
import { nodeOf } from './target-node';
import { Metric, count } from './observability';
import { workflowStep } from './workflow-step';

/** Rounds watch eagerly while the drain is younger than this, or made progress this recently (see DrainRoundOptions.watch). */
export const EAGER_WATCH_MS = 10 * 60_000;

/** How long retries may go on past the round's end (one request's time limit plus a retry). */
const ROUND_OVERRUN_MS = 20_000;

/** Pods listed by name in the state's summary; the counts are always whole (256 KB state limit). */
export const MAX_LISTED_PODS = 20;

/**
 * A node found empty in the first round after the cordon is listed again
 * this long after the round started: the scheduler binds asynchronously, so a
 * pod it placed before it saw the cordon can appear on the node a moment later.
 */
export const LATE_BINDING_SETTLE_MS = 5_000;

/** Give up after the Kubernetes API failed every round for this long. */
export const API_OUTAGE_LIMIT_MS = 15 * 60_000;

export class DrainFailedError extends Error {
  override readonly name = 'DrainFailedError';
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrUndefined = (ms: number | undefined) => (ms === undefined ? undefined : iso(ms));

export const makeDrainStep = workflowStep<DrainState, 'hooks' | 'kube' | 'ec2'>('DrainStep', async (input, deps, timeLeftMs) => {
  const { clock, config, logger, metrics } = deps;
  // Identity: the instance checked again, its node found from it (never from the input).
  const verified = await verifiedRound(input, deps, timeLeftMs);
  if ('done' in verified) return verified.done;
  const state = verified.state;
  if (!state.nodeName || !state.deadline) throw new Error('DrainStep needs the node and deadline from Prepare');
  const started = clock.now();
  const watchLimit = Math.min(roundEndsBy(state), started + timeLeftMs);
  const watchUntil = Math.min(started + config.watchSeconds * 1000, watchLimit);
  // Retries stop shortly after the round's end too, so that a throttled API
  // cannot push the round past a heartbeat or the deadline.
  const kube = deps.kube(Math.min(timeLeftMs, watchLimit - started + ROUND_OVERRUN_MS));
  const loop = { ...state.loop, iterations: state.loop.iterations + 1 };
  const totals = { ...state.totals };

  let summary: DrainSummary;
  let volumesDetachedSeen = false;
  /** Pods the previous round waited for: an eviction of one of them now means its wait ended. */
  const waitedFor = new Set((state.summary?.waitedFor?.pods ?? []).map((p) => p.pod));
  try {
    const round = await drainRound(kube, {
      nodeName: state.nodeName,
      watchUntil,
      watchLimit,
      watch: started - Date.parse(loop.lastProgressAt ?? state.action.startedAt) < EAGER_WATCH_MS ? 'eager' : 'imminent',
      // Right after Cordon (a new execution included): no round has looked at the node yet.
      ...(state.summary === undefined ? { settleUntil: started + LATE_BINDING_SETTLE_MS } : {}),
      volumeClaimsSeen: loop.volumeClaimsSeen ?? false,
      // Take turns with other drains on shared PDB budgets, first come first served.
      share: { since: Date.parse(state.action.startedAt) },
      // Once the deadline policy acted, nothing is waited for any more.
      hardLimitAt: Date.parse(state.deadline.hardLimitAt),
      hold: state.deadline.actedAt ? undefined : { waitUntil: Date.parse(state.deadline.actAt), waitForJobPods: config.waitForJobPods },
      onEvent: (event) => {
        if (event.type === 'volumes-detached') volumesDetachedSeen = true;
        if (event.type === 'evicted' && waitedFor.has(event.pod)) {
          count(metrics, Metric.WaitedPodsEvicted);
          logger.warn(`evicted ${event.pod} after waiting for it: it did not finish in time, and still gets all of its grace period`, { event });
          return;
        }
        logEvent(deps, event);
      },
    });
    if (round.volumeClaimsSeen) loop.volumeClaimsSeen = true;
    summary = toSummary(round.status, state.summary, clock.now());
    reportChanges(deps, state.summary, round.status);
    const since = state.summary?.volumesWaitSince;
    if (since && !volumesDetachedSeen && round.status.volumeAttachments.length === 0 && round.status.podsGone) {
      // The wait began in an earlier round and ended between rounds.
      logEvent(deps, { type: 'volumes-detached', pod: '', waitedMs: clock.now() - Date.parse(since) });
    }
    if (madeProgress(state.summary, summary, round.evicted)) loop.lastProgressAt = iso(clock.now());
    totals.evicted += round.evicted;
    totals.pdbBlocks += round.pdbRefusals;
    count(metrics, Metric.PodsEvicted, round.evicted);
    count(metrics, Metric.EvictionsBlockedByPdb, round.pdbRefusals);
    count(metrics, Metric.PdbMisconfigurations, summary.counts.misconfigured);
    count(metrics, Metric.EvictionsForbidden, round.forbiddenRefusals);
    if (round.waitedForVolumes) count(metrics, Metric.VolumeDetachWaits);
    count(metrics, Metric.PodsWaitedFor, round.status.held.length);
    count(metrics, Metric.JobPodsReplacedEarly, round.jobReplacements);
    loop.apiErrorsInARow = 0;
    loop.firstApiErrorAt = undefined;
    loop.lastApiError = undefined;
  } catch (err) {
    if (!(err instanceof KubeApiError || err instanceof TransientError)) throw err;
    const now = clock.now();
    const firstAt = loop.firstApiErrorAt ? Date.parse(loop.firstApiErrorAt) : now;
    loop.apiErrorsInARow += 1;
    loop.firstApiErrorAt = iso(firstAt);
    loop.lastApiError = err.message.slice(0, 500);
    totals.apiErrors += 1;
    count(metrics, Metric.KubernetesApiErrors);
    logger.warn('drain round failed on the Kubernetes API; trying again later', { error: err.message, inARow: loop.apiErrorsInARow });
    if (now - firstAt >= API_OUTAGE_LIMIT_MS) {
      throw new DrainFailedError(`the Kubernetes API failed every drain round for ${Math.round((now - firstAt) / 60000)} min: ${err.message}`, { cause: err });
    }
    // Keep the last known picture, but never claim drained on a failed round.
    summary = { ...(state.summary ?? emptySummary()), drained: false };
  }

  const now = clock.now();
  const next = { ...state, loop, totals, summary, waitUntil: undefined, continuation: undefined };
  const routing: Routing = decideAfterRound(next, summary, now, { historyEventsBudget: config.historyEventsBudget });
  if (loop.apiErrorsInARow > 0 && routing.next === 'wait' && routing.waitUntil) {
    // Back off from a failing API: 5 s, 10 s, 20 s … up to 2 min, within the routing's limits.
    const backoff = Math.min(120_000, MIN_WAIT_MS * 2 ** (loop.apiErrorsInARow - 1));
    routing.waitUntil = iso(Math.min(Date.parse(routing.waitUntil), now + backoff));
  }
  if (nearDeadline(state, now)) count(metrics, Metric.DrainsNearDeadline);

  loop.historyEvents +=
    HISTORY_EVENTS.task + HISTORY_EVENTS.choice + (routing.next === 'wait' ? HISTORY_EVENTS.wait : 0);
  const output: DrainState = { ...next, ...routing };
  if (routing.next === 'continue-as-new') {
    const generation = state.generation + 1;
    output.continuation = {
      name: continuationName(state.executionBase, generation),
      input: {
        ...output,
        // Read again by the next round; keeps the state small (256 KB limit).
        summary: undefined,
        generation,
        next: 'cordon',
        continuation: undefined,
        loop: { ...loop, iterations: 0, historyEvents: 0 },
      },
    };
    logger.info('history budget used up: continuing in a new execution', { continuation: output.continuation.name });
  }
  return output;
});

/**
 * The round's target, re-derived: the instance must still be held by our hook
 * or about to be interrupted, and the node is the one whose providerID names
 * it. A Spot notice turns a lifecycle drain into a Spot drain (two minutes, no
 * heartbeats) in place. A node that is gone leaves nothing to drain.
 */
async function verifiedRound(state: DrainState, deps: DepsWith<'hooks' | 'kube' | 'ec2'>, timeLeftMs: number): Promise<{ state: DrainState } | { done: DrainState }> {
  const check = await checkInstance(deps, state.action?.instanceId);
  if (!check.ok) return { done: refused(state, check, deps) };
  const node = await nodeOf(deps, check.target, timeLeftMs, { candidate: state.nodeName });
  if (!node) {
    deps.logger.warn('the node of the instance is gone: nothing left to drain');
    return { done: { ...state, nodeName: null, next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'node-not-found' } } };
  }
  let next: DrainState = { ...state, nodeName: node.name };
  if (check.target.spot && !state.spot) {
    const derived = await deriveDrain(deps, check.target, { tokenHash: state.action.tokenHash });
    deps.logger.warn('EC2 is about to interrupt this Spot instance: the drain switches to the two-minute budget', { spot: derived.spot, deadline: derived.deadline });
    count(deps.metrics, Metric.SpotSwitches);
    next = { ...next, spot: derived.spot, deadline: derived.deadline };
  }
  return { state: next };
}

/** Pods were evicted, or fewer pods are left to evict or wait for than after the last round. */
function madeProgress(before: DrainSummary | undefined, after: DrainSummary, evicted: number): boolean {
  if (evicted > 0 || !before) return true;
  return after.evictable + after.terminating < before.evictable + before.terminating;
}

/** Past 80% of the time between the action's start and the hard limit. */
function nearDeadline(state: DrainState, now: number): boolean {
  const start = Date.parse(state.action.startedAt);
  const end = Date.parse(state.deadline!.hardLimitAt);
  return now - start >= 0.8 * (end - start);
}

export function toSummary(status: NodeStatus, before?: DrainSummary, now?: number): DrainSummary {
  const tolerating = status.leftAlone.filter((l) => l.reason === 'tolerates-drain').map((l) => l.pod);
  const waitingForVolumes = status.podsGone && status.volumeAttachments.length > 0;
  return {
    drained: status.drained,
    evictable: status.evictable,
    terminating: status.terminating - status.stuck.length,
    earliestExpectedEnd: isoOrUndefined(status.earliestExpectedEnd),
    latestExpectedEnd: isoOrUndefined(status.latestExpectedEnd),
    blockedByPdb: status.blocked.slice(0, MAX_LISTED_PODS),
    misconfigured: status.misconfigured.slice(0, MAX_LISTED_PODS).map(({ pod, pdbs }) => ({ pod, pdbs: pdbs.map((p) => p.slice(0, 200)) })),
    stuck: status.stuck.slice(0, MAX_LISTED_PODS),
    counts: {
      blockedByPdb: status.blocked.length,
      misconfigured: status.misconfigured.length,
      stuck: status.stuck.length,
      toleratingDrain: tolerating.length,
      forbidden: status.forbidden.length,
      volumeAttachments: status.volumeAttachments.length,
    },
    leftAlone: status.leftAlone.length,
    ...(tolerating.length > 0 ? { toleratingDrain: tolerating.slice(0, MAX_LISTED_PODS) } : {}),
    ...(status.forbidden.length > 0 ? { forbidden: status.forbidden.slice(0, MAX_LISTED_PODS) } : {}),
    ...(waitingForVolumes
      ? {
          volumeAttachments: status.volumeAttachments.slice(0, MAX_LISTED_PODS),
          volumesWaitSince: before?.volumesWaitSince ?? isoOrUndefined(now),
        }
      : {}),
    ...(status.tier ? { tier: status.tier } : {}),
    ...(status.held.length > 0
      ? {
          waitedFor: {
            count: status.held.length,
            pods: status.held.slice(0, MAX_LISTED_PODS).map((h) => ({ pod: h.pod, reason: h.reason, evictAt: iso(h.evictAt) })),
            nextEvictAt: iso(Math.min(...status.held.map((h) => h.evictAt))),
          },
        }
      : {}),
  };
}

/**
 * A log line for each pod newly left because it tolerates the drain (once per
 * execution, not every round). Forbidden evictions are logged at error level
 * every time: each is an error someone must fix.
 */
function reportChanges({ logger }: BaseDeps, before: DrainSummary | undefined, status: NodeStatus): void {
  const known = new Set(before?.toleratingDrain ?? []);
  for (const { pod, reason } of status.leftAlone) {
    if (reason !== 'tolerates-drain' || known.has(pod)) continue;
    logger.info(`${pod} tolerates the drain: left on the node, its replacement would be scheduled right back`, {
      event: { type: 'left-alone', pod, reason },
    });
  }
}

const emptySummary = (): DrainSummary => ({
  drained: false,
  evictable: 0,
  terminating: 0,
  blockedByPdb: [],
  misconfigured: [],
  stuck: [],
  counts: { blockedByPdb: 0, misconfigured: 0, stuck: 0 },
  leftAlone: 0,
});

function logEvent({ logger }: BaseDeps, event: DrainEvent): void {
  switch (event.type) {
    case 'evicted':
      return logger.info(`evicted ${event.pod}`, { event });
    case 'blocked':
      return logger.info(`eviction of ${event.pod} blocked by PodDisruptionBudget ${event.pdb ?? '(unknown)'}`, { event });
    case 'misconfigured':
      return logger.error(`cannot evict ${event.pod}: more than one PodDisruptionBudget selects it`, { event });
    case 'forbidden':
      // Not a terminating namespace: RBAC or an admission webhook refuses it.
      // Retried next round (a fix then resumes the drain), an error every time.
      return logger.error(`eviction of ${event.pod} forbidden (403): ${event.detail ?? ''}`.trim(), { event });
    case 'held-back':
      return event.reason === 'status-stale'
        ? logger.info(`${event.pod} waits: PodDisruptionBudget ${event.pdb} is still being processed (status behind its spec)`, { event })
        : logger.info(`${event.pod} waits: PodDisruptionBudget ${event.pdb} allows no disruption now`, { event });
    case 'awaiting-volumes':
      return logger.info(`pods gone; waiting for ${event.volumeAttachments.length} VolumeAttachment(s) to detach before completing`, {
        event: { type: event.type, volumeAttachments: event.volumeAttachments.slice(0, MAX_LISTED_PODS) },
      });
    case 'volumes-detached':
      return logger.info('volumes detached', { event: { type: event.type, waitedMs: event.waitedMs } });
    case 'pod-deleted':
      return logger.info(`pod ${event.pod} is gone`, { event });
    case 'held':
      return logger.info(`waiting for ${event.pod} (${HOLD_REASONS[event.reason]}) to finish; evicted at ${iso(event.evictAt)} at the latest`, { event });
    case 'job-replacement':
      return logger.warn(`evicted ${event.pod} of Job ${event.job}: ${event.detail}`, { event });
    default:
      return logger.info(`${event.type} ${event.pod}`, { event });
  }
}

const HOLD_REASONS = {
  'do-not-disrupt': 'karpenter.sh/do-not-disrupt',
  'safe-to-evict': 'cluster-autoscaler.kubernetes.io/safe-to-evict=false',
  job: 'a Job pod: WAIT_FOR_JOB_PODS',
} as const;

export const handler = withRealDeps(makeDrainStep, { hooks: lifecycleHooks, kube: kubeApi, ec2: ec2Instances });
