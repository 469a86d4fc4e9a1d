/**
 * ApplyDeadlinePolicy: the drain ran out of time before the node emptied.
 * - force-delete: delete the pods still there with their grace clamped to the
 *   time left, then keep waiting (DrainStep) until they are gone or the hard
 *   limit comes, and complete with CONTINUE;
 * - continue: complete with CONTINUE now (the instance terminates, pods and all);
 * - abandon: complete with ABANDON now (also skips the group's other hooks).
 * A Spot drain's policy is force-delete whatever onDeadline says (see
 * spotDeadlinePolicy in ./target): at the interruption's deadline the pods a
 * PDB still holds are deleted, one eviction tier at a time (DaemonSet and
 * critical pods last: the next tier comes back here if a PDB holds it too).
 * Never silent: a metric, a warning log line, and the reason in the result.
 */
import type { DrainState } from '../core/drain-state';
import { HISTORY_EVENTS } from '../core/history-budget';
import { MIN_WAIT_MS } from '../core/pacing';
import { forceDeletePods } from '../adapters/kube-drain';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { kubeApi } from './capabilities/kube';
import { ec2Instances } from './capabilities/instances';
import { withRealDeps } from './deps';
import { checkInstance, deriveDrain, refused } from './target';
import { nodeOf } from './target-node';
import { Metric, count } from './observability';
import { workflowStep } from './workflow-step';

export const makeApplyDeadline = workflowStep<DrainState, 'hooks' | 'kube' | 'ec2'>('ApplyDeadlinePolicy', async (input, deps, timeLeftMs) => {
  const { clock, logger, metrics } = deps;
  // Identity: the instance checked again, its node, deadline and policy derived
  // afresh (Auto Scaling, EC2, the cluster, this function's configuration).
  const check = await checkInstance(deps, input.action?.instanceId);
  if (!check.ok) return refused(input, check, deps);
  const derived = await deriveDrain(deps, check.target, { tokenHash: input.action.tokenHash });
  if (clock.now() < Date.parse(derived.deadline.actAt)) {
    logger.warn('the deadline is not reached yet: nothing forced', { actAt: derived.deadline.actAt });
    return { ...input, deadline: derived.deadline, next: 'wait', waitUntil: derived.deadline.actAt };
  }
  // Only force-delete touches the cluster (and only then has this function an
  // identity there: onDeadline=force-delete, or Spot drains on).
  const node = derived.deadline.policy === 'force-delete' ? await nodeOf(deps, check.target, timeLeftMs, { candidate: input.nodeName }) : undefined;
  if (derived.deadline.policy === 'force-delete' && !node) {
    return { ...input, nodeName: null, next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'node-not-found' } };
  }
  const state: DrainState = { ...input, nodeName: node?.name ?? input.nodeName, spot: derived.spot, deadline: { ...derived.deadline, actedAt: input.deadline?.actedAt } };
  const deadline = state.deadline!;
  if (!deadline) throw new Error('ApplyDeadlinePolicy needs the deadline');
  // A Spot drain may come back for a later tier: the deadline was reached once.
  if (!input.deadline?.actedAt) count(metrics, Metric.DeadlinesReached);
  const historyEvents = state.loop.historyEvents + HISTORY_EVENTS.task + HISTORY_EVENTS.choice;
  const loop = { ...state.loop, historyEvents };
  const remaining = state.summary;
  logger.warn(`deadline reached with pods still on the node: applying ${deadline.policy}${state.spot ? ' (Spot interruption)' : ''}`, {
    hardLimitAt: deadline.hardLimitAt,
    evictable: remaining?.evictable,
    terminating: remaining?.terminating,
    blockedByPdb: remaining?.blockedByPdb,
  });

  if (deadline.policy === 'continue' || deadline.policy === 'abandon') {
    const lifecycleResult = deadline.policy === 'continue' ? 'CONTINUE' : 'ABANDON';
    return { ...state, loop, next: 'complete', result: { lifecycleResult, reason: `deadline-${deadline.policy}` } };
  }

  const deleted = await forceDeletePods(
    deps.kube(timeLeftMs),
    node!.name,
    Date.parse(deadline.hardLimitAt),
    (event) => logger.warn(`force-deleted ${event.pod}`, { event }),
    { tiered: Boolean(state.spot) },
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

export const handler = withRealDeps(makeApplyDeadline, { hooks: lifecycleHooks, kube: kubeApi, ec2: ec2Instances });
