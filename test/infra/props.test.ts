/**
 * The construct as a user's stack holds it: the cluster and the groups as
 * constructs or names, and one clear line for a bad prop.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EksGracefulDrain, type EksGracefulDrainProps } from '../../lib';

function userStack() {
  const app = new App({ context: { 'aws:cdk:disable-asset-staging': true } });
  const stack = new Stack(app, 'UserStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
  const cluster = eks.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'prod' });
  const nodes = new autoscaling.AutoScalingGroup(stack, 'Nodes', {
    vpc,
    instanceType: new ec2.InstanceType('m7g.large'),
    machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }),
    vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
  });
  return { stack, vpc, cluster, nodes };
}

test('a cluster construct and a group construct (and a group name) wire the hook, the rule, access entries and IAM', () => {
  // Arrange
  const { stack, cluster, nodes } = userStack();
  // Act
  const drain = new EksGracefulDrain(stack, 'Drain', { cluster, autoScalingGroups: [nodes, 'batch-nodes'] });
  // Assert
  const template = Template.fromStack(stack);
  const nodesRef = { Ref: stack.getLogicalId(nodes.node.defaultChild as autoscaling.CfnAutoScalingGroup) };
  expect(drain.clusterName).toBe('prod');
  template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { AutoScalingGroupName: nodesRef, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' });
  template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { AutoScalingGroupName: 'batch-nodes' });
  template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: Match.objectLike({ detail: Match.objectLike({ AutoScalingGroupName: [nodesRef, 'batch-nodes'] }) }),
  });
  template.resourceCountIs('AWS::EKS::AccessEntry', 4);
  template.hasResourceProperties('AWS::EKS::AccessEntry', { ClusterName: 'prod' });
  const functions = template.findResources('AWS::Lambda::Function');
  expect(Object.values(functions).map((fn) => fn.Properties.Environment.Variables.CLUSTER_NAME)).toEqual(Array(8).fill('prod')); // the seven drain functions and the sweep
});

test('a cluster defined in the same stack is referenced by its token', () => {
  // Arrange: a cluster name CloudFormation only knows at deploy time
  const { stack, nodes } = userStack();
  const name = new eks.CfnCluster(stack, 'Cfn', { roleArn: 'arn:aws:iam::123456789012:role/eks', resourcesVpcConfig: { subnetIds: ['subnet-1'] } });
  const cluster = eks.Cluster.fromClusterAttributes(stack, 'Same', { clusterName: name.ref });
  // Act
  new EksGracefulDrain(stack, 'Drain', { cluster, autoScalingGroups: [nodes] });
  // Assert
  Template.fromStack(stack).hasResourceProperties('AWS::EKS::AccessEntry', { ClusterName: { Ref: stack.getLogicalId(name) } });
});

test('cdk-nag finds nothing unacknowledged in the construct when the group is a construct of the same stack', () => {
  // Arrange: the group's name is a token; the acknowledgements must name it as cdk-nag does
  const { stack, cluster, nodes } = userStack();
  new EksGracefulDrain(stack, 'Drain', { cluster, autoScalingGroups: [nodes] });
  // Act
  const report = new AwsSolutionsChecks().validateScope(stack);
  // Assert: the user's own VPC and group may have findings; the drain's constructs have none
  const ours = report.violations.flatMap((violation) => violation.violatingResources
    .filter((resource) => resource.constructPath?.startsWith('UserStack/Drain/'))
    .map((resource) => `${violation.ruleName} at ${resource.constructPath}`));
  expect(ours).toEqual([]);
  // The filter does select: the user's VPC has findings of its own, at paths of the same form.
  expect(report.violations.some((violation) => violation.violatingResources.some((resource) => resource.constructPath?.startsWith('UserStack/Vpc/')))).toBe(true);
});

describe('a bad prop fails synth with one line naming it', () => {
  test.each<[string, (parts: ReturnType<typeof userStack>) => Partial<EksGracefulDrainProps>, RegExp]>([
    ['no cluster', ({ nodes }) => ({ autoScalingGroups: [nodes] }), /^EksGracefulDrain: cluster must be an eks\.ICluster or an EKS cluster name .* \(got undefined\)$/],
    ['a number as cluster', ({ nodes }) => ({ cluster: 42 as never, autoScalingGroups: [nodes] }), /^EksGracefulDrain: cluster must be .* \(got 42\)$/],
    ['a VPC as cluster', ({ vpc, nodes }) => ({ cluster: vpc as never, autoScalingGroups: [nodes] }), /^EksGracefulDrain: cluster must be .* \(got the construct UserStack\/Vpc\)$/],
    ['no groups', ({ cluster }) => ({ cluster }), /^EksGracefulDrain: autoScalingGroups must be a non-empty list .* \(got undefined\)$/],
    ['a VPC among the groups', ({ cluster, nodes, vpc }) => ({ cluster, autoScalingGroups: [nodes, vpc as never] }), /autoScalingGroups must be .* \(got \[the construct UserStack\/Nodes, the construct UserStack\/Vpc\]\)$/],
    ['a blank group name', ({ cluster }) => ({ cluster, autoScalingGroups: [' '] }), /autoScalingGroups must be .* \(got \[" "\]\)$/],
    ['a wildcard group name', ({ cluster }) => ({ cluster, autoScalingGroups: ['asg-*'] }), /^EksGracefulDrain: autoScalingGroups must be .* \(got \["asg-\*"\]\)$/],
    ['a heartbeat of 5 s', ({ cluster, nodes }) => ({ cluster, autoScalingGroups: [nodes], heartbeatTimeoutSeconds: 5 }), /^EksGracefulDrain: heartbeatTimeoutSeconds must be an integer number of seconds from 120 to 7200 \(got 5\)$/],
  ])('%s', (_, props, message) => {
    const parts = userStack();
    expect(() => new EksGracefulDrain(parts.stack, 'Drain', props(parts) as EksGracefulDrainProps)).toThrow(message);
  });
});
