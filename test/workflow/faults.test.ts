import { createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';

async function webWorld(options?: Parameters<typeof createWorld>[0]) {
  const world = await createWorld(options);
  world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
  world.addNode('ip-10-0-0-2.ec2.internal', 'i-0aaaaaaaaaaaaaaa2');
  world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 4, nodeName: NODE, labels: { app: 'web' } });
  world.kube.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
  return world;
}

describe('workflow: faults', () => {
  let world: World;
  afterEach(() => world?.close());

  test('a flaky Kubernetes API (30% of requests fail: 429, 500, 503, resets) still drains the node', async () => {
    // Arrange
    world = await webWorld();
    for (const status of [429, 500, 503, 'reset'] as const) world.kube.faults.add({ status, rate: 0.08 });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.kube.pods({ nodeName: NODE })).toHaveLength(0);
    expect(world.kube.requests.filter((r) => r.status !== 200 && r.status !== 201).length).toBeGreaterThan(0);
  });

  test('a Kubernetes API outage: heartbeats go on, then the drain gives up, releases the instance with CONTINUE and fails loudly', async () => {
    // Arrange: the API answers 503 from the first drain round on
    world = await webWorld({ heartbeatTimeoutSeconds: 300 });
    world.kube.faults.add({ path: /^\/api\/v1\/pods$|poddisruptionbudgets/, status: 503 });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('FAILED');
    expect(execution.error?.Error).toBe('DrainFailedError');
    expect(execution.states.ReleaseAfterError).toBe(1);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(action.end!.at - action.startedAt).toBeGreaterThanOrEqual(15 * 60_000);
    expect(action.heartbeats.length).toBeGreaterThanOrEqual(3);
    expect(world.workflow.observability.metricTotal('KubernetesApiErrors')).toBeGreaterThan(5);
    expect(world.workflow.observability.logs.some((l) => l.level === 'ERROR' && l.step === 'Complete' && String(l.message).includes('CONTINUE (error)'))).toBe(true);
  });

  test('a request that hangs is cut off by its time limit, never by the Lambda timeout: the drain goes on', async () => {
    // Arrange: the first two node LISTs (Prepare) and an eviction get no answer at all
    world = await webWorld();
    world.kube.faults.add({ path: /^\/api\/v1\/nodes$/, status: 'hang', times: 2 });
    world.kube.faults.add({ path: /\/eviction$/, status: 'hang', times: 1 });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.states.ReleaseAfterError).toBeUndefined();
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.kube.pods({ nodeName: NODE })).toHaveLength(0);
  });

  test('the cluster refuses our token (401): released with CONTINUE at once, the execution fails with the reason', async () => {
    // Arrange
    world = await webWorld({ workflow: { kubeToken: 'not-mapped-to-any-user' } });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('FAILED');
    expect(execution.error?.Error).toBe('KubeApiError');
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE', at: action.startedAt });
  });

  test('throttled heartbeat and complete calls are retried', async () => {
    // Arrange: a pod that keeps the drain going past a few heartbeats
    world = await webWorld({ heartbeatTimeoutSeconds: 300 });
    world.kube.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 1800, shutdownSeconds: 1200 });
    world.asg.failNext('RecordLifecycleActionHeartbeat', 'Throttling', 3).failNext('CompleteLifecycleAction', 'ResourceContentionFault', 2);

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    const outcomes = world.asg.calls.map((c) => c.outcome);
    expect(outcomes.filter((o) => o === 'Throttling')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'ResourceContentionFault')).toHaveLength(2);
    expect(execution.states.ReleaseAfterError).toBeUndefined();
  });

  test('Auto Scaling unavailable past every retry: the execution fails holding the action; a redrive then completes it safely', async () => {
    // Arrange
    world = await webWorld();
    world.asg.failNext('CompleteLifecycleAction', 'ResourceContentionFault', 100);
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('FAILED');
    expect(execution.failedState).toBe('ReleaseAfterError');
    expect(action.end).toBeUndefined();

    // Act: Auto Scaling recovers; the operator redrives
    world.asg.clearFaults();
    world.workflow.redrive(execution.name);
    await world.workflow.idle();

    // Assert: completed exactly once; pods evicted once each, nothing drained twice
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.asg.calls.filter((c) => c.operation === 'CompleteLifecycleAction' && c.outcome === 'CONTINUE')).toHaveLength(1);
    expect(world.kube.countRequests({ path: /\/eviction$/, status: 201 })).toBe(4);
    expect(execution.redrives).toBe(1);
  });
});
