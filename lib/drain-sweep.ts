import { CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';

export interface DrainSweepProps {
  /** The sweep function. */
  readonly sweep: lambda.IFunction;
  /** Minutes between sweeps (1–10): a lost event is recovered within about this long. */
  readonly intervalMinutes: number;
}

/**
 * Lost events: an EventBridge Scheduler schedule runs the sweep, which starts
 * a drain for any instance held by our hook that has none (see
 * lambda/handlers/sweep.ts).
 */
export class DrainSweep extends Construct {
  public readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: DrainSweepProps) {
    super(scope, id);
    // A role of its own rather than the stack-wide SchedulerRoleForTarget: it may invoke the sweep only.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'eks-graceful-drain: EventBridge Scheduler invokes the sweep',
    });
    const sweepId = Stack.of(this).getLogicalId(props.sweep.node.defaultChild as CfnElement);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${sweepId}.Arn>:*]`,
      reason: 'lambda:InvokeFunction on the sweep function\'s versions and aliases, as the Scheduler target grants; scoped to that one function.',
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'eks-graceful-drain: start a drain for any instance held by the hook without one (lost events)',
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(props.intervalMinutes)),
      target: new schedulerTargets.LambdaInvoke(props.sweep, {
        role,
        // A missed sweep is made good by the next one.
        retryAttempts: 0,
        maxEventAge: Duration.minutes(props.intervalMinutes),
      }),
    });
  }
}
