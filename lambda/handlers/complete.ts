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
import { workflowStep } from './workflow-step';

export const makeComplete = workflowStep<DrainState, 'hooks'>('Complete', async (state, deps) => {
  const { clock, logger, metrics } = deps;
  const result = state.error
    ? { lifecycleResult: 'CONTINUE' as const, reason: 'error' as const, detail: `${state.error.Error}: ${String(state.error.Cause).slice(0, 300)}` }
    : state.result ?? { lifecycleResult: 'CONTINUE' as const, reason: 'drained' as const };
  const outcome = await deps.hooks.complete(state.action, result.lifecycleResult);
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
