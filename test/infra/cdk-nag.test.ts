import { App, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EksGracefulDrain } from '../../lib/graceful-drain';
import { EksGracefulDrainStack } from '../../lib/stack';

const context = {
  'aws:cdk:disable-asset-staging': true,
  'clusterName': 'prod',
  'autoScalingGroupNames': 'asg-a,asg-b',
};

/** Unacknowledged findings as "RuleId at path", so that a failure says what and where. */
function findings(app: App): string[] {
  const report = new AwsSolutionsChecks().validateScope(app);
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => `${violation.ruleName} (${violation.severity}) at ${resource.constructPath}`));
}

/** "<construct path> <rule id>" of every AwsSolutions acknowledgment in the app. */
function acknowledgments(app: App): string[] {
  return app.node.findAll().flatMap((construct) => construct.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data)
    .flatMap((entry) => Object.keys(entry.data as Record<string, string>))
    .map((id) => id.replace(/^annotation::/i, ''))
    .filter((id) => id.startsWith('AwsSolutions-'))
    .map((id) => `${construct.node.path} ${id}`));
}

/**
 * "<construct path> <rule id>" of every acknowledgment that suppressed a
 * finding: cdk-nag asks whether each finding is acknowledged on its resource or
 * an ancestor; the ancestor that answers is the one whose acknowledgment is used.
 */
function usedAcknowledgments(app: App): Set<string> {
  const used = new Set<string>();
  const pack = new AwsSolutionsChecks() as unknown as { isAcknowledged: (resource: IConstruct, ruleId: string) => boolean; validateScope: (scope: IConstruct) => unknown };
  const original = pack.isAcknowledged.bind(pack);
  pack.isAcknowledged = (resource, ruleId) => {
    for (let current: IConstruct | undefined = resource; current; current = current.node.scope) {
      const here = current.node.metadata.some((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data
        && Object.keys(entry.data as Record<string, string>).some((id) => id.replace(/^annotation::/i, '') === ruleId));
      if (here) {
        used.add(`${current.node.path} ${ruleId}`);
        break;
      }
    }
    return original(resource, ruleId);
  };
  pack.validateScope(app);
  return used;
}

describe('cdk-nag AwsSolutions', () => {
  test('the deployed stack has no unacknowledged finding', () => {
    const app = new App({ context });
    new EksGracefulDrainStack(app, 'EksGracefulDrain', { env: { account: '123456789012', region: 'us-east-1' } });
    expect(findings(app)).toEqual([]);
  });

  test('nor the construct in an environment-agnostic stack, with an existing hook', () => {
    const app = new App({ context: { 'aws:cdk:disable-asset-staging': true } });
    const stack = new Stack(app, 'Theirs');
    new EksGracefulDrain(stack, 'Drain', { clusterName: 'c', autoScalingGroupNames: ['x'], existingLifecycleHookName: 'h' });
    expect(findings(app)).toEqual([]);
  });

  test('nor the stack with an existing alarm topic and a named dashboard', () => {
    const app = new App({ context: { ...context, alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:ops', dashboardName: 'drains' } });
    new EksGracefulDrainStack(app, 'EksGracefulDrain', { env: { account: '123456789012', region: 'us-east-1' } });
    expect(findings(app)).toEqual([]);
  });

  test('synthesis with the plugin registered succeeds, as `cdk synth` runs it', () => {
    const app = new App({ context });
    new EksGracefulDrainStack(app, 'EksGracefulDrain', { env: { account: '123456789012', region: 'us-east-1' } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  test.each([
    ['the deployed stack', context],
    ['an existing alarm topic', { ...context, alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:ops' }],
    ['a private cluster', { ...context, vpcId: 'vpc-0123456789abcdef0', subnetIds: 'subnet-0aaaaaaaaaaaaaaa1' }],
    ['onDeadline=continue, no reserved concurrency', { ...context, onDeadline: 'continue', reservedConcurrency: 'none' }],
  ])('no acknowledgment is stale (each suppresses a finding): %s', (_name, appContext) => {
    const app = new App({ context: appContext });
    new EksGracefulDrainStack(app, 'EksGracefulDrain', { env: { account: '123456789012', region: 'us-east-1' } });
    const used = usedAcknowledgments(app);
    const all = acknowledgments(app);
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter((ack) => !used.has(ack))).toEqual([]);
  });

  test('nor in an environment-agnostic stack with an existing hook', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new EksGracefulDrain(new Stack(app, 'Theirs'), 'Drain', { clusterName: 'c', autoScalingGroupNames: ['x'], existingLifecycleHookName: 'h', monitoring: false });
    const used = usedAcknowledgments(app);
    expect(acknowledgments(app).filter((ack) => !used.has(ack))).toEqual([]);
  });

  test('the stale-acknowledgment check can fail: an acknowledgment of a finding that does not exist is caught', () => {
    const app = new App({ context });
    const stack = new EksGracefulDrainStack(app, 'EksGracefulDrain', { env: { account: '123456789012', region: 'us-east-1' } });
    Validations.of(stack.drain.sweep.node.findChild('Role')).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'a stale acknowledgment, on a role without any Resource::* statement' });
    const used = usedAcknowledgments(app);
    expect(acknowledgments(app).filter((ack) => !used.has(ack))).toEqual(['EksGracefulDrain/EksGracefulDrain/Sweep/Role AwsSolutions-IAM5[Resource::*]']);
  });

  test('every acknowledgment gives a reason', () => {
    const app = new App({ context });
    const stack = new EksGracefulDrainStack(app, 'EksGracefulDrain', { env: { account: '123456789012', region: 'us-east-1' } });
    const acknowledged = stack.node.findAll().flatMap((construct) => construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>)));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledged) {
      expect([id, reason.length > 40]).toEqual([id, true]);
    }
  });
});
