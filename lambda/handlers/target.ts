/**
 * Re-derive, never trust: what a drain step may act on, read from Auto
 * Scaling, EC2 and the cluster each time, whatever its input says.
 *
 * An instance is a drain target when, now:
 * - it belongs to one of the configured groups (DescribeAutoScalingInstances), and
 * - Auto Scaling holds it for a terminate hook (Terminating:Wait, or
 *   Warmed:Terminating:Wait), or EC2 has marked its Spot request for
 *   termination, stop or hibernation (DescribeSpotInstanceRequests).
 * Its node is the one whose spec.providerID names it (see findNode); its
 * deadline comes from the termination's scaling activity, the hook as Auto
 * Scaling describes it, or the Spot notice, and the policies from this
 * function's configuration.
 */
import { INSTANCE_ID, TERMINATE_WAIT_STATES, spotInterruption, terminationActivity, type SpotInstanceAction } from '../core/claims';
import { computeDeadline } from '../core/deadline';
import type { DeadlinePolicy, DrainState, LifecycleAction } from '../core/drain-state';
import type { Ec2Instance } from '../adapters/instances';
import type { HookSettings } from '../adapters/lifecycle';
import type { BaseDeps, DepsWith } from './deps';

type Deps = DepsWith<'hooks' | 'ec2'>;
import { LifecycleActionExpiredError, expiredOnUs } from './heartbeat';
import { countCompletion, countRefused } from './observability';

/** EC2 interrupts a Spot instance two minutes after the notice; nothing extends it. */
export const SPOT_NOTICE_SECONDS = 120;

export interface DrainTarget {
  instanceId: string;
  autoScalingGroupName: string;
  lifecycleState: string;
  /** Auto Scaling holds the instance for a terminate hook. */
  waiting: boolean;
  /** EC2 is about to interrupt it. */
  spot?: { noticeAt: number; instanceAction: SpotInstanceAction };
  ec2?: Ec2Instance;
}

/**
 * `ended`: the instance is past a hook (Terminating:Proceed, Terminated,
 * stopped in the warm pool) or in no group any more — what a drain under way
 * sees once its action ended; `not-held`: in a configured group but in
 * service (or launching): no drain may touch it; `not-ours`: not an instance
 * id, or another group.
 */
export type RefusalCode = 'ended' | 'not-held' | 'not-ours';

/** Lifecycle states of an instance whose terminate action is over. */
const ENDED_STATES = /^(Warmed:)?(Terminating(:Proceed)?|Terminated)$|^Warmed:(Stopped|Running|Hibernated|Pending.*)$/;
export type TargetCheck = { ok: true; target: DrainTarget } | { ok: false; reason: string; code: RefusalCode };

const refuse = (reason: string, code: RefusalCode): TargetCheck => ({ ok: false, reason, code });

/**
 * What EC2 says of an instance that never changes while it lives (its private
 * DNS name, its Spot request): read once per container. Its Spot request's
 * status is read every time.
 */
const ec2Cache = new WeakMap<Deps['ec2'], Map<string, Ec2Instance | undefined>>();
async function ec2Facts(deps: Deps, instanceId: string): Promise<Ec2Instance | undefined> {
  let cache = ec2Cache.get(deps.ec2);
  if (!cache) ec2Cache.set(deps.ec2, (cache = new Map()));
  if (cache.has(instanceId)) return cache.get(instanceId);
  const facts = await deps.ec2.describeInstance(instanceId);
  // Only a running instance's facts are final (a terminated one has no DNS name).
  if (facts?.privateDnsName) {
    if (cache.size >= 1000) cache.clear();
    cache.set(instanceId, facts);
  }
  return facts;
}

/** Is this instance, now, one a drain may act on? */
export async function checkInstance(deps: Deps, instanceId: unknown): Promise<TargetCheck> {
  if (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId)) return refuse('not an instance id', 'not-ours');
  const asg = await deps.hooks.describeInstance(instanceId);
  if (!asg) return refuse(`${instanceId} belongs to no Auto Scaling group`, 'ended');
  if (!deps.config.autoScalingGroupNames.includes(asg.autoScalingGroupName)) {
    return refuse(`${instanceId} is in ${asg.autoScalingGroupName}, which is not a configured group`, 'not-ours');
  }
  const ec2 = await ec2Facts(deps, instanceId);
  let spot: DrainTarget['spot'];
  if (ec2?.spotInstanceRequestId) {
    const status = await deps.ec2.spotRequestStatus(ec2.spotInstanceRequestId);
    const instanceAction = spotInterruption(status?.code);
    if (instanceAction && status?.instanceId === instanceId) spot = { noticeAt: status.updateTime ?? deps.clock.now(), instanceAction };
  }
  const waiting = TERMINATE_WAIT_STATES.has(asg.lifecycleState);
  if (!waiting && !spot) {
    return refuse(
      `${instanceId} is ${asg.lifecycleState}: not held by a terminate hook, and not marked for a Spot interruption`,
      ENDED_STATES.test(asg.lifecycleState) ? 'ended' : 'not-held',
    );
  }
  return { ok: true, target: { instanceId, autoScalingGroupName: asg.autoScalingGroupName, lifecycleState: asg.lifecycleState, waiting, spot, ec2 } };
}

export interface DerivedDrain {
  action: LifecycleAction;
  hook?: HookSettings;
  deadline: NonNullable<DrainState['deadline']>;
  spot?: DrainState['spot'];
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A Spot drain's deadline policy: force-delete whatever onDeadline says. Its
 * continue/abandon choice means nothing there (EC2 takes the instance at the
 * interruption either way), and the pods a PDB still holds are better stopped
 * with their grace clamped to the time left than killed with the instance.
 * apply-deadline may delete pods whenever Spot drains are on
 * (lib/cluster-access.ts applyDeadlineDeletesPods); with spotInterruptions off
 * and onDeadline continue or abandon it has no identity in the cluster, and a
 * lifecycle drain that finds its instance marked for interruption keeps that policy.
 */
export function spotDeadlinePolicy(config: Pick<BaseDeps['config'], 'deadlinePolicy' | 'spotInterruptions'>): DeadlinePolicy {
  return config.deadlinePolicy === 'force-delete' || config.spotInterruptions !== false ? 'force-delete' : config.deadlinePolicy;
}

/**
 * The drain's facts: the action (group, our hook, when the termination
 * started), the hook's timeouts and the deadline. A Spot drain's deadline is
 * the interruption (notice + 2 min), its policy force-delete whatever
 * onDeadline says: the pods go with the instance anyway, better gracefully.
 */
export async function deriveDrain(deps: DepsWith<'hooks'>, target: DrainTarget, known: { tokenHash?: string } = {}): Promise<DerivedDrain> {
  const { config, clock, logger } = deps;
  let startedAt = target.spot?.noticeAt ?? clock.now();
  let activityId: string | undefined;
  let hook: HookSettings | undefined;
  if (target.waiting) {
    const activity = terminationActivity(await deps.hooks.recentActivities(target.autoScalingGroupName), target.instanceId);
    if (activity) {
      startedAt = activity.startTime;
      activityId = activity.activityId;
    } else {
      logger.warn('no scaling activity under way for this termination: the deadline counts from now');
    }
    hook = await deps.hooks.describeHook(target.autoScalingGroupName, config.lifecycleHookName);
  }
  const action: LifecycleAction = {
    autoScalingGroupName: target.autoScalingGroupName,
    lifecycleHookName: config.lifecycleHookName,
    instanceId: target.instanceId,
    ...(known.tokenHash ? { tokenHash: known.tokenHash } : {}),
    ...(activityId ? { activityId } : {}),
    startedAt: iso(startedAt),
  };
  const policy = target.spot ? spotDeadlinePolicy(config) : config.deadlinePolicy;
  const deadline = target.spot
    ? computeDeadline({ startedAt: target.spot.noticeAt, globalTimeoutSeconds: SPOT_NOTICE_SECONDS, maxDrainSeconds: 0, policy })
    : computeDeadline({ startedAt, globalTimeoutSeconds: hook!.globalTimeoutSeconds, maxDrainSeconds: config.maxDrainSeconds, policy });
  return {
    action,
    hook,
    deadline: {
      hookExpiresAt: iso(deadline.hookExpiresAt),
      hardLimitAt: iso(deadline.hardLimitAt),
      actAt: iso(deadline.actAt),
      policy,
    },
    spot: target.spot ? { noticeAt: iso(target.spot.noticeAt), instanceAction: target.spot.instanceAction } : undefined,
  };
}

/**
 * For heartbeat and complete, which only talk to Auto Scaling: the instance
 * must be in a configured group and held by a terminate hook; then the call
 * names our hook (configuration) and that group.
 */
export async function heldByHook(
  deps: DepsWith<'hooks'>,
  state: DrainState,
): Promise<{ ok: true; target: Pick<DrainTarget, 'instanceId' | 'autoScalingGroupName'> } | Extract<TargetCheck, { ok: false }>> {
  // ReleaseAfterError may get the start input itself (Prepare failed): it names the instance only.
  const instanceId = state.action?.instanceId ?? (state as unknown as { instanceId?: unknown }).instanceId;
  if (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId)) return { ok: false, reason: 'not an instance id', code: 'not-ours' };
  const asg = await deps.hooks.describeInstance(instanceId);
  if (!asg) return { ok: false, reason: `${instanceId} belongs to no Auto Scaling group`, code: 'ended' };
  if (!deps.config.autoScalingGroupNames.includes(asg.autoScalingGroupName)) {
    return { ok: false, reason: `${instanceId} is in ${asg.autoScalingGroupName}, which is not a configured group`, code: 'not-ours' };
  }
  if (!TERMINATE_WAIT_STATES.has(asg.lifecycleState)) {
    return { ok: false, reason: `${instanceId} is ${asg.lifecycleState}: not held by a terminate hook`, code: ENDED_STATES.test(asg.lifecycleState) ? 'ended' : 'not-held' };
  }
  return { ok: true, target: { instanceId, autoScalingGroupName: asg.autoScalingGroupName } };
}

/**
 * Where a step goes when its target is refused: the drain ends, nothing
 * touched, nothing completed. For a drain under way whose instance is simply
 * no longer held (completed elsewhere, timed out, terminated) that is the
 * normal end of the story; the hook timing out on us still fails loudly.
 */
export function refused(state: DrainState, check: Extract<TargetCheck, { ok: false }>, deps: BaseDeps): DrainState {
  const now = deps.clock.now();
  deps.logger.removeKeys(['node']);
  const underWay = state.action !== undefined && check.code === 'ended';
  if (underWay && state.hook && expiredOnUs(state, now)) {
    throw new LifecycleActionExpiredError(`the lifecycle action timed out before this step (${check.reason}): the instance terminated with the hook's default result`);
  }
  if (underWay) {
    deps.logger.warn(`the instance is no longer held for us (${check.reason}): stopping the drain`);
    countCompletion(deps.metrics, state.action.autoScalingGroupName, 'AlreadyCompleted');
    return {
      ...state,
      nodeName: null,
      next: 'done',
      result: { lifecycleResult: 'CONTINUE', reason: 'ended-elsewhere', outcome: 'already-completed', completedAt: new Date(now).toISOString(), detail: check.reason.slice(0, 300) },
    };
  }
  deps.logger.error(`refused: ${check.reason}; nothing done`);
  countRefused(deps.metrics);
  return { ...state, nodeName: null, next: 'done', result: { lifecycleResult: 'CONTINUE', reason: 'refused', detail: check.reason.slice(0, 300) } };
}
