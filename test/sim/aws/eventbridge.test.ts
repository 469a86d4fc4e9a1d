import {
  SimulatedEventBridge,
  evaluatePath,
  matchesPattern,
  renderInputTransformer,
  targetPayload,
  validateInputTransformer,
  type EventRule,
} from '../../../sim/aws/eventbridge';

/** The example event of the EventBridge user guide ("Amazon EventBridge input transformation"). */
const EC2_EVENT = {
  'version': '0',
  'id': '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'EC2 Instance State-change Notification',
  'source': 'aws.ec2',
  'account': '123456789012',
  'time': '2015-11-11T21:29:54Z',
  'region': 'us-east-1',
  'resources': ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
  'detail': { 'instance-id': 'i-0123456789', 'state': 'RUNNING' },
};
/** The guide's input paths for that event. */
const PATHS = { timestamp: '$.time', instance: '$.detail.instance-id', state: '$.detail.state', resource: '$.resources[0]' };
const RULE = { name: 'example', arn: 'arn:aws:events:us-east-2:123456789012:rule/example' };

const render = (template: string, paths: Record<string, string> = PATHS, event: Record<string, unknown> = EC2_EVENT) =>
  renderInputTransformer({ InputPathsMap: paths, InputTemplate: template }, event, RULE);

describe('input transformer: the user guide examples', () => {
  test.each([
    ['a simple string', '"instance <instance> is in <state>"', 'instance i-0123456789 is in RUNNING'],
    ['a string with escaped quotes', '"instance \\"<instance>\\" is in <state>"', 'instance "i-0123456789" is in RUNNING'],
    ['reserved variables in a string', '"<aws.events.rule-name> triggered"', 'example triggered'],
  ])('%s', (_label, template, expected) => {
    // Act
    const payload = render(template);
    // Assert: the target gets a JSON string
    expect(JSON.parse(payload)).toBe(expected);
  });

  test.each([
    ['simple JSON', '{"instance" : <instance>, "state": <state>}', { instance: 'i-0123456789', state: 'RUNNING' }],
    [
      'JSON with strings and variables',
      '{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in <state>"}',
      { instance: 'i-0123456789', state: 'RUNNING', instanceStatus: 'instance "i-0123456789" is in RUNNING' },
    ],
    ['JSON with a mix of variables and static information', '{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}', { instance: 'i-0123456789', state: [9, 'RUNNING', true], Transformed: 'Yes' }],
    ['an array index in a path', '{"resource": <resource>, "when": <timestamp>}', { resource: 'arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111', when: '2015-11-11T21:29:54Z' }],
    ['an object value', '{"detail": <detail>}', { detail: { 'instance-id': 'i-0123456789', 'state': 'RUNNING' } }],
  ])('%s', (_label, template, expected) => {
    // Act
    const payload = render(template, { ...PATHS, detail: '$.detail' });
    // Assert
    expect(JSON.parse(payload)).toEqual(expected);
  });

  test('reserved variables in JSON: the rule, the envelope without detail, the whole event', () => {
    // Act
    const payload = render('{"instance" : <instance>, "ruleArn" : <aws.events.rule-arn>, "ruleName" : <aws.events.rule-name>, "event" : <aws.events.event>, "originalEvent" : <aws.events.event.json>}');
    // Assert
    const { detail: _detail, 'detail-type': detailType, ...envelope } = EC2_EVENT;
    void _detail;
    expect(JSON.parse(payload)).toEqual({
      instance: 'i-0123456789',
      ruleArn: RULE.arn,
      ruleName: 'example',
      event: { ...envelope, detailType },
      originalEvent: EC2_EVENT,
    });
  });
});

describe('input transformer: a path that matches nothing (as recorded against AWS)', () => {
  test('renders as "" in a JSON template, unquoted or quoted, and as nothing in a string', () => {
    // Arrange
    const paths = { ...PATHS, missing: '$.detail.notinmessage' };

    // Act
    const json = render('{"state": <state>, "missing": <missing>, "quoted": "<missing>"}', paths);
    const text = render('"info extracted from detail <missing>"', paths);

    // Assert
    expect(JSON.parse(json)).toEqual({ state: 'RUNNING', missing: '', quoted: '' });
    expect(JSON.parse(text)).toBe('info extracted from detail ');
  });

  test('a path through a missing object or past an array end matches nothing', () => {
    expect(evaluatePath(EC2_EVENT, '$.detail.nested.deeper')).toBeUndefined();
    expect(evaluatePath(EC2_EVENT, '$.resources[3]')).toBeUndefined();
    expect(evaluatePath(EC2_EVENT, '$')).toEqual(EC2_EVENT);
  });
});

describe('input transformer: what PutTargets refuses', () => {
  test.each([
    ['a placeholder no path defines', { InputPathsMap: { state: '$.detail.state' }, InputTemplate: '"with not defined key <notdefinedkey>"' }, /invalid placeholder notdefinedkey/],
    ['a key starting with aws.', { InputPathsMap: { 'aws.mine': '$.detail.state' }, InputTemplate: '"<aws.mine>"' }, /may not start with "aws\."/],
    ['bracket notation', { InputPathsMap: { state: "$['detail']" }, InputTemplate: '"<state>"' }, /dot notation/],
    ['a key with a dot', { InputPathsMap: { 'my.state': '$.detail.state' }, InputTemplate: '"<my.state>"' }, /does not match/],
    ['a placeholder as an object key', { InputPathsMap: { state: '$.detail.state' }, InputTemplate: '{<state>: 1}' }, /object key/],
  ])('%s', (_label, transformer, message) => {
    expect(() => validateInputTransformer(transformer)).toThrow(message);
  });
});

describe('event patterns (exact values)', () => {
  const pattern = { 'source': ['aws.autoscaling'], 'detail-type': ['EC2 Instance-terminate Lifecycle Action'], 'detail': { LifecycleHookName: ['hook'], AutoScalingGroupName: ['a', 'b'] } };
  const event = { 'source': 'aws.autoscaling', 'detail-type': 'EC2 Instance-terminate Lifecycle Action', 'detail': { LifecycleHookName: 'hook', AutoScalingGroupName: 'b', Other: 1 } };

  test.each([
    ['the event itself', true, event],
    ['another value of a listed field', false, { ...event, detail: { ...event.detail, AutoScalingGroupName: 'c' } }],
    ['a field the pattern names missing', false, { ...event, detail: { AutoScalingGroupName: 'a' } }],
    ['an array value with one listed element', true, { ...event, detail: { ...event.detail, AutoScalingGroupName: ['z', 'a'] } }],
    ['no detail at all', false, { 'source': 'aws.autoscaling', 'detail-type': 'EC2 Instance-terminate Lifecycle Action' }],
  ])('%s → matches: %s', (_label, expected, candidate) => {
    expect(matchesPattern(pattern, candidate)).toBe(expected);
  });

  test('a content filter is refused rather than guessed', () => {
    expect(() => matchesPattern({ source: [{ prefix: 'aws.' }] }, event)).toThrow(/content filter/);
  });
});

describe('SimulatedEventBridge', () => {
  const FN = 'arn:aws:lambda:us-east-1:123456789012:function:fn';
  const DLQ = 'arn:aws:sqs:us-east-1:123456789012:dlq';
  const rules: EventRule[] = [{
    name: 'state-change',
    arn: RULE.arn,
    pattern: { source: ['aws.ec2'] },
    targets: [{ Arn: FN, Id: 'Target0', InputTransformer: { InputPathsMap: { instance: '$.detail.instance-id' }, InputTemplate: '{"instance": <instance>}' } }],
  }];

  test('delivers the transformed payload through the matching rule; a failure leaves that payload in the function DLQ', async () => {
    // Arrange
    const bridge = new SimulatedEventBridge(rules, { [FN]: DLQ });
    const received: unknown[] = [];

    // Act
    await bridge.deliver(FN, EC2_EVENT, async (payload) => received.push(payload));
    const failed = bridge.deliver(FN, EC2_EVENT, async () => {
      throw new Error('boom');
    });

    // Assert
    await expect(failed).rejects.toThrow('boom');
    expect(received).toEqual([{ instance: 'i-0123456789' }]);
    expect(bridge.deadLetters).toEqual([{ functionArn: FN, queueArn: DLQ, body: '{"instance": "i-0123456789"}', attributes: { ErrorCode: '200', ErrorMessage: 'boom' } }]);
  });

  test('an event no rule matches is not delivered', async () => {
    // Arrange
    const bridge = new SimulatedEventBridge(rules, {});
    // Act / Assert
    await expect(bridge.deliver(FN, { ...EC2_EVENT, source: 'aws.s3' }, async () => 'invoked')).rejects.toThrow(/matches none of its rules/);
  });

  test('a target without input gets the event as is; a constant Input replaces it', () => {
    expect(JSON.parse(targetPayload({ Arn: FN, Id: 'a' }, EC2_EVENT, RULE))).toEqual(EC2_EVENT);
    expect(targetPayload({ Arn: FN, Id: 'a', Input: '{"fixed":true}' }, EC2_EVENT, RULE)).toBe('{"fixed":true}');
  });
});
