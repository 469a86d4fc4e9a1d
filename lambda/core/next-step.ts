/**
 * After each drain round: finish, act on the deadline, heartbeat, continue in
 * a new execution, or wait — and until when. Pure: the state and the node's
 * summary in, the routing fields out.
 */
import {
  COMPLETION_SAFETY_SECONDS,
  heartbeatDueAt,
} from './deadline';
import type { DrainState, DrainSummary } from './drain-state';
import { mustContinueAsNew } from './history-budget';
import { MIN_WAIT_MS, nextPollDelayMs } from './pacing';

export type Routing = Pick<DrainState, 'next' | 'waitUntil' | 'result'>;

/** Wait between rounds while only VolumeAttachments are left to go. */
export const VOLUME_POLL_MS = 10_000;

const iso = (ms: number) => new Date(ms).toISOString();
const ms = (isoTime: string) => Date.parse(isoTime);

/** When the hook was last told we are alive: the last heartbeat, or the action's start. */
export function lastBeatAt(state: DrainState): number {
  return ms(state.heartbeat.lastAt ?? state.action.startedAt);
}

/** Moment the next heartbeat is due (ms epoch). */
export function nextHeartbeatAt(state: DrainState): number {
  // A Spot drain has two minutes that no heartbeat extends.
  if (state.spot) return Infinity;
  return heartbeatDueAt(lastBeatAt(state), requireHook(state).heartbeatTimeoutSeconds);
}

/**
 * The latest moment the current round may keep watching the node: before the
 * heartbeat is due and before the deadline policy must act.
 */
export function roundEndsBy(state: DrainState): number {
  const deadline = state.deadline;
  const actAt = deadline && !deadline.actedAt ? ms(deadline.actAt) : Infinity;
  const hardStop = deadline ? ms(deadline.hardLimitAt) - COMPLETION_SAFETY_SECONDS * 1000 : Infinity;
  return Math.min(nextHeartbeatAt(state), actAt, hardStop);
}

export interface RoutingOptions {
  /** History events an execution may use before continuing in a new one. @default HISTORY_EVENTS_BUDGET */
  historyEventsBudget?: number;
}

export function decideAfterRound(state: DrainState, summary: DrainSummary, now: number, options: RoutingOptions = {}): Routing {
  const deadline = state.deadline;
  if (!deadline) throw new Error('decideAfterRound needs the deadline computed by Prepare');
  if (summary.drained) {
    const reason = deadline.actedAt ? 'deadline-force-deleted' : 'drained';
    return { next: 'complete', result: { lifecycleResult: 'CONTINUE', reason } };
  }
  const hardStop = ms(deadline.hardLimitAt) - COMPLETION_SAFETY_SECONDS * 1000;
  if (deadline.actedAt) {
    // A Spot drain deletes tier by tier (DaemonSet and critical pods last): a
    // later tier that a PDB still holds when its turn comes goes back to the
    // deadline policy, which deletes it with the time then left.
    if (state.spot && now < ms(deadline.hardLimitAt) && (summary.blockedByPdb.length > 0 || summary.misconfigured.length > 0)) {
      return { next: 'deadline' };
    }
    // Pods were force-deleted with a grace clamped to the time left; wait for
    // them, but complete before the hook's own limit whatever happens.
    if (now >= hardStop - MIN_WAIT_MS) {
      return { next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'deadline-force-deleted' } };
    }
  } else if (now >= ms(deadline.actAt)) {
    return { next: 'deadline' };
  }
  if (mustContinueAsNew(state.loop.historyEvents, options.historyEventsBudget)) return { next: 'continue-as-new' };

  let delay = nextPollDelayMs({
    now,
    startedAt: ms(state.action.startedAt),
    earliestExpectedEnd: summary.earliestExpectedEnd ? ms(summary.earliestExpectedEnd) : undefined,
  });
  // Only volumes left to detach: seconds away, and the instance is otherwise
  // ready to go (Karpenter requeues its volume-detachment check every 5 s).
  if ((summary.volumeAttachments?.length ?? 0) > 0 && summary.evictable === 0 && summary.terminating === 0) {
    delay = Math.min(delay, VOLUME_POLL_MS);
  }
  const heartbeatAt = nextHeartbeatAt(state);
  const heartbeatNow = now >= heartbeatAt;
  // Wake up in time for the next heartbeat (counted from now if we beat now),
  // for the deadline policy, and for the hard stop.
  const nextBeat = heartbeatNow ? heartbeatDueAt(now, requireHook(state).heartbeatTimeoutSeconds) : heartbeatAt;
  // A pod waited for is evicted at its evictAt, so that it gets all of its grace.
  const holdEnds = summary.waitedFor?.nextEvictAt ? ms(summary.waitedFor.nextEvictAt) : Infinity;
  const wakeAt = Math.min(now + delay, nextBeat, holdEnds, deadline.actedAt ? hardStop - MIN_WAIT_MS : ms(deadline.actAt));
  return {
    next: heartbeatNow ? 'heartbeat' : 'wait',
    waitUntil: iso(Math.max(wakeAt, now + 1000)),
  };
}

function requireHook(state: DrainState) {
  if (!state.hook) throw new Error('the hook timeouts are read by Prepare before any drain round');
  return state.hook;
}
