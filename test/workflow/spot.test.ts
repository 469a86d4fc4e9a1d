import type { DrainState } from '../../lambda/core/drain-state';
import { createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';
const ID = 'i-0aaaaaaaaaaaaaaa1';
const SPARE = 'ip-10-0-0-2.ec2.internal';
const S = 1000;

/** Pods that must be gone before the instance: all but DaemonSet and mirror pods. */
const drainable = (world: World) =>
  world.kube.pods({ nodeName: NODE }).filter((p) => p.metadata.ownerReferences?.[0]?.kind !== 'DaemonSet' && !p.metadata.annotations?.['kubernetes.io/config.mirror']);

describe('workflow: Spot interruptions', () => {
  let world: World;
  afterEach(() => world?.close());

  async function arrange(props = {}) {
    world = await createWorld({ workflow: { props } });
    world.addNode(NODE, ID, { spot: true });
    world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 3, nodeName: NODE, labels: { app: 'web' } });
    world.kube.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
    world.kube.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE, SPARE] });
    // a Job pod that needs its whole 10-minute grace after SIGTERM
    world.kube.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 600, shutdownSeconds: 600 });
  }

  test('a Spot notice: cordon and SIGTERM at once, every pod gone before the two minutes end, no heartbeats', async () => {
    // Arrange
    await arrange();
    const { event, interruptAt } = world.asg.interruptSpot(ID);
    const notice = world.clock.now();
    let leftAtInterruption: string[] | undefined;
    world.clock.schedule(interruptAt - 1, () => (leftAtInterruption = drainable(world).map((p) => p.metadata.name)));

    // Act
    const started = await world.workflow.deliver(event);
    await world.workflow.idle();
    await world.clock.sleep(interruptAt - world.clock.now());

    // Assert
    expect(started).toEqual({ outcome: 'started', execution: `${ID}-spot` });
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    expect((execution.output as DrainState).result).toMatchObject({ reason: 'spot-interrupted', outcome: 'no-lifecycle-action' });
    const firstPatch = world.kube.requests.find((r) => r.method === 'PATCH' && r.path.endsWith(NODE))!;
    const jobEviction = world.kube.requests.find((r) => /batch\/pods\/report-.*\/eviction$/.test(r.path))!;
    expect(firstPatch.at - notice).toBeLessThanOrEqual(5 * S);
    expect(jobEviction.at - notice).toBeLessThanOrEqual(10 * S);
    expect(leftAtInterruption).toEqual([]);
    expect(execution.stoppedAt!).toBeLessThan(interruptAt);
    expect(world.asg.calls.filter((c) => c.operation === 'RecordLifecycleActionHeartbeat')).toHaveLength(0);
    // the DaemonSet pod stays (its controller would put it back); it goes with the instance
    expect(world.kube.pods({ nodeName: NODE }).map((p) => p.metadata.name).every((n) => n.startsWith('aws-node'))).toBe(true);
    expect(world.workflow.observability.metricTotal('SpotDrainsStarted')).toBe(1);
  });

  test('a Spot notice during a running lifecycle drain: one drain goes on with the two-minute budget and completes the action', async () => {
    // Arrange: a lifecycle drain waits for a long pod
    await arrange();
    world.kube.addJobPod({ namespace: 'batch', name: 'nightly', nodeName: NODE, terminationGracePeriodSeconds: 7200, shutdownSeconds: 6000 });
    const { action } = await world.terminate(ID);
    await world.clock.sleep(10 * 60 * S);
    const lifecycle = [...world.workflow.executions.values()][0];
    expect(lifecycle.status).toBe('RUNNING');

    // Act
    const { event, interruptAt } = world.asg.interruptSpot(ID);
    const started = await world.workflow.deliver(event);
    const again = await world.workflow.deliver(event);
    await world.workflow.idle();

    // Assert: the lifecycle execution stopped, the Spot one finished the drain and completed the action in time
    expect(started.outcome).toBe('started');
    expect(again.outcome).toBe('duplicate');
    const executions = [...world.workflow.executions.values()];
    expect(executions.map((e) => [e.name, e.status])).toEqual([
      [lifecycle.name, 'ABORTED'],
      [`${ID}-spot`, 'SUCCEEDED'],
    ]);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(action.end!.at).toBeLessThan(interruptAt);
    // The Job pod has been stopping (SIGTERM) for ten minutes already. A second
    // DELETE is counted by the API server from its first deletion and, if that
    // end is already past, kills it within a second (apiserver rest/delete.go
    // BeforeDelete); the drain gives it the rest of the two minutes instead: its
    // deletionTimestamp lies on the drain's end, before the interruption.
    for (const pod of drainable(world)) {
      expect(pod.metadata.name).toMatch(/^nightly-/);
      expect(Date.parse(pod.metadata.deletionTimestamp!)).toBeLessThanOrEqual(interruptAt);
    }
    expect(world.asg.calls.filter((c) => c.operation === 'CompleteLifecycleAction' && c.outcome === 'CONTINUE')).toHaveLength(1);
    expect(world.workflow.observability.metricTotal('SpotSwitches')).toBe(1);
  });

  test('a rebalance recommendation cordons the node when opted in', async () => {
    // Arrange
    await arrange({ cordonOnRebalanceRecommendation: true });

    // Act
    const result = await world.workflow.deliverToNodeMarks(world.asg.rebalanceRecommendation(ID));

    // Assert
    expect(result).toEqual({ outcome: 'cordoned', node: NODE });
    expect(world.kube.node(NODE).spec.unschedulable).toBe(true);
    expect(world.kube.pods({ nodeName: NODE }).length).toBeGreaterThan(0);
  });
});
