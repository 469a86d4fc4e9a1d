import {
  ApiException, CoreV1Api, PatchStrategy, PolicyV1Api, setHeaderOptions, V1Pod, Watch,
} from '@kubernetes/client-node';
import { FakeKubeServer } from '../../../sim/kube/server';
import { kubeConfigFor } from './kube-config';
import { VirtualClock } from '../../../sim/virtual-clock';

/** Clients of the real library, configured as the product's adapter would be. */
function clientsFor(server: FakeKubeServer, token = server.token) {
  const kc = kubeConfigFor(server, token);
  return { core: kc.makeApiClient(CoreV1Api), policy: kc.makeApiClient(PolicyV1Api), watch: new Watch(kc) };
}

/** The ApiException a call rejects with, its Status body parsed (client-node drops the body of a 401). */
async function apiError(call: Promise<unknown>): Promise<{ code: number; status: any; headers: Record<string, string> }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ApiException) return { code: err.code, status: typeof err.body === 'string' ? JSON.parse(err.body) : undefined, headers: err.headers };
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** Waits for bytes in flight between client and server: real I/O, never domain time. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

const evictionOf = (pod: V1Pod | { metadata: { name: string; namespace?: string; uid: string } }, uid = pod.metadata!.uid) => ({
  name: pod.metadata!.name!,
  namespace: pod.metadata!.namespace!,
  body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata!.name, namespace: pod.metadata!.namespace }, deleteOptions: { preconditions: { uid } } },
});

describe('VirtualClock', () => {
  it('fires due timers in time order, each at its own moment', async () => {
    const clock = new VirtualClock(0);
    const fired: Array<[string, number]> = [];
    clock.schedule(3_000, () => fired.push(['c', clock.now()]));
    clock.schedule(1_000, () => fired.push(['a', clock.now()]));
    const cancel = clock.schedule(2_000, () => fired.push(['cancelled', clock.now()]));
    const slept = clock.sleep(2_500).then(() => fired.push(['sleep', clock.now()]));
    cancel();
    await clock.advanceBy(10_000);
    await slept;
    expect(fired).toEqual([['a', 1_000], ['sleep', 2_500], ['c', 3_000]]);
    expect(clock.now()).toBe(10_000);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('auto-advances to the next timer only while nothing holds it', async () => {
    const clock = new VirtualClock(0, { autoAdvance: true });
    const release = clock.hold();
    let woke = false;
    const sleeping = clock.sleep(60_000).then(() => { woke = true; });
    await clock.settle();
    expect([woke, clock.now(), clock.nextTimerAt()]).toEqual([false, 0, 60_000]);
    release();
    await sleeping;
    expect(clock.now()).toBe(60_000);
  });
});

describe('FakeKubeServer through @kubernetes/client-node', () => {
  let clock: VirtualClock;
  let server: FakeKubeServer;

  beforeEach(async () => {
    clock = new VirtualClock();
    server = await FakeKubeServer.start({ clock });
    server.addNode({ name: 'n1', instanceId: 'i-0aaa', az: 'us-east-1a' });
    server.addNode({ name: 'n2', instanceId: 'i-0bbb', az: 'us-east-1b' });
  });

  afterEach(() => server.stop());

  it('requires the bearer token', async () => {
    // Arrange
    const { core } = clientsFor(server, 'wrong');
    // Act
    const err = await apiError(core.listNode());
    // Assert
    expect(err.code).toBe(401);
    expect(server.countRequests({ status: 401 })).toBe(1);
  });

  it('serves nodes with the EKS providerID and DNS addresses', async () => {
    const { core } = clientsFor(server);
    const list = await core.listNode({ fieldSelector: 'metadata.name=n2' });
    expect(list.items.map((n) => n.metadata?.name)).toEqual(['n2']);
    expect(list.items[0].spec?.providerID).toBe('aws:///us-east-1b/i-0bbb');
    expect(list.items[0].status?.addresses).toEqual(expect.arrayContaining([
      { type: 'InternalDNS', address: 'n2' }, { type: 'Hostname', address: 'n2' },
    ]));
  });

  it('lists pods by field and label selectors', async () => {
    // Arrange
    server.addDeployment({ namespace: 'web', name: 'front', replicas: 2, nodeName: 'n1', labels: { app: 'front', tier: 'a' } });
    server.addDeployment({ namespace: 'web', name: 'back', replicas: 1, nodeName: 'n2', labels: { app: 'back', tier: 'b' } });
    server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: ['n1', 'n2'], tolerations: [{ operator: 'Exists' }] });
    const { core } = clientsFor(server);
    // Act
    const onN1 = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=n1' });
    const tiers = await core.listNamespacedPod({ namespace: 'web', labelSelector: 'tier in (a,b),app!=front' });
    const notRunning = await core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Running' });
    const badField = await apiError(core.listPodForAllNamespaces({ fieldSelector: 'spec.hostname=x' }));
    // Assert
    expect(onN1.items).toHaveLength(3);
    expect(tiers.items.map((p) => p.metadata?.labels?.app)).toEqual(['back']);
    expect(notRunning.items).toHaveLength(0);
    expect(badField.code).toBe(400);
  });

  it('patches a node with strategic merge, merge and JSON patches', async () => {
    const { core } = clientsFor(server);
    await core.patchNode(
      { name: 'n1', body: { spec: { unschedulable: true, taints: [{ key: 'drain', value: 'yes', effect: 'NoSchedule' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await core.patchNode(
      { name: 'n1', body: { metadata: { labels: { 'example.com/draining': 'true' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const patched = await core.patchNode({ name: 'n1', body: [
      { op: 'test', path: '/spec/unschedulable', value: true },
      { op: 'add', path: '/metadata/labels/node.kubernetes.io~1exclude-from-external-load-balancers', value: 'true' },
      { op: 'remove', path: '/metadata/labels/example.com~1draining' },
    ] });
    // Cordoning also brings the node lifecycle controller's taint, merged by key.
    expect(patched.spec?.taints?.map((t) => t.key).sort()).toEqual(['drain', 'node.kubernetes.io/unschedulable']);
    expect(patched.metadata?.labels).toMatchObject({ 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' });
    expect(patched.metadata?.labels?.['example.com/draining']).toBeUndefined();
    const failedTest = await apiError(core.patchNode({ name: 'n1', body: [{ op: 'test', path: '/spec/unschedulable', value: false }] }));
    expect(failedTest.code).toBe(422);
  });

  describe('eviction', () => {
    it('answers 201 and starts the pod terminating with its own grace period', async () => {
      const [pod] = server.addDeployment({ namespace: 'app', name: 'api', replicas: 1, nodeName: 'n1', terminationGracePeriodSeconds: 45, shutdownSeconds: 10 });
      const { core } = clientsFor(server);
      await core.createNamespacedPodEviction(evictionOf(pod));
      const after = await core.readNamespacedPod({ namespace: 'app', name: pod.metadata.name });
      expect(server.requests.at(-2)).toMatchObject({ verb: 'create', status: 201 });
      expect(after.metadata?.deletionGracePeriodSeconds).toBe(45);
      expect(after.metadata?.deletionTimestamp?.getTime()).toBe(clock.now() + 45_000);
    });

    it('answers 404 for a missing pod and 409 for a UID mismatch', async () => {
      const [pod] = server.addDeployment({ namespace: 'app', name: 'api', replicas: 1, nodeName: 'n1' });
      const { core } = clientsFor(server);
      const gone = { metadata: { name: 'nope', namespace: 'app', uid: pod.metadata.uid } };
      const missing = await apiError(core.createNamespacedPodEviction(evictionOf(gone)));
      const mismatch = await apiError(core.createNamespacedPodEviction(evictionOf(pod, 'another-uid')));
      expect(missing).toMatchObject({ code: 404, status: { reason: 'NotFound', details: { name: 'nope', kind: 'pods' } } });
      expect(mismatch).toMatchObject({ code: 409, status: { reason: 'Conflict' } });
    });

    it('answers 403 in a terminating namespace and 500 with two PDBs', async () => {
      const [a] = server.addDeployment({ namespace: 'gone', name: 'a', replicas: 1, nodeName: 'n1' });
      const [b] = server.addDeployment({ namespace: 'twice', name: 'b', replicas: 2, nodeName: 'n1' });
      server.setNamespaceTerminating('gone');
      server.addPdb({ namespace: 'twice', name: 'one', selector: { matchLabels: { app: 'b' } }, maxUnavailable: 1 });
      server.addPdb({ namespace: 'twice', name: 'two', selector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, minAvailable: 0 });
      const { core } = clientsFor(server);
      const forbidden = await apiError(core.createNamespacedPodEviction(evictionOf(a)));
      const twoPdbs = await apiError(core.createNamespacedPodEviction(evictionOf(b)));
      expect(forbidden).toMatchObject({ code: 403, status: { reason: 'Forbidden' } });
      expect(twoPdbs).toMatchObject({ code: 500, status: { message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.' } });
    });

    it('answers 429 while the PDB allows no disruption, and 201 once a replacement is ready', async () => {
      // Arrange: 3 replicas, at most one unavailable; the replacement needs 2 s to be ready.
      const pods = server.addDeployment({ namespace: 'app', name: 'api', replicas: 3, nodeName: 'n1', terminationGracePeriodSeconds: 30, shutdownSeconds: 5, readyAfterSeconds: 2 });
      server.addPdb({ namespace: 'app', name: 'api', selector: { matchLabels: { app: 'api' } }, maxUnavailable: 1 });
      const { core, policy } = clientsFor(server);
      const budget = async () => (await policy.readNamespacedPodDisruptionBudget({ namespace: 'app', name: 'api' })).status!;
      expect(await budget()).toMatchObject({ expectedPods: 3, currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 });

      // Act / Assert: the first eviction uses the only allowed disruption.
      await core.createNamespacedPodEviction(evictionOf(pods[0]));
      expect(await budget()).toMatchObject({ currentHealthy: 2, disruptionsAllowed: 0 });
      const blocked = await apiError(core.createNamespacedPodEviction(evictionOf(pods[1])));
      expect(blocked).toMatchObject({
        code: 429,
        status: {
          reason: 'TooManyRequests',
          message: "Cannot evict pod as it would violate the pod's disruption budget.",
          details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget api needs 2 healthy pods and has 2 currently' }] },
        },
      });
      // The replacement went to the other node and becomes ready after 2 s.
      const replacement = server.pods({ nodeName: 'n2' });
      expect(replacement).toHaveLength(1);
      await clock.advanceBy(2_000);
      expect(await budget()).toMatchObject({ currentHealthy: 3, disruptionsAllowed: 1 });
      await core.createNamespacedPodEviction(evictionOf(pods[1]));
      expect(await budget()).toMatchObject({ currentHealthy: 2, disruptionsAllowed: 0 });
    });

    it('lets an unready pod go while the budget is met (IfHealthyBudget)', async () => {
      // Arrange: evicting a uses the only disruption; its replacement is not Ready yet.
      const [a, b] = server.addDeployment({ namespace: 'app', name: 'api', replicas: 2, nodeName: 'n1', readyAfterSeconds: 5 });
      server.addPdb({ namespace: 'app', name: 'api', selector: { matchLabels: { app: 'api' } }, minAvailable: 1 });
      const { core } = clientsFor(server);
      await core.createNamespacedPodEviction(evictionOf(a));
      const [unready] = server.pods({ nodeName: 'n2' });
      // Act
      const blocked = await apiError(core.createNamespacedPodEviction(evictionOf(b)));
      await core.createNamespacedPodEviction(evictionOf(unready));
      // Assert
      expect(blocked.code).toBe(429);
      expect(server.pods({ nodeName: 'n2' })[0].metadata.deletionTimestamp).toBeDefined();
    });

    it('lets a terminating pod be evicted whatever the budget says, and keeps mirror pods', async () => {
      const [pod] = server.addDeployment({ namespace: 'app', name: 'api', replicas: 1, nodeName: 'n1', shutdownSeconds: 20 });
      server.addPdb({ namespace: 'app', name: 'api', selector: { matchLabels: { app: 'api' } }, minAvailable: 1 });
      const mirror = server.addMirrorPod({ nodeName: 'n1', name: 'kube-proxy-n1' });
      const { core } = clientsFor(server);
      await core.deleteNamespacedPod({ namespace: 'app', name: pod.metadata.name });
      await core.createNamespacedPodEviction(evictionOf(pod));
      await core.createNamespacedPodEviction(evictionOf(mirror));
      expect(server.pods({ nodeName: 'n1' }).map((p) => p.metadata.name)).toContain('kube-proxy-n1');
    });
  });

  describe('pod lifecycle on the virtual clock', () => {
    it('removes a pod when its process exits, before its grace period ends', async () => {
      // A CronJob run: 6 h of grace, and it needs 5 h to finish its work after SIGTERM.
      // podReplacementPolicy Failed and backoffLimit 0: the Job controller starts no replacement.
      const job = server.addJobPod({ namespace: 'batch', name: 'nightly', nodeName: 'n1', terminationGracePeriodSeconds: 6 * 3600, shutdownSeconds: 5 * 3600, podReplacementPolicy: 'Failed', backoffLimit: 0 });
      const { core } = clientsFor(server);
      await core.deleteNamespacedPod({ namespace: 'batch', name: job.metadata.name });
      await clock.advanceBy(5 * 3600_000 - 1);
      expect(server.pods({ namespace: 'batch' })).toHaveLength(1);
      await clock.advanceBy(1);
      expect(server.pods({ namespace: 'batch' })).toHaveLength(0);
    });

    it('deletes at once with grace 0, checks the UID precondition, and recreates DaemonSet pods', async () => {
      const [ds] = server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: ['n1'], tolerations: [{ operator: 'Exists' }] });
      const { core } = clientsFor(server);
      const conflict = await apiError(core.deleteNamespacedPod({ namespace: 'kube-system', name: ds.metadata.name, body: { preconditions: { uid: 'x' } } }));
      await core.deleteNamespacedPod({ namespace: 'kube-system', name: ds.metadata.name, gracePeriodSeconds: 0 });
      expect(conflict.code).toBe(409);
      const now = server.pods({ nodeName: 'n1' });
      expect(now).toHaveLength(1);
      expect(now[0].metadata.name).not.toBe(ds.metadata.name);
      expect(now[0].metadata.ownerReferences?.[0]).toMatchObject({ kind: 'DaemonSet', name: 'aws-node' });
    });

    it('leaves a replacement Pending when no other node is schedulable', async () => {
      const { core } = clientsFor(server);
      await core.patchNode({ name: 'n2', body: { spec: { unschedulable: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await core.patchNode({ name: 'n1', body: { spec: { unschedulable: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      const [pod] = server.addDeployment({ namespace: 'app', name: 'api', replicas: 1, nodeName: 'n1' });
      await core.deleteNamespacedPod({ namespace: 'app', name: pod.metadata.name });
      const pending = server.pods({ namespace: 'app' }).filter((p) => p.status.phase === 'Pending');
      expect(pending).toHaveLength(1);
      expect(pending[0].spec.nodeName).toBeUndefined();
    });
  });

  it('streams watch events after a resourceVersion, DELETED when the process exits', async () => {
    // Arrange
    const [pod] = server.addDeployment({ namespace: 'app', name: 'api', replicas: 1, nodeName: 'n1', shutdownSeconds: 3 });
    const { core, watch } = clientsFor(server);
    const list = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=n1' });
    const events: Array<{ type: string; name: string; terminating: boolean }> = [];
    const controller = await watch.watch('/api/v1/pods', { fieldSelector: 'spec.nodeName=n1', resourceVersion: list.metadata?.resourceVersion },
      (type, obj) => events.push({ type, name: obj.metadata.name, terminating: !!obj.metadata.deletionTimestamp }), () => {});
    // Act
    await core.deleteNamespacedPod({ namespace: 'app', name: pod.metadata.name });
    await until(() => events.length === 1, 'MODIFIED');
    await clock.advanceBy(3_000);
    await until(() => events.length === 2, 'DELETED');
    controller.abort();
    // Assert: the replacement landed on n2, outside the selection, so it is not seen.
    expect(events).toEqual([
      { type: 'MODIFIED', name: pod.metadata.name, terminating: true },
      { type: 'DELETED', name: pod.metadata.name, terminating: true },
    ]);
  });

  it('ends a watch after timeoutSeconds of virtual time and watches PDB status', async () => {
    const pods = server.addDeployment({ namespace: 'app', name: 'api', replicas: 2, nodeName: 'n1' });
    server.addPdb({ namespace: 'app', name: 'api', selector: { matchLabels: { app: 'api' } }, minAvailable: '50%' });
    const { core, watch } = clientsFor(server);
    const seen: number[] = [];
    let ended = false;
    await watch.watch('/apis/policy/v1/namespaces/app/poddisruptionbudgets', { timeoutSeconds: 60 },
      (_type, obj) => seen.push(obj.status.disruptionsAllowed), () => { ended = true; });
    await until(() => seen.length === 1, 'initial ADDED');
    await core.createNamespacedPodEviction(evictionOf(pods[0]));
    await until(() => seen.length === 2, 'PDB MODIFIED');
    await clock.advanceBy(60_000);
    await until(() => ended, 'the watch to end');
    expect(seen.slice(0, 2)).toEqual([1, 0]);
  });

  describe('fault injection and the request log', () => {
    it('injects 429 with Retry-After, then 500, a limited number of times', async () => {
      server.faults.add({ method: 'GET', path: /^\/api\/v1\/nodes$/, status: 429, times: 1, retryAfterSeconds: 7 });
      server.faults.add({ path: /nodes/, status: 500, times: 1 });
      const { core } = clientsFor(server);
      const throttled = await apiError(core.listNode());
      const failed = await apiError(core.listNode());
      const ok = await core.listNode();
      expect(throttled).toMatchObject({ code: 429, status: { reason: 'TooManyRequests', details: { retryAfterSeconds: 7 } }, headers: { 'retry-after': '7' } });
      expect(failed).toMatchObject({ code: 500, status: { reason: 'InternalError' } });
      expect(ok.items).toHaveLength(2);
    });

    it('resets the connection without a response', async () => {
      server.faults.add({ path: /^\/api\/v1\/nodes\/n1$/, status: 'reset', times: 1 });
      const { core } = clientsFor(server);
      await expect(core.readNode({ name: 'n1' })).rejects.toThrow();
      await expect(core.readNode({ name: 'n1' })).resolves.toMatchObject({ metadata: { name: 'n1' } });
      expect(server.countRequests({ status: 'reset' })).toBe(1);
    });

    it('fails a deterministic fraction of requests with rate', async () => {
      server.faults.add({ status: 503, rate: 0.5 });
      const { core } = clientsFor(server);
      const outcomes = [];
      for (let i = 0; i < 20; i++) outcomes.push(await core.readNode({ name: 'n1' }).then(() => 200, (e: ApiException<string>) => e.code));
      const failures = outcomes.filter((c) => c === 503).length;
      expect(failures).toBeGreaterThan(3);
      expect(failures).toBeLessThan(17);
      expect(server.countRequests({ status: 503 })).toBe(failures);
    });

    it('records each request with its Kubernetes verb', async () => {
      const [pod] = server.addDeployment({ namespace: 'app', name: 'api', replicas: 1, nodeName: 'n1' });
      const { core } = clientsFor(server);
      await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=n1' });
      await core.readNamespacedPod({ namespace: 'app', name: pod.metadata.name });
      await core.patchNode({ name: 'n1', body: [{ op: 'add', path: '/spec/unschedulable', value: true }] });
      await core.createNamespacedPodEviction(evictionOf(pod));
      await core.readNamespacedPod({ namespace: 'app', name: 'missing' }).catch(() => undefined);
      expect(server.countByVerb()).toEqual({ list: 1, get: 2, patch: 1, create: 1 });
      expect(server.countRequests({ verb: 'get', status: 404 })).toBe(1);
      expect(server.requests[0]).toMatchObject({ method: 'GET', path: '/api/v1/pods', query: { fieldSelector: 'spec.nodeName=n1' }, status: 200, verb: 'list', at: clock.now() });
    });
  });

  it('auto-advances virtual time for a client that polls and sleeps, with request latency', async () => {
    // Arrange: a clock that moves by itself whenever everything waits on it.
    const auto = new VirtualClock(undefined, { autoAdvance: true });
    const slow = await FakeKubeServer.start({ clock: auto, latencyMs: 50 });
    try {
      slow.addNode({ name: 'n1', instanceId: 'i-0aaa' });
      const [pod] = slow.addDeployment({ namespace: 'app', name: 'api', replicas: 1, nodeName: 'n1', terminationGracePeriodSeconds: 30, shutdownSeconds: 20 });
      const { core } = clientsFor(slow);
      const start = auto.now();
      // Act: what a drain does inside one call: delete, then poll every second until the pod is gone.
      await core.deleteNamespacedPod({ namespace: 'app', name: pod.metadata.name });
      let polls = 0;
      for (;;) {
        await auto.sleep(1_000);
        polls++;
        const gone = await core.readNamespacedPod({ namespace: 'app', name: pod.metadata.name }).then(() => false, () => true);
        if (gone) break;
      }
      // Assert: the pod exits 20 s after the delete landed (t = 50 ms); the
      // k-th poll reads at 50 + 1050·k ms, so the 20th is the first to miss it.
      expect(polls).toBe(20);
      expect(auto.now() - start).toBe(50 + 20 * 1_050);
      expect(slow.countRequests({ verb: 'get' })).toBe(polls);
    } finally {
      await slow.stop();
    }
  });

  it('auto-advances only as far as the watch event that ends a bounded wait', async () => {
    // Arrange
    const auto = new VirtualClock(undefined, { autoAdvance: true });
    const watched = await FakeKubeServer.start({ clock: auto });
    try {
      watched.addNode({ name: 'n1', instanceId: 'i-0aaa' });
      const [pod] = watched.addDeployment({ namespace: 'app', name: 'api', replicas: 1, nodeName: 'n1', shutdownSeconds: 20 });
      const { core, watch } = clientsFor(watched);
      const list = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=n1' });
      await core.deleteNamespacedPod({ namespace: 'app', name: pod.metadata.name });
      const start = auto.now();
      // Act: wait up to a minute for the pod to be DELETED, as a drain round does.
      const deadline = new AbortController();
      const controller = await watch.watch('/api/v1/pods', { fieldSelector: 'spec.nodeName=n1', resourceVersion: list.metadata?.resourceVersion },
        (type) => { if (type === 'DELETED') deadline.abort(); }, () => {});
      await auto.sleep(60_000, deadline.signal);
      controller.abort();
      // Assert
      expect(deadline.signal.aborted).toBe(true);
      expect(auto.now() - start).toBe(20_000);
    } finally {
      await watched.stop();
    }
  });

  it('serves discovery with the eviction subresource in policy/v1', async () => {
    const { core } = clientsFor(server);
    const resources = await core.getAPIResources();
    expect(resources.resources.find((r) => r.name === 'pods/eviction')).toMatchObject({ group: 'policy', version: 'v1', kind: 'Eviction' });
  });
});
