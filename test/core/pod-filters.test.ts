import type { PodView } from '../../lambda/core/kube-types';
import { classifyPod, podFilters, type PodVerdict } from '../../lambda/core/pod-filters';
import { NOW, pod, TOLERATE_ALL } from './pod-factory';

const filter = (name: string) => {
  const found = podFilters.find((f) => f.name === name);
  if (!found) throw new Error(`no filter ${name}`);
  return found;
};

describe('podFilters', () => {
  test('apply in the documented order', () => {
    // Arrange: nothing

    // Act
    const names = podFilters.map((f) => f.name);

    // Assert
    expect(names).toEqual(['finished', 'daemonset', 'mirror', 'tolerates-drain', 'terminating', 'hold', 'evict']);
  });

  describe('finished', () => {
    test.each<[string, PodView, PodVerdict | undefined]>([
      ['Succeeded', pod({ phase: 'Succeeded' }), { action: 'none', reason: 'finished' }],
      ['Failed', pod({ phase: 'Failed' }), { action: 'none', reason: 'finished' }],
      ['Running', pod({ phase: 'Running' }), undefined],
      ['Pending', pod({ phase: 'Pending' }), undefined],
      ['Unknown', pod({ phase: 'Unknown' }), undefined],
    ])('%s', (_case, subject, expected) => {
      // Arrange: the table row

      // Act
      const verdict = filter('finished').verdict(subject, NOW);

      // Assert
      expect(verdict).toEqual(expected);
    });
  });

  describe('terminating', () => {
    test.each<[string, PodView, PodVerdict | undefined]>([
      ['not being deleted', pod(), undefined],
      [
        'grace period still running',
        pod({ deletionTimestamp: NOW + 30_000 }),
        { action: 'wait', reason: 'terminating', expectedEnd: NOW + 30_000, stuck: false },
      ],
      [
        'exactly 60 s past its deletionTimestamp: not yet stuck',
        pod({ deletionTimestamp: NOW - 60_000 }),
        { action: 'wait', reason: 'terminating', expectedEnd: NOW - 60_000, stuck: false },
      ],
      [
        'more than 60 s past its deletionTimestamp: stuck',
        pod({ deletionTimestamp: NOW - 60_001 }),
        { action: 'wait', reason: 'terminating', expectedEnd: NOW - 60_001, stuck: true },
      ],
    ])('%s', (_case, subject, expected) => {
      // Arrange: the table row

      // Act
      const verdict = filter('terminating').verdict(subject, NOW);

      // Assert
      expect(verdict).toEqual(expected);
    });
  });

  describe('daemonset', () => {
    test.each<[string, PodView, PodVerdict | undefined]>([
      ['owned by a DaemonSet tolerating every taint (aws-node, kube-proxy)', pod({ owner: 'DaemonSet', tolerations: TOLERATE_ALL }), { action: 'leave', reason: 'daemonset' }],
      [
        'owned by a DaemonSet tolerating our taint by key',
        pod({ owner: 'DaemonSet', tolerations: [{ key: 'eks-graceful-drain/draining', operator: 'Exists', effect: 'NoSchedule' }] }),
        { action: 'leave', reason: 'daemonset' },
      ],
      ['owned by a DaemonSet without tolerations: not recreated here, so evicted', pod({ owner: 'DaemonSet' }), undefined],
      [
        'owned by a DaemonSet tolerating only the cordon (what the controller adds)',
        pod({ owner: 'DaemonSet', tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }),
        undefined,
      ],
      [
        'tolerating our key with Equal: our value is a per-drain hash, never matched',
        pod({ owner: 'DaemonSet', tolerations: [{ key: 'eks-graceful-drain/draining', operator: 'Equal', value: 'x' }] }),
        undefined,
      ],
      ['tolerating only NoExecute', pod({ owner: 'DaemonSet', tolerations: [{ operator: 'Exists', effect: 'NoExecute' }] }), undefined],
      ['its DaemonSet is gone (orphan)', pod({ owner: 'DaemonSet', tolerations: TOLERATE_ALL, controllerMissing: true }), undefined],
      ['owned by a ReplicaSet', pod({ owner: 'ReplicaSet' }), undefined],
      ['no controller', pod({ owner: null }), undefined],
    ])('%s', (_case, subject, expected) => {
      // Arrange: the table row

      // Act
      const verdict = filter('daemonset').verdict(subject, NOW);

      // Assert
      expect(verdict).toEqual(expected);
    });
  });

  describe('mirror', () => {
    test.each<[string, PodView, PodVerdict | undefined]>([
      ['config.mirror annotation', pod({ owner: null, mirror: true }), { action: 'leave', reason: 'mirror' }],
      ['controlled by the Node (kubelet-created)', pod({ owner: 'Node' }), { action: 'leave', reason: 'mirror' }],
      ['ordinary pod', pod(), undefined],
    ])('%s', (_case, subject, expected) => {
      // Arrange: the table row

      // Act
      const verdict = filter('mirror').verdict(subject, NOW);

      // Assert
      expect(verdict).toEqual(expected);
    });
  });

  describe('tolerates-drain', () => {
    const both = [
      { key: 'eks-graceful-drain/draining', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
    ];
    test.each<[string, PodView, PodVerdict | undefined]>([
      ['operator Exists without a key', pod({ tolerations: TOLERATE_ALL }), { action: 'leave', reason: 'tolerates-drain' }],
      ['both taints by key', pod({ tolerations: both }), { action: 'leave', reason: 'tolerates-drain' }],
      ['only our taint: the scheduler still refuses the cordoned node', pod({ tolerations: [both[0]] }), undefined],
      ['only the cordon: our taint keeps it off', pod({ tolerations: [both[1]] }), undefined],
      ['the cordon with Equal and no value (the taint has none)', pod({ tolerations: [both[0], { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }), { action: 'leave', reason: 'tolerates-drain' }],
      ['a Job pod: the Job controller recreates it', pod({ owner: 'Job', tolerations: TOLERATE_ALL }), { action: 'leave', reason: 'tolerates-drain' }],
      ['no controller: nothing would come back, so evicted', pod({ owner: null, tolerations: TOLERATE_ALL }), undefined],
      ['no tolerations', pod(), undefined],
    ])('%s', (_case, subject, expected) => {
      // Arrange: the table row

      // Act
      const verdict = filter('tolerates-drain').verdict(subject, NOW);

      // Assert
      expect(verdict).toEqual(expected);
    });
  });

  describe('evict', () => {
    test.each<[string, PodView, PodVerdict]>([
      ['ReplicaSet pod', pod(), { action: 'evict', tier: 'normal', warnings: [] }],
      ['Job pod', pod({ owner: 'Job' }), { action: 'evict', tier: 'normal', warnings: [] }],
      ['StatefulSet pod', pod({ owner: 'StatefulSet' }), { action: 'evict', tier: 'normal', warnings: [] }],
      ['emptyDir', pod({ emptyDir: true }), { action: 'evict', tier: 'normal', warnings: ['emptyDir'] }],
      ['no controller', pod({ owner: null }), { action: 'evict', tier: 'normal', warnings: ['unreplicated'] }],
      [
        'emptyDir and no controller',
        pod({ owner: null, emptyDir: true }),
        { action: 'evict', tier: 'normal', warnings: ['emptyDir', 'unreplicated'] },
      ],
      [
        'system-cluster-critical',
        pod({ priorityClassName: 'system-cluster-critical' }),
        { action: 'evict', tier: 'critical', warnings: [] },
      ],
      [
        'system-node-critical',
        pod({ priorityClassName: 'system-node-critical' }),
        { action: 'evict', tier: 'critical', warnings: [] },
      ],
      ['another priority class', pod({ priorityClassName: 'high-priority' }), { action: 'evict', tier: 'normal', warnings: [] }],
      ['DaemonSet pod', pod({ owner: 'DaemonSet' }), { action: 'evict', tier: 'daemonset', warnings: [] }],
      [
        'critical DaemonSet pod',
        pod({ owner: 'DaemonSet', priorityClassName: 'system-node-critical' }),
        { action: 'evict', tier: 'critical-daemonset', warnings: [] },
      ],
      [
        'orphaned DaemonSet pod',
        pod({ owner: 'DaemonSet', controllerMissing: true }),
        { action: 'evict', tier: 'daemonset', warnings: ['unreplicated'] },
      ],
    ])('%s', (_case, subject, expected) => {
      // Arrange: the table row

      // Act
      const verdict = filter('evict').verdict(subject, NOW);

      // Assert
      expect(verdict).toEqual(expected);
    });
  });
});

describe('classifyPod: the first verdict wins', () => {
  test.each<[string, PodView, PodVerdict]>([
    ['finished beats terminating', pod({ phase: 'Succeeded', deletionTimestamp: NOW }), { action: 'none', reason: 'finished' }],
    ['finished beats daemonset', pod({ phase: 'Failed', owner: 'DaemonSet', tolerations: TOLERATE_ALL }), { action: 'none', reason: 'finished' }],
    [
      'daemonset beats terminating: never waited for',
      pod({ owner: 'DaemonSet', deletionTimestamp: NOW + 5_000, tolerations: TOLERATE_ALL }),
      { action: 'leave', reason: 'daemonset' },
    ],
    [
      'terminating beats evict',
      pod({ owner: null, emptyDir: true, deletionTimestamp: NOW - 120_000 }),
      { action: 'wait', reason: 'terminating', expectedEnd: NOW - 120_000, stuck: true },
    ],
    ['daemonset beats mirror', pod({ owner: 'DaemonSet', mirror: true, tolerations: TOLERATE_ALL }), { action: 'leave', reason: 'daemonset' }],
    ['mirror beats evict', pod({ owner: null, mirror: true, priorityClassName: 'system-node-critical' }), { action: 'leave', reason: 'mirror' }],
    ['a Pending pod is evicted', pod({ phase: 'Pending', ready: false }), { action: 'evict', tier: 'normal', warnings: [] }],
    ['tolerates-drain beats terminating: not waited for', pod({ tolerations: TOLERATE_ALL, deletionTimestamp: NOW + 5_000 }), { action: 'leave', reason: 'tolerates-drain' }],
    [
      'a DaemonSet pod that does not tolerate our taint is waited for while it terminates',
      pod({ owner: 'DaemonSet', deletionTimestamp: NOW + 5_000 }),
      { action: 'wait', reason: 'terminating', expectedEnd: NOW + 5_000, stuck: false },
    ],
    ['mirror beats tolerates-drain', pod({ owner: 'Node', mirror: true, tolerations: TOLERATE_ALL }), { action: 'leave', reason: 'mirror' }],
  ])('%s', (_case, subject, expected) => {
    // Arrange: the table row

    // Act
    const verdict = classifyPod(subject, NOW);

    // Assert
    expect(verdict).toEqual(expected);
  });
});
