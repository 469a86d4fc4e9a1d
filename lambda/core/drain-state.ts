/**
 * The state that flows through the Step Functions drain workflow. Every Lambda
 * receives the whole state as its payload and returns the whole new state
 * (the state machine keeps `$.Payload`), so each step is a function
 * state → state: easy to test, and safe to redrive because it re-reads the
 * world instead of trusting what it did before.
 *
 * Nothing in the state is trusted: every step re-derives the instance, its
 * node, the hook and the deadline from Auto Scaling, EC2 and the cluster, and
 * takes its policies from its own configuration. The lifecycle token is not
 * in the state at all: heartbeat and complete go by instance id, group and
 * hook; `tokenHash` only correlates logs with the event.
 */

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** What to do when the drain reaches its deadline with pods still on the node. */
export type DeadlinePolicy = 'force-delete' | 'continue' | 'abandon';

export interface LifecycleAction {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  instanceId: string;
  /** First 16 hex characters of sha256(token), when the drain began with the event: log correlation only. */
  tokenHash?: string;
  /** The termination's scaling activity (the drain's claim), when Auto Scaling holds the instance for our hook. */
  activityId?: string;
  /** When the lifecycle action started (the activity's StartTime; a Spot drain: the notice), ISO 8601. */
  startedAt: string;
}

/** What started a drain. */
export type DrainTrigger = 'event' | 'sweep' | 'spot-warning';

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
  | 'ended-elsewhere'
  /** The instance is not one a drain may act on (not waiting on our hook, not interrupted): nothing done. */
  | 'refused'
  /** A Spot drain ran its two minutes: there was no lifecycle action to complete. */
  | 'spot-interrupted';

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
  /**
   * Pods waited for rather than evicted (karpenter.sh/do-not-disrupt,
   * cluster-autoscaler safe-to-evict "false", Job pods when opted in), the
   * first ones with when each is evicted at the latest (ISO); `count` is the total.
   */
  waitedFor?: { count: number; pods: Array<{ pod: string; reason: string; evictAt: string }>; nextEvictAt?: string };
}

export interface DrainState {
  action: LifecycleAction;
  /** Name of the first execution of this drain; continuations add `-c<generation>`. */
  executionBase: string;
  /** 0 for the first execution, +1 for each continue-as-new. */
  generation: number;
  next: NextStep;
  /** Kubernetes node of the instance, as the last step found it from the instance (null: no such node). Never read back as an input. */
  nodeName?: string | null;
  /** Set when EC2 is about to interrupt the Spot instance: the drain has two minutes from the notice, and sends no heartbeats. */
  spot?: { noticeAt: string; instanceAction: 'terminate' | 'stop' | 'hibernate' };
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
    /** Filled by Complete: did we complete it, was it already over, or was there none (a Spot drain)? */
    outcome?: 'completed' | 'already-completed' | 'no-lifecycle-action';
    completedAt?: string;
    detail?: string;
  };
  /** Set with next = 'continue-as-new': the execution that carries this drain on. */
  continuation?: { name: string; input: DrainState };
  /** Set by the state machine's Catch: the error that sent the drain to ReleaseAfterError. */
  error?: { Error: string; Cause: string };
}

/**
 * Input of the first execution, written by start-drain or the sweep. Only the
 * instance id is read, and only to be checked against Auto Scaling and EC2.
 */
export interface DrainStartInput {
  instanceId: string;
  executionBase: string;
  trigger: DrainTrigger;
  /** sha256 prefix of the event's token, for log correlation. */
  tokenHash?: string;
  /** Request id of the starting invocation: makes a duplicate's input differ, so Step Functions rejects it by name. */
  requestId: string;
}
