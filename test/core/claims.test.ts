import { INSTANCE_ID, drainClaimName, isDrainOf, spotClaimName, spotInterruption, terminationActivity, type ActivityView } from '../../lambda/core/claims';

const ID = 'i-0123456789abcdef0';
const activity = (overrides: Partial<ActivityView>): ActivityView => ({
  activityId: '0b3c1f2e-1111-2222-3333-444455556666',
  description: `Terminating EC2 instance: ${ID}`,
  statusCode: 'MidLifecycleAction',
  startTime: 1_000,
  ...overrides,
});

describe('INSTANCE_ID', () => {
  it.each([['i-01234567', true], [ID, true], ['i-0123456789', false], ['i-0123456789ABCDEF0', false], ['i-*', false], [`${ID} `, false]])('%s → %s', (id, ok) => {
    expect(INSTANCE_ID.test(id)).toBe(ok);
  });
});

describe('terminationActivity', () => {
  it('takes the termination of this instance that is still under way', () => {
    // Arrange
    const activities = [
      activity({ activityId: 'done', statusCode: 'Successful', startTime: 3_000 }),
      activity({ activityId: 'other', description: 'Terminating EC2 instance: i-0ffffffffffffffff', startTime: 4_000 }),
      activity({ activityId: 'launch', description: `Launching a new EC2 instance: ${ID}`, statusCode: 'InProgress', startTime: 5_000 }),
      activity({ activityId: 'this' }),
    ];
    // Act / Assert
    expect(terminationActivity(activities, ID)?.activityId).toBe('this');
  });

  it('finds none when every termination of the instance is over', () => {
    expect(terminationActivity([activity({ statusCode: 'Successful' }), activity({ statusCode: 'Cancelled' })], ID)).toBeUndefined();
  });

  it('does not take an id that merely starts like this one', () => {
    expect(terminationActivity([activity({ description: 'Terminating EC2 instance: i-01234567ab' })], 'i-01234567')).toBeUndefined();
  });
});

describe('claim names', () => {
  it('are the same whichever path derives them, and valid execution names', () => {
    const name = drainClaimName(ID, '0b3c1f2e-1111-2222-3333-444455556666');
    expect(name).toBe(`${ID}-0b3c1f2e-1111-2222-3333-444455556666`);
    expect(`${name}-c99`).toMatch(/^[0-9A-Za-z_-]{1,80}$/);
    expect(spotClaimName(ID)).toBe(`${ID}-spot`);
  });

  it('refuse what is not an instance id or an activity id', () => {
    expect(() => drainClaimName('i-*', 'x')).toThrow();
    expect(() => drainClaimName(ID, 'a b')).toThrow();
    expect(() => spotClaimName('node-1')).toThrow();
  });

  it('recognise every execution of an instance, continuations included', () => {
    expect(isDrainOf(`${ID}-abc-c3`, ID)).toBe(true);
    expect(isDrainOf('i-0ffffffffffffffff-abc', ID)).toBe(false);
  });
});

describe('spotInterruption', () => {
  it.each([
    ['marked-for-termination', 'terminate'],
    ['marked-for-stop', 'stop'],
    ['marked-for-hibernation', 'hibernate'],
    ['fulfilled', undefined],
    [undefined, undefined],
  ])('%s → %s', (code, action) => {
    expect(spotInterruption(code)).toBe(action);
  });
});
