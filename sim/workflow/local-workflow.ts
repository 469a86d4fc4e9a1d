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
    this.sfnMock.on(StartExecutionCommand).callsFake((input: { name?: string; input?: string }) => {
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
   */
  deliver(event: unknown): Promise<StartDrainResult> {
    return this.eventBridge.deliver(this.synth.functionArns.startDrain, event, (payload) => this.invoke('startDrain', payload)) as Promise<StartDrainResult>;
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
    const validationOptions = startAt === this.synth.definition.StartAt ? { checkArn: false, checkPaths: false } : { noValidate: true };
    const machine = new StateMachine(definition as never, { validationOptions });
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
        handlers[name] = async (input) => {
          record.lambdaInvocations++;
          const started = this.clock.now();
          try {
            const output = await this.invoke(key, input);
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
