import { App, Stack, Validations } from 'aws-cdk-lib';
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
