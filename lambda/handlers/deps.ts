/**
 * What the handlers need from the outside world. A handler gets the base
 * (clock, config from the environment the construct sets, logger, metrics)
 * and only the capabilities it names: each capability is a small factory in
 * ./capabilities that imports its own client, so a function's bundle carries
 * the clients it calls and no others (heartbeat has no Kubernetes client).
 * Tests and the rehearsal pass their own {@link Deps}.
 *
 * Adding a capability: a member of {@link Capabilities}, a factory file in
 * ./capabilities, and its name in the `withRealDeps` call of each handler that
 * uses it (the compiler insists on the last part).
 */
import type { Context } from 'aws-lambda';
import { systemClock, type Clock } from '../core/clock';
import { HISTORY_EVENTS_BUDGET } from '../core/history-budget';
import type { DeadlinePolicy } from '../core/drain-state';
import type { DrainExecutions } from '../adapters/executions';
import type { Ec2Instance, SpotRequestStatus } from '../adapters/instances';
import type { KubeClient } from '../adapters/kube-client';
import type { LifecycleHooks } from '../adapters/lifecycle';
import { ConfigurationError } from '../adapters/errors';
import { createObservability, type Observability } from './observability';

export interface HandlerConfig {
  clusterName: string;
  deadlinePolicy: DeadlinePolicy;
  /**
   * Spot interruptions are drained (SPOT_INTERRUPTIONS, default true): apply-deadline
   * then has the role that deletes pods, and a Spot drain's deadline deletes
   * the pods left whatever deadlinePolicy says.
   */
  spotInterruptions?: boolean;
  /** 0: as long as the hook allows. */
  maxDrainSeconds: number;
  /** How long one drain round may keep watching and evicting. */
  watchSeconds: number;
  stateMachineArn?: string;
  /** History events per execution before continuing in a new one (HISTORY_EVENTS_BUDGET, at most 20,000). */
  historyEventsBudget: number;
  /** The groups drains may act on (AUTO_SCALING_GROUP_NAMES, comma-separated): nothing else, whatever an input says. */
  autoScalingGroupNames: string[];
  /** Our terminate hook (LIFECYCLE_HOOK_NAME): heartbeats and completions name it. */
  lifecycleHookName: string;
  /** Our launch hook for instances back from a warm pool (LAUNCH_HOOK_NAME), if warm pools are handled. */
  launchHookName?: string;
  /** Account and region events must come from (ACCOUNT_ID, AWS_REGION). */
  accountId?: string;
  region?: string;
  /** Wait for every pod owned by a Job as for a do-not-disrupt pod (WAIT_FOR_JOB_PODS=true). */
  waitForJobPods?: boolean;
}

/** What every handler gets, whatever it calls. */
export interface BaseDeps extends Observability {
  clock: Clock;
  config: HandlerConfig;
}

/** The clients of the outside world, one per capability; a handler binds only those it uses. */
export interface Capabilities {
  /** A Kubernetes client whose retries stop `timeLeftMs` from now. */
  kube(timeLeftMs: number): KubeClient;
  hooks: Pick<LifecycleHooks, 'describeHook' | 'recordHeartbeat' | 'complete' | 'describeInstance' | 'groupInstances' | 'recentActivities'>;
  /** EC2: what an instance is (DNS name, Spot request) and whether EC2 is about to interrupt it. */
  ec2: {
    describeInstance(instanceId: string): Promise<Ec2Instance | undefined>;
    spotRequestStatus(requestId: string): Promise<SpotRequestStatus | undefined>;
  };
  executions: Pick<DrainExecutions, 'start' | 'running' | 'stop'>;
}
export type Capability = keyof Capabilities;

/** Everything: what tests, benches and the local workflow pass to any handler. */
export interface Deps extends BaseDeps, Capabilities {}

/** What a handler using the capabilities `K` needs. */
export type DepsWith<K extends Capability> = BaseDeps & Pick<Capabilities, K>;

/** Builds the real client of one capability, once per container, on first use. */
export type CapabilityFactory<K extends Capability> = (base: BaseDeps) => Capabilities[K];

/** Kept free for the Lambda runtime to answer after our last call. */
export const LAMBDA_SAFETY_MS = 10_000;

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HandlerConfig {
  const policy = env.DEADLINE_POLICY ?? 'force-delete';
  if (!['force-delete', 'continue', 'abandon'].includes(policy)) {
    throw new ConfigurationError(`DEADLINE_POLICY must be force-delete, continue or abandon, not ${policy}`);
  }
  return {
    clusterName: env.CLUSTER_NAME ?? '',
    deadlinePolicy: policy as DeadlinePolicy,
    spotInterruptions: env.SPOT_INTERRUPTIONS !== 'false',
    maxDrainSeconds: Number(env.MAX_DRAIN_SECONDS ?? 0) || 0,
    watchSeconds: Number(env.WATCH_SECONDS ?? 60) || 0,
    stateMachineArn: env.STATE_MACHINE_ARN,
    historyEventsBudget: Math.min(Number(env.HISTORY_EVENTS_BUDGET ?? HISTORY_EVENTS_BUDGET) || HISTORY_EVENTS_BUDGET, 20_000),
    autoScalingGroupNames: (env.AUTO_SCALING_GROUP_NAMES ?? '').split(',').map((n) => n.trim()).filter(Boolean),
    lifecycleHookName: env.LIFECYCLE_HOOK_NAME ?? '',
    launchHookName: env.LAUNCH_HOOK_NAME || undefined,
    accountId: env.ACCOUNT_ID || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    waitForJobPods: env.WAIT_FOR_JOB_PODS === 'true',
  };
}

/** The real base and the named capabilities, each built on first access (caches: cluster info, token, clients). */
export function realDeps<K extends Capability>(capabilities: { [P in K]: CapabilityFactory<P> }): DepsWith<K> {
  const base: BaseDeps = { ...createObservability(), clock: systemClock, config: configFromEnv() };
  const deps = { ...base } as DepsWith<K>;
  for (const [name, factory] of Object.entries(capabilities) as Array<[K, CapabilityFactory<K>]>) {
    let value: Capabilities[K] | undefined;
    Object.defineProperty(deps, name, { enumerable: true, get: () => (value ??= factory(base)) });
  }
  return deps;
}

/**
 * Binds a handler factory to the real base and the capabilities it uses, on
 * first use (once per container):
 * `export const handler = withRealDeps(makeHeartbeat, { hooks: lifecycleHooks })`.
 */
export function withRealDeps<K extends Capability, I, O>(
  make: (deps: DepsWith<NoInfer<K>>) => (input: I, context: Context) => Promise<O>,
  capabilities: { [P in K]: CapabilityFactory<P> },
) {
  let bound: ((input: I, context: Context) => Promise<O>) | undefined;
  return (input: I, context: Context): Promise<O> => (bound ??= make(realDeps(capabilities)))(input, context);
}

/** Time this invocation may still use, less the safety margin. */
export function timeLeft(context: Pick<Context, 'getRemainingTimeInMillis'> | undefined): number {
  const remaining = context?.getRemainingTimeInMillis?.() ?? 60_000;
  return Math.max(0, remaining - LAMBDA_SAFETY_MS);
}
