import { createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';

describe('workflow: a large node', () => {
  let world: World;
  afterEach(() => world?.close());

  test('300 pods held by PDBs: the state stays far under 256 KB, lists capped, counts whole, across a continuation', async () => {
    // Arrange: 30 Deployments of 10 long-named pods whose PDBs allow nothing; a small history budget forces a continuation
    world = await createWorld({ workflow: { props: { maxDrainSeconds: 1800 }, environment: { drainStep: { HISTORY_EVENTS_BUDGET: '120' } } } });
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    for (let i = 0; i < 30; i++) {
      const name = `a-rather-long-deployment-name-for-team-${i}-of-the-payments-platform`;
      world.kube.addDeployment({ namespace: `payments-platform-team-${i}`, name, replicas: 10, nodeName: NODE, labels: { app: name } });
      world.kube.addPdb({ namespace: `payments-platform-team-${i}`, name, selector: { matchLabels: { app: name } }, minAvailable: 10 });
    }

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const executions = [...world.workflow.executions.values()];
    expect(executions.length).toBeGreaterThan(1);
    expect(executions.every((e) => e.dataLimitExceeded === undefined && e.status === 'SUCCEEDED')).toBe(true);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    const last = executions[executions.length - 1].output as { result: { reason: string }; totals: { forceDeleted: number } };
    expect(last.result.reason).toBe('deadline-force-deleted');
    expect(last.totals.forceDeleted).toBe(300);
    const drainSteps = world.workflow.observability.logs.filter((l) => l.step === 'DrainStep' && typeof l.summary === 'object');
    const summary = drainSteps[0].summary as { blockedByPdb: unknown[]; counts: { blockedByPdb: number } };
    expect(summary.blockedByPdb).toHaveLength(20);
    expect(summary.counts.blockedByPdb).toBe(300);
  });
});
