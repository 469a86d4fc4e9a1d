import { createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';
const SPARE = 'ip-10-0-0-2.ec2.internal';
const MINUTE = 60_000;
const asg = { AutoScalingGroupName: 'test-asg' };

describe('workflow: pods that ask to be waited for', () => {
  let world: World;
  afterEach(() => world?.close());

  test('a do-not-disrupt pod that finishes on its own: waited for, never evicted, then CONTINUE', async () => {
    // Arrange: a 1 h drain budget; the report is done after 30 min
    world = await createWorld({ workflow: { props: { maxDrainSeconds: 3600 } } });
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
    const report = world.kube.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, runSeconds: 30 * 60, terminationGracePeriodSeconds: 600, annotations: { 'karpenter.sh/do-not-disrupt': 'true' } });
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE });
    const start = world.clock.now();

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const { metricTotal, logs } = world.workflow.observability;
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(action.end!.at - start).toBeGreaterThanOrEqual(30 * MINUTE);
    expect(action.end!.at - start).toBeLessThan(35 * MINUTE);
    expect(world.kube.pods({ nodeName: NODE }).map((p) => [p.metadata.name, p.status.phase, p.metadata.deletionTimestamp])).toEqual([[report.metadata.name, 'Succeeded', undefined]]);
    expect(world.kube.countRequests({ method: 'POST', path: new RegExp(`/pods/${report.metadata.name}/eviction$`) })).toBe(0);
    expect(metricTotal('PodsEvicted', asg)).toBe(2);
    expect(metricTotal('PodsWaitedFor', asg)).toBeGreaterThanOrEqual(1);
    expect(metricTotal('WaitedPodsEvicted', asg)).toBe(0);
    expect(logs.some((l) => String(l.message).startsWith(`waiting for batch/${report.metadata.name} (karpenter.sh/do-not-disrupt) to finish`))).toBe(true);
    // the node is cordoned and the hook heartbeated meanwhile (1800 s timeout: one beat by 24 min)
    expect(world.kube.node(NODE).spec.unschedulable).toBe(true);
    expect(action.heartbeats.length).toBeGreaterThanOrEqual(1);
    const output = [...world.workflow.executions.values()][0].output as { result: { reason: string } };
    expect(output.result.reason).toBe('drained');
  });

  test('one that would outlast the deadline is evicted in time to get all of its grace, before the deadline policy', async () => {
    // Arrange: 1 h budget, force-delete acts at 55 min (a 5 min reserve); 10 min grace, 5 min to stop
    world = await createWorld({ workflow: { props: { maxDrainSeconds: 3600 } } });
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
    const report = world.kube.addJobPod({
      namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 600, shutdownSeconds: 300,
      annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' }, podReplacementPolicy: 'Failed', backoffLimit: 0,
    });
    let deletionSeenAt: number | undefined;
    let graceEnd: number | undefined;
    world.kube.onChange((e) => {
      if (e.resource === 'pods' && e.object.metadata.name === report.metadata.name && e.object.metadata.deletionTimestamp && deletionSeenAt === undefined) {
        deletionSeenAt = world.clock.now();
        graceEnd = Date.parse(e.object.metadata.deletionTimestamp);
      }
    });
    const start = world.clock.now();

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert: evicted at 55 − 10 − 1 = 44 min (the routing wakes up for it), with its whole 600 s
    const { metricTotal, logs } = world.workflow.observability;
    expect(deletionSeenAt! - start).toBeGreaterThanOrEqual(44 * MINUTE);
    expect(deletionSeenAt! - start).toBeLessThan(45 * MINUTE);
    expect(graceEnd! - deletionSeenAt!).toBeGreaterThanOrEqual(599_000);
    expect(metricTotal('WaitedPodsEvicted', asg)).toBe(1);
    expect(metricTotal('PodsForceDeleted', asg)).toBe(0);
    expect(metricTotal('DeadlinesReached', asg)).toBe(0);
    expect(logs.some((l) => l.level === 'WARN' && String(l.message).startsWith(`evicted batch/${report.metadata.name} after waiting for it`))).toBe(true);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(action.end!.at - start).toBeLessThan(55 * MINUTE);
  });

  test('waitForJobPods waits for every Job pod; an evicted Job that replaces early is logged and counted', async () => {
    // Arrange: without the opt-in the cache-warmer Job pod is evicted, and its Job (default policy) replaces it early
    world = await createWorld({ workflow: { props: { maxDrainSeconds: 3600 } } });
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
    const warmer = world.kube.addJobPod({ namespace: 'batch', name: 'cache-warmer', nodeName: NODE, terminationGracePeriodSeconds: 120, shutdownSeconds: 60 });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const { metricTotal, logs } = world.workflow.observability;
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(metricTotal('JobPodsReplacedEarly', asg)).toBe(1);
    expect(logs.some((l) => l.level === 'WARN' && String(l.message).startsWith(`evicted batch/${warmer.metadata.name} of Job batch/cache-warmer: podReplacementPolicy TerminatingOrFailed`))).toBe(true);
    expect(world.kube.pods({ nodeName: SPARE, namespace: 'batch' })).toHaveLength(1); // the replacement
    await world.close();

    // Arrange: the same with waitForJobPods — the pod finishes its 20 min on the node
    world = await createWorld({ workflow: { props: { maxDrainSeconds: 3600, waitForJobPods: true } } });
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addJobPod({ namespace: 'batch', name: 'cache-warmer', nodeName: NODE, terminationGracePeriodSeconds: 120, runSeconds: 20 * 60 });
    const second = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();
    expect(second.action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.workflow.observability.metricTotal('PodsEvicted', asg)).toBe(0);
    expect(world.workflow.observability.logs.some((l) => String(l.message).includes('(a Job pod: WAIT_FOR_JOB_PODS)'))).toBe(true);
  });
});
