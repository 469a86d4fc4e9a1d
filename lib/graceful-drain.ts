import { ArnFormat, Names, Stack, Token } from 'aws-cdk-lib';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { DeadlinePolicy } from '../lambda/core/drain-state';
import { DrainFunctionKey, DrainFunctions } from './drain-functions';
import { DrainLifecycleHooks } from './lifecycle-hooks';
import { DrainWorkflow } from './drain-workflow';

export const DEADLINE_POLICIES: readonly DeadlinePolicy[] = ['force-delete', 'continue', 'abandon'];

/** Limits of the props, shared by the construct's checks and the stack's context parsing. */
export const LIMITS = {
  /** AutoScaling accepts 30–7200 s. */
  heartbeatTimeoutSeconds: { min: 30, max: 7200 },
  /** A drain shorter than a minute cannot evict anything gracefully; 48 h is the hook's global cap. */
  maxDrainSeconds: { min: 60, max: 172_800 },
} as const;

export interface EksGracefulDrainProps {
  /** Name of the EKS cluster whose nodes are drained. */
  readonly clusterName: string;
  /** Auto Scaling groups (names) whose terminating instances are drained. At least one. */
  readonly autoScalingGroupNames: string[];
  /**
   * Heartbeat timeout of the lifecycle hook, in seconds (30–7200). The hook's
   * global timeout is min(100 × this, 48 h), so 1728 s or more allows a 48 h drain.
   * With `existingLifecycleHookName` no hook is created and the workflow reads
   * the real hook's timeouts; this value then only bounds how old a lifecycle
   * event may be and still start a drain.
   * @default 1800
   */
  readonly heartbeatTimeoutSeconds?: number;
  /**
   * Longest a drain may take, in seconds (60–172800); 0 means as long as the
   * hook's global timeout allows. At the deadline `onDeadline` applies.
   * @default 0
   */
  readonly maxDrainSeconds?: number;
  /**
   * What to do with pods still on the node at the deadline: `force-delete` them
   * and complete, `continue` (complete with CONTINUE, leaving them to die with the
   * instance), or `abandon` (complete with ABANDON).
   * @default 'force-delete'
   */
  readonly onDeadline?: DeadlinePolicy;
  /**
   * Name of a terminating lifecycle hook that already exists on every group. No
   * hook is created; the rule matches this name.
   * @default - a hook named `eks-graceful-drain` is created on each group
   */
  readonly existingLifecycleHookName?: string;
  /**
   * CloudWatch namespace of the functions' metrics.
   * @default 'EksGracefulDrain'
   */
  readonly metricsNamespace?: string;
  /**
   * Name of the drain state machine (unique in the account and region, ≤ 80 characters).
   * @default - derived from this construct's path, e.g. `MyStack-EksGracefulDrain-1A2B3C4D`
   */
  readonly stateMachineName?: string;
  /**
   * How long the functions' and the workflow's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Drains EKS nodes before their Auto Scaling group terminates them:
 * lifecycle hook → EventBridge → start-drain → Step Functions workflow of small
 * Lambdas → CompleteLifecycleAction.
 *
 * The Lambda roles still need Kubernetes permissions (an EKS access entry or
 * aws-auth mapping with the drain RBAC); see `functions`.
 */
export class EksGracefulDrain extends Construct {
  public readonly lifecycleHooks: DrainLifecycleHooks;
  public readonly functions: Record<DrainFunctionKey, NodejsFunction>;
  public readonly workflow: DrainWorkflow;
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: EksGracefulDrainProps) {
    super(scope, id);
    validateProps(props);

    const heartbeatTimeoutSeconds = props.heartbeatTimeoutSeconds ?? 1800;
    const stateMachineName = props.stateMachineName
      ?? Names.uniqueResourceName(this, { maxLength: 80, separator: '-', allowedSpecialCharacters: '-_' });
    // Formatted rather than read from the state machine: start-drain needs it, and
    // the state machine needs the functions.
    const stateMachineArn = Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    this.lifecycleHooks = new DrainLifecycleHooks(this, 'LifecycleHooks', {
      autoScalingGroupNames: props.autoScalingGroupNames,
      heartbeatTimeoutSeconds,
      existingLifecycleHookName: props.existingLifecycleHookName,
    });

    this.functions = new DrainFunctions(this, 'Functions', {
      clusterName: props.clusterName,
      autoScalingGroupNames: props.autoScalingGroupNames,
      onDeadline: props.onDeadline ?? 'force-delete',
      maxDrainSeconds: props.maxDrainSeconds ?? 0,
      metricsNamespace: props.metricsNamespace ?? 'EksGracefulDrain',
      stateMachineArn,
      startDrainDeadLetterQueue: this.lifecycleHooks.deadLetterQueue,
      startDrainMaxEventAge: this.lifecycleHooks.eventMaxAge,
      logRetention: props.logRetention,
    }).functions;
    this.lifecycleHooks.startDrainWith(this.functions.startDrain);

    this.workflow = new DrainWorkflow(this, 'Workflow', {
      functions: this.functions,
      stateMachineName,
      stateMachineArn,
      logRetention: props.logRetention,
    });
    this.stateMachine = this.workflow.stateMachine;
  }
}

/** Throws, naming the prop and what it accepts, on a value the deployment would reject or misbehave with. */
export function validateProps(props: EksGracefulDrainProps): void {
  const fail = (name: string, expected: string, got: unknown): never => {
    throw new Error(`EksGracefulDrain: ${name} must be ${expected} (got ${JSON.stringify(got)})`);
  };
  const known = (value: unknown): boolean => value !== undefined && !Token.isUnresolved(value);

  if (typeof props.clusterName !== 'string' || props.clusterName === '') {
    fail('clusterName', 'the name of an EKS cluster', props.clusterName);
  }
  if (!Array.isArray(props.autoScalingGroupNames) || props.autoScalingGroupNames.length === 0
    || props.autoScalingGroupNames.some((name) => typeof name !== 'string' || name === '')) {
    fail('autoScalingGroupNames', 'a non-empty list of Auto Scaling group names', props.autoScalingGroupNames);
  }
  const inRange = (name: keyof typeof LIMITS, value: number | undefined, allowZero: boolean): void => {
    if (!known(value)) return;
    const { min, max } = LIMITS[name];
    const ok = Number.isInteger(value) && ((allowZero && value === 0) || (value! >= min && value! <= max));
    if (!ok) fail(name, `an integer number of seconds from ${min} to ${max}${allowZero ? ', or 0' : ''}`, value);
  };
  inRange('heartbeatTimeoutSeconds', props.heartbeatTimeoutSeconds, false);
  inRange('maxDrainSeconds', props.maxDrainSeconds, true);
  if (props.onDeadline !== undefined && !DEADLINE_POLICIES.includes(props.onDeadline)) {
    fail('onDeadline', `one of ${DEADLINE_POLICIES.join(', ')}`, props.onDeadline);
  }
  if (props.existingLifecycleHookName === '') fail('existingLifecycleHookName', 'a hook name when set', '');
  if (props.metricsNamespace === '') fail('metricsNamespace', 'a non-empty CloudWatch namespace when set', '');
  if (known(props.stateMachineName) && !/^[A-Za-z0-9_-]{1,80}$/.test(props.stateMachineName!)) {
    fail('stateMachineName', '1–80 letters, digits, - or _', props.stateMachineName);
  }
}
