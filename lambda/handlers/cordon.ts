/**
 * Cordon: unschedulable, our NoSchedule taint, out of load balancers — on the
 * node found from the instance, once the instance is checked again (never the
 * node named in the input). Idempotent, so a redrive or a continuation can
 * run it again.
 */
import type { DrainState } from '../core/drain-state';
import { HISTORY_EVENTS } from '../core/history-budget';
import { cordonNode } from '../adapters/kube-nodes';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { kubeApi } from './capabilities/kube';
import { ec2Instances } from './capabilities/instances';
import { withRealDeps } from './deps';
import { checkInstance, refused } from './target';
import { nodeOf } from './target-node';
import { workflowStep } from './workflow-step';

export const makeCordon = workflowStep<DrainState, 'hooks' | 'kube' | 'ec2'>('Cordon', async (state, deps, timeLeftMs) => {
  const check = await checkInstance(deps, state.action?.instanceId);
  if (!check.ok) return refused(state, check, deps);
  const node = await nodeOf(deps, check.target, timeLeftMs, { candidate: state.nodeName });
  const outcome = node
    ? await cordonNode(deps.kube(timeLeftMs), node.name, state.action.tokenHash ?? check.target.instanceId, node.object)
    : 'node-gone';
  deps.logger.info(`cordon: ${outcome}`);
  // A node that vanished meanwhile is found drained by the next step.
  return { ...state, nodeName: node?.name ?? null, next: 'drain', loop: { ...state.loop, historyEvents: state.loop.historyEvents + HISTORY_EVENTS.task } };
});

export const handler = withRealDeps(makeCordon, { hooks: lifecycleHooks, kube: kubeApi, ec2: ec2Instances });
