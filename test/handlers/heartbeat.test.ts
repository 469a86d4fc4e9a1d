import { makeHeartbeat } from '../../lambda/handlers/heartbeat';
import { makeComplete } from '../../lambda/handlers/complete';
import type { Deps } from '../../lambda/handlers/deps';
import { captureObservability } from '../../sim/observability';
import { VirtualClock } from '../../sim/virtual-clock';
import { STARTED_AT, drainState } from '../core/drain-state-factory';

const S = 1000;
const notUsed = async (): Promise<never> => {
  throw new Error('not used');
};

function depsAt(now: number, hookAnswer: 'recorded' | 'not-active' | 'completed'): Deps {
  const clock = new VirtualClock(now);
  return {
    ...captureObservability(),
    clock,
    config: { clusterName: 'c', deadlinePolicy: 'force-delete', maxDrainSeconds: 0, watchSeconds: 60, historyEventsBudget: 15_000, autoScalingGroupNames: ['demo-asg'], lifecycleHookName: 'drain-hook' },
    kube: () => {
      throw new Error('not used');
    },
    hooks: {
      describeHook: async () => ({ heartbeatTimeoutSeconds: 1800, globalTimeoutSeconds: 172_800, defaultResult: 'CONTINUE' }),
      recordHeartbeat: async () => (hookAnswer === 'completed' ? 'recorded' : hookAnswer),
      complete: async () => (hookAnswer === 'not-active' ? 'not-active' : 'completed'),
      // Auto Scaling holds the instance for the hook (our hook may still call it over: hookAnswer).
      describeInstance: async (instanceId: string) => ({ instanceId, autoScalingGroupName: 'demo-asg', lifecycleState: 'Terminating:Wait' }),
      groupInstances: notUsed,
      recentActivities: notUsed,
    },
    ec2: { describeInstance: notUsed, spotRequestStatus: notUsed },
    executions: { start: async () => ({ outcome: 'started', executionArn: 'arn' }), running: notUsed, stop: notUsed },
  };
}

describe('an action that is over when we heartbeat or complete', () => {
  test('completed by someone else (our beats were on time): the drain ends, recorded, no error', async () => {
    // Arrange: last beat 20 min ago, timeout 30 min
    const state = drainState({ lastBeatAt: STARTED_AT, next: 'heartbeat' });
    const heartbeat = makeHeartbeat(depsAt(STARTED_AT + 1_200 * S, 'not-active'));
    // Act
    const output = await heartbeat(state);
    // Assert
    expect(output).toMatchObject({ next: 'done', result: { reason: 'ended-elsewhere', outcome: 'already-completed' } });
  });

  test('timed out on us (no beat within HeartbeatTimeout): the step fails loudly', async () => {
    // Arrange: last beat 31 min ago
    const state = drainState({ lastBeatAt: STARTED_AT, next: 'heartbeat' });
    const heartbeat = makeHeartbeat(depsAt(STARTED_AT + 1_860 * S, 'not-active'));
    // Act
    const run = heartbeat(state);
    // Assert
    await expect(run).rejects.toMatchObject({ name: 'LifecycleActionExpiredError' });
  });

  test('Complete after the hook timed out on us fails loudly; in ReleaseAfterError it records the outcome', async () => {
    // Arrange
    const state = drainState({ lastBeatAt: STARTED_AT, next: 'complete', result: { lifecycleResult: 'CONTINUE', reason: 'drained' } });
    const late = STARTED_AT + 1_900 * S;
    // Act
    const normal = makeComplete(depsAt(late, 'not-active'))(state);
    const release = await makeComplete(depsAt(late, 'not-active'))({ ...state, error: { Error: 'LifecycleActionExpiredError', Cause: '…' } });
    // Assert
    await expect(normal).rejects.toMatchObject({ name: 'LifecycleActionExpiredError' });
    expect(release.result).toMatchObject({ reason: 'error', outcome: 'already-completed' });
  });
});
