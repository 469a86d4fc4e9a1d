import { ASG, HOOK, createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';
const ID = 'i-0aaaaaaaaaaaaaaa1';
const MIN = 60_000;

describe('workflow: the sweep and the claim (exactly one drain per lifecycle action)', () => {
  let world: World;
  afterEach(() => world?.close());

  async function arrange(options?: Parameters<typeof createWorld>[0]) {
    world = await createWorld(options);
    world.addNode(NODE, ID);
    world.addNode('ip-10-0-0-2.ec2.internal', 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE });
  }

  test('a lost event: the next sweep finds the instance held by the hook and drains it within 10 minutes', async () => {
    // Arrange: the termination starts, its event never arrives; sweeps every 5 minutes
    await arrange();
    const { action } = world.asg.terminate(ASG, HOOK, ID);
    const stop = world.workflow.scheduleSweeps(5 * MIN);

    // Act
    await world.clock.sleep(5 * MIN + 1);
    await Promise.all(world.workflow.sweepsRun);
    await world.workflow.idle();
    stop();

    // Assert
    const executions = [...world.workflow.executions.values()];
    expect(executions).toHaveLength(1);
    expect(executions[0].name).toBe(`${ID}-${action.activity.ActivityId}`);
    expect(executions[0].startedAt - action.startedAt).toBeLessThanOrEqual(10 * MIN);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.kube.pods({ nodeName: NODE })).toHaveLength(0);
    const { metricTotal } = world.workflow.observability;
    expect(metricTotal('SweepInstancesFound')).toBe(1);
    expect(metricTotal('SweepDrainsStarted')).toBe(1);
  });

  test('an event arriving after the sweep started the drain starts nothing more', async () => {
    // Arrange: the sweep runs before the (late) event
    await arrange();
    const { action, event } = world.asg.terminate(ASG, HOOK, ID);
    const swept = await world.workflow.sweep();

    // Act
    const late = await world.workflow.deliver(event);
    await world.workflow.idle();

    // Assert
    expect(swept.started).toHaveLength(1);
    expect(late).toEqual({ outcome: 'duplicate', execution: swept.started[0] });
    expect(world.workflow.executions.size).toBe(1);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.asg.calls.filter((c) => c.operation === 'CompleteLifecycleAction')).toHaveLength(1);
  });

  test('sweeps during an event-started drain, across its continuations, start nothing', async () => {
    // Arrange: a drain that continues in new executions (tiny history budget), swept every 5 minutes
    await arrange({ workflow: { environment: { drainStep: { HISTORY_EVENTS_BUDGET: '60' } } } });
    world.kube.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 3600, shutdownSeconds: 40 * 60 });
    const stop = world.workflow.scheduleSweeps(5 * MIN);

    // Act
    const { action } = await world.terminate(ID);
    await world.workflow.idle();
    stop();
    const sweeps = await Promise.all(world.workflow.sweepsRun);

    // Assert
    const names = [...world.workflow.executions.keys()];
    expect(names.length).toBeGreaterThanOrEqual(2);
    expect(names.every((n, i) => n === (i === 0 ? names[0] : `${names[0]}-c${i}`))).toBe(true);
    expect(sweeps.length).toBeGreaterThanOrEqual(5);
    expect(sweeps.every((s) => 'found' in s && s.started.length === 0)).toBe(true);
    expect(sweeps.some((s) => 'found' in s && s.alreadyDraining === 1)).toBe(true);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
  });
});
