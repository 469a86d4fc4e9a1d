/**
 * Heartbeat: restarts the hook's HeartbeatTimeout. If the action is no
 * longer active (completed by someone else, or timed out), the drain is over:
 * the execution ends successfully and says so.
 */
import type { DrainState } from '../core/drain-state';
import { HISTORY_EVENTS } from '../core/history-budget';
import { lastBeatAt } from '../core/next-step';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { withRealDeps } from './deps';
import { heldByHook, refused } from './target';
import { Metric, count, countCompletion } from './observability';
import { workflowStep } from './workflow-step';

export const makeHeartbeat = workflowStep<DrainState, 'hooks'>('Heartbeat', async (state, deps) => {
  const { clock, config, logger, metrics } = deps;
  const historyEvents = state.loop.historyEvents + HISTORY_EVENTS.task + HISTORY_EVENTS.choice + HISTORY_EVENTS.wait;
  const held = await heldByHook(deps, state);
  if (!held.ok && held.code !== 'ended') return { ...refused(state, held, deps), loop: { ...state.loop, historyEvents } };
  // Past the hook: Auto Scaling answers "no active lifecycle action", handled below like any ended action.
  const target = { instanceId: state.action.instanceId, autoScalingGroupName: held.ok ? held.target.autoScalingGroupName : state.action.autoScalingGroupName, lifecycleHookName: config.lifecycleHookName };
  const outcome = held.ok ? await deps.hooks.recordHeartbeat(target) : 'not-active';
  const now = clock.now();
  if (outcome === 'not-active') {
    if (expiredOnUs(state, now)) {
      // Our fault, not someone else's: the hook timed out before we beat. Fail
      // loudly (the execution fails, the alarm fires) rather than end quietly.
      throw new LifecycleActionExpiredError(
        `the lifecycle action timed out before this heartbeat (last beat ${new Date(lastBeatAt(state)).toISOString()}, heartbeat timeout ${state.hook?.heartbeatTimeoutSeconds} s): the instance terminated with the hook's default result`,
      );
    }
    logger.warn('the lifecycle action is no longer active (completed elsewhere): stopping the drain');
    countCompletion(metrics, state.action.autoScalingGroupName, 'AlreadyCompleted');
    return {
      ...state,
      next: 'done',
      loop: { ...state.loop, historyEvents },
      result: { lifecycleResult: 'CONTINUE', reason: 'ended-elsewhere', outcome: 'already-completed', completedAt: new Date(now).toISOString() },
    };
  }
  count(metrics, Metric.HeartbeatsSent);
  const waitUntil = state.waitUntil && Date.parse(state.waitUntil) > now ? state.waitUntil : new Date(now + 1000).toISOString();
  return {
    ...state,
    next: 'wait',
    waitUntil,
    heartbeat: { count: state.heartbeat.count + 1, lastAt: new Date(now).toISOString() },
    totals: { ...state.totals, heartbeats: state.totals.heartbeats + 1 },
    loop: { ...state.loop, historyEvents },
  };
});

/** The hook gave up on its own: no beat within HeartbeatTimeout, or past its global timeout. */
export function expiredOnUs(state: DrainState, now: number): boolean {
  const hook = state.hook;
  if (!hook) return false;
  const hookExpiresAt = state.deadline ? Date.parse(state.deadline.hookExpiresAt) : Infinity;
  return now >= lastBeatAt(state) + hook.heartbeatTimeoutSeconds * 1000 || now >= hookExpiresAt;
}

export class LifecycleActionExpiredError extends Error {
  override readonly name = 'LifecycleActionExpiredError';
}

export const handler = withRealDeps(makeHeartbeat, { hooks: lifecycleHooks });
