/**
 * Prepare: from the instance id alone, re-derive everything the drain needs —
 * that the instance is held by our hook in a configured group (or about to be
 * interrupted by EC2), the termination's start, the hook's timeouts, the
 * deadline, the node — and take the policies from this function's
 * configuration. An instance no drain may touch ends the execution with
 * `refused`: nothing cordoned, nothing completed. No node → complete with
 * CONTINUE at once. A continuation (a DrainState from ContinueAsNew) keeps
 * only its counters; its facts are derived again like a first start's.
 */
import { MIN_HEARTBEAT_TIMEOUT_SECONDS } from '../core/deadline';
import type { DrainStartInput, DrainState } from '../core/drain-state';
import { HISTORY_EVENTS } from '../core/history-budget';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { kubeApi } from './capabilities/kube';
import { ec2Instances } from './capabilities/instances';
import { withRealDeps } from './deps';
import { checkInstance, deriveDrain, refused } from './target';
import { nodeOf } from './target-node';
import { isDrainState, workflowStep } from './workflow-step';

/** ExecutionStarted + this Task + the Choice after it. */
const PREPARE_EVENTS = 2 + HISTORY_EVENTS.task + HISTORY_EVENTS.choice;

export const makePrepare = workflowStep<DrainStartInput | DrainState, 'hooks' | 'kube' | 'ec2'>('Prepare', async (input, deps, timeLeftMs) => {
  const { logger } = deps;
  const continuation = isDrainState(input) ? input : undefined;
  const instanceId = continuation ? continuation.action?.instanceId : (input as DrainStartInput).instanceId;
  const tokenHash = continuation ? continuation.action?.tokenHash : (input as DrainStartInput).tokenHash;
  const executionBase = String(input.executionBase ?? '').slice(0, 72);
  const base: DrainState = {
    action: { autoScalingGroupName: '', lifecycleHookName: deps.config.lifecycleHookName, instanceId: String(instanceId).slice(0, 19), startedAt: new Date(deps.clock.now()).toISOString() },
    executionBase,
    generation: continuation ? Number(continuation.generation) || 0 : 0,
    next: 'done',
    heartbeat: continuation?.heartbeat ?? { count: 0 },
    loop: continuation
      ? { ...continuation.loop, historyEvents: (Number(continuation.loop?.historyEvents) || 0) + PREPARE_EVENTS }
      : { iterations: 0, historyEvents: PREPARE_EVENTS, apiErrorsInARow: 0 },
    totals: continuation?.totals ?? { evicted: 0, pdbBlocks: 0, forceDeleted: 0, apiErrors: 0, heartbeats: 0 },
  };

  const check = await checkInstance(deps, instanceId);
  if (!check.ok) return refused(continuation ? { ...base, hook: continuation.hook, deadline: continuation.deadline } : base, check, deps);
  const target = check.target;
  const derived = await deriveDrain(deps, target, { tokenHash: typeof tokenHash === 'string' && /^[0-9a-f]{16}$/.test(tokenHash) ? tokenHash : undefined });
  if (derived.hook && derived.hook.heartbeatTimeoutSeconds < MIN_HEARTBEAT_TIMEOUT_SECONDS) {
    logger.warn(
      `the hook's heartbeat timeout (${derived.hook.heartbeatTimeoutSeconds} s) leaves little room for a drain round and a heartbeat: ${MIN_HEARTBEAT_TIMEOUT_SECONDS} s or more is safe`,
    );
  }
  const node = await nodeOf(deps, target, timeLeftMs, { list: true });
  const state: DrainState = {
    ...base,
    action: derived.action,
    next: node ? 'cordon' : 'complete',
    nodeName: node?.name ?? null,
    ...(derived.hook ? { hook: derived.hook } : {}),
    ...(derived.spot ? { spot: derived.spot } : {}),
    deadline: derived.deadline,
  };
  if (!node) {
    logger.warn('no Kubernetes node for this instance: nothing to drain, completing with CONTINUE');
    state.result = { lifecycleResult: 'CONTINUE', reason: 'node-not-found' };
  } else {
    logger.appendKeys({ node: node.name });
    logger.info(continuation ? 'drain continued' : 'drain prepared', { matchedBy: node.matchedBy, hook: derived.hook, deadline: state.deadline, spot: derived.spot, lifecycleState: target.lifecycleState });
  }
  return state;
});

export const handler = withRealDeps(makePrepare, { hooks: lifecycleHooks, kube: kubeApi, ec2: ec2Instances });
