import { StateMachine } from 'aws-local-stepfunctions';
import { AslState, synthesizeWorkflow } from '../../sim/workflow/synth';

const { definition, functionArns, stateMachineArn } = synthesizeWorkflow();
const states = definition.States;

const LAMBDA_RETRY = {
  ErrorEquals: ['Lambda.ClientExecutionTimeoutException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
  IntervalSeconds: 2,
  MaxAttempts: 12,
  BackoffRate: 2,
  MaxDelaySeconds: 60,
  JitterStrategy: 'FULL',
};
/** A timed-out or crashed function runs once more: every step is idempotent. */
const TIMEOUT_RETRY = { ErrorEquals: ['Sandbox.Timedout', 'Lambda.Unknown'], IntervalSeconds: 2, MaxAttempts: 1 };
/** Heartbeat and Complete retry within ~15 s: the heartbeat margin is a minute. */
const URGENT_TRANSIENT_RETRY = { ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 4, BackoffRate: 2, MaxDelaySeconds: 8 };
const TRANSIENT_RETRY = {
  ErrorEquals: ['TransientError'],
  IntervalSeconds: 5,
  MaxAttempts: 5,
  BackoffRate: 2,
  MaxDelaySeconds: 60,
  JitterStrategy: 'FULL',
};
const CATCH_ALL = { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseAfterError' };

/** `$.next` value → target state, plus the Default, of a Choice state. */
function routes(name: string): Record<string, string> {
  const state = states[name] as AslState & { Choices: Array<{ Variable: string; StringEquals: string; Next: string }>; Default?: string };
  expect(state.Type).toBe('Choice');
  const table: Record<string, string> = {};
  for (const choice of state.Choices) {
    expect(choice.Variable).toBe('$.next');
    table[choice.StringEquals] = choice.Next;
  }
  if (state.Default) table['(otherwise)'] = state.Default;
  return table;
}

describe('drain workflow definition', () => {
  test('Lambda service errors and throttling are retried for minutes, not released after a few seconds', () => {
    // Full jitter draws each delay in [0, min(60, 2 × 2^n)]: the ceiling adds up to 542 s.
    const ceiling = Array.from({ length: LAMBDA_RETRY.MaxAttempts }, (_, n) =>
      Math.min(LAMBDA_RETRY.MaxDelaySeconds, LAMBDA_RETRY.IntervalSeconds * LAMBDA_RETRY.BackoffRate ** n))
      .reduce((a, b) => a + b, 0);
    expect(ceiling).toBeGreaterThanOrEqual(8 * 60);
    expect(LAMBDA_RETRY.ErrorEquals).toEqual(expect.arrayContaining([
      'Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException',
    ]));
  });

  test('an execution times out an hour after the longest a hook can hold an instance (48 h)', () => {
    expect(definition.TimeoutSeconds).toBe(49 * 3600);
  });

  test('is JSONPath (no JSONata anywhere)', () => {
    expect(JSON.stringify(definition)).not.toMatch(/JSONata|\{%/);
  });

  test('the states, and nothing else', () => {
    expect(definition.StartAt).toBe('Prepare');
    expect(Object.keys(states).sort()).toEqual([
      'ApplyDeadlinePolicy', 'Complete', 'ContinueAsNew', 'Continued', 'Cordon', 'Done', 'DrainFailed', 'DrainStep',
      'Heartbeat', 'Prepare', 'ReleaseAfterError', 'RouteAfterCordon', 'RouteAfterDeadline', 'RouteAfterDrainStep', 'RouteAfterHeartbeat',
      'RouteAfterPrepare', 'WaitForPods',
    ]);
  });

  test.each([
    ['Prepare', 'prepare', 'RouteAfterPrepare'],
    ['Cordon', 'cordon', 'RouteAfterCordon'],
    ['DrainStep', 'drainStep', 'RouteAfterDrainStep'],
    ['Heartbeat', 'heartbeat', 'RouteAfterHeartbeat'],
    ['ApplyDeadlinePolicy', 'applyDeadline', 'RouteAfterDeadline'],
    ['Complete', 'complete', 'Done'],
  ] as const)('%s invokes %s with the state as payload, retries, catches, then goes to %s', (name, fn, next) => {
    const state = states[name];
    expect(state).toMatchObject({ Type: 'Task', Resource: functionArns[fn], Next: next });
    // The whole state in, the whole new state out.
    expect(state).not.toHaveProperty('Parameters');
    expect(state).not.toHaveProperty('ResultPath');
    expect(state).not.toHaveProperty('OutputPath');
    const urgent = name === 'Heartbeat' || name === 'Complete';
    expect(state.Retry).toEqual([LAMBDA_RETRY, TIMEOUT_RETRY, urgent ? URGENT_TRANSIENT_RETRY : TRANSIENT_RETRY]);
    expect(state.Catch).toEqual([CATCH_ALL]);
  });

  test('routes', () => {
    // done: the instance is not one a drain may touch (refused), or no longer held
    expect(routes('RouteAfterPrepare')).toEqual({ 'complete': 'Complete', 'done': 'Done', '(otherwise)': 'Cordon' });
    expect(routes('RouteAfterCordon')).toEqual({ 'done': 'Done', '(otherwise)': 'DrainStep' });
    expect(routes('RouteAfterDrainStep')).toEqual({
      'complete': 'Complete',
      'deadline': 'ApplyDeadlinePolicy',
      'heartbeat': 'Heartbeat',
      'continue-as-new': 'ContinueAsNew',
      'done': 'Done',
      '(otherwise)': 'WaitForPods',
    });
    expect(routes('RouteAfterHeartbeat')).toEqual({ 'done': 'Done', 'complete': 'Complete', '(otherwise)': 'WaitForPods' });
    expect(routes('RouteAfterDeadline')).toEqual({ 'complete': 'Complete', 'done': 'Done', 'heartbeat': 'Heartbeat', '(otherwise)': 'WaitForPods' });
  });

  test('WaitForPods waits until $.waitUntil, then drains again', () => {
    expect(states.WaitForPods).toEqual(expect.objectContaining({ Type: 'Wait', TimestampPath: '$.waitUntil', Next: 'DrainStep' }));
  });

  test('ContinueAsNew starts this state machine again with the continuation', () => {
    const state = states.ContinueAsNew;
    expect(state).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:sfn:startExecution',
      Parameters: {
        'StateMachineArn.$': '$$.StateMachine.Id',
        'Name.$': '$.continuation.name',
        'Input.$': 'States.JsonToString($.continuation.input)',
      },
      ResultPath: null,
      Next: 'Continued',
    });
    expect(state.Catch).toEqual([
      // A redriven execution repeating a start that already happened.
      { ErrorEquals: ['Sfn.ExecutionAlreadyExistsException'], ResultPath: null, Next: 'Continued' },
      CATCH_ALL,
    ]);
    expect(state.Retry).toEqual([{ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }]);
    expect(states.Continued).toMatchObject({ Type: 'Succeed' });
  });

  test('ReleaseAfterError completes the action with retries but no Catch, then fails with the caught error', () => {
    expect(states.ReleaseAfterError).toMatchObject({ Type: 'Task', Resource: functionArns.complete, Next: 'DrainFailed' });
    expect(states.ReleaseAfterError.Retry).toEqual([LAMBDA_RETRY, TIMEOUT_RETRY, TRANSIENT_RETRY]);
    expect(states.ReleaseAfterError).not.toHaveProperty('Catch');
    expect(states.DrainFailed).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
  });

  test('Done is the one success of a finished drain', () => {
    expect(states.Done).toMatchObject({ Type: 'Succeed' });
  });

  test('the state machine ARN is formatted from its name', () => {
    expect(stateMachineArn).toMatch(/^arn:aws:states:us-east-1:123456789012:stateMachine:/);
  });
});

describe('the definition runs locally (aws-local-stepfunctions)', () => {
  // Just enough handlers to walk each path; the workflow tests run the real ones.
  type Handler = (state: Record<string, unknown>) => Promise<Record<string, unknown>>;
  const run = async (handlers: Partial<Record<string, Handler>>, input: Record<string, unknown> = {}) => {
    const visited: string[] = [];
    const taskResourceLocalHandlers = Object.fromEntries(Object.entries(handlers).map(([name, handler]) =>
      [name, async (state: Record<string, unknown>) => { visited.push(name); return handler!(state); }]));
    // The library's own validation accepts the definition as synthesized.
    const machine = new StateMachine(definition as never);
    const execution = machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: taskResourceLocalHandlers as never,
        waitTimeOverrides: { WaitForPods: 0 },
        retryIntervalOverrides: Object.fromEntries(Object.keys(handlers).map((name) => [name, 0])),
      },
      context: { StateMachine: { Id: stateMachineArn } },
    });
    return { result: execution.result, visited };
  };
  const step = (next: string, extra: Record<string, unknown> = {}): Handler => async (state) => ({ ...state, next, ...extra });

  test('no node: Prepare → Complete → Done', async () => {
    const { result, visited } = await run({ Prepare: step('complete'), Complete: step('done') });
    await expect(result).resolves.toMatchObject({ next: 'done' });
    expect(visited).toEqual(['Prepare', 'Complete']);
  });

  test('a drain that waits, heartbeats, and completes', async () => {
    let calls = 0;
    const { result, visited } = await run({
      Prepare: step('cordon'),
      Cordon: step('drain'),
      DrainStep: async (state) => ({ ...state, next: ['wait', 'heartbeat', 'complete'][calls++], waitUntil: new Date(0).toISOString() }),
      Heartbeat: step('wait'),
      Complete: step('done'),
    });
    await expect(result).resolves.toMatchObject({ next: 'done' });
    expect(visited).toEqual(['Prepare', 'Cordon', 'DrainStep', 'DrainStep', 'Heartbeat', 'DrainStep', 'Complete']);
  });

  test('an error releases the action and fails with that error', async () => {
    const boom = Object.assign(new Error('node API unreachable'), { name: 'ConfigurationError' });
    const released: Array<Record<string, unknown>> = [];
    const { result } = await run({
      Prepare: async () => { throw boom; },
      ReleaseAfterError: async (state) => { released.push(state); return { ...state, next: 'done' }; },
    }, { executionBase: 'x' });
    // DrainFailed takes its error and cause from $.error.
    await expect(result).rejects.toMatchObject({ cause: expect.objectContaining({ name: 'ConfigurationError', message: 'node API unreachable' }) });
    expect(released).toEqual([expect.objectContaining({ executionBase: 'x', error: expect.objectContaining({ Error: 'ConfigurationError' }) })]);
  });

  test('ContinueAsNew passes the continuation to startExecution, and a duplicate counts as continued', async () => {
    const started: unknown[] = [];
    const continuation = { name: 'drain-abc-c1', input: { generation: 1 } };
    const { result } = await run({
      Prepare: step('cordon'),
      Cordon: step('drain'),
      DrainStep: step('continue-as-new', { continuation }),
      ContinueAsNew: async (parameters) => {
        started.push(parameters);
        throw Object.assign(new Error('exists'), { name: 'Sfn.ExecutionAlreadyExistsException' });
      },
    });
    await expect(result).resolves.toMatchObject({ next: 'continue-as-new' });
    expect(started[0]).toEqual({ StateMachineArn: stateMachineArn, Name: 'drain-abc-c1', Input: JSON.stringify({ generation: 1 }) });
  });
});
