/**
 * Cordon: unschedulable, our NoSchedule taint, out of load balancers.
 * Idempotent, so a redrive or a continuation can run it again.
 */
import type { DrainState } from '../core/drain-state';
import { HISTORY_EVENTS } from '../core/history-budget';
import { cordonNode } from '../adapters/kube-nodes';
import { kubeApi } from './capabilities/kube';
import { withRealDeps } from './deps';
import { workflowStep } from './workflow-step';

export const makeCordon = workflowStep<DrainState, 'kube'>('Cordon', async (state, deps, timeLeftMs) => {
  const outcome = state.nodeName
    ? await cordonNode(deps.kube(timeLeftMs), state.nodeName, state.action.tokenHash)
    : 'node-gone';
  deps.logger.info(`cordon: ${outcome}`);
  // A node that vanished meanwhile is found drained by the next step.
  return { ...state, next: 'drain', loop: { ...state.loop, historyEvents: state.loop.historyEvents + HISTORY_EVENTS.task } };
});

export const handler = withRealDeps(makeCordon, { kube: kubeApi });
