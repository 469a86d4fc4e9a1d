import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EksGracefulDrain } from '../../lib/graceful-drain';
import { drainPropsFromContext, EksGracefulDrainStack } from '../../lib/stack';

const required = { clusterName: 'prod', autoScalingGroupNames: 'asg-a' };
const network = { vpcId: 'vpc-0123456789abcdef0', subnetIds: 'subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2', securityGroupIds: 'sg-0ccccccccccccccc3' };

function stackFrom(context: Record<string, unknown>) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...required, ...context } });
  const stack = new EksGracefulDrainStack(app, 'S', { env: { account: '123456789012', region: 'us-east-1' } });
  return { app, stack, template: Template.fromStack(stack) };
}

describe('private clusters: the Kubernetes-facing functions in the cluster\'s VPC', () => {
  const { app, stack, template } = stackFrom(network);
  const json = template.toJSON();
  const fnId = (key: keyof typeof stack.drain.functions) => stack.getLogicalId(stack.drain.functions[key]!.node.defaultChild as never);

  test('prepare, cordon, drain-step and apply-deadline run in the given subnets and security groups; the others outside', () => {
    for (const key of ['prepare', 'cordon', 'drainStep', 'applyDeadline'] as const) {
      expect([key, json.Resources[fnId(key)].Properties.VpcConfig]).toEqual([key, {
        SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
        SecurityGroupIds: ['sg-0ccccccccccccccc3'],
      }]);
    }
    for (const key of ['startDrain', 'heartbeat', 'complete'] as const) {
      expect([key, json.Resources[fnId(key)].Properties.VpcConfig]).toEqual([key, undefined]);
    }
  });

  test('their roles may manage network interfaces (no AWS managed policy), before the function is created', () => {
    for (const key of ['prepare', 'cordon', 'drainStep', 'applyDeadline'] as const) {
      const roleId = stack.getLogicalId(stack.drain.functions[key].role!.node.defaultChild as never);
      const policyId = Object.keys(json.Resources).find((id) => json.Resources[id].Type === 'AWS::IAM::Policy'
        && JSON.stringify(json.Resources[id].Properties.Roles) === JSON.stringify([{ Ref: roleId }]))!;
      const actions = json.Resources[policyId].Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => ([] as string[]).concat(s.Action));
      expect(actions).toEqual(expect.arrayContaining(['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:DescribeNetworkInterfaces']));
      expect(json.Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
      expect(json.Resources[fnId(key)].DependsOn).toEqual(expect.arrayContaining([policyId]));
    }
  });

  test('cdk-nag stays clean', () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    expect(report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`))).toEqual([]);
  });

  test('a VPC object from the construct\'s user works too, with created security groups', () => {
    const theirs = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Theirs', { env: { account: '123456789012', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(theirs, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    new EksGracefulDrain(theirs, 'Drain', { clusterName: 'c', autoScalingGroupNames: ['a'], vpc });
    Template.fromStack(theirs).resourceCountIs('AWS::EC2::SecurityGroup', 4);
  });

  test.each([
    [{ vpcId: 'vpc-0123456789abcdef0' }, /"subnetIds": expected the subnets of vpcId/],
    [{ subnetIds: 'subnet-0aaaaaaaaaaaaaaa1' }, /"vpcId": expected the VPC/],
    [{ ...network, vpcId: 'my-vpc' }, /"vpcId": expected a VPC id/],
    [{ ...network, subnetIds: 'subnet-x' }, /"subnetIds"/],
    [{ ...network, securityGroupIds: 'default' }, /"securityGroupIds"/],
  ])('context %j is refused', (context, message) => {
    expect(() => drainPropsFromContext(new App({ context: { ...required, ...context } }).node)).toThrow(message);
  });

  test('the construct refuses subnets or security groups without a VPC', () => {
    const theirs = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'T');
    expect(() => new EksGracefulDrain(theirs, 'D', { clusterName: 'c', autoScalingGroupNames: ['a'], vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } }))
      .toThrow(/vpc must be set when vpcSubnets or securityGroups are/);
  });
});
