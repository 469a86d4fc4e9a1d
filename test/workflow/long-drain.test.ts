import { createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';
const HOUR = 3_600_000;

describe('workflow: a CronJob pod that needs hours', () => {
  let world: World;
  afterEach(() => world?.close());

  test('a 6 h grace pod that exits 5 h after eviction: heartbeats hold the action, completed soon after the pod is gone', async () => {
    // Arrange
    world = await createWorld();
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.addNode('ip-10-0-0-2.ec2.internal', 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addJobPod({ namespace: 'batch', name: 'nightly-report', nodeName: NODE, terminationGracePeriodSeconds: 6 * 3600, shutdownSeconds: 5 * 3600 });
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE });
    const start = world.clock.now();

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const executions = [...world.workflow.executions.values()];
    expect(executions.map((e) => e.status)).toEqual(['SUCCEEDED']);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    const completedAfter = action.end!.at - start;
    expect(completedAfter).toBeGreaterThanOrEqual(5 * HOUR);
    // noticed within ~5% of the time waited (pacing), and never more than 10 min late
    expect(completedAfter).toBeLessThanOrEqual(5 * HOUR + 10 * 60_000);
    // every gap between beats (and from the start) shorter than the 1800 s heartbeat timeout
    const beats = [action.startedAt, ...action.heartbeats, action.end!.at];
    const gaps = beats.slice(1).map((t, i) => t - beats[i]);
    expect(Math.max(...gaps)).toBeLessThan(1800 * 1000);
    expect(action.heartbeats.length).toBeGreaterThanOrEqual(12);
    expect(executions[0].historyEvents).toBeLessThan(25_000);
    expect(executions[0].transitions).toBeLessThan(400);
    expect((executions[0].output as { totals: { heartbeats: number } }).totals.heartbeats).toBe(action.heartbeats.length);
  });

  test('continues in a new execution before the history budget runs out, and the drain carries on', async () => {
    // Arrange: a tiny budget (configurable like any other setting) forces continuations
    world = await createWorld({ workflow: { environment: { drainStep: { HISTORY_EVENTS_BUDGET: '150' } } } });
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.kube.addJobPod({ namespace: 'batch', name: 'nightly-report', nodeName: NODE, terminationGracePeriodSeconds: 3 * 3600, shutdownSeconds: 2 * 3600 });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const executions = [...world.workflow.executions.values()];
    expect(executions.length).toBeGreaterThanOrEqual(3);
    expect(executions.map((e) => e.name)).toEqual(executions.map((_, i) => (i === 0 ? executions[0].name : `${executions[0].name}-c${i}`)));
    expect(executions.every((e) => e.status === 'SUCCEEDED')).toBe(true);
    expect(Math.max(...executions.map((e) => e.historyEvents))).toBeLessThanOrEqual(150 + 30);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    const last = executions[executions.length - 1].output as { result: { reason: string }; heartbeat: { count: number } };
    expect(last.result.reason).toBe('drained');
    // heartbeats are counted across continuations
    expect(last.heartbeat.count).toBe(action.heartbeats.length);
  });
});
