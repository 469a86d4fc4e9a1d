/**
 * What the handlers need from the outside world, bound to real AWS clients
 * (from the SDK's standard configuration: region, credentials,
 * AWS_ENDPOINT_URL_*) and to the environment the construct sets. Tests and the
 * rehearsal pass their own.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { systemClock, type Clock } from '../core/clock';
import { HISTORY_EVENTS_BUDGET } from '../core/history-budget';
import type { DeadlinePolicy } from '../core/drain-state';
import { createClusterInfoProvider, createEksTokenProvider } from '../adapters/eks-auth';
import { DrainExecutions } from '../adapters/executions';
import { privateDnsName } from '../adapters/instances';
import { KubeClient, type KubeCredentials } from '../adapters/kube-client';
import { LifecycleHooks, createAutoScalingClient } from '../adapters/lifecycle';
import { ConfigurationError } from '../adapters/errors';
import { createObservability, type Observability } from './observability';

export interface HandlerConfig {
  clusterName: string;
  deadlinePolicy: DeadlinePolicy;
  /** 0: as long as the hook allows. */
  maxDrainSeconds: number;
  /** How long one drain round may keep watching and evicting. */
  watchSeconds: number;
  stateMachineArn?: string;
  /** History events per execution before continuing in a new one (HISTORY_EVENTS_BUDGET, at most 20,000). */
  historyEventsBudget: number;
  /** Wait for every pod owned by a Job as for a do-not-disrupt pod (WAIT_FOR_JOB_PODS=true). */
  waitForJobPods?: boolean;
}

export interface Deps extends Observability {
  clock: Clock;
  config: HandlerConfig;
  /** A Kubernetes client whose retries stop `timeLeftMs` from now. */
  kube(timeLeftMs: number): KubeClient;
  hooks: Pick<LifecycleHooks, 'describeHook' | 'recordHeartbeat' | 'complete'>;
  privateDnsName(instanceId: string): Promise<string | undefined>;
  executions: Pick<DrainExecutions, 'start'>;
}

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
    maxDrainSeconds: Number(env.MAX_DRAIN_SECONDS ?? 0) || 0,
    watchSeconds: Number(env.WATCH_SECONDS ?? 60) || 0,
    stateMachineArn: env.STATE_MACHINE_ARN,
    historyEventsBudget: Math.min(Number(env.HISTORY_EVENTS_BUDGET ?? HISTORY_EVENTS_BUDGET) || HISTORY_EVENTS_BUDGET, 20_000),
    waitForJobPods: env.WAIT_FOR_JOB_PODS === 'true',
  };
}

/** Real dependencies, created once per container (caches: cluster info, token, clients). */
export function realDeps(): Deps {
  const config = configFromEnv();
  const clock = systemClock;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  let credentials: (() => Promise<KubeCredentials>) | undefined;
  const kubeCredentials = () => {
    if (!config.clusterName) throw new ConfigurationError('CLUSTER_NAME is not set');
    if (!credentials) {
      const cluster = createClusterInfoProvider(new EKSClient({}), config.clusterName);
      const tokens = createEksTokenProvider({ clusterName: config.clusterName, region, clock });
      credentials = async () => ({ ...(await cluster.get()), token: await tokens.token() });
    }
    return credentials;
  };
  let hooks: LifecycleHooks | undefined;
  let executions: DrainExecutions | undefined;
  let ec2: EC2Client | undefined;
  return {
    ...createObservability(),
    clock,
    config,
    kube: (timeLeftMs) => {
      const until = clock.now() + timeLeftMs;
      return new KubeClient(kubeCredentials(), { clock, until: () => until });
    },
    get hooks() {
      return (hooks ??= new LifecycleHooks(createAutoScalingClient()));
    },
    privateDnsName: (instanceId) => privateDnsName((ec2 ??= new EC2Client({})), instanceId),
    get executions() {
      if (!config.stateMachineArn) throw new ConfigurationError('STATE_MACHINE_ARN is not set');
      return (executions ??= new DrainExecutions(new SFNClient({}), config.stateMachineArn));
    },
  };
}

/** Binds a handler factory to the real dependencies on first use (once per container). */
export function withRealDeps<I, O>(make: (deps: Deps) => (input: I, context: Context) => Promise<O>) {
  let bound: ((input: I, context: Context) => Promise<O>) | undefined;
  return (input: I, context: Context): Promise<O> => (bound ??= make(realDeps()))(input, context);
}

/** Time this invocation may still use, less the safety margin. */
export function timeLeft(context: Pick<Context, 'getRemainingTimeInMillis'> | undefined): number {
  const remaining = context?.getRemainingTimeInMillis?.() ?? 60_000;
  return Math.max(0, remaining - LAMBDA_SAFETY_MS);
}
