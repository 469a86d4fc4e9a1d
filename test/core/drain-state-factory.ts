import { computeDeadline, globalTimeoutSeconds } from '../../lambda/core/deadline';
import type { DeadlinePolicy, DrainState, DrainSummary } from '../../lambda/core/drain-state';

/** A fixed action start for workflow tests: 2026-01-01T00:00:00Z. */
export const STARTED_AT = Date.UTC(2026, 0, 1);

export const iso = (ms: number): string => new Date(ms).toISOString();
export const ms = (isoTime: string): number => Date.parse(isoTime);
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/**
 * Shortcuts that derive `hook` and `deadline` the way Prepare does; any
 * DrainState field given as well replaces the derived one wholesale.
 */
export interface DrainStateOptions {
  /** @default 1800 (the global timeout follows: 100×, capped at 48 h) */
  heartbeatTimeoutSeconds?: number;
  /** 0: as long as the hook allows. @default 0 */
  maxDrainSeconds?: number;
  /** @default 'force-delete' */
  policy?: DeadlinePolicy;
  /** ms epoch. @default STARTED_AT */
  startedAt?: number;
  /** ms epoch of the last heartbeat. @default none (the action start counts as the first beat) */
  lastBeatAt?: number;
  /** ms epoch at which the deadline policy acted. @default not acted */
  actedAt?: number;
  /** Estimated history events of this execution. @default 0 */
  historyEvents?: number;
}

export type DrainStateOverrides = DrainStateOptions & Partial<DrainState>;

/** A drain in its loop: node found, hook read, deadline computed with computeDeadline. */
export function drainState(overrides: DrainStateOverrides = {}): DrainState {
  const {
    heartbeatTimeoutSeconds = 1800,
    maxDrainSeconds = 0,
    policy = 'force-delete',
    startedAt = STARTED_AT,
    lastBeatAt,
    actedAt,
    historyEvents = 0,
    ...fields
  } = overrides;
  const global = globalTimeoutSeconds(heartbeatTimeoutSeconds);
  const deadline = computeDeadline({ startedAt, globalTimeoutSeconds: global, maxDrainSeconds, policy });
  return {
    action: {
      autoScalingGroupName: 'demo-asg',
      lifecycleHookName: 'drain-hook',
      instanceId: 'i-0123456789abcdef0',
      tokenHash: '0123456789abcdef',
      startedAt: iso(startedAt),
    },
    executionBase: 'drain-i-0123456789abcdef0-0123456789abcdef',
    generation: 0,
    next: 'drain',
    nodeName: 'ip-10-0-1-23.ec2.internal',
    hook: { heartbeatTimeoutSeconds, globalTimeoutSeconds: global, defaultResult: 'CONTINUE' },
    deadline: {
      hookExpiresAt: iso(deadline.hookExpiresAt),
      hardLimitAt: iso(deadline.hardLimitAt),
      actAt: iso(deadline.actAt),
      policy,
      ...(actedAt === undefined ? {} : { actedAt: iso(actedAt) }),
    },
    heartbeat: lastBeatAt === undefined ? { count: 0 } : { count: 1, lastAt: iso(lastBeatAt) },
    loop: { iterations: 0, historyEvents, apiErrorsInARow: 0 },
    totals: { evicted: 0, pdbBlocks: 0, forceDeleted: 0, apiErrors: 0, heartbeats: 0 },
    ...fields,
  };
}

/** What a round found. @default one pod a PDB keeps from being evicted */
export function summary(overrides: Partial<DrainSummary> = {}): DrainSummary {
  return {
    drained: false,
    evictable: 1,
    terminating: 0,
    blockedByPdb: [{ pod: 'default/web-1', pdb: 'default/web' }],
    misconfigured: [],
    stuck: [],
    counts: { blockedByPdb: overrides.blockedByPdb?.length ?? 1, misconfigured: 0, stuck: 0 },
    leftAlone: 0,
    ...overrides,
  };
}

/** Nothing left to evict or wait for. */
export const drainedSummary = (): DrainSummary => summary({ drained: true, evictable: 0, blockedByPdb: [] });

/** One pod being deleted whose grace period ends at `end` (ms epoch). */
export const terminatingSummary = (end: number): DrainSummary =>
  summary({ evictable: 0, terminating: 1, blockedByPdb: [], earliestExpectedEnd: iso(end), latestExpectedEnd: iso(end) });
