import * as fs from 'fs';
import * as path from 'path';
import { ArnFormat, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DeadlinePolicy } from '../lambda/core/drain-state';
import { kubernetesFunctions } from './cluster-access';

/** One Lambda per workflow step; the keys are how other constructs refer to them. */
export type DrainFunctionKey =
  | 'startDrain'
  | 'prepare'
  | 'cordon'
  | 'drainStep'
  | 'heartbeat'
  | 'applyDeadline'
  | 'complete'
  | 'sweep';

/** Functions created only when a feature needs them (warm pools, rebalance cordons). */
export type OptionalFunctionKey = 'nodeMarks';

interface FunctionSpec {
  /** File under lambda/handlers. */
  readonly entry: string;
  readonly description: string;
  readonly timeout: Duration;
}

/**
 * The package's root: this file is lib/drain-functions.ts in the repository and
 * dist/lib/drain-functions.js in the npm package.
 */
const PACKAGE_ROOT = [path.join(__dirname, '..'), path.join(__dirname, '..', '..')]
  .find((dir) => fs.existsSync(path.join(dir, 'package.json'))) ?? path.join(__dirname, '..');

/**
 * The prebuilt bundle of a function: dist/functions/<entry>/index.mjs, made by
 * scripts/build-functions.ts (`npm run build:functions`; run by `npm pack`,
 * the tests, `npm run synth` and the rehearsal).
 */
export function functionBundleDir(key: DrainFunctionKey | OptionalFunctionKey): string {
  const spec = key === 'nodeMarks' ? OPTIONAL_FUNCTIONS[key] : FUNCTIONS[key];
  return path.join(PACKAGE_ROOT, 'dist', 'functions', path.basename(spec.entry, '.ts'));
}

// Every step does one bounded piece of work and returns; Step Functions waits.
/**
 * A drain round watches for WATCH_SECONDS (60), and may stretch to see a grace
 * period end within the time the Lambda has: cheaper than another Wait and round.
 */
export const DRAIN_STEP_TIMEOUT = Duration.minutes(3);

/** The functions, by key: adding one is an entry here (and its key in DrainFunctionKey); scripts/build-functions.ts bundles each entry. */
export const FUNCTIONS: Record<DrainFunctionKey, FunctionSpec> = {
  startDrain: { entry: 'start-drain.ts', timeout: Duration.seconds(30), description: 'Starts the drain workflow for a terminating instance' },
  prepare: { entry: 'prepare.ts', timeout: Duration.seconds(30), description: 'Finds the node and the hook timeouts, computes the deadline' },
  cordon: { entry: 'cordon.ts', timeout: Duration.seconds(30), description: 'Cordons the node and takes it out of load balancers' },
  drainStep: { entry: 'drain-step.ts', timeout: DRAIN_STEP_TIMEOUT, description: 'Evicts what may be evicted now and reports what is left' },
  heartbeat: { entry: 'heartbeat.ts', timeout: Duration.seconds(30), description: 'Extends the lifecycle action while the drain goes on' },
  applyDeadline: { entry: 'apply-deadline.ts', timeout: Duration.seconds(30), description: 'Applies the onDeadline policy when the drain runs out of time' },
  complete: { entry: 'complete.ts', timeout: Duration.seconds(30), description: 'Completes the lifecycle action so the instance terminates' },
  sweep: { entry: 'sweep.ts', timeout: Duration.seconds(120), description: 'Starts a drain for any instance held by the hook that has none (a lost event)' },
};

export const OPTIONAL_FUNCTIONS: Record<OptionalFunctionKey, FunctionSpec> = {
  nodeMarks: { entry: 'node-marks.ts', timeout: Duration.seconds(30), description: 'Lifts the drain cordon of a node back from a warm pool; cordons on a rebalance recommendation' },
};

// ---- Reserved concurrency (issue 10.6) ----------------------------------------
/**
 * Default reserved concurrency of each function. A reservation is a floor and a
 * ceiling: the account's other functions can never starve Heartbeat or Complete
 * (an instance held past its hook), and a storm of terminations (an instance
 * refresh of hundreds of nodes) cannot run hundreds of DrainSteps, each holding
 * watches on the API server, nor eat the account's pool. A throttled step is
 * retried by the workflow for minutes (LAMBDA_SERVICE_RETRY); a throttled
 * start-drain event is retried by Lambda's asynchronous queue. 151 in all (156
 * with node-marks): the account needs a concurrency limit of 260 or more
 * (Lambda keeps 100 unreserved).
 */
export const DEFAULT_RESERVED_CONCURRENCY: Readonly<Record<DrainFunctionKey, number>> = {
  startDrain: 5,
  prepare: 10,
  cordon: 10,
  drainStep: 100,
  heartbeat: 10,
  applyDeadline: 5,
  complete: 10,
  // One sweep at a time: the schedule runs every few minutes and a sweep takes seconds.
  sweep: 1,
};
/** The limits of one function's reservation (Lambda refuses 0 as "throttle everything" for us). */
export const RESERVED_CONCURRENCY_LIMITS = { min: 1, max: 1000 } as const;
// ------------------------------------------------------------------------------

export interface DrainFunctionsProps {
  /** EKS cluster whose nodes are drained. */
  readonly clusterName: string;
  /** Groups whose lifecycle actions the functions may heartbeat and complete. */
  readonly autoScalingGroupNames: string[];
  /** What to do with pods still running at the deadline. */
  readonly onDeadline: DeadlinePolicy;
  /**
   * Spot interruptions are drained: a Spot drain's deadline deletes the pods
   * left whatever onDeadline says, so apply-deadline gets a Kubernetes identity.
   * @default true
   */
  readonly spotInterruptions?: boolean;
  /** Drain time limit in seconds; 0 means the hook's global timeout. */
  readonly maxDrainSeconds: number;
  /** Our terminate hook's name: heartbeats and completions name it, events must name it. */
  readonly lifecycleHookName: string;
  /** Our launch hook's name, with warm pools. */
  readonly launchHookName?: string;
  /** Create the node-marks function (warm-pool returns, rebalance cordons). */
  readonly nodeMarks?: boolean;
  /**
   * Wait for every Job pod as for a do-not-disrupt pod (DrainStep's WAIT_FOR_JOB_PODS).
   * @default false
   */
  readonly waitForJobPods?: boolean;
  /** CloudWatch metrics namespace for the functions' Powertools metrics. */
  readonly metricsNamespace: string;
  /** ARN of the drain state machine, which start-drain starts (formatted, to avoid a dependency cycle). */
  readonly stateMachineArn: string;
  /** Where failed asynchronous invocations of start-drain go (with their transformed payload: no lifecycle token). */
  readonly startDrainDeadLetterQueue: sqs.IQueue;
  /** How long a lifecycle event stays worth processing by start-drain. */
  readonly startDrainMaxEventAge: Duration;
  /**
   * How long the functions' logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Reserved concurrency per function, over DEFAULT_RESERVED_CONCURRENCY; `false`
   * reserves none (the functions share the account's unreserved pool).
   * @default DEFAULT_RESERVED_CONCURRENCY
   */
  readonly reservedConcurrency?: Partial<Record<DrainFunctionKey, number>> | false;
  /** The VPC, subnets and security groups of the Kubernetes-facing functions (private clusters). */
  readonly network?: DrainFunctionsNetwork;
}

// ---- Private clusters (issue 10.7) ------------------------------------------------
/** Where the Kubernetes-facing functions run, for a cluster whose API endpoint is private. */
export interface DrainFunctionsNetwork {
  /** The VPC to run them in (the cluster's, or one routed to it). */
  readonly vpc: ec2.IVpc;
  /** @default - the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - one security group per function, all outbound allowed, no inbound */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * The Lambdas of the drain, each with its own role (least privilege, and no
 * AWS managed policy) and log group.
 */
export class DrainFunctions extends Construct {
  public readonly functions: Record<DrainFunctionKey, lambda.Function> & Partial<Record<OptionalFunctionKey, lambda.Function>>;

  constructor(scope: Construct, id: string, props: DrainFunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);

    const access = { spotInterruptions: props.spotInterruptions ?? true };
    const commonEnvironment: Record<string, string> = {
      CLUSTER_NAME: props.clusterName,
      DEADLINE_POLICY: props.onDeadline,
      SPOT_INTERRUPTIONS: String(props.spotInterruptions ?? true),
      MAX_DRAIN_SECONDS: String(props.maxDrainSeconds),
      // What a drain may act on comes from here, never from an event or an execution input.
      AUTO_SCALING_GROUP_NAMES: props.autoScalingGroupNames.join(','),
      LIFECYCLE_HOOK_NAME: props.lifecycleHookName,
      ACCOUNT_ID: stack.account,
      POWERTOOLS_SERVICE_NAME: 'eks-graceful-drain',
      POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
      // Stack traces point at the TypeScript sources (the bundle ships its source map).
      NODE_OPTIONS: '--enable-source-maps',
    };
    const extraEnvironment: Partial<Record<DrainFunctionKey | OptionalFunctionKey, Record<string, string>>> = {
      // How long one DrainStep watches pods leave before returning (within its 3-minute timeout).
      drainStep: { WATCH_SECONDS: '60', ...(props.waitForJobPods ? { WAIT_FOR_JOB_PODS: 'true' } : {}) },
      startDrain: { STATE_MACHINE_ARN: props.stateMachineArn },
      sweep: { STATE_MACHINE_ARN: props.stateMachineArn },
      ...(props.launchHookName ? { nodeMarks: { LAUNCH_HOOK_NAME: props.launchHookName } } : {}),
    };

    const reserved = props.reservedConcurrency === false ? undefined : { ...DEFAULT_RESERVED_CONCURRENCY, ...props.reservedConcurrency };
    // Only the functions that talk to the cluster need its network; the others call public AWS APIs.
    const inVpc: Array<DrainFunctionKey | OptionalFunctionKey> = [...kubernetesFunctions(props.onDeadline, access), ...(props.nodeMarks ? ['nodeMarks' as const] : [])];
    const make = (key: DrainFunctionKey | OptionalFunctionKey): lambda.Function => {
      const spec = key === 'nodeMarks' ? OPTIONAL_FUNCTIONS[key] : FUNCTIONS[key];
      const logGroup = new logs.LogGroup(this, `${pascal(key)}Logs`, {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      });
      // Our own role instead of AWSLambdaBasicExecutionRole: it may write to this
      // log group only.
      const role = new iam.Role(this, `${pascal(key)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `eks-graceful-drain ${key} function`,
      });
      logGroup.grantWrite(role);
      const isStartDrain = key === 'startDrain';
      const bundleDir = functionBundleDir(key);
      if (!fs.existsSync(path.join(bundleDir, 'index.mjs'))) {
        throw new Error(`EksGracefulDrain: the prebuilt bundle of the ${key} function is missing (${bundleDir}): run \`npm run build:functions\``);
      }
      return new lambda.Function(this, pascal(key), {
        // Prebuilt by scripts/build-functions.ts and shipped in the package: a
        // synth needs neither esbuild nor Docker.
        code: lambda.Code.fromAsset(bundleDir),
        handler: 'index.handler',
        description: spec.description,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 256,
        timeout: spec.timeout,
        reservedConcurrentExecutions: key === 'nodeMarks' ? (reserved ? 5 : undefined) : reserved?.[key],
        ...(props.network && inVpc.includes(key) && {
          vpc: props.network.vpc,
          vpcSubnets: props.network.vpcSubnets,
          securityGroups: props.network.securityGroups,
        }),
        role,
        logGroup,
        environment: { ...commonEnvironment, ...extraEnvironment[key] },
        // Only start-drain is invoked asynchronously (by EventBridge).
        ...(isStartDrain && {
          deadLetterQueue: props.startDrainDeadLetterQueue,
          maxEventAge: props.startDrainMaxEventAge,
          retryAttempts: 2,
        }),
      });
    };

    this.functions = {
      startDrain: make('startDrain'),
      prepare: make('prepare'),
      cordon: make('cordon'),
      drainStep: make('drainStep'),
      heartbeat: make('heartbeat'),
      applyDeadline: make('applyDeadline'),
      complete: make('complete'),
      sweep: make('sweep'),
      ...(props.nodeMarks ? { nodeMarks: make('nodeMarks') } : {}),
    };
    const fns = this.functions;

    const autoScalingGroupArns = props.autoScalingGroupNames.map((name) => stack.formatArn({
      service: 'autoscaling',
      resource: 'autoScalingGroup',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      // The middle part is the group's UUID, which changes if the group is recreated.
      resourceName: `*:autoScalingGroupName/${name}`,
    }));
    const clusterArn = stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: props.clusterName });

    fns.complete.addToRolePolicy(new iam.PolicyStatement({
      actions: ['autoscaling:CompleteLifecycleAction'],
      resources: autoScalingGroupArns,
    }));
    fns.heartbeat.addToRolePolicy(new iam.PolicyStatement({
      actions: ['autoscaling:RecordLifecycleActionHeartbeat'],
      resources: autoScalingGroupArns,
    }));
    // Neither action supports resource-level permissions.
    fns.prepare.addToRolePolicy(new iam.PolicyStatement({
      actions: ['autoscaling:DescribeLifecycleHooks', 'ec2:DescribeInstances'],
      resources: ['*'],
    }));
    // Only the functions that call the Kubernetes API may learn its endpoint
    // (apply-deadline only when it may delete pods: onDeadline=force-delete or Spot drains).
    for (const fn of kubernetesFunctions(props.onDeadline, access).map((key) => fns[key]!)) {
      fn.addToRolePolicy(new iam.PolicyStatement({
        actions: ['eks:DescribeCluster'],
        resources: [clusterArn],
      }));
    }
    fns.startDrain.addToRolePolicy(new iam.PolicyStatement({
      actions: ['states:StartExecution'],
      resources: [props.stateMachineArn],
    }));
    fns.sweep.addToRolePolicy(new iam.PolicyStatement({
      actions: ['states:StartExecution'],
      resources: [props.stateMachineArn],
    }));
    // A Spot warning during a lifecycle drain: find the running execution and stop it (the Spot drain takes over).
    fns.startDrain.addToRolePolicy(new iam.PolicyStatement({
      actions: ['states:ListExecutions'],
      resources: [props.stateMachineArn],
    }));
    const executionsArn = `${props.stateMachineArn.replace(':stateMachine:', ':execution:')}:*`;
    fns.startDrain.addToRolePolicy(new iam.PolicyStatement({
      actions: ['states:StopExecution'],
      resources: [executionsArn],
    }));
    // Re-derive, never trust: every function that acts on an instance reads its
    // group and lifecycle state, its Spot request and, to start or time a drain,
    // the termination's scaling activity. None of these reads supports
    // resource-level permissions.
    const identityReads: Array<[DrainFunctionKey | OptionalFunctionKey, string[]]> = [
      ['startDrain', ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests']],
      ['sweep', ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests']],
      ['prepare', ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeSpotInstanceRequests']],
      ['cordon', ['autoscaling:DescribeAutoScalingInstances', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests']],
      ['drainStep', ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeScalingActivities', 'autoscaling:DescribeLifecycleHooks', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests']],
      ['applyDeadline', ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeScalingActivities', 'autoscaling:DescribeLifecycleHooks', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests']],
      ['nodeMarks', ['autoscaling:DescribeAutoScalingInstances', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests']],
      // Heartbeat and complete check the instance is held by a hook in a configured group before naming it.
      ['heartbeat', ['autoscaling:DescribeAutoScalingInstances']],
      ['complete', ['autoscaling:DescribeAutoScalingInstances']],
    ];
    for (const [key, actions] of identityReads) {
      const fn = fns[key];
      if (!fn) continue;
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: ['*'] }));
    }
    if (fns.nodeMarks) {
      fns.nodeMarks.addToRolePolicy(new iam.PolicyStatement({
        actions: ['autoscaling:CompleteLifecycleAction'],
        resources: autoScalingGroupArns,
      }));
      fns.nodeMarks.addToRolePolicy(new iam.PolicyStatement({
        actions: ['eks:DescribeCluster'],
        resources: [clusterArn],
      }));
    }

    // cdk-nag names a finding by the resource as synthesized, pseudo parameters as <AWS::…>.
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    for (const key of ['complete', 'heartbeat', ...(fns.nodeMarks ? ['nodeMarks' as const] : [])] as const) {
      for (const name of props.autoScalingGroupNames) {
        Validations.of(fns[key]!.role!).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${nagText(stack, name)}]`,
          reason: 'The middle part of an Auto Scaling group ARN is the group UUID, unknown here and new if the group is recreated; the group name pins the resource.',
        });
      }
    }
    Validations.of(fns.startDrain.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${executionsArn.replace(stack.partition, '<AWS::Partition>').replace(stack.region, region).replace(stack.account, account)}]`,
      reason: 'states:StopExecution on the executions of our own state machine only: a Spot warning stops the lifecycle drain it replaces.',
    });
    // A function in a VPC manages its network interfaces with its own role (our
    // roles do not get AWSLambdaVPCAccessExecutionRole): the actions that
    // managed policy grants, which support no resource-level permissions.
    if (props.network) {
      for (const key of inVpc) {
        fns[key]?.addToRolePolicy(new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }));
      }
    }
    // One acknowledgement per role of what its Resource::* statements are for.
    const wildcardReasons = new Map<DrainFunctionKey | OptionalFunctionKey, string[]>();
    const because = (key: DrainFunctionKey | OptionalFunctionKey, reason: string) => wildcardReasons.set(key, [...(wildcardReasons.get(key) ?? []), reason]);
    for (const [key] of identityReads) {
      if (fns[key]) because(key, 'Auto Scaling and EC2 Describe* calls support no resource-level permissions; all are read-only, and they are how the function re-checks what its input claims.');
    }
    if (props.network) {
      for (const key of inVpc) {
        if (fns[key]) because(key, 'The network-interface actions a function in a VPC needs (those of AWSLambdaVPCAccessExecutionRole) support no resource-level permissions.');
      }
    }
    for (const [key, reasons] of wildcardReasons) {
      Validations.of(fns[key]!.role!).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: reasons.join(' ') });
    }
    for (const fn of Object.values(fns)) {
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-L1',
        reason: 'nodejs22.x is the runtime the handlers are built and tested for (esbuild target node22); moving to a newer runtime is a deliberate, tested change.',
      });
    }
  }
}

/**
 * A value as cdk-nag writes it in a finding's id: a group defined in the same
 * app has a token for a name, which cdk-nag shows as `<LogicalId>`.
 */
function nagText(stack: Stack, value: string): string {
  if (!Token.isUnresolved(value)) return value;
  const flatten = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    const reference = node as { Ref?: unknown; 'Fn::GetAtt'?: [unknown, unknown]; 'Fn::Join'?: [string, unknown[]] };
    if (reference.Ref !== undefined) return `<${flatten(reference.Ref)}>`;
    if (reference['Fn::GetAtt']) return `<${flatten(reference['Fn::GetAtt'][0])}.${flatten(reference['Fn::GetAtt'][1])}>`;
    if (reference['Fn::Join']) return reference['Fn::Join'][1].map(flatten).join(reference['Fn::Join'][0]);
    return JSON.stringify(node);
  };
  return flatten(stack.resolve(value));
}

function pascal(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}
