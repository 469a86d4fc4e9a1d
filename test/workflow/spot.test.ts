import type { DrainState } from '../../lambda/core/drain-state';
import type { ExecutionRecord } from '../../sim/workflow/local-workflow';
import { createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';
const ID = 'i-0aaaaaaaaaaaaaaa1';
const SPARE = 'ip-10-0-0-2.ec2.internal';
const S = 1000;

/** Pods that must be gone before the instance: all but DaemonSet and mirror pods. */
const drainable = (world: World) =>
  world.kube.pods({ nodeName: NODE }).filter((p) => p.metadata.ownerReferences?.[0]?.kind !== 'DaemonSet' && !p.metadata.annotations?.['kubernetes.io/config.mirror']);

/** When each pod of the node left the API server (its DELETED event), on the virtual clock. */
function followPods(world: World): Map<string, number> {
  const gone = new Map<string, number>();
  world.kube.onChange((e) => {
    const pod = e.object as { metadata: { name: string }; spec?: { nodeName?: string } };
    if (e.resource === 'pods' && e.type === 'DELETED' && pod.spec?.nodeName === NODE) gone.set(pod.metadata.name, world.clock.now());
  });
  return gone;
}

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

  describe('PDBs hold pods only as long as the two minutes allow', () => {
    /** A database whose PDB lets no pod go (minAvailable = replicas), each pod needing 60 s to stop. */
    async function arrangeBlocked(onDeadline: 'continue' | 'abandon' | 'force-delete') {
      world = await createWorld({ workflow: { props: { onDeadline } } });
      world.addNode(NODE, ID, { spot: true });
      world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
      world.kube.addDeployment({ namespace: 'db', name: 'pg', replicas: 2, nodeName: NODE, labels: { app: 'pg' }, terminationGracePeriodSeconds: 60, shutdownSeconds: 60 });
      world.kube.addPdb({ namespace: 'db', name: 'pg', selector: { matchLabels: { app: 'pg' } }, minAvailable: 2 });
      return followPods(world);
    }

    /**
     * The PDB held them (the drain, which reads its budget, sends no eviction it
     * would refuse), then apply-deadline deleted them, clamped so that they are
     * gone before the interruption.
     */
    function expectDeletedInTime(execution: ExecutionRecord, gone: Map<string, number>, notice: number, interruptAt: number) {
      const pg = (r: { path: string }) => /\/namespaces\/db\/pods\/pg-[^/]+(\/eviction)?$/.test(r.path);
      const evicted = world.kube.requests.filter((r) => pg(r) && r.path.endsWith('/eviction') && r.status !== 429);
      const deletes = world.kube.requests.filter((r) => pg(r) && r.verb === 'delete');
      expect(evicted).toEqual([]);
      const atDeadline = execution.lastStateInput.ApplyDeadlinePolicy as DrainState;
      expect(atDeadline.summary?.blockedByPdb.map((b) => b.pdb)).toEqual(['db/pg', 'db/pg']);
      expect(deletes.map((r) => [String(r.user).split('/').pop(), r.status])).toEqual([['applyDeadline', 200], ['applyDeadline', 200]]);
      for (const r of deletes) {
        // At the deadline, a minute before the interruption.
        expect(r.at).toBeGreaterThanOrEqual(notice + 60 * S);
        // Their 60 s grace clamped to what is left before the interruption, less the completion margin.
        expect(Number(r.query.gracePeriodSeconds)).toBeLessThanOrEqual(20);
      }
      const pgGone = [...gone].filter(([name]) => name.startsWith('pg-'));
      expect(pgGone).toHaveLength(2);
      for (const [, at] of pgGone) expect(at).toBeLessThan(interruptAt);
      expect(world.kube.pods({ namespace: 'db' }).filter((p) => p.spec.nodeName === NODE)).toEqual([]);
      expect(world.workflow.observability.metricTotal('PodsForceDeleted')).toBe(2);
      expect(world.workflow.observability.metricTotal('DeadlinesReached')).toBe(1);
    }

    test.each(['continue', 'abandon', 'force-delete'] as const)('onDeadline=%s: a Spot drain deletes the pods a PDB holds at its deadline, gone before the interruption', async (onDeadline) => {
      // Arrange
      const gone = await arrangeBlocked(onDeadline);
      const { event, interruptAt } = world.asg.interruptSpot(ID);
      const notice = world.clock.now();

      // Act
      await world.workflow.deliver(event);
      await world.workflow.idle();
      await world.clock.sleep(interruptAt - world.clock.now());

      // Assert
      const [execution] = world.workflow.executions.values();
      expect(execution.status).toBe('SUCCEEDED');
      expect((execution.output as DrainState).deadline?.policy).toBe('force-delete');
      expect((execution.output as DrainState).result).toMatchObject({ reason: 'spot-interrupted', outcome: 'no-lifecycle-action' });
      expectDeletedInTime(execution, gone, notice, interruptAt);
    });

    test.each(['continue', 'abandon'] as const)('onDeadline=%s: a lifecycle drain that switches to Spot deletes them too, and completes the action with CONTINUE', async (onDeadline) => {
      // Arrange: the lifecycle drain has been refused by the PDB for ten minutes
      const gone = await arrangeBlocked(onDeadline);
      const { action } = await world.terminate(ID);
      await world.clock.sleep(10 * 60 * S);
      expect([...world.workflow.executions.values()][0].status).toBe('RUNNING');
      expect(world.kube.countRequests({ verb: 'delete' })).toBe(0);

      // Act
      const { event, interruptAt } = world.asg.interruptSpot(ID);
      const notice = world.clock.now();
      await world.workflow.deliver(event);
      await world.workflow.idle();
      await world.clock.sleep(interruptAt - world.clock.now());

      // Assert
      const spot = world.workflow.executions.get(`${ID}-spot`)!;
      expect(spot.status).toBe('SUCCEEDED');
      expect((spot.output as DrainState).result).toMatchObject({ lifecycleResult: 'CONTINUE', reason: 'deadline-force-deleted', outcome: 'completed' });
      expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
      expect(action.end!.at).toBeLessThan(interruptAt);
      expectDeletedInTime(spot, gone, notice, interruptAt);
    });
  });

  test('Spot drains off and onDeadline=continue: a lifecycle drain that finds its instance marked keeps continue (apply-deadline has no identity in the cluster)', async () => {
    // Arrange: no Spot rule, so only the lifecycle drain's own checks see the interruption coming
    world = await createWorld({ workflow: { props: { onDeadline: 'continue', spotInterruptions: false } } });
    world.addNode(NODE, ID, { spot: true });
    world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addDeployment({ namespace: 'db', name: 'pg', replicas: 2, nodeName: NODE, labels: { app: 'pg' } });
    world.kube.addPdb({ namespace: 'db', name: 'pg', selector: { matchLabels: { app: 'pg' } }, minAvailable: 2 });
    const { action } = await world.terminate(ID);
    await world.clock.sleep(60 * S);

    // Act
    const { interruptAt } = world.asg.interruptSpot(ID);
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    expect(world.workflow.synth.kubernetesGroups.applyDeadline).toBeUndefined();
    expect((execution.output as DrainState).deadline).toMatchObject({ policy: 'continue', hardLimitAt: new Date(interruptAt).toISOString() });
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect((execution.output as DrainState).result).toMatchObject({ reason: 'deadline-continue' });
    expect(world.kube.countRequests({ verb: 'delete' })).toBe(0);
    expect(world.kube.requests.filter((r) => r.status === 401 || r.status === 403)).toEqual([]);
  });

  test('a lifecycle drain whose own round finds the instance marked (the warning lost) switches and deletes them too, under onDeadline=continue', async () => {
    // Arrange
    world = await createWorld({ workflow: { props: { onDeadline: 'continue' } } });
    world.addNode(NODE, ID, { spot: true });
    world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addDeployment({ namespace: 'db', name: 'pg', replicas: 2, nodeName: NODE, labels: { app: 'pg' } });
    world.kube.addPdb({ namespace: 'db', name: 'pg', selector: { matchLabels: { app: 'pg' } }, minAvailable: 2 });
    const gone = followPods(world);
    const { action } = await world.terminate(ID);
    await world.clock.sleep(60 * S);

    // Act: EC2 marks the request; its event never arrives
    const { interruptAt } = world.asg.interruptSpot(ID);
    await world.workflow.idle();
    await world.clock.sleep(Math.max(0, interruptAt - world.clock.now()));

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(world.workflow.executions.size).toBe(1);
    expect(execution.status).toBe('SUCCEEDED');
    expect(world.workflow.observability.metricTotal('SpotSwitches')).toBe(1);
    expect(world.kube.requests.filter((r) => r.verb === 'delete').map((r) => [String(r.user).split('/').pop(), r.status])).toEqual([['applyDeadline', 200], ['applyDeadline', 200]]);
    expect([...gone].filter(([name]) => name.startsWith('pg-')).every(([, at]) => at < interruptAt)).toBe(true);
    expect(gone.size).toBe(2);
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect((execution.output as DrainState).result).toMatchObject({ reason: 'deadline-force-deleted' });
  });

  test('DaemonSet pods go after every normal pod, critical pods after them, all before the interruption', async () => {
    // Arrange: a normal tier a PDB holds until the deadline, a log shipper that
    // does not tolerate the drain's taint (not recreated here: it gets a
    // graceful stop, after the pods whose logs it ships), a critical pod a PDB
    // holds too, and aws-node, which tolerates everything and stays.
    world = await createWorld();
    world.addNode(NODE, ID, { spot: true });
    world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE, labels: { app: 'web' }, terminationGracePeriodSeconds: 30, shutdownSeconds: 15 });
    world.kube.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, minAvailable: 2 });
    world.kube.addDeployment({ namespace: 'shop', name: 'api', replicas: 1, nodeName: NODE, labels: { app: 'api' }, terminationGracePeriodSeconds: 30, shutdownSeconds: 5 });
    world.kube.addDaemonSet({ namespace: 'logging', name: 'fluent-bit', nodes: [NODE, SPARE], terminationGracePeriodSeconds: 30, shutdownSeconds: 3 });
    world.kube.addDeployment({ namespace: 'kube-system', name: 'coredns', replicas: 1, nodeName: NODE, labels: { k8s: 'coredns' }, priorityClassName: 'system-cluster-critical', shutdownSeconds: 2 });
    world.kube.addPdb({ namespace: 'kube-system', name: 'coredns', selector: { matchLabels: { k8s: 'coredns' } }, minAvailable: 1 });
    world.kube.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE, SPARE], tolerations: [{ operator: 'Exists' }] });
    const gone = followPods(world);
    const { event, interruptAt } = world.asg.interruptSpot(ID);

    // Act
    await world.workflow.deliver(event);
    await world.workflow.idle();
    await world.clock.sleep(interruptAt - world.clock.now());

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    const goneAt = (prefix: string) => [...gone].filter(([name]) => name.startsWith(prefix)).map(([, at]) => at);
    /** The first eviction or deletion the API server accepted for a pod of this name. */
    const firstRemoval = (prefix: string) => Math.min(...world.kube.requests
      .filter((r) => new RegExp(`/pods/${prefix}[^/]*(/eviction)?$`).test(r.path) && (r.method === 'DELETE' || r.path.endsWith('/eviction')) && typeof r.status === 'number' && r.status >= 200 && r.status < 300)
      .map((r) => r.at));
    expect(goneAt('web-')).toHaveLength(2);
    expect(goneAt('api-')).toHaveLength(1);
    expect(goneAt('fluent-bit-')).toHaveLength(1);
    expect(goneAt('coredns-')).toHaveLength(1);
    // Tier by tier: no DaemonSet pod asked to go before every normal pod is gone, no critical pod before the DaemonSet's.
    expect(firstRemoval('fluent-bit-')).toBeGreaterThanOrEqual(Math.max(...goneAt('web-'), ...goneAt('api-')));
    expect(firstRemoval('coredns-')).toBeGreaterThanOrEqual(Math.max(...goneAt('fluent-bit-')));
    // The PDB-held pods were deleted at the deadline, the critical one when its tier's turn came; everything is gone before the interruption.
    const deletes = world.kube.requests.filter((r) => r.verb === 'delete' && r.path.includes('/pods/'));
    expect(deletes.map((r) => [r.path.split('/')[6].replace(/-[a-z0-9]+-[a-z0-9]+$/, ''), String(r.user).split('/').pop(), r.status]))
      .toEqual([['web', 'applyDeadline', 200], ['web', 'applyDeadline', 200], ['coredns', 'applyDeadline', 200]]);
    expect(execution.states.ApplyDeadlinePolicy).toBe(2);
    expect(world.workflow.observability.metricTotal('DeadlinesReached')).toBe(1);
    expect(Math.max(...[...gone.values()])).toBeLessThan(interruptAt);
    expect(world.kube.pods({ nodeName: NODE }).map((p) => p.metadata.name).every((n) => n.startsWith('aws-node'))).toBe(true);
  });

  test('the log shipper that goes last keeps part of the two minutes: the Job pod before it is clamped shorter, not the shipper to 0', async () => {
    // Arrange: the Job pod would use all of the time left; the log shipper
    // (not tolerating our taint, so it is stopped) needs 10 s to flush.
    await arrange();
    world.kube.addDaemonSet({ namespace: 'logging', name: 'fluent-bit', nodes: [NODE, SPARE], terminationGracePeriodSeconds: 30, shutdownSeconds: 10 });
    const graces = new Map<string, number>();
    world.kube.onChange((e) => {
      const pod = e.object as { metadata: { name: string; deletionGracePeriodSeconds?: number }; spec?: { nodeName?: string } };
      if (e.resource === 'pods' && pod.spec?.nodeName === NODE && pod.metadata.deletionGracePeriodSeconds !== undefined && !graces.has(pod.metadata.name)) {
        graces.set(pod.metadata.name, pod.metadata.deletionGracePeriodSeconds);
      }
    });
    const gone = followPods(world);
    const { event, interruptAt } = world.asg.interruptSpot(ID);

    // Act
    await world.workflow.deliver(event);
    await world.workflow.idle();
    await world.clock.sleep(interruptAt - world.clock.now());

    // Assert
    const graceOf = (prefix: string) => [...graces].find(([name]) => name.startsWith(prefix))?.[1];
    const shipperGone = [...gone].find(([name]) => name.startsWith('fluent-bit-'))?.[1];
    // The shipper kept min(its grace, a quarter of the time left): the Job pod's grace is that much shorter.
    expect(graceOf('report-')).toBeLessThanOrEqual(80 - 20);
    expect(graceOf('fluent-bit-')).toBeGreaterThanOrEqual(10);
    // It stopped by itself (10 s after SIGTERM), before the interruption.
    expect(shipperGone).toBeDefined();
    expect(shipperGone!).toBeLessThan(interruptAt);
    expect(drainable(world)).toEqual([]);
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
