import { AGE_DIVISOR, BLOCKED_WAIT_MS, LEAD_MS, LONG_WAIT_MS, MIN_WAIT_MS, nextPollDelayMs } from '../../lambda/core/pacing';
import { STARTED_AT } from './drain-state-factory';

const S = 1000;
const H = 3_600 * S;

describe('nextPollDelayMs', () => {
  test('constants', () => {
    // Arrange
    const expected = { MIN_WAIT_MS: 5_000, BLOCKED_WAIT_MS: 300_000, LONG_WAIT_MS: 600_000, LEAD_MS: 5_000, AGE_DIVISOR: 20 };

    // Act
    const actual = { MIN_WAIT_MS, BLOCKED_WAIT_MS, LONG_WAIT_MS, LEAD_MS, AGE_DIVISOR };

    // Assert
    expect(actual).toEqual(expected);
  });

  test.each([
    // name, age ms, evictable, expected delay ms
    ['at the start: the floor', 0, 0, 5_000],
    ['age 60 s: a twentieth (3 s) is raised to the floor', 60 * S, 0, 5_000],
    ['age 100 s: a twentieth is the floor', 100 * S, 1, 5_000],
    ['age 200 s: a twentieth', 200 * S, 0, 10_000],
    ['age 246.91 s: a twentieth, rounded', 246_910, 0, 12_346],
    ['age 2000 s: a twentieth', 2_000 * S, 1, 100_000],
    ['blocked, age 5998 s: just under the PDB ceiling', 5_998 * S, 1, 299_900],
    ['blocked, age 6000 s: the PDB ceiling', 6_000 * S, 1, 300_000],
    ['blocked, age 47 h: the PDB ceiling', 47 * H, 3, 300_000],
    ['terminating only, age 6000 s: a twentieth, past the PDB ceiling', 6_000 * S, 0, 300_000],
    ['terminating only, age 10000 s: a twentieth, above the PDB ceiling', 10_000 * S, 0, 500_000],
    ['terminating only, age 12000 s: the long ceiling', 12_000 * S, 0, 600_000],
    ['terminating only, age 47 h: the long ceiling', 47 * H, 0, 600_000],
    ['clock before the action start: the floor', -60 * S, 0, 5_000],
  ])('%s', (_name, age, evictable, expected) => {
    // Arrange
    const input = { now: STARTED_AT + age, startedAt: STARTED_AT, evictable };

    // Act
    const delay = nextPollDelayMs(input);

    // Assert
    expect(delay).toBe(expected);
  });

  test.each([
    // name, age ms, evictable, expected end from now (ms), expected delay ms
    ['an end in 60 s is met LEAD early', 10 * H, 0, 60 * S, 55_000],
    ['an end in 3 min, blocked pods too: met LEAD early', 10 * H, 2, 180 * S, 175_000],
    ['an end in 20 min is later than the ceiling: the ceiling', 10 * H, 0, 20 * 60 * S, 600_000],
    ['an end in 20 min while blocked: the PDB ceiling', 10 * H, 1, 20 * 60 * S, 300_000],
    ['an end just after the ramp: the ramp', 2_000 * S, 0, 105_001, 100_000],
    ['an end exactly ramp + LEAD away: either way the same', 2_000 * S, 0, 105_000, 100_000],
    ['an end just before ramp + LEAD: the end wins', 2_000 * S, 0, 104_999, 99_999],
    ['an end in 8 s: 3 s raised to the floor', 10 * H, 0, 8 * S, 5_000],
    ['an end exactly LEAD away: 0 raised to the floor', 10 * H, 0, LEAD_MS, 5_000],
    ['an end already past: the floor', 10 * H, 0, -30 * S, 5_000],
    ['an end 10 s away at the start: 5 s', 0, 0, 10 * S, 5_000],
    ['an end 10.5 s away: 5.5 s', 10 * H, 0, 10_500, 5_500],
  ])('%s', (_name, age, evictable, endIn, expected) => {
    // Arrange
    const now = STARTED_AT + age;
    const input = { now, startedAt: STARTED_AT, evictable, earliestExpectedEnd: now + endIn };

    // Act
    const delay = nextPollDelayMs(input);

    // Assert
    expect(delay).toBe(expected);
  });

  test('over a 48 h drain the delay never falls below the floor nor rises above the ceiling, and never shrinks with age', () => {
    // Arrange
    const ages = Array.from({ length: 48 * 60 + 1 }, (_, minute) => minute * 60 * S);

    // Act
    const blocked = ages.map((age) => nextPollDelayMs({ now: STARTED_AT + age, startedAt: STARTED_AT, evictable: 1 }));
    const waiting = ages.map((age) => nextPollDelayMs({ now: STARTED_AT + age, startedAt: STARTED_AT, evictable: 0 }));

    // Assert
    expect(Math.min(...blocked)).toBe(MIN_WAIT_MS);
    expect(Math.max(...blocked)).toBe(BLOCKED_WAIT_MS);
    expect(Math.min(...waiting)).toBe(MIN_WAIT_MS);
    expect(Math.max(...waiting)).toBe(LONG_WAIT_MS);
    expect(blocked.every((d, i) => i === 0 || d >= blocked[i - 1])).toBe(true);
    expect(waiting.every((d, i) => i === 0 || d >= waiting[i - 1])).toBe(true);
  });
});
