/** The fake's Job controller and Leases, through the real @kubernetes/client-node. */
import { ApiException, CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { FakeKubeServer } from '../../../sim/kube/server';
import { kubeConfigFor } from './kube-config';
import { VirtualClock } from '../../../sim/virtual-clock';

function clients(server: FakeKubeServer) {
  const kc = kubeConfigFor(server);
  return { core: kc.makeApiClient(CoreV1Api), coordination: kc.makeApiClient(CoordinationV1Api) };
}

async function status(call: Promise<unknown>): Promise<{ code: number; reason?: string; message?: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ApiException) {
      const body = JSON.parse(err.body as string);
      return { code: err.code, reason: body.reason, message: body.message };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('the Job controller of the fake', () => {
  let clock: VirtualClock;
  let server: FakeKubeServer;
  beforeEach(async () => {
    clock = new VirtualClock();
    server = await FakeKubeServer.start({ clock });
    server.addNode({ name: 'n1', instanceId: 'i-0aaa' });
    server.addNode({ name: 'n2', instanceId: 'i-0bbb' });
  });
  afterEach(() => server.stop());

  const evict = (name: string) =>
    clients(server).core.createNamespacedPodEviction({ name, namespace: 'batch', body: { metadata: { name, namespace: 'batch' } } });
  const batchPods = () => server.pods({ namespace: 'batch' }).map((p) => `${p.spec.nodeName}${p.metadata.deletionTimestamp ? ' terminating' : ''}`).sort();

  it('TerminatingOrFailed (the default): the replacement starts while the evicted pod still terminates, after the 10 s backoff', async () => {
    const pod = server.addJobPod({ namespace: 'batch', name: 'report', nodeName: 'n1', terminationGracePeriodSeconds: 600, shutdownSeconds: 300 });
    await evict(pod.metadata.name);
    expect(batchPods()).toEqual(['n1 terminating']);
    await clock.advanceBy(9_000);
    expect(batchPods()).toEqual(['n1 terminating']);
    await clock.advanceBy(1_000);
    expect(batchPods()).toEqual(['n1 terminating', 'n2']);
  });

  it('the backoff doubles with each failure since the last success: 10 s, then 20 s', async () => {
    const pod = server.addJobPod({ namespace: 'batch', name: 'report', nodeName: 'n1', terminationGracePeriodSeconds: 600, shutdownSeconds: 300 });
    await evict(pod.metadata.name);
    await clock.advanceBy(10_000);
    const [second] = server.pods({ namespace: 'batch' }).filter((p) => !p.metadata.deletionTimestamp);
    await evict(second.metadata.name);
    await clock.advanceBy(19_000);
    expect(server.pods({ namespace: 'batch' }).filter((p) => !p.metadata.deletionTimestamp)).toHaveLength(0);
    await clock.advanceBy(1_000);
    expect(server.pods({ namespace: 'batch' }).filter((p) => !p.metadata.deletionTimestamp)).toHaveLength(1);
    expect(server.jobs('batch')[0].status.failed).toBe(2);
  });

  it('Failed: the replacement starts only once the pod is gone (and its backoff is over)', async () => {
    const pod = server.addJobPod({ namespace: 'batch', name: 'report', nodeName: 'n1', terminationGracePeriodSeconds: 600, shutdownSeconds: 300, podReplacementPolicy: 'Failed' });
    await evict(pod.metadata.name);
    expect(batchPods()).toEqual(['n1 terminating']);
    await clock.advanceBy(300_000);
    expect(batchPods()).toEqual([]);
    await clock.advanceBy(10_000);
    // n1 is not cordoned here and now the emptier node: the scheduler has no memory of where the pod ran.
    expect(batchPods()).toEqual(['n1']);
  });

  it('backoffLimit 0 under the default policy: no replacement, the Job fails while the pod still terminates', async () => {
    const pod = server.addJobPod({ namespace: 'batch', name: 'report', nodeName: 'n1', backoffLimit: 0 });
    await evict(pod.metadata.name);
    expect(batchPods()).toEqual(['n1 terminating']);
    expect(server.jobs('batch')[0].status).toMatchObject({ failed: 1, conditions: [{ type: 'Failed', reason: 'BackoffLimitExceeded' }] });
  });

  it('a podFailurePolicy Ignore on DisruptionTarget: not counted, replaced after the pod stopped', async () => {
    const pod = server.addJobPod({
      namespace: 'batch', name: 'report', nodeName: 'n1', backoffLimit: 0, shutdownSeconds: 10,
      podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] },
    });
    await evict(pod.metadata.name);
    await clock.advanceBy(20_000);
    expect(batchPods()).toEqual(['n1']);
    expect(server.jobs('batch')[0].status.failed).toBeUndefined();
  });

  it('a pod with runSeconds completes by itself: phase Succeeded, and it stays', async () => {
    server.addJobPod({ namespace: 'batch', name: 'report', nodeName: 'n1', runSeconds: 3600, annotations: { 'karpenter.sh/do-not-disrupt': 'true' } });
    await clock.advanceBy(3600_000);
    const [done] = server.pods({ namespace: 'batch' });
    expect(done.status.phase).toBe('Succeeded');
    expect(done.metadata.annotations).toEqual({ 'karpenter.sh/do-not-disrupt': 'true' });
    expect(server.jobs('batch')[0].status).toMatchObject({ active: 0, succeeded: 1 });
  });
});

describe('Leases in the fake, as kube-apiserver answers them', () => {
  let server: FakeKubeServer;
  beforeAll(async () => {
    server = await FakeKubeServer.start();
  });
  afterAll(() => server.stop());

  it('create, get, update with resourceVersion, conflicts, and create-on-update', async () => {
    const { coordination } = clients(server);
    const body = { metadata: { name: 'lock' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 60, renewTime: new Date() as any } };
    const created = await coordination.createNamespacedLease({ namespace: 'batch', body });
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    const again = await status(coordination.createNamespacedLease({ namespace: 'batch', body }));
    expect(again).toEqual({ code: 409, reason: 'AlreadyExists', message: 'leases.coordination.k8s.io "lock" already exists' });

    const updated = await coordination.replaceNamespacedLease({ name: 'lock', namespace: 'batch', body: { ...created, spec: { ...created.spec, holderIdentity: 'b' } } });
    expect(updated.spec?.holderIdentity).toBe('b');
    const stale = await status(coordination.replaceNamespacedLease({ name: 'lock', namespace: 'batch', body: { ...created, spec: { ...created.spec, holderIdentity: 'c' } } }));
    expect(stale.code).toBe(409);
    expect(stale.message).toMatch(/the object has been modified; please apply your changes to the latest version and try again/);
    const unconditional = await status(coordination.replaceNamespacedLease({ name: 'lock', namespace: 'batch', body: { metadata: { name: 'lock' }, spec: { holderIdentity: 'c' } } }));
    expect(unconditional).toMatchObject({ code: 422, reason: 'Invalid' });
    expect((await coordination.readNamespacedLease({ name: 'lock', namespace: 'batch' })).spec?.holderIdentity).toBe('b');

    const viaPut = await coordination.replaceNamespacedLease({ name: 'other', namespace: 'batch', body: { metadata: { name: 'other' }, spec: { holderIdentity: 'x' } } });
    expect(viaPut.metadata?.uid).toBeDefined();
    const missing = await status(coordination.readNamespacedLease({ name: 'none', namespace: 'batch' }));
    expect(missing).toEqual({ code: 404, reason: 'NotFound', message: 'leases.coordination.k8s.io "none" not found' });
  });
});
