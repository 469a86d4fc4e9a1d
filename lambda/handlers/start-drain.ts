/**
 * start-drain: the EventBridge target. One lifecycle action, one execution:
 * the execution is named after the action (instance id + token hash), so
 * Step Functions refuses a second start of the same name and a duplicated
 * event is logged and counted, never drained twice.
 *
 * An event too broken to parse but naming its group, hook and instance is
 * still drained (heartbeat and complete work by instance id); one that does
 * not even say which instance fails the invocation, so it lands in the
 * dead-letter queue and the DLQ alarm fires.
 */
import type { Context } from 'aws-lambda';
import type { DrainStartInput, LifecycleAction } from '../core/drain-state';
import { executionName, parseLifecycleEvent, tokenHash } from '../core/lifecycle-event';
import { drainExecutions } from './capabilities/executions';
import { withRealDeps, type DepsWith } from './deps';
import { ASG_DIMENSION, Metric, count } from './observability';

export class InvalidLifecycleEventError extends Error {
  override readonly name = 'InvalidLifecycleEventError';
}

export type StartDrainResult =
  | { outcome: 'started' | 'duplicate'; execution: string }
  | { outcome: 'ignored'; reason: string };

export const makeStartDrain =
  (deps: DepsWith<'executions'>) =>
  async (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<StartDrainResult> => {
    const { logger, metrics, clock } = deps;
    logger.resetKeys();
    metrics.clearDimensions();
    try {
      const parsed = parseLifecycleEvent(event);
      let action: LifecycleAction;
      if (parsed.kind === 'ignore') {
        logger.info(`event ignored: ${parsed.reason}`);
        return { outcome: 'ignored', reason: parsed.reason };
      } else if (parsed.kind === 'invalid') {
        const { autoScalingGroupName, lifecycleHookName, instanceId } = parsed.partial ?? {};
        count(metrics, Metric.InvalidEvents);
        if (!autoScalingGroupName || !lifecycleHookName || !instanceId) {
          logger.error(`invalid lifecycle event, and no instance to drain: ${parsed.reason}`, { partial: parsed.partial });
          throw new InvalidLifecycleEventError(`invalid lifecycle event: ${parsed.reason}`);
        }
        const raw = rawDetail(event);
        const token = typeof raw.LifecycleActionToken === 'string' ? raw.LifecycleActionToken : '';
        // The action started when the event was emitted; only without a usable
        // time do we take now (the deadline may then be late by the delivery delay).
        const eventTime = Date.parse(String((event as { time?: unknown }).time));
        action = {
          autoScalingGroupName,
          lifecycleHookName,
          instanceId,
          lifecycleActionToken: token,
          tokenHash: tokenHash(token),
          startedAt: new Date(Number.isFinite(eventTime) ? eventTime : clock.now()).toISOString(),
        };
        logger.error(`malformed lifecycle event (${parsed.reason}): draining by instance id anyway`, { instanceId });
      } else {
        action = parsed.action;
      }

      const name = executionName(action);
      logger.appendKeys({ instanceId: action.instanceId, autoScalingGroupName: action.autoScalingGroupName, tokenHash: action.tokenHash, execution: name });
      metrics.addDimension(ASG_DIMENSION, action.autoScalingGroupName);
      const input: DrainStartInput = { action, executionBase: name, requestId: context?.awsRequestId ?? `local-${clock.now()}` };
      const started = await deps.executions.start(name, input);
      if (started.outcome === 'duplicate') {
        count(metrics, Metric.DuplicateEvents);
        logger.info('duplicate event: this lifecycle action already has its drain', { executionArn: started.executionArn });
      } else {
        count(metrics, Metric.DrainsStarted);
        logger.info('drain started', { executionArn: started.executionArn });
      }
      return { outcome: started.outcome, execution: name };
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };

function rawDetail(event: unknown): Record<string, unknown> {
  const detail = (event as { detail?: unknown } | null)?.detail;
  return typeof detail === 'object' && detail !== null ? (detail as Record<string, unknown>) : {};
}

export const handler = withRealDeps(makeStartDrain, { executions: drainExecutions });
