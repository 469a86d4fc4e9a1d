/**
 * Turns the EventBridge event of a terminating lifecycle action into a
 * LifecycleAction, or says why there is nothing to drain. Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { LifecycleAction } from './drain-state';

export type ParsedEvent =
  | { kind: 'terminate'; action: LifecycleAction }
  | { kind: 'ignore'; reason: 'test-notification' | 'warm-pool' | 'not-terminating' }
  | {
      kind: 'invalid';
      reason: string;
      /** What could be read, so the caller can still log it or release the action by instance id. */
      partial?: { autoScalingGroupName?: string; lifecycleHookName?: string; instanceId?: string };
    };

const SOURCE = 'aws.autoscaling';
const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';
// The instance id goes into execution names, which allow only [0-9A-Za-z-_].
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/**
 * - a hook's test notification → ignore
 * - a launch action, or any other transition → ignore (not-terminating)
 * - Destination WarmPool: the instance is stopped into the warm pool, not terminated → ignore
 * - otherwise every field the workflow needs must be there → terminate, else invalid
 */
export function parseLifecycleEvent(event: unknown): ParsedEvent {
  if (!isRecord(event)) return { kind: 'invalid', reason: 'event is not an object' };
  const detail = event.detail;
  if (!isRecord(detail)) return { kind: 'invalid', reason: 'event has no detail' };
  if (detail.Event === 'autoscaling:TEST_NOTIFICATION') return { kind: 'ignore', reason: 'test-notification' };
  if (event.source !== SOURCE) return { kind: 'invalid', reason: `unexpected source ${String(event.source)}` };
  if (event['detail-type'] !== TERMINATE_DETAIL_TYPE || detail.LifecycleTransition !== TERMINATING) {
    return { kind: 'ignore', reason: 'not-terminating' };
  }
  if (detail.Destination === 'WarmPool') return { kind: 'ignore', reason: 'warm-pool' };

  const autoScalingGroupName = text(detail.AutoScalingGroupName);
  const lifecycleHookName = text(detail.LifecycleHookName);
  const instanceId = text(detail.EC2InstanceId);
  const lifecycleActionToken = text(detail.LifecycleActionToken);
  const startedAt = isoTime(event.time);
  const partial = { autoScalingGroupName, lifecycleHookName, instanceId };
  if (!autoScalingGroupName || !lifecycleHookName || !instanceId || !lifecycleActionToken || !startedAt) {
    const missing = Object.entries({
      AutoScalingGroupName: autoScalingGroupName,
      LifecycleHookName: lifecycleHookName,
      EC2InstanceId: instanceId,
      LifecycleActionToken: lifecycleActionToken,
      time: startedAt,
    }).flatMap(([field, value]) => (value ? [] : [field]));
    return { kind: 'invalid', reason: `missing or invalid: ${missing.join(', ')}`, partial };
  }
  if (!INSTANCE_ID.test(instanceId)) {
    return { kind: 'invalid', reason: 'EC2InstanceId is not an instance id', partial: { ...partial, instanceId: undefined } };
  }

  return {
    kind: 'terminate',
    action: {
      autoScalingGroupName,
      lifecycleHookName,
      instanceId,
      lifecycleActionToken,
      tokenHash: tokenHash(lifecycleActionToken),
      startedAt,
    },
  };
}

/** First 16 hex characters of sha256(token): identifies the action in logs and names without revealing the token. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/**
 * `<instance id>-<token hash>`, at most 36 characters of [0-9a-z-]. The same
 * action always gets the same name, so Step Functions rejects a duplicate
 * event's execution; a new action on the same instance gets a new token.
 */
export function executionName(action: Pick<LifecycleAction, 'instanceId' | 'tokenHash'>): string {
  return `${action.instanceId}-${action.tokenHash}`;
}

/** Name of the execution that carries a drain on past the history cap; generation ≥ 1. */
export function continuationName(base: string, generation: number): string {
  return `${base}-c${generation}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function isoTime(value: unknown): string | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}
