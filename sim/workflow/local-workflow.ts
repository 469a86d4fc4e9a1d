/**
 * Runs the synthesized state machine definition in process
 * (aws-local-stepfunctions) with the real handler code, against the fake
 * Kubernetes API server and the simulated Auto Scaling group, on a virtual
 * clock that jumps whenever everything waits. Used by the workflow tests, the
 * cost benchmark and `npm run simulate`.
 *
 * What is simulated, and how:
 * - Lambda tasks: the real handler of the function whose ARN the Task names,
 *   with its synthesized environment and a context whose remaining time
 *   follows the virtual clock. A thrown error reaches the state machine as
 *   Lambda reports it: Error = the error's name, Cause = a JSON document.
 * - Wait states become local tasks that sleep on the virtual clock until the
 *   Wait's own Seconds/Timestamp(Path), so many executions wait side by side.
 * - Retry intervals are not waited for (virtual time does not move for them).
 * - StartExecution (start-drain's SDK call and the ContinueAsNew task) starts
 *   another local execution; a name already used fails like Step Functions.
 * - Redrive re-runs a failed execution from its failed state with that
 *   state's input, as Step Functions' RedriveExecution does.
 * History events are counted as Step Functions writes them: 2 for the
 * execution, 5 per Task (+3 per retry), 2 per Wait, Choice, Pass or Succeed, 1 per Fail.
 *
 * Limits of the real service it enforces: a Lambda that ran past its timeout
 * fails with Sandbox.Timedout (checked when it returns: virtual time cannot
 * cut it short); a state's output over 256 KB fails with
 * States.DataLimitExceeded (recorded, as no Catch may take it); a Wait on a
 * missing or unparsable timestamp fails with States.Runtime.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ListExecutionsCommand, SFNClient, SFNServiceException, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { StateMachine } from 'aws-local-stepfunctions';
import type { Context } from 'aws-lambda';
import { kubernetesManifests } from '../../lib/cluster-access';
import type { DrainFunctionKey as RequiredFunctionKey, OptionalFunctionKey } from '../../lib/drain-functions';
import type { EksGracefulDrainProps } from '../../lib/graceful-drain';
import { DrainExecutions } from '../../lambda/adapters/executions';
import { describeInstance, spotRequestStatus } from '../../lambda/adapters/instances';
import { KubeClient } from '../../lambda/adapters/kube-client';
import { LifecycleHooks } from '../../lambda/adapters/lifecycle';
import { configFromEnv, type Deps } from '../../lambda/handlers/deps';
import { makeApplyDeadline } from '../../lambda/handlers/apply-deadline';
import { makeComplete } from '../../lambda/handlers/complete';
import { makeCordon } from '../../lambda/handlers/cordon';
import { makeDrainStep } from '../../lambda/handlers/drain-step';
import { makeHeartbeat } from '../../lambda/handlers/heartbeat';
import { makePrepare } from '../../lambda/handlers/prepare';
import { makeNodeMarks, type NodeMarksResult } from '../../lambda/handlers/node-marks';
import { makeStartDrain, type StartDrainResult } from '../../lambda/handlers/start-drain';
import { makeSweep, type SweepResult } from '../../lambda/handlers/sweep';
import { captureObservability, type CapturedObservability } from '../observability';
import { SimulatedEventBridge } from '../aws/eventbridge';
import type { FakeKubeServer } from '../kube/server';
import type { VirtualClock } from '../virtual-clock';
import { synthesizeWorkflow, type AslDefinition, type AslState, type SynthesizedWorkflow } from './synth';

type Handler = (input: never, context: Context) => Promise<unknown>;
type DrainFunctionKey = RequiredFunctionKey | OptionalFunctionKey;

const FACTORIES: Record<DrainFunctionKey, (deps: Deps) => Handler> = {
  sweep: makeSweep as (deps: Deps) => Handler,
  nodeMarks: makeNodeMarks as (deps: Deps) => Handler,
  startDrain: makeStartDrain as (deps: Deps) => Handler,
  prepare: makePrepare as (deps: Deps) => Handler,
  cordon: makeCordon as (deps: Deps) => Handler,
  drainStep: makeDrainStep as (deps: Deps) => Handler,
  heartbeat: makeHeartbeat as (deps: Deps) => Handler,
  applyDeadline: makeApplyDeadline as (deps: Deps) => Handler,
  complete: makeComplete as (deps: Deps) => Handler,
};

const HISTORY_EVENTS_OF: Record<string, number> = { Task: 5, Wait: 2, Choice: 2, Pass: 2, Succeed: 2, Fail: 1, Parallel: 2, Map: 2 };

export interface ExecutionRecord {
  name: string;
  arn: string;
  input: unknown;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  startedAt: number;
  stoppedAt?: number;
  output?: unknown;
  error?: { Error: string; Cause: string };
  /** Billable state transitions (states entered, retries included). */
  transitions: number;
  historyEvents: number;
  /** States entered, by name. */
  states: Record<string, number>;
  lambdaInvocations: number;
  /** Lambda run time in virtual seconds (billed as GB-seconds at the function's memory). */
  lambdaSeconds: number;
  /** Input of each state when entered, last one kept: what a redrive starts from. */
  lastStateInput: Record<string, unknown>;
  failedState?: string;
  /** A state produced more than Step Functions' 256 KB: in AWS the execution would fail, uncatchable. */
  dataLimitExceeded?: { state: string; bytes: number };
  redrives: number;
  done: Promise<void>;
  /** StopExecution: aborts the run (an in-flight Lambda finishes, as in AWS, but the execution goes no further). */
  abort?: () => void;
}

export interface LocalWorkflowOptions {
  clock: VirtualClock;
  kube: FakeKubeServer;
  props?: Partial<EksGracefulDrainProps>;
  observability?: CapturedObservability;
  /** Environment overrides per function (e.g. WATCH_SECONDS). */
  environment?: Partial<Record<DrainFunctionKey, Record<string, string>>>;
  /**
   * One bearer token for every Lambda, instead of each function's own (which
   * the cluster maps to that function's groups, as its EKS access entry does).
   */
  kubeToken?: string;
  /**
   * The manifests (YAML text) applied to the cluster before the drain runs,
   * instead of the shipped ones lib/kubernetes/ holds for the policy
   * (kubernetesManifests): a test removes a rule this way.
   */
  kubernetesManifests?: string[];
  /** Called when a state is entered: the rehearsal draws its timeline from it. */
  onStateEntered?: (execution: ExecutionRecord, state: string, at: number) => void;
  /** The service limits to enforce (see ServiceLimits); none when absent. */
  limits?: ServiceLimits;
}

/**
 * Limits of the AWS services a surge of drains runs into, enforced on
 * virtual time when given:
 * - Lambda concurrency: the account's pool (default 1,000), less what is
 *   reserved; a function with reserved concurrency runs at most that many at
 *   once. Beyond it an invocation is throttled (429). A Task state retries it
 *   as its Retry on Lambda.TooManyRequestsException says (intervals waited on
 *   virtual time, each retry a transition); an asynchronous invocation
 *   (EventBridge → start-drain) is retried by Lambda from 1 s, doubling up to
 *   5 minutes, for as long as the event is young enough (6 h).
 * - StartExecution: a token bucket per account and region (Standard
 *   workflows: 1,300 tokens refilled at 300/s in us-east-1, us-west-2 and
 *   eu-west-1; 800 at 150/s elsewhere). A throttled call fails with
 *   ThrottlingException after the SDK's own retries (3 attempts, backoff from
 *   0.5 s), and start-drain's failure is retried by Lambda's asynchronous
 *   invocation (2 retries, about 1 and 2 minutes later).
 */
export interface ServiceLimits {
  /** @default 1000 */
  accountConcurrency?: number;
  reservedConcurrency?: Partial<Record<DrainFunctionKey, number>>;
  /** @default { bucket: 800, refillPerSecond: 150 } */
  startExecution?: { bucket: number; refillPerSecond: number };
}

/** What the limits did: throttles absorbed by retries, and the peaks. */
export interface LimitStats {
  lambdaThrottles: number;
  lambdaThrottlesByFunction: Partial<Record<DrainFunctionKey, number>>;
  startExecutionThrottles: number;
  /** Calls that failed after the SDK's retries (start-drain then failed and was retried by Lambda). */
  startExecutionFailures: number;
  peakConcurrency: number;
  peakConcurrencyByFunction: Partial<Record<DrainFunctionKey, number>>;
  /** Events that could not be delivered within their age limit (none expected). */
  eventsDropped: number;
}

export class LocalWorkflow {
  readonly synth: SynthesizedWorkflow;
  readonly observability: CapturedObservability;
  readonly executions = new Map<string, ExecutionRecord>();
  /** The synthesized rules between an event and start-drain / node-marks: pattern, input transformer, DLQs. */
  readonly eventBridge: SimulatedEventBridge;
  private readonly handlers = {} as Record<DrainFunctionKey, Handler>;
  private readonly functionOfArn = new Map<string, DrainFunctionKey>();
  private readonly sfnMock = mockClient(SFNClient);
  private readonly clock: VirtualClock;
  readonly limitStats: LimitStats = {
    lambdaThrottles: 0, lambdaThrottlesByFunction: {}, startExecutionThrottles: 0, startExecutionFailures: 0,
    peakConcurrency: 0, peakConcurrencyByFunction: {}, eventsDropped: 0,
  };
  private validated = false;
  private running = 0;
  private readonly runningByFunction: Partial<Record<DrainFunctionKey, number>> = {};
  private startTokens?: { tokens: number; at: number };
  /** The bearer token of each function with an identity in the cluster. */
  private readonly kubeTokens: Partial<Record<DrainFunctionKey, string>> = {};

  constructor(private readonly options: LocalWorkflowOptions) {
    this.clock = options.clock;
    this.synth = synthesizeWorkflow(options.props);
    this.eventBridge = new SimulatedEventBridge(this.synth.eventRules, this.synth.functionDeadLetterQueues);
    this.observability = options.observability ?? captureObservability();
    this.installInCluster();
    for (const [key, arn] of Object.entries(this.synth.functionArns) as Array<[DrainFunctionKey, string]>) {
      this.functionOfArn.set(arn, key);
      // AWS_REGION is the Lambda runtime's, not the construct's.
      const env = { AWS_REGION: 'us-east-1', ...this.synth.environment[key], ...options.environment?.[key] };
      this.handlers[key] = FACTORIES[key](this.deps(env, key));
    }
    this.sfnMock.on(StartExecutionCommand).callsFake(async (input: { name?: string; input?: string }) => {
      await this.startExecutionToken();
      const record = this.startExecution(input.name ?? randomUUID(), JSON.parse(input.input ?? '{}'));
      return { executionArn: record.arn, startDate: new Date(this.clock.now()) };
    });
    this.sfnMock.on(ListExecutionsCommand).callsFake((input: { statusFilter?: string }) => ({
      executions: [...this.executions.values()]
        .filter((e) => !input.statusFilter || e.status === input.statusFilter)
        .map((e) => ({ executionArn: e.arn, name: e.name, status: e.status, startDate: new Date(e.startedAt), stateMachineArn: this.synth.stateMachineArn })),
    }));
    this.sfnMock.on(StopExecutionCommand).callsFake((input: { executionArn?: string }) => {
      const record = [...this.executions.values()].find((e) => e.arn === input.executionArn);
      if (!record) throw new SFNServiceException({ name: 'ExecutionDoesNotExist', message: 'Execution Does Not Exist', $fault: 'client', $metadata: { httpStatusCode: 400 } });
      if (record.status === 'RUNNING') record.abort?.();
      return { stopDate: new Date(this.clock.now()) };
    });
  }

  /** Invokes one function directly, as anyone allowed lambda:InvokeFunction could (forged-input tests). */
  invokeFunction(key: DrainFunctionKey, input: unknown): Promise<unknown> {
    return this.invoke(key, input);
  }

  /** Runs the sweep once, as its schedule does. */
  sweep(): Promise<SweepResult> {
    return this.invoke('sweep', {}) as Promise<SweepResult>;
  }

  /**
   * Runs the sweep every `intervalMs` of virtual time (the schedule), from
   * `firstAt`; returns a function that stops it.
   */
  scheduleSweeps(intervalMs: number, firstAt = this.clock.now() + intervalMs): () => void {
    let cancel = () => {};
    let stopped = false;
    const arm = (at: number) => {
      cancel = this.clock.schedule(at, () => {
        if (stopped) return;
        this.sweepsRun.push(this.sweep().catch((err) => ({ error: err as Error })));
        arm(at + intervalMs);
      });
    };
    arm(firstAt);
    return () => {
      stopped = true;
      cancel();
    };
  }

  /** Results of the scheduled sweeps so far. */
  readonly sweepsRun: Array<Promise<SweepResult | { error: Error }>> = [];

  /** Delivers an event to the node-marks function (launch actions, rebalance recommendations) through its rule, as EventBridge does. */
  deliverToNodeMarks(event: unknown): Promise<NodeMarksResult> {
    if (!this.handlers.nodeMarks) throw new Error('node-marks is not deployed: set warmPools or cordonOnRebalanceRecommendation');
    return this.eventBridge.deliver(this.synth.functionArns.nodeMarks, event, (payload) => this.invoke('nodeMarks', payload)) as Promise<NodeMarksResult>;
  }

  /**
   * What a user does once per cluster (README "Give the drain access to the
   * cluster"): apply the RBAC and admission manifests, and map each Kubernetes-facing role to
   * its groups (the access entries). Each function then presents a token of its
   * own, which the fake server maps to the user EKS would (the role's
   * assumed-role ARN) and that role's groups.
   */
  private installInCluster(): void {
    const kube = this.options.kube;
    const onDeadline = this.options.props?.onDeadline ?? 'force-delete';
    const nodeMarks = Boolean(this.options.props?.warmPools || this.options.props?.cordonOnRebalanceRecommendation);
    const manifests = this.options.kubernetesManifests ?? kubernetesManifests(onDeadline, { nodeMarks, spotInterruptions: this.options.props?.spotInterruptions }).map((file) => readFileSync(file, 'utf8'));
    for (const manifest of manifests) kube.apply(manifest);
    for (const [key, groups] of Object.entries(this.synth.kubernetesGroups) as Array<[DrainFunctionKey, string[]]>) {
      const token = `k8s-aws-v1.${key}-${randomUUID()}`;
      const role = this.synth.roleArns[key].replace(/^arn:aws:iam::(\d+):role\/(.+)$/, 'arn:aws:sts::$1:assumed-role/$2');
      kube.addUser(token, { username: `${role}/${key}`, groups });
      this.kubeTokens[key] = token;
    }
  }

  /**
   * Delivers an EventBridge event to the start-drain function as the rule does:
   * only if it matches the rule's pattern (else this throws: use
   * invokeFunction for a direct invocation), through the target's input
   * transformer; a failed invocation leaves the payload in eventBridge.deadLetters.
   * With service limits, the asynchronous invocation retries as Lambda does
   * (see invokeAsync) before the payload counts as failed.
   */
  deliver(event: unknown): Promise<StartDrainResult> {
    return this.eventBridge.deliver(this.synth.functionArns.startDrain, event, (payload) => this.invokeAsync(payload)) as Promise<StartDrainResult>;
  }

  /** Lambda's asynchronous invocation of start-drain: throttles and errors retried (only when limits are modelled). */
  private async invokeAsync(event: unknown): Promise<StartDrainResult> {
    if (!this.options.limits) return this.invoke('startDrain', event) as Promise<StartDrainResult>;
    const received = this.clock.now();
    let throttleDelay = 1_000;
    let errors = 0;
    for (;;) {
      try {
        return (await this.invoke('startDrain', event)) as StartDrainResult;
      } catch (err) {
        // Lambda's asynchronous invocation: throttles retried with backoff for up to
        // 6 h; function errors retried twice (retryAttempts 2), about 1 and 2 min later.
        const throttled = (err as Error).name === 'Lambda.TooManyRequestsException';
        if (!throttled && ++errors > 2) throw err;
        const delay = throttled ? throttleDelay : 60_000 * errors;
        if (this.clock.now() + delay - received > 6 * 3600_000) {
          this.limitStats.eventsDropped++;
          throw err;
        }
        if (throttled) throttleDelay = Math.min(300_000, throttleDelay * 2);
        await this.clock.sleep(delay);
      }
    }
  }

  /** StartExecution's token bucket, with the SDK's retries (see ServiceLimits). */
  private async startExecutionToken(): Promise<void> {
    const limits = this.options.limits;
    if (!limits) return;
    const { bucket, refillPerSecond } = limits.startExecution ?? { bucket: 800, refillPerSecond: 150 };
    for (let attempt = 1; ; attempt++) {
      const now = this.clock.now();
      const state = (this.startTokens ??= { tokens: bucket, at: now });
      state.tokens = Math.min(bucket, state.tokens + ((now - state.at) / 1000) * refillPerSecond);
      state.at = now;
      if (state.tokens >= 1) {
        state.tokens -= 1;
        return;
      }
      this.limitStats.startExecutionThrottles++;
      if (attempt >= 3) {
        this.limitStats.startExecutionFailures++;
        throw new SFNServiceException({ name: 'ThrottlingException', message: 'Rate exceeded', $fault: 'client', $metadata: { httpStatusCode: 400 } });
      }
      await this.clock.sleep(500 * 2 ** (attempt - 1));
    }
  }

  /** Takes a unit of Lambda concurrency for `key`, or throws Lambda.TooManyRequestsException. */
  private takeConcurrency(key: DrainFunctionKey): () => void {
    const limits = this.options.limits;
    const reserved = limits?.reservedConcurrency ?? {};
    const running = this.runningByFunction[key] ?? 0;
    if (limits) {
      const account = limits.accountConcurrency ?? 1000;
      const reservedTotal = Object.values(reserved).reduce((a: number, b) => a + (b ?? 0), 0);
      const unreservedRunning = (Object.keys(this.runningByFunction) as DrainFunctionKey[])
        .filter((k) => reserved[k] === undefined)
        .reduce((n, k) => n + (this.runningByFunction[k] ?? 0), 0);
      const own = reserved[key];
      const full = own !== undefined ? running >= own : unreservedRunning >= account - reservedTotal;
      if (full) {
        this.limitStats.lambdaThrottles++;
        this.limitStats.lambdaThrottlesByFunction[key] = (this.limitStats.lambdaThrottlesByFunction[key] ?? 0) + 1;
        throw namedError('Lambda.TooManyRequestsException', `Rate Exceeded. (${key}: concurrency limit reached)`);
      }
    }
    this.running++;
    this.runningByFunction[key] = running + 1;
    this.limitStats.peakConcurrency = Math.max(this.limitStats.peakConcurrency, this.running);
    this.limitStats.peakConcurrencyByFunction[key] = Math.max(this.limitStats.peakConcurrencyByFunction[key] ?? 0, running + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      this.runningByFunction[key] = (this.runningByFunction[key] ?? 1) - 1;
    };
  }

  /** Resolves once no execution is running (continuations included). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
      if (running.length === 0) return;
      await Promise.all(running.map((e) => e.done));
    }
  }

  restore(): void {
    this.sfnMock.restore();
    // A run left behind (a test that timed out) must not go on acting on the next world's mocks.
    for (const e of this.executions.values()) if (e.status === 'RUNNING') e.abort?.();
  }

  /** StartExecution: a name already used fails with ExecutionAlreadyExists, as in Step Functions. */
  startExecution(name: string, input: unknown): ExecutionRecord {
    if (this.executions.has(name)) {
      throw new SFNServiceException({
        name: 'ExecutionAlreadyExists',
        message: `Execution Already Exists: '${this.arnOf(name)}'`,
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      });
    }
    const record: ExecutionRecord = {
      name,
      arn: this.arnOf(name),
      input,
      status: 'RUNNING',
      startedAt: this.clock.now(),
      transitions: 0,
      historyEvents: 0,
      states: {},
      lambdaInvocations: 0,
      lambdaSeconds: 0,
      lastStateInput: {},
      redrives: 0,
      done: Promise.resolve(),
    };
    this.executions.set(name, record);
    record.done = this.run(record, this.synth.definition.StartAt, input);
    return record;
  }

  /** RedriveExecution: restarts a FAILED execution from the state that failed, with that state's input. */
  redrive(name: string): ExecutionRecord {
    const record = this.executions.get(name);
    if (!record || record.status !== 'FAILED' || !record.failedState) {
      throw new Error(`execution ${name} cannot be redriven (${record?.status ?? 'unknown'})`);
    }
    record.status = 'RUNNING';
    record.redrives++;
    record.error = undefined;
    record.done = this.run(record, record.failedState, record.lastStateInput[record.failedState]);
    return record;
  }

  private arnOf(name: string): string {
    return `${this.synth.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  }

  private async run(record: ExecutionRecord, startAt: string, input: unknown): Promise<void> {
    const definition = this.localDefinition(startAt);
    // A redrive starts mid-way, which leaves the start unreachable: validate only the original.
    // The definition is validated once: the validator compiles a JSON schema, ~1 s
    // per machine, which a surge of hundreds of executions cannot afford each time.
    const validationOptions = startAt === this.synth.definition.StartAt && !this.validated ? { checkArn: false, checkPaths: false } : { noValidate: true };
    const machine = new StateMachine(definition as never, { validationOptions });
    this.validated = true;
    const retryIntervalOverrides = Object.fromEntries(
      Object.entries(definition.States).filter(([, s]) => Array.isArray(s.Retry)).map(([name]) => [name, 0]),
    );
    const execution = machine.run(input as never, {
      noThrowOnAbort: false,
      overrides: { taskResourceLocalHandlers: this.taskHandlers(record, definition) as never, retryIntervalOverrides },
      context: {
        Execution: { Id: record.arn, Name: record.name, StartTime: new Date(record.startedAt).toISOString(), Input: input as never },
        StateMachine: { Id: this.synth.stateMachineArn, Name: this.synth.stateMachineName },
      } as never,
    });
    if (record.redrives === 0) record.historyEvents += 1; // ExecutionStarted
    let aborted = false;
    record.abort = () => {
      aborted = true;
      execution.abort();
    };
    const counting = this.count(record, execution.eventLogs);
    try {
      record.output = await execution.result;
      record.status = 'SUCCEEDED';
    } catch (err) {
      record.status = aborted ? 'ABORTED' : 'FAILED';
      const cause = (err as { cause?: { name?: string; message?: string } }).cause;
      record.error = { Error: cause?.name ?? (err as Error).name, Cause: cause?.message ?? (err as Error).message };
    } finally {
      await counting;
      record.historyEvents += 1; // ExecutionSucceeded / ExecutionFailed
      record.stoppedAt = this.clock.now();
    }
  }

  private async count(record: ExecutionRecord, events: ReturnType<StateMachine['run']>['eventLogs']): Promise<void> {
    const types = this.synth.definition.States;
    for await (const event of events) {
      if (event.type === 'StateEntered') {
        const name = event.state.name;
        record.transitions++;
        record.states[name] = (record.states[name] ?? 0) + 1;
        record.historyEvents += HISTORY_EVENTS_OF[types[name]?.Type ?? 'Task'] ?? 2;
        record.lastStateInput[name] = event.state.input;
        this.options.onStateEntered?.(record, name, this.clock.now());
      } else if (event.type === 'StateRetried') {
        record.transitions++;
        record.historyEvents += 3;
      } else if (event.type === 'StateFailed') {
        record.failedState = event.state.name;
      }
    }
  }

  /** The synthesized definition, Waits turned into virtual-time sleeps, optionally starting elsewhere (redrive). */
  private localDefinition(startAt: string): AslDefinition {
    const states: Record<string, AslState> = {};
    for (const [name, state] of Object.entries(this.synth.definition.States)) {
      if (state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
        // aws-local-stepfunctions times a Task out after 60 s of *real* time when it
        // names no timeout; Step Functions' default is 99,999,999 s, and Lambda
        // timeouts are enforced here on virtual time. A busy machine simulating a
        // long round must not turn it into States.Timeout (2e6 s fits setTimeout).
        states[name] = { ...state, TimeoutSeconds: 2_000_000 };
        continue;
      }
      if (state.Type !== 'Wait') {
        states[name] = state;
        continue;
      }
      const { Seconds, SecondsPath, Timestamp, TimestampPath, Comment, ...flow } = state;
      void Seconds; void SecondsPath; void Timestamp; void TimestampPath; void Comment;
      states[name] = { ...flow, Type: 'Task', Resource: `arn:aws:lambda:us-east-1:123456789012:function:virtual-wait` };
    }
    return { ...this.synth.definition, StartAt: startAt, States: states };
  }

  private taskHandlers(record: ExecutionRecord, definition: AslDefinition) {
    const handlers: Record<string, (input: never) => Promise<never>> = {};
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Type !== 'Task') continue;
      const original = this.synth.definition.States[name];
      if (original.Type === 'Wait') {
        handlers[name] = async (input) => {
          const until = waitEnd(original, input, this.clock.now());
          if (!Number.isFinite(until)) throw namedError('States.Runtime', `${name}: the Wait's timestamp is missing or not a timestamp`);
          await this.clock.sleep(until - this.clock.now());
          return input;
        };
      } else if (String(state.Resource).includes(':states:::aws-sdk:sfn:startExecution')) {
        handlers[name] = async (params: never) => this.continueAsNew(params) as never;
      } else {
        const key = this.functionOfArn.get(String(state.Resource));
        if (!key) throw new Error(`state ${name} calls ${String(state.Resource)}, which is none of our functions`);
        const throttleRetry = (state.Retry as Array<{ ErrorEquals: string[]; IntervalSeconds?: number; MaxAttempts?: number; BackoffRate?: number }> | undefined)
          ?.find((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'));
        handlers[name] = async (input) => {
          record.lambdaInvocations++;
          const started = this.clock.now();
          try {
            const output = await this.invokeRetryingThrottles(key, input, record, throttleRetry);
            const bytes = Buffer.byteLength(JSON.stringify(output ?? null));
            if (bytes > STATE_LIMIT_BYTES) {
              record.dataLimitExceeded ??= { state: name, bytes };
              throw namedError('States.DataLimitExceeded', `${name} returned ${bytes} bytes, over 256 KB`);
            }
            return output as never;
          } finally {
            record.lambdaSeconds += (this.clock.now() - started) / 1000;
          }
        };
      }
    }
    return handlers;
  }

  /**
   * A throttled invocation waits and retries as the state's Retry says, on
   * virtual time (aws-local-stepfunctions' own retry intervals are not waited for).
   */
  private async invokeRetryingThrottles(
    key: DrainFunctionKey,
    input: unknown,
    record: ExecutionRecord,
    retry: { IntervalSeconds?: number; MaxAttempts?: number; BackoffRate?: number } | undefined,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.invoke(key, input);
      } catch (err) {
        if ((err as Error).name !== 'Lambda.TooManyRequestsException' || !retry || attempt >= (retry.MaxAttempts ?? 3)) throw err;
        record.transitions++;
        record.historyEvents += 3;
        await this.clock.sleep((retry.IntervalSeconds ?? 1) * 1000 * (retry.BackoffRate ?? 2) ** attempt);
      }
    }
  }

  /** The aws-sdk:sfn:startExecution integration: errors are named Sfn.<Code>Exception. */
  private continueAsNew(params: { Name?: string; Input?: string }) {
    try {
      const started = this.startExecution(String(params.Name), JSON.parse(String(params.Input ?? '{}')));
      return { ExecutionArn: started.arn, StartDate: new Date(this.clock.now()).toISOString() };
    } catch (err) {
      if ((err as Error).name !== 'ExecutionAlreadyExists') throw err;
      throw namedError('Sfn.ExecutionAlreadyExistsException', (err as Error).message);
    }
  }

  /** One Lambda invocation: the handler with a context on virtual time; errors reported as Lambda does. */
  private async invoke(key: DrainFunctionKey, input: unknown): Promise<unknown> {
    const free = this.takeConcurrency(key);
    try {
      return await this.invokeHandler(key, input);
    } finally {
      free();
    }
  }

  private async invokeHandler(key: DrainFunctionKey, input: unknown): Promise<unknown> {
    const deadline = this.clock.now() + this.synth.timeoutSeconds[key] * 1000;
    const context = {
      awsRequestId: randomUUID(),
      functionName: key,
      getRemainingTimeInMillis: () => Math.max(0, deadline - this.clock.now()),
    } as unknown as Context;
    try {
      const output = await this.handlers[key](input as never, context);
      if (this.clock.now() > deadline) {
        throw namedError('Sandbox.Timedout', `${key} ran ${Math.round((this.clock.now() - deadline) / 1000)} s past its timeout`);
      }
      return output;
    } catch (err) {
      const error = err as Error;
      const reported = new Error(JSON.stringify({ errorType: error.name, errorMessage: error.message }));
      reported.name = error.name;
      throw reported;
    }
  }

  /** A function without an identity in the cluster presents a token no one mapped: 401, as in EKS. */
  private kubeToken(key: DrainFunctionKey): string {
    return this.options.kubeToken ?? this.kubeTokens[key] ?? `k8s-aws-v1.unmapped-${key}`;
  }

  private deps(env: Record<string, string>, key: DrainFunctionKey): Deps {
    const clock = this.clock;
    const kube = this.options.kube;
    const aws = { region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } };
    let ec2: EC2Client | undefined;
    return {
      ...this.observability,
      clock,
      config: configFromEnv(env),
      kube: (timeLeftMs) => {
        const until = clock.now() + timeLeftMs;
        return new KubeClient(
          async () => ({ endpoint: kube.url, caData: Buffer.from(kube.caPem).toString('base64'), token: this.kubeToken(key) }),
          { clock, until: () => until },
        );
      },
      hooks: new LifecycleHooks(new AutoScalingClient(aws)),
      ec2: {
        describeInstance: (instanceId) => describeInstance((ec2 ??= new EC2Client(aws)), instanceId),
        spotRequestStatus: (requestId) => spotRequestStatus((ec2 ??= new EC2Client(aws)), requestId),
      },
      executions: new DrainExecutions(new SFNClient(aws), env.STATE_MACHINE_ARN ?? this.synth.stateMachineArn),
    };
  }
}

/** Step Functions' limit on a state's input or output. */
const STATE_LIMIT_BYTES = 256 * 1024;

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** When a Wait state ends, from its Seconds, SecondsPath, Timestamp or TimestampPath. */
function waitEnd(state: AslState, input: unknown, now: number): number {
  const read = (path: string) => path.replace(/^\$\.?/, '').split('.').filter(Boolean).reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], input);
  if (typeof state.Seconds === 'number') return now + state.Seconds * 1000;
  if (typeof state.SecondsPath === 'string') return now + Number(read(state.SecondsPath)) * 1000;
  if (typeof state.Timestamp === 'string') return Date.parse(state.Timestamp);
  if (typeof state.TimestampPath === 'string') return Date.parse(String(read(state.TimestampPath)));
  throw new Error('a Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath');
}
