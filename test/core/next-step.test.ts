import { COMPLETION_SAFETY_SECONDS, heartbeatExpiresAt } from '../../lambda/core/deadline';
import type { DeadlinePolicy, DrainState, DrainSummary } from '../../lambda/core/drain-state';
import { HISTORY_EVENTS } from '../../lambda/core/history-budget';
import { MIN_WAIT_MS } from '../../lambda/core/pacing';
import { decideAfterRound, lastBeatAt, nextHeartbeatAt, roundEndsBy } from '../../lambda/core/next-step';
import {
  HOUR,
  MINUTE,
  SECOND,
  STARTED_AT,
  drainState,
  drainedSummary,
  iso,
  ms,
  summary,
  terminatingSummary,
} from './drain-state-factory';

// The default drain: 1800 s heartbeat hook, 48 h global timeout, force-delete.
const ACT_AT = STARTED_AT + 172_500 * SECOND; // 48 h minus a 5 min reserve
const HARD_LIMIT_AT = STARTED_AT + 172_800 * SECOND;
const HARD_STOP = HARD_LIMIT_AT - COMPLETION_SAFETY_SECONDS * SECOND;
const FIRST_BEAT_DUE = STARTED_AT + 1_440 * SECOND; // 1800 s minus a 360 s margin

describe('the factory', () => {
  test('builds the default drain with the deadline Prepare would compute', () => {
    // Arrange
    const overrides = {};

    // Act
    const state = drainState(overrides);

    // Assert
    expect(state.action.startedAt).toBe('2026-01-01T00:00:00.000Z');
    expect(state.hook).toEqual({ heartbeatTimeoutSeconds: 1800, globalTimeoutSeconds: 172_800, defaultResult: 'CONTINUE' });
    expect(state.deadline).toEqual({
      hookExpiresAt: '2026-01-03T00:00:00.000Z',
      hardLimitAt: '2026-01-03T00:00:00.000Z',
      actAt: '2026-01-02T23:55:00.000Z',
      policy: 'force-delete',
    });
    expect(state.heartbeat).toEqual({ count: 0 });
  });
});

describe('lastBeatAt / nextHeartbeatAt', () => {
  test.each([
    // name, last beat (undefined: none yet), expected last beat, expected next due
    ['no beat yet: the action start counts as the first', undefined, STARTED_AT, FIRST_BEAT_DUE],
    ['after a beat: counted from it', STARTED_AT + 2 * HOUR, STARTED_AT + 2 * HOUR, STARTED_AT + 2 * HOUR + 1_440 * SECOND],
  ])('%s', (_name, lastBeat, expectedLast, expectedDue) => {
    // Arrange
    const state = drainState({ lastBeatAt: lastBeat });

    // Act
    const last = lastBeatAt(state);
    const due = nextHeartbeatAt(state);

    // Assert
    expect(last).toBe(expectedLast);
    expect(due).toBe(expectedDue);
  });
});

describe('roundEndsBy', () => {
  test.each<[string, Parameters<typeof drainState>[0], number]>([
    ['a fresh drain: when the first heartbeat is due', {}, FIRST_BEAT_DUE],
    ['near the deadline: when the policy acts', { lastBeatAt: ACT_AT - 100 * SECOND }, ACT_AT],
    ['after acting, beat due first: the heartbeat', { actedAt: ACT_AT, lastBeatAt: ACT_AT - 1_400 * SECOND }, ACT_AT + 40 * SECOND],
    ['after acting, recent beat: the hard limit minus the completion safety', { actedAt: ACT_AT, lastBeatAt: ACT_AT }, HARD_STOP],
    ['1 h max drain, continue: actAt before the first beat', { policy: 'continue', maxDrainSeconds: 600 }, STARTED_AT + 540 * SECOND],
    ['30 s hook: beat due every 15 s', { heartbeatTimeoutSeconds: 30, lastBeatAt: STARTED_AT + 600 * SECOND }, STARTED_AT + 615 * SECOND],
  ])('%s', (_name, overrides, expected) => {
    // Arrange
    const state = drainState(overrides);

    // Act
    const endsBy = roundEndsBy(state);

    // Assert
    expect(endsBy).toBe(expected);
  });

  test('no deadline yet: only the heartbeat bounds the round', () => {
    // Arrange
    const state = drainState({ deadline: undefined });

    // Act
    const endsBy = roundEndsBy(state);

    // Assert
    expect(endsBy).toBe(FIRST_BEAT_DUE);
  });
});

describe('decideAfterRound: finishing', () => {
  test.each<[string, Parameters<typeof drainState>[0], number, string]>([
    ['drained early', {}, STARTED_AT + 10 * MINUTE, 'drained'],
    ['drained with a heartbeat due and the history budget spent', { historyEvents: 20_000 }, FIRST_BEAT_DUE + MINUTE, 'drained'],
    ['drained past actAt, before the policy acted', {}, ACT_AT + MINUTE, 'drained'],
    ['drained after the policy force-deleted pods', { actedAt: ACT_AT }, ACT_AT + MINUTE, 'deadline-force-deleted'],
  ])('%s → complete CONTINUE %s', (_name, overrides, now, reason) => {
    // Arrange
    const state = drainState(overrides);

    // Act
    const routing = decideAfterRound(state, drainedSummary(), now);

    // Assert
    expect(routing).toEqual({ next: 'complete', result: { lifecycleResult: 'CONTINUE', reason } });
  });
});

describe('decideAfterRound: the deadline', () => {
  test.each<[string, number, DrainSummary]>([
    ['exactly at actAt, blocked pod', ACT_AT, summary()],
    ['past actAt, terminating pod', ACT_AT + 30 * SECOND, terminatingSummary(ACT_AT + HOUR)],
    ['past the hard limit (a late round)', HARD_LIMIT_AT + SECOND, summary()],
  ])('%s → deadline', (_name, now, found) => {
    // Arrange
    const state = drainState({ lastBeatAt: ACT_AT - 10 * MINUTE });

    // Act
    const routing = decideAfterRound(state, found, now);

    // Assert
    expect(routing).toEqual({ next: 'deadline' });
  });

  test('1 ms before actAt: wait, no later than actAt', () => {
    // Arrange
    const state = drainState({ lastBeatAt: ACT_AT - 10 * MINUTE });
    const now = ACT_AT - 10 * SECOND;

    // Act
    const routing = decideAfterRound(state, summary(), now);

    // Assert
    expect(routing).toEqual({ next: 'wait', waitUntil: iso(ACT_AT) });
  });

  test('the deadline wins over the history budget', () => {
    // Arrange
    const state = drainState({ lastBeatAt: ACT_AT - 10 * MINUTE, historyEvents: 14_990 });

    // Act
    const routing = decideAfterRound(state, summary(), ACT_AT);

    // Assert
    expect(routing).toEqual({ next: 'deadline' });
  });

  test.each<[string, number, ReturnType<typeof decideAfterRound>]>([
    ['after acting, past actAt: no second deadline, wait (the 300 s delay is cut to hard stop − MIN_WAIT)', ACT_AT + MINUTE, { next: 'wait', waitUntil: iso(HARD_STOP - MIN_WAIT_MS) }],
    ['after acting, 1 ms before hard stop − MIN_WAIT: still wait, 1 s', HARD_STOP - MIN_WAIT_MS - 1, { next: 'wait', waitUntil: iso(HARD_STOP - MIN_WAIT_MS - 1 + SECOND) }],
    [
      'after acting, at hard stop − MIN_WAIT: complete',
      HARD_STOP - MIN_WAIT_MS,
      { next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'deadline-force-deleted' } },
    ],
    [
      'after acting, past the hard limit: complete',
      HARD_LIMIT_AT + MINUTE,
      { next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'deadline-force-deleted' } },
    ],
  ])('%s', (_name, now, expected) => {
    // Arrange
    const state = drainState({ actedAt: ACT_AT, lastBeatAt: ACT_AT });

    // Act
    const routing = decideAfterRound(state, terminatingSummary(HARD_STOP), now);

    // Assert
    expect(routing).toEqual(expected);
  });

  test('after acting, the wait ends MIN_WAIT before the hard stop, so the next round completes in time', () => {
    // Arrange
    const state = drainState({ actedAt: ACT_AT, lastBeatAt: ACT_AT });
    const now = HARD_STOP - MINUTE;

    // Act
    const routing = decideAfterRound(state, summary(), now);

    // Assert
    expect(routing).toEqual({ next: 'wait', waitUntil: iso(HARD_STOP - MIN_WAIT_MS) });
  });

  describe('a Spot drain deletes tier by tier', () => {
    // Notice at STARTED_AT: the interruption two minutes later, the deletion a minute before it.
    const spot = { noticeAt: iso(STARTED_AT), instanceAction: 'terminate' as const };
    const INTERRUPT_AT = STARTED_AT + 2 * MINUTE;
    const acted = () => ({ ...drainState({ startedAt: STARTED_AT }), spot, deadline: { hookExpiresAt: iso(INTERRUPT_AT), hardLimitAt: iso(INTERRUPT_AT), actAt: iso(STARTED_AT + MINUTE), actedAt: iso(STARTED_AT + MINUTE), policy: 'force-delete' as const } });
    const held = summary({ evictable: 1, tier: 'critical', blockedByPdb: [{ pod: 'kube-system/coredns-1', pdb: 'kube-system/coredns' }] });

    test.each([
      ['a later tier a PDB holds: back to the deadline policy', acted(), held, STARTED_AT + 90 * SECOND, { next: 'deadline' }],
      ['a later tier with a misconfigured PDB: back to the deadline policy', acted(), summary({ evictable: 1, blockedByPdb: [], misconfigured: [{ pod: 'a/b', pdbs: ['a/x', 'a/y'] }] }), STARTED_AT + 90 * SECOND, { next: 'deadline' }],
      ['past the interruption: complete, nothing left to save', acted(), held, INTERRUPT_AT, { next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'deadline-force-deleted' } }],
      ['a lifecycle drain that acted: it deleted every tier at once, nothing to come back for', { ...acted(), spot: undefined }, held, STARTED_AT + 88 * SECOND, { next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'deadline-force-deleted' } }],
    ] as const)('%s', (_name, state, roundSummary, now, expected) => {
      expect(decideAfterRound(state as DrainState, roundSummary, now)).toEqual(expected);
    });
  });

  test('after acting, the completion is still routed before the hook expires with a history budget spent', () => {
    // Arrange
    const state = drainState({ actedAt: ACT_AT, lastBeatAt: ACT_AT, historyEvents: 20_000 });

    // Act
    const routing = decideAfterRound(state, summary(), HARD_STOP - MIN_WAIT_MS);

    // Assert
    expect(routing).toEqual({ next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'deadline-force-deleted' } });
  });
});

describe('decideAfterRound: history budget', () => {
  test.each([
    // historyEvents, expected next
    [14_982, 'wait'],
    [14_983, 'continue-as-new'],
    [20_000, 'continue-as-new'],
  ])('%i events used → %s', (historyEvents, expected) => {
    // Arrange
    const state = drainState({ historyEvents });

    // Act
    const routing = decideAfterRound(state, summary(), STARTED_AT + 10 * MINUTE);

    // Assert
    expect(routing.next).toBe(expected);
    if (expected === 'continue-as-new') expect(routing).toEqual({ next: 'continue-as-new' });
  });
});

describe('decideAfterRound: heartbeats and waits', () => {
  test.each<[string, Parameters<typeof drainState>[0], number, DrainSummary, ReturnType<typeof decideAfterRound>]>([
    [
      'beat due exactly now: heartbeat, wake after the poll delay (72 s)',
      {},
      FIRST_BEAT_DUE,
      summary(),
      { next: 'heartbeat', waitUntil: iso(FIRST_BEAT_DUE + 72 * SECOND) },
    ],
    [
      'beat overdue: heartbeat, the next beat counted from now',
      { lastBeatAt: STARTED_AT + 10 * HOUR },
      STARTED_AT + 10 * HOUR + 1_500 * SECOND,
      terminatingSummary(STARTED_AT + 40 * HOUR),
      { next: 'heartbeat', waitUntil: iso(STARTED_AT + 10 * HOUR + 1_500 * SECOND + 600 * SECOND) },
    ],
    [
      '30 s hook: heartbeat, wake for the next beat 15 s later (the poll delay is 50.75 s)',
      { heartbeatTimeoutSeconds: 30, lastBeatAt: STARTED_AT + 1_000 * SECOND },
      STARTED_AT + 1_015 * SECOND,
      summary(),
      { next: 'heartbeat', waitUntil: iso(STARTED_AT + 1_030 * SECOND) },
    ],
    [
      '30 s hook, beat 5 s overdue: the next beat is counted from now, not from when it was due',
      { heartbeatTimeoutSeconds: 30, lastBeatAt: STARTED_AT + 1_000 * SECOND },
      STARTED_AT + 1_020 * SECOND,
      summary(),
      { next: 'heartbeat', waitUntil: iso(STARTED_AT + 1_035 * SECOND) },
    ],
    [
      '1 ms before the beat is due: wait, at most until it is due (floor 1 s)',
      {},
      FIRST_BEAT_DUE - 1,
      summary(),
      { next: 'wait', waitUntil: iso(FIRST_BEAT_DUE - 1 + SECOND) },
    ],
    ['poll delay wins: a twentieth of 1000 s', {}, STARTED_AT + 1_000 * SECOND, summary(), { next: 'wait', waitUntil: iso(STARTED_AT + 1_050 * SECOND) }],
    ['next beat wins', {}, STARTED_AT + 1_400 * SECOND, summary(), { next: 'wait', waitUntil: iso(FIRST_BEAT_DUE) }],
    [
      'expected end wins: met LEAD early',
      {},
      STARTED_AT + 1_000 * SECOND,
      terminatingSummary(STARTED_AT + 1_030 * SECOND),
      { next: 'wait', waitUntil: iso(STARTED_AT + 1_025 * SECOND) },
    ],
    ['actAt wins', { lastBeatAt: ACT_AT - 100 * SECOND }, ACT_AT - 50 * SECOND, summary(), { next: 'wait', waitUntil: iso(ACT_AT) }],
    [
      'heartbeat due and actAt sooner than the next beat: actAt wins',
      { lastBeatAt: ACT_AT - 1_440 * SECOND - 20 * SECOND },
      ACT_AT - 20 * SECOND,
      summary(),
      { next: 'heartbeat', waitUntil: iso(ACT_AT) },
    ],
    [
      'the 1 s floor wins over actAt 400 ms away (lands 600 ms after actAt: see the report)',
      { lastBeatAt: ACT_AT - 100 * SECOND },
      ACT_AT - 400,
      summary(),
      { next: 'wait', waitUntil: iso(ACT_AT + 600) },
    ],
    ['at the very start: the floor wait (5 s)', {}, STARTED_AT, summary(), { next: 'wait', waitUntil: iso(STARTED_AT + 5 * SECOND) }],
  ])('%s', (_name, overrides, now, found, expected) => {
    // Arrange
    const state = drainState(overrides);

    // Act
    const routing = decideAfterRound(state, found, now);

    // Assert
    expect(routing).toEqual(expected);
  });

  test('invariants over a grid of moments and last beats: waitUntil ≥ now + 1 s, and past the floor never after actAt nor the next beat', () => {
    // Arrange
    const cases: Array<{ policy: DeadlinePolicy; timeout: number; now: number; lastBeat: number; found: DrainSummary }> = [];
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (const timeout of [30, 300, 1_800, 7_200]) {
      for (const policy of ['force-delete', 'continue', 'abandon'] as const) {
        for (let i = 0; i < 300; i++) {
          const global = Math.min(100 * timeout, 172_800) * SECOND;
          const now = STARTED_AT + Math.floor(random() * global);
          const lastBeat = now - Math.floor(random() * timeout * SECOND);
          const found = random() < 0.5 ? summary() : terminatingSummary(now + Math.floor(random() * HOUR) - MINUTE);
          cases.push({ policy, timeout, now, lastBeat: Math.max(STARTED_AT, lastBeat), found });
        }
      }
    }

    // Act
    const violations = cases.flatMap((c) => {
      const state = drainState({ policy: c.policy, heartbeatTimeoutSeconds: c.timeout, lastBeatAt: c.lastBeat });
      const routing = decideAfterRound(state, c.found, c.now);
      if (routing.next !== 'wait' && routing.next !== 'heartbeat') return [];
      const waitUntil = ms(routing.waitUntil!);
      const beatFrom = routing.next === 'heartbeat' ? c.now : c.lastBeat;
      const nextDue = nextHeartbeatAt({ ...state, heartbeat: { count: 1, lastAt: iso(beatFrom) } });
      const expiry = heartbeatExpiresAt(beatFrom, c.timeout);
      const problems = [
        waitUntil < c.now + SECOND && 'before now + 1 s',
        waitUntil > c.now + SECOND && waitUntil > ms(state.deadline!.actAt) && 'after actAt',
        waitUntil > c.now + SECOND && waitUntil > nextDue && 'after the next beat is due',
        waitUntil >= expiry && 'at or after the heartbeat expiry',
      ].filter(Boolean);
      return problems.length ? [{ ...c, routing, problems }] : [];
    });

    // Assert
    expect(cases.length).toBe(3_600);
    expect(violations).toEqual([]);
  });
});

describe('decideAfterRound: preconditions', () => {
  test('throws without the deadline from Prepare', () => {
    // Arrange
    const state = drainState({ deadline: undefined });

    // Act
    const act = () => decideAfterRound(state, summary(), STARTED_AT);

    // Assert
    expect(act).toThrow('decideAfterRound needs the deadline computed by Prepare');
  });

  test('throws without the hook timeouts once it must plan a heartbeat', () => {
    // Arrange
    const state = drainState({ hook: undefined });

    // Act
    const act = () => decideAfterRound(state, summary(), STARTED_AT + MINUTE);

    // Assert
    expect(act).toThrow('the hook timeouts are read by Prepare before any drain round');
  });
});

/**
 * Drives decideAfterRound the way the state machine does: a round watches the
 * node until min(now + roundMs, roundEndsBy), then the decision; a heartbeat
 * is recorded at the decision's moment; the Wait ends at waitUntil.
 */
function simulate(args: {
  heartbeatTimeoutSeconds: number;
  policy: DeadlinePolicy;
  found: DrainSummary;
  roundMs: number;
  /** Keep going after 'deadline' as if the policy force-deleted the pods. */
  actOnDeadline: boolean;
}) {
  let state: DrainState = drainState({ heartbeatTimeoutSeconds: args.heartbeatTimeoutSeconds, policy: args.policy });
  const beats = [STARTED_AT];
  let now = STARTED_AT;
  let iterations = 0;
  let continuations = 0;
  const nexts: string[] = [];
  for (;;) {
    if (iterations > 100_000) throw new Error('the loop never ended');
    now = Math.max(now, Math.min(now + args.roundMs, roundEndsBy(state)));
    iterations += 1;
    const routing = decideAfterRound(state, args.found, now);
    nexts.push(routing.next);
    if (routing.next === 'complete') return { beats, now, iterations, continuations, nexts, routing };
    if (routing.next === 'deadline') {
      if (!args.actOnDeadline) return { beats, now, iterations, continuations, nexts, routing };
      state = { ...state, deadline: { ...state.deadline!, actedAt: iso(now) } };
      continue;
    }
    if (routing.next === 'continue-as-new') {
      continuations += 1;
      state = { ...state, loop: { ...state.loop, historyEvents: 12 } };
      continue;
    }
    let events = HISTORY_EVENTS.task + HISTORY_EVENTS.choice + HISTORY_EVENTS.wait;
    if (routing.next === 'heartbeat') {
      beats.push(now);
      state = { ...state, heartbeat: { count: state.heartbeat.count + 1, lastAt: iso(now) } };
      events += HISTORY_EVENTS.task + HISTORY_EVENTS.choice;
    }
    state = { ...state, loop: { ...state.loop, historyEvents: state.loop.historyEvents + events } };
    const waitUntil = ms(routing.waitUntil!);
    expect(waitUntil).toBeGreaterThanOrEqual(now + SECOND);
    now = waitUntil;
  }
}

const maxGap = (moments: number[]) => Math.max(...moments.slice(1).map((m, i) => m - moments[i]));

describe('a drain of one pod that never ends', () => {
  const blocked = summary();
  const terminating = terminatingSummary(STARTED_AT + 72 * HOUR);

  test.each<[string, number, DeadlinePolicy, DrainSummary, number]>([
    ['1800 s hook (48 h), blocked by a PDB, instant rounds', 1_800, 'force-delete', blocked, 0],
    ['1800 s hook (48 h), blocked by a PDB, 60 s rounds', 1_800, 'force-delete', blocked, 60 * SECOND],
    ['1800 s hook (48 h), terminating for 72 h, instant rounds', 1_800, 'continue', terminating, 0],
    ['1800 s hook (48 h), terminating for 72 h, 60 s rounds', 1_800, 'abandon', terminating, 60 * SECOND],
    ['1728 s hook (48 h), blocked, 60 s rounds', 1_728, 'force-delete', blocked, 60 * SECOND],
    ['7200 s hook (48 h), blocked, 60 s rounds', 7_200, 'force-delete', blocked, 60 * SECOND],
    ['300 s hook (8 h 20 min), blocked, 60 s rounds', 300, 'force-delete', blocked, 60 * SECOND],
    ['30 s hook (50 min), blocked, 60 s rounds', 30, 'force-delete', blocked, 60 * SECOND],
    ['30 s hook (50 min), terminating, instant rounds', 30, 'continue', terminating, 0],
  ])('%s: never misses a heartbeat and reaches the deadline before the hook expires', (_name, timeout, policy, found, roundMs) => {
    // Arrange
    const state = drainState({ heartbeatTimeoutSeconds: timeout, policy });
    const actAt = ms(state.deadline!.actAt);
    const hookExpiresAt = ms(state.deadline!.hookExpiresAt);

    // Act
    const run = simulate({ heartbeatTimeoutSeconds: timeout, policy, found, roundMs, actOnDeadline: false });

    // Assert
    expect(run.routing).toEqual({ next: 'deadline' });
    expect(run.now).toBeGreaterThanOrEqual(actAt);
    expect(run.now).toBeLessThan(actAt + roundMs + SECOND);
    expect(run.now).toBeLessThan(hookExpiresAt);
    expect(maxGap([...run.beats, run.now])).toBeLessThan(timeout * SECOND);
    expect(run.continuations).toBe(0);
  });

  test.each<[string, DrainSummary, number]>([
    ['blocked by a PDB, instant rounds', blocked, 0],
    ['blocked by a PDB, 60 s rounds', blocked, 60 * SECOND],
    ['terminating, instant rounds', terminating, 0],
    ['terminating, 60 s rounds', terminating, 60 * SECOND],
  ])('48 h at 1800 s heartbeats (%s) takes fewer than 700 rounds in one execution', (_name, found, roundMs) => {
    // Arrange
    const args = { heartbeatTimeoutSeconds: 1_800, policy: 'force-delete' as const, found, roundMs, actOnDeadline: false };

    // Act
    const run = simulate(args);

    // Assert
    expect(run.iterations).toBeLessThan(700);
    expect(run.iterations).toBeGreaterThan(172_500 / 600); // at least one round per longest wait
    expect(run.beats.length - 1).toBeGreaterThanOrEqual(Math.floor(172_500 / 1_440));
    expect(run.continuations).toBe(0);
  });

  test.each<[string, number, number]>([
    ['1800 s hook, instant rounds', 1_800, 0],
    ['1800 s hook, 60 s rounds', 1_800, 60 * SECOND],
    ['30 s hook, 60 s rounds', 30, 60 * SECOND],
  ])('force-delete, pods still there after acting (%s): completes before the hard limit, heartbeats to the end', (_name, timeout, roundMs) => {
    // Arrange
    const state = drainState({ heartbeatTimeoutSeconds: timeout });
    const hardLimitAt = ms(state.deadline!.hardLimitAt);
    const hardStop = hardLimitAt - COMPLETION_SAFETY_SECONDS * SECOND;

    // Act
    const run = simulate({ heartbeatTimeoutSeconds: timeout, policy: 'force-delete', found: summary(), roundMs, actOnDeadline: true });

    // Assert
    expect(run.routing).toEqual({ next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'deadline-force-deleted' } });
    expect(run.nexts.filter((n) => n === 'deadline')).toHaveLength(1);
    expect(run.now).toBeGreaterThanOrEqual(hardStop - MIN_WAIT_MS);
    expect(run.now).toBeLessThanOrEqual(hardStop);
    expect(maxGap([...run.beats, run.now])).toBeLessThan(timeout * SECOND);
  });
});
