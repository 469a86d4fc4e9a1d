/**
 * What the fake API server learnt from a real cluster (issue 9), through the
 * real @kubernetes/client-node over HTTPS, on virtual time.
 */
import {
  ApiException, CoreV1Api, PolicyV1Api, StorageV1Api, Watch,
} from '@kubernetes/client-node';
import { FakeKubeServer } from '../../../sim/kube/server';
import { kubeConfigFor } from './kube-config';
import { VirtualClock } from '../../../sim/virtual-clock';

function clientsFor(server: FakeKubeServer) {
  const kc = kubeConfigFor(server);
  return { core: kc.makeApiClient(CoreV1Api), policy: kc.makeApiClient(PolicyV1Api), storage: kc.makeApiClient(StorageV1Api), watch: new Watch(kc) };
}

async function apiError(call: Promise<unknown>): Promise<{ code: number; status: any }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ApiException) return { code: err.code, status: typeof err.body === 'string' ? JSON.parse(err.body) : undefined };
    throw err;
  }
  throw new Error('expected the call to fail');
}

const DRAIN_TAINT = { key: 'eks-graceful-drain/draining', value: 'abc', effect: 'NoSchedule' };
const EXISTS = [{ operator: 'Exists' }];
const evictionOf = (pod: { metadata: { name: string; namespace?: string } }) => ({
  name: pod.metadata.name,
  namespace: pod.metadata.namespace!,
  body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace } },
});

describe('FakeKubeServer: what a real cluster does to a drain', () => {
  let clock: VirtualClock;
  let server: FakeKubeServer;

  beforeEach(async () => {
    clock = new VirtualClock(Date.parse('2026-01-01T00:00:00Z'));
    server = await FakeKubeServer.start({ clock });
    server.addNode({ name: 'n1', instanceId: 'i-0aaa', unschedulable: true, taints: [DRAIN_TAINT] });
    server.addNode({ name: 'n2', instanceId: 'i-0bbb' });
  });
  afterEach(() => server.stop());

  it('schedules a replacement back onto the cordoned, emptier node only if it tolerates the cordon and the taint', async () => {
    // Arrange: n2 is busier than n1
    server.addDeployment({ namespace: 'fill', name: 'busy', replicas: 3, nodeName: 'n2' });
    const [sticky] = server.addDeployment({ namespace: 'ops', name: 'sticky', replicas: 1, nodeName: 'n1', tolerations: EXISTS });
    const [onlyCordon] = server.addDeployment({ namespace: 'ops', name: 'half', replicas: 1, nodeName: 'n1', tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists' }] });
    const [plain] = server.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: 'n1' });
    const { core } = clientsFor(server);
    // Act
    for (const pod of [sticky, onlyCordon, plain]) await core.createNamespacedPodEviction(evictionOf(pod));
    // Assert
    const replacement = (ns: string) => server.pods({ namespace: ns }).filter((p) => !p.metadata.deletionTimestamp);
    expect(replacement('ops').find((p) => p.metadata.name.startsWith('sticky'))?.spec.nodeName).toBe('n1');
    expect(replacement('ops').find((p) => p.metadata.name.startsWith('half'))?.spec.nodeName).toBe('n2');
    expect(replacement('shop')[0].spec.nodeName).toBe('n2');
  });

  it('the DaemonSet controller recreates a pod on a tainted node only if it tolerates the taint, and leaves running pods alone', async () => {
    // Arrange
    const [logs] = server.addDaemonSet({ namespace: 'logging', name: 'fluent-bit', nodes: ['n1', 'n2'] });
    const [cni] = server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: ['n1', 'n2'], tolerations: EXISTS });
    const { core } = clientsFor(server);
    // Assert: running pods stay on the tainted node (NoSchedule does not evict)
    expect(server.pods({ nodeName: 'n1' }).map((p) => p.metadata.name)).toEqual([logs.metadata.name, cni.metadata.name]);
    // Act
    await core.deleteNamespacedPod({ namespace: 'logging', name: logs.metadata.name, gracePeriodSeconds: 0 });
    await core.deleteNamespacedPod({ namespace: 'kube-system', name: cni.metadata.name, gracePeriodSeconds: 0 });
    // Assert: fluent-bit is not recreated on n1, aws-node is
    const onN1 = server.pods({ nodeName: 'n1' });
    expect(onN1.filter((p) => p.metadata.namespace === 'logging')).toEqual([]);
    expect(onN1.filter((p) => p.metadata.namespace === 'kube-system')).toHaveLength(1);
    // the controller's own tolerations: the cordon is tolerated, our taint is not
    expect(server.pods({ nodeName: 'n2', namespace: 'logging' })[0].spec.tolerations).toEqual(
      expect.arrayContaining([{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }]),
    );
  });

  it('a pod with a PersistentVolume has a VolumeAttachment on its node, gone some seconds after the pod', async () => {
    // Arrange
    const [pod] = server.addDeployment({ namespace: 'db', name: 'pg', replicas: 1, nodeName: 'n1', persistentVolume: true, shutdownSeconds: 1 });
    const { core, storage } = clientsFor(server);
    const claimName = pod.spec.volumes.find((v: any) => v.persistentVolumeClaim).persistentVolumeClaim.claimName;
    const claim = await core.readNamespacedPersistentVolumeClaim({ namespace: 'db', name: claimName });
    const attached = await storage.listVolumeAttachment();
    // Act
    await core.deleteNamespacedPod({ namespace: 'db', name: pod.metadata.name });
    await clock.advanceBy(1_000);
    const afterPod = await storage.listVolumeAttachment();
    await clock.advanceBy(10_000);
    const afterDetach = await storage.listVolumeAttachment();
    // Assert
    expect(attached.items).toHaveLength(1);
    expect(attached.items[0].spec).toMatchObject({ attacher: 'ebs.csi.aws.com', nodeName: 'n1', source: { persistentVolumeName: claim.spec?.volumeName } });
    expect(server.pods({ namespace: 'db', nodeName: 'n1' })).toEqual([]);
    expect(afterPod.items.filter((va) => va.spec.nodeName === 'n1')).toHaveLength(1);
    expect(afterDetach.items.filter((va) => va.spec.nodeName === 'n1')).toEqual([]);
  });

  it('answers 403 Forbidden with the RBAC message on demand', async () => {
    // Arrange
    const [pod] = server.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: 'n1' });
    server.faults.add({ status: 403, method: 'POST', path: /\/eviction$/, user: 'system:serviceaccount:x:y' });
    const { core } = clientsFor(server);
    // Act
    const refused = await apiError(core.createNamespacedPodEviction(evictionOf(pod)));
    // Assert
    expect(refused.code).toBe(403);
    expect(refused.status).toMatchObject({
      reason: 'Forbidden',
      message: `pods "${pod.metadata.name}" is forbidden: User "system:serviceaccount:x:y" cannot create resource "pods/eviction" in API group "" in the namespace "shop"`,
    });
  });

  it('a PDB spec change: generation up at once, eviction refused until the status catches up, then allowed', async () => {
    // Arrange
    const [pod] = server.addDeployment({ namespace: 'shop', name: 'web', replicas: 3, nodeName: 'n2', labels: { app: 'web' } });
    server.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
    const { core, policy } = clientsFor(server);
    // Act
    server.updatePdb('shop', 'web', { maxUnavailable: 2 });
    const stale = await policy.readNamespacedPodDisruptionBudget({ namespace: 'shop', name: 'web' });
    const refused = await apiError(core.createNamespacedPodEviction(evictionOf(pod)));
    await clock.advanceBy(2_000);
    const caughtUp = await policy.readNamespacedPodDisruptionBudget({ namespace: 'shop', name: 'web' });
    await core.createNamespacedPodEviction(evictionOf(pod));
    // Assert
    expect(stale.metadata?.generation).toBe(2);
    expect(stale.status?.observedGeneration).toBe(1);
    expect(refused.code).toBe(429);
    expect(refused.status.details.causes[0].message).toBe('The disruption budget web is still being processed by the server.');
    expect(caughtUp.status).toMatchObject({ observedGeneration: 2, disruptionsAllowed: 2 });
  });

  it('an unready pod under AlwaysAllow goes even when the budget is not met', async () => {
    // Arrange
    server.addPod({ metadata: { name: 'sick', namespace: 'shop', labels: { app: 'api' } }, spec: { nodeName: 'n1' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] } });
    server.addPdb({ namespace: 'shop', name: 'api', selector: { matchLabels: { app: 'api' } }, minAvailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    const { core } = clientsFor(server);
    // Act
    await core.createNamespacedPodEviction({ namespace: 'shop', name: 'sick', body: { metadata: { name: 'sick', namespace: 'shop' } } });
    // Assert
    expect(server.pods({ namespace: 'shop' })[0].metadata.deletionTimestamp).toBeDefined();
  });

  it('a shorter grace on a terminating pod counts from the first deletion, never before now', async () => {
    // Arrange: deleted with 600 s, 400 s ago
    const [pod] = server.addDeployment({ namespace: 'batch', name: 'job', replicas: 1, nodeName: 'n2', terminationGracePeriodSeconds: 600, shutdownSeconds: 600 });
    const { core } = clientsFor(server);
    await core.deleteNamespacedPod({ namespace: 'batch', name: pod.metadata.name });
    const first = Date.parse(server.pods({ namespace: 'batch' }).find((p) => p.metadata.uid === pod.metadata.uid)!.metadata.deletionTimestamp!);
    await clock.advanceBy(400_000);
    const current = () => server.pods({ namespace: 'batch' }).find((p) => p.metadata.uid === pod.metadata.uid);
    // Act: 500 s from the first deletion = 100 s from now (not 500 s from now)
    await core.deleteNamespacedPod({ namespace: 'batch', name: pod.metadata.name, gracePeriodSeconds: 500 });
    const shortened = current()!;
    // 100 s from the first deletion is in the past: now, with a grace of 1 s
    await core.deleteNamespacedPod({ namespace: 'batch', name: pod.metadata.name, gracePeriodSeconds: 100 });
    const clamped = current()!;
    // Assert
    expect(first).toBe(Date.parse('2026-01-01T00:10:00Z'));
    expect(shortened.metadata).toMatchObject({ deletionTimestamp: '2026-01-01T00:08:20Z', deletionGracePeriodSeconds: 500 });
    expect(clamped.metadata).toMatchObject({ deletionTimestamp: '2026-01-01T00:06:40Z', deletionGracePeriodSeconds: 1 });
    await clock.advanceBy(1_000);
    expect(current()).toBeUndefined();
  });

  it('pages a LIST with limit and continue from one snapshot, and answers 410 once compacted', async () => {
    // Arrange
    server.addDeployment({ namespace: 'shop', name: 'web', replicas: 5, nodeName: 'n2' });
    const { core } = clientsFor(server);
    // Act
    const first = await core.listNamespacedPod({ namespace: 'shop', limit: 2 });
    server.addDeployment({ namespace: 'shop', name: 'aaa-late', replicas: 1, nodeName: 'n2' });
    const second = await core.listNamespacedPod({ namespace: 'shop', limit: 2, _continue: first.metadata?._continue });
    const third = await core.listNamespacedPod({ namespace: 'shop', limit: 2, _continue: second.metadata?._continue });
    server.compact();
    const expired = await apiError(core.listNamespacedPod({ namespace: 'shop', limit: 2, _continue: first.metadata?._continue }));
    // Assert
    const all = [...first.items, ...second.items, ...third.items].map((p) => p.metadata!.name!);
    expect(all).toHaveLength(5);
    expect(all.every((n) => n.startsWith('web-'))).toBe(true);
    expect(first.metadata).toMatchObject({ remainingItemCount: 3 });
    expect(third.metadata?._continue).toBeUndefined();
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    expect(expired.code).toBe(410);
    expect(expired.status.reason).toBe('Expired');
  });

  it('ends a watch from a compacted resourceVersion with an ERROR event: 410 Expired', async () => {
    // Arrange
    server.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: 'n2' });
    const { core, watch } = clientsFor(server);
    const list = await core.listPodForAllNamespaces();
    server.addDeployment({ namespace: 'shop', name: 'api', replicas: 1, nodeName: 'n2' });
    server.compact();
    const events: Array<{ type: string; code?: number; reason?: string }> = [];
    // Act
    await new Promise<void>((resolve) => {
      void watch.watch('/api/v1/pods', { resourceVersion: list.metadata?.resourceVersion }, (type, obj) => events.push({ type, code: obj.code, reason: obj.reason }), () => resolve());
    });
    // Assert
    expect(events).toEqual([{ type: 'ERROR', code: 410, reason: 'Expired' }]);
  });
});
