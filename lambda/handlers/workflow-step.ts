/**
 * What every workflow Lambda does around its own step: the drain's keys on
 * every log line, the ASG dimension on every metric, metrics flushed, and
 * errors named for the state machine's Retry (TransientError) and Catch.
 */
import type { Context } from 'aws-lambda';
import type { DrainStartInput, DrainState } from '../core/drain-state';
import { INSTANCE_ID } from '../core/claims';
import { KubeApiError, TransientError } from '../adapters/errors';
import { timeLeft, type Capability, type DepsWith } from './deps';
import { ASG_DIMENSION, drainKeys } from './observability';

export type StepInput = DrainState | DrainStartInput;

export type StepBody<I extends StepInput, K extends Capability> = (input: I, deps: DepsWith<K>, timeLeftMs: number) => Promise<DrainState>;

/** `K`: the capabilities the step calls (see deps.ts); its bundle carries only their clients. */
export function workflowStep<I extends StepInput, K extends Capability>(step: string, body: StepBody<I, K>) {
  return (deps: DepsWith<K>) =>
    async (input: I, context?: Context): Promise<DrainState> => {
      const { logger, metrics } = deps;
      logger.resetKeys();
      logger.appendKeys({ step, ...inputKeys(input) });
      metrics.clearDimensions();
      const group = 'action' in input ? input.action?.autoScalingGroupName : undefined;
      // Only a configured group becomes a dimension: an input is not trusted to name one.
      if (typeof group === 'string' && deps.config.autoScalingGroupNames.includes(group)) metrics.addDimension(ASG_DIMENSION, group);
      try {
        const output = await body(input, deps, timeLeft(context));
        logger.info(`${step}: next ${output.next}`, { next: output.next, waitUntil: output.waitUntil, summary: output.summary, result: output.result });
        return output;
      } catch (err) {
        logger.error(`${step} failed`, err as Error);
        // Retryable Kubernetes trouble is retried by the state machine like any transient AWS error.
        if (err instanceof KubeApiError && err.retryable) throw new TransientError(err.message, { cause: err });
        throw err;
      } finally {
        if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      }
    };
}

export const isDrainState = (input: StepInput): input is DrainState => 'next' in input && 'loop' in input;

/** Log keys of an input, which may be forged: only well-formed values are repeated. */
function inputKeys(input: StepInput) {
  if ('action' in input && input.action && typeof input.action === 'object') {
    const state = input as DrainState;
    // The node as the previous step found it, for the log lines of steps that do not look it up
    // (Heartbeat, Complete); a step that does replaces it, and a refused one drops it.
    const node = typeof state.nodeName === 'string' && /^[a-z0-9.-]{1,253}$/.test(state.nodeName) ? state.nodeName : undefined;
    const keys = drainKeys({ ...state, generation: Number(state.generation) || 0, nodeName: node });
    return { ...keys, instanceId: INSTANCE_ID.test(String(keys.instanceId)) ? keys.instanceId : 'invalid' };
  }
  const start = input as DrainStartInput;
  return {
    instanceId: INSTANCE_ID.test(String(start.instanceId)) ? start.instanceId : 'invalid',
    ...(typeof start.tokenHash === 'string' && /^[0-9a-f]{16}$/.test(start.tokenHash) ? { tokenHash: start.tokenHash } : {}),
    ...(typeof start.executionBase === 'string' ? { execution: start.executionBase.slice(0, 80) } : {}),
  };
}
