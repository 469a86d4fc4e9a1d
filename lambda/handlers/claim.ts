/**
 * Starting a drain, whichever path asks (the lifecycle event, the sweep, a
 * Spot warning): check the instance against Auto Scaling and EC2, then start
 * the execution under the claim name both paths derive from the same facts
 * (core/claims), so the second start of the same drain is refused by Step
 * Functions (ExecutionAlreadyExists) and becomes a no-op.
 *
 * A Spot notice for an instance whose lifecycle drain is under way starts the
 * Spot drain and stops the lifecycle execution: one drain goes on, with the
 * two-minute budget, and it still completes the lifecycle action.
 */
import { drainClaimName, spotClaimName, terminationActivity } from '../core/claims';
import type { DrainStartInput, DrainTrigger } from '../core/drain-state';
import { TransientError } from '../adapters/errors';
import type { DepsWith } from './deps';
import { Metric, count } from './observability';
import { checkInstance, type RefusalCode } from './target';

export type ClaimOutcome =
  | { outcome: 'started' | 'duplicate'; execution: string; kind: 'lifecycle' | 'spot'; autoScalingGroupName: string }
  | { outcome: 'refused'; reason: string; code: RefusalCode };

export async function claimDrain(
  deps: DepsWith<'hooks' | 'ec2' | 'executions'>,
  instanceId: string,
  trigger: DrainTrigger,
  options: { tokenHash?: string; requestId: string },
): Promise<ClaimOutcome> {
  const check = await checkInstance(deps, instanceId);
  if (!check.ok) return { outcome: 'refused', reason: check.reason, code: check.code };
  const target = check.target;
  const input = (executionBase: string): DrainStartInput => ({
    instanceId,
    executionBase,
    trigger,
    ...(options.tokenHash ? { tokenHash: options.tokenHash } : {}),
    requestId: options.requestId,
  });

  if (target.spot) {
    const name = spotClaimName(instanceId);
    const started = await deps.executions.start(name, input(name));
    if (started.outcome === 'started') {
      count(deps.metrics, Metric.SpotDrainsStarted);
      const lifecycleDrains = (await deps.executions.running(`${instanceId}-`)).filter((e) => !e.name.startsWith(name));
      for (const running of lifecycleDrains) {
        await deps.executions.stop(running.executionArn, `EC2 interrupts ${instanceId} in two minutes: ${name} drains it with that budget instead`);
        deps.logger.warn('lifecycle drain switched to the Spot budget', { stopped: running.name, spotDrain: name });
        count(deps.metrics, Metric.SpotSwitches);
      }
    }
    return { outcome: started.outcome, execution: name, kind: 'spot', autoScalingGroupName: target.autoScalingGroupName };
  }

  const activity = terminationActivity(await deps.hooks.recentActivities(target.autoScalingGroupName), instanceId);
  // Auto Scaling lists the activity as soon as the termination starts; if it
  // is not there yet, a retry (Lambda's for the event, the next sweep) will see it.
  if (!activity) throw new TransientError(`no scaling activity under way for the termination of ${instanceId} yet`);
  const name = drainClaimName(instanceId, activity.activityId);
  const started = await deps.executions.start(name, input(name));
  return { outcome: started.outcome, execution: name, kind: 'lifecycle', autoScalingGroupName: target.autoScalingGroupName };
}
