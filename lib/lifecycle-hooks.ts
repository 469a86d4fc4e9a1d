import { Duration, Stack } from 'aws-cdk-lib';
import { CfnLifecycleHook } from 'aws-cdk-lib/aws-autoscaling';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Name of the hook this project creates on each Auto Scaling group. */
export const DEFAULT_LIFECYCLE_HOOK_NAME = 'eks-graceful-drain';
/** Name of the launch hook created on each group with warm pools: a node back from the pool is uncordoned. */
export const LAUNCH_HOOK_NAME = 'eks-graceful-drain-launch';
/** A launch hook's heartbeat timeout: uncordoning takes seconds; CONTINUE if we never answer. */
export const LAUNCH_HOOK_TIMEOUT_SECONDS = 300;

export interface DrainLifecycleHooksProps {
  /** Auto Scaling groups whose terminating instances are drained. At least one. */
  readonly autoScalingGroupNames: string[];
  /**
   * Seconds the hook waits for a heartbeat or completion before applying CONTINUE
   * (30–7200). Also bounds how old a lifecycle event may be and still be worth
   * delivering: once the hook timed out, a drain is pointless.
   */
  readonly heartbeatTimeoutSeconds: number;
  /**
   * Use a terminating hook that already exists on every group instead of creating one.
   * @default - a hook named `eks-graceful-drain` is created on each group
   */
  readonly existingLifecycleHookName?: string;
  /**
   * Drain Spot instances on EC2's two-minute interruption warning.
   * @default true
   */
  readonly spotInterruptions?: boolean;
  /**
   * Warm pools: a launch hook and rule so that an instance back from the warm
   * pool gets the drain's cordon lifted.
   * @default false
   */
  readonly warmPools?: boolean;
  /**
   * Cordon a Spot node on EC2's rebalance recommendation.
   * @default false
   */
  readonly cordonOnRebalanceRecommendation?: boolean;
}

/**
 * What the lifecycle rules hand their function instead of the Auto Scaling
 * event: the envelope and the detail fields the drain reads
 * (core/lifecycle-event), never `detail.LifecycleActionToken`, so the token
 * stays in EventBridge: it is not in the function's invocation payload, its
 * logs, or a message of start-drain's asynchronous-invocation DLQ (which holds
 * this payload). A field missing from the event arrives as "" (EventBridge's
 * rendering of a path that matches nothing), which the parser treats as missing.
 * `Event` carries a hook's test notification (`autoscaling:TEST_NOTIFICATION`).
 */
export const LIFECYCLE_EVENT_INPUT = events.RuleTargetInput.fromObject({
  'version': events.EventField.fromPath('$.version'),
  'id': events.EventField.eventId,
  'detail-type': events.EventField.detailType,
  'source': events.EventField.source,
  'account': events.EventField.account,
  'time': events.EventField.time,
  'region': events.EventField.region,
  'detail': {
    Event: events.EventField.fromPath('$.detail.Event'),
    AutoScalingGroupName: events.EventField.fromPath('$.detail.AutoScalingGroupName'),
    LifecycleHookName: events.EventField.fromPath('$.detail.LifecycleHookName'),
    EC2InstanceId: events.EventField.fromPath('$.detail.EC2InstanceId'),
    LifecycleTransition: events.EventField.fromPath('$.detail.LifecycleTransition'),
    Origin: events.EventField.fromPath('$.detail.Origin'),
    Destination: events.EventField.fromPath('$.detail.Destination'),
  },
});

/**
 * The entry point of a drain: a terminating lifecycle hook on each Auto Scaling
 * group (so the instance waits for us), and the EventBridge rule that turns the
 * hook's event into a start-drain invocation, through {@link LIFECYCLE_EVENT_INPUT}.
 * Invocations that fail land in {@link deadLetterQueue} (start-drain's
 * asynchronous DLQ: the transformed payload, no token) for an operator to look at.
 */
export class DrainLifecycleHooks extends Construct {
  /** The hook name the rule matches and the workflow completes. */
  public readonly lifecycleHookName: string;
  /** The hooks created here, one per group (none with `existingLifecycleHookName`). */
  public readonly hooks: CfnLifecycleHook[] = [];
  /**
   * Receives the lifecycle events start-drain failed on (its asynchronous
   * invocations' DLQ: the transformed payload) and the Spot warnings and
   * rebalance recommendations EventBridge could not hand to a function.
   */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly rule: events.Rule;
  /** EC2 Spot interruption warnings → start-drain (unless turned off). */
  public readonly spotRule?: events.Rule;
  /** Launch actions of our launch hook (warm pools) → node-marks. */
  public readonly launchRule?: events.Rule;
  /** EC2 rebalance recommendations → node-marks (opt-in). */
  public readonly rebalanceRule?: events.Rule;
  /** The launch hook's name, with warm pools. */
  public readonly launchHookName?: string;
  /** How long a lifecycle event stays worth delivering (rule target and start-drain's async config). */
  public readonly eventMaxAge: Duration;

  constructor(scope: Construct, id: string, props: DrainLifecycleHooksProps) {
    super(scope, id);
    this.lifecycleHookName = props.existingLifecycleHookName ?? DEFAULT_LIFECYCLE_HOOK_NAME;

    if (props.existingLifecycleHookName === undefined) {
      for (const [index, autoScalingGroupName] of props.autoScalingGroupNames.entries()) {
        this.hooks.push(new CfnLifecycleHook(this, `Hook${index}`, {
          autoScalingGroupName,
          lifecycleHookName: this.lifecycleHookName,
          lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
          // CONTINUE: if we fail to answer, the termination proceeds as if we were not
          // here. ABANDON would also skip any other terminating hook on the group.
          defaultResult: 'CONTINUE',
          heartbeatTimeout: props.heartbeatTimeoutSeconds,
        }));
      }
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    // No AwsSolutions-SQS3 acknowledgment: cdk-nag sees that this queue is a
    // dead-letter queue (of the rule target and of start-drain).

    // An event older than the heartbeat timeout is for a lifecycle action that has
    // already timed out (the instance is gone): delivering it would only fail.
    // EventBridge accepts 60 s to 24 h.
    this.eventMaxAge = Duration.seconds(Math.min(Math.max(props.heartbeatTimeoutSeconds, 60), 86400));

    if (props.warmPools) {
      this.launchHookName = LAUNCH_HOOK_NAME;
      for (const [index, autoScalingGroupName] of props.autoScalingGroupNames.entries()) {
        this.hooks.push(new CfnLifecycleHook(this, `LaunchHook${index}`, {
          autoScalingGroupName,
          lifecycleHookName: LAUNCH_HOOK_NAME,
          lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
          // CONTINUE: if we fail to answer, the instance goes in service as if we were not here.
          defaultResult: 'CONTINUE',
          heartbeatTimeout: LAUNCH_HOOK_TIMEOUT_SECONDS,
        }));
      }
      this.launchRule = new events.Rule(this, 'LaunchLifecycleActionRule', {
        description: 'Lifts the drain cordon of a node whose instance comes back from the warm pool',
        eventPattern: {
          account: [Stack.of(this).account],
          region: [Stack.of(this).region],
          source: ['aws.autoscaling'],
          detailType: ['EC2 Instance-launch Lifecycle Action'],
          detail: { AutoScalingGroupName: props.autoScalingGroupNames, LifecycleHookName: [LAUNCH_HOOK_NAME] },
        },
      });
    }
    if (props.spotInterruptions ?? true) {
      // EC2 events carry no group: start-drain checks the instance's group itself.
      this.spotRule = new events.Rule(this, 'SpotInterruptionRule', {
        description: 'Starts a two-minute drain of a Spot node EC2 is about to interrupt',
        eventPattern: { account: [Stack.of(this).account], region: [Stack.of(this).region], source: ['aws.ec2'], detailType: ['EC2 Spot Instance Interruption Warning'] },
      });
    }
    if (props.cordonOnRebalanceRecommendation) {
      this.rebalanceRule = new events.Rule(this, 'RebalanceRecommendationRule', {
        description: 'Cordons a Spot node when EC2 recommends rebalancing it',
        eventPattern: { account: [Stack.of(this).account], region: [Stack.of(this).region], source: ['aws.ec2'], detailType: ['EC2 Instance Rebalance Recommendation'] },
      });
    }

    this.rule = new events.Rule(this, 'TerminateLifecycleActionRule', {
      description: 'Starts draining an EKS node when its Auto Scaling group is about to terminate the instance',
      eventPattern: {
        // Only this account's groups, in this region: an event forwarded from
        // another account's or region's bus never starts a drain here.
        account: [Stack.of(this).account],
        region: [Stack.of(this).region],
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        detail: {
          AutoScalingGroupName: props.autoScalingGroupNames,
          LifecycleHookName: [this.lifecycleHookName],
          // Terminations to EC2 and scale-ins to a warm pool (Destination WarmPool) alike:
          // a stopped instance takes its pods down as surely as a terminated one.
        },
      },
    });
  }

  /** The rules that carry Auto Scaling lifecycle events: transformed, and without an EventBridge DLQ. */
  public get lifecycleRules(): events.Rule[] {
    return this.launchRule ? [this.rule, this.launchRule] : [this.rule];
  }

  /**
   * Sends the lifecycle events to the start-drain function. EventBridge invokes
   * it asynchronously, so its retries only cover handing the event to Lambda;
   * the function's own retries and DLQ (the same queue) cover the invocation.
   * The lifecycle targets have no EventBridge DLQ: EventBridge writes the
   * original event there, token included, whatever the input transformer. An
   * event it could not hand over after its retries is dropped, and the sweep
   * starts that drain (the instance still waits on our hook).
   */
  public startDrainWith(startDrain: lambda.IFunction): void {
    this.rule.addTarget(new targets.LambdaFunction(startDrain, {
      event: LIFECYCLE_EVENT_INPUT,
      retryAttempts: 10,
      maxEventAge: this.eventMaxAge,
    }));
    // A Spot warning is worth nothing after its two minutes.
    this.spotRule?.addTarget(new targets.LambdaFunction(startDrain, {
      retryAttempts: 3,
      maxEventAge: Duration.seconds(120),
      deadLetterQueue: this.deadLetterQueue,
    }));
  }

  /**
   * Sends launch actions (warm pools, through {@link LIFECYCLE_EVENT_INPUT}, no
   * EventBridge DLQ: see startDrainWith) and rebalance recommendations to the
   * node-marks function.
   */
  public nodeMarksWith(nodeMarks: lambda.IFunction): void {
    this.launchRule?.addTarget(new targets.LambdaFunction(nodeMarks, {
      event: LIFECYCLE_EVENT_INPUT,
      retryAttempts: 10,
      maxEventAge: Duration.seconds(LAUNCH_HOOK_TIMEOUT_SECONDS),
    }));
    this.rebalanceRule?.addTarget(new targets.LambdaFunction(nodeMarks, {
      retryAttempts: 10,
      maxEventAge: Duration.seconds(LAUNCH_HOOK_TIMEOUT_SECONDS),
      deadLetterQueue: this.deadLetterQueue,
    }));
  }
}
