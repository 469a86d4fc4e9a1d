import { ASG, HOOK, createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';
const INSTANCE = 'i-0aaaaaaaaaaaaaaa1';

/** Everything the drain wrote or was handed, as text: where a token must not be. */
function everythingRecorded(world: World): Record<string, string> {
  const executions = [...world.workflow.executions.values()].map(({ name, input, output, error, lastStateInput }) => ({ name, input, output, error, lastStateInput }));
  return {
    'execution input, output and state inputs': JSON.stringify(executions),
    'logs': JSON.stringify(world.workflow.observability.logs),
    'start-drain payloads': JSON.stringify(world.workflow.eventBridge.deliveries),
    'dead letters': JSON.stringify(world.workflow.eventBridge.deadLetters),
    'Kubernetes requests': JSON.stringify(world.kube.requests),
    'the node': JSON.stringify(world.kube.node(NODE)),
  };
}

describe('workflow: the lifecycle token stays in EventBridge', () => {
  let world: World;
  afterEach(() => world?.close());

  test('a raw event goes through the synthesized input transformer; the drain completes and the token is nowhere', async () => {
    // Arrange
    world = await createWorld();
    world.addNode(NODE, INSTANCE);
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE });

    // Act
    const { action, event } = await world.terminate(INSTANCE);
    await world.workflow.idle();
    const late = await world.workflow.deliver(event);

    // Assert
    expect(event.detail.LifecycleActionToken).toBe(action.token);
    const [delivered] = world.workflow.eventBridge.deliveries;
    expect(JSON.parse(delivered.body)).toEqual({
      'version': '0',
      'id': event.id,
      'detail-type': 'EC2 Instance-terminate Lifecycle Action',
      'source': 'aws.autoscaling',
      'account': event.account,
      'time': event.time,
      'region': event.region,
      'detail': {
        Event: '', // not in a lifecycle action: EventBridge renders the missing path as ""
        AutoScalingGroupName: ASG,
        LifecycleHookName: HOOK,
        EC2InstanceId: INSTANCE,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        Origin: 'AutoScalingGroup',
        Destination: 'EC2',
      },
    });
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.kube.countRequests({ path: /\/eviction$/ })).toBe(2);
    for (const [where, text] of Object.entries(everythingRecorded(world))) {
      expect({ where, leaks: text.includes(action.token) }).toEqual({ where, leaks: false });
    }
    // start-drain's log lines name the event instead (here: the late copy, once the action is over)
    expect(late).toEqual({ outcome: 'ignored', reason: 'no-longer-held' });
    expect(world.workflow.observability.logs.at(-1)).toMatchObject({ message: expect.stringMatching(/^event ignored/), eventId: event.id, instanceId: INSTANCE });
  });

  test.each([
    ['start-drain cannot reach Auto Scaling', (w: World) => void w.asg.failNext('DescribeAutoScalingInstances', 'Throttling', 100), undefined, /TransientError|Throttling/],
    ['the event does not say which instance', () => {}, { EC2InstanceId: undefined }, /InvalidLifecycleEventError/],
  ])('a failed delivery (%s): start-drain\'s DLQ holds the transformed payload, without the token', async (_label, fault, detailChange, errorName) => {
    // Arrange
    world = await createWorld();
    world.addNode(NODE, INSTANCE);
    const { action, event } = world.asg.terminate(ASG, HOOK, INSTANCE);
    fault(world);

    // Act
    const delivery = world.workflow.deliver({ ...event, detail: { ...event.detail, ...detailChange } });

    // Assert
    await expect(delivery).rejects.toMatchObject({ name: expect.stringMatching(errorName) });
    const [letter] = world.workflow.eventBridge.deadLetters;
    expect(letter.queueArn).toMatch(/DeadLetterQueue/);
    expect(JSON.parse(letter.body)).toMatchObject({ id: event.id, detail: { AutoScalingGroupName: ASG, LifecycleHookName: HOOK } });
    expect(letter.body).not.toContain('LifecycleActionToken');
    for (const [where, text] of Object.entries(everythingRecorded(world))) {
      expect({ where, leaks: text.includes(action.token) }).toEqual({ where, leaks: false });
    }
  });
});
