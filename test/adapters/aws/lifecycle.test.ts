import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
  ResourceContentionFault,
} from '@aws-sdk/client-auto-scaling';
import { ConfigurationError, TransientError } from '../../../lambda/adapters/errors';
import { AUTO_SCALING_MAX_ATTEMPTS, LifecycleHooks, createAutoScalingClient, type ActionTarget } from '../../../lambda/adapters/lifecycle';

const TOKEN = 'bcd2f1b8-9a78-44d3-8a7a-4dd07d7cf635';

const action: ActionTarget = {
  autoScalingGroupName: 'my-asg',
  lifecycleHookName: 'my-hook',
  instanceId: 'i-0123456789abcdef0',
};

function awsError(name: string, message: string, fault: 'client' | 'server' = 'client', httpStatusCode = 400) {
  return new AutoScalingServiceException({ name, $fault: fault, $metadata: { httpStatusCode }, message });
}

const autoScaling = mockClient(AutoScalingClient);
const hooks = new LifecycleHooks(new AutoScalingClient({}));
beforeEach(() => autoScaling.reset());

describe('describeHook', () => {
  it('returns the timeouts and default result of the hook', async () => {
    // Arrange
    autoScaling.on(DescribeLifecycleHooksCommand).resolves({
      LifecycleHooks: [
        { LifecycleHookName: 'my-hook', AutoScalingGroupName: 'my-asg', HeartbeatTimeout: 1800, GlobalTimeout: 172800, DefaultResult: 'CONTINUE' },
      ],
    });

    // Act
    const hook = await hooks.describeHook('my-asg', 'my-hook');

    // Assert
    expect(hook).toEqual({ heartbeatTimeoutSeconds: 1800, globalTimeoutSeconds: 172800, defaultResult: 'CONTINUE' });
    expect(autoScaling).toHaveReceivedCommandWith(DescribeLifecycleHooksCommand, {
      AutoScalingGroupName: 'my-asg',
      LifecycleHookNames: ['my-hook'],
    });
  });

  it('falls back to the values Auto Scaling applies when the hook omits them', async () => {
    // Arrange
    autoScaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [{ LifecycleHookName: 'my-hook' }] });

    // Act
    const hook = await hooks.describeHook('my-asg', 'my-hook');

    // Assert: GlobalTimeout = min(100 × 3600, 172800)
    expect(hook).toEqual({ heartbeatTimeoutSeconds: 3600, globalTimeoutSeconds: 172800, defaultResult: 'ABANDON' });
  });

  it('derives GlobalTimeout from a short heartbeat timeout', async () => {
    // Arrange
    autoScaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [{ LifecycleHookName: 'my-hook', HeartbeatTimeout: 300 }] });

    // Act
    const hook = await hooks.describeHook('my-asg', 'my-hook');

    // Assert
    expect(hook.globalTimeoutSeconds).toBe(30000);
  });

  it('reports a missing hook as ConfigurationError', async () => {
    // Arrange
    autoScaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [] });

    // Act / Assert
    await expect(hooks.describeHook('my-asg', 'my-hook')).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('reports an unknown group as ConfigurationError', async () => {
    // Arrange
    autoScaling.on(DescribeLifecycleHooksCommand).rejects(awsError('ValidationError', 'Group my-asg not found'));

    // Act / Assert
    await expect(hooks.describeHook('my-asg', 'my-hook')).rejects.toBeInstanceOf(ConfigurationError);
  });
});

describe('recordHeartbeat', () => {
  it('names the action by instance id, group and hook: no token', async () => {
    // Arrange
    autoScaling.on(RecordLifecycleActionHeartbeatCommand).resolves({});

    // Act
    const outcome = await hooks.recordHeartbeat(action);

    // Assert
    expect(outcome).toBe('recorded');
    expect(autoScaling).toHaveReceivedCommandWith(RecordLifecycleActionHeartbeatCommand, {
      AutoScalingGroupName: 'my-asg',
      LifecycleHookName: 'my-hook',
      InstanceId: 'i-0123456789abcdef0',
    });
    expect(JSON.stringify(autoScaling.calls()[0].args[0].input)).not.toContain('Token');
  });
});

describe('complete', () => {
  it('names the action by instance id, group and hook, with the result: no token', async () => {
    // Arrange
    autoScaling.on(CompleteLifecycleActionCommand).resolves({});

    // Act
    const outcome = await hooks.complete(action, 'ABANDON');

    // Assert
    expect(outcome).toBe('completed');
    expect(autoScaling).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, {
      AutoScalingGroupName: 'my-asg',
      LifecycleHookName: 'my-hook',
      InstanceId: 'i-0123456789abcdef0',
      LifecycleActionResult: 'ABANDON',
    });
    expect(JSON.stringify(autoScaling.calls()[0].args[0].input)).not.toContain('Token');
  });
});

describe.each([
  ['recordHeartbeat', () => hooks.recordHeartbeat(action)],
  ['complete', () => hooks.complete(action, 'CONTINUE')],
])('%s failures', (_, call) => {
  it.each([
    `No active Lifecycle Action found with token ${TOKEN}`,
    'No active Lifecycle Action found with instance ID i-0123456789abcdef0',
  ])('treats "%s" as not-active', async (message) => {
    // Arrange
    autoScaling.onAnyCommand().rejects(awsError('ValidationError', message));

    // Act
    const outcome = await call();

    // Assert
    expect(outcome).toBe('not-active');
  });

  it.each([
    ['ResourceContentionFault', () => new ResourceContentionFault({ $metadata: { httpStatusCode: 500 }, message: 'You already have a pending update' })],
    ['Throttling', () => awsError('Throttling', 'Rate exceeded')],
    ['InternalFailure', () => awsError('InternalFailure', 'oops', 'server', 500)],
  ])('maps %s to TransientError', async (_name, error) => {
    // Arrange
    autoScaling.onAnyCommand().rejects(error());

    // Act / Assert
    await expect(call()).rejects.toMatchObject({ name: 'TransientError' });
  });

  it('maps any other ValidationError to ConfigurationError, naming the action', async () => {
    // Arrange
    autoScaling.onAnyCommand().rejects(awsError('ValidationError', 'Unable to find a lifecycle hook named my-hook'));

    // Act
    const error = await call().then(() => undefined, (e: unknown) => e as Error);

    // Assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error?.message).toContain('my-asg/my-hook i-0123456789abcdef0');
  });
});

it('createAutoScalingClient bounds the SDK retries', async () => {
  // Arrange / Act
  const client = createAutoScalingClient({ region: 'us-east-1' });

  // Assert
  expect(await client.config.maxAttempts()).toBe(AUTO_SCALING_MAX_ATTEMPTS);
});

it('TransientError and ConfigurationError keep their names, which the state machine matches on', () => {
  // Arrange / Act
  const errors = [new TransientError('t'), new ConfigurationError('c')];

  // Assert
  expect(errors.map((e) => e.name)).toEqual(['TransientError', 'ConfigurationError']);
});
