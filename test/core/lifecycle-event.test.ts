import { continuationName, executionName, parseLifecycleEvent, tokenHash } from '../../lambda/core/lifecycle-event';

const TOKEN = 'bcd2f1b8-9a78-44d3-8a7a-4dd07d7cf635';

/** An EventBridge terminate lifecycle action event, as in REFERENCE.md; `detail` entries override. */
function lifecycleEvent(detail: Record<string, unknown> = {}, envelope: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: '7e2c1d5a-0000-0000-0000-000000000000',
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '111122223333',
    time: '2026-01-01T00:00:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:autoscaling:us-east-1:111122223333:autoScalingGroup:x:autoScalingGroupName/my-asg'],
    ...envelope,
    detail: {
      LifecycleActionToken: TOKEN,
      AutoScalingGroupName: 'my-asg',
      LifecycleHookName: 'my-hook',
      EC2InstanceId: 'i-0123456789abcdef0',
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      NotificationMetadata: '{}',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
      ...detail,
    },
  };
}

describe('parseLifecycleEvent', () => {
  it('reads a terminate action', () => {
    // Arrange
    const event = lifecycleEvent();

    // Act
    const parsed = parseLifecycleEvent(event);

    // Assert
    expect(parsed).toEqual({
      kind: 'terminate',
      action: {
        autoScalingGroupName: 'my-asg',
        lifecycleHookName: 'my-hook',
        instanceId: 'i-0123456789abcdef0',
        lifecycleActionToken: TOKEN,
        tokenHash: tokenHash(TOKEN),
        startedAt: '2026-01-01T00:00:00.000Z',
      },
    });
  });

  it.each([
    ['a test notification', lifecycleEvent({ Event: 'autoscaling:TEST_NOTIFICATION' }), 'test-notification'],
    ['a move into the warm pool', lifecycleEvent({ Destination: 'WarmPool' }), 'warm-pool'],
    [
      'a launch action',
      lifecycleEvent({ LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }, { 'detail-type': 'EC2 Instance-launch Lifecycle Action' }),
      'not-terminating',
    ],
  ])('ignores %s', (_, event, reason) => {
    // Arrange (above)

    // Act
    const parsed = parseLifecycleEvent(event);

    // Assert
    expect(parsed).toEqual({ kind: 'ignore', reason });
  });

  it('reports missing fields as invalid, with what it could read', () => {
    // Arrange
    const event = lifecycleEvent({ LifecycleActionToken: undefined, LifecycleHookName: '' });

    // Act
    const parsed = parseLifecycleEvent(event);

    // Assert
    expect(parsed).toEqual({
      kind: 'invalid',
      reason: 'missing or invalid: LifecycleHookName, LifecycleActionToken',
      partial: { autoScalingGroupName: 'my-asg', lifecycleHookName: undefined, instanceId: 'i-0123456789abcdef0' },
    });
  });

  it('reports an unparseable time as invalid', () => {
    // Arrange
    const event = lifecycleEvent({}, { time: 'yesterday' });

    // Act
    const parsed = parseLifecycleEvent(event);

    // Assert
    expect(parsed).toMatchObject({ kind: 'invalid', reason: 'missing or invalid: time' });
  });

  it('refuses an instance id that could not be part of an execution name', () => {
    // Arrange
    const event = lifecycleEvent({ EC2InstanceId: 'i-0123 / x' });

    // Act
    const parsed = parseLifecycleEvent(event);

    // Assert
    expect(parsed).toMatchObject({ kind: 'invalid', partial: { autoScalingGroupName: 'my-asg', instanceId: undefined } });
  });

  it.each([
    ['not an object', 'hello'],
    ['no detail', { source: 'aws.autoscaling' }],
    ['another source', lifecycleEvent({}, { source: 'aws.ec2' })],
  ])('reports an event with %s as invalid', (_, event) => {
    // Arrange (above)

    // Act
    const parsed = parseLifecycleEvent(event);

    // Assert
    expect(parsed.kind).toBe('invalid');
  });
});

describe('names', () => {
  it('hashes the token to 16 hex characters', () => {
    // Arrange / Act
    const hash = tokenHash(TOKEN);

    // Assert
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(hash).not.toBe(tokenHash('another-token'));
  });

  it('gives a duplicate event the same valid execution name', () => {
    // Arrange
    const first = parseLifecycleEvent(lifecycleEvent());
    const duplicate = parseLifecycleEvent({ ...lifecycleEvent(), id: 'another-delivery' });
    if (first.kind !== 'terminate' || duplicate.kind !== 'terminate') throw new Error('expected terminate');

    // Act
    const name = executionName(first.action);

    // Assert
    expect(name).toBe(executionName(duplicate.action));
    expect(name).toBe(`i-0123456789abcdef0-${tokenHash(TOKEN)}`);
    expect(name).toMatch(/^[0-9A-Za-z_-]{1,80}$/);
  });

  it('names continuations after the first execution', () => {
    // Arrange / Act
    const name = continuationName('i-0123456789abcdef0-0011223344556677', 3);

    // Assert
    expect(name).toBe('i-0123456789abcdef0-0011223344556677-c3');
  });
});
