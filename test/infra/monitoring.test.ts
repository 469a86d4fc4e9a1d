import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { drainPropsFromContext } from '../../lib/stack';
import { synthesizeStack, TEST_ACCOUNT, TEST_REGION } from '../../sim/workflow/synth';
import { resolveIntrinsics } from './intrinsics';

const GROUPS = ['asg-a', 'asg-b'];
const NAMESPACE = 'DrainMetrics';
const SERVICE = ['service', 'eks-graceful-drain'];
const TOPIC_ARN = `arn:aws:sns:${TEST_REGION}:${TEST_ACCOUNT}:ops-alarms`;

type Json = Record<string, any>;

const resolve = (value: unknown): unknown => resolveIntrinsics(value);

interface Widget {
  type: string;
  width: number;
  properties: Json & { title?: string; metrics?: unknown[][]; markdown?: string };
}

function synth(props: Json = {}) {
  const synthesized = synthesizeStack({ autoScalingGroupNames: GROUPS, metricsNamespace: NAMESPACE, ...props });
  const { stack, template } = synthesized;
  const logicalId = (construct: any): string => stack.getLogicalId(construct.node.defaultChild ?? construct);
  const dashboards = template.findResources('AWS::CloudWatch::Dashboard');
  const dashboard = Object.values(dashboards)[0];
  const body = dashboard ? JSON.parse(resolve(dashboard.Properties.DashboardBody) as string) as { widgets: Widget[] } : { widgets: [] };
  const widget = (title: string): Widget => {
    const found = body.widgets.find((w) => w.properties.title === title);
    if (!found) throw new Error(`no widget "${title}" among ${body.widgets.map((w) => w.properties.title).join(', ')}`);
    return found;
  };
  const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm'))
    .map(([id, resource]): Json => ({ id, ...(resolve(resource.Properties) as Json) }));
  const alarm = (idPrefix: string): Json => {
    const found = alarms.filter((a) => a.id.startsWith(`DrainMonitoring${idPrefix}`));
    if (found.length !== 1) throw new Error(`${found.length} alarms named ${idPrefix}*: ${alarms.map((a) => a.id).join(', ')}`);
    return found[0];
  };
  return { ...synthesized, dashboard, body, widget, alarms, alarm, logicalId };
}

/** [namespace, name, ...dimension name/value pairs], the pairs sorted by name (the dashboard's order is CDK's). */
function canonical([namespace, name, ...dimensions]: string[]): string[] {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < dimensions.length; i += 2) pairs.push([dimensions[i], dimensions[i + 1]]);
  return [namespace, name, ...pairs.sort(([a], [b]) => a.localeCompare(b)).flat()];
}
/** The metric rows of a widget that plot a metric (not an expression), canonical. */
function plotted(widget: Widget): string[][] {
  return (widget.properties.metrics ?? [])
    .filter((row) => typeof row[0] === 'string')
    .map((row) => canonical(row.filter((cell) => typeof cell === 'string') as string[]));
}
function expressions(widget: Widget): string[] {
  return (widget.properties.metrics ?? [])
    .map((row) => row.find((cell) => typeof cell === 'object' && cell !== null && 'expression' in (cell as Json)) as Json | undefined)
    .filter((cell): cell is Json => cell !== undefined)
    .map((cell) => cell.expression as string);
}
/** An EMF metric of each group, with the dimensions Powertools writes: service, the group, and any extra. */
const perGroup = (name: string, ...extra: string[]): string[][] =>
  GROUPS.map((group) => canonical([NAMESPACE, name, ...SERVICE, 'AutoScalingGroupName', group, ...extra]));

describe('dashboard', () => {
  const { widget, body, logicalId, drain } = synth({ dashboardName: 'drains' });

  test('has the widgets an operator needs, in order', () => {
    // Arrange, Act: synthesized above
    // Assert
    expect(body.widgets.map((w) => w.properties.title ?? w.type)).toEqual([
      'text',
      'Alarms',
      'Drains in flight',
      'Executions',
      'Drains started and completed by result',
      'Drain duration (seconds)',
      'Evictions and PDB blocks',
      'PDB misconfigurations',
      'Heartbeats',
      'Deadline escalations',
      'Lifecycle events: duplicate and invalid',
      'Kubernetes API errors',
      'Dead-letter queue',
      'Jobs: waited for, evicted late, replaced early',
      'Spot interruptions',
      'Sweeps (lost or late events)',
      'Warm pools, rebalance cordons, refused inputs',
      'Lambda errors',
      'Lambda throttles',
      'Lambda duration (ms, p99)',
      'Evictions forbidden (403)',
      'Rounds waiting for volumes to detach',
    ]);
  });

  test('is named as asked', () => {
    expect(synth({ dashboardName: 'drains' }).template.toJSON().Resources[logicalId(drain.monitoring!.dashboard)].Properties.DashboardName)
      .toBe('drains');
  });

  test('plots the execution counts of the state machine, and in flight as a running sum over three days', () => {
    const stateMachine = logicalId(drain.stateMachine);
    const names = ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted', 'ExecutionsRedriven'];
    expect(plotted(widget('Executions'))).toEqual(names.map((name) => ['AWS/States', name, 'StateMachineArn', stateMachine]));

    const inFlight = widget('Drains in flight');
    expect(inFlight.properties.start).toBe('-P3D');
    expect(expressions(inFlight)).toEqual([
      'RUNNING_SUM(FILL(started, 0) + FILL(redriven, 0) - FILL(succeeded, 0) - FILL(failed, 0) - FILL(timedOut, 0) - FILL(aborted, 0))',
    ]);
    expect(plotted(inFlight)).toEqual(expect.arrayContaining(names.map((name) => ['AWS/States', name, 'StateMachineArn', stateMachine])));
  });

  test('sums DrainsCompleted over the groups, one line per result, with the dimensions Powertools writes', () => {
    const completed = widget('Drains started and completed by result');
    for (const result of ['CONTINUE', 'ABANDON', 'AlreadyCompleted', 'NodeNotFound']) {
      expect(plotted(completed)).toEqual(expect.arrayContaining(perGroup('DrainsCompleted', 'Result', result)));
    }
    expect(plotted(completed)).toEqual(expect.arrayContaining(perGroup('DrainsStarted')));
    expect(expressions(completed)).toEqual([
      'FILL(drainsStarted0, 0) + FILL(drainsStarted1, 0)',
      ...['cONTINUE', 'aBANDON', 'alreadyCompleted', 'nodeNotFound', 'spotInterrupted'].map((id) => `FILL(completed_${id}0, 0) + FILL(completed_${id}1, 0)`),
    ]);
  });

  test('shows duration percentiles per group (percentiles do not add up)', () => {
    const rows = widget('Drain duration (seconds)').properties.metrics!;
    const stats = rows.map((row) => (row[row.length - 1] as Json).stat);
    expect(stats).toEqual(['p50', 'p50', 'p90', 'p90', 'p99', 'p99']);
    expect(plotted(widget('Drain duration (seconds)')).slice(0, 2)).toEqual(perGroup('DrainDurationSeconds'));
  });

  test.each([
    ['Evictions and PDB blocks', ['PodsEvicted', 'EvictionsBlockedByPdb']],
    ['PDB misconfigurations', ['PdbMisconfigurations']],
    ['Heartbeats', ['HeartbeatsSent']],
    ['Deadline escalations', ['DrainsNearDeadline', 'DeadlinesReached', 'PodsForceDeleted']],
    ['Kubernetes API errors', ['KubernetesApiErrors']],
  ])('%s: sums of %j over the groups', (title, names) => {
    const w = widget(title);
    expect(plotted(w)).toEqual(names.flatMap((name) => perGroup(name)));
    expect(expressions(w)).toHaveLength(names.length);
  });

  test('counts invalid events with and without a group (start-drain may not know it)', () => {
    const events = widget('Lifecycle events: duplicate and invalid');
    expect(plotted(events)).toEqual([
      ...perGroup('DuplicateEvents'),
      ...perGroup('InvalidEvents'),
      canonical([NAMESPACE, 'InvalidEvents', ...SERVICE]),
    ]);
  });

  test('plots errors, throttles and duration of every function, and the dead-letter queue', () => {
    const functionIds = Object.values(drain.functions).map(logicalId);
    expect(plotted(widget('Lambda errors'))).toEqual(functionIds.map((id) => ['AWS/Lambda', 'Errors', 'FunctionName', id]));
    expect(plotted(widget('Lambda throttles'))).toEqual(functionIds.map((id) => ['AWS/Lambda', 'Throttles', 'FunctionName', id]));
    expect(plotted(widget('Lambda duration (ms, p99)'))).toEqual(functionIds.map((id) => ['AWS/Lambda', 'Duration', 'FunctionName', id]));
    expect(plotted(widget('Dead-letter queue'))).toEqual([
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', `${logicalId(drain.lifecycleHooks.deadLetterQueue)}.QueueName`],
    ]);
  });

  test('opens with the runbook: where the execution is, how to read it, the deadline, redrive', () => {
    const text = body.widgets[0].properties.markdown!;
    expect(text).toContain(`#/statemachines/view/${logicalId(drain.stateMachine)}`);
    for (const heading of ['Where a drain is', 'How to read a drain', 'What the deadline does', 'How to redrive']) {
      expect(text).toContain(`**${heading}.**`);
    }
  });
});

describe('alarms', () => {
  const { alarms, alarm, template, logicalId, drain } = synth();
  const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];

  test('eight, each ≥ 1 in one 5-minute period, missing data not breaching, ALARM and OK to the topic, with a description', () => {
    expect(alarms).toHaveLength(8);
    for (const a of alarms) {
      expect({
        id: a.id,
        Threshold: a.Threshold,
        ComparisonOperator: a.ComparisonOperator,
        EvaluationPeriods: a.EvaluationPeriods,
        DatapointsToAlarm: a.DatapointsToAlarm,
        TreatMissingData: a.TreatMissingData,
        AlarmActions: a.AlarmActions,
        OKActions: a.OKActions,
      }).toEqual({
        id: a.id,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [topic],
        OKActions: [topic],
      });
      expect(a.AlarmDescription.length).toBeGreaterThan(150);
    }
  });

  const metricsOf = (a: Json): Array<{ expression?: string; metric?: string[] }> => a.Metrics.map((query: Json) => ({
    ...(query.Expression ? { expression: query.Expression } : {}),
    ...(query.MetricStat ? {
      metric: canonical([query.MetricStat.Metric.Namespace, query.MetricStat.Metric.MetricName,
        ...query.MetricStat.Metric.Dimensions.flatMap((d: Json) => [d.Name, d.Value])]),
    } : {}),
  }));

  test('failed or timed-out executions: the sum of the two', () => {
    const a = alarm('ExecutionsFailedAlarm');
    const stateMachine = logicalId(drain.stateMachine);
    expect(metricsOf(a)).toEqual([
      { expression: 'FILL(failed, 0) + FILL(timedOut, 0)' },
      { metric: ['AWS/States', 'ExecutionsFailed', 'StateMachineArn', stateMachine] },
      { metric: ['AWS/States', 'ExecutionsTimedOut', 'StateMachineArn', stateMachine] },
    ]);
    expect(a.Metrics.filter((q: Json) => q.ReturnData !== false)).toHaveLength(1);
    expect(a.Metrics[1].MetricStat.Stat).toBe('Sum');
    expect(a.Metrics[1].MetricStat.Period).toBe(300);
  });

  test.each([
    ['DrainsNearDeadlineAlarm', 'DrainsNearDeadline'],
    ['PdbMisconfigurationsAlarm', 'PdbMisconfigurations'],
  ])('%s: %s summed over the groups', (id, name) => {
    const prefix = name.charAt(0).toLowerCase() + name.slice(1);
    expect(metricsOf(alarm(id))).toEqual([
      { expression: `FILL(${prefix}0, 0) + FILL(${prefix}1, 0)` },
      ...perGroup(name).map((metric) => ({ metric })),
    ]);
  });

  test('a message in the dead-letter queue', () => {
    const a = alarm('DeadLettersAlarm');
    expect(metricsOf(a)).toEqual([
      { metric: ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', `${logicalId(drain.lifecycleHooks.deadLetterQueue)}.QueueName`] },
    ]);
    expect([a.Metrics[0].MetricStat.Stat, a.Metrics[0].MetricStat.Period]).toEqual(['Maximum', 300]);
  });

  test('a lifecycle event EventBridge could not hand over (its rules keep no DLQ copy): the rules\' FailedInvocations', () => {
    // Arrange: with warm pools, the launch rule carries lifecycle events too
    const warm = synth({ warmPools: true });

    // Assert
    expect(metricsOf(alarm('LifecycleEventsUndeliveredAlarm'))).toEqual([
      { expression: 'FILL(failedInvocations0, 0)' },
      { metric: ['AWS/Events', 'FailedInvocations', 'RuleName', logicalId(drain.lifecycleHooks.rule)] },
    ]);
    expect(metricsOf(warm.alarm('LifecycleEventsUndeliveredAlarm'))).toEqual([
      { expression: 'FILL(failedInvocations0, 0) + FILL(failedInvocations1, 0)' },
      { metric: ['AWS/Events', 'FailedInvocations', 'RuleName', warm.logicalId(warm.drain.lifecycleHooks.rule)] },
      { metric: ['AWS/Events', 'FailedInvocations', 'RuleName', warm.logicalId(warm.drain.lifecycleHooks.launchRule!)] },
    ]);
  });

  test('an error in any function: the sum of their Errors', () => {
    const functionIds = Object.values(drain.functions).map(logicalId);
    expect(metricsOf(alarm('LambdaErrorsAlarm'))).toEqual([
      { expression: functionIds.map((_, i) => `FILL(errors${i}, 0)`).join(' + ') },
      ...functionIds.map((id) => ({ metric: ['AWS/Lambda', 'Errors', 'FunctionName', id] })),
    ]);
  });

  test('an eviction refused with 403 raises its own alarm, per group, saying what to fix', () => {
    const forbidden = alarm('EvictionsForbiddenAlarm');
    expect(forbidden.AlarmDescription).toMatch(/403 Forbidden/);
    expect(forbidden.AlarmDescription).toMatch(/rbac\.yaml/);
    expect(JSON.stringify(forbidden.Metrics)).toContain('EvictionsForbidden');
  });

  test('more than 10 groups: one alarm per 10, as a metric-math alarm holds at most 10 metrics', () => {
    const groups = Array.from({ length: 12 }, (_, i) => `asg-${i}`);
    const many = synth({ autoScalingGroupNames: groups });
    const nearDeadline = many.alarms.filter((a) => a.id.startsWith('DrainMonitoringDrainsNearDeadlineAlarm'));
    expect(nearDeadline.map((a) => a.Metrics.length - 1)).toEqual([10, 2]);
    expect(nearDeadline[1].AlarmDescription).toContain('asg-10, asg-11');
    expect(many.alarms).toHaveLength(11);
  });

  test('the created topic is encrypted with a rotated key CloudWatch may use, and refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        })]),
      },
    });
  });
});

describe('configuration', () => {
  test('with alarmTopicArn, no topic is created and every alarm notifies the given one', () => {
    const { template, alarms } = synth({ alarmTopicArn: TOPIC_ARN });
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(alarms).toHaveLength(8);
    for (const a of alarms) expect([a.AlarmActions, a.OKActions]).toEqual([[TOPIC_ARN], [TOPIC_ARN]]);
  });

  test('monitoring: false creates neither dashboard nor alarms nor topic', () => {
    const { template, drain } = synth({ monitoring: false });
    expect(drain.monitoring).toBeUndefined();
    for (const type of ['AWS::CloudWatch::Dashboard', 'AWS::CloudWatch::Alarm', 'AWS::SNS::Topic']) template.resourceCountIs(type, 0);
  });

  test.each([
    ['alarmTopicArn', 'arn:aws:sqs:us-east-1:123456789012:queue'],
    ['dashboardName', 'has spaces'],
  ])('the construct rejects a malformed %s', (name, value) => {
    expect(() => synth({ [name]: value })).toThrow(new RegExp(`${name} must be`));
  });

  const fromContext = (context: Json) =>
    drainPropsFromContext(new App({ context: { clusterName: 'c', autoScalingGroupNames: 'a', ...context } }).node);

  test('context keys alarmTopicArn and dashboardName become props, and are optional', () => {
    expect(fromContext({ alarmTopicArn: ` ${TOPIC_ARN} `, dashboardName: 'drains' })).toMatchObject({ alarmTopicArn: TOPIC_ARN, dashboardName: 'drains' });
    expect(fromContext({})).toMatchObject({ alarmTopicArn: undefined, dashboardName: undefined });
  });

  test.each([
    ['alarmTopicArn', 'ops-alarms'],
    ['dashboardName', 'a/b'],
    ['dashboardName', 42],
  ])('context key %s rejects %j, naming the key', (key, value) => {
    expect(() => fromContext({ [key]: value })).toThrow(`Context key "${key}"`);
  });
});
