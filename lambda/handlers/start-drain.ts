/**
 * start-drain: the EventBridge target for terminate lifecycle actions (to EC2
 * or into a warm pool) and Spot interruption warnings. It trusts nothing the
 * event says: the event must come from this account and region and name a
 * configured group, and the instance must then be, when checked, held by our
 * hook in a configured group or marked by EC2 for interruption. The execution
 * is named after the claim (core/claims) that the sweep derives too, so a
 * duplicated or late event, or one the sweep already answered, starts nothing.
 *
 * An event too broken to parse but naming its instance is still drained (the
 * instance is checked like any other); one that does not even say which
 * instance fails the invocation, so it lands in the dead-letter queue and the
 * DLQ alarm fires. What reaches it is the rule's input transformer's output
 * (lib/lifecycle-hooks LIFECYCLE_EVENT_INPUT): never the lifecycle token, so
 * neither this function's payload, its logs nor its DLQ hold one.
 */
import type { Context } from 'aws-lambda';
import { parseDrainEvent } from '../core/lifecycle-event';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { ec2Instances } from './capabilities/instances';
import { drainExecutions } from './capabilities/executions';
import { withRealDeps, type DepsWith } from './deps';
import { claimDrain } from './claim';
import { ASG_DIMENSION, Metric, count, countRefused } from './observability';

export class InvalidLifecycleEventError extends Error {
  override readonly name = 'InvalidLifecycleEventError';
}

export type StartDrainResult =
  | { outcome: 'started' | 'duplicate'; execution: string }
  | { outcome: 'ignored' | 'refused'; reason: string };

export const makeStartDrain =
  (deps: DepsWith<'hooks' | 'ec2' | 'executions'>) =>
  async (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<StartDrainResult> => {
    const { logger, metrics, clock, config } = deps;
    logger.resetKeys();
    metrics.clearDimensions();
    const refuse = (reason: string): StartDrainResult => {
      countRefused(metrics);
      logger.error(`event refused: ${reason}`);
      return { outcome: 'refused', reason };
    };
    try {
      const envelope = (typeof event === 'object' && event !== null ? event : {}) as { account?: unknown; region?: unknown; id?: unknown };
      // The EventBridge event id correlates this invocation with the event (and
      // its execution, named in the same log line); the lifecycle token never gets here.
      if (typeof envelope.id === 'string' && /^[0-9A-Za-z-]{1,64}$/.test(envelope.id)) logger.appendKeys({ eventId: envelope.id });
      if (config.accountId && envelope.account !== config.accountId) return refuse(`the event comes from account ${String(envelope.account).slice(0, 20)}, not ${config.accountId}`);
      if (config.region && envelope.region !== config.region) return refuse(`the event comes from region ${String(envelope.region).slice(0, 30)}, not ${config.region}`);

      const parsed = parseDrainEvent(event);
      let instanceId: string;
      let tokenHash: string | undefined;
      let trigger: 'event' | 'spot-warning' = 'event';
      switch (parsed.kind) {
        case 'ignore':
          logger.info(`event ignored: ${parsed.reason}`);
          return { outcome: 'ignored', reason: parsed.reason };
        case 'launch':
        case 'rebalance':
          logger.info(`event ignored: ${parsed.kind} events go to the node-marks function`);
          return { outcome: 'ignored', reason: 'not-a-drain-event' };
        case 'invalid': {
          count(metrics, Metric.InvalidEvents);
          const partial = parsed.partial ?? {};
          if (!partial.instanceId) {
            logger.error(`invalid lifecycle event, and no instance to drain: ${parsed.reason}`, { partial });
            throw new InvalidLifecycleEventError(`invalid lifecycle event: ${parsed.reason}`);
          }
          if (partial.autoScalingGroupName && !config.autoScalingGroupNames.includes(partial.autoScalingGroupName)) return refuse('the event names a group that is not configured');
          logger.error(`malformed lifecycle event (${parsed.reason}): draining by instance id anyway, once checked`, { instanceId: partial.instanceId });
          instanceId = partial.instanceId;
          break;
        }
        case 'terminate':
          if (!config.autoScalingGroupNames.includes(parsed.autoScalingGroupName)) return refuse('the event names a group that is not configured');
          if (parsed.lifecycleHookName !== config.lifecycleHookName) return refuse('the event names another lifecycle hook');
          instanceId = parsed.instanceId;
          tokenHash = parsed.tokenHash;
          break;
        case 'spot-interruption':
          instanceId = parsed.instanceId;
          trigger = 'spot-warning';
          break;
      }

      logger.appendKeys({ instanceId, ...(tokenHash ? { tokenHash } : {}), trigger });
      const claim = await claimDrain(deps, instanceId, trigger, { tokenHash, requestId: context?.awsRequestId ?? `local-${clock.now()}` });
      if (claim.outcome === 'refused') {
        // A Spot warning for an instance of another group (or none) is normal: not ours.
        if (trigger === 'spot-warning') {
          logger.info(`Spot warning ignored: ${claim.reason}`);
          return { outcome: 'ignored', reason: 'not-ours' };
        }
        // A late or repeated event for an action that is over: nothing left to do.
        if (claim.code === 'ended' && parsed.kind === 'terminate') {
          logger.info(`event ignored: the instance is no longer held by our hook (${claim.reason})`);
          return { outcome: 'ignored', reason: 'no-longer-held' };
        }
        return refuse(claim.reason);
      }
      logger.appendKeys({ execution: claim.execution, autoScalingGroupName: claim.autoScalingGroupName });
      metrics.addDimension(ASG_DIMENSION, claim.autoScalingGroupName);
      if (claim.outcome === 'duplicate') {
        count(metrics, Metric.DuplicateEvents);
        logger.info('duplicate event: this drain already has its execution (started by another event, the sweep or a Spot warning)');
      } else {
        count(metrics, Metric.DrainsStarted);
        logger.info(claim.kind === 'spot' ? 'Spot drain started: two minutes' : 'drain started');
      }
      return { outcome: claim.outcome, execution: claim.execution };
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };

export const handler = withRealDeps(makeStartDrain, { hooks: lifecycleHooks, ec2: ec2Instances, executions: drainExecutions });
