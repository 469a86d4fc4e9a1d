/**
 * The state that flows through the Step Functions drain workflow. Every Lambda
 * receives the whole state as its payload and returns the whole new state
 * (the state machine keeps `$.Payload`), so each step is a function
 * state → state: easy to test, and safe to redrive because it re-reads the
 * world instead of trusting what it did before.
 *
 * The lifecycle token is in the state because CompleteLifecycleAction needs it;
 * logs only ever show `tokenHash`.
 */

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** What to do when the drain reaches its deadline with pods still on the node. */
export type DeadlinePolicy = 'force-delete' | 'continue' | 'abandon';

export interface LifecycleAction {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  instanceId: string;
  lifecycleActionToken: string;
  /** First 16 hex characters of sha256(token): safe to log and to put in names. */
  tokenHash: string;
  /** When the lifecycle action started (the event's `time`), ISO 8601. */
  startedAt: string;
}

/** Where the workflow goes next; the Choice states route on it. */
export type NextStep =
  | 'cordon'
  | 'drain'
  | 'wait'
  | 'heartbeat'
  | 'deadline'
  | 'complete'
  | 'continue-as-new'
  | 'done';

/** Why the lifecycle action ends the way it does. */
export type CompletionReason =
  | 'drained'
  | 'node-not-found'
  | 'deadline-force-deleted'
  | 'deadline-continue'
  | 'deadline-abandon'
  | 'error'
  /** The action ended without us: completed by someone else, or timed out. */
  | 'ended-elsewhere';

export interface DrainSummary {
  /** Nothing left that must be evicted or waited for. */
  drained: boolean;
  /** Pods the drain must still evict. */
  evictable: number;
  /** Pods being deleted, waited for. */
  terminating: number;
  /** Latest moment a terminating pod's grace period ends (ISO), if any. */
  latestExpectedEnd?: string;
  /** Earliest moment a terminating pod's grace period ends (ISO), if any. */
  earliestExpectedEnd?: string;
  /** The first pods of each list (the state must stay under 256 KB); `counts` has the totals. */
  blockedByPdb: Array<{ pod: string; pdb: string }>;
  misconfigured: Array<{ pod: string; pdbs: string[] }>;
  stuck: string[];
  counts: {
    blockedByPdb: number;
    misconfigured: number;
    stuck: number;
    toleratingDrain?: number;
    forbidden?: number;
    volumeAttachments?: number;
  };
  leftAlone: number;
  /** Pods left on the node because they tolerate the drain (their replacement would come back); first ones. */
  toleratingDrain?: string[];
  /** Pods whose eviction the API refused with 403 (RBAC, a webhook); first ones. */
  forbidden?: string[];
  /** The pods are gone; these VolumeAttachments of theirs are still on the node (first ones). */
  volumeAttachments?: string[];
  /** Since when the drain waits for VolumeAttachments only (ISO). */
  volumesWaitSince?: string;
  /** The eviction tier being worked on (normal, daemonset, critical, critical-daemonset). */
  tier?: string;
}

export interface DrainState {
  action: LifecycleAction;
  /** Name of the first execution of this drain; continuations add `-c<generation>`. */
  executionBase: string;
  /** 0 for the first execution, +1 for each continue-as-new. */
  generation: number;
  next: NextStep;
  /** Kubernetes node of the instance, once Prepare found it (null: no such node). */
  nodeName?: string | null;
  hook?: {
    heartbeatTimeoutSeconds: number;
    globalTimeoutSeconds: number;
    defaultResult: LifecycleResult;
  };
  deadline?: {
    /** When the hook itself gives up (start + global timeout), ISO. */
    hookExpiresAt: string;
    /** The end we hold ourselves to: hookExpiresAt, or start + maxDrainSeconds if sooner, ISO. */
    hardLimitAt: string;
    /** When the onDeadline policy acts: a reserve before hardLimitAt, ISO. */
    actAt: string;
    policy: DeadlinePolicy;
    /** Set once the policy acted (pods force-deleted), ISO. */
    actedAt?: string;
  };
  heartbeat: { count: number; lastAt?: string };
  loop: {
    /** DrainStep calls in this execution. */
    iterations: number;
    /** Estimated history events used by this execution (see core/history-budget). */
    historyEvents: number;
    /** DrainStep calls in a row that could not reach the Kubernetes API. */
    apiErrorsInARow: number;
    firstApiErrorAt?: string;
    lastApiError?: string;
    /** Last round that evicted pods or saw pods go (ISO): rounds watch eagerly while this is recent. */
    lastProgressAt?: string;
    /** A pod with a PersistentVolumeClaim was seen on the node: Complete waits for VolumeAttachments. */
    volumeClaimsSeen?: boolean;
  };
  /** Totals over the whole drain, across continuations. */
  totals: { evicted: number; pdbBlocks: number; forceDeleted: number; apiErrors: number; heartbeats: number };
  /** Timestamp the Wait state waits until (ISO); set when next = 'wait' or 'heartbeat'. */
  waitUntil?: string;
  summary?: DrainSummary;
  result?: {
    lifecycleResult: LifecycleResult;
    reason: CompletionReason;
    /** Filled by Complete: did we complete it, or was it already over? */
    outcome?: 'completed' | 'already-completed';
    completedAt?: string;
    detail?: string;
  };
  /** Set with next = 'continue-as-new': the execution that carries this drain on. */
  continuation?: { name: string; input: DrainState };
  /** Set by the state machine's Catch: the error that sent the drain to ReleaseAfterError. */
  error?: { Error: string; Cause: string };
}

/** Input of the first execution, written by the start-drain function. */
export interface DrainStartInput {
  action: LifecycleAction;
  executionBase: string;
  /** Request id of the start-drain invocation: makes a duplicate's input differ, so Step Functions rejects it by name. */
  requestId: string;
}
