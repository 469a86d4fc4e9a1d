/**
 * Synthesizes the EksGracefulDrain construct (assets referenced in place) and returns what
 * local workflow runs need: the state machine definition and each function's
 * environment, with every CloudFormation token replaced by a plausible literal.
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { DrainFunctionKey as RequiredFunctionKey, OptionalFunctionKey } from '../../lib/drain-functions';

type DrainFunctionKey = RequiredFunctionKey | OptionalFunctionKey;
import { EksGracefulDrain, EksGracefulDrainProps } from '../../lib/graceful-drain';
import type { EventRule } from '../aws/eventbridge';

export const TEST_ACCOUNT = '123456789012';
export const TEST_REGION = 'us-east-1';
export const TEST_PARTITION = 'aws';

/** Props used unless the caller overrides them. */
export const DEFAULT_TEST_PROPS: EksGracefulDrainProps = {
  clusterName: 'test-cluster',
  autoScalingGroupNames: ['test-asg'],
};

export interface SynthesizedWorkflow {
  /** The ASL definition (JSONPath), tokens resolved: Lambda tasks' Resource is the function ARN. */
  definition: AslDefinition;
  /** Each function's environment variables as synthesized. */
  environment: Record<DrainFunctionKey, Record<string, string>>;
  /** Each function's timeout in seconds, as synthesized. */
  timeoutSeconds: Record<DrainFunctionKey, number>;
  /** The placeholder ARN of each function, as it appears in the definition's Resource fields. */
  functionArns: Record<DrainFunctionKey, string>;
  /**
   * The Kubernetes groups of each function that has an identity in the
   * cluster: those of its EKS access entry as synthesized, or (without access
   * entries) the groups the README maps its role to in aws-auth.
   */
  kubernetesGroups: Partial<Record<DrainFunctionKey, string[]>>;
  /** Each function's role, as a placeholder ARN. */
  roleArns: Record<DrainFunctionKey, string>;
  /** Name and ARN of the state machine (also STATE_MACHINE_ARN of start-drain). */
  stateMachineName: string;
  stateMachineArn: string;
  /** The EventBridge rules as synthesized (pattern, targets with their input and DLQ), for sim/aws/eventbridge. */
  eventRules: EventRule[];
  /** Each function's asynchronous-invocation DLQ (its DeadLetterConfig), by function ARN. */
  functionDeadLetterQueues: Record<string, string | undefined>;
}

/** The parts of an ASL definition tests read; states stay loosely typed. */
export interface AslDefinition {
  StartAt: string;
  Comment?: string;
  States: Record<string, AslState>;
  [key: string]: unknown;
}
export interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  [key: string]: unknown;
}

export interface SynthesizedStack {
  app: App;
  stack: Stack;
  drain: EksGracefulDrain;
  /** The CloudFormation template, tokens left as they are. */
  template: Template;
}

/** The construct in a stack with a concrete environment, assets not staged. */
export function synthesizeStack(props: Partial<EksGracefulDrainProps> = {}): SynthesizedStack {
  // The prebuilt bundles are referenced in place, not copied into a cloud assembly: faster, and no temp files.
  const app = new App({ context: { 'aws:cdk:disable-asset-staging': true } });
  const stack = new Stack(app, 'DrainTest', { env: { account: TEST_ACCOUNT, region: TEST_REGION } });
  const drain = new EksGracefulDrain(stack, 'Drain', withDefaults(props));
  return { app, stack, drain, template: Template.fromStack(stack) };
}

/** The test defaults under `props`; a `cluster` or `autoScalingGroups` given replaces the default names. */
function withDefaults(props: Partial<EksGracefulDrainProps>): EksGracefulDrainProps {
  const { clusterName, autoScalingGroupNames } = DEFAULT_TEST_PROPS;
  return {
    ...(props.cluster === undefined && { clusterName }),
    ...(props.autoScalingGroups === undefined && { autoScalingGroupNames }),
    ...props,
  };
}

export function synthesizeWorkflow(props: Partial<EksGracefulDrainProps> = {}): SynthesizedWorkflow {
  const { stack, drain, template } = synthesizeStack(props);
  const json = template.toJSON() as CfnTemplate;
  const resolve = tokenResolver(json);

  const stateMachine = json.Resources[stack.getLogicalId(drain.stateMachine.node.defaultChild as CfnElement)];
  const definition = JSON.parse(resolve(stateMachine.Properties.DefinitionString) as string) as AslDefinition;
  const stateMachineName = stateMachine.Properties.StateMachineName as string;

  const environment = {} as Record<DrainFunctionKey, Record<string, string>>;
  const functionArns = {} as Record<DrainFunctionKey, string>;
  const timeoutSeconds = {} as Record<DrainFunctionKey, number>;
  const roleArns = {} as Record<DrainFunctionKey, string>;
  const kubernetesGroups: Partial<Record<DrainFunctionKey, string[]>> = {};
  const functionDeadLetterQueues: Record<string, string | undefined> = {};
  const accessEntries = Object.values(json.Resources).filter((r) => r.Type === 'AWS::EKS::AccessEntry');
  for (const [key, fn] of Object.entries(drain.functions) as Array<[DrainFunctionKey, NonNullable<EksGracefulDrain['functions'][DrainFunctionKey]>]>) {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as CfnElement);
    const properties = json.Resources[logicalId].Properties;
    environment[key] = resolve(properties.Environment?.Variables ?? {}) as Record<string, string>;
    functionArns[key] = resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }) as string;
    timeoutSeconds[key] = Number(properties.Timeout ?? 3);
    const roleId = stack.getLogicalId(fn.role!.node.defaultChild as CfnElement);
    roleArns[key] = resolve({ 'Fn::GetAtt': [roleId, 'Arn'] }) as string;
    const entry = accessEntries.find((e) => JSON.stringify(e.Properties.PrincipalArn) === JSON.stringify({ 'Fn::GetAtt': [roleId, 'Arn'] }));
    const mapped = drain.clusterAccess.kubernetesGroups[key as keyof typeof drain.clusterAccess.kubernetesGroups];
    if (entry) kubernetesGroups[key] = entry.Properties.KubernetesGroups as string[];
    else if (accessEntries.length === 0 && mapped) kubernetesGroups[key] = [mapped];
    functionDeadLetterQueues[functionArns[key]] = properties.DeadLetterConfig ? (resolve(properties.DeadLetterConfig.TargetArn) as string) : undefined;
  }
  const eventRules: EventRule[] = Object.entries(json.Resources)
    .filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern)
    .map(([logicalId, r]) => ({
      name: logicalId,
      arn: resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }) as string,
      pattern: resolve(r.Properties.EventPattern) as EventRule['pattern'],
      targets: resolve(r.Properties.Targets ?? []) as EventRule['targets'],
    }));

  return {
    definition,
    environment,
    timeoutSeconds,
    functionArns,
    kubernetesGroups,
    roleArns,
    stateMachineName,
    stateMachineArn: `arn:${TEST_PARTITION}:states:${TEST_REGION}:${TEST_ACCOUNT}:stateMachine:${stateMachineName}`,
    eventRules,
    functionDeadLetterQueues,
  };
}

interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
}

/**
 * Replaces Ref, Fn::GetAtt and Fn::Join with literals. Anything else throws, so
 * that a new kind of token shows up as a clear test failure, not a silent "[object Object]".
 */
function tokenResolver(template: CfnTemplate): (value: unknown) => unknown {
  const pseudo: Record<string, string> = {
    'AWS::Partition': TEST_PARTITION,
    'AWS::Region': TEST_REGION,
    'AWS::AccountId': TEST_ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'DrainTest',
  };
  const prefix = (service: string): string => `arn:${TEST_PARTITION}:${service}:${TEST_REGION}:${TEST_ACCOUNT}`;

  const arnOf = (logicalId: string): string => {
    const resource = template.Resources[logicalId];
    if (!resource) throw new Error(`Fn::GetAtt of an unknown resource ${logicalId}`);
    switch (resource.Type) {
      case 'AWS::Lambda::Function': return `${prefix('lambda')}:function:${logicalId}`;
      case 'AWS::StepFunctions::StateMachine': return `${prefix('states')}:stateMachine:${resource.Properties.StateMachineName ?? logicalId}`;
      case 'AWS::SQS::Queue': return `${prefix('sqs')}:${logicalId}`;
      case 'AWS::Logs::LogGroup': return `${prefix('logs')}:log-group:${resource.Properties.LogGroupName ?? logicalId}:*`;
      case 'AWS::Events::Rule': return `${prefix('events')}:rule/${logicalId}`;
      case 'AWS::IAM::Role': return `arn:${TEST_PARTITION}:iam::${TEST_ACCOUNT}:role/${logicalId}`;
      default: throw new Error(`No placeholder ARN for ${resource.Type} (${logicalId})`);
    }
  };

  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [intrinsic, argument] = entries[0];
      if (intrinsic === 'Ref') {
        const name = argument as string;
        if (name in pseudo) return pseudo[name];
        if (!template.Resources[name]) throw new Error(`Ref to an unknown resource ${name}`);
        return name; // Ref of most resources is their name; the logical id stands in for it.
      }
      if (intrinsic === 'Fn::GetAtt') {
        const [logicalId, attribute] = argument as [string, string];
        if (attribute !== 'Arn') throw new Error(`No placeholder for Fn::GetAtt ${logicalId}.${attribute}`);
        return arnOf(logicalId);
      }
      if (intrinsic === 'Fn::Join') {
        const [separator, parts] = argument as [string, unknown[]];
        return parts.map((part) => String(resolve(part))).join(separator);
      }
      if (intrinsic.startsWith('Fn::') || intrinsic === 'Condition') {
        throw new Error(`No placeholder for ${intrinsic}`);
      }
    }
    return Object.fromEntries(entries.map(([key, inner]) => [key, resolve(inner)]));
  };
  return resolve;
}
