/**
 * The figures of a rehearsal and what they would cost in AWS. Pure: the run
 * gathers the facts, this adds them up and formats them.
 */
import { durationLabel, type PodLife } from './timeline';

/**
 * List prices (us-east-1), in USD. Standard workflows bill per state
 * transition; Lambda per request and per GB-second (arm64, which
 * lib/drain-functions.ts uses, at 256 MB).
 * https://aws.amazon.com/step-functions/pricing/ · https://aws.amazon.com/lambda/pricing/
 */
export const PRICES = {
  perStateTransition: 0.025 / 1000,
  perLambdaRequest: 0.2 / 1_000_000,
  perLambdaGbSecondArm: 0.0000133334,
} as const;
export const LAMBDA_MEMORY_MB = 256;
/**
 * Virtual time does not move while a handler computes or talks to the fake
 * API, so each invocation is billed at least this much: a rough allowance
 * for its real work (Lambda bills per 1 ms).
 */
export const MIN_BILLED_MS = 100;

/** How the lifecycle action of one terminated instance ended. Times in ms since the start. */
export interface ActionOutcome {
  instanceId: string;
  node: string;
  startedAt: number;
  endedAt?: number;
  how: 'completed' | 'timed-out' | 'pending';
  result?: 'CONTINUE' | 'ABANDON';
  /** Why the drain completed it (drained, deadline-force-deleted…), from Complete's log line. */
  reason?: string;
  timeout?: 'heartbeat' | 'global';
  heartbeats: number;
  /** Successful CompleteLifecycleAction calls by the drain for this action. */
  completions: number;
}

export interface ExecutionFacts {
  name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  transitions: number;
  lambdaInvocations: number;
  error?: { Error: string; Cause: string };
}

export interface RunFacts {
  scenario: string;
  actions: ActionOutcome[];
  executions: ExecutionFacts[];
  pods: PodLife[];
  /** start-drain runs once per delivered event, outside any execution. */
  startDrainInvocations: number;
  /** Billed duration of every Lambda invocation, ms. */
  lambdaDurationsMs: number[];
  kubeRequestsByVerb: Record<string, number>;
  autoScalingCalls: Record<string, number>;
  /** Sums of the handlers' EMF metrics. */
  metrics: { evicted: number; pdbBlocks: number; heartbeats: number; forceDeleted: number; deadlinesReached: number };
  virtualMs: number;
  realMs: number;
  /** Per node that waited for VolumeAttachments after its pods had gone: how long (ms). */
  volumeWaitsMs?: number[];
}

export interface Summary {
  actions: number;
  completed: number;
  /** Longest, median and shortest time from the action's start to its end, ms. */
  drainMs: { longest: number; median: number; shortest: number };
  virtualMs: number;
  realMs: number;
  pods: { total: number; evicted: number; forceDeleted: number; leftAlone: number; toleratingDrain: number; stillThere: number; waitedFor: number; finished: number };
  /** Nodes whose drain waited for VolumeAttachments after the pods had gone, and the longest wait (ms). */
  volumeWaits: { nodes: number; longestMs: number };
  evictions: number;
  pdbBlocks: number;
  podsBlocked: number;
  heartbeats: number;
  kubeRequests: { total: number; byVerb: Record<string, number> };
  autoScalingCalls: { total: number; byOperation: Record<string, number> };
  executions: number;
  stateTransitions: number;
  lambda: { invocations: number; gbSeconds: number };
  cost: { transitions: number; requests: number; compute: number; total: number; perDrain: number };
}

export function summarize(facts: RunFacts): Summary {
  const durations = facts.actions.map((a) => (a.endedAt ?? facts.virtualMs) - a.startedAt).sort((a, b) => a - b);
  const transitions = sum(facts.executions.map((e) => e.transitions));
  const invocations = facts.startDrainInvocations + sum(facts.executions.map((e) => e.lambdaInvocations));
  const billedMs = sum(facts.lambdaDurationsMs.map((ms) => Math.max(MIN_BILLED_MS, Math.ceil(ms))))
    + facts.startDrainInvocations * MIN_BILLED_MS;
  const gbSeconds = (billedMs / 1000) * (LAMBDA_MEMORY_MB / 1024);
  const cost = {
    transitions: transitions * PRICES.perStateTransition,
    requests: invocations * PRICES.perLambdaRequest,
    compute: gbSeconds * PRICES.perLambdaGbSecondArm,
  };
  const total = cost.transitions + cost.requests + cost.compute;
  const removed = facts.pods.filter((p) => p.goneAt !== undefined || p.terminatingAt !== undefined);
  return {
    actions: facts.actions.length,
    completed: facts.actions.filter((a) => a.how === 'completed').length,
    drainMs: { longest: durations.at(-1) ?? 0, median: durations[Math.floor((durations.length - 1) / 2)] ?? 0, shortest: durations[0] ?? 0 },
    virtualMs: facts.virtualMs,
    realMs: facts.realMs,
    pods: {
      total: facts.pods.length,
      evicted: facts.pods.filter((p) => p.evictedAt !== undefined).length,
      forceDeleted: facts.pods.filter((p) => p.forceDeletedAt !== undefined).length,
      leftAlone: facts.pods.filter((p) => p.owner === 'DaemonSet' || p.owner === 'mirror' || p.toleratesDrain).filter((p) => !removed.includes(p)).length,
      toleratingDrain: facts.pods.filter((p) => p.toleratesDrain && !removed.includes(p)).length,
      stillThere: facts.pods.filter((p) => p.goneAt === undefined && p.finishedAt === undefined && p.owner !== 'DaemonSet' && p.owner !== 'mirror' && !p.toleratesDrain).length,
      waitedFor: facts.pods.filter((p) => p.waitedSince !== undefined).length,
      finished: facts.pods.filter((p) => p.finishedAt !== undefined).length,
    },
    volumeWaits: {
      nodes: (facts.volumeWaitsMs ?? []).length,
      longestMs: Math.max(0, ...(facts.volumeWaitsMs ?? [])),
    },
    evictions: facts.metrics.evicted,
    pdbBlocks: facts.metrics.pdbBlocks,
    podsBlocked: facts.pods.filter((p) => p.blockedAt.length > 0).length,
    heartbeats: facts.metrics.heartbeats,
    kubeRequests: { total: sum(Object.values(facts.kubeRequestsByVerb)), byVerb: sortedCounts(facts.kubeRequestsByVerb) },
    autoScalingCalls: { total: sum(Object.values(facts.autoScalingCalls)), byOperation: sortedCounts(facts.autoScalingCalls) },
    executions: facts.executions.length,
    stateTransitions: transitions,
    lambda: { invocations, gbSeconds },
    cost: { ...cost, total, perDrain: facts.actions.length > 0 ? total / facts.actions.length : total },
  };
}

/** The summary as aligned `label  value` rows (the text output and the HTML page share them). */
export function summaryRows(s: Summary): Array<[string, string]> {
  const counts = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ');
  const drain = s.actions > 1
    ? `longest ${durationLabel(s.drainMs.longest)}, median ${durationLabel(s.drainMs.median)}, shortest ${durationLabel(s.drainMs.shortest)}`
    : durationLabel(s.drainMs.longest);
  return [
    ['lifecycle actions', `${s.completed} of ${s.actions} completed by the drain`],
    ['drain time', `${drain} of virtual time (run took ${(s.realMs / 1000).toFixed(1)} s)`],
    ['pods on drained nodes', `${s.pods.total}: ${s.pods.evicted} evicted, ${s.pods.forceDeleted} force-deleted, ${s.pods.leftAlone} left alone (DaemonSet, mirror${s.pods.toleratingDrain ? `, ${s.pods.toleratingDrain} tolerating the drain` : ''})${s.pods.finished ? `, ${s.pods.finished} finished on their own` : ''}${s.pods.stillThere ? `, ${s.pods.stillThere} still there` : ''}`],
    ...(s.pods.waitedFor ? [['waited for', `${s.pods.waitedFor} pod${s.pods.waitedFor === 1 ? '' : 's'} not evicted but waited for (do-not-disrupt, safe-to-evict=false or waitForJobPods)`] as [string, string]] : []),
    ...(s.volumeWaits.nodes > 0
      ? [['volume detach wait', `${s.volumeWaits.nodes} node${s.volumeWaits.nodes === 1 ? '' : 's'} waited for VolumeAttachments before Complete, longest ${durationLabel(s.volumeWaits.longestMs)}`] as [string, string]]
      : []),
    ['evictions', String(s.evictions)],
    ['PDB blocks', `${s.podsBlocked} pod${s.podsBlocked === 1 ? '' : 's'} held back by a PodDisruptionBudget, ${s.pdbBlocks} eviction${s.pdbBlocks === 1 ? '' : 's'} refused (429)`],
    ['heartbeats', String(s.heartbeats)],
    ['Kubernetes API', `${s.kubeRequests.total} requests: ${counts(s.kubeRequests.byVerb)}`],
    ['Auto Scaling API', `${s.autoScalingCalls.total} calls: ${counts(s.autoScalingCalls.byOperation)}`],
    ['Step Functions', `${s.executions} execution${s.executions === 1 ? '' : 's'}, ${s.stateTransitions} state transitions`],
    ['Lambda', `${s.lambda.invocations} invocations, ${s.lambda.gbSeconds.toFixed(1)} GB-s at ${LAMBDA_MEMORY_MB} MB`],
    [
      'estimated cost',
      `${usd(s.cost.total)}${s.actions > 1 ? ` (${usd(s.cost.perDrain)} per drain)` : ''}: transitions ${usd(s.cost.transitions)} + Lambda requests ${usd(s.cost.requests)} + Lambda compute ${usd(s.cost.compute)}`,
    ],
  ];
}

export function formatSummary(s: Summary): string[] {
  const rows = summaryRows(s);
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
}

/** Dollars with enough digits to tell small amounts apart: $0.0017, $0.000005. */
export function usd(amount: number): string {
  if (amount === 0) return '$0';
  if (amount >= 1) return `$${amount.toFixed(2)}`;
  const digits = Math.max(2, -Math.floor(Math.log10(amount)) + 1);
  return `$${amount.toFixed(digits)}`;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function sortedCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}
