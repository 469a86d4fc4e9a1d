/**
 * Reads the EventBridge events that concern a drain: the terminate and launch
 * lifecycle actions of Auto Scaling, and EC2's Spot interruption warning and
 * rebalance recommendation. Pure: no I/O. Nothing read here is trusted: the
 * instance id only says which instance to check against Auto Scaling and EC2.
 */
import { createHash } from 'node:crypto';
import { INSTANCE_ID, type SpotInstanceAction } from './claims';

interface LifecycleFields {
  instanceId: string;
  autoScalingGroupName: string;
  lifecycleHookName: string;
  /**
   * sha256 prefix of the token, only when the event still carries one (a
   * direct invocation): the rule's input transformer keeps the token in
   * EventBridge, so a delivered event has none and this stays undefined.
   */
  tokenHash?: string;
}

export type ParsedEvent =
  | ({ kind: 'terminate'; destination: 'EC2' | 'WarmPool' } & LifecycleFields)
  | ({ kind: 'launch'; origin: 'EC2' | 'WarmPool' } & LifecycleFields)
  | { kind: 'spot-interruption'; instanceId: string; instanceAction: SpotInstanceAction }
  | { kind: 'rebalance'; instanceId: string }
  | { kind: 'ignore'; reason: 'test-notification' | 'not-a-drain-event' }
  | {
      kind: 'invalid';
      reason: string;
      /** What could be read, so the caller can still log it or drain the instance (checked like any other). */
      partial?: { autoScalingGroupName?: string; lifecycleHookName?: string; instanceId?: string };
    };

const AUTOSCALING = 'aws.autoscaling';
const EC2 = 'aws.ec2';
const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
const LAUNCH_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';
const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';
const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const SPOT_WARNING_DETAIL_TYPE = 'EC2 Spot Instance Interruption Warning';
export const REBALANCE_DETAIL_TYPE = 'EC2 Instance Rebalance Recommendation';

/**
 * - a hook's test notification → ignore
 * - terminate action (to EC2 or back to a warm pool): both drain → terminate
 * - launch action → launch (Origin WarmPool: a node coming back)
 * - Spot interruption warning → spot-interruption; rebalance recommendation → rebalance
 * - any other event → ignore; fields missing or malformed → invalid
 * The lifecycle token is not needed (and not in what the rule delivers); a
 * field that is "" (how EventBridge renders a path missing from the event) is missing.
 */
export function parseDrainEvent(event: unknown): ParsedEvent {
  if (!isRecord(event)) return { kind: 'invalid', reason: 'event is not an object' };
  const detail = event.detail;
  if (!isRecord(detail)) return { kind: 'invalid', reason: 'event has no detail' };
  if (event.source === EC2) return parseEc2(event['detail-type'], detail);
  if (detail.Event === 'autoscaling:TEST_NOTIFICATION') return { kind: 'ignore', reason: 'test-notification' };
  if (event.source !== AUTOSCALING) return { kind: 'invalid', reason: `unexpected source ${String(event.source).slice(0, 64)}` };
  const terminate = event['detail-type'] === TERMINATE_DETAIL_TYPE && detail.LifecycleTransition === TERMINATING;
  const launch = event['detail-type'] === LAUNCH_DETAIL_TYPE && detail.LifecycleTransition === LAUNCHING;
  if (!terminate && !launch) return { kind: 'ignore', reason: 'not-a-drain-event' };

  const autoScalingGroupName = text(detail.AutoScalingGroupName);
  const lifecycleHookName = text(detail.LifecycleHookName);
  const instanceId = text(detail.EC2InstanceId);
  const partial = { autoScalingGroupName, lifecycleHookName, instanceId: instanceId && INSTANCE_ID.test(instanceId) ? instanceId : undefined };
  if (!autoScalingGroupName || !lifecycleHookName || !instanceId) {
    const missing = Object.entries({ AutoScalingGroupName: autoScalingGroupName, LifecycleHookName: lifecycleHookName, EC2InstanceId: instanceId })
      .flatMap(([field, value]) => (value ? [] : [field]));
    return { kind: 'invalid', reason: `missing or invalid: ${missing.join(', ')}`, partial };
  }
  if (!INSTANCE_ID.test(instanceId)) return { kind: 'invalid', reason: 'EC2InstanceId is not an instance id', partial };
  // The rule's input transformer leaves the token out: heartbeat and complete
  // go by instance id, group and hook. Only an event handed over untransformed
  // (a direct invocation) still carries one; its hash then correlates the logs.
  const token = text(detail.LifecycleActionToken);
  const fields: LifecycleFields = { instanceId, autoScalingGroupName, lifecycleHookName, ...(token ? { tokenHash: tokenHash(token) } : {}) };
  return terminate
    ? { kind: 'terminate', destination: detail.Destination === 'WarmPool' ? 'WarmPool' : 'EC2', ...fields }
    : { kind: 'launch', origin: detail.Origin === 'WarmPool' ? 'WarmPool' : 'EC2', ...fields };
}

function parseEc2(detailType: unknown, detail: Record<string, unknown>): ParsedEvent {
  const instanceId = text(detail['instance-id']);
  if (detailType !== SPOT_WARNING_DETAIL_TYPE && detailType !== REBALANCE_DETAIL_TYPE) return { kind: 'ignore', reason: 'not-a-drain-event' };
  if (!instanceId || !INSTANCE_ID.test(instanceId)) return { kind: 'invalid', reason: 'instance-id is missing or not an instance id' };
  if (detailType === REBALANCE_DETAIL_TYPE) return { kind: 'rebalance', instanceId };
  const action = detail['instance-action'];
  const instanceAction: SpotInstanceAction = action === 'stop' || action === 'hibernate' ? action : 'terminate';
  return { kind: 'spot-interruption', instanceId, instanceAction };
}

/** First 16 hex characters of sha256(token): identifies the action in logs without revealing the token. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
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
