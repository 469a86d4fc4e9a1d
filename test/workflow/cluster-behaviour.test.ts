/**
 * The drain on the real workflow (synthesized state machine, real handlers,
 * virtual time) against what a real cluster does (issue 9).
 */
import { createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';
const SPARE = 'ip-10-0-0-2.ec2.internal';
const EXISTS = [{ operator: 'Exists' }];

async function world2(options: Parameters<typeof createWorld>[0] = {}): Promise<World> {
  const world = await createWorld(options);
  world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
  world.addNode(SPARE, 'i-0aaaaaaaaaaaaaaa2');
  return world;
}

const outputOf = (world: World) => [...world.workflow.executions.values()][0].output as { result: { reason: string; lifecycleResult: string } };
const messages = (world: World, level?: string) =>
  world.workflow.observability.logs.filter((l) => !level || l.level === level).map((l) => String(l.message));

describe('workflow: a drain on a realistic cluster', () => {
  let world: World;
  afterEach(() => world?.close());

  test('pods tolerating the drain stay, do not hold it, and are logged once; DaemonSet pods go last and are not recreated', async () => {
    // Arrange
    world = await world2();
    world.kube.addDeployment({ namespace: 'ops', name: 'sticky', replicas: 1, nodeName: NODE, tolerations: EXISTS });
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE, shutdownSeconds: 20 });
    world.kube.addDaemonSet({ namespace: 'logging', name: 'fluent-bit', nodes: [NODE, SPARE], shutdownSeconds: 5 });
    world.kube.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE, SPARE], tolerations: EXISTS });
    world.kube.addMirrorPod({ nodeName: NODE, name: 'kube-proxy' });
    const stopped: Record<string, number> = {};
    world.kube.onChange((e) => {
      if (e.resource === 'pods' && e.type === 'MODIFIED' && e.object.spec.nodeName === NODE && e.object.metadata.deletionTimestamp && !e.previous?.metadata.deletionTimestamp) {
        stopped[e.object.metadata.namespace!] = world.clock.now();
      }
    });
    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();
    // Assert
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(outputOf(world).result.reason).toBe('drained');
    const left = world.kube.pods({ nodeName: NODE }).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    expect(left.filter((p) => p.startsWith('ops/sticky'))).toHaveLength(1);
    expect(left.filter((p) => p.startsWith('logging/'))).toEqual([]);
    expect(left.filter((p) => p.startsWith('kube-system/aws-node'))).toHaveLength(1);
    expect(left).toContain('kube-system/kube-proxy');
    expect(stopped.logging - stopped.shop).toBeGreaterThanOrEqual(20_000);
    expect(messages(world).filter((m) => /tolerates the drain/.test(m))).toHaveLength(1);
  });

  test('waits for the drained pods\' VolumeAttachments before Complete, shown in the summary and a metric', async () => {
    // Arrange: an EBS-backed database; its volume detaches 10 s after the pod is gone
    world = await world2();
    world.kube.addDeployment({ namespace: 'db', name: 'pg', replicas: 1, nodeName: NODE, persistentVolume: true, shutdownSeconds: 3 });
    let detachedAt = 0;
    world.kube.onChange((e) => {
      if (e.resource === 'volumeattachments' && e.type === 'DELETED' && e.object.spec.nodeName === NODE) detachedAt = world.clock.now();
    });
    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();
    // Assert
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(detachedAt).toBeGreaterThan(0);
    expect(action.end!.at).toBeGreaterThanOrEqual(detachedAt);
    expect(world.kube.volumeAttachments().filter((va) => va.spec.nodeName === NODE)).toEqual([]);
    expect(messages(world)).toEqual(expect.arrayContaining([expect.stringMatching(/waiting for 1 VolumeAttachment\(s\) to detach/), 'volumes detached']));
    expect(world.workflow.observability.metricTotal('VolumeDetachWaits')).toBeGreaterThanOrEqual(1);
  });

  test('a 403 on eviction is logged at error level and counted every round, and the drain resumes once it is fixed', async () => {
    // Arrange: RBAC refuses the evictions for the first three attempts (someone fixes the role meanwhile)
    world = await world2();
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: NODE });
    world.kube.faults.add({ status: 403, method: 'POST', path: /\/eviction$/, times: 3 });
    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();
    // Assert
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(outputOf(world).result.reason).toBe('drained');
    expect(messages(world, 'ERROR').filter((m) => /forbidden \(403\)/.test(m))).toHaveLength(3);
    expect(world.workflow.observability.metricTotal('EvictionsForbidden')).toBe(3);
    expect(world.kube.countRequests({ path: /\/eviction$/, status: 201 })).toBe(1);
  });

  test('a 403 that is never fixed: the drain goes on to the deadline, where its policy applies', async () => {
    // Arrange
    world = await world2({ workflow: { props: { maxDrainSeconds: 900, onDeadline: 'continue' } } });
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: NODE });
    world.kube.faults.add({ status: 403, method: 'POST', path: /\/eviction$/ });
    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();
    // Assert
    expect(outputOf(world).result.reason).toBe('deadline-continue');
    expect(action.end!.at - action.startedAt).toBeLessThan(900_000);
    const refusals = world.workflow.observability.metricTotal('EvictionsForbidden');
    expect(refusals).toBeGreaterThanOrEqual(2);
    expect(messages(world, 'ERROR').filter((m) => /forbidden \(403\)/.test(m))).toHaveLength(refusals);
  });

  test('unready pods follow the PDB rule and a stale PDB holds evictions until it catches up: no 429', async () => {
    // Arrange: 3 healthy replicas on the spare node, one unready here, minAvailable 3; a PDB just edited
    world = await world2();
    world.kube.addDeployment({ namespace: 'shop', name: 'api', replicas: 3, nodeName: SPARE, labels: { app: 'api' } });
    world.kube.addPod({ metadata: { name: 'api-unready', namespace: 'shop', labels: { app: 'api' } }, spec: { nodeName: NODE }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] } });
    world.kube.addPdb({ namespace: 'shop', name: 'api', selector: { matchLabels: { app: 'api' } }, minAvailable: 3 });
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE, labels: { app: 'web' } });
    world.kube.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 2 });
    world.kube.updatePdb('shop', 'web', { maxUnavailable: 1 });
    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();
    // Assert
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(outputOf(world).result.reason).toBe('drained');
    expect(world.kube.countRequests({ path: /\/eviction$/, status: 429 })).toBe(0);
    expect(world.kube.countRequests({ path: /\/pods\/api-unready\/eviction$/, status: 201 })).toBe(1);
  });

  test('a pod bound just after the cordon is found by the second LIST and drained', async () => {
    // Arrange: an empty node; a scheduler that had not seen the cordon binds a pod 2 s after it
    world = await world2();
    const off = world.kube.onChange((e) => {
      if (e.resource === 'nodes' && e.object.metadata.name === NODE && e.object.spec.unschedulable) {
        off();
        world.clock.schedule(world.clock.now() + 2_000, () => world.kube.addJobPod({ namespace: 'batch', name: 'late', nodeName: NODE, shutdownSeconds: 1 }));
      }
    });
    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();
    // Assert
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    expect(world.kube.countRequests({ path: /\/pods\/late-?.*\/eviction$|\/pods\/late\/eviction$/, status: 201 })).toBe(1);
    expect(world.kube.pods({ nodeName: NODE })).toEqual([]);
  });

  test('force-delete of a pod already terminating gives it the time left, counted from its first deletion', async () => {
    // Arrange: a 2 h job that uses its grace in full, deleted by someone else just
    // before the drain (a drain's own eviction clamps the grace to its hard limit
    // from the start); the drain may last 1 h
    world = await world2({ workflow: { props: { maxDrainSeconds: 3600, onDeadline: 'force-delete' } } });
    const job = world.kube.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 7200, shutdownSeconds: 7200 });
    world.kube.deletePod('batch', job.metadata.name);
    let forcedAt = 0;
    let newEnd = 0;
    world.kube.onChange((e) => {
      if (e.resource === 'pods' && e.type === 'MODIFIED' && e.object.metadata.deletionGracePeriodSeconds !== undefined && e.previous?.metadata.deletionTimestamp && e.object.metadata.deletionTimestamp !== e.previous.metadata.deletionTimestamp) {
        forcedAt = world.clock.now();
        newEnd = Date.parse(e.object.metadata.deletionTimestamp!);
      }
    });
    let goneAt = 0;
    world.kube.onChange((e) => {
      if (e.resource === 'pods' && e.type === 'DELETED' && e.object.metadata.name.startsWith('report-')) goneAt = world.clock.now();
    });
    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();
    // Assert: the new end is the time left (not "now, with 1 s"), the pod was not killed
    // before it, and the drain completed after it, before the hard limit
    expect(outputOf(world).result.reason).toBe('deadline-force-deleted');
    expect(forcedAt).toBeGreaterThan(0);
    expect(newEnd - forcedAt).toBeGreaterThan(60_000);
    expect(goneAt === 0 || goneAt >= newEnd - 1_000).toBe(true);
    expect(action.end!.at).toBeGreaterThanOrEqual(newEnd);
    expect(action.end!.at - action.startedAt).toBeLessThanOrEqual(3600_000);
  });
});
