/**
 * A simulated Auto Scaling group's lifecycle hooks on the sim clock, served
 * to the real AWS SDK clients through aws-sdk-client-mock: the product's
 * adapters run unchanged and meet Auto Scaling's real answers — the
 * heartbeat timer, the global timeout, DefaultResult, and
 * `ValidationError: No active Lifecycle Action found with token …` (or
 * `with instance ID …`) once an action is over.
 *
 * It also models what the drain re-derives its facts from:
 * - each instance's group and LifecycleState (DescribeAutoScalingInstances,
 *   DescribeAutoScalingGroups): InService → Terminating:Wait while a terminate
 *   action waits → Terminating:Proceed → Terminated; scaled in to a warm pool:
 *   Terminating:Wait → Warmed:Stopped; back from the pool: Pending:Wait while
 *   the launch action waits (Origin WarmPool) → InService;
 * - one scaling activity per termination or launch (DescribeScalingActivities,
 *   newest first): "Terminating EC2 instance: i-…", StatusCode
 *   MidLifecycleAction while the hook holds it, Successful once it ended;
 * - EC2: DescribeInstances (private DNS name, zone, InstanceLifecycle spot and
 *   SpotInstanceRequestId) and DescribeSpotInstanceRequests, whose Status.Code
 *   becomes marked-for-termination (…-stop, …-hibernation) two minutes before
 *   EC2 interrupts a Spot instance.
 */
import { randomUUID } from 'node:crypto';
import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DescribeScalingActivitiesCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, DescribeSpotInstanceRequestsCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import type { SimClock } from '../virtual-clock';

export interface HookSpec {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  heartbeatTimeoutSeconds: number;
  defaultResult?: 'CONTINUE' | 'ABANDON';
  /** @default 'autoscaling:EC2_INSTANCE_TERMINATING' */
  transition?: 'autoscaling:EC2_INSTANCE_TERMINATING' | 'autoscaling:EC2_INSTANCE_LAUNCHING';
}

export type SpotInstanceAction = 'terminate' | 'stop' | 'hibernate';

export interface SimulatedInstance {
  instanceId: string;
  /** Its Auto Scaling group, if any. */
  group?: string;
  privateDnsName: string;
  availabilityZone: string;
  lifecycleState: string;
  spot?: { requestId: string; statusCode: string; updateTime: number; interruptAt?: number };
}

export interface ScalingActivity {
  ActivityId: string;
  AutoScalingGroupName: string;
  Description: string;
  Cause: string;
  StartTime: Date;
  EndTime?: Date;
  StatusCode: string;
  Progress: number;
}

export type ActionEnd =
  | { how: 'completed'; result: 'CONTINUE' | 'ABANDON'; at: number }
  | { how: 'timed-out'; timeout: 'heartbeat' | 'global'; result: 'CONTINUE' | 'ABANDON'; at: number };

export interface SimulatedAction {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  instanceId: string;
  token: string;
  startedAt: number;
  heartbeats: number[];
  end?: ActionEnd;
  transition: 'terminate' | 'launch';
  origin: 'AutoScalingGroup' | 'WarmPool' | 'EC2';
  destination: 'EC2' | 'WarmPool' | 'AutoScalingGroup';
  activity: ScalingActivity;
}

type Operation =
  | 'DescribeLifecycleHooks'
  | 'RecordLifecycleActionHeartbeat'
  | 'CompleteLifecycleAction'
  | 'DescribeAutoScalingInstances'
  | 'DescribeAutoScalingGroups'
  | 'DescribeScalingActivities'
  | 'DescribeInstances'
  | 'DescribeSpotInstanceRequests';

/** The two minutes between a Spot interruption notice and the interruption. */
export const SPOT_NOTICE_MS = 120_000;

export class FakeAutoScaling {
  readonly actions: SimulatedAction[] = [];
  readonly activities: ScalingActivity[] = [];
  readonly instances = new Map<string, SimulatedInstance>();
  readonly calls: Array<{ at: number; operation: Operation; outcome: string }> = [];
  private readonly hooks = new Map<string, HookSpec>();
  private readonly timers = new Map<SimulatedAction, () => void>();
  private readonly faults: Array<{ operation: Operation; error: string; times: number }> = [];
  private mocks?: { restore(): void }[];

  constructor(private readonly clock: SimClock) {}

  addHook(spec: HookSpec): this {
    this.hooks.set(`${spec.autoScalingGroupName}/${spec.lifecycleHookName}`, { defaultResult: 'CONTINUE', ...spec });
    return this;
  }

  /**
   * An instance EC2 knows (private DNS name, zone), in service in `group` if
   * given; `spot` makes it a Spot instance with a request of its own.
   */
  addInstance(instanceId: string, privateDnsName: string, options: { group?: string; az?: string; spot?: boolean } = {}): this {
    this.instances.set(instanceId, {
      instanceId,
      group: options.group,
      privateDnsName,
      availabilityZone: options.az ?? 'us-east-1a',
      lifecycleState: 'InService',
      ...(options.spot
        ? { spot: { requestId: `sir-${instanceId.slice(2, 10)}`, statusCode: 'fulfilled', updateTime: this.clock.now() } }
        : {}),
    });
    return this;
  }

  /**
   * Starts a terminate lifecycle action and returns it with its EventBridge
   * event. `destination: 'WarmPool'` scales the instance in to a warm pool
   * (ReuseOnScaleIn) instead of terminating it.
   */
  terminate(autoScalingGroupName: string, lifecycleHookName: string, instanceId: string, options: { destination?: 'EC2' | 'WarmPool' } = {}) {
    const hook = this.hook(autoScalingGroupName, lifecycleHookName);
    const instance = this.instanceIn(autoScalingGroupName, instanceId);
    const destination = options.destination ?? 'EC2';
    instance.lifecycleState = 'Terminating:Wait';
    const activity = this.startActivity(
      autoScalingGroupName,
      `Terminating EC2 instance: ${instanceId}`,
      destination === 'WarmPool'
        ? `At ${this.isoNow()} an instance was taken out of service and returned to the warm pool in response to a difference between desired and actual capacity, shrinking the capacity from 2 to 1.`
        : `At ${this.isoNow()} an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 2 to 1.`,
    );
    const action = this.startAction(hook, instanceId, 'terminate', 'AutoScalingGroup', destination, activity);
    return { action, event: this.eventOf(action) };
  }

  /**
   * A warmed instance comes back (scale-out from the warm pool): a launch
   * action with Origin WarmPool on the group's launch hook.
   */
  launchFromWarmPool(autoScalingGroupName: string, lifecycleHookName: string, instanceId: string) {
    const hook = this.hook(autoScalingGroupName, lifecycleHookName);
    const instance = this.instanceIn(autoScalingGroupName, instanceId);
    if (!instance.lifecycleState.startsWith('Warmed:')) throw new Error(`${instanceId} is ${instance.lifecycleState}, not in the warm pool`);
    instance.lifecycleState = 'Pending:Wait';
    const activity = this.startActivity(
      autoScalingGroupName,
      `Launching a new EC2 instance from warm pool: ${instanceId}`,
      `At ${this.isoNow()} an instance was moved from the warm pool into service in response to a difference between desired and actual capacity, increasing the capacity from 1 to 2.`,
    );
    const action = this.startAction(hook, instanceId, 'launch', 'WarmPool', 'AutoScalingGroup', activity);
    return { action, event: this.eventOf(action) };
  }

  /**
   * EC2 will interrupt this Spot instance in two minutes: its Spot request is
   * marked, the interruption happens SPOT_NOTICE_MS later; returns the
   * EventBridge warning.
   */
  interruptSpot(instanceId: string, instanceAction: SpotInstanceAction = 'terminate') {
    const instance = this.instances.get(instanceId);
    if (!instance?.spot) throw new Error(`${instanceId} is not a Spot instance in the fake`);
    const now = this.clock.now();
    const code = { terminate: 'marked-for-termination', stop: 'marked-for-stop', hibernate: 'marked-for-hibernation' }[instanceAction];
    instance.spot = { ...instance.spot, statusCode: code, updateTime: now, interruptAt: now + SPOT_NOTICE_MS };
    this.clock.schedule(now + SPOT_NOTICE_MS, () => {
      instance.spot!.statusCode = instanceAction === 'terminate' ? 'instance-terminated-by-service' : 'instance-stopped-by-service';
      if (instanceAction === 'terminate') instance.lifecycleState = 'Terminated';
    });
    return {
      event: {
        version: '0',
        id: randomUUID(),
        'detail-type': 'EC2 Spot Instance Interruption Warning',
        source: 'aws.ec2',
        account: '123456789012',
        time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: 'us-east-1',
        resources: [`arn:aws:ec2:us-east-1a:instance/${instanceId}`],
        detail: { 'instance-id': instanceId, 'instance-action': instanceAction },
      },
      interruptAt: now + SPOT_NOTICE_MS,
    };
  }

  /** EC2's rebalance recommendation for a Spot instance: an event only, nothing changes. */
  rebalanceRecommendation(instanceId: string) {
    const now = this.clock.now();
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'EC2 Instance Rebalance Recommendation',
      source: 'aws.ec2',
      account: '123456789012',
      time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: 'us-east-1',
      resources: [`arn:aws:ec2:us-east-1a:instance/${instanceId}`],
      detail: { 'instance-id': instanceId },
    };
  }

  /** The EventBridge event Auto Scaling emits for the action. */
  eventOf(action: SimulatedAction) {
    const terminate = action.transition === 'terminate';
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': terminate ? 'EC2 Instance-terminate Lifecycle Action' : 'EC2 Instance-launch Lifecycle Action',
      source: 'aws.autoscaling',
      account: '123456789012',
      time: new Date(action.startedAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: 'us-east-1',
      resources: [`arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/${action.autoScalingGroupName}`],
      detail: {
        LifecycleActionToken: action.token,
        AutoScalingGroupName: action.autoScalingGroupName,
        LifecycleHookName: action.lifecycleHookName,
        EC2InstanceId: action.instanceId,
        LifecycleTransition: terminate ? 'autoscaling:EC2_INSTANCE_TERMINATING' : 'autoscaling:EC2_INSTANCE_LAUNCHING',
        Origin: action.origin,
        Destination: action.destination,
      },
    };
  }

  /** Someone else (a person, another tool) completes the action. */
  completeElsewhere(action: SimulatedAction, result: 'CONTINUE' | 'ABANDON' = 'CONTINUE'): void {
    this.end(action, { how: 'completed', result, at: this.clock.now() });
  }

  /** The next `times` calls of `operation` fail with `error` (Throttling, ResourceContentionFault, …). */
  failNext(operation: Operation, error: string, times = 1): this {
    this.faults.push({ operation, error, times });
    return this;
  }

  clearFaults(): this {
    this.faults.length = 0;
    return this;
  }

  /** Serves AutoScalingClient and EC2Client calls (every instance) from this fake. */
  install(): this {
    const asg = mockClient(AutoScalingClient);
    asg.on(DescribeLifecycleHooksCommand).callsFake((input) => this.describe(input));
    asg.on(RecordLifecycleActionHeartbeatCommand).callsFake((input) => this.heartbeat(input));
    asg.on(CompleteLifecycleActionCommand).callsFake((input) => this.complete(input));
    asg.on(DescribeAutoScalingInstancesCommand).callsFake((input) => this.describeInstances(input));
    asg.on(DescribeAutoScalingGroupsCommand).callsFake((input) => this.describeGroups(input));
    asg.on(DescribeScalingActivitiesCommand).callsFake((input) => this.describeActivities(input));
    const ec2 = mockClient(EC2Client);
    ec2.on(DescribeInstancesCommand).callsFake((input) => this.describeEc2Instances(input));
    ec2.on(DescribeSpotInstanceRequestsCommand).callsFake((input) => this.describeSpotRequests(input));
    this.mocks = [asg, ec2];
    return this;
  }

  uninstall(): void {
    for (const mock of this.mocks ?? []) mock.restore();
    for (const cancel of this.timers.values()) cancel();
  }

  private describe(input: { AutoScalingGroupName?: string; LifecycleHookNames?: string[] }) {
    this.injectFault('DescribeLifecycleHooks');
    const hooks = [...this.hooks.values()].filter(
      (h) => h.autoScalingGroupName === input.AutoScalingGroupName && (input.LifecycleHookNames ?? [h.lifecycleHookName]).includes(h.lifecycleHookName),
    );
    this.record('DescribeLifecycleHooks', `${hooks.length} hooks`);
    return {
      LifecycleHooks: hooks.map((h) => ({
        AutoScalingGroupName: h.autoScalingGroupName,
        LifecycleHookName: h.lifecycleHookName,
        LifecycleTransition: h.transition ?? 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: h.heartbeatTimeoutSeconds,
        GlobalTimeout: globalTimeout(h),
        DefaultResult: h.defaultResult,
      })),
    };
  }

  private heartbeat(input: ActionTarget) {
    this.injectFault('RecordLifecycleActionHeartbeat');
    const action = this.activeAction(input, 'RecordLifecycleActionHeartbeat');
    action.heartbeats.push(this.clock.now());
    this.armTimeout(action, this.hook(action.autoScalingGroupName, action.lifecycleHookName));
    this.record('RecordLifecycleActionHeartbeat', 'recorded');
    return {};
  }

  private complete(input: ActionTarget & { LifecycleActionResult?: string }) {
    this.injectFault('CompleteLifecycleAction');
    const action = this.activeAction(input, 'CompleteLifecycleAction');
    const result = input.LifecycleActionResult === 'ABANDON' ? 'ABANDON' : 'CONTINUE';
    this.end(action, { how: 'completed', result, at: this.clock.now() });
    this.record('CompleteLifecycleAction', result);
    return {};
  }

  /** DescribeAutoScalingInstances: only instances that belong to a group; at most 50 ids per call. */
  private describeInstances(input: { InstanceIds?: string[]; MaxRecords?: number; NextToken?: string }) {
    this.injectFault('DescribeAutoScalingInstances');
    const ids = input.InstanceIds;
    if (ids && ids.length > 50) throw serviceError('ValidationError', 'The number of instance ids that may be passed in is 50');
    const all = [...this.instances.values()].filter((i) => i.group && i.lifecycleState !== 'Terminated' && (!ids || ids.includes(i.instanceId)));
    const { page, nextToken } = paginate(all, input.MaxRecords ?? 50, input.NextToken);
    this.record('DescribeAutoScalingInstances', `${page.length} instances`);
    return {
      AutoScalingInstances: page.map((i) => ({
        InstanceId: i.instanceId,
        AutoScalingGroupName: i.group,
        AvailabilityZone: i.availabilityZone,
        LifecycleState: i.lifecycleState,
        HealthStatus: 'HEALTHY',
        ProtectedFromScaleIn: false,
      })),
      NextToken: nextToken,
    };
  }

  /** DescribeAutoScalingGroups: Instances lists the group's instances, not the warm pool's (DescribeWarmPool has those). */
  private describeGroups(input: { AutoScalingGroupNames?: string[]; MaxRecords?: number; NextToken?: string }) {
    this.injectFault('DescribeAutoScalingGroups');
    const names = [...new Set([...this.hooks.values()].map((h) => h.autoScalingGroupName))].filter(
      (n) => !input.AutoScalingGroupNames || input.AutoScalingGroupNames.includes(n),
    );
    const { page, nextToken } = paginate(names, input.MaxRecords ?? 50, input.NextToken);
    this.record('DescribeAutoScalingGroups', `${page.length} groups`);
    return {
      AutoScalingGroups: page.map((name) => ({
        AutoScalingGroupName: name,
        Instances: [...this.instances.values()]
          .filter((i) => i.group === name && i.lifecycleState !== 'Terminated' && !i.lifecycleState.startsWith('Warmed:'))
          .map((i) => ({ InstanceId: i.instanceId, AvailabilityZone: i.availabilityZone, LifecycleState: i.lifecycleState, HealthStatus: 'Healthy', ProtectedFromScaleIn: false })),
      })),
      NextToken: nextToken,
    };
  }

  /** DescribeScalingActivities: the group's activities, newest first (one group per call, as the API). */
  private describeActivities(input: { AutoScalingGroupName?: string; ActivityIds?: string[]; MaxRecords?: number; NextToken?: string }) {
    this.injectFault('DescribeScalingActivities');
    const matching = this.activities
      .filter((a) => (!input.AutoScalingGroupName || a.AutoScalingGroupName === input.AutoScalingGroupName) && (!input.ActivityIds || input.ActivityIds.includes(a.ActivityId)))
      .sort((a, b) => b.StartTime.getTime() - a.StartTime.getTime());
    const { page, nextToken } = paginate(matching, Math.min(input.MaxRecords ?? 100, 100), input.NextToken);
    this.record('DescribeScalingActivities', `${page.length} activities`);
    return { Activities: page.map((a) => ({ ...a })), NextToken: nextToken };
  }

  /** EC2 DescribeInstances: an unknown id fails the whole call, as EC2 does. */
  private describeEc2Instances(input: { InstanceIds?: string[] }) {
    this.injectFault('DescribeInstances');
    const ids = input.InstanceIds ?? [];
    const unknown = ids.filter((id) => !this.instances.has(id));
    if (unknown.length > 0) {
      this.record('DescribeInstances', 'InvalidInstanceID.NotFound');
      throw new EC2ServiceException({ name: 'InvalidInstanceID.NotFound', message: `The instance IDs '${unknown.join(', ')}' do not exist`, $fault: 'client', $metadata: { httpStatusCode: 400 } });
    }
    this.record('DescribeInstances', `${ids.length} instances`);
    return {
      Reservations: [
        {
          Instances: ids.map((id) => {
            const i = this.instances.get(id)!;
            const terminated = i.lifecycleState === 'Terminated';
            return {
              InstanceId: id,
              // A terminated instance reports an empty name.
              PrivateDnsName: terminated ? '' : i.privateDnsName,
              Placement: { AvailabilityZone: i.availabilityZone },
              State: { Name: terminated ? 'terminated' : i.lifecycleState === 'Warmed:Stopped' ? 'stopped' : 'running' },
              ...(i.spot ? { InstanceLifecycle: 'spot', SpotInstanceRequestId: i.spot.requestId } : {}),
            };
          }),
        },
      ],
    };
  }

  private describeSpotRequests(input: { SpotInstanceRequestIds?: string[] }) {
    this.injectFault('DescribeSpotInstanceRequests');
    const ids = input.SpotInstanceRequestIds ?? [];
    const requests = [...this.instances.values()].filter((i) => i.spot && ids.includes(i.spot.requestId));
    if (requests.length < ids.length) {
      this.record('DescribeSpotInstanceRequests', 'InvalidSpotInstanceRequestID.NotFound');
      throw new EC2ServiceException({ name: 'InvalidSpotInstanceRequestID.NotFound', message: 'The spot instance request ID does not exist', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    }
    this.record('DescribeSpotInstanceRequests', `${requests.length} requests`);
    return {
      SpotInstanceRequests: requests.map((i) => ({
        SpotInstanceRequestId: i.spot!.requestId,
        InstanceId: i.instanceId,
        State: 'active',
        Type: 'one-time',
        Status: { Code: i.spot!.statusCode, UpdateTime: new Date(i.spot!.updateTime), Message: i.spot!.statusCode },
      })),
    };
  }

  private activeAction(input: ActionTarget, operation: Operation): SimulatedAction {
    const action = this.actions.find(
      (a) =>
        !a.end &&
        a.autoScalingGroupName === input.AutoScalingGroupName &&
        a.lifecycleHookName === input.LifecycleHookName &&
        (input.LifecycleActionToken ? a.token === input.LifecycleActionToken : a.instanceId === input.InstanceId),
    );
    if (!action) {
      this.record(operation, 'no active action');
      const what = input.LifecycleActionToken ? `token ${input.LifecycleActionToken}` : `instance ID ${input.InstanceId}`;
      throw serviceError('ValidationError', `No active Lifecycle Action found with ${what}`);
    }
    return action;
  }

  /** Heartbeat timer from now (or the start), capped by the global timeout from the start. */
  private armTimeout(action: SimulatedAction, hook: HookSpec): void {
    this.timers.get(action)?.();
    const heartbeatAt = this.clock.now() + hook.heartbeatTimeoutSeconds * 1000;
    const globalAt = action.startedAt + globalTimeout(hook) * 1000;
    const at = Math.min(heartbeatAt, globalAt);
    const timeout = heartbeatAt <= globalAt ? 'heartbeat' : 'global';
    this.timers.set(
      action,
      this.clock.schedule(at, () => this.end(action, { how: 'timed-out', timeout, result: hook.defaultResult ?? 'CONTINUE', at })),
    );
  }

  private end(action: SimulatedAction, end: ActionEnd): void {
    if (action.end) return;
    action.end = end;
    this.timers.get(action)?.();
    this.timers.delete(action);
    const instance = this.instances.get(action.instanceId);
    // ABANDON on a launch terminates the instance; a terminate goes on either way.
    if (instance) {
      instance.lifecycleState =
        action.transition === 'launch'
          ? end.result === 'CONTINUE' ? 'InService' : 'Terminated'
          : action.destination === 'WarmPool' ? 'Warmed:Stopped' : 'Terminated';
    }
    action.activity.StatusCode = action.transition === 'launch' && end.result === 'ABANDON' ? 'Cancelled' : 'Successful';
    action.activity.Progress = 100;
    action.activity.EndTime = new Date(end.at);
  }

  private startAction(
    hook: HookSpec,
    instanceId: string,
    transition: SimulatedAction['transition'],
    origin: SimulatedAction['origin'],
    destination: SimulatedAction['destination'],
    activity: ScalingActivity,
  ): SimulatedAction {
    const action: SimulatedAction = {
      autoScalingGroupName: hook.autoScalingGroupName,
      lifecycleHookName: hook.lifecycleHookName,
      instanceId,
      token: randomUUID(),
      startedAt: this.clock.now(),
      heartbeats: [],
      transition,
      origin,
      destination,
      activity,
    };
    this.actions.push(action);
    this.armTimeout(action, hook);
    return action;
  }

  private startActivity(group: string, description: string, cause: string): ScalingActivity {
    const activity: ScalingActivity = {
      ActivityId: randomUUID(),
      AutoScalingGroupName: group,
      Description: description,
      Cause: cause,
      StartTime: new Date(this.clock.now()),
      StatusCode: 'MidLifecycleAction',
      Progress: 50,
    };
    this.activities.push(activity);
    return activity;
  }

  /** The instance, put in the group (known to EC2 under a made-up DNS name) if it was not yet. */
  private instanceIn(group: string, instanceId: string): SimulatedInstance {
    let instance = this.instances.get(instanceId);
    if (!instance) {
      this.addInstance(instanceId, `ip-${instanceId.slice(-6)}.ec2.internal`, { group });
      instance = this.instances.get(instanceId)!;
    }
    instance.group ??= group;
    if (instance.group !== group) throw new Error(`${instanceId} belongs to ${instance.group}, not ${group}`);
    return instance;
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private hook(autoScalingGroupName: string, lifecycleHookName: string): HookSpec {
    const hook = this.hooks.get(`${autoScalingGroupName}/${lifecycleHookName}`);
    if (!hook) throw new Error(`no hook ${lifecycleHookName} on ${autoScalingGroupName} in the fake`);
    return hook;
  }

  private injectFault(operation: Operation): void {
    const fault = this.faults.find((f) => f.operation === operation && f.times > 0);
    if (!fault) return;
    fault.times--;
    this.record(operation, fault.error);
    throw serviceError(fault.error, fault.error === 'ResourceContentionFault' ? 'You already have a pending update to an Auto Scaling resource.' : 'Rate exceeded', fault.error === 'Throttling' ? 400 : 500);
  }

  private record(operation: Operation, outcome: string): void {
    this.calls.push({ at: this.clock.now(), operation, outcome });
  }
}

interface ActionTarget {
  AutoScalingGroupName?: string;
  LifecycleHookName?: string;
  LifecycleActionToken?: string;
  InstanceId?: string;
}

const globalTimeout = (hook: HookSpec) => Math.min(100 * hook.heartbeatTimeoutSeconds, 172_800);

/** NextToken is the offset of the next page, as an opaque string. */
function paginate<T>(items: T[], pageSize: number, nextToken?: string): { page: T[]; nextToken?: string } {
  const start = nextToken ? Number(Buffer.from(nextToken, 'base64').toString()) : 0;
  const page = items.slice(start, start + pageSize);
  const next = start + pageSize < items.length ? Buffer.from(String(start + pageSize)).toString('base64') : undefined;
  return { page, nextToken: next };
}

function serviceError(name: string, message: string, status = 400): AutoScalingServiceException {
  return new AutoScalingServiceException({
    name,
    message,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}
