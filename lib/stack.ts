import { Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Node } from 'constructs';
import { Construct } from 'constructs';
import type { DeadlinePolicy } from '../lambda/core/drain-state';
import { DEADLINE_POLICIES, EksGracefulDrain, EksGracefulDrainProps, FORMATS, isAutoScalingGroupName, LIMITS, validateProps } from './graceful-drain';

/** A context value that cannot become a prop: names the key and what it accepts. */
export class ContextError extends Error {
  constructor(key: string, expected: string, got: unknown) {
    super(`Context key "${key}": expected ${expected}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}. `
      + `Pass it with -c ${key}=… or in cdk.json "context".`);
    this.name = 'ContextError';
  }
}

/**
 * Reads the deployment's settings from CDK context (`-c key=value`; values from
 * the command line are strings, values from cdk.json may be numbers or lists)
 * and maps them to the construct's props, key for key (`clusterName` →
 * `cluster`, `autoScalingGroupNames` → `autoScalingGroups`). The limits are the
 * construct's own (LIMITS, FORMATS); a bad value is refused here already so that
 * the message names the context key and how to pass it.
 */
/** The network of a private cluster, by id (the stack turns them into constructs without a lookup). */
export interface ContextNetwork {
  vpcId: string;
  subnetIds: string[];
  securityGroupIds?: string[];
}

export function drainPropsFromContext(node: Node): EksGracefulDrainProps & { network?: ContextNetwork } {
  const raw = (key: string): unknown => {
    const value = node.tryGetContext(key);
    return value === '' ? undefined : value;
  };
  const text = (key: string): string | undefined => {
    const value = raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new ContextError(key, 'a string', value);
    return value.trim();
  };
  const seconds = (key: keyof typeof LIMITS, fallback: number, allowZero: boolean): number => {
    const value = raw(key);
    if (value === undefined) return fallback;
    const { min, max } = LIMITS[key];
    const expected = `an integer number of ${key.endsWith('Minutes') ? 'minutes' : 'seconds'} from ${min} to ${max}${allowZero ? ', or 0' : ''}`;
    const parsed = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN;
    if (!Number.isInteger(parsed) || !((allowZero && parsed === 0) || (parsed >= min && parsed <= max))) {
      throw new ContextError(key, expected, value);
    }
    return parsed;
  };
  const formatted = (key: 'alarmTopicArn' | 'dashboardName' | 'existingLifecycleHookName'): string | undefined => {
    const value = text(key);
    if (value === undefined || value === '') return undefined;
    if (!FORMATS[key].pattern.test(value)) throw new ContextError(key, FORMATS[key].expected, value);
    return value;
  };

  const flag = (key: 'createAccessEntries' | 'waitForJobPods' | 'spotInterruptions' | 'warmPools' | 'cordonOnRebalanceRecommendation'): boolean | undefined => {
    const value = raw(key);
    if (value === undefined || typeof value === 'boolean') return value;
    const word = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
    if (word === 'true') return true;
    if (word === 'false') return false;
    throw new ContextError(key, 'true or false', value);
  };

  const clusterName = text('clusterName');
  if (!clusterName) throw new ContextError('clusterName', 'the name of the EKS cluster', raw('clusterName'));
  if (!FORMATS.clusterName.pattern.test(clusterName)) throw new ContextError('clusterName', FORMATS.clusterName.expected, clusterName);

  const groups = raw('autoScalingGroupNames');
  const autoScalingGroupNames = (Array.isArray(groups) ? groups.map(String) : typeof groups === 'string' ? groups.split(',') : [])
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (autoScalingGroupNames.length === 0) {
    throw new ContextError('autoScalingGroupNames', 'one or more Auto Scaling group names, comma separated', groups);
  }
  const badGroup = autoScalingGroupNames.find((name) => !isAutoScalingGroupName(name));
  if (badGroup !== undefined) throw new ContextError('autoScalingGroupNames', FORMATS.autoScalingGroupName.expected, badGroup);

  const onDeadline = text('onDeadline') ?? 'force-delete';
  if (!DEADLINE_POLICIES.includes(onDeadline as DeadlinePolicy)) {
    throw new ContextError('onDeadline', `one of ${DEADLINE_POLICIES.join(' | ')}`, onDeadline);
  }

  // ---- reservedConcurrency: "none"/"false", or "drainStep=50,prepare=5" (cdk.json: false or an object)
  const concurrency = raw('reservedConcurrency');
  let reservedConcurrency: EksGracefulDrainProps['reservedConcurrency'];
  if (concurrency === false || (typeof concurrency === 'string' && ['none', 'false'].includes(concurrency.trim().toLowerCase()))) {
    reservedConcurrency = false;
  } else if (typeof concurrency === 'object' && concurrency !== null && !Array.isArray(concurrency)) {
    reservedConcurrency = concurrency as Record<string, number>;
  } else if (typeof concurrency === 'string') {
    const pairs = concurrency.split(',').map((pair) => pair.trim()).filter(Boolean).map((pair) => /^(\w+)\s*=\s*(\d+)$/.exec(pair));
    if (pairs.some((pair) => pair === null)) {
      throw new ContextError('reservedConcurrency', '"none", or function=count pairs, comma separated (e.g. drainStep=50,prepare=5)', concurrency);
    }
    reservedConcurrency = Object.fromEntries(pairs.map((pair) => [pair![1], Number(pair![2])]));
  } else if (concurrency !== undefined) {
    throw new ContextError('reservedConcurrency', '"none", or function=count pairs, comma separated', concurrency);
  }
  if (reservedConcurrency) {
    try {
      validateProps({ clusterName, autoScalingGroupNames, reservedConcurrency });
    } catch (error) {
      throw new ContextError('reservedConcurrency', (error as Error).message.replace(/^.*must be (.*) \(got.*$/, '$1'), concurrency);
    }
  }

  // ---- Private clusters: vpcId, subnetIds, securityGroupIds (comma separated)
  const ids = (key: string, pattern: RegExp, expected: string): string[] | undefined => {
    const value = raw(key);
    if (value === undefined) return undefined;
    const list = (Array.isArray(value) ? value.map(String) : String(value).split(',')).map((id) => id.trim()).filter(Boolean);
    if (list.length === 0 || list.some((id) => !pattern.test(id))) throw new ContextError(key, expected, value);
    return list;
  };
  const vpcId = ids('vpcId', /^vpc-[0-9a-f]{8,17}$/, 'a VPC id (vpc-…)');
  const subnetIds = ids('subnetIds', /^subnet-[0-9a-f]{8,17}$/, 'subnet ids (subnet-…), comma separated');
  const securityGroupIds = ids('securityGroupIds', /^sg-[0-9a-f]{8,17}$/, 'security group ids (sg-…), comma separated');
  if (vpcId && vpcId.length > 1) throw new ContextError('vpcId', 'one VPC id', raw('vpcId'));
  if (vpcId && !subnetIds) throw new ContextError('subnetIds', 'the subnets of vpcId the functions run in, comma separated', undefined);
  if (!vpcId && (subnetIds || securityGroupIds)) throw new ContextError('vpcId', 'the VPC of subnetIds and securityGroupIds', undefined);
  const network = vpcId && subnetIds ? { vpcId: vpcId[0], subnetIds, securityGroupIds } : undefined;

  return {
    ...(network && { network }),
    cluster: clusterName,
    autoScalingGroups: autoScalingGroupNames,
    heartbeatTimeoutSeconds: seconds('heartbeatTimeoutSeconds', 1800, false),
    maxDrainSeconds: seconds('maxDrainSeconds', 0, true),
    onDeadline: onDeadline as DeadlinePolicy,
    existingLifecycleHookName: formatted('existingLifecycleHookName'),
    metricsNamespace: text('metricsNamespace') ?? 'EksGracefulDrain',
    alarmTopicArn: formatted('alarmTopicArn'),
    dashboardName: formatted('dashboardName'),
    // Unset stays undefined: the construct's default (true) applies.
    createAccessEntries: flag('createAccessEntries'),
    spotInterruptions: flag('spotInterruptions'),
    warmPools: flag('warmPools'),
    cordonOnRebalanceRecommendation: flag('cordonOnRebalanceRecommendation'),
    sweepIntervalMinutes: seconds('sweepIntervalMinutes', 5, false),
    waitForJobPods: flag('waitForJobPods'),
    ...(reservedConcurrency !== undefined && { reservedConcurrency }),
  };
}

/** The stack `bin/app.ts` deploys: one {@link EksGracefulDrain} configured from context. */
export class EksGracefulDrainStack extends Stack {
  public readonly drain: EksGracefulDrain;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, {
      description: 'eks-graceful-drain: drains EKS nodes before Auto Scaling terminates their instances',
      ...props,
    });
    const { network, ...drainProps } = drainPropsFromContext(this.node);
    this.drain = new EksGracefulDrain(this, 'EksGracefulDrain', { ...drainProps, ...(network && this.networkProps(network)) });
  }

  /** VPC, subnets and security groups by id, with no lookup (synth stays offline). */
  private networkProps(network: ContextNetwork): Pick<EksGracefulDrainProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> {
    const subnets = network.subnetIds.map((id, i) => ec2.Subnet.fromSubnetId(this, `Subnet${i}`, id));
    return {
      vpc: ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: network.vpcId, availabilityZones: this.availabilityZones }),
      vpcSubnets: { subnets },
      securityGroups: network.securityGroupIds?.map((id, i) => ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, id, { mutable: false })),
    };
  }
}
