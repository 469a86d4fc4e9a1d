import { AGE_DIVISOR, LEAD_MS, MAX_WAIT_MS, MIN_WAIT_MS, nextPollDelayMs } from '../../lambda/core/pacing';
import { STARTED_AT } from './drain-state-factory';

const S = 1000;
const H = 3_600 * S;

describe('nextPollDelayMs', () => {
  test('constants', () => {
    // Arrange
    const expected = { MIN_WAIT_MS: 5_000, MAX_WAIT_MS: 600_000, LEAD_MS: 5_000, AGE_DIVISOR: 20 };

    // Act
    const actual = { MIN_WAIT_MS, MAX_WAIT_MS, LEAD_MS, AGE_DIVISOR };

    // Assert
    expect(actual).toEqual(expected);
  });

  test.each([
    // name, age ms, evictable, expected delay ms
    ['at the start: the floor', 0, 5_000],
    ['age 60 s: a twentieth (3 s) is raised to the floor', 60 * S, 5_000],
    ['age 100 s: a twentieth is the floor', 100 * S, 5_000],
    ['age 200 s: a twentieth', 200 * S, 10_000],
    ['age 246.91 s: a twentieth, rounded', 246_910, 12_346],
    ['age 2000 s: a twentieth', 2_000 * S, 100_000],
    ['age 11998 s: just under the ceiling', 11_998 * S, 599_900],
    ['age 12000 s: the ceiling', 12_000 * S, 600_000],
    ['age 47 h: the ceiling', 47 * H, 600_000],
    ['clock before the action start: the floor', -60 * S, 5_000],
  ])('%s', (_name, age, expected) => {
    // Arrange
    const input = { now: STARTED_AT + age, startedAt: STARTED_AT };

    // Act
    const delay = nextPollDelayMs(input);

    // Assert
    expect(delay).toBe(expected);
  });

  test.each([
    // name, age ms, expected end from now (ms), expected delay ms
    ['an end in 60 s is met LEAD early', 10 * H, 60 * S, 55_000],
    ['an end in 3 min: met LEAD early', 10 * H, 180 * S, 175_000],
    ['an end in 20 min is later than the ceiling: the ceiling', 10 * H, 20 * 60 * S, 600_000],
    ['an end just after the ramp: the ramp', 2_000 * S, 105_001, 100_000],
    ['an end exactly ramp + LEAD away: either way the same', 2_000 * S, 105_000, 100_000],
    ['an end just before ramp + LEAD: the end wins', 2_000 * S, 104_999, 99_999],
    ['an end in 8 s: 3 s raised to the floor', 10 * H, 8 * S, 5_000],
    ['an end exactly LEAD away: 0 raised to the floor', 10 * H, LEAD_MS, 5_000],
    ['an end already past: the floor', 10 * H, -30 * S, 5_000],
    ['an end 10 s away at the start: 5 s', 0, 10 * S, 5_000],
    ['an end 10.5 s away: 5.5 s', 10 * H, 10_500, 5_500],
  ])('%s', (_name, age, endIn, expected) => {
    // Arrange
    const now = STARTED_AT + age;
    const input = { now, startedAt: STARTED_AT, earliestExpectedEnd: now + endIn };

    // Act
    const delay = nextPollDelayMs(input);

    // Assert
    expect(delay).toBe(expected);
  });

  test('over a 48 h drain the delay never falls below the floor nor rises above the ceiling, and never shrinks with age', () => {
    // Arrange
    const ages = Array.from({ length: 48 * 60 + 1 }, (_, minute) => minute * 60 * S);

    // Act
    const delays = ages.map((age) => nextPollDelayMs({ now: STARTED_AT + age, startedAt: STARTED_AT }));

    // Assert
    expect(Math.min(...delays)).toBe(MIN_WAIT_MS);
    expect(Math.max(...delays)).toBe(MAX_WAIT_MS);
    expect(delays.every((d, i) => i === 0 || d >= delays[i - 1])).toBe(true);
  });
});
