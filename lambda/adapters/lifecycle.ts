/**
 * The Auto Scaling calls: read the hook's timeouts, keep the action alive,
 * complete it — by instance id, group and hook, never by token (the drain
 * carries no token) — and read what the drain re-derives its facts from: an
 * instance's group and lifecycle state, the groups' instances, the scaling
 * activity of a termination. Heartbeat and complete are idempotent from the
 * workflow's point of view: "no active lifecycle action" means someone (a
 * previous attempt, a timeout) already ended it, which is a result, not an error.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DescribeScalingActivitiesCommand,
  RecordLifecycleActionHeartbeatCommand,
  type AutoScalingClientConfig,
} from '@aws-sdk/client-auto-scaling';
import type { ActivityView } from '../core/claims';
import type { LifecycleResult } from '../core/drain-state';
import { ConfigurationError, awsErrorName, toAdapterError } from './errors';

/**
 * SDK attempts per call. ResourceContentionFault and throttling come in bursts
 * when a scale-in completes many actions of one group at once; a few jittered
 * SDK retries (a few seconds in all, well inside the Lambda timeout) absorb a
 * burst, and past them the state machine's Retry on TransientError waits longer.
 * More SDK attempts would only multiply with those retries.
 */
export const AUTO_SCALING_MAX_ATTEMPTS = 4;

export function createAutoScalingClient(config: AutoScalingClientConfig = {}): AutoScalingClient {
  return new AutoScalingClient({ maxAttempts: AUTO_SCALING_MAX_ATTEMPTS, ...config });
}

export interface HookSettings {
  heartbeatTimeoutSeconds: number;
  globalTimeoutSeconds: number;
  defaultResult: LifecycleResult;
}

// Values Auto Scaling applies when PutLifecycleHook omits them.
const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 3600;
const MAX_GLOBAL_TIMEOUT_SECONDS = 172_800;

const NOT_ACTIVE = /No active Lifecycle Action found/i;

/** Which lifecycle action a heartbeat or completion is for: Auto Scaling accepts these instead of the token. */
export interface ActionTarget {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  instanceId: string;
}

export interface AutoScalingInstance {
  instanceId: string;
  autoScalingGroupName: string;
  lifecycleState: string;
  availabilityZone?: string;
}

/** Scaling activities read per group when looking for a termination: the newest come first. */
const ACTIVITY_PAGES = 3;

export class LifecycleHooks {
  constructor(private readonly client: AutoScalingClient) {}

  async describeHook(autoScalingGroupName: string, lifecycleHookName: string): Promise<HookSettings> {
    const context = `DescribeLifecycleHooks ${autoScalingGroupName}/${lifecycleHookName}`;
    let hooks;
    try {
      ({ LifecycleHooks: hooks } = await this.client.send(
        new DescribeLifecycleHooksCommand({
          AutoScalingGroupName: autoScalingGroupName,
          LifecycleHookNames: [lifecycleHookName],
        }),
      ));
    } catch (error) {
      throw mapError(error, context);
    }
    const hook = hooks?.find((h) => h.LifecycleHookName === lifecycleHookName);
    if (!hook) throw new ConfigurationError(`${context}: no such lifecycle hook`);
    const heartbeatTimeoutSeconds = hook.HeartbeatTimeout ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS;
    return {
      heartbeatTimeoutSeconds,
      globalTimeoutSeconds:
        hook.GlobalTimeout ?? Math.min(100 * heartbeatTimeoutSeconds, MAX_GLOBAL_TIMEOUT_SECONDS),
      // ABANDON is what Auto Scaling applies when the hook does not say.
      defaultResult: hook.DefaultResult === 'CONTINUE' ? 'CONTINUE' : 'ABANDON',
    };
  }

  async recordHeartbeat(action: ActionTarget): Promise<'recorded' | 'not-active'> {
    try {
      await this.client.send(new RecordLifecycleActionHeartbeatCommand(target(action)));
      return 'recorded';
    } catch (error) {
      if (isNotActive(error)) return 'not-active';
      throw mapError(error, `RecordLifecycleActionHeartbeat ${describe(action)}`);
    }
  }

  async complete(action: ActionTarget, result: LifecycleResult): Promise<'completed' | 'not-active'> {
    try {
      await this.client.send(
        new CompleteLifecycleActionCommand({ ...target(action), LifecycleActionResult: result }),
      );
      return 'completed';
    } catch (error) {
      if (isNotActive(error)) return 'not-active';
      throw mapError(error, `CompleteLifecycleAction ${describe(action)}`);
    }
  }

  /** The instance's group and lifecycle state; undefined when it belongs to no group (or is gone). */
  async describeInstance(instanceId: string): Promise<AutoScalingInstance | undefined> {
    let found;
    try {
      ({ AutoScalingInstances: found } = await this.client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] })));
    } catch (error) {
      throw mapError(error, `DescribeAutoScalingInstances ${instanceId}`);
    }
    const instance = found?.find((i) => i.InstanceId === instanceId);
    if (!instance?.AutoScalingGroupName || !instance.LifecycleState) return undefined;
    return {
      instanceId,
      autoScalingGroupName: instance.AutoScalingGroupName,
      lifecycleState: instance.LifecycleState,
      availabilityZone: instance.AvailabilityZone,
    };
  }

  /** The groups' instances (warm pools excluded) with their lifecycle states, every page. */
  async groupInstances(autoScalingGroupNames: string[]): Promise<AutoScalingInstance[]> {
    const instances: AutoScalingInstance[] = [];
    // The API takes up to 100 names per call.
    for (let i = 0; i < autoScalingGroupNames.length; i += 100) {
      let nextToken: string | undefined;
      do {
        let page;
        try {
          page = await this.client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: autoScalingGroupNames.slice(i, i + 100), NextToken: nextToken }));
        } catch (error) {
          throw mapError(error, 'DescribeAutoScalingGroups');
        }
        for (const group of page.AutoScalingGroups ?? []) {
          for (const instance of group.Instances ?? []) {
            if (!instance.InstanceId || !instance.LifecycleState || !group.AutoScalingGroupName) continue;
            instances.push({
              instanceId: instance.InstanceId,
              autoScalingGroupName: group.AutoScalingGroupName,
              lifecycleState: instance.LifecycleState,
              availabilityZone: instance.AvailabilityZone,
            });
          }
        }
        nextToken = page.NextToken;
      } while (nextToken);
    }
    return instances;
  }

  /** The group's newest scaling activities (a few pages, newest first). */
  async recentActivities(autoScalingGroupName: string): Promise<ActivityView[]> {
    const activities: ActivityView[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < ACTIVITY_PAGES; page++) {
      let answer;
      try {
        answer = await this.client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: autoScalingGroupName, MaxRecords: 100, NextToken: nextToken }));
      } catch (error) {
        throw mapError(error, `DescribeScalingActivities ${autoScalingGroupName}`);
      }
      for (const a of answer.Activities ?? []) {
        if (!a.ActivityId || !a.StartTime) continue;
        activities.push({ activityId: a.ActivityId, description: a.Description ?? '', statusCode: a.StatusCode ?? '', startTime: new Date(a.StartTime).getTime() });
      }
      nextToken = answer.NextToken;
      if (!nextToken) break;
    }
    return activities;
  }
}

function target(action: ActionTarget) {
  return {
    AutoScalingGroupName: action.autoScalingGroupName,
    LifecycleHookName: action.lifecycleHookName,
    InstanceId: action.instanceId,
  };
}

function describe(action: ActionTarget): string {
  return `${action.autoScalingGroupName}/${action.lifecycleHookName} ${action.instanceId}`;
}

// Already completed, timed out, or abandoned: "No active Lifecycle Action found
// with token <t>" (or "with instance ID <id>").
function isNotActive(error: unknown): boolean {
  return awsErrorName(error) === 'ValidationError' && NOT_ACTIVE.test((error as Error).message);
}

/**
 * Auto Scaling reports a bad request (an unknown group or hook) as
 * ValidationError, which retrying cannot fix.
 */
function mapError(error: unknown, context: string): Error {
  if (awsErrorName(error) === 'ValidationError') {
    return new ConfigurationError(`${context} failed: ValidationError: ${(error as Error).message}`, { cause: error });
  }
  return toAdapterError(error, context);
}
