#!/usr/bin/env node
/**
 * The CDK app:
 *
 *   npx cdk synth -c clusterName=my-cluster -c autoScalingGroupNames=asg-a,asg-b
 *
 * Context keys: see EksGracefulDrainProps (lib/graceful-drain.ts) and
 * drainPropsFromContext (lib/stack.ts); `stackName` names the stack
 * (default EksGracefulDrain), so one account can hold one per cluster.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ContextError, EksGracefulDrainStack } from '../lib/stack';

const app = new App();
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'EksGracefulDrain';
try {
  new EksGracefulDrainStack(app, stackName, {
    // A concrete environment makes every ARN concrete. The placeholders let
    // `cdk synth` run offline and without credentials; `cdk deploy` sets the real ones.
    env: {
      account: process.env.CDK_DEFAULT_ACCOUNT ?? '123456789012',
      region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1',
    },
  });
} catch (error) {
  // A configuration mistake: say which key and what it expects, without a stack trace.
  if (error instanceof ContextError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
// Fails synthesis on an unacknowledged AwsSolutions finding.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
