import { ASG, HOOK, LAUNCH_HOOK, createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';
const ID = 'i-0aaaaaaaaaaaaaaa1';

describe('workflow: warm pools', () => {
  let world: World;
  afterEach(() => world?.close());

  test('round trip: scaled in to the warm pool, the node is drained; back from the pool, it takes pods again', async () => {
    // Arrange
    world = await createWorld({ workflow: { props: { warmPools: true } } });
    world.addNode(NODE, ID);
    world.addNode('ip-10-0-0-2.ec2.internal', 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 3, nodeName: NODE });

    // Act 1: scale-in with ReuseOnScaleIn (Destination WarmPool)
    const { action: scaleIn, event } = world.asg.terminate(ASG, HOOK, ID, { destination: 'WarmPool' });
    const started = await world.workflow.deliver(event);
    await world.workflow.idle();

    // Assert 1: drained like any termination, then stopped into the pool
    expect(started.outcome).toBe('started');
    expect(scaleIn.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.kube.pods({ nodeName: NODE })).toHaveLength(0);
    expect(world.kube.node(NODE).spec.unschedulable).toBe(true);
    expect(world.asg.instances.get(ID)!.lifecycleState).toBe('Warmed:Stopped');

    // Act 2: back from the pool (a launch action with Origin WarmPool)
    const { action: launch, event: launchEvent } = world.asg.launchFromWarmPool(ASG, LAUNCH_HOOK, ID);
    const back = await world.workflow.deliverToNodeMarks(launchEvent);

    // Assert 2: our cordon, taint and label are gone; the launch action is completed
    expect(back).toEqual({ outcome: 'uncordoned', completed: 'completed' });
    const node = world.kube.node(NODE);
    expect(node.spec.unschedulable).toBeFalsy();
    expect((node.spec.taints ?? []).map((t: { key: string }) => t.key)).not.toContain('eks-graceful-drain/draining');
    expect(node.metadata.labels).not.toHaveProperty('node.kubernetes.io/exclude-from-external-load-balancers');
    expect(launch.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.asg.instances.get(ID)!.lifecycleState).toBe('InService');
    expect(world.workflow.observability.metricTotal('WarmPoolReturns')).toBe(1);
  });

  test('a launch that is not a return, or a forged one for an instance in service, never uncordons', async () => {
    // Arrange: a node someone else cordoned, and one of ours in service
    world = await createWorld({ workflow: { props: { warmPools: true } } });
    world.addNode(NODE, ID);
    const { event } = world.asg.terminate(ASG, HOOK, ID, { destination: 'WarmPool' });
    await world.workflow.deliver(event);
    await world.workflow.idle();
    const { event: launchEvent } = world.asg.launchFromWarmPool(ASG, LAUNCH_HOOK, ID);
    world.asg.instances.get(ID)!.lifecycleState = 'InService';

    // Act: the return event replayed once the instance is in service
    const result = await world.workflow.deliverToNodeMarks(launchEvent);

    // Assert
    expect(result.outcome).toBe('refused');
    expect(world.kube.node(NODE).spec.unschedulable).toBe(true);
  });
});
