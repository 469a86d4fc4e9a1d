/**
 * Deadlines and heartbeats of a terminate lifecycle action.
 *
 * The hook holds the instance until the first of:
 * - HeartbeatTimeout seconds without a heartbeat (RecordLifecycleActionHeartbeat restarts it);
 * - GlobalTimeout = min(100 × HeartbeatTimeout, 48 h) after the action started.
 * Either way the instance then terminates with the hook's DefaultResult, pods or not.
 * The drain must therefore heartbeat before the first, and act (force-delete,
 * continue or abandon) early enough before the second, never silently outlive it.
 */
import type { DeadlinePolicy } from './drain-state';

/** The hook's limit on the whole wait: 48 h (AWS EC2 Auto Scaling quota). */
export const MAX_GLOBAL_TIMEOUT_SECONDS = 172_800;
/** Seconds kept between our last action and the hook's hard limit, for Complete to land. */
export const COMPLETION_SAFETY_SECONDS = 30;
/**
 * The least HeartbeatTimeout the drain works with (Auto Scaling allows 30 s):
 * it beats a margin of at least a minute early, and a drain round plus a
 * throttled heartbeat can take most of that minute.
 */
export const MIN_HEARTBEAT_TIMEOUT_SECONDS = 120;
/** Time between a force-deleted pod's clamped grace end and the completion. */
export const FORCE_DELETE_SLACK_SECONDS = 10;

export function globalTimeoutSeconds(heartbeatTimeoutSeconds: number): number {
  return Math.min(100 * heartbeatTimeoutSeconds, MAX_GLOBAL_TIMEOUT_SECONDS);
}

export interface Deadline {
  /** When the hook gives up: action start + global timeout (ms epoch). */
  hookExpiresAt: number;
  /** The end we hold ourselves to: the hook's, or start + maxDrainSeconds if sooner (ms epoch). */
  hardLimitAt: number;
  /** When the deadline policy acts (ms epoch). */
  actAt: number;
}

/**
 * @param maxDrainSeconds 0 means "as long as the hook allows".
 *
 * force-delete reserves time for the deleted pods' (clamped) grace periods:
 * 10% of the drain budget, at least 60 s, at most 5 min. continue/abandon only
 * need time to call CompleteLifecycleAction.
 */
export function computeDeadline(args: {
  startedAt: number;
  globalTimeoutSeconds: number;
  maxDrainSeconds: number;
  policy: DeadlinePolicy;
}): Deadline {
  const hookExpiresAt = args.startedAt + args.globalTimeoutSeconds * 1000;
  const hardLimitAt =
    args.maxDrainSeconds > 0 ? Math.min(hookExpiresAt, args.startedAt + args.maxDrainSeconds * 1000) : hookExpiresAt;
  const budgetMs = hardLimitAt - args.startedAt;
  const reserveMs =
    args.policy === 'force-delete' ? clamp(budgetMs * 0.1, 60_000, 300_000) : COMPLETION_SAFETY_SECONDS * 2 * 1000;
  return { hookExpiresAt, hardLimitAt, actAt: hardLimitAt - Math.min(reserveMs, budgetMs / 2) };
}

/**
 * Grace period for pods force-deleted at the deadline: their own grace, clamped
 * to the time left before the hard limit (Karpenter does the same), never negative.
 */
export function clampedGraceSeconds(podGraceSeconds: number, now: number, hardLimitAt: number, reserveSeconds = 0): number {
  return Math.max(0, Math.min(podGraceSeconds, graceLeftSeconds(now, hardLimitAt) - reserveSeconds));
}

/**
 * The longest grace a pod stopped now can have: the drain completes
 * COMPLETION_SAFETY_SECONDS before the hard limit, and notices pods gone
 * within FORCE_DELETE_SLACK_SECONDS, so the grace ends before both.
 * `reserveSeconds` (clampedGraceSeconds): kept for the pods of later eviction tiers.
 */
export function graceLeftSeconds(now: number, hardLimitAt: number): number {
  return Math.floor((hardLimitAt - now) / 1000) - COMPLETION_SAFETY_SECONDS - FORCE_DELETE_SLACK_SECONDS;
}

/**
 * Margin before HeartbeatTimeout at which we heartbeat: 20% of it, at least
 * 60 s, but never more than half of it (the hook allows 30 s timeouts).
 */
export function heartbeatMarginMs(heartbeatTimeoutSeconds: number): number {
  const timeoutMs = heartbeatTimeoutSeconds * 1000;
  return Math.min(Math.max(60_000, timeoutMs * 0.2), timeoutMs / 2);
}

/** When the next heartbeat is due (ms epoch). The action start counts as the first beat. */
export function heartbeatDueAt(lastBeatAt: number, heartbeatTimeoutSeconds: number): number {
  return lastBeatAt + heartbeatTimeoutSeconds * 1000 - heartbeatMarginMs(heartbeatTimeoutSeconds);
}

/** When the hook times out if no heartbeat arrives (ms epoch). */
export function heartbeatExpiresAt(lastBeatAt: number, heartbeatTimeoutSeconds: number): number {
  return lastBeatAt + heartbeatTimeoutSeconds * 1000;
}

export const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, value));

/**
 * The grace period to send in a DELETE so that a pod ends by `endBy` (ms
 * epoch), or undefined when it already does. For a pod not yet terminating
 * it is simply the time to `endBy`. For a pod already terminating, the API
 * server counts a shorter grace from the first deletion
 * (apiserver pkg/registry/rest/delete.go BeforeDelete: new deletionTimestamp
 * = old deletionTimestamp − old grace + new grace, moved up to now, and then
 * with a grace of 1 s, if that is in the past; a grace not shorter than the
 * old one changes nothing). Sending the time left as the grace would then kill
 * a pod that has been stopping for long within a second: the grace sent is
 * the time from its first deletion to `endBy`, which puts its new
 * deletionTimestamp on `endBy` exactly, so the drain's "stuck" judgement
 * (60 s past the deletionTimestamp) counts from our own delete. The kubelet
 * restarts its kill with the new, shorter period counted from when it sees it
 * (pkg/kubelet/pod_workers.go calculateEffectiveGracePeriod), so the process
 * is not killed before `endBy`; the instance's termination ends it at the
 * latest. Whole seconds, rounded down.
 */
export function deleteGraceSeconds(
  pod: { deletionTimestamp?: number; deletionGracePeriodSeconds?: number; terminationGracePeriodSeconds: number },
  now: number,
  endBy: number,
): number | undefined {
  const left = Math.max(0, Math.floor((endBy - now) / 1000));
  if (pod.deletionTimestamp === undefined) return Math.min(pod.terminationGracePeriodSeconds, left);
  if (pod.deletionTimestamp <= endBy) return undefined;
  const previous = pod.deletionGracePeriodSeconds;
  if (previous === undefined) return left;
  const deletedAt = pod.deletionTimestamp - previous * 1000;
  const grace = Math.max(0, Math.floor((endBy - deletedAt) / 1000));
  return grace < previous ? grace : undefined;
}
