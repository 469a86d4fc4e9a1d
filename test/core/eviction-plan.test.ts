import { laterTiersReserveSeconds, planEvictions } from '../../lambda/core/eviction-plan';
import { keyOf, type PdbView, type PodView } from '../../lambda/core/kube-types';
import { NOW, pdb, pod, TOLERATE_ALL } from './pod-factory';

const keys = (pods: PodView[]) => pods.map(keyOf);
const critical = 'system-cluster-critical';

describe('planEvictions: which pods', () => {
  test('evicts only pods whose verdict is evict, in namespace/name order', () => {
    // Arrange
    const pods = [
      pod({ name: 'web-b' }),
      pod({ name: 'done', phase: 'Succeeded' }),
      pod({ name: 'leaving', deletionTimestamp: NOW + 10_000 }),
      pod({ name: 'agent', owner: 'DaemonSet', tolerations: TOLERATE_ALL }),
      pod({ name: 'static', owner: null, mirror: true }),
      pod({ name: 'web-a', namespace: 'shop' }),
      pod({ name: 'bare', owner: null, emptyDir: true }),
    ];

    // Act
    const plan = planEvictions(pods, [], NOW);

    // Assert
    expect(plan).toEqual({
      evictNow: [pods[6], pods[0], pods[5]],
      blocked: [],
      misconfigured: [],
      deferred: [],
      tier: 'normal',
    });
    expect(keys(plan.evictNow)).toEqual(['default/bare', 'default/web-b', 'shop/web-a']);
  });

  test('does not send again what was already requested', () => {
    // Arrange
    const pods = [pod({ name: 'a' }), pod({ name: 'b' })];

    // Act
    const plan = planEvictions(pods, [], NOW, { alreadyRequested: new Set(['default/a']) });

    // Assert
    expect(keys(plan.evictNow)).toEqual(['default/b']);
  });

  test('a pod no PDB selects is always evicted', () => {
    // Arrange
    const pods = [pod({ name: 'a', labels: { app: 'a' } })];
    const pdbs = [pdb({ selector: { matchLabels: { app: 'other' } }, disruptionsAllowed: 0 })];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(['default/a']);
    expect(plan.blocked).toEqual([]);
  });
});

describe('planEvictions: tiers', () => {
  test.each<[string, PodView[], string[], string[]]>([
    [
      'critical waits while a normal pod is evictable',
      [pod({ name: 'dns', priorityClassName: critical }), pod({ name: 'web' })],
      ['default/web'],
      ['default/dns'],
    ],
    [
      'critical waits while a normal pod is terminating',
      [pod({ name: 'dns', priorityClassName: critical }), pod({ name: 'web', deletionTimestamp: NOW + 20_000 })],
      [],
      ['default/dns'],
    ],
    [
      'critical goes once a normal pod is stuck (Karpenter stops waiting for it)',
      [pod({ name: 'dns', priorityClassName: critical }), pod({ name: 'web', deletionTimestamp: NOW - 61_000 })],
      ['default/dns'],
      [],
    ],
    [
      'finished, DaemonSet and mirror pods do not hold the critical tier',
      [
        pod({ name: 'dns', priorityClassName: critical }),
        pod({ name: 'job', phase: 'Succeeded' }),
        pod({ name: 'agent', owner: 'DaemonSet', tolerations: TOLERATE_ALL }),
        pod({ name: 'agent-leaving', owner: 'DaemonSet', deletionTimestamp: NOW + 5_000, tolerations: TOLERATE_ALL }),
        pod({ name: 'static', owner: 'Node', mirror: true }),
      ],
      ['default/dns'],
      [],
    ],
    [
      'a terminating critical pod does not hold the critical tier',
      [pod({ name: 'dns-1', priorityClassName: critical, deletionTimestamp: NOW + 5_000 }), pod({ name: 'dns-2', priorityClassName: 'system-node-critical' })],
      ['default/dns-2'],
      [],
    ],
  ])('%s', (_case, pods, expectedEvictNow, expectedDeferred) => {
    // Arrange: the table row

    // Act
    const plan = planEvictions(pods, [], NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(expectedEvictNow);
    expect(plan.deferred).toEqual(expectedDeferred);
  });

  test.each<[string, PodView[], string[], string[]]>([
    [
      'normal first: DaemonSet and critical pods wait',
      [
        pod({ name: 'web' }),
        pod({ name: 'fluent-bit', owner: 'DaemonSet' }),
        pod({ name: 'dns', priorityClassName: critical }),
        pod({ name: 'ebs-node', owner: 'DaemonSet', priorityClassName: 'system-node-critical' }),
      ],
      ['default/web'],
      ['default/dns', 'default/ebs-node', 'default/fluent-bit'],
    ],
    [
      'then non-critical DaemonSet pods, once no normal pod is left',
      [
        pod({ name: 'fluent-bit', owner: 'DaemonSet' }),
        pod({ name: 'dns', priorityClassName: critical }),
        pod({ name: 'ebs-node', owner: 'DaemonSet', priorityClassName: 'system-node-critical' }),
      ],
      ['default/fluent-bit'],
      ['default/dns', 'default/ebs-node'],
    ],
    [
      'a terminating DaemonSet pod holds the critical tier',
      [
        pod({ name: 'fluent-bit', owner: 'DaemonSet', deletionTimestamp: NOW + 5_000 }),
        pod({ name: 'dns', priorityClassName: critical }),
      ],
      [],
      ['default/dns'],
    ],
    [
      'then critical pods, then critical DaemonSet pods',
      [pod({ name: 'dns', priorityClassName: critical }), pod({ name: 'ebs-node', owner: 'DaemonSet', priorityClassName: 'system-node-critical' })],
      ['default/dns'],
      ['default/ebs-node'],
    ],
    [
      'critical DaemonSet pods last',
      [pod({ name: 'ebs-node', owner: 'DaemonSet', priorityClassName: 'system-node-critical' }), pod({ name: 'aws-node', owner: 'DaemonSet', tolerations: TOLERATE_ALL })],
      ['default/ebs-node'],
      [],
    ],
    [
      'an orphaned DaemonSet pod is evicted even if it tolerates the drain, in the DaemonSet tier',
      [pod({ name: 'old-agent', owner: 'DaemonSet', tolerations: TOLERATE_ALL, controllerMissing: true }), pod({ name: 'web' })],
      ['default/web'],
      ['default/old-agent'],
    ],
    [
      'pods tolerating the drain hold no tier',
      [pod({ name: 'sticky', tolerations: TOLERATE_ALL }), pod({ name: 'dns', priorityClassName: critical })],
      ['default/dns'],
      [],
    ],
  ])('Karpenter tiers: %s', (_case, pods, expectedEvictNow, expectedDeferred) => {
    // Arrange: the table row

    // Act
    const plan = planEvictions(pods, [], NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(expectedEvictNow);
    expect(plan.deferred).toEqual(expectedDeferred);
  });

  test('a normal pod already requested but not yet terminating still holds the critical tier', () => {
    // Arrange
    const pods = [pod({ name: 'dns', priorityClassName: critical }), pod({ name: 'web' })];

    // Act
    const plan = planEvictions(pods, [], NOW, { alreadyRequested: new Set(['default/web']) });

    // Assert
    expect(plan).toEqual({ evictNow: [], blocked: [], misconfigured: [], deferred: ['default/dns'], tier: 'normal' });
  });

  test('a normal pod blocked by its PDB holds the critical tier', () => {
    // Arrange
    const pods = [pod({ name: 'dns', priorityClassName: critical, labels: { app: 'dns' } }), pod({ name: 'web', labels: { app: 'web' } })];
    const pdbs = [pdb({ name: 'web', selector: { matchLabels: { app: 'web' } }, disruptionsAllowed: 0 })];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(plan).toEqual({
      evictNow: [],
      blocked: [{ pod: 'default/web', pdb: 'default/web' }],
      misconfigured: [],
      deferred: ['default/dns'],
      tier: 'normal',
    });
  });

  test('an already requested critical pod is neither sent nor deferred', () => {
    // Arrange
    const pods = [pod({ name: 'dns', priorityClassName: critical }), pod({ name: 'web' })];

    // Act
    const plan = planEvictions(pods, [], NOW, { alreadyRequested: new Set(['default/dns']) });

    // Assert
    expect(keys(plan.evictNow)).toEqual(['default/web']);
    expect(plan.deferred).toEqual([]);
  });
});

describe('planEvictions: PodDisruptionBudgets', () => {
  test('a PDB budget is shared by the pods it selects, counted down in name order', () => {
    // Arrange
    const pods = ['c', 'a', 'b'].map((name) => pod({ name, labels: { app: 'web' } }));
    const pdbs = [pdb({ name: 'web', selector: { matchLabels: { app: 'web' } }, disruptionsAllowed: 2 })];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(['default/a', 'default/b']);
    expect(plan.blocked).toEqual([{ pod: 'default/c', pdb: 'default/web' }]);
  });

  test('each PDB has its own budget', () => {
    // Arrange
    const pods = [
      pod({ name: 'api-1', labels: { app: 'api' } }),
      pod({ name: 'api-2', labels: { app: 'api' } }),
      pod({ name: 'web-1', labels: { app: 'web' } }),
    ];
    const pdbs = [
      pdb({ name: 'api', selector: { matchLabels: { app: 'api' } }, disruptionsAllowed: 1 }),
      pdb({ name: 'web', selector: { matchLabels: { app: 'web' } }, disruptionsAllowed: 1 }),
    ];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(['default/api-1', 'default/web-1']);
    expect(plan.blocked).toEqual([{ pod: 'default/api-2', pdb: 'default/api' }]);
  });

  test('a PDB applies only in its own namespace', () => {
    // Arrange
    const pods = [pod({ name: 'web', namespace: 'shop' })];
    const pdbs = [pdb({ name: 'all', namespace: 'default', selector: {}, disruptionsAllowed: 0 })];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(['shop/web']);
    expect(plan.blocked).toEqual([]);
  });

  test('an empty selector covers the whole namespace (policy/v1)', () => {
    // Arrange
    const pods = [pod({ name: 'a' }), pod({ name: 'b' })];
    const pdbs = [pdb({ name: 'all', selector: {}, disruptionsAllowed: 1 })];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(['default/a']);
    expect(plan.blocked).toEqual([{ pod: 'default/b', pdb: 'default/all' }]);
  });

  test('a pod two PDBs select is misconfigured, never sent, and costs no budget', () => {
    // Arrange
    const pods = [pod({ name: 'a', labels: { app: 'web' } }), pod({ name: 'b', labels: { app: 'web', x: '1' } })];
    const pdbs: PdbView[] = [
      pdb({ name: 'z-web', selector: { matchLabels: { app: 'web' } }, disruptionsAllowed: 1 }),
      pdb({ name: 'a-x', selector: { matchExpressions: [{ key: 'x', operator: 'Exists' }] }, disruptionsAllowed: 5 }),
    ];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(plan).toEqual({
      evictNow: [pods[0]],
      blocked: [],
      misconfigured: [{ pod: 'default/b', pdbs: ['default/a-x', 'default/z-web'] }],
      deferred: [],
      tier: 'normal',
    });
  });

  test('the eviction API ignores PDBs for Pending pods, so they are sent and cost no budget', () => {
    // Arrange
    const pods = [
      pod({ name: 'a', phase: 'Pending', ready: false }),
      pod({ name: 'b', phase: 'Pending', ready: false, labels: { app: 'b', x: '1' } }),
      pod({ name: 'c' }),
    ];
    const pdbs = [
      pdb({ name: 'all', selector: {}, disruptionsAllowed: 1 }),
      pdb({ name: 'x', selector: { matchLabels: { x: '1' } }, disruptionsAllowed: 0 }),
    ];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(['default/a', 'default/b', 'default/c']);
    expect(plan.blocked).toEqual([]);
    expect(plan.misconfigured).toEqual([]);
  });

  test('unready pods are sent without being charged to their PDB while it is healthy (IfHealthyBudget)', () => {
    // Arrange
    const pods = [
      pod({ name: 'a', ready: false }),
      pod({ name: 'b' }),
      pod({ name: 'c' }),
      pod({ name: 'd', ready: false }),
    ];
    const pdbs = [pdb({ name: 'all', selector: {}, disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2 })];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(['default/a', 'default/b', 'default/d']);
    expect(plan.blocked).toEqual([{ pod: 'default/c', pdb: 'default/all' }]);
  });

  test.each<[string, Parameters<typeof pdb>[0], boolean]>([
    ['IfHealthyBudget, currentHealthy < desiredHealthy: charged, and there is no budget', { currentHealthy: 1, desiredHealthy: 2 }, false],
    ['IfHealthyBudget, desiredHealthy 0: charged (the API requires desiredHealthy > 0)', { currentHealthy: 0, desiredHealthy: 0 }, false],
    ['IfHealthyBudget, currentHealthy = desiredHealthy > 0: free', { currentHealthy: 2, desiredHealthy: 2 }, true],
    ['AlwaysAllow, unhealthy budget: free', { currentHealthy: 0, desiredHealthy: 2, unhealthyPodEvictionPolicy: 'AlwaysAllow' }, true],
    ['AlwaysAllow, stale status: still free (checked before the generation)', { unhealthyPodEvictionPolicy: 'AlwaysAllow', statusStale: true }, true],
    ['IfHealthyBudget healthy, stale status: free (the API checks the generation only when it charges)', { currentHealthy: 2, desiredHealthy: 1, statusStale: true }, true],
  ])('an unready pod under a PDB without budget: %s', (_case, spec, sent) => {
    // Arrange
    const pods = [pod({ name: 'a', ready: false })];
    const pdbs = [pdb({ name: 'all', disruptionsAllowed: 0, ...spec })];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(sent ? ['default/a'] : []);
  });

  test('a PDB whose status lags its spec allows nothing it would charge, whatever its budget says', () => {
    // Arrange
    const pods = [pod({ name: 'a' }), pod({ name: 'b', phase: 'Pending', ready: false })];
    const pdbs = [pdb({ name: 'all', disruptionsAllowed: 5, statusStale: true })];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(plan.evictNow)).toEqual(['default/b']);
    expect(plan.blocked).toEqual([{ pod: 'default/a', pdb: 'default/all', reason: 'status-stale' }]);
  });

  test('a negative disruptionsAllowed blocks like zero', () => {
    // Arrange
    const pods = [pod({ name: 'a' })];
    const pdbs = [pdb({ name: 'all', disruptionsAllowed: -1 })];

    // Act
    const plan = planEvictions(pods, pdbs, NOW);

    // Assert
    expect(plan.evictNow).toEqual([]);
    expect(plan.blocked).toEqual([{ pod: 'default/a', pdb: 'default/all' }]);
  });

  test('the plan does not depend on the order of its input', () => {
    // Arrange
    const pods = [
      pod({ name: 'b', namespace: 'x' }),
      pod({ name: 'a', namespace: 'y' }),
      pod({ name: 'c', namespace: 'x' }),
      pod({ name: 'a', namespace: 'x' }),
    ];
    const pdbs = [pdb({ name: 'all', namespace: 'x', disruptionsAllowed: 2 })];

    // Act
    const forward = planEvictions(pods, pdbs, NOW);
    const backward = planEvictions([...pods].reverse(), pdbs, NOW);

    // Assert
    expect(keys(forward.evictNow)).toEqual(['x/a', 'x/b', 'y/a']);
    expect(forward.blocked).toEqual([{ pod: 'x/c', pdb: 'x/all' }]);
    expect(backward).toEqual(forward);
  });

  test('does not modify its inputs', () => {
    // Arrange
    const pods = [pod({ name: 'b' }), pod({ name: 'a' })];
    const pdbs = [pdb({ disruptionsAllowed: 1 })];

    // Act
    planEvictions(pods, pdbs, NOW);

    // Assert
    expect(keys(pods)).toEqual(['default/b', 'default/a']);
    expect(pdbs[0].disruptionsAllowed).toBe(1);
  });
});

describe('laterTiersReserveSeconds: time kept for the tiers that go last', () => {
  test("the longest grace of a later tier's pod still to evict, at most a quarter of the time left", () => {
    // Arrange
    const pods = [
      pod({ name: 'job', grace: 600 }),
      pod({ name: 'shipper', owner: 'DaemonSet', grace: 30 }),
      pod({ name: 'dns', priorityClassName: critical, grace: 45 }),
      pod({ name: 'agent', owner: 'DaemonSet', tolerations: TOLERATE_ALL, grace: 300 }),
    ];

    // Act + Assert: the agent stays on the node (it tolerates our taint), so it reserves nothing
    expect(laterTiersReserveSeconds(pods, 'normal', NOW, 3600)).toBe(45);
    expect(laterTiersReserveSeconds(pods, 'normal', NOW, 80)).toBe(20);
    expect(laterTiersReserveSeconds(pods, 'daemonset', NOW, 3600)).toBe(45);
    expect(laterTiersReserveSeconds(pods, 'critical', NOW, 3600)).toBe(0);
  });

  test('nothing when no later-tier pod is left to stop', () => {
    // Arrange
    const pods = [pod({ name: 'web', grace: 30 }), pod({ name: 'gone', owner: 'DaemonSet', grace: 30, phase: 'Succeeded' })];
    // Act + Assert
    expect(laterTiersReserveSeconds(pods, 'normal', NOW, 80)).toBe(0);
  });
});
