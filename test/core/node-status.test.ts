import { planEvictions, type EvictionPlan } from '../../lambda/core/eviction-plan';
import { blockingVolumeAttachments, summarizeNode, type NodeStatus, type VolumeAttachmentView } from '../../lambda/core/node-status';
import { NOW, pdb, pod, TOLERATE_ALL } from './pod-factory';

const emptyPlan: EvictionPlan = { evictNow: [], blocked: [], misconfigured: [], deferred: [] };

const status = (overrides: Partial<NodeStatus>): NodeStatus => ({
  drained: true,
  podsGone: overrides.drained ?? true,
  volumeAttachments: [],
  forbidden: [],
  evictable: 0,
  terminating: 0,
  stuck: [],
  blocked: [],
  misconfigured: [],
  deferred: [],
  finished: 0,
  leftAlone: [],
  warnings: [],
  held: [],
  ...overrides,
});

describe('summarizeNode', () => {
  test.each<[string, ReturnType<typeof pod>[], NodeStatus]>([
    ['an empty node is drained', [], status({})],
    [
      'finished and left-alone pods only: drained',
      [
        pod({ name: 'job', phase: 'Succeeded' }),
        pod({ name: 'crashed', phase: 'Failed' }),
        pod({ name: 'proxy', owner: 'DaemonSet', tolerations: TOLERATE_ALL }),
        pod({ name: 'etcd', owner: 'Node', mirror: true }),
      ],
      status({
        finished: 2,
        leftAlone: [
          { pod: 'default/etcd', reason: 'mirror' },
          { pod: 'default/proxy', reason: 'daemonset' },
        ],
      }),
    ],
    [
      'an evictable pod: not drained',
      [pod({ name: 'web' })],
      status({ drained: false, evictable: 1 }),
    ],
    [
      'terminating pods: not drained, expected ends span them',
      [
        pod({ name: 'a', deletionTimestamp: NOW + 30_000 }),
        pod({ name: 'b', deletionTimestamp: NOW + 3_600_000 }),
        pod({ name: 'c', deletionTimestamp: NOW + 5_000 }),
      ],
      status({
        drained: false,
        terminating: 3,
        earliestExpectedEnd: NOW + 5_000,
        latestExpectedEnd: NOW + 3_600_000,
      }),
    ],
    [
      'a stuck pod is listed but not waited for (Karpenter)',
      [pod({ name: 'zombie', deletionTimestamp: NOW - 61_000 })],
      status({
        drained: true,
        terminating: 1,
        stuck: ['default/zombie'],
      }),
    ],
    [
      'warnings of every evictable pod, one entry each',
      [pod({ name: 'bare', owner: null, emptyDir: true }), pod({ name: 'cache', emptyDir: true }), pod({ name: 'web' })],
      status({
        drained: false,
        evictable: 3,
        warnings: [
          { pod: 'default/bare', warning: 'emptyDir' },
          { pod: 'default/bare', warning: 'unreplicated' },
          { pod: 'default/cache', warning: 'emptyDir' },
        ],
      }),
    ],
  ])('%s', (_case, pods, expected) => {
    // Arrange: the table row

    // Act
    const summary = summarizeNode(pods, emptyPlan, NOW);

    // Assert
    expect(summary).toEqual(expected);
  });

  test('carries the plan’s blocked, misconfigured and deferred pods', () => {
    // Arrange
    const pods = [
      pod({ name: 'dns', priorityClassName: 'system-cluster-critical', labels: { app: 'dns' } }),
      pod({ name: 'web-1', labels: { app: 'web' } }),
      pod({ name: 'web-2', labels: { app: 'web', canary: 'yes' } }),
    ];
    const pdbs = [
      pdb({ name: 'web', selector: { matchLabels: { app: 'web' } }, disruptionsAllowed: 0 }),
      pdb({ name: 'canary', selector: { matchLabels: { canary: 'yes' } }, disruptionsAllowed: 1 }),
    ];
    const plan = planEvictions(pods, pdbs, NOW);

    // Act
    const summary = summarizeNode(pods, plan, NOW);

    // Assert
    expect(summary).toEqual(
      status({
        drained: false,
        evictable: 3,
        blocked: [{ pod: 'default/web-1', pdb: 'default/web' }],
        misconfigured: [{ pod: 'default/web-2', pdbs: ['default/canary', 'default/web'] }],
        deferred: ['default/dns'],
        tier: 'normal',
      }),
    );
  });

  test('a pod whose eviction was requested but is not yet terminating still counts as evictable', () => {
    // Arrange
    const pods = [pod({ name: 'web' })];
    const plan = planEvictions(pods, [], NOW, { alreadyRequested: new Set(['default/web']) });

    // Act
    const summary = summarizeNode(pods, plan, NOW);

    // Assert
    expect(summary.drained).toBe(false);
    expect(summary.evictable).toBe(1);
  });

  test('pods gone but a VolumeAttachment left: not drained yet', () => {
    // Arrange
    const pods = [pod({ name: 'done', phase: 'Succeeded' })];

    // Act
    const summary = summarizeNode(pods, emptyPlan, NOW, ['csi-b', 'csi-a']);

    // Assert
    expect(summary).toEqual(status({ drained: false, podsGone: true, finished: 1, volumeAttachments: ['csi-a', 'csi-b'] }));
  });

  test('pods tolerating the drain are left alone and do not hold it', () => {
    // Arrange
    const pods = [pod({ name: 'sticky', tolerations: TOLERATE_ALL })];

    // Act
    const summary = summarizeNode(pods, emptyPlan, NOW);

    // Assert
    expect(summary).toEqual(status({ leftAlone: [{ pod: 'default/sticky', reason: 'tolerates-drain' }] }));
  });

  test('omits the expected-end fields when nothing terminates', () => {
    // Arrange
    const pods = [pod({ name: 'web' })];

    // Act
    const summary = summarizeNode(pods, emptyPlan, NOW);

    // Assert
    expect('earliestExpectedEnd' in summary).toBe(false);
    expect('latestExpectedEnd' in summary).toBe(false);
  });
});

describe('blockingVolumeAttachments', () => {
  test.each<[string, VolumeAttachmentView[], string[], string[]]>([
    ['none', [], [], []],
    ['on this node, of a PersistentVolume', [{ name: 'csi-1', nodeName: 'n1', persistentVolumeName: 'pv-1' }], [], ['csi-1']],
    ['on another node', [{ name: 'csi-1', nodeName: 'n2', persistentVolumeName: 'pv-1' }], [], []],
    ['an inline volume (no PersistentVolume): Karpenter does not wait for it', [{ name: 'csi-1', nodeName: 'n1' }], [], []],
    ['the volume of a pod that stays', [{ name: 'csi-1', nodeName: 'n1', persistentVolumeName: 'pv-1' }, { name: 'csi-2', nodeName: 'n1', persistentVolumeName: 'pv-2' }], ['pv-1'], ['csi-2']],
  ])('%s', (_case, attachments, kept, expected) => {
    // Arrange: the table row

    // Act
    const blocking = blockingVolumeAttachments(attachments, 'n1', new Set(kept));

    // Assert
    expect(blocking).toEqual(expected);
  });
});
