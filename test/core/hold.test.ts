/** Pods that ask to be waited for: the hold filter, the plan, the node's status and the routing. */
import { planEvictions } from '../../lambda/core/eviction-plan';
import { decideAfterRound } from '../../lambda/core/next-step';
import { summarizeNode } from '../../lambda/core/node-status';
import { HOLD_MARGIN_MS, classifyPod, holdReason, type HoldPolicy } from '../../lambda/core/pod-filters';
import type { PodView } from '../../lambda/core/kube-types';
import { NOW, pod } from './pod-factory';
import { MINUTE, drainState, iso, summary } from './drain-state-factory';

const annotated = (annotations: Record<string, string>, over: Parameters<typeof pod>[0] = {}): PodView => ({ ...pod({ owner: 'Job', ...over }), annotations });
const doNotDisrupt = (over: Parameters<typeof pod>[0] = {}) => annotated({ 'karpenter.sh/do-not-disrupt': 'true' }, over);
const policy: HoldPolicy = { waitUntil: NOW + 120 * MINUTE };

describe('holdReason', () => {
  test.each<[string, PodView, boolean, string | undefined]>([
    ['karpenter.sh/do-not-disrupt "true"', doNotDisrupt(), false, 'do-not-disrupt'],
    ['karpenter.sh/do-not-disrupt "false"', annotated({ 'karpenter.sh/do-not-disrupt': 'false' }), false, undefined],
    ['safe-to-evict "false"', annotated({ 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' }), false, 'safe-to-evict'],
    ['safe-to-evict "true"', annotated({ 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' }), false, undefined],
    ['a Job pod without the opt-in', pod({ owner: 'Job' }), false, undefined],
    ['a Job pod with the opt-in', pod({ owner: 'Job' }), true, 'job'],
    ['a ReplicaSet pod with the opt-in', pod(), true, undefined],
  ])('%s', (_name, subject, waitForJobPods, expected) => {
    expect(holdReason(subject, { waitForJobPods })).toBe(expected);
  });
});

describe('the hold filter', () => {
  const grace = 1800;
  const evictAt = policy.waitUntil - grace * 1000 - HOLD_MARGIN_MS;

  test.each<[string, PodView, number, HoldPolicy | undefined, ReturnType<typeof classifyPod>]>([
    ['held until its grace still fits before the deadline policy', doNotDisrupt({ grace }), NOW, policy, { action: 'hold', reason: 'do-not-disrupt', evictAt }],
    ['evicted, with the waited warning, once it no longer fits', doNotDisrupt({ grace }), evictAt, policy, { action: 'evict', tier: 'normal', warnings: ['waited'] }],
    ['evicted at once when its grace never fitted', doNotDisrupt({ grace: 3 * 3600 }), NOW, policy, { action: 'evict', tier: 'normal', warnings: ['waited'] }],
    ['evicted like any pod without a policy (no deadline known)', doNotDisrupt({ grace }), NOW, undefined, { action: 'evict', tier: 'normal', warnings: [] }],
    ['a held pod being deleted anyway is waited for as terminating', doNotDisrupt({ deletionTimestamp: NOW + 5_000 }), NOW, policy, { action: 'wait', reason: 'terminating', expectedEnd: NOW + 5_000, stuck: false }],
    ['a finished held pod needs nothing', doNotDisrupt({ phase: 'Succeeded' }), NOW, policy, { action: 'none', reason: 'finished' }],
  ])('%s', (_name, subject, now, hold, expected) => {
    expect(classifyPod(subject, now, hold)).toEqual(expected);
  });
});

describe('a node with a held pod', () => {
  const held = doNotDisrupt({ name: 'report', namespace: 'batch' });
  const web = pod({ name: 'web' });
  const dns = pod({ name: 'coredns', namespace: 'kube-system', priorityClassName: 'system-cluster-critical' });

  test('evicts the others, keeps the critical tier until the held pod is gone, and is not drained', () => {
    const plan = planEvictions([held, web, dns], [], NOW, { hold: policy });
    expect(plan.evictNow.map((p) => p.name)).toEqual(['web']);
    expect(plan.deferred).toEqual(['kube-system/coredns']);

    const status = summarizeNode([held], planEvictions([held], [], NOW, { hold: policy }), NOW, [], policy);
    expect(status.drained).toBe(false);
    expect(status.evictable).toBe(0);
    expect(status.held).toEqual([{ pod: 'batch/report', reason: 'do-not-disrupt', evictAt: policy.waitUntil - 30_000 - HOLD_MARGIN_MS }]);
  });

  test('is drained once the held pod finished on its own', () => {
    const done = { ...held, phase: 'Succeeded' };
    const status = summarizeNode([done], planEvictions([done], [], NOW, { hold: policy }), NOW, [], policy);
    expect(status.drained).toBe(true);
    expect(status.held).toEqual([]);
  });
});

describe('routing while a pod is waited for', () => {
  test('wakes up by the moment the held pod must be evicted', () => {
    const now = Date.parse(drainState().action.startedAt) + 60 * MINUTE;
    const state = drainState({ lastBeatAt: now - MINUTE });
    const evictAt = now + 2 * MINUTE; // sooner than the adaptive poll (1/20 of an hour = 3 min)
    const routing = decideAfterRound(state, summary({ drained: false, evictable: 0, waitedFor: { count: 1, pods: [{ pod: 'batch/report', reason: 'do-not-disrupt', evictAt: iso(evictAt) }], nextEvictAt: iso(evictAt) } }), now);
    expect(routing).toEqual({ next: 'wait', waitUntil: iso(evictAt) });
  });
});
