/**
 * drainRound and forceDeletePods against what a real cluster does (issue 9):
 * tolerating pods, DaemonSet tiers, orphans, VolumeAttachments, 403s, the
 * Eviction API's PDB rules, late bindings, 410 Gone and the grace arithmetic
 * of a second DELETE. Over HTTPS against the fake, on virtual time.
 */
import { drainRound, forceDeletePods, type DrainEvent } from '../../../lambda/adapters/kube-drain';
import { NODE, SPARE, names, startKit, type Kit } from './kube-test-kit';

const evictionsOf = (kit: Kit, prefix: string) =>
  kit.server.requests.filter((r) => r.path.endsWith('/eviction') && r.path.includes(`/pods/${prefix}`)).length;
const EXISTS = [{ operator: 'Exists' }];

describe('drainRound on a realistic cluster', () => {
  let kit: Kit;
  let events: DrainEvent[];
  const onEvent = (e: DrainEvent) => events.push(e);
  beforeEach(async () => {
    kit = await startKit({ cordoned: true });
    events = [];
  });
  afterEach(() => kit.server.stop());

  test('pods tolerating the drain are not evicted, do not hold it, and are reported', async () => {
    // Arrange: tolerations [{operator: Exists}]: the scheduler would put a replacement right back here
    kit.server.addDeployment({ namespace: 'ops', name: 'sticky', replicas: 2, nodeName: NODE, tolerations: EXISTS });
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: NODE });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 30_000, onEvent });
    // Assert
    expect(round.status.drained).toBe(true);
    expect(evictionsOf(kit, 'sticky')).toBe(0);
    expect(round.status.leftAlone.filter((l) => l.reason === 'tolerates-drain')).toHaveLength(2);
    expect(names(kit.server).filter((n) => n.startsWith('ops/sticky'))).toHaveLength(2);
    // the web replacement went to the spare node: it does not tolerate the cordon
    expect(names(kit.server, SPARE).filter((n) => n.startsWith('shop/web'))).toHaveLength(1);
  });

  test("DaemonSet pods go after every other pod, in Karpenter's tiers, and are not recreated here; tolerating ones and mirror pods stay", async () => {
    // Arrange
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE, shutdownSeconds: 5 });
    kit.server.addDeployment({ namespace: 'kube-system', name: 'coredns', replicas: 1, nodeName: NODE, priorityClassName: 'system-cluster-critical', shutdownSeconds: 1 });
    kit.server.addDaemonSet({ namespace: 'logging', name: 'fluent-bit', nodes: [NODE, SPARE], shutdownSeconds: 3 });
    kit.server.addDaemonSet({ namespace: 'kube-system', name: 'ebs-csi-node', nodes: [NODE, SPARE], priorityClassName: 'system-node-critical', shutdownSeconds: 1 });
    kit.server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE, SPARE], tolerations: EXISTS });
    kit.server.addMirrorPod({ nodeName: NODE, name: 'kube-proxy' });
    const order: string[] = [];
    kit.server.onChange((e) => {
      if (e.resource === 'pods' && e.type === 'MODIFIED' && e.object.metadata.deletionTimestamp && !e.previous?.metadata.deletionTimestamp && e.object.spec.nodeName === NODE) {
        order.push(`${e.object.metadata.name.replace(/-[a-z0-9]{5}$/, '').replace(/-[a-z0-9]{10}$/, '')}@${kit.clock.now()}`);
      }
    });
    const start = kit.clock.now();
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: start + 60_000, onEvent });
    // Assert
    expect(round.status.drained).toBe(true);
    const tiers = order.map((o) => o.split('@')[0]);
    expect(tiers).toEqual(['web', 'web', 'fluent-bit', 'coredns', 'ebs-csi-node']);
    const at = (name: string) => Math.max(...order.filter((o) => o.startsWith(`${name}@`)).map((o) => Number(o.split('@')[1])));
    expect(at('fluent-bit') - start).toBeGreaterThanOrEqual(5_000); // after the web pods stopped
    expect(at('coredns')).toBeGreaterThanOrEqual(at('fluent-bit') + 3_000);
    expect(at('ebs-csi-node')).toBeGreaterThanOrEqual(at('coredns') + 1_000);
    const left = names(kit.server);
    expect(left.filter((n) => n.startsWith('logging/fluent-bit') || n.startsWith('kube-system/ebs-csi-node'))).toEqual([]);
    expect(left.filter((n) => n.startsWith('kube-system/aws-node'))).toHaveLength(1);
    expect(left).toContain('kube-system/kube-proxy');
    // the spare node's DaemonSet pods were not touched
    expect(names(kit.server, SPARE).filter((n) => n.startsWith('logging/fluent-bit'))).toHaveLength(1);
  });

  test('an orphaned DaemonSet pod (its DaemonSet deleted) is evicted even though it tolerates the taint', async () => {
    // Arrange
    kit.server.addDaemonSet({ namespace: 'kube-system', name: 'old-agent', nodes: [NODE], tolerations: EXISTS });
    kit.server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE], tolerations: EXISTS });
    kit.server.deleteWorkload('DaemonSet', 'kube-system', 'old-agent');
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 30_000, onEvent });
    // Assert
    expect(round.status.drained).toBe(true);
    expect(evictionsOf(kit, 'old-agent')).toBe(1);
    expect(evictionsOf(kit, 'aws-node')).toBe(0);
    expect(kit.server.countRequests({ verb: 'get', path: /\/daemonsets\// })).toBe(2);
  });

  test('waits until the VolumeAttachments of the drained pods are gone', async () => {
    // Arrange: an EBS-backed pod; its volume detaches 10 s after it is gone
    kit.server.addDeployment({ namespace: 'db', name: 'pg', replicas: 1, nodeName: NODE, persistentVolume: true, shutdownSeconds: 2 });
    expect(kit.server.volumeAttachments().filter((va) => va.spec.nodeName === NODE)).toHaveLength(1);
    const start = kit.clock.now();
    // Act: a single pass, then a round that watches
    const first = await drainRound(kit.kube, { nodeName: NODE, watchUntil: start });
    await kit.clock.advanceBy(3_000);
    const second = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now(), volumeClaimsSeen: first.volumeClaimsSeen });
    const third = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 60_000, volumeClaimsSeen: second.volumeClaimsSeen });
    // Assert
    expect(first.status.drained).toBe(false);
    expect(second.status).toMatchObject({ podsGone: true, drained: false, volumeAttachments: [expect.stringMatching(/^csi-/)] });
    expect(third.status).toMatchObject({ podsGone: true, drained: true, volumeAttachments: [] });
    expect(kit.clock.now() - start).toBeGreaterThanOrEqual(12_000);
    expect(kit.clock.now() - start).toBeLessThan(15_000);
    expect(kit.server.countRequests({ verb: 'watch', path: '/apis/storage.k8s.io/v1/volumeattachments' })).toBe(1);
  });

  test('does not wait for the volumes of pods that stay', async () => {
    // Arrange: a tolerating pod with a volume stays, so its volume stays attached
    kit.server.addDeployment({ namespace: 'ops', name: 'sticky', replicas: 1, nodeName: NODE, persistentVolume: true, tolerations: EXISTS });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() });
    // Assert
    expect(round.status).toMatchObject({ drained: true, volumeAttachments: [] });
    expect(kit.server.countRequests({ verb: 'get', path: /\/persistentvolumeclaims\// })).toBe(1);
  });

  test('a 403 that is not a terminating namespace is an error: reported, counted, not retried within the round', async () => {
    // Arrange: RBAC without pods/eviction create
    kit.server.faults.add({ status: 403, method: 'POST', path: /\/eviction$/ });
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: NODE });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 30_000, onEvent });
    // Assert
    expect(round.forbiddenRefusals).toBe(1);
    expect(round.status.forbidden).toEqual([expect.stringMatching(/^shop\/web-/)]);
    expect(round.status.drained).toBe(false);
    expect(events.find((e) => e.type === 'forbidden')).toMatchObject({ detail: expect.stringMatching(/cannot create resource "pods\/eviction"/) });
    expect(kit.server.countRequests({ path: /\/eviction$/ })).toBe(1);
  });

  test('a 403 from a terminating namespace is not an error: its pods go anyway', async () => {
    // Arrange
    kit.server.addDeployment({ namespace: 'old', name: 'web', replicas: 1, nodeName: NODE });
    kit.server.setNamespaceTerminating('old');
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now(), onEvent });
    // Assert
    expect(round.forbiddenRefusals).toBe(0);
    expect(round.status.forbidden).toEqual([]);
    expect(events.map((e) => e.type)).toContain('retry-later');
  });

  test.each([
    ['IfHealthyBudget with the budget met: the unready pod goes', undefined, 3, true],
    ['IfHealthyBudget with the budget not met: held back, no request', undefined, 2, false],
    ['AlwaysAllow: the unready pod goes whatever the budget', 'AlwaysAllow' as const, 2, true],
  ])('an unready pod under a PDB: %s', async (_label, unhealthyPodEvictionPolicy, healthy, evicted) => {
    // Arrange: `healthy` ready pods on the spare node, one unready pod here, minAvailable 3
    kit.server.addDeployment({ namespace: 'shop', name: 'api', replicas: healthy, nodeName: SPARE, labels: { app: 'api' } });
    kit.server.addPod({ metadata: { name: 'api-unready', namespace: 'shop', labels: { app: 'api' } }, spec: { nodeName: NODE }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] } });
    kit.server.addPdb({ namespace: 'shop', name: 'api', selector: { matchLabels: { app: 'api' } }, minAvailable: 3, unhealthyPodEvictionPolicy });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now(), onEvent });
    // Assert
    expect(round.evicted).toBe(evicted ? 1 : 0);
    expect(round.pdbRefusals).toBe(0);
    expect(evictionsOf(kit, 'api-unready')).toBe(evicted ? 1 : 0);
  });

  test('a PDB whose status lags its generation allows nothing until the disruption controller catches up', async () => {
    // Arrange: a generous budget, then a spec change the controller has not processed yet
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 4, nodeName: NODE, labels: { app: 'web' } });
    kit.server.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 3 });
    kit.server.updatePdb('shop', 'web', { maxUnavailable: 2 });
    const start = kit.clock.now();
    // Act
    const single = await drainRound(kit.kube, { nodeName: NODE, watchUntil: start, onEvent });
    const watched = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 60_000, onEvent });
    // Assert
    expect(single.evicted).toBe(0);
    expect(events.find((e) => e.type === 'held-back')).toMatchObject({ pdb: 'shop/web', reason: 'status-stale' });
    expect(watched.evicted).toBe(4);
    expect(kit.server.countRequests({ path: /\/eviction$/, status: 429 })).toBe(0);
  });

  test('a PDB event frees only the pods that PDB selects', async () => {
    // Arrange: each PDB refuses its pod once (a budget spent elsewhere between our read and our eviction)
    kit.server.addDeployment({ namespace: 'shop', name: 'a', replicas: 1, nodeName: NODE, labels: { app: 'a' } });
    kit.server.addDeployment({ namespace: 'shop', name: 'b', replicas: 1, nodeName: NODE, labels: { app: 'b' } });
    kit.server.addDeployment({ namespace: 'shop', name: 'b-spare', replicas: 2, nodeName: SPARE, labels: { app: 'b' }, readyAfterSeconds: 1 });
    kit.server.addPdb({ namespace: 'shop', name: 'a', selector: { matchLabels: { app: 'a' } }, maxUnavailable: 1 });
    kit.server.addPdb({ namespace: 'shop', name: 'b', selector: { matchLabels: { app: 'b' } }, maxUnavailable: 1 });
    kit.server.faults.add({ status: 429, method: 'POST', path: /\/pods\/a-.*\/eviction$/, disruptionBudget: 'a', times: 1 });
    kit.server.faults.add({ status: 429, method: 'POST', path: /\/pods\/b-.*\/eviction$/, disruptionBudget: 'b', times: 1 });
    // PDB b changes 5 s later (its spec is edited), PDB a never does
    kit.clock.schedule(kit.clock.now() + 5_000, () => kit.server.updatePdb('shop', 'b', { maxUnavailable: 2 }));
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 30_000, onEvent });
    // Assert: b asked again after its PDB changed; a not, though PDB events kept coming
    expect(round.pdbRefusals).toBe(2);
    expect(evictionsOf(kit, 'b-')).toBe(2);
    expect(evictionsOf(kit, 'a-')).toBe(1);
    expect(round.status.blocked).toEqual([{ pod: expect.stringMatching(/^shop\/a-/), pdb: 'shop/a' }]);
  });

  test('a node found empty right after the cordon is listed again before it is called drained', async () => {
    // Arrange: a scheduler that had not seen the cordon binds a pod 2 s later
    kit.clock.schedule(kit.clock.now() + 2_000, () => kit.server.addPod({ metadata: { name: 'late', namespace: 'shop', ownerReferences: [] }, spec: { nodeName: NODE } }));
    const start = kit.clock.now();
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: start, settleUntil: start + 5_000, onEvent });
    // Assert
    expect(kit.server.countRequests({ verb: 'list', path: '/api/v1/pods' })).toBe(2);
    expect(round.status.drained).toBe(false);
    expect(round.evicted).toBe(1);
    expect(kit.clock.now() - start).toBeGreaterThanOrEqual(5_000);
  });

  test('a watch whose resourceVersion was compacted away (410 Gone) makes the round list again', async () => {
    // Arrange: etcd compacts right after the first eviction, before the round opens its watches
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE, shutdownSeconds: 3 });
    let compacted = false;
    kit.server.onChange((e) => {
      if (!compacted && e.resource === 'pods' && e.object.metadata.deletionTimestamp) {
        compacted = true;
        kit.server.compact();
      }
    });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 30_000, onEvent });
    // Assert
    expect(round.status.drained).toBe(true);
    expect(kit.server.countRequests({ verb: 'list', path: '/api/v1/pods' })).toBe(2);
    expect(round.evicted).toBe(2);
  });
});

describe('forceDeletePods on a pod already terminating', () => {
  let kit: Kit;
  beforeEach(async () => (kit = await startKit({ cordoned: true })));
  afterEach(() => kit.server.stop());

  test('sends the grace that puts its end on the time left, counted from the first deletion, so it is not cut short', async () => {
    // Arrange: a 1 h grace, evicted 50 min ago, still stopping; 4 min to the hard limit
    kit.server.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 3600, shutdownSeconds: 3600 });
    await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() });
    await kit.clock.advanceBy(3_000_000);
    const now = kit.clock.now();
    const events: DrainEvent[] = [];
    // Act
    const deleted = await forceDeletePods(kit.kube, NODE, now + 240_000, (e) => events.push(e));
    // Assert: 240 s less 40 s of margins = 200 s left; 3000 s since the first deletion
    expect(deleted).toBe(1);
    expect(events[0]).toMatchObject({ type: 'force-deleted', graceSeconds: 3200, endsAt: now + 200_000 });
    const pod = kit.server.pods({ nodeName: NODE })[0];
    expect(Date.parse(pod.metadata.deletionTimestamp!)).toBe(now + 200_000);
    await kit.clock.advanceBy(150_000);
    expect(names(kit.server)).toHaveLength(1); // a grace of 200 s sent as is would have left it 1 s
  });
});
