/**
 * Complete: CompleteLifecycleAction with the result the drain decided. Also
 * the ReleaseAfterError state's function: with `$.error` set by the state
 * machine's Catch, it completes with CONTINUE so a failed drain never leaves
 * the action hanging (the execution then fails, and the alarm fires).
 * "No active Lifecycle Action" means someone else finished it: recorded, not an error.
 */
import type { DrainState } from '../core/drain-state';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { withRealDeps } from './deps';
import { LifecycleActionExpiredError, expiredOnUs } from './heartbeat';
import { countCompletion, recordDuration } from './observability';
import { heldByHook, refused } from './target';
import { workflowStep } from './workflow-step';

export const makeComplete = workflowStep<DrainState, 'hooks'>('Complete', async (input, deps) => {
  const { clock, logger, metrics } = deps;
  const held = await heldByHook(deps, input);
  // Prepare may have failed before it derived the action (ReleaseAfterError then gets the start input).
  const state: DrainState = input.action
    ? input
    : { ...input, action: { instanceId: held.ok ? held.target.instanceId : '', autoScalingGroupName: held.ok ? held.target.autoScalingGroupName : '', lifecycleHookName: deps.config.lifecycleHookName, startedAt: new Date(clock.now()).toISOString() } };
  const result = state.error
    ? { lifecycleResult: 'CONTINUE' as const, reason: 'error' as const, detail: `${state.error.Error}: ${String(state.error.Cause).slice(0, 300)}` }
    : state.result ?? { lifecycleResult: 'CONTINUE' as const, reason: 'drained' as const };
  if (!held.ok && state.spot && held.code !== 'not-ours') {
    // A Spot drain of an instance no hook holds: nothing to complete, as expected.
    logger.info('Spot drain over: the instance goes with its interruption', { totals: state.totals });
    countCompletion(metrics, state.action.autoScalingGroupName, 'SpotInterrupted');
    return { ...state, next: 'done', result: { lifecycleResult: 'CONTINUE', reason: 'spot-interrupted', outcome: 'no-lifecycle-action', completedAt: new Date(clock.now()).toISOString() } };
  }
  if (!held.ok && held.code !== 'ended') return refused(state, held, deps);
  const target = { instanceId: state.action.instanceId, autoScalingGroupName: held.ok ? held.target.autoScalingGroupName : state.action.autoScalingGroupName, lifecycleHookName: deps.config.lifecycleHookName };
  // Past the hook: nothing to complete, as Auto Scaling would answer.
  const outcome = held.ok ? await deps.hooks.complete(target, result.lifecycleResult) : 'not-active';
  const now = clock.now();
  if (outcome === 'not-active' && !state.error && expiredOnUs(state, now)) {
    throw new LifecycleActionExpiredError(
      `the lifecycle action had timed out before Complete: the instance terminated with the hook's default result, not ${result.lifecycleResult} (${result.reason})`,
    );
  }
  const durationSeconds = (now - Date.parse(state.action.startedAt)) / 1000;
  recordDuration(metrics, durationSeconds);
  countCompletion(
    metrics,
    state.action.autoScalingGroupName,
    outcome === 'not-active' ? 'AlreadyCompleted' : result.reason === 'node-not-found' ? 'NodeNotFound' : result.lifecycleResult,
  );
  const final = { ...result, outcome: outcome === 'completed' ? ('completed' as const) : ('already-completed' as const), completedAt: new Date(now).toISOString() };
  const message =
    outcome === 'completed'
      ? `lifecycle action completed with ${result.lifecycleResult} (${result.reason})`
      : 'the lifecycle action was already over (completed elsewhere or timed out)';
  (result.reason === 'error' ? logger.error.bind(logger) : logger.info.bind(logger))(message, {
    result: final,
    durationSeconds: Math.round(durationSeconds),
    totals: state.totals,
  });
  return { ...state, next: 'done', result: final };
});

export const handler = withRealDeps(makeComplete, { hooks: lifecycleHooks });
