import { createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';

/** A node whose web pods sit behind a PDB that never allows an eviction. */
async function blockedWorld(options: Parameters<typeof createWorld>[0]) {
  const world = await createWorld(options);
  world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
  world.addNode('ip-10-0-0-2.ec2.internal', 'i-0aaaaaaaaaaaaaaa2');
  world.kube.addDeployment({ namespace: 'db', name: 'pg', replicas: 2, nodeName: NODE, labels: { app: 'pg' }, terminationGracePeriodSeconds: 120, shutdownSeconds: 20 });
  world.kube.addPdb({ namespace: 'db', name: 'pg', selector: { matchLabels: { app: 'pg' } }, minAvailable: 2 });
  world.kube.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE], tolerations: [{ operator: 'Exists' }] });
  return world;
}

describe('workflow: a PDB that never allows eviction', () => {
  let world: World;
  afterEach(() => world?.close());

  test('force-delete (default): acts before the hook expires, deletes the pods with a clamped grace, completes with CONTINUE', async () => {
    // Arrange: heartbeat timeout 120 s → the hook's global timeout is 12000 s
    world = await blockedWorld({ heartbeatTimeoutSeconds: 120 });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(action.end!.at - action.startedAt).toBeLessThan(12_000 * 1000);
    expect(execution.states.ApplyDeadlinePolicy).toBe(1);
    const output = execution.output as { result: { reason: string }; totals: { forceDeleted: number } };
    expect(output.result.reason).toBe('deadline-force-deleted');
    expect(output.totals.forceDeleted).toBe(2);
    // only the DaemonSet pod is left, and no eviction was ever refused with a 429
    expect(world.kube.pods({ nodeName: NODE }).map((p) => p.metadata.name)).toEqual([expect.stringMatching(/^aws-node/)]);
    expect(world.kube.countRequests({ path: /\/eviction$/ })).toBe(0);
    expect(world.workflow.observability.metricTotal('DeadlinesReached')).toBe(1);
    expect(world.workflow.observability.metricTotal('PodsForceDeleted')).toBe(2);
  });

  test.each([
    ['continue', 'CONTINUE', 'deadline-continue'],
    ['abandon', 'ABANDON', 'deadline-abandon'],
  ])('onDeadline=%s completes with %s at the deadline and leaves the pods', async (onDeadline, result, reason) => {
    // Arrange
    world = await blockedWorld({ workflow: { props: { onDeadline: onDeadline as 'continue' | 'abandon', maxDrainSeconds: 900 } } });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(action.end).toMatchObject({ how: 'completed', result });
    expect(action.end!.at - action.startedAt).toBeLessThanOrEqual(900 * 1000);
    expect((execution.output as { result: { reason: string } }).result.reason).toBe(reason);
    expect(world.kube.pods({ nodeName: NODE }).filter((p) => p.metadata.name.startsWith('pg'))).toHaveLength(2);
  });

  test('maxDrainSeconds ends a drain early even when the hook would wait 48 h', async () => {
    // Arrange
    world = await blockedWorld({ workflow: { props: { maxDrainSeconds: 1200 } } });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(action.end!.at - action.startedAt).toBeLessThanOrEqual(1200 * 1000);
    expect(action.end!.at - action.startedAt).toBeGreaterThan(1000 * 1000);
  });
});
