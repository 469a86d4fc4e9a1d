import { App } from 'aws-cdk-lib';
import { EksGracefulDrain, validateProps } from '../../lib/graceful-drain';
import { drainPropsFromContext, EksGracefulDrainStack } from '../../lib/stack';

const required = { clusterName: 'prod', autoScalingGroupNames: 'asg-a' };

/** The props the stack would build from this context (`-c` values are strings). */
function propsFrom(context: Record<string, unknown>) {
  return drainPropsFromContext(new App({ context }).node);
}

describe('context → props', () => {
  test('defaults', () => {
    expect(propsFrom(required)).toEqual({
      cluster: 'prod',
      autoScalingGroups: ['asg-a'],
      heartbeatTimeoutSeconds: 1800,
      maxDrainSeconds: 0,
      onDeadline: 'force-delete',
      existingLifecycleHookName: undefined,
      metricsNamespace: 'EksGracefulDrain',
      sweepIntervalMinutes: 5,
    });
  });

  test('every key, as the command line gives them', () => {
    expect(propsFrom({
      clusterName: 'prod',
      autoScalingGroupNames: ' asg-a, asg-b ,,',
      heartbeatTimeoutSeconds: '7200',
      maxDrainSeconds: '172800',
      onDeadline: 'abandon',
      existingLifecycleHookName: 'their-hook',
      metricsNamespace: 'Ops',
    })).toEqual({
      cluster: 'prod',
      autoScalingGroups: ['asg-a', 'asg-b'],
      heartbeatTimeoutSeconds: 7200,
      maxDrainSeconds: 172800,
      onDeadline: 'abandon',
      existingLifecycleHookName: 'their-hook',
      metricsNamespace: 'Ops',
      sweepIntervalMinutes: 5,
    });
  });

  test.each([
    ['none', false],
    [' FALSE ', false],
    [false, false],
    ['drainStep=50, prepare=5', { drainStep: 50, prepare: 5 }],
    [{ complete: 20 }, { complete: 20 }],
  ])('reservedConcurrency %j → %j', (value, expected) => {
    expect(propsFrom({ ...required, reservedConcurrency: value }).reservedConcurrency).toEqual(expected);
  });

  test.each([['drainStep=0'], ['drainStep'], ['nope=3'], [12]])('reservedConcurrency %j is refused', (value) => {
    expect(() => propsFrom({ ...required, reservedConcurrency: value })).toThrow(/"reservedConcurrency": expected/);
  });

  test('cdk.json may give numbers and lists', () => {
    expect(propsFrom({ clusterName: 'prod', autoScalingGroupNames: ['a', 'b'], heartbeatTimeoutSeconds: 120, maxDrainSeconds: 60 }))
      .toMatchObject({ autoScalingGroups: ['a', 'b'], heartbeatTimeoutSeconds: 120, maxDrainSeconds: 60 });
  });

  test.each([
    [{ autoScalingGroupNames: 'a' }, /"clusterName": expected the name of the EKS cluster, got nothing/],
    [{ clusterName: '', autoScalingGroupNames: 'a' }, /"clusterName"/],
    [{ clusterName: 'prod' }, /"autoScalingGroupNames": expected one or more Auto Scaling group names, comma separated, got nothing/],
    [{ clusterName: 'prod', autoScalingGroupNames: ' , ' }, /"autoScalingGroupNames".*got " , "/],
    [{ ...required, heartbeatTimeoutSeconds: '119' }, /"heartbeatTimeoutSeconds": expected an integer number of seconds from 120 to 7200, got "119"/],
    [{ ...required, heartbeatTimeoutSeconds: '7201' }, /"heartbeatTimeoutSeconds"/],
    [{ ...required, heartbeatTimeoutSeconds: '30m' }, /"heartbeatTimeoutSeconds".*got "30m"/],
    [{ ...required, heartbeatTimeoutSeconds: '0' }, /"heartbeatTimeoutSeconds"/],
    [{ ...required, maxDrainSeconds: '59' }, /"maxDrainSeconds": expected an integer number of seconds from 60 to 172800, or 0, got "59"/],
    [{ ...required, maxDrainSeconds: '172801' }, /"maxDrainSeconds"/],
    [{ ...required, maxDrainSeconds: '-1' }, /"maxDrainSeconds"/],
    [{ ...required, maxDrainSeconds: '1.5' }, /"maxDrainSeconds"/],
    [{ ...required, onDeadline: 'delete' }, /"onDeadline": expected one of force-delete \| continue \| abandon, got "delete"/],
    [{ ...required, metricsNamespace: 42 }, /"metricsNamespace": expected a string/],
    [{ ...required, clusterName: 'prod*' }, /"clusterName": expected an EKS cluster name/],
    [{ ...required, clusterName: '-prod' }, /"clusterName"/],
    [{ ...required, clusterName: 'a'.repeat(101) }, /"clusterName"/],
    [{ ...required, autoScalingGroupNames: 'asg-a,*' }, /"autoScalingGroupNames": expected Auto Scaling group names .*got "\*"/],
    [{ ...required, autoScalingGroupNames: 'asg-?' }, /"autoScalingGroupNames".*got "asg-\?"/],
    [{ ...required, autoScalingGroupNames: 'a:b' }, /"autoScalingGroupNames"/],
    [{ ...required, autoScalingGroupNames: '${aws:username}' }, /"autoScalingGroupNames"/],
    [{ ...required, existingLifecycleHookName: 'hook*' }, /"existingLifecycleHookName": expected a lifecycle hook name/],
  ])('%j is refused, naming the key and what it expects', (context, message) => {
    expect(() => propsFrom(context)).toThrow(message);
  });

  test('the stack fails the same way', () => {
    const app = new App({ context: { 'aws:cdk:disable-asset-staging': true, 'autoScalingGroupNames': 'a' } });
    expect(() => new EksGracefulDrainStack(app, 'S')).toThrow(/"clusterName"/);
  });
});

describe('the construct checks its props too (for users who skip the stack)', () => {
  test.each([
    [{ cluster: '', autoScalingGroups: ['a'] }, /^EksGracefulDrain: cluster must be an eks\.ICluster or an EKS cluster name .* \(got ""\)$/],
    [{ cluster: 'c', autoScalingGroups: [] }, /^EksGracefulDrain: autoScalingGroups must be a non-empty list/],
    [{ cluster: 'c', autoScalingGroups: ['a', 'b', 'a'] }, /autoScalingGroups must be a list without duplicates \(got \["a", "b", "a"\]\)/],
    [{ cluster: 'c', clusterName: 'c', autoScalingGroups: ['a'] }, /cluster and clusterName are both set/],
    [{ cluster: 'c', autoScalingGroups: ['a'], autoScalingGroupNames: ['a'] }, /autoScalingGroups and autoScalingGroupNames are both set/],
    [{ clusterName: '', autoScalingGroupNames: ['a'] }, /^EksGracefulDrain: clusterName must be/],
    [{ clusterName: 'c', autoScalingGroupNames: [] }, /^EksGracefulDrain: autoScalingGroupNames must be/],
    [{ clusterName: 'c', autoScalingGroupNames: ['a'], heartbeatTimeoutSeconds: 10 }, /heartbeatTimeoutSeconds must be an integer number of seconds from 120 to 7200/],
    [{ clusterName: 'c', autoScalingGroupNames: ['a'], maxDrainSeconds: 30 }, /maxDrainSeconds/],
    [{ clusterName: 'c', autoScalingGroupNames: ['a'], onDeadline: 'nope' as never }, /onDeadline must be one of force-delete, continue, abandon/],
    [{ clusterName: 'c', autoScalingGroupNames: ['a'], stateMachineName: 'has space' }, /stateMachineName/],
    // Names reach IAM ARNs: a wildcard would grant every cluster or group of the account.
    [{ clusterName: '*', autoScalingGroupNames: ['a'] }, /clusterName must be an EKS cluster name/],
    [{ clusterName: 'c', autoScalingGroupNames: ['*'] }, /autoScalingGroupNames must be a non-empty list of Auto Scaling group names/],
    [{ clusterName: 'c', autoScalingGroupNames: ['asg-a', 'asg-?'] }, /autoScalingGroupNames/],
    [{ clusterName: 'c', autoScalingGroupNames: ['has space'] }, /autoScalingGroupNames/],
    [{ clusterName: 'c', autoScalingGroupNames: ['a', 'a'] }, /autoScalingGroupNames must be a list without duplicates/],
    [{ clusterName: 'c', autoScalingGroupNames: ['a'], existingLifecycleHookName: 'h:1' }, /existingLifecycleHookName/],
  ])('%j', (props, message) => {
    expect(() => validateProps(props)).toThrow(message);
    expect(() => new EksGracefulDrain(new App(), 'D', props)).toThrow(message);
  });

  test('accepts real names', () => {
    expect(() => validateProps({ clusterName: 'Prod_eu-1', autoScalingGroupNames: ['eks-ng-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d', 'asg.with.dots(1)'], existingLifecycleHookName: 'team/drain_hook-1' })).not.toThrow();
  });

  test('accepts the limits', () => {
    expect(() => validateProps({ clusterName: 'c', autoScalingGroupNames: ['a'], heartbeatTimeoutSeconds: 120, maxDrainSeconds: 0 })).not.toThrow();
    expect(() => validateProps({ clusterName: 'c', autoScalingGroupNames: ['a'], heartbeatTimeoutSeconds: 7200, maxDrainSeconds: 172800 })).not.toThrow();
  });
});
