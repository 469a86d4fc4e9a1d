import { CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { DrainFunctionKey } from './drain-functions';

/**
 * Errors of the Lambda service itself (not of our code), worth retrying as AWS
 * recommends: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/**
 * How long the workflow keeps retrying the Lambda service's own errors, above
 * all throttling (Lambda.TooManyRequestsException) when a storm of terminations
 * meets the functions' reserved concurrency: full-jitter backoff from 2 s,
 * capped at 60 s, 12 attempts, about 9 minutes in all (half that on average
 * with the jitter). Giving up sooner would release an instance undrained
 * (ReleaseAfterError) only because other drains were busy.
 */
export const LAMBDA_SERVICE_RETRY = {
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(60),
  maxAttempts: 12,
  jitterStrategy: sfn.JitterType.FULL,
} as const;

/**
 * An execution may not outlive the lifecycle action it drains: the hook holds
 * an instance for at most 48 h (its global timeout), so an execution still
 * running an hour later is stuck and is stopped (TIMED_OUT, which the
 * ExecutionsFailed alarm counts).
 */
export const STATE_MACHINE_TIMEOUT = Duration.hours(49);

/**
 * A function that timed out or crashed (out of memory): every step is
 * idempotent, so it may run again once before the error path releases the instance.
 */
export const LAMBDA_TIMEOUT_ERRORS = ['Sandbox.Timedout', 'Lambda.Unknown'];

/** What our handlers throw when a retry may help (Kubernetes API or AWS throttling, resets). */
export const TRANSIENT_ERROR = 'TransientError';

/**
 * What the AWS SDK integration raises when an execution with that name already
 * ran: `<Service>.<Error>` in PascalCase, with the `Exception` suffix the SFN API
 * itself omits.
 */
export const EXECUTION_ALREADY_EXISTS = 'Sfn.ExecutionAlreadyExistsException';

export interface DrainWorkflowProps {
  /** The step functions; the workflow invokes all but startDrain. */
  readonly functions: Record<Exclude<DrainFunctionKey, 'startDrain'>, lambda.IFunction>;
  /** Explicit so that start-drain can be given the ARN before the state machine exists. */
  readonly stateMachineName: string;
  /** ARN of this very state machine (formatted from its name), for ContinueAsNew. */
  readonly stateMachineArn: string;
  /**
   * How long the execution logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The drain as a runbook:
 *
 * 1. Prepare: find the node, the hook's timeouts, the deadline. No node → Complete.
 * 2. Cordon the node.
 * 3. DrainStep: evict what may go now and report what is left; then, on `$.next`:
 *    wait for pods, send a heartbeat, apply the deadline policy, continue in a
 *    new execution (history cap), or complete the lifecycle action.
 * 4. Complete: tell Auto Scaling to go on with the termination.
 *
 * Any unhandled error goes to ReleaseAfterError, which still completes the
 * lifecycle action (CONTINUE) so that an instance is never held until the hook
 * times out, then fails the execution so it is visible (and redrivable).
 */
export class DrainWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DrainWorkflowProps) {
    super(scope, id);
    const fns = props.functions;

    // Terminal states.
    const done = new sfn.Succeed(this, 'Done', { comment: 'The lifecycle action is answered: the drain is over.' });
    const continued = new sfn.Succeed(this, 'Continued', {
      comment: 'The drain goes on in the next execution (or a redriven continuation already started it).',
    });
    const drainFailed = new sfn.Fail(this, 'DrainFailed', {
      comment: 'The lifecycle action was released after an error; the execution fails so the error is visible.',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });

    // The error path: complete the action anyway, with no Catch of its own (there
    // is nowhere safer to go), then fail.
    const releaseAfterError = this.step('ReleaseAfterError', fns.complete,
      'An error stopped the drain: complete the lifecycle action (CONTINUE) so the instance is not held until the hook times out.');
    releaseAfterError.next(drainFailed);
    const onError = (task: sfn.TaskStateBase): void => {
      task.addCatch(releaseAfterError, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    };

    const complete = this.step('Complete', fns.complete, 'Complete the lifecycle action: the instance may terminate.', 'urgent');
    onError(complete);
    complete.next(done);

    const prepare = this.step('Prepare', fns.prepare, 'Find the node of the instance, read the hook timeouts, compute the deadline.');
    onError(prepare);
    const cordon = this.step('Cordon', fns.cordon, 'Mark the node unschedulable and take it out of load balancers.');
    onError(cordon);
    const drainStep = this.step('DrainStep', fns.drainStep, 'Evict the pods that may go now, watch them leave, and say what comes next.');
    onError(drainStep);
    const heartbeat = this.step('Heartbeat', fns.heartbeat, 'Extend the lifecycle action: the drain needs more time.', 'urgent');
    onError(heartbeat);
    const applyDeadline = this.step('ApplyDeadlinePolicy', fns.applyDeadline, 'The deadline is reached: apply the onDeadline policy to the pods still there.');
    onError(applyDeadline);

    const waitForPods = new sfn.Wait(this, 'WaitForPods', {
      comment: 'Give the evicted pods time to stop; DrainStep chose how long.',
      time: sfn.WaitTime.timestampPath('$.waitUntil'),
    });
    waitForPods.next(drainStep);

    // A Standard execution fails past 25,000 history events: a long drain carries
    // on in a new execution of this state machine, with the state as its input.
    const continueAsNew = new tasks.CallAwsService(this, 'ContinueAsNew', {
      comment: 'Carry the drain on in a new execution before this one reaches its history limit.',
      service: 'sfn',
      action: 'startExecution',
      parameters: {
        StateMachineArn: sfn.JsonPath.stringAt('$$.StateMachine.Id'),
        Name: sfn.JsonPath.stringAt('$.continuation.name'),
        Input: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.continuation.input')),
      },
      iamResources: [props.stateMachineArn],
      resultPath: sfn.JsonPath.DISCARD,
    });
    // Throttling or a Step Functions hiccup must not cut a drain short. The SDK
    // integration names its errors per API error, so retry task failures in
    // general; ExecutionAlreadyExists is retried too before the Catch sees it,
    // which only costs a few seconds in the rare redrive case.
    continueAsNew.addRetry({ errors: [sfn.Errors.TASKS_FAILED], interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
    // Continuation names are deterministic: if it exists, a redrive of this
    // execution is repeating a start that already happened.
    continueAsNew.addCatch(continued, { errors: [EXECUTION_ALREADY_EXISTS], resultPath: sfn.JsonPath.DISCARD });
    onError(continueAsNew);
    continueAsNew.next(continued);

    const next = (value: string): sfn.Condition => sfn.Condition.stringEquals('$.next', value);

    prepare.next(new sfn.Choice(this, 'RouteAfterPrepare', { comment: 'No node for this instance: nothing to drain. Not an instance a drain may touch: done, nothing completed.' })
      .when(next('complete'), complete)
      .when(next('done'), done)
      .otherwise(cordon));
    cordon.next(new sfn.Choice(this, 'RouteAfterCordon', { comment: 'The instance is no longer held for us: done.' })
      .when(next('done'), done)
      .otherwise(drainStep));
    drainStep.next(new sfn.Choice(this, 'RouteAfterDrainStep')
      .when(next('complete'), complete)
      .when(next('deadline'), applyDeadline)
      .when(next('heartbeat'), heartbeat)
      .when(next('continue-as-new'), continueAsNew)
      .when(next('done'), done)
      .otherwise(waitForPods));
    heartbeat.next(new sfn.Choice(this, 'RouteAfterHeartbeat', { comment: 'The action may have ended meanwhile (done), or the hook may refuse more time (complete).' })
      .when(next('done'), done)
      .when(next('complete'), complete)
      .otherwise(waitForPods));
    applyDeadline.next(new sfn.Choice(this, 'RouteAfterDeadline')
      .when(next('complete'), complete)
      .when(next('done'), done)
      .when(next('heartbeat'), heartbeat)
      .otherwise(waitForPods));

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // The vendedlogs prefix spares CloudWatch Logs resource policies, whose size is limited.
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      // Named, so it goes with the stack: a retained one would block the next deployment.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'Drains an EKS node before its Auto Scaling group terminates the instance.',
      definitionBody: sfn.DefinitionBody.fromChainable(prepare),
      // Every state, no execution data: node and pod names stay out of the workflow's logs (the state carries no token).
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      timeout: STATE_MACHINE_TIMEOUT,
    });

    const role = this.stateMachine.role;
    Validations.of(role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray (PutTraceSegments, GetSamplingRules…) and CloudWatch Logs delivery (CreateLogDelivery…) support no resource-level permissions.',
      },
      ...WORKFLOW_STEPS.map((key) => fns[key]).map((fn) => ({
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(fn)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction on the function\'s versions and aliases, as the CDK LambdaInvoke task grants; scoped to our own functions.',
      })),
    );
  }

  /**
   * A Lambda step: the whole state is the payload and the result is the new
   * state. Lambda service errors (throttling included) are retried for minutes
   * (LAMBDA_SERVICE_RETRY) and our TransientError with backoff;
   * 'urgent' steps (Heartbeat, Complete) retry TransientError within ~15 s, well
   * inside the heartbeat margin, instead of minutes.
   */
  private step(id: string, fn: lambda.IFunction, comment: string, pace: 'normal' | 'urgent' = 'normal'): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, id, {
      comment,
      lambdaFunction: fn,
      payloadResponseOnly: true,
      // Our own retry below, which also covers throttling (TooManyRequests).
      retryOnServiceExceptions: false,
    });
    task.addRetry({ errors: LAMBDA_SERVICE_ERRORS, ...LAMBDA_SERVICE_RETRY });
    task.addRetry({ errors: LAMBDA_TIMEOUT_ERRORS, interval: Duration.seconds(2), maxAttempts: 1 });
    task.addRetry(
      pace === 'urgent'
        ? { errors: [TRANSIENT_ERROR], interval: Duration.seconds(1), maxAttempts: 4, backoffRate: 2, maxDelay: Duration.seconds(8) }
        : {
            errors: [TRANSIENT_ERROR],
            interval: Duration.seconds(5),
            maxAttempts: 5,
            backoffRate: 2,
            maxDelay: Duration.seconds(60),
            jitterStrategy: sfn.JitterType.FULL,
          },
    );
    return task;
  }
}

/** The functions the state machine invokes (start-drain starts it instead). */
const WORKFLOW_STEPS = ['prepare', 'cordon', 'drainStep', 'heartbeat', 'applyDeadline', 'complete'] as const;

/** How cdk-nag names a function in a finding: `<LogicalId.Arn>`. */
function logicalIdOf(fn: lambda.IFunction): string {
  return Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnElement);
}
