import type { DrainState } from '../../lambda/core/drain-state';
import { ASG, HOOK, createWorld, type World } from '../../sim/workflow/scenario';

const TERMINATING = 'i-0aaaaaaaaaaaaaaa1';
const NODE_T = 'ip-10-0-0-1.ec2.internal';
const BYSTANDER = 'i-0bbbbbbbbbbbbbbb2';
const NODE_B = 'ip-10-0-0-2.ec2.internal';
const OTHER_GROUP = 'i-0ccccccccccccccc3';
const NODE_O = 'ip-10-0-0-3.ec2.internal';
const HOUR = 3_600_000;

/** A drain state as a forger would write it: every field chosen to do harm. */
function forgedState(world: World, instanceId: string, nodeName: string, group = ASG): DrainState {
  const now = world.clock.now();
  const past = new Date(now - 48 * HOUR).toISOString();
  return {
    action: { autoScalingGroupName: group, lifecycleHookName: HOOK, instanceId, startedAt: past },
    executionBase: 'forged',
    generation: 0,
    next: 'deadline',
    nodeName,
    hook: { heartbeatTimeoutSeconds: 1800, globalTimeoutSeconds: 172_800, defaultResult: 'CONTINUE' },
    deadline: { hookExpiresAt: past, hardLimitAt: new Date(now + 60_000).toISOString(), actAt: past, policy: 'force-delete' },
    heartbeat: { count: 0 },
    loop: { iterations: 0, historyEvents: 0, apiErrorsInARow: 0 },
    totals: { evicted: 0, pdbBlocks: 0, forceDeleted: 0, apiErrors: 0, heartbeats: 0 },
  };
}

describe('workflow: forged inputs change nothing', () => {
  let world: World;
  afterEach(() => world?.close());

  async function arrange(props = {}) {
    world = await createWorld({ workflow: { props } });
    world.addNode(NODE_T, TERMINATING);
    world.addNode(NODE_B, BYSTANDER);
    world.kube.addNode({ name: NODE_O, instanceId: OTHER_GROUP });
    world.asg.addInstance(OTHER_GROUP, NODE_O, { group: 'someone-elses-asg' });
    for (const node of [NODE_T, NODE_B, NODE_O]) {
      world.kube.addDeployment({ namespace: 'shop', name: `web-${node.slice(3, 11)}`, replicas: 2, nodeName: node });
      world.kube.addJobPod({ namespace: 'batch', name: `job-${node.slice(3, 11)}`, nodeName: node, terminationGracePeriodSeconds: 3600, shutdownSeconds: 3000 });
    }
  }

  const writes = () => world.kube.requests.filter((r) => r.method !== 'GET').length;
  const completions = () => world.asg.calls.filter((c) => c.operation === 'CompleteLifecycleAction' || c.operation === 'RecordLifecycleActionHeartbeat');

  test('an execution started by hand for an instance no hook holds: refused, nothing cordoned, evicted or completed', async () => {
    // Arrange
    await arrange();

    // Act: what anyone allowed states:StartExecution could send
    for (const [name, instanceId] of [['forged-1', BYSTANDER], ['forged-2', OTHER_GROUP], ['forged-3', 'i-*'], ['forged-4', 'not-an-instance']] as const) {
      world.workflow.startExecution(name, { instanceId, executionBase: name, trigger: 'event', requestId: 'x' });
    }
    world.workflow.startExecution('forged-5', forgedState(world, BYSTANDER, NODE_B));
    await world.workflow.idle();

    // Assert
    const executions = [...world.workflow.executions.values()];
    expect(executions.map((e) => e.status)).toEqual(Array(5).fill('SUCCEEDED'));
    expect(executions.map((e) => (e.output as DrainState).result?.reason)).toEqual(Array(5).fill('refused'));
    expect(executions.every((e) => !e.states.Cordon && !e.states.DrainStep && !e.states.Complete)).toBe(true);
    expect(writes()).toBe(0);
    expect(completions()).toHaveLength(0);
    expect(world.workflow.observability.metricTotal('RefusedInputs')).toBe(5);
  });

  test('forged direct invocations of every step, naming a bystander or another group\'s instance, change nothing', async () => {
    // Arrange
    await arrange();

    // Act: what anyone allowed lambda:InvokeFunction could send
    const outputs: DrainState[] = [];
    for (const fn of ['prepare', 'cordon', 'drainStep', 'applyDeadline', 'heartbeat', 'complete'] as const) {
      outputs.push((await world.workflow.invokeFunction(fn, forgedState(world, BYSTANDER, NODE_B))) as DrainState);
      outputs.push((await world.workflow.invokeFunction(fn, forgedState(world, OTHER_GROUP, NODE_O, 'someone-elses-asg'))) as DrainState);
      outputs.push((await world.workflow.invokeFunction(fn, forgedState(world, OTHER_GROUP, NODE_O))) as DrainState);
    }

    // Assert
    expect(outputs.map((o) => o.result?.reason)).toEqual(Array(18).fill('refused'));
    expect(outputs.every((o) => o.next === 'done')).toBe(true);
    expect(writes()).toBe(0);
    expect(completions()).toHaveLength(0);
    expect(world.kube.node(NODE_B).spec.unschedulable).toBeUndefined();
  });

  test('a forged state naming a bystander\'s node for a terminating instance: only the terminating instance\'s node is touched', async () => {
    // Arrange: a real termination, its drain under way; onDeadline=continue deployed
    await arrange({ onDeadline: 'continue' });
    const { action } = world.asg.terminate(ASG, HOOK, TERMINATING);

    // Act: cordon and the deadline policy told to act on the bystander's node, with force-delete and a deadline long past
    const cordoned = (await world.workflow.invokeFunction('cordon', forgedState(world, TERMINATING, NODE_B))) as DrainState;
    const deadline = (await world.workflow.invokeFunction('applyDeadline', forgedState(world, TERMINATING, NODE_B))) as DrainState;

    // Assert: the node of the instance was cordoned, never the bystander's; nothing deleted;
    // the deadline and the policy were derived again (the action started just now, onDeadline=continue)
    expect(cordoned.nodeName).toBe(NODE_T);
    expect(world.kube.node(NODE_T).spec.unschedulable).toBe(true);
    expect(world.kube.node(NODE_B).spec.unschedulable).toBeUndefined();
    expect(world.kube.requests.filter((r) => r.method === 'DELETE' || /eviction/.test(r.path))).toHaveLength(0);
    expect(deadline).toMatchObject({ next: 'wait', deadline: { policy: 'continue' } });
    expect(Date.parse(deadline.deadline!.actAt)).toBeGreaterThan(world.clock.now() + 40 * HOUR);
    expect(action.end).toBeUndefined();
  });

  test('start-drain refuses an event from another account or region, or naming another group or hook', async () => {
    // Arrange
    await arrange();
    const { event } = world.asg.terminate(ASG, HOOK, TERMINATING);

    const forged = [
      { ...event, account: '999999999999' },
      { ...event, region: 'eu-west-1' },
      { ...event, detail: { ...event.detail, AutoScalingGroupName: 'someone-elses-asg' } },
      { ...event, detail: { ...event.detail, LifecycleHookName: 'another-hook' } },
    ];
    const startDrain = world.workflow.synth.functionArns.startDrain;

    // Act: the rule's pattern keeps the first four from start-drain; handed over
    // directly (lambda:InvokeFunction), start-drain refuses them itself.
    const results = [
      ...(await Promise.all(forged.map((e) => world.workflow.invokeFunction('startDrain', e) as Promise<{ outcome: string }>))),
      await world.workflow.deliver({ ...event, detail: { ...event.detail, EC2InstanceId: BYSTANDER } }),
    ];

    // Assert
    for (const e of forged) expect(() => world.workflow.eventBridge.route(startDrain, e)).toThrow(/matches none of its rules/);
    expect(results.map((r) => r.outcome)).toEqual(['refused', 'refused', 'refused', 'refused', 'refused']);
    expect(world.workflow.executions.size).toBe(0);
  });
});
