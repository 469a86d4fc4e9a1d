/**
 * ApplyDeadlinePolicy: the drain ran out of time before the node emptied.
 * - force-delete: delete the pods still there with their grace clamped to the
 *   time left, then keep waiting (DrainStep) until they are gone or the hard
 *   limit comes, and complete with CONTINUE;
 * - continue: complete with CONTINUE now (the instance terminates, pods and all);
 * - abandon: complete with ABANDON now (also skips the group's other hooks).
 * Never silent: a metric, a warning log line, and the reason in the result.
 */
import type { DrainState } from '../core/drain-state';
import { HISTORY_EVENTS } from '../core/history-budget';
import { MIN_WAIT_MS } from '../core/pacing';
import { forceDeletePods } from '../adapters/kube-drain';
import { kubeApi } from './capabilities/kube';
import { withRealDeps } from './deps';
import { Metric, count } from './observability';
import { workflowStep } from './workflow-step';

export const makeApplyDeadline = workflowStep<DrainState, 'kube'>('ApplyDeadlinePolicy', async (state, deps, timeLeftMs) => {
  const { clock, logger, metrics } = deps;
  const deadline = state.deadline;
  if (!deadline || !state.nodeName) throw new Error('ApplyDeadlinePolicy needs the node and deadline from Prepare');
  count(metrics, Metric.DeadlinesReached);
  const historyEvents = state.loop.historyEvents + HISTORY_EVENTS.task + HISTORY_EVENTS.choice;
  const loop = { ...state.loop, historyEvents };
  const remaining = state.summary;
  logger.warn(`deadline reached with pods still on the node: applying ${deadline.policy}`, {
    hardLimitAt: deadline.hardLimitAt,
    evictable: remaining?.evictable,
    terminating: remaining?.terminating,
    blockedByPdb: remaining?.blockedByPdb,
  });

  if (deadline.policy === 'continue' || deadline.policy === 'abandon') {
    const lifecycleResult = deadline.policy === 'continue' ? 'CONTINUE' : 'ABANDON';
    return { ...state, loop, next: 'complete', result: { lifecycleResult, reason: `deadline-${deadline.policy}` } };
  }

  const deleted = await forceDeletePods(deps.kube(timeLeftMs), state.nodeName, Date.parse(deadline.hardLimitAt), (event) =>
    logger.warn(`force-deleted ${event.pod}`, { event }),
  );
  count(metrics, Metric.PodsForceDeleted, deleted);
  const now = clock.now();
  return {
    ...state,
    loop: { ...loop, historyEvents: loop.historyEvents + HISTORY_EVENTS.wait },
    next: 'wait',
    waitUntil: new Date(now + MIN_WAIT_MS).toISOString(),
    deadline: { ...deadline, actedAt: new Date(now).toISOString() },
    totals: { ...state.totals, forceDeleted: state.totals.forceDeleted + deleted },
  };
});

export const handler = withRealDeps(makeApplyDeadline, { kube: kubeApi });
