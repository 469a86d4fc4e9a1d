/**
 * Structured logs (Powertools Logger) and EMF metrics (Powertools Metrics).
 * Metric names and dimensions are read by the dashboard and alarms in
 * lib/drain-monitoring.ts: keep them stable. Dimensions stay low-cardinality
 * (the Auto Scaling group, never the instance).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { DrainState } from '../core/drain-state';

export const SERVICE_NAME = 'eks-graceful-drain';
export const DEFAULT_METRICS_NAMESPACE = 'EksGracefulDrain';
export const ASG_DIMENSION = 'AutoScalingGroupName';
/** Dimension of DrainsCompleted: CONTINUE, ABANDON, AlreadyCompleted, NodeNotFound or SpotInterrupted. */
export const RESULT_DIMENSION = 'Result';

export const Metric = {
  DrainsStarted: 'DrainsStarted',
  DrainsCompleted: 'DrainsCompleted',
  DrainDuration: 'DrainDurationSeconds',
  PodsEvicted: 'PodsEvicted',
  EvictionsBlockedByPdb: 'EvictionsBlockedByPdb',
  /** Evictions refused with 403 outside a terminating namespace (RBAC, an admission webhook): an error. */
  EvictionsForbidden: 'EvictionsForbidden',
  PdbMisconfigurations: 'PdbMisconfigurations',
  /** 1 per drain round that ended waiting only for VolumeAttachments to detach. */
  VolumeDetachWaits: 'VolumeDetachWaits',
  PodsForceDeleted: 'PodsForceDeleted',
  /** Pods waited for instead of evicted (do-not-disrupt…), counted once per drain round while they run. */
  PodsWaitedFor: 'PodsWaitedFor',
  /** Pods waited for that did not finish in time and were evicted with all of their grace. */
  WaitedPodsEvicted: 'WaitedPodsEvicted',
  /** Evicted Job pods whose Job starts a replacement while they still terminate (podReplacementPolicy not Failed). */
  JobPodsReplacedEarly: 'JobPodsReplacedEarly',
  HeartbeatsSent: 'HeartbeatsSent',
  DuplicateEvents: 'DuplicateEvents',
  InvalidEvents: 'InvalidEvents',
  DeadlinesReached: 'DeadlinesReached',
  KubernetesApiErrors: 'KubernetesApiErrors',
  /** 1 per drain round while a drain runs past 80% of its time to the deadline. */
  DrainsNearDeadline: 'DrainsNearDeadline',
  /** Identity: a step or start refused an input naming an instance no drain may touch (forged or stale). */
  RefusedInputs: 'RefusedInputs',
  /** Identity: Spot interruption drains started (two-minute budget). */
  SpotDrainsStarted: 'SpotDrainsStarted',
  /** Identity: lifecycle drains switched to the Spot budget (the running execution stopped, a Spot one started). */
  SpotSwitches: 'SpotSwitches',
  /** Identity: instances the sweep found held by our hook, and drains it had to start (their event was lost or late). */
  SweepInstancesFound: 'SweepInstancesFound',
  SweepDrainsStarted: 'SweepDrainsStarted',
  /** Identity: nodes back from a warm pool, our cordon lifted. */
  WarmPoolReturns: 'WarmPoolReturns',
  /** Identity: nodes cordoned on an EC2 rebalance recommendation (opt-in). */
  RebalanceCordons: 'RebalanceCordons',
} as const;
export type MetricName = (typeof Metric)[keyof typeof Metric];

export interface Observability {
  logger: Logger;
  metrics: Metrics;
}

export function createObservability(): Observability {
  return {
    logger: new Logger({ serviceName: SERVICE_NAME }),
    metrics: new Metrics({
      serviceName: SERVICE_NAME,
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? DEFAULT_METRICS_NAMESPACE,
    }),
  };
}

/** The keys every log line of a drain carries. Never the token: only its hash. */
export function drainKeys(state: Pick<DrainState, 'action' | 'executionBase' | 'generation' | 'nodeName'>) {
  return {
    instanceId: state.action.instanceId,
    autoScalingGroupName: state.action.autoScalingGroupName,
    lifecycleHookName: state.action.lifecycleHookName,
    ...(state.action.tokenHash ? { tokenHash: state.action.tokenHash } : {}),
    execution: state.generation > 0 ? `${state.executionBase}-c${state.generation}` : state.executionBase,
    ...(state.nodeName ? { node: state.nodeName } : {}),
  };
}

export function count(metrics: Metrics, name: MetricName, value = 1): void {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
}

export function countCompletion(metrics: Metrics, asg: string, result: 'CONTINUE' | 'ABANDON' | 'AlreadyCompleted' | 'NodeNotFound' | 'SpotInterrupted') {
  metrics
    .singleMetric()
    .addDimensions({ [ASG_DIMENSION]: asg, [RESULT_DIMENSION]: result })
    .addMetric(Metric.DrainsCompleted, MetricUnit.Count, 1);
}

/** RefusedInputs carries `service` only: a refused input's group is not to be believed. */
export function countRefused(metrics: Metrics): void {
  metrics.singleMetric().addMetric(Metric.RefusedInputs, MetricUnit.Count, 1);
}

export function recordDuration(metrics: Metrics, seconds: number): void {
  metrics.addMetric(Metric.DrainDuration, MetricUnit.Seconds, Math.max(0, Math.round(seconds)));
}
