/**
 * Prepare: read the hook's timeouts, compute the deadline from the event time,
 * find the node. No node → complete with CONTINUE at once. A continuation
 * (a DrainState from ContinueAsNew) goes straight on to Cordon, which is
 * idempotent and re-asserts the cordon in case someone lifted it.
 */
import { MIN_HEARTBEAT_TIMEOUT_SECONDS, computeDeadline } from '../core/deadline';
import type { DrainStartInput, DrainState } from '../core/drain-state';
import { HISTORY_EVENTS } from '../core/history-budget';
import { findNode } from '../adapters/kube-nodes';
import { instanceDnsName } from './capabilities/instances';
import { kubeApi } from './capabilities/kube';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { withRealDeps } from './deps';
import { isDrainState, workflowStep } from './workflow-step';

const iso = (ms: number) => new Date(ms).toISOString();

/** ExecutionStarted + this Task + the Choice after it. */
const PREPARE_EVENTS = 2 + HISTORY_EVENTS.task + HISTORY_EVENTS.choice;

export const makePrepare = workflowStep<DrainStartInput | DrainState, 'hooks' | 'kube' | 'privateDnsName'>('Prepare', async (input, deps, timeLeftMs) => {
  if (isDrainState(input)) {
    return {
      ...input,
      next: input.nodeName ? 'cordon' : 'complete',
      loop: { ...input.loop, historyEvents: input.loop.historyEvents + PREPARE_EVENTS },
    };
  }
  const { action, executionBase } = input;
  const { config, logger } = deps;
  const hook = await deps.hooks.describeHook(action.autoScalingGroupName, action.lifecycleHookName);
  if (hook.heartbeatTimeoutSeconds < MIN_HEARTBEAT_TIMEOUT_SECONDS) {
    logger.warn(
      `the hook's heartbeat timeout (${hook.heartbeatTimeoutSeconds} s) leaves little room for a drain round and a heartbeat: ${MIN_HEARTBEAT_TIMEOUT_SECONDS} s or more is safe`,
    );
  }
  const deadline = computeDeadline({
    startedAt: Date.parse(action.startedAt),
    globalTimeoutSeconds: hook.globalTimeoutSeconds,
    maxDrainSeconds: config.maxDrainSeconds,
    policy: config.deadlinePolicy,
  });
  const node = await findNode(deps.kube(timeLeftMs), action.instanceId, () => deps.privateDnsName(action.instanceId));
  const state: DrainState = {
    action,
    executionBase,
    generation: 0,
    next: node ? 'cordon' : 'complete',
    nodeName: node?.name ?? null,
    hook,
    deadline: {
      hookExpiresAt: iso(deadline.hookExpiresAt),
      hardLimitAt: iso(deadline.hardLimitAt),
      actAt: iso(deadline.actAt),
      policy: config.deadlinePolicy,
    },
    heartbeat: { count: 0 },
    loop: { iterations: 0, historyEvents: PREPARE_EVENTS, apiErrorsInARow: 0 },
    totals: { evicted: 0, pdbBlocks: 0, forceDeleted: 0, apiErrors: 0, heartbeats: 0 },
  };
  if (!node) {
    logger.warn('no Kubernetes node for this instance: nothing to drain, completing with CONTINUE');
    state.result = { lifecycleResult: 'CONTINUE', reason: 'node-not-found' };
  } else {
    logger.appendKeys({ node: node.name });
    logger.info('drain prepared', { matchedBy: node.matchedBy, hook, deadline: state.deadline });
  }
  return state;
});

export const handler = withRealDeps(makePrepare, { hooks: lifecycleHooks, kube: kubeApi, privateDnsName: instanceDnsName });
