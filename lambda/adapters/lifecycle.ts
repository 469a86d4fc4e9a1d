/**
 * The Auto Scaling lifecycle hook calls: read the hook's timeouts, keep the
 * action alive, complete it. Heartbeat and complete are idempotent from the
 * workflow's point of view: "no active lifecycle action" means someone (a
 * previous attempt, a timeout) already ended it, which is a result, not an error.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
  type AutoScalingClientConfig,
} from '@aws-sdk/client-auto-scaling';
import type { LifecycleAction, LifecycleResult } from '../core/drain-state';
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

  async recordHeartbeat(action: LifecycleAction): Promise<'recorded' | 'not-active'> {
    try {
      await this.client.send(new RecordLifecycleActionHeartbeatCommand(target(action)));
      return 'recorded';
    } catch (error) {
      if (isNotActive(error)) return 'not-active';
      throw mapError(error, `RecordLifecycleActionHeartbeat ${describe(action)}`, action.lifecycleActionToken);
    }
  }

  async complete(action: LifecycleAction, result: LifecycleResult): Promise<'completed' | 'not-active'> {
    try {
      await this.client.send(
        new CompleteLifecycleActionCommand({ ...target(action), LifecycleActionResult: result }),
      );
      return 'completed';
    } catch (error) {
      if (isNotActive(error)) return 'not-active';
      throw mapError(error, `CompleteLifecycleAction ${describe(action)}`, action.lifecycleActionToken);
    }
  }
}

// Both identifiers, as the API accepts: the token names this very action, the
// instance id makes the call readable in CloudTrail. An event too broken to
// carry a token can still be released by instance id alone.
function target(action: LifecycleAction) {
  return {
    AutoScalingGroupName: action.autoScalingGroupName,
    LifecycleHookName: action.lifecycleHookName,
    ...(action.lifecycleActionToken ? { LifecycleActionToken: action.lifecycleActionToken } : {}),
    InstanceId: action.instanceId,
  };
}

function describe(action: LifecycleAction): string {
  return `${action.autoScalingGroupName}/${action.lifecycleHookName} ${action.instanceId} token ${action.tokenHash}`;
}

// Already completed, timed out, or abandoned: "No active Lifecycle Action found
// with token <t>" (or "with instance ID <id>").
function isNotActive(error: unknown): boolean {
  return awsErrorName(error) === 'ValidationError' && NOT_ACTIVE.test((error as Error).message);
}

/**
 * Auto Scaling reports a bad request (an unknown group or hook, a malformed
 * token) as ValidationError, which retrying cannot fix. Its messages may quote
 * the lifecycle token, which logs must only show as its hash: the token is
 * scrubbed from the SDK error before it travels on as `cause`.
 */
function mapError(error: unknown, context: string, token?: string): Error {
  if (token && error instanceof Error) {
    error.message = error.message.split(token).join('<token>');
    if (error.stack) error.stack = error.stack.split(token).join('<token>');
  }
  if (awsErrorName(error) === 'ValidationError') {
    return new ConfigurationError(`${context} failed: ValidationError: ${(error as Error).message}`, { cause: error });
  }
  return toAdapterError(error, context);
}
