import {
  deleteGraceSeconds,
  COMPLETION_SAFETY_SECONDS,
  MAX_GLOBAL_TIMEOUT_SECONDS,
  clampedGraceSeconds,
  computeDeadline,
  globalTimeoutSeconds,
  heartbeatDueAt,
  heartbeatExpiresAt,
  heartbeatMarginMs,
} from '../../lambda/core/deadline';
import type { DeadlinePolicy } from '../../lambda/core/drain-state';
import { STARTED_AT } from './drain-state-factory';

const S = 1000;

describe('globalTimeoutSeconds', () => {
  test('constants: 48 h cap, 30 s completion safety', () => {
    // Arrange
    const fortyEightHours = 48 * 3600;

    // Act
    const cap = MAX_GLOBAL_TIMEOUT_SECONDS;

    // Assert
    expect(cap).toBe(fortyEightHours);
    expect(COMPLETION_SAFETY_SECONDS).toBe(30);
  });

  test.each([
    // heartbeatTimeoutSeconds, expected
    [30, 3_000],
    [300, 30_000],
    [1_727, 172_700],
    [1_728, 172_800],
    [1_729, 172_800],
    [1_800, 172_800],
    [3_600, 172_800],
    [7_200, 172_800],
  ])('a %i s heartbeat timeout allows %i s in all (100×, capped at 48 h)', (heartbeatTimeoutSeconds, expected) => {
    // Arrange (nothing: pure input)

    // Act
    const global = globalTimeoutSeconds(heartbeatTimeoutSeconds);

    // Assert
    expect(global).toBe(expected);
  });
});

describe('computeDeadline', () => {
  test.each<[string, number, number, DeadlinePolicy, { hook: number; hard: number; act: number }]>([
    // name, globalTimeoutSeconds, maxDrainSeconds, policy, expected offsets from the start in ms
    ['48 h hook, force-delete: 10% of 48 h capped at 5 min', 172_800, 0, 'force-delete', { hook: 172_800 * S, hard: 172_800 * S, act: 172_500 * S }],
    ['48 h hook, continue: 60 s to complete', 172_800, 0, 'continue', { hook: 172_800 * S, hard: 172_800 * S, act: 172_740 * S }],
    ['48 h hook, abandon: 60 s to complete', 172_800, 0, 'abandon', { hook: 172_800 * S, hard: 172_800 * S, act: 172_740 * S }],
    ['1 h max drain, force-delete: 10% = 6 min capped at 5 min', 172_800, 3_600, 'force-delete', { hook: 172_800 * S, hard: 3_600 * S, act: 3_300 * S }],
    ['30 min max drain, force-delete: 10% = 3 min', 172_800, 1_800, 'force-delete', { hook: 172_800 * S, hard: 1_800 * S, act: 1_620 * S }],
    ['10 min max drain, force-delete: 10% = 1 min', 172_800, 600, 'force-delete', { hook: 172_800 * S, hard: 600 * S, act: 540 * S }],
    ['5 min max drain, force-delete: 10% = 30 s raised to 60 s', 172_800, 300, 'force-delete', { hook: 172_800 * S, hard: 300 * S, act: 240 * S }],
    ['1 h max drain, continue', 172_800, 3_600, 'continue', { hook: 172_800 * S, hard: 3_600 * S, act: 3_540 * S }],
    ['1 h max drain, abandon', 172_800, 3_600, 'abandon', { hook: 172_800 * S, hard: 3_600 * S, act: 3_540 * S }],
    ['max drain longer than the hook: the hook wins', 172_800, 200_000, 'continue', { hook: 172_800 * S, hard: 172_800 * S, act: 172_740 * S }],
    ['max drain equal to the hook', 3_000, 3_000, 'force-delete', { hook: 3_000 * S, hard: 3_000 * S, act: 2_700 * S }],
    ['30 s heartbeat hook (3000 s), force-delete', 3_000, 0, 'force-delete', { hook: 3_000 * S, hard: 3_000 * S, act: 2_700 * S }],
    ['30 s heartbeat hook (3000 s), continue', 3_000, 0, 'continue', { hook: 3_000 * S, hard: 3_000 * S, act: 2_940 * S }],
    // Tiny budgets: the reserve is never more than half the budget.
    ['tiny: 100 s, force-delete reserve 60 s cut to 50 s', 172_800, 100, 'force-delete', { hook: 172_800 * S, hard: 100 * S, act: 50 * S }],
    ['tiny: 120 s, force-delete reserve 60 s is exactly half', 172_800, 120, 'force-delete', { hook: 172_800 * S, hard: 120 * S, act: 60 * S }],
    ['tiny: 120 s, continue reserve 60 s is exactly half', 172_800, 120, 'continue', { hook: 172_800 * S, hard: 120 * S, act: 60 * S }],
    ['tiny: 40 s, continue reserve cut to 20 s', 172_800, 40, 'continue', { hook: 172_800 * S, hard: 40 * S, act: 20 * S }],
    ['tiny: 1 s, abandon reserve cut to 0.5 s', 172_800, 1, 'abandon', { hook: 172_800 * S, hard: 1 * S, act: 500 }],
  ])('%s', (_name, global, maxDrainSeconds, policy, expected) => {
    // Arrange
    const args = { startedAt: STARTED_AT, globalTimeoutSeconds: global, maxDrainSeconds, policy };

    // Act
    const deadline = computeDeadline(args);

    // Assert
    expect(deadline).toEqual({
      hookExpiresAt: STARTED_AT + expected.hook,
      hardLimitAt: STARTED_AT + expected.hard,
      actAt: STARTED_AT + expected.act,
    });
  });

  test.each<DeadlinePolicy>(['force-delete', 'continue', 'abandon'])(
    '%s: for every budget from 1 s to 48 h the reserve is at most half the budget and actAt is after the start',
    (policy) => {
      // Arrange
      const budgets: number[] = [];
      for (let seconds = 1; seconds <= 172_800; seconds = Math.ceil(seconds * 1.07)) budgets.push(seconds);
      budgets.push(172_800);

      // Act
      const violations = budgets.filter((maxDrainSeconds) => {
        const d = computeDeadline({ startedAt: STARTED_AT, globalTimeoutSeconds: 172_800, maxDrainSeconds, policy });
        const budget = d.hardLimitAt - STARTED_AT;
        const reserve = d.hardLimitAt - d.actAt;
        return !(reserve > 0 && reserve <= budget / 2 && d.actAt > STARTED_AT && d.hardLimitAt === STARTED_AT + maxDrainSeconds * S);
      });

      // Assert
      expect(budgets.length).toBeGreaterThan(100);
      expect(violations).toEqual([]);
    },
  );
});

describe('clampedGraceSeconds', () => {
  const hardLimitAt = STARTED_AT + 172_800 * S;

  test.each([
    // podGraceSeconds, ms left before the hard limit, expected
    [30, 300 * S, 30], // own grace: time allows
    [260, 300 * S, 260], // own grace fits exactly
    [600, 300 * S, 260], // clamped to the time left minus the completion safety and the slack
    [600, 300 * S + 999, 260], // partial seconds left are dropped
    [3_600, 90 * S, 50],
    [30, 70 * S, 30],
    [30, 69 * S, 29],
    [30, 41 * S, 1],
    [30, 40 * S, 0], // nothing left after the safety and the slack
    [30, 10 * S, 0], // never negative
    [30, -60 * S, 0], // past the hard limit: never negative
    [0, 300 * S, 0], // a zero grace stays zero
  ])('a pod with %i s grace, %i ms before the hard limit, gets %i s', (podGraceSeconds, leftMs, expected) => {
    // Arrange
    const now = hardLimitAt - leftMs;

    // Act
    const grace = clampedGraceSeconds(podGraceSeconds, now, hardLimitAt);

    // Assert
    expect(grace).toBe(expected);
  });
});

describe('heartbeats', () => {
  test.each([
    // heartbeatTimeoutSeconds, margin ms, due after the last beat ms
    [30, 15_000, 15_000], // 20% = 6 s, raised to 60 s, cut to half the timeout
    [120, 60_000, 60_000], // 60 s is exactly half
    [300, 60_000, 240_000], // 20% = 60 s
    [1_800, 360_000, 1_440_000], // 20%
    [7_200, 1_440_000, 5_760_000], // 20%
  ])('a %i s hook: margin %i ms, next beat due %i ms after the last, strictly before expiry', (timeout, margin, dueAfter) => {
    // Arrange
    const lastBeat = STARTED_AT + 12_345;

    // Act
    const actualMargin = heartbeatMarginMs(timeout);
    const due = heartbeatDueAt(lastBeat, timeout);
    const expires = heartbeatExpiresAt(lastBeat, timeout);

    // Assert
    expect(actualMargin).toBe(margin);
    expect(due).toBe(lastBeat + dueAfter);
    expect(expires).toBe(lastBeat + timeout * S);
    expect(due).toBeLessThan(expires);
    expect(due).toBeGreaterThan(lastBeat);
  });

  test('for every hook timeout AWS allows (30–7200 s) the beat is due strictly inside the timeout, at least half of it early', () => {
    // Arrange
    const timeouts = Array.from({ length: 7200 - 30 + 1 }, (_, i) => 30 + i);

    // Act
    const bad = timeouts.filter((t) => {
      const due = heartbeatDueAt(0, t);
      return !(due > 0 && due < t * S && t * S - due >= Math.min(60 * S, (t * S) / 2));
    });

    // Assert
    expect(bad).toEqual([]);
  });
});

describe('deleteGraceSeconds', () => {
  const now = Date.UTC(2026, 0, 1);
  const endBy = now + 200_000;
  test.each<[string, Parameters<typeof deleteGraceSeconds>[0], number | undefined]>([
    ['not terminating, its own grace fits', { terminationGracePeriodSeconds: 30 }, 30],
    ['not terminating, clamped to the time left', { terminationGracePeriodSeconds: 3600 }, 200],
    ['terminating, ends in time: nothing to send', { terminationGracePeriodSeconds: 60, deletionTimestamp: now + 50_000, deletionGracePeriodSeconds: 60 }, undefined],
    // Deleted 3000 s ago with 3600 s: the grace that puts the end on endBy is 3200 s,
    // where sending 200 s would land before now and be cut to 1 s by the API server.
    ['terminating for long, ends too late: counted from the first deletion', { terminationGracePeriodSeconds: 3600, deletionTimestamp: now + 600_000, deletionGracePeriodSeconds: 3600 }, 3200],
    ['terminating since just now', { terminationGracePeriodSeconds: 3600, deletionTimestamp: now + 3_600_000, deletionGracePeriodSeconds: 3600 }, 200],
  ])('%s', (_case, pod, expected) => {
    // Arrange: the table row

    // Act
    const grace = deleteGraceSeconds(pod, now, endBy);

    // Assert
    expect(grace).toBe(expected);
    if (grace !== undefined && pod.deletionTimestamp !== undefined) {
      // What the API server then sets: old − old grace + new grace, lands on endBy.
      expect(pod.deletionTimestamp - pod.deletionGracePeriodSeconds! * 1000 + grace * 1000).toBe(endBy);
    }
  });
});
