import { ASG, HOOK, createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';

describe('workflow: lifecycle events and actions', () => {
  let world: World;
  afterEach(() => world?.close());

  test('an instance without a node completes with CONTINUE at once, without cordoning anything', async () => {
    // Arrange
    world = await createWorld();
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');

    // Act
    const { action } = await world.terminate('i-0fffffffffffffff9');
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE', at: action.startedAt });
    expect(execution.states.Cordon).toBeUndefined();
    expect((execution.output as { result: { reason: string } }).result.reason).toBe('node-not-found');
    expect(world.kube.countRequests({ method: 'PATCH' })).toBe(0);
    expect(world.workflow.observability.metricTotal('DrainsCompleted', { Result: 'NodeNotFound' })).toBe(1);
  });

  test('duplicated events (the same one twice, and a re-sent one with a new id) start one drain', async () => {
    // Arrange
    world = await createWorld();
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE });

    // Act
    const { action, event } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    const again = await world.workflow.deliver(event);
    const resent = await world.workflow.deliver({ ...event, id: 'another-delivery-id' });
    await world.workflow.idle();
    const late = await world.workflow.deliver(event);

    // Assert
    expect(world.workflow.executions.size).toBe(1);
    expect([again.outcome, resent.outcome]).toEqual(['duplicate', 'duplicate']);
    // once the action is over, Auto Scaling no longer holds the instance: nothing to do
    expect(late).toEqual({ outcome: 'ignored', reason: 'no-longer-held' });
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.workflow.observability.metricTotal('DuplicateEvents')).toBe(2);
    expect(world.workflow.observability.metricTotal('RefusedInputs')).toBe(0);
    expect(world.workflow.observability.metricTotal('DrainsStarted')).toBe(1);
    expect(world.kube.countRequests({ path: /\/eviction$/ })).toBe(2);
  });

  test('the action completed elsewhere mid-drain: the next heartbeat finds it over and the execution ends, recorded', async () => {
    // Arrange
    world = await createWorld();
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.kube.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 7200, shutdownSeconds: 7000 });
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    world.clock.schedule(world.clock.now() + 45 * 60_000, () => world.asg.completeElsewhere(action, 'CONTINUE'));

    // Act
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.stoppedAt! - action.startedAt).toBeLessThan(45 * 60_000 + 1800 * 1000);
    expect((execution.output as { result: unknown }).result).toMatchObject({ reason: 'ended-elsewhere', outcome: 'already-completed' });
    expect(world.asg.calls.filter((c) => c.operation === 'CompleteLifecycleAction')).toHaveLength(0);
    expect(world.workflow.observability.metricTotal('DrainsCompleted', { Result: 'AlreadyCompleted' })).toBe(1);
  });

  test.each([
    // Shaped to match the rule, so that it goes through the input transformer (which forwards Event).
    ['a test notification', (e: Record<string, any>) => ({ ...e, detail: { Event: 'autoscaling:TEST_NOTIFICATION', AutoScalingGroupName: ASG, LifecycleHookName: HOOK } }), 'test-notification'],
  ])('%s is ignored, logged, and starts nothing', async (_label, mutate, reason) => {
    // Arrange
    world = await createWorld();
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    const { event } = world.asg.terminate(ASG, HOOK, 'i-0aaaaaaaaaaaaaaa1');

    // Act
    const result = await world.workflow.deliver(mutate(event));

    // Assert
    expect(result).toEqual({ outcome: 'ignored', reason });
    expect(world.workflow.executions.size).toBe(0);
    expect(world.workflow.observability.logs.some((l) => String(l.message).includes(reason))).toBe(true);
  });

  test('a malformed event that still names its instance is drained by instance id once checked, not lost', async () => {
    // Arrange: no hook name, so no rule would deliver it: a direct invocation
    world = await createWorld();
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: NODE });
    const { action, event } = world.asg.terminate(ASG, HOOK, 'i-0aaaaaaaaaaaaaaa1');
    const { LifecycleHookName: _dropped, ...detail } = event.detail;
    void _dropped;

    // Act
    const result = (await world.workflow.invokeFunction('startDrain', { ...event, detail })) as { outcome: string };
    await world.workflow.idle();

    // Assert
    expect(result.outcome).toBe('started');
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.workflow.observability.metricTotal('InvalidEvents')).toBe(1);
    expect(world.workflow.observability.logs.some((l) => l.level === 'ERROR' && String(l.message).includes('malformed lifecycle event'))).toBe(true);
  });

  test('an event that does not say which instance fails loudly (so it reaches the dead-letter queue)', async () => {
    // Arrange
    world = await createWorld();
    const { event } = world.asg.terminate(ASG, HOOK, 'i-0aaaaaaaaaaaaaaa1');

    // Act
    const delivery = world.workflow.deliver({ ...event, detail: { ...event.detail, EC2InstanceId: undefined } });

    // Assert
    await expect(delivery).rejects.toMatchObject({ name: 'InvalidLifecycleEventError' });
    expect(world.workflow.executions.size).toBe(0);
  });
});
