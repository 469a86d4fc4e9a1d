import { drainRound, forceDeletePods } from '../../../lambda/adapters/kube-drain';
import { KubeApiError } from '../../../lambda/adapters/kube-client';
import { cordonNode } from '../../../lambda/adapters/kube-nodes';
import { DEMAND_ANNOTATION } from '../../../lambda/core/pdb-share';
import { NODE, SPARE, names, startKit, type Kit } from './kube-test-kit';

const evictions = (kit: Kit, status?: number) =>
  kit.server.requests.filter((r) => r.path.endsWith('/eviction') && (status === undefined || r.status === status)).length;

describe('drainRound', () => {
  let kit: Kit;
  beforeEach(async () => (kit = await startKit({ cordoned: true })));
  afterEach(() => kit.server.stop());

  test('a single pass evicts what has no PDB and leaves DaemonSet and mirror pods alone', async () => {
    // Arrange
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 2, nodeName: NODE });
    kit.server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE, SPARE], tolerations: [{ operator: 'Exists' }] });
    kit.server.addMirrorPod({ nodeName: NODE, name: 'kube-proxy' });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() });
    // Assert
    expect(round.evicted).toBe(2);
    expect(round.status.evictable).toBe(0);
    expect(round.status.terminating).toBe(2);
    expect(round.status.leftAlone.map((l) => l.reason).sort()).toEqual(['daemonset', 'mirror']);
    expect(evictions(kit)).toBe(2);
  });

  test('within its window, follows a PDB as replacements become ready: no 429, one eviction per pod', async () => {
    // Arrange: 4 replicas, at most one down; replacements are ready 2 s after they start
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 4, nodeName: NODE, labels: { app: 'web' }, shutdownSeconds: 1, readyAfterSeconds: 2 });
    kit.server.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
    const start = kit.clock.now();
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: start + 60_000 });
    // Assert
    expect(round.status.drained).toBe(true);
    expect(round.evicted).toBe(4);
    expect(round.pdbRefusals).toBe(0);
    expect(evictions(kit)).toBe(4);
    expect(names(kit.server)).toEqual([]);
    // one pod at a time, each ~1 s to stop + 2 s for its replacement: well under the window
    expect(kit.clock.now() - start).toBeLessThan(20_000);
  });

  test('a PDB that allows nothing: the pods are reported blocked and no eviction is sent', async () => {
    // Arrange
    kit.server.addDeployment({ namespace: 'db', name: 'pg', replicas: 2, nodeName: NODE, labels: { app: 'pg' } });
    kit.server.addPdb({ namespace: 'db', name: 'pg', selector: { matchLabels: { app: 'pg' } }, minAvailable: 2 });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 30_000 });
    // Assert
    expect(round.status.drained).toBe(false);
    expect(round.status.blocked).toEqual([
      { pod: expect.stringMatching(/^db\/pg-/), pdb: 'db/pg' },
      { pod: expect.stringMatching(/^db\/pg-/), pdb: 'db/pg' },
    ]);
    expect(evictions(kit)).toBe(0);
  });

  test('a pod selected by two PDBs is reported misconfigured and never sent (the API would answer 500 for ever)', async () => {
    // Arrange
    kit.server.addDeployment({ namespace: 'shop', name: 'api', replicas: 1, nodeName: NODE, labels: { app: 'api', tier: 'web' } });
    kit.server.addPdb({ namespace: 'shop', name: 'by-app', selector: { matchLabels: { app: 'api' } }, maxUnavailable: 1 });
    kit.server.addPdb({ namespace: 'shop', name: 'by-tier', selector: { matchLabels: { tier: 'web' } }, maxUnavailable: 1 });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() });
    // Assert
    expect(round.status.misconfigured).toEqual([{ pod: expect.stringMatching(/^shop\/api-/), pdbs: ['shop/by-app', 'shop/by-tier'] }]);
    expect(evictions(kit)).toBe(0);
  });

  test('a pod stuck past its deletion timestamp is reported but not waited for', async () => {
    // Arrange
    const past = new Date(kit.clock.now() - 5 * 60_000).toISOString();
    kit.server.addPod({ metadata: { name: 'zombie', namespace: 'default', deletionTimestamp: past, deletionGracePeriodSeconds: 30, finalizers: ['example.com/never'] }, spec: { nodeName: NODE } });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 30_000 });
    // Assert
    expect(round.status.stuck).toEqual(['default/zombie']);
    expect(round.status.drained).toBe(true);
  });

  test('a terminating namespace refuses the eviction (403): the pod is tried again next round, not lost', async () => {
    // Arrange
    kit.server.addStandalonePod({ namespace: 'old', name: 'leftover', nodeName: NODE });
    kit.server.setNamespaceTerminating('old');
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() });
    // Assert
    expect(round.evicted).toBe(0);
    expect(round.status.evictable).toBe(1);
    expect(evictions(kit, 403)).toBe(1);
  });

  test.each([
    ['429 throttling', 429 as const],
    ['500', 500 as const],
    ['503', 503 as const],
    ['a reset connection', 'reset' as const],
  ])('retries %s inside the call', async (_label, status) => {
    // Arrange
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: NODE });
    kit.server.faults.add({ path: /\/eviction$/, status, times: 2 });
    kit.server.faults.add({ path: /^\/api\/v1\/pods$/, status, times: 1 });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() });
    // Assert
    expect(round.evicted).toBe(1);
    expect(evictions(kit)).toBe(3);
  });

  test('a request that hangs is abandoned after its time limit and retried', async () => {
    // Arrange
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: NODE });
    kit.server.faults.add({ path: /\/eviction$/, status: 'hang', times: 1 });
    const start = kit.clock.now();
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: start });
    // Assert
    expect(round.evicted).toBe(1);
    expect(evictions(kit)).toBe(2);
    expect(kit.clock.now() - start).toBeGreaterThanOrEqual(15_000);
    expect(kit.clock.now() - start).toBeLessThan(30_000);
  });

  test('an API that keeps failing ends the call with a retryable KubeApiError, within the time left', async () => {
    // Arrange
    kit.server.faults.add({ path: /^\/api\/v1\/pods$/, status: 503 });
    const start = kit.clock.now();
    // Act
    const failure = drainRound(kit.kube, { nodeName: NODE, watchUntil: start });
    // Assert
    await expect(failure).rejects.toBeInstanceOf(KubeApiError);
    await expect(failure).rejects.toMatchObject({ status: 503, retryable: true });
    expect(kit.clock.now() - start).toBeLessThan(110_000);
  });

  test('a watch the server refuses does not become a LIST loop: the round gives up watching and returns', async () => {
    // Arrange: a PDB holds pods back, so the round would like to watch; every watch fails
    kit.server.addDeployment({ namespace: 'db', name: 'pg', replicas: 2, nodeName: NODE, labels: { app: 'pg' } });
    kit.server.addPdb({ namespace: 'db', name: 'pg', selector: { matchLabels: { app: 'pg' } }, minAvailable: 2 });
    kit.server.faults.add({ watch: true, status: 503 });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 60_000 });
    // Assert
    expect(round.status.blocked).toHaveLength(2);
    expect(kit.server.countRequests({ verb: 'list' })).toBeLessThanOrEqual(2 * 4);
  });

  test('a node with 110 pods in 10 namespaces: one LIST of pods, one cluster-wide LIST of PDBs, 100 evictions with bounded concurrency, the rest left alone', async () => {
    // Arrange
    for (let i = 0; i < 10; i++) kit.server.addDeployment({ namespace: `team-${i}`, name: 'svc', replicas: 10, nodeName: NODE });
    kit.server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE], tolerations: [{ operator: 'Exists' }] });
    for (let i = 0; i < 9; i++) kit.server.addDaemonSet({ namespace: 'kube-system', name: `agent-${i}`, nodes: [NODE], tolerations: [{ operator: 'Exists' }] });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() });
    // Assert
    expect(round.evicted).toBe(100);
    expect(evictions(kit)).toBe(100);
    expect(kit.server.countRequests({ verb: 'list', path: '/api/v1/pods' })).toBe(1);
    // More namespaces than MAX_SCOPED_NAMESPACES: one LIST for all rather than ten.
    expect(kit.server.countRequests({ verb: 'list', path: '/apis/policy/v1/poddisruptionbudgets' })).toBe(1);
    expect(kit.server.countRequests({ path: /^\/apis\/policy\/v1\/namespaces\// })).toBe(0);
    expect(round.status.leftAlone).toHaveLength(10);
  });

  test('pods to evict in a few namespaces: PDBs listed and watched in those namespaces only, never cluster-wide', async () => {
    // Arrange: two namespaces with pods on the node behind PDBs, a third namespace with a PDB elsewhere
    for (const namespace of ['shop', 'search']) {
      kit.server.addDeployment({ namespace, name: 'web', replicas: 2, nodeName: NODE, labels: { app: 'web' }, shutdownSeconds: 1, readyAfterSeconds: 2 });
      kit.server.addPdb({ namespace, name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
    }
    kit.server.addPdb({ namespace: 'billing', name: 'api', selector: { matchLabels: { app: 'api' } }, maxUnavailable: 1 });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 60_000 });
    // Assert
    expect(round.status.drained).toBe(true);
    expect(kit.server.countRequests({ verb: 'list', path: /^\/apis\/policy\/v1\/namespaces\/(shop|search)\/poddisruptionbudgets$/ })).toBe(2);
    expect(kit.server.countRequests({ verb: 'watch', path: /^\/apis\/policy\/v1\/namespaces\/(shop|search)\/poddisruptionbudgets$/ })).toBe(2);
    expect(kit.server.countRequests({ path: /billing|^\/apis\/policy\/v1\/poddisruptionbudgets$/ })).toBe(0);
    expect(evictions(kit, 429)).toBe(0);
  });

  test('with nothing left to evict, PDBs are neither listed nor watched, nor VolumeAttachments without a claim ever seen', async () => {
    // Arrange: only a pod that is already terminating, and a DaemonSet pod
    kit.server.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 30, shutdownSeconds: 20 });
    kit.server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE], tolerations: [{ operator: 'Exists' }] });
    await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() });
    const before = kit.server.requests.length;
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 60_000 });
    // Assert
    expect(round.status.drained).toBe(true);
    expect(kit.server.requests.slice(before).map((r) => `${r.verb} ${r.path}`)).toEqual(['list /api/v1/pods', 'watch /api/v1/pods']);
    // once a pod with a claim was seen in this drain, they are listed
    await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now(), volumeClaimsSeen: true });
    expect(kit.server.countRequests({ verb: 'list', path: '/apis/storage.k8s.io/v1/volumeattachments' })).toBe(1);
  });

  test('stretches the window to see a grace period that ends just after it, within the limit', async () => {
    // Arrange: a pod whose 62 s grace it uses in full; the window is 60 s, the limit 90 s
    kit.server.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 62, shutdownSeconds: 62 });
    const start = kit.clock.now();
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: start + 60_000, watchLimit: start + 90_000 });
    // Assert
    expect(round.status.drained).toBe(true);
    expect(kit.clock.now() - start).toBeLessThanOrEqual(64_000);
  });

  test.each([
    ['eager: one longer round sees the grace end within the limit', 'eager' as const, true],
    ['imminent: an end 40 s past the window is left to the next poll', 'imminent' as const, false],
  ])('%s', async (_label, watch, drained) => {
    // Arrange: a pod that uses its 100 s grace in full; window 60 s, limit 170 s
    kit.server.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 100, shutdownSeconds: 100 });
    const start = kit.clock.now();
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: start + 60_000, watchLimit: start + 170_000, watch });
    // Assert
    expect(round.status.drained).toBe(drained);
    expect(kit.clock.now() - start).toBeLessThanOrEqual(drained ? 103_000 : 60_000);
  });

  test('an unknown node has no pods: drained', async () => {
    // Act
    const round = await drainRound(kit.kube, { nodeName: 'ip-10-0-0-99.ec2.internal', watchUntil: kit.clock.now() });
    // Assert
    expect(round.status.drained).toBe(true);
  });
});

describe('forceDeletePods', () => {
  let kit: Kit;
  beforeEach(async () => (kit = await startKit({ cordoned: true })));
  afterEach(() => kit.server.stop());

  test('deletes what is left with the grace clamped to the time before the hard limit, DaemonSet and mirror pods stay', async () => {
    // Arrange: a CronJob pod that would take 6 h, 10 minutes before the hard limit
    kit.server.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 21_600, shutdownSeconds: 18_000 });
    kit.server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [NODE], tolerations: [{ operator: 'Exists' }] });
    kit.server.addMirrorPod({ nodeName: NODE, name: 'kube-proxy' });
    const hardLimitAt = kit.clock.now() + 600_000;
    // Act
    const deleted = await forceDeletePods(kit.kube, NODE, hardLimitAt);
    // Assert
    expect(deleted).toBe(1);
    const job = kit.server.pods({ nodeName: NODE }).find((p) => p.metadata.name.startsWith('report'));
    // 600 s left, less 30 s for Complete and 10 s to notice the pod gone
    expect(job?.metadata.deletionGracePeriodSeconds).toBe(560);
    await kit.clock.advanceBy(561_000);
    expect(names(kit.server).some((n) => n.startsWith('batch/report'))).toBe(false);
    expect(names(kit.server)).toHaveLength(2);
  });

  test('tiered (a Spot drain): only the first tier with a pod still to go; the DaemonSet and critical pods keep their turn', async () => {
    // Arrange: a normal pod, a DaemonSet pod that does not tolerate the drain's taint, a critical pod
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 1, nodeName: NODE });
    kit.server.addDaemonSet({ namespace: 'logging', name: 'fluent-bit', nodes: [NODE] });
    kit.server.addDeployment({ namespace: 'kube-system', name: 'coredns', replicas: 1, nodeName: NODE, priorityClassName: 'system-cluster-critical' });
    const hardLimitAt = kit.clock.now() + 120_000;
    const deletedPods: string[] = [];
    // Act
    const deleted = await forceDeletePods(kit.kube, NODE, hardLimitAt, (e) => deletedPods.push(e.pod), { tiered: true });
    // Assert
    expect(deleted).toBe(1);
    expect(deletedPods).toEqual([expect.stringMatching(/^shop\/web-/)]);
    expect(kit.server.pods({ nodeName: NODE }).filter((p) => p.metadata.deletionTimestamp).map((p) => p.metadata.namespace)).toEqual(['shop']);
  });
});

describe('drainRound sharing PDB budgets with other drains', () => {
  let kit: Kit;
  beforeEach(async () => (kit = await startKit()));
  afterEach(() => kit.server.stop());

  test('two drains behind one PDB take turns, first come first served: no 429', async () => {
    // Arrange: 8 replicas over two draining nodes, at most 2 down at once; a third node takes the replacements
    const other = 'ip-10-0-0-3.ec2.internal';
    kit.server.addNode({ name: other, instanceId: 'i-0ccccccccccccccc3' });
    kit.server.addNode({ name: 'ip-10-0-0-4.ec2.internal', instanceId: 'i-0ddddddddddddddd4' });
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 8, nodes: [NODE, other], labels: { app: 'web' }, shutdownSeconds: 1, readyAfterSeconds: 3 });
    kit.server.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 2 });
    await cordonNode(kit.kube, NODE, 'a');
    await cordonNode(kit.kube, other, 'b');
    const start = kit.clock.now();
    const gone: Record<string, number> = {};
    const round = (nodeName: string, since: number) =>
      drainRound(kit.kube, { nodeName, watchUntil: start + 60_000, share: { since } }).then((r) => {
        gone[nodeName] = kit.clock.now();
        return r;
      });
    // Act: the drain of `other` started later
    const [first, second] = await Promise.all([round(NODE, start - 2_000), round(other, start - 1_000)]);
    // Assert
    expect(first.status.drained && second.status.drained).toBe(true);
    expect(first.pdbRefusals + second.pdbRefusals).toBe(0);
    expect(evictions(kit, 429)).toBe(0);
    expect(evictions(kit)).toBe(8);
    expect(gone[NODE]).toBeLessThan(gone[other]);
    // Both announced their demand on their own node, and only there.
    expect(kit.server.node(NODE).metadata.annotations?.[DEMAND_ANNOTATION]).toBeDefined();
    expect(kit.server.countRequests({ verb: 'watch', path: '/api/v1/nodes' })).toBe(2);
  });

  test('a drain that stopped announcing (asleep or dead) holds no share', async () => {
    // Arrange: the other node announced a demand whose round ended a minute ago
    const other = 'ip-10-0-0-3.ec2.internal';
    kit.server.addNode({ name: other, instanceId: 'i-0ccccccccccccccc3' });
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 4, nodes: [NODE, other], labels: { app: 'web' }, shutdownSeconds: 1, readyAfterSeconds: 3 });
    kit.server.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
    await cordonNode(kit.kube, NODE, 'a');
    await cordonNode(kit.kube, other, 'b');
    const start = kit.clock.now();
    const stale = { since: start - 600_000, awakeUntil: start - 60_000, pdbs: { 'shop/web': 2 } };
    kit.server.patchNodeAnnotations(other, { [DEMAND_ANNOTATION]: JSON.stringify(stale) });
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: start + 60_000, share: { since: start } });
    // Assert
    expect(round.status.drained).toBe(true);
    expect(kit.clock.now() - start).toBeLessThan(20_000);
  });

  test('a PDB whose healthy pods are all on this node is not shared: no draining nodes read, no announcement', async () => {
    // Arrange: every replica on our node; another node is draining too (with pods of no PDB of ours)
    const other = 'ip-10-0-0-3.ec2.internal';
    kit.server.addNode({ name: other, instanceId: 'i-0ccccccccccccccc3' });
    kit.server.addNode({ name: 'ip-10-0-0-4.ec2.internal', instanceId: 'i-0ddddddddddddddd4' });
    kit.server.addDeployment({ namespace: 'shop', name: 'web', replicas: 3, nodeName: NODE, labels: { app: 'web' }, shutdownSeconds: 1, readyAfterSeconds: 2 });
    kit.server.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
    await cordonNode(kit.kube, NODE, 'a');
    await cordonNode(kit.kube, other, 'b');
    // Act
    const round = await drainRound(kit.kube, { nodeName: NODE, watchUntil: kit.clock.now() + 60_000, share: { since: kit.clock.now() } });
    // Assert
    expect(round.status.drained).toBe(true);
    expect(evictions(kit)).toBe(3);
    expect(kit.server.countRequests({ path: '/api/v1/nodes' })).toBe(0);
    expect(kit.server.node(NODE).metadata.annotations?.[DEMAND_ANNOTATION]).toBeUndefined();
  });
});
