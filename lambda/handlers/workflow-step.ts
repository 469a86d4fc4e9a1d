/**
 * What every workflow Lambda does around its own step: the drain's keys on
 * every log line, the ASG dimension on every metric, metrics flushed, and
 * errors named for the state machine's Retry (TransientError) and Catch.
 */
import type { Context } from 'aws-lambda';
import type { DrainStartInput, DrainState } from '../core/drain-state';
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
      logger.appendKeys({ step, ...drainKeys({ generation: 0, nodeName: undefined, ...input }) });
      metrics.clearDimensions();
      metrics.addDimension(ASG_DIMENSION, input.action.autoScalingGroupName);
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
