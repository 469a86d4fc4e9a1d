/**
 * A simulated Auto Scaling group's lifecycle hooks on the sim clock, served
 * to the real AWS SDK clients through aws-sdk-client-mock: the product's
 * adapters run unchanged and meet Auto Scaling's real answers — the
 * heartbeat timer, the global timeout, DefaultResult, and
 * `ValidationError: No active Lifecycle Action found with token …` once an
 * action is over. Also answers EC2 DescribeInstances for private DNS names.
 */
import { randomUUID } from 'node:crypto';
import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import type { SimClock } from '../virtual-clock';

export interface HookSpec {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  heartbeatTimeoutSeconds: number;
  defaultResult?: 'CONTINUE' | 'ABANDON';
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
}

type Operation = 'DescribeLifecycleHooks' | 'RecordLifecycleActionHeartbeat' | 'CompleteLifecycleAction';

export class FakeAutoScaling {
  readonly actions: SimulatedAction[] = [];
  readonly calls: Array<{ at: number; operation: Operation; outcome: string }> = [];
  private readonly hooks = new Map<string, HookSpec>();
  private readonly dnsNames = new Map<string, string>();
  private readonly timers = new Map<SimulatedAction, () => void>();
  private readonly faults: Array<{ operation: Operation; error: string; times: number }> = [];
  private mocks?: { restore(): void }[];

  constructor(private readonly clock: SimClock) {}

  addHook(spec: HookSpec): this {
    this.hooks.set(`${spec.autoScalingGroupName}/${spec.lifecycleHookName}`, { defaultResult: 'CONTINUE', ...spec });
    return this;
  }

  /** The instance's private DNS name, as EC2 DescribeInstances reports it. */
  addInstance(instanceId: string, privateDnsName: string): this {
    this.dnsNames.set(instanceId, privateDnsName);
    return this;
  }

  /** Starts a terminate lifecycle action and returns it with its EventBridge event. */
  terminate(autoScalingGroupName: string, lifecycleHookName: string, instanceId: string) {
    const hook = this.hook(autoScalingGroupName, lifecycleHookName);
    const action: SimulatedAction = {
      autoScalingGroupName,
      lifecycleHookName,
      instanceId,
      token: randomUUID(),
      startedAt: this.clock.now(),
      heartbeats: [],
    };
    this.actions.push(action);
    this.armTimeout(action, hook);
    return { action, event: this.eventOf(action) };
  }

  /** The EventBridge event Auto Scaling emits for the action. */
  eventOf(action: SimulatedAction) {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'EC2 Instance-terminate Lifecycle Action',
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
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        Origin: 'AutoScalingGroup',
        Destination: 'EC2',
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
    const ec2 = mockClient(EC2Client);
    ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => ({
      Reservations: [
        {
          Instances: (input.InstanceIds ?? [])
            .filter((id) => this.dnsNames.has(id))
            .map((id) => ({ InstanceId: id, PrivateDnsName: this.dnsNames.get(id) })),
        },
      ],
    }));
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
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
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

function serviceError(name: string, message: string, status = 400): AutoScalingServiceException {
  return new AutoScalingServiceException({
    name,
    message,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}
