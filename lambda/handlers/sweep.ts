/**
 * sweep: run by an EventBridge Scheduler schedule every few minutes. Lists
 * the configured groups' instances held by a terminate hook and starts a
 * drain for any that has none, under the same claim name the event path uses
 * (core/claims): a drain already started (by its event, an earlier sweep or a
 * Spot warning, continuations included) makes the start a no-op. EventBridge
 * delivers best effort; this is what recovers a lost event.
 */
import type { Context } from 'aws-lambda';
import { TERMINATE_WAIT_STATES } from '../core/claims';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { ec2Instances } from './capabilities/instances';
import { drainExecutions } from './capabilities/executions';
import { withRealDeps, type DepsWith } from './deps';
import { claimDrain } from './claim';
import { Metric, count } from './observability';

export interface SweepResult {
  found: number;
  started: string[];
  alreadyDraining: number;
  refused: number;
  failed: number;
}

export const makeSweep =
  (deps: DepsWith<'hooks' | 'ec2' | 'executions'>) =>
  async (_event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<SweepResult> => {
    const { logger, metrics, config, clock } = deps;
    logger.resetKeys();
    metrics.clearDimensions();
    logger.appendKeys({ step: 'Sweep' });
    try {
      const held = (await deps.hooks.groupInstances(config.autoScalingGroupNames)).filter((i) => TERMINATE_WAIT_STATES.has(i.lifecycleState));
      count(metrics, Metric.SweepInstancesFound, held.length);
      const result: SweepResult = { found: held.length, started: [], alreadyDraining: 0, refused: 0, failed: 0 };
      for (const instance of held) {
        try {
          const claim = await claimDrain(deps, instance.instanceId, 'sweep', { requestId: context?.awsRequestId ?? `sweep-${clock.now()}` });
          if (claim.outcome === 'started') {
            result.started.push(claim.execution);
            logger.warn('drain started by the sweep: its lifecycle event was lost or is late', { instanceId: instance.instanceId, execution: claim.execution });
          } else if (claim.outcome === 'duplicate') {
            result.alreadyDraining++;
          } else if (claim.outcome === 'refused') {
            result.refused++;
            logger.info(`not drained: ${claim.reason}`, { instanceId: instance.instanceId });
          }
        } catch (err) {
          // One instance's trouble must not stop the others; the next sweep tries again.
          result.failed++;
          logger.error('could not start a drain for this instance; the next sweep tries again', { instanceId: instance.instanceId, error: (err as Error).message });
        }
      }
      count(metrics, Metric.SweepDrainsStarted, result.started.length);
      logger.info('sweep done', { ...result });
      return result;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };

export const handler = withRealDeps(makeSweep, { hooks: lifecycleHooks, ec2: ec2Instances, executions: drainExecutions });
