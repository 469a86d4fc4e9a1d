import { Stack, StackProps } from 'aws-cdk-lib';
import type { Node } from 'constructs';
import { Construct } from 'constructs';
import type { DeadlinePolicy } from '../lambda/core/drain-state';
import { DEADLINE_POLICIES, EksGracefulDrain, EksGracefulDrainProps, FORMATS, LIMITS } from './graceful-drain';

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
 * the command line are strings, values from cdk.json may be numbers or lists).
 */
export function drainPropsFromContext(node: Node): EksGracefulDrainProps {
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
    const expected = `an integer number of seconds from ${min} to ${max}${allowZero ? ', or 0' : ''}`;
    const parsed = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN;
    if (!Number.isInteger(parsed) || !((allowZero && parsed === 0) || (parsed >= min && parsed <= max))) {
      throw new ContextError(key, expected, value);
    }
    return parsed;
  };
  const formatted = (key: keyof typeof FORMATS): string | undefined => {
    const value = text(key);
    if (value === undefined || value === '') return undefined;
    if (!FORMATS[key].pattern.test(value)) throw new ContextError(key, FORMATS[key].expected, value);
    return value;
  };

  const flag = (key: 'createAccessEntries' | 'waitForJobPods'): boolean | undefined => {
    const value = raw(key);
    if (value === undefined || typeof value === 'boolean') return value;
    const word = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
    if (word === 'true') return true;
    if (word === 'false') return false;
    throw new ContextError(key, 'true or false', value);
  };

  const clusterName = text('clusterName');
  if (!clusterName) throw new ContextError('clusterName', 'the name of the EKS cluster', raw('clusterName'));

  const groups = raw('autoScalingGroupNames');
  const autoScalingGroupNames = (Array.isArray(groups) ? groups.map(String) : typeof groups === 'string' ? groups.split(',') : [])
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (autoScalingGroupNames.length === 0) {
    throw new ContextError('autoScalingGroupNames', 'one or more Auto Scaling group names, comma separated', groups);
  }

  const onDeadline = text('onDeadline') ?? 'force-delete';
  if (!DEADLINE_POLICIES.includes(onDeadline as DeadlinePolicy)) {
    throw new ContextError('onDeadline', `one of ${DEADLINE_POLICIES.join(' | ')}`, onDeadline);
  }

  return {
    clusterName,
    autoScalingGroupNames,
    heartbeatTimeoutSeconds: seconds('heartbeatTimeoutSeconds', 1800, false),
    maxDrainSeconds: seconds('maxDrainSeconds', 0, true),
    onDeadline: onDeadline as DeadlinePolicy,
    existingLifecycleHookName: text('existingLifecycleHookName'),
    metricsNamespace: text('metricsNamespace') ?? 'EksGracefulDrain',
    alarmTopicArn: formatted('alarmTopicArn'),
    dashboardName: formatted('dashboardName'),
    // Unset stays undefined: the construct's default (true) applies.
    createAccessEntries: flag('createAccessEntries'),
    waitForJobPods: flag('waitForJobPods'),
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
    this.drain = new EksGracefulDrain(this, 'EksGracefulDrain', drainPropsFromContext(this.node));
  }
}
