import { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { synthesizeStack, synthesizeWorkflow, TEST_ACCOUNT, TEST_REGION } from '../../sim/workflow/synth';

const asgArn = (name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:autoscaling:${TEST_REGION}:${TEST_ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/${name}`]],
});
const clusterArn = (name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:eks:${TEST_REGION}:${TEST_ACCOUNT}:cluster/${name}`]],
});

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

describe('EksGracefulDrain template', () => {
  // One synth for the read-only assertions below: synthesis is the slow part.
  const { stack, drain, template } = synthesizeStack({
    clusterName: 'prod',
    autoScalingGroupNames: ['asg-a', 'asg-b'],
    heartbeatTimeoutSeconds: 900,
  });
  const json = template.toJSON();
  const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as never);

  /** The statements of the role policy attached to a function's role. */
  const statementsOf = (key: keyof typeof drain.functions): Statement[] => {
    const roleId = stack.getLogicalId(drain.functions[key]!.role!.node.defaultChild as never);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
    return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
  };
  const actionsOf = (key: keyof typeof drain.functions): string[] =>
    statementsOf(key).flatMap((statement) => ([] as string[]).concat(statement.Action)).sort();
  const resourceOf = (key: keyof typeof drain.functions, action: string): unknown =>
    statementsOf(key).find((statement) => ([] as string[]).concat(statement.Action).includes(action))?.Resource;

  describe('lifecycle hooks', () => {
    test('one terminating hook per Auto Scaling group', () => {
      template.resourceCountIs('AWS::AutoScaling::LifecycleHook', 2);
      for (const name of ['asg-a', 'asg-b']) {
        template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
          AutoScalingGroupName: name,
          LifecycleHookName: 'eks-graceful-drain',
          LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
          DefaultResult: 'CONTINUE',
          HeartbeatTimeout: 900,
        });
      }
    });

    test('defaults to a 1800 s heartbeat timeout', () => {
      const { template: defaults } = synthesizeStack();
      defaults.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 1800 });
    });

    test('with existingLifecycleHookName, creates no hook and matches that name', () => {
      const { template: existing } = synthesizeStack({ existingLifecycleHookName: 'their-hook' });
      existing.resourceCountIs('AWS::AutoScaling::LifecycleHook', 0);
      existing.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { detail: Match.objectLike({ LifecycleHookName: ['their-hook'] }) },
      });
    });
  });

  describe('EventBridge rule', () => {
    test('matches terminate lifecycle actions of our hook and groups (to EC2 and into a warm pool alike), and Spot interruption warnings', () => {
      const rules = template.findResources('AWS::Events::Rule');
      expect(Object.values(rules)).toHaveLength(2);
      expect(json.Resources[logicalId(drain.lifecycleHooks.spotRule!)].Properties.EventPattern).toEqual({
        'account': [TEST_ACCOUNT],
        'region': [TEST_REGION],
        'source': ['aws.ec2'],
        'detail-type': ['EC2 Spot Instance Interruption Warning'],
      });
      expect(json.Resources[logicalId(drain.lifecycleHooks.rule)].Properties.EventPattern).toEqual({
        // Pinned: an event forwarded from another account or region starts nothing.
        'account': [TEST_ACCOUNT],
        'region': [TEST_REGION],
        'source': ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        'detail': {
          AutoScalingGroupName: ['asg-a', 'asg-b'],
          LifecycleHookName: ['eks-graceful-drain'],
        },
      });
    });

    test('targets start-drain with a retry policy, through an input transformer, and no EventBridge DLQ (it would hold the original event)', () => {
      const [target] = json.Resources[logicalId(drain.lifecycleHooks.rule)].Properties.Targets;
      expect(json.Resources[logicalId(drain.lifecycleHooks.rule)].Properties.Targets).toHaveLength(1);
      expect(target).toEqual({
        Arn: { 'Fn::GetAtt': [logicalId(drain.functions.startDrain), 'Arn'] },
        Id: expect.any(String),
        // Events older than the heartbeat timeout are for actions that already timed out.
        RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 900 },
        InputTransformer: { InputPathsMap: expect.any(Object), InputTemplate: expect.any(String) },
      });
    });

    test('the lifecycle rules (terminate, and launch with warm pools) forward what the drain reads and never the token', () => {
      // Arrange
      const { stack: warm, drain: warmDrain, template: warmTemplate } = synthesizeStack({ warmPools: true, cordonOnRebalanceRecommendation: true });
      const warmJson = warmTemplate.toJSON();
      const targetsOf = (rule: Construct) => warmJson.Resources[warm.getLogicalId(rule.node.defaultChild as CfnElement)].Properties.Targets as Array<Record<string, any>>;
      const lifecycleTargets = [...targetsOf(warmDrain.lifecycleHooks.rule), ...targetsOf(warmDrain.lifecycleHooks.launchRule!)];

      // Assert
      expect(lifecycleTargets).toHaveLength(2);
      for (const target of lifecycleTargets) {
        const { InputPathsMap: paths, InputTemplate: template } = target.InputTransformer;
        expect(target.Input).toBeUndefined();
        expect(target.InputPath).toBeUndefined();
        expect(target.DeadLetterConfig).toBeUndefined();
        expect(Object.values(paths).sort()).toEqual([
          '$.account', '$.detail-type',
          '$.detail.AutoScalingGroupName', '$.detail.Destination', '$.detail.EC2InstanceId', '$.detail.Event',
          '$.detail.LifecycleHookName', '$.detail.LifecycleTransition', '$.detail.Origin',
          '$.id', '$.region', '$.source', '$.time', '$.version',
        ]);
        // nothing that contains the token: not the event, its detail, or the predefined copies of the event
        for (const path of Object.values(paths) as string[]) expect(path).not.toMatch(/^\$(\.detail)?$|LifecycleActionToken/);
        expect(template).not.toMatch(/<aws\.events\.event(\.json)?>|LifecycleActionToken/);
      }
      // EC2's Spot and rebalance events carry no token: delivered as they are, with the DLQ
      for (const target of [...targetsOf(warmDrain.lifecycleHooks.spotRule!), ...targetsOf(warmDrain.lifecycleHooks.rebalanceRule!)]) {
        expect(target.InputTransformer).toBeUndefined();
        expect(target.DeadLetterConfig).toBeDefined();
      }
    });

    test('start-drain sends failed asynchronous invocations to the same queue', () => {
      const queueId = logicalId(drain.lifecycleHooks.deadLetterQueue);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('Starts the drain'),
        DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
      });
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: logicalId(drain.functions.startDrain) },
        MaximumEventAgeInSeconds: 900,
        MaximumRetryAttempts: 2,
      });
      expect(resourceOf('startDrain', 'sqs:SendMessage')).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    });
  });

  describe('dead-letter queue', () => {
    test('is encrypted, and its policy admits only the Spot rule over TLS (the lifecycle rule has no EventBridge DLQ)', () => {
      const queueId = logicalId(drain.lifecycleHooks.deadLetterQueue);
      template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queueId }],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
            },
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(drain.lifecycleHooks.spotRule!), 'Arn'] } } },
              Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
            }),
          ],
        },
      });
    });
  });

  describe('functions', () => {
    test('eight functions (nine with warm pools or rebalance cordons), nodejs22.x on arm64, handler "handler" in an ESM bundle', () => {
      const functions = template.findResources('AWS::Lambda::Function');
      expect(Object.keys(functions)).toHaveLength(8);
      for (const fn of Object.values(functions)) {
        expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
      }
    });

    test('drain-step may run 3 minutes, the sweep 2, the others 30 seconds', () => {
      for (const [key, fn] of Object.entries(drain.functions)) {
        const properties = json.Resources[logicalId(fn!)].Properties;
        expect([key, properties.Timeout]).toEqual([key, key === 'drainStep' ? 180 : key === 'sweep' ? 120 : 30]);
      }
    });

    test('each function has its own reserved concurrency, 150 in all by default', () => {
      const reserved = Object.fromEntries(Object.entries(drain.functions).map(([key, fn]) => [key, json.Resources[logicalId(fn!)].Properties.ReservedConcurrentExecutions]));
      expect(reserved).toEqual({ startDrain: 5, prepare: 10, cordon: 10, drainStep: 100, heartbeat: 10, applyDeadline: 5, complete: 10, sweep: 1 });
    });

    test('reservedConcurrency overrides some functions, or reserves none with false', () => {
      const reservedOf = (built: ReturnType<typeof synthesizeStack>) => Object.fromEntries(Object.entries(built.drain.functions).map(([key, fn]) =>
        [key, built.template.toJSON().Resources[built.stack.getLogicalId(fn.node.defaultChild as never)].Properties.ReservedConcurrentExecutions]));
      expect(reservedOf(synthesizeStack({ reservedConcurrency: { drainStep: 20, complete: 3 } }))).toMatchObject({ drainStep: 20, complete: 3, prepare: 10 });
      expect(Object.values(reservedOf(synthesizeStack({ reservedConcurrency: false })))).toEqual(Array(7).fill(undefined));
      expect(() => synthesizeStack({ reservedConcurrency: { drainStep: 0 } })).toThrow(/reservedConcurrency must be false or a map/);
      expect(() => synthesizeStack({ reservedConcurrency: { drain: 5 } as never })).toThrow(/reservedConcurrency/);
    });

    test('each function logs to its own log group with a retention', () => {
      for (const fn of Object.values(drain.functions)) {
        const logGroupRef = json.Resources[logicalId(fn!)].Properties.LoggingConfig.LogGroup;
        expect(json.Resources[logGroupRef.Ref]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } });
      }
    });

    test('environment', () => {
      const { environment } = synthesizeWorkflow({ clusterName: 'prod', onDeadline: 'abandon', maxDrainSeconds: 3600, metricsNamespace: 'Ops' });
      for (const variables of Object.values(environment)) {
        expect(variables).toMatchObject({
          CLUSTER_NAME: 'prod',
          DEADLINE_POLICY: 'abandon',
          MAX_DRAIN_SECONDS: '3600',
          POWERTOOLS_SERVICE_NAME: 'eks-graceful-drain',
          POWERTOOLS_METRICS_NAMESPACE: 'Ops',
          // What a drain may act on: the configuration, never an input.
          AUTO_SCALING_GROUP_NAMES: 'test-asg',
          LIFECYCLE_HOOK_NAME: 'eks-graceful-drain',
          ACCOUNT_ID: '123456789012',
          SPOT_INTERRUPTIONS: 'true',
        });
      }
      expect(environment.drainStep.WATCH_SECONDS).toBe('60');
      expect(environment.startDrain.STATE_MACHINE_ARN).toMatch(/^arn:aws:states:us-east-1:123456789012:stateMachine:[\w-]+$/);
      const withWatch = Object.entries(environment).filter(([, v]) => 'WATCH_SECONDS' in v).map(([k]) => k);
      const withArn = Object.entries(environment).filter(([, v]) => 'STATE_MACHINE_ARN' in v).map(([k]) => k);
      expect([withWatch, withArn]).toEqual([['drainStep'], ['startDrain', 'sweep']]);
    });

    test('environment defaults', () => {
      const { environment } = synthesizeWorkflow();
      expect(environment.prepare).toMatchObject({ DEADLINE_POLICY: 'force-delete', MAX_DRAIN_SECONDS: '0', POWERTOOLS_METRICS_NAMESPACE: 'EksGracefulDrain', SPOT_INTERRUPTIONS: 'true' });
      expect(synthesizeWorkflow({ spotInterruptions: false }).environment.applyDeadline).toMatchObject({ SPOT_INTERRUPTIONS: 'false' });
    });
  });

  describe('IAM: each function gets exactly what its step needs', () => {
    const logs = ['logs:CreateLogStream', 'logs:PutLogEvents'];
    const stateMachineName: string = json.Resources[logicalId(drain.stateMachine)].Properties.StateMachineName;
    const stateMachineArn = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:states:${TEST_REGION}:${TEST_ACCOUNT}:stateMachine:${stateMachineName}`]],
    };

    test.each([
      ['startDrain', ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests', 'sqs:SendMessage', 'states:ListExecutions', 'states:StartExecution', 'states:StopExecution']],
      ['prepare', ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeLifecycleHooks', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests', 'eks:DescribeCluster']],
      ['cordon', ['autoscaling:DescribeAutoScalingInstances', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests', 'eks:DescribeCluster']],
      ['drainStep', ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeLifecycleHooks', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests', 'eks:DescribeCluster']],
      ['heartbeat', ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:RecordLifecycleActionHeartbeat']],
      ['applyDeadline', ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeLifecycleHooks', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests', 'eks:DescribeCluster']],
      ['complete', ['autoscaling:CompleteLifecycleAction', 'autoscaling:DescribeAutoScalingInstances']],
      ['sweep', ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests', 'states:StartExecution']],
    ] as const)('%s: %j (and its own logs)', (key, actions) => {
      expect(actionsOf(key)).toEqual([...actions, ...logs].sort());
      expect(resourceOf(key, 'logs:PutLogEvents')).toEqual({
        'Fn::GetAtt': [json.Resources[logicalId(drain.functions[key]!)].Properties.LoggingConfig.LogGroup.Ref, 'Arn'],
      });
    });

    test('lifecycle actions only on the selected groups', () => {
      const groups = [asgArn('asg-a'), asgArn('asg-b')];
      expect(resourceOf('complete', 'autoscaling:CompleteLifecycleAction')).toEqual(groups);
      expect(resourceOf('heartbeat', 'autoscaling:RecordLifecycleActionHeartbeat')).toEqual(groups);
    });

    test('describe calls without resource-level permissions on *', () => {
      expect(resourceOf('prepare', 'autoscaling:DescribeLifecycleHooks')).toBe('*');
      expect(resourceOf('prepare', 'ec2:DescribeInstances')).toBe('*');
    });

    test('eks:DescribeCluster on the one cluster', () => {
      for (const key of ['prepare', 'cordon', 'drainStep', 'applyDeadline'] as const) {
        expect(resourceOf(key, 'eks:DescribeCluster')).toEqual(clusterArn('prod'));
      }
    });

    test('start-drain may start the drain state machine only', () => {
      expect(resourceOf('startDrain', 'states:StartExecution')).toEqual(stateMachineArn);
    });

    test('no function role has an AWS managed policy', () => {
      for (const fn of Object.values(drain.functions)) {
        const role = json.Resources[stack.getLogicalId(fn.role!.node.defaultChild as never)];
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      }
    });

    test('the state machine may invoke the step functions and start itself', () => {
      const roleId = stack.getLogicalId(drain.stateMachine.role.node.defaultChild as never);
      const policy = Object.values(template.findResources('AWS::IAM::Policy'))
        .find((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))!;
      const statements = policy.Properties.PolicyDocument.Statement as Statement[];
      const invoked = statements.filter((s) => s.Action === 'lambda:InvokeFunction')
        .flatMap((s) => ([] as unknown[]).concat(s.Resource))
        // The unqualified ARNs; the other half are the same functions' `<arn>:*` (versions, aliases).
        .filter((r) => JSON.stringify(r).startsWith('{"Fn::GetAtt"'));
      const steps = ['prepare', 'cordon', 'drainStep', 'heartbeat', 'applyDeadline', 'complete'] as const;
      expect(invoked).toEqual(expect.arrayContaining(steps.map((k) => ({ 'Fn::GetAtt': [logicalId(drain.functions[k]), 'Arn'] }))));
      expect(invoked).toHaveLength(steps.length);
      const start = statements.find((s) => String(s.Action).toLowerCase() === 'states:startexecution')!;
      expect(start.Resource).toEqual(stateMachineArn);
    });
  });

  describe('state machine', () => {
    test('Standard, named, logging every state without execution data, traced', () => {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineType: 'STANDARD',
        StateMachineName: Match.stringLikeRegexp('^[A-Za-z0-9_-]{1,80}$'),
        LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false, Destinations: [Match.anyValue()] },
        TracingConfiguration: { Enabled: true },
      });
    });

    test('stateMachineName prop sets the name used by start-drain', () => {
      const { environment, stateMachineName } = synthesizeWorkflow({ stateMachineName: 'drain-prod' });
      expect(stateMachineName).toBe('drain-prod');
      expect(environment.startDrain.STATE_MACHINE_ARN).toBe('arn:aws:states:us-east-1:123456789012:stateMachine:drain-prod');
    });
  });
});
