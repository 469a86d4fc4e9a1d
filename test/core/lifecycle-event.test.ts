import { continuationName, parseDrainEvent, tokenHash } from '../../lambda/core/lifecycle-event';

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

describe('parseDrainEvent', () => {
  it('reads a terminate action: the instance, group and hook, and only a hash of the token', () => {
    // Arrange
    const event = lifecycleEvent();

    // Act
    const parsed = parseDrainEvent(event);

    // Assert
    expect(parsed).toEqual({
      kind: 'terminate',
      destination: 'EC2',
      autoScalingGroupName: 'my-asg',
      lifecycleHookName: 'my-hook',
      instanceId: 'i-0123456789abcdef0',
      tokenHash: tokenHash(TOKEN),
    });
    expect(JSON.stringify(parsed)).not.toContain(TOKEN);
  });

  it('needs no token: what the rule delivers (its input transformer drops it) parses, without a tokenHash', () => {
    // Arrange: the transformer forwards every field the parser reads; a path
    // missing from the event (here Event) arrives as "".
    const { detail } = lifecycleEvent();
    const { LifecycleActionToken: _token, NotificationMetadata: _metadata, ...forwarded } = detail;
    void _token;
    void _metadata;
    const delivered = lifecycleEvent({}, {}) as Record<string, unknown>;
    delete delivered.resources;
    delivered.detail = { Event: '', ...forwarded };

    // Act
    const parsed = parseDrainEvent(delivered);

    // Assert
    expect(parsed).toEqual({
      kind: 'terminate',
      destination: 'EC2',
      autoScalingGroupName: 'my-asg',
      lifecycleHookName: 'my-hook',
      instanceId: 'i-0123456789abcdef0',
    });
  });

  it('drains a scale-in to a warm pool like a termination', () => {
    // Act
    const parsed = parseDrainEvent(lifecycleEvent({ Destination: 'WarmPool' }));
    // Assert
    expect(parsed).toMatchObject({ kind: 'terminate', destination: 'WarmPool' });
  });

  it('reads a launch action and its origin (back from the warm pool)', () => {
    // Arrange
    const event = lifecycleEvent({ LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', Origin: 'WarmPool', Destination: 'AutoScalingGroup' }, { 'detail-type': 'EC2 Instance-launch Lifecycle Action' });
    // Act
    const parsed = parseDrainEvent(event);
    // Assert
    expect(parsed).toMatchObject({ kind: 'launch', origin: 'WarmPool', instanceId: 'i-0123456789abcdef0' });
  });

  it.each([
    ['terminate', 'terminate'],
    ['stop', 'stop'],
    ['hibernate', 'hibernate'],
  ])('reads a Spot interruption warning (%s)', (action, expected) => {
    // Arrange
    const event = { source: 'aws.ec2', 'detail-type': 'EC2 Spot Instance Interruption Warning', detail: { 'instance-id': 'i-0123456789abcdef0', 'instance-action': action } };
    // Act / Assert
    expect(parseDrainEvent(event)).toEqual({ kind: 'spot-interruption', instanceId: 'i-0123456789abcdef0', instanceAction: expected });
  });

  it('reads a rebalance recommendation', () => {
    const event = { source: 'aws.ec2', 'detail-type': 'EC2 Instance Rebalance Recommendation', detail: { 'instance-id': 'i-01234567' } };
    expect(parseDrainEvent(event)).toEqual({ kind: 'rebalance', instanceId: 'i-01234567' });
  });

  it.each([
    ['a test notification', lifecycleEvent({ Event: 'autoscaling:TEST_NOTIFICATION' }), 'test-notification'],
    ['another Auto Scaling event', lifecycleEvent({}, { 'detail-type': 'EC2 Instance Launch Successful' }), 'not-a-drain-event'],
    ['another EC2 event', { source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification', detail: { 'instance-id': 'i-01234567' } }, 'not-a-drain-event'],
  ])('ignores %s', (_, event, reason) => {
    expect(parseDrainEvent(event)).toEqual({ kind: 'ignore', reason });
  });

  it('reports missing fields as invalid, with what it could read', () => {
    // Arrange
    const event = lifecycleEvent({ LifecycleActionToken: undefined, LifecycleHookName: '', AutoScalingGroupName: undefined });

    // Act
    const parsed = parseDrainEvent(event);

    // Assert
    expect(parsed).toEqual({
      kind: 'invalid',
      reason: 'missing or invalid: AutoScalingGroupName, LifecycleHookName',
      partial: { autoScalingGroupName: undefined, lifecycleHookName: undefined, instanceId: 'i-0123456789abcdef0' },
    });
  });

  it.each([['i-0123 / x'], ['i-0123456789abcdef'], ['i-0123456789ABCDEF0'], ['i-012345678']])('refuses %s: not an instance id', (id) => {
    // Act
    const parsed = parseDrainEvent(lifecycleEvent({ EC2InstanceId: id }));
    // Assert
    expect(parsed).toMatchObject({ kind: 'invalid', partial: { autoScalingGroupName: 'my-asg', instanceId: undefined } });
  });

  it.each([
    ['not an object', 'hello'],
    ['no detail', { source: 'aws.autoscaling' }],
    ['another source', lifecycleEvent({}, { source: 'aws.sqs' })],
    ['a Spot warning without an instance id', { source: 'aws.ec2', 'detail-type': 'EC2 Spot Instance Interruption Warning', detail: { 'instance-id': 'x' } }],
  ])('reports an event with %s as invalid', (_, event) => {
    expect(parseDrainEvent(event).kind).toBe('invalid');
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

  it('names continuations after the first execution', () => {
    expect(continuationName('i-0123456789abcdef0-0011223344556677', 3)).toBe('i-0123456789abcdef0-0011223344556677-c3');
  });
});
