import { ArnFormat, Names, Stack, Token } from 'aws-cdk-lib';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as eks from 'aws-cdk-lib/aws-eks';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { MIN_HEARTBEAT_TIMEOUT_SECONDS } from '../lambda/core/deadline';
import type { DeadlinePolicy } from '../lambda/core/drain-state';
import { ClusterAccess, kubernetesFunctions } from './cluster-access';
import { DEFAULT_RESERVED_CONCURRENCY, DrainFunctionKey, DrainFunctions, OptionalFunctionKey, RESERVED_CONCURRENCY_LIMITS } from './drain-functions';
import { DrainSweep } from './drain-sweep';
import { DrainLifecycleHooks } from './lifecycle-hooks';
import { DrainMonitoring } from './drain-monitoring';
import { DrainWorkflow } from './drain-workflow';

export const DEADLINE_POLICIES: readonly DeadlinePolicy[] = ['force-delete', 'continue', 'abandon'];

/** Limits of the props, shared by the construct's checks and the stack's context parsing. */
export const LIMITS = {
  /** Auto Scaling accepts 30–7200 s; the drain needs MIN_HEARTBEAT_TIMEOUT_SECONDS at least. */
  heartbeatTimeoutSeconds: { min: MIN_HEARTBEAT_TIMEOUT_SECONDS, max: 7200 },
  /** A drain shorter than a minute cannot evict anything gracefully; 48 h is the hook's global cap. */
  maxDrainSeconds: { min: 60, max: 172_800 },
  /** A lost event must be recovered within 10 minutes. */
  sweepIntervalMinutes: { min: 1, max: 10 },
} as const;

/** Formats of the props that name things, shared with the stack's context parsing. */
export const FORMATS = {
  alarmTopicArn: {
    pattern: /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/,
    expected: 'the ARN of an SNS topic (arn:aws:sns:<region>:<account>:<name>)',
  },
  /** EKS: 1–100 characters, a letter or digit first, then letters, digits, - or _. */
  clusterName: {
    pattern: /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/,
    expected: 'an EKS cluster name (1–100 letters, digits, - or _, starting with a letter or digit)',
  },
  /**
   * Auto Scaling: printable ASCII without a colon, at most 255. The name ends up
   * in IAM resource ARNs and the rule pattern, so the IAM wildcards * and ? and
   * the policy-variable sign $ are refused too: `*` would grant every group.
   */
  autoScalingGroupName: {
    pattern: /^[\x21-\x7e]{1,255}$/,
    forbidden: /[:*?$]/,
    expected: 'Auto Scaling group names (1–255 printable ASCII characters, no spaces, and none of : * ? $)',
  },
  /** Auto Scaling: letters, digits, - _ and /, at most 255. */
  existingLifecycleHookName: { pattern: /^[A-Za-z0-9_/-]{1,255}$/, expected: 'a lifecycle hook name (1–255 letters, digits, -, _ or /)' },
  /** CloudWatch: letters, digits, - and _, at most 255. */
  dashboardName: { pattern: /^[A-Za-z0-9_-]{1,255}$/, expected: '1–255 letters, digits, - or _' },
} as const;

export interface EksGracefulDrainProps {
  /**
   * The EKS cluster whose nodes are drained: a cluster construct (`eks.Cluster`,
   * or `eks.Cluster.fromClusterAttributes(this, 'Cluster', { clusterName })` for
   * one defined elsewhere) or the cluster's name. Required, unless the
   * deprecated `clusterName` is set instead.
   */
  readonly cluster?: eks.ICluster | string;
  /**
   * The Auto Scaling groups whose terminating instances are drained: group
   * constructs (`autoscaling.AutoScalingGroup`, `AutoScalingGroup.fromAutoScalingGroupName`,
   * the `autoScalingGroup` of a self-managed capacity) or group names, mixed as you
   * like. At least one. Required, unless the deprecated `autoScalingGroupNames` is set instead.
   */
  readonly autoScalingGroups?: Array<autoscaling.IAutoScalingGroup | string>;
  /**
   * Name of the EKS cluster.
   * @deprecated use `cluster`, which also takes a name
   */
  readonly clusterName?: string;
  /**
   * Names of the Auto Scaling groups.
   * @deprecated use `autoScalingGroups`, which also takes names
   */
  readonly autoScalingGroupNames?: string[];
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
   * Wait for every pod owned by a Job (a CronJob run) as for a pod annotated
   * `karpenter.sh/do-not-disrupt: "true"`: not evicted, but waited for until it
   * finishes, or evicted in time to get all of its grace before the deadline.
   * @default false - only annotated pods are waited for
   */
  readonly waitForJobPods?: boolean;
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
  /**
   * Create the dashboard and the alarms.
   * @default true
   */
  readonly monitoring?: boolean;
  /**
   * ARN of an SNS topic for the alarms (same account and region). Its policy
   * must allow `cloudwatch.amazonaws.com` to `sns:Publish` (conditioned on
   * `aws:SourceAccount` / `aws:SourceArn`), and if it is encrypted, its KMS key
   * must let the same principal `kms:Decrypt` and `kms:GenerateDataKey*`
   * (README "Alarms").
   * @default - a topic is created, encrypted with a KMS key of its own
   */
  readonly alarmTopicArn?: string;
  /**
   * Name of the CloudWatch dashboard (unique in the account).
   * @default - generated by CloudFormation
   */
  readonly dashboardName?: string;
  /**
   * Create an EKS access entry (type STANDARD, no access policy) for the role
   * of each function that calls the Kubernetes API, in that function's own
   * Kubernetes group (`eks-graceful-drain:<function>`). Needs a cluster whose
   * authentication mode is API or API_AND_CONFIG_MAP. Set to false for a
   * CONFIG_MAP cluster and map the roles of the stack outputs in aws-auth
   * instead. Either way, apply the manifests of lib/kubernetes/ to the cluster
   * (README "Give the drain access to the cluster").
   * @default true
   */
  readonly createAccessEntries?: boolean;
  /**
   * Reserved concurrency of each function (1–1000), over the defaults of
   * DEFAULT_RESERVED_CONCURRENCY (drainStep 100, startDrain and applyDeadline 5,
   * the others 10: 150 in all, so the account needs a concurrency limit of at
   * least 250). It guarantees Heartbeat and Complete capacity whatever the
   * account's other functions do, and caps what a storm of terminations can
   * run at once; throttled steps are retried for minutes. `false` reserves none.
   * @default DEFAULT_RESERVED_CONCURRENCY
   */
  readonly reservedConcurrency?: Partial<Record<DrainFunctionKey, number>> | false;
  /**
   * Run the functions that call the Kubernetes API (prepare, cordon,
   * drain-step, apply-deadline) in this VPC: needed when the cluster's API
   * endpoint is private. They then need a route to the endpoint (the cluster
   * security group must admit HTTPS from `securityGroups`) and to the AWS APIs
   * they call: eks, autoscaling and ec2 (VPC endpoints or a NAT; README
   * "Private clusters"). The other functions stay outside the VPC.
   * @default - outside any VPC (the cluster's public endpoint)
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets of those functions in `vpc`.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups of those functions in `vpc`.
   * @default - one per function, all outbound traffic allowed, nothing inbound
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Drain a Spot instance of the groups on EC2's two-minute interruption
   * warning (evict at once, force-delete with clamped grace before the end,
   * no heartbeats). A lifecycle drain under way switches to that budget.
   * @default true
   */
  readonly spotInterruptions?: boolean;
  /**
   * The groups use warm pools with ReuseOnScaleIn: a launch hook
   * (`eks-graceful-drain-launch`) and rule are created so that a node back
   * from the pool gets the drain's cordon, taint and label lifted. Scale-ins
   * to the pool are drained either way.
   * @default false
   */
  readonly warmPools?: boolean;
  /**
   * Cordon a node when EC2 sends a rebalance recommendation for its Spot instance.
   * @default false
   */
  readonly cordonOnRebalanceRecommendation?: boolean;
  /**
   * Minutes between sweeps (1–10), which start a drain for any instance held
   * by the hook whose event was lost.
   * @default 5
   */
  readonly sweepIntervalMinutes?: number;
}

/**
 * Drains EKS nodes before their Auto Scaling group terminates them:
 * lifecycle hook → EventBridge → start-drain → Step Functions workflow of small
 * Lambdas → CompleteLifecycleAction.
 *
 * The Kubernetes-facing Lambda roles get EKS access entries, each in a group
 * of its own (see `clusterAccess`, and `createAccessEntries` for aws-auth
 * clusters); the cluster binds each group to its ClusterRole with the
 * manifests of lib/kubernetes/.
 */
export class EksGracefulDrain extends Construct {
  public readonly lifecycleHooks: DrainLifecycleHooks;
  public readonly functions: Record<DrainFunctionKey, lambda.Function> & Partial<Record<OptionalFunctionKey, lambda.Function>>;
  /** The schedule that recovers lost events. */
  public readonly sweep: DrainSweep;
  public readonly workflow: DrainWorkflow;
  public readonly stateMachine: sfn.StateMachine;
  /** The roles' identity in the cluster: access entries (unless turned off), role ARNs, Kubernetes group. */
  public readonly clusterAccess: ClusterAccess;
  /** Dashboard, alarms and their topic; undefined with `monitoring: false`. */
  public readonly monitoring?: DrainMonitoring;

  /** Name of the drained cluster (a token when the cluster is defined in the same app). */
  public readonly clusterName: string;
  /** Names of the groups whose instances are drained (tokens for groups defined in the same app). */
  public readonly autoScalingGroupNames: string[];

  constructor(scope: Construct, id: string, props: EksGracefulDrainProps) {
    super(scope, id);
    validateProps(props);
    const clusterName = clusterNameOf(props);
    const autoScalingGroupNames = groupNamesOf(props);
    this.clusterName = clusterName;
    this.autoScalingGroupNames = autoScalingGroupNames;

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
      autoScalingGroupNames: autoScalingGroupNames,
      heartbeatTimeoutSeconds,
      existingLifecycleHookName: props.existingLifecycleHookName,
      spotInterruptions: props.spotInterruptions,
      warmPools: props.warmPools,
      cordonOnRebalanceRecommendation: props.cordonOnRebalanceRecommendation,
    });

    this.functions = new DrainFunctions(this, 'Functions', {
      clusterName: clusterName,
      autoScalingGroupNames: autoScalingGroupNames,
      onDeadline: props.onDeadline ?? 'force-delete',
      spotInterruptions: props.spotInterruptions ?? true,
      maxDrainSeconds: props.maxDrainSeconds ?? 0,
      lifecycleHookName: this.lifecycleHooks.lifecycleHookName,
      launchHookName: this.lifecycleHooks.launchHookName,
      nodeMarks: Boolean(props.warmPools || props.cordonOnRebalanceRecommendation),
      waitForJobPods: props.waitForJobPods ?? false,
      metricsNamespace: props.metricsNamespace ?? 'EksGracefulDrain',
      stateMachineArn,
      startDrainDeadLetterQueue: this.lifecycleHooks.deadLetterQueue,
      startDrainMaxEventAge: this.lifecycleHooks.eventMaxAge,
      logRetention: props.logRetention,
      reservedConcurrency: props.reservedConcurrency,
      network: props.vpc && { vpc: props.vpc, vpcSubnets: props.vpcSubnets, securityGroups: props.securityGroups },
    }).functions;
    this.lifecycleHooks.startDrainWith(this.functions.startDrain);
    if (this.functions.nodeMarks) this.lifecycleHooks.nodeMarksWith(this.functions.nodeMarks);
    this.sweep = new DrainSweep(this, 'Sweep', { sweep: this.functions.sweep, intervalMinutes: props.sweepIntervalMinutes ?? 5 });

    this.clusterAccess = new ClusterAccess(this, 'ClusterAccess', {
      clusterName: clusterName,
      functions: this.functions,
      kubernetesFunctions: [...kubernetesFunctions(props.onDeadline ?? 'force-delete', { spotInterruptions: props.spotInterruptions ?? true }), ...(this.functions.nodeMarks ? ['nodeMarks' as const] : [])],
      createAccessEntries: props.createAccessEntries ?? true,
    });

    this.workflow = new DrainWorkflow(this, 'Workflow', {
      functions: this.functions,
      stateMachineName,
      stateMachineArn,
      logRetention: props.logRetention,
    });
    this.stateMachine = this.workflow.stateMachine;

    if (props.monitoring ?? true) {
      this.monitoring = new DrainMonitoring(this, 'Monitoring', {
        stateMachine: this.stateMachine,
        functions: this.functions,
        deadLetterQueue: this.lifecycleHooks.deadLetterQueue,
        rulesWithoutDeadLetterQueue: this.lifecycleHooks.lifecycleRules,
        autoScalingGroupNames: autoScalingGroupNames,
        metricsNamespace: props.metricsNamespace ?? 'EksGracefulDrain',
        alarmTopic: props.alarmTopicArn === undefined ? undefined : sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn),
        dashboardName: props.dashboardName,
      });
    }
  }
}

/** An Auto Scaling group name that cannot widen an IAM ARN (see FORMATS.autoScalingGroupName). */
export function isAutoScalingGroupName(name: string): boolean {
  return FORMATS.autoScalingGroupName.pattern.test(name) && !FORMATS.autoScalingGroupName.forbidden.test(name);
}

/** Throws, naming the prop and what it accepts, on a value the deployment would reject or misbehave with. */
export function validateProps(props: EksGracefulDrainProps): void {
  const fail = (name: string, expected: string, got: unknown): never => {
    throw new Error(`EksGracefulDrain: ${name} must be ${expected} (got ${describe(got)})`);
  };
  const known = (value: unknown): boolean => value !== undefined && !Token.isUnresolved(value);

  // Names reach IAM ARNs, access entries and the rule pattern: checked, never
  // wildcards. A name known only at deploy time (a token) is left to CloudFormation.
  // Errors name the prop the caller set (the deprecated clusterName and
  // autoScalingGroupNames included).
  if (props.cluster !== undefined && props.clusterName !== undefined) {
    throw new Error('EksGracefulDrain: cluster and clusterName are both set: set cluster only');
  }
  const clusterProp = props.clusterName !== undefined ? 'clusterName' : 'cluster';
  const cluster: unknown = props.cluster ?? props.clusterName;
  const clusterName = typeof cluster === 'object' && cluster !== null ? (cluster as eks.ICluster).clusterName : cluster;
  const clusterNameOk = typeof clusterName === 'string'
    && (Token.isUnresolved(clusterName) ? typeof cluster === 'object' : FORMATS.clusterName.pattern.test(clusterName));
  if (!clusterNameOk) {
    fail(clusterProp, clusterProp === 'cluster' ? `an eks.ICluster or ${FORMATS.clusterName.expected}` : FORMATS.clusterName.expected, cluster);
  }

  if (props.autoScalingGroups !== undefined && props.autoScalingGroupNames !== undefined) {
    throw new Error('EksGracefulDrain: autoScalingGroups and autoScalingGroupNames are both set: set autoScalingGroups only');
  }
  const groupsProp = props.autoScalingGroupNames !== undefined ? 'autoScalingGroupNames' : 'autoScalingGroups';
  const groups: unknown = props.autoScalingGroups ?? props.autoScalingGroupNames;
  const isGroup = (group: unknown): boolean => {
    const name = typeof group === 'object' && group !== null ? (group as autoscaling.IAutoScalingGroup).autoScalingGroupName : group;
    return typeof name === 'string' && (Token.isUnresolved(name) ? typeof group === 'object' : isAutoScalingGroupName(name));
  };
  if (!Array.isArray(groups) || groups.length === 0 || !groups.every(isGroup)) {
    fail(groupsProp, groupsProp === 'autoScalingGroups'
      ? `a non-empty list of Auto Scaling groups (IAutoScalingGroup) or ${FORMATS.autoScalingGroupName.expected}`
      : `a non-empty list of ${FORMATS.autoScalingGroupName.expected}`, groups);
  }
  const names = groupNamesOf(props).filter((name) => !Token.isUnresolved(name));
  if (new Set(names).size !== names.length) fail(groupsProp, 'a list without duplicates', groups);
  if (known(props.existingLifecycleHookName) && !FORMATS.existingLifecycleHookName.pattern.test(props.existingLifecycleHookName!)) {
    fail('existingLifecycleHookName', FORMATS.existingLifecycleHookName.expected, props.existingLifecycleHookName);
  }
  const inRange = (name: keyof typeof LIMITS, value: number | undefined, allowZero: boolean): void => {
    if (!known(value)) return;
    const { min, max } = LIMITS[name];
    const ok = Number.isInteger(value) && ((allowZero && value === 0) || (value! >= min && value! <= max));
    if (!ok) fail(name, `an integer number of ${name.endsWith('Minutes') ? 'minutes' : 'seconds'} from ${min} to ${max}${allowZero ? ', or 0' : ''}`, value);
  };
  inRange('heartbeatTimeoutSeconds', props.heartbeatTimeoutSeconds, false);
  inRange('maxDrainSeconds', props.maxDrainSeconds, true);
  inRange('sweepIntervalMinutes', props.sweepIntervalMinutes, false);
  if (props.onDeadline !== undefined && !DEADLINE_POLICIES.includes(props.onDeadline)) {
    fail('onDeadline', `one of ${DEADLINE_POLICIES.join(', ')}`, props.onDeadline);
  }
  for (const name of ['createAccessEntries', 'spotInterruptions', 'warmPools', 'cordonOnRebalanceRecommendation'] as const) {
    if (props[name] !== undefined && typeof props[name] !== 'boolean') fail(name, 'true or false', props[name]);
  }
  if (props.metricsNamespace === '') fail('metricsNamespace', 'a non-empty CloudWatch namespace when set', '');
  for (const name of ['alarmTopicArn', 'dashboardName'] as const) {
    const value = props[name];
    if (known(value) && !FORMATS[name].pattern.test(value!)) fail(name, FORMATS[name].expected, value);
  }
  if (!props.vpc && (props.vpcSubnets !== undefined || props.securityGroups !== undefined)) {
    fail('vpc', 'set when vpcSubnets or securityGroups are', undefined);
  }
  if (props.reservedConcurrency !== undefined && props.reservedConcurrency !== false) {
    const { min, max } = RESERVED_CONCURRENCY_LIMITS;
    for (const [key, value] of Object.entries(props.reservedConcurrency)) {
      if (!(key in DEFAULT_RESERVED_CONCURRENCY)
        || !Number.isInteger(value) || value! < min || value! > max) {
        fail('reservedConcurrency', `false or a map of function (${Object.keys(DEFAULT_RESERVED_CONCURRENCY).join(', ')}) to an integer from ${min} to ${max}`, props.reservedConcurrency);
      }
    }
  }
  if (known(props.stateMachineName) && !/^[A-Za-z0-9_-]{1,80}$/.test(props.stateMachineName!)) {
    fail('stateMachineName', '1–80 letters, digits, - or _', props.stateMachineName);
  }
}

/** The cluster's name, from `cluster` (a construct or a name) or the deprecated `clusterName`. */
function clusterNameOf(props: EksGracefulDrainProps): string {
  const cluster = props.cluster ?? props.clusterName!;
  return typeof cluster === 'string' ? cluster : cluster.clusterName;
}

/** The groups' names, from `autoScalingGroups` (constructs or names) or the deprecated `autoScalingGroupNames`. */
function groupNamesOf(props: EksGracefulDrainProps): string[] {
  const groups = props.autoScalingGroups ?? props.autoScalingGroupNames ?? [];
  return groups.map((group) => (typeof group === 'string' ? group : group.autoScalingGroupName));
}

/** A value for an error message: JSON for data, the construct path for a construct (JSON would recurse). */
function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const path = (value as Partial<Construct>).node?.path;
    if (path !== undefined) return `the construct ${path}`;
    if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  }
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
