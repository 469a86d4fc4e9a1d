/**
 * Every example scenario rehearsed to the end, with the outcome it promises.
 * Virtual time: an hour of drain takes seconds, nothing sleeps for real.
 */
import { join } from 'node:path';
import { rehearse, type RehearsalResult } from '../../../sim/rehearsal/rehearse';
import { loadScenario } from '../../../sim/rehearsal/scenario-file';

const example = (name: string) => loadScenario(join(__dirname, '../../../examples', `${name}.yaml`));
const minutes = (ms: number) => ms / 60_000;

describe('rehearsal of the examples', () => {
  test('default: completes with CONTINUE after the 40-minute job, with heartbeats along the way', async () => {
    // Act
    const r = await rehearse(example('default'));

    // Assert
    expect(r.failures).toEqual([]);
    const [action] = r.actions;
    expect(action).toMatchObject({ how: 'completed', result: 'CONTINUE', reason: 'drained', completions: 1 });
    expect(minutes(action.endedAt! - action.startedAt)).toBeGreaterThanOrEqual(40);
    expect(action.heartbeats).toBeGreaterThanOrEqual(1);
    expect(r.summary.heartbeats).toBe(action.heartbeats);
    const job = r.pods.find((p) => p.pod.startsWith('batch/nightly-report-'))!;
    expect(minutes(job.goneAt! - job.terminatingAt!)).toBe(40);
    const deployments = r.pods.filter((p) => p.owner === 'Deployment');
    expect(deployments.filter((p) => !p.toleratesDrain).every((p) => p.evictedAt !== undefined && p.goneAt !== undefined)).toBe(true);
    // the metrics agent tolerates the drain: left, reported
    expect(deployments.filter((p) => p.toleratesDrain).map((p) => p.pod)).toEqual([expect.stringMatching(/^monitoring\/metrics-agent-/)]);
    expect(r.timeline.some((e) => e.kind === 'left-alone' && /metrics-agent/.test(e.text))).toBe(true);
    expect(r.summary.pods.toleratingDrain).toBe(1);
    // the log shipper does not tolerate the taint: evicted after every other pod, the report job included
    const shipper = r.pods.find((p) => p.pod.startsWith('logging/fluent-bit-'))!;
    expect(shipper.evictedAt).toBeGreaterThanOrEqual(job.goneAt!);
    expect(r.pods.filter((p) => (p.owner === 'DaemonSet' && !p.pod.startsWith('logging/')) || p.owner === 'mirror').every((p) => p.goneAt === undefined)).toBe(true);
    // the cache's volume detached while the report job still ran: nothing left to wait for at the end
    expect(r.timeline.filter((e) => e.kind === 'volumes')).toEqual([]);
    expect(r.timeline.at(-1)?.text).toMatch(/^lifecycle action completed with CONTINUE after 4\dm\d\ds \(drained\)$/);
    expect(r.facts.realMs).toBeLessThan(60_000);
  });

  test('do-not-disrupt: the annotated report is waited for until it finishes, never evicted; the early Job replacement is noted', async () => {
    // Act
    const r = await rehearse(example('do-not-disrupt'));

    // Assert
    expect(r.failures).toEqual([]);
    const report = r.pods.find((p) => p.pod.startsWith('batch/nightly-report-'))!;
    expect(report).toMatchObject({ waitedSince: 0, finishedAt: 3 * 3_600_000 });
    expect(report.evictedAt).toBeUndefined();
    expect(r.summary.pods).toMatchObject({ waitedFor: 1, finished: 1, stillThere: 0 });
    const texts = r.timeline.map((e) => e.text);
    expect(texts).toContainEqual(expect.stringMatching(/^waiting for batch\/nightly-report-\w+ \(karpenter.sh\/do-not-disrupt\): evicted at \+46h54m at the latest$/));
    expect(texts).toContainEqual(expect.stringMatching(/^evicted batch\/cache-warmer-\w+: podReplacementPolicy TerminatingOrFailed: the Job starts a replacement/));
    expect(texts).toContainEqual(expect.stringMatching(/^pod batch\/nightly-report-\w+ finished on its own after the drain waited 3h00m for it$/));
  });

  test('pdb-blocks-forever: the PDB holds every pod until the deadline policy force-deletes them', async () => {
    // Act
    const r = await rehearse(example('pdb-blocks-forever'));

    // Assert
    expect(r.failures).toEqual([]);
    const [action] = r.actions;
    expect(action).toMatchObject({ how: 'completed', result: 'CONTINUE', reason: 'deadline-force-deleted', completions: 1 });
    expect(r.facts.metrics.deadlinesReached).toBe(1);
    const ledger = r.pods.filter((p) => p.owner === 'Deployment');
    expect(ledger).toHaveLength(3);
    expect(ledger.every((p) => p.blockedAt.length > 1 && p.forceDeletedAt !== undefined && p.evictedAt === undefined)).toBe(true);
    expect(r.timeline.map((e) => e.kind)).toEqual(expect.arrayContaining(['pdb-blocked', 'deadline', 'force-deleted', 'completed']));
    expect(action.endedAt!).toBeLessThanOrEqual(60 * 60_000);
  });

  test('spot-interruption: the PDB-held payments pods are deleted at the Spot deadline, the log shipper goes last, all before the interruption', async () => {
    // Act
    const r = await rehearse(example('spot-interruption'));

    // Assert: the run fails by itself if a pod but a DaemonSet's is still on the node at the interruption
    expect(r.failures).toEqual([]);
    expect(r.facts.metrics.deadlinesReached).toBe(1);
    const payments = r.pods.filter((p) => p.pod.startsWith('shop/payments-'));
    expect(payments).toHaveLength(2);
    expect(payments.every((p) => p.forceDeletedAt !== undefined && p.evictedAt === undefined && p.forceGraceSeconds! <= 20)).toBe(true);
    // Notice at +1 min, the deadline a minute later, the interruption at +3 min.
    expect(payments.every((p) => p.forceDeletedAt! >= 2 * 60_000 && p.goneAt! < 3 * 60_000)).toBe(true);
    const shipper = r.pods.find((p) => p.pod.startsWith('logging/fluent-bit-') && p.node === 'ip-10-0-2-10.ec2.internal')!;
    const others = r.pods.filter((p) => p.node === shipper.node && p.owner !== 'DaemonSet');
    expect(Math.min(shipper.evictedAt ?? Infinity, shipper.forceDeletedAt ?? Infinity)).toBeGreaterThanOrEqual(Math.max(...others.map((p) => p.goneAt!)));
    expect(shipper.goneAt!).toBeLessThan(3 * 60_000);
  });

  test('stateful: the database goes first, the log shipper last, and Complete waits for the volume to detach', async () => {
    // Act
    const r = await rehearse(example('stateful'));

    // Assert
    expect(r.failures).toEqual([]);
    const [action] = r.actions;
    expect(action).toMatchObject({ how: 'completed', result: 'CONTINUE', reason: 'drained' });
    const db = r.pods.find((p) => p.pod.startsWith('db/postgres-replica-'))!;
    const shipper = r.pods.find((p) => p.pod.startsWith('logging/fluent-bit-') && p.node === 'ip-10-0-4-40.ec2.internal')!;
    expect(shipper.evictedAt).toBeGreaterThanOrEqual(db.goneAt!);
    const volumes = r.timeline.filter((e) => e.kind === 'volumes');
    expect(volumes.map((e) => e.text)).toEqual([
      expect.stringMatching(/waiting for 1 VolumeAttachment to detach/),
      expect.stringMatching(/^volumes detached after /),
    ]);
    expect(action.endedAt!).toBeGreaterThanOrEqual(volumes[1].at);
    expect(r.summary.volumeWaits.nodes).toBe(1);
  });

  test('short-hook: completes within its 10-minute budget, force-deleting with a clamped grace period', async () => {
    // Act
    const r = await rehearse(example('short-hook'));

    // Assert
    expect(r.failures).toEqual([]);
    const [action] = r.actions;
    expect(action).toMatchObject({ how: 'completed', result: 'CONTINUE', reason: 'deadline-force-deleted' });
    expect(action.endedAt! - action.startedAt).toBeLessThanOrEqual(600_000);
    // Its 1 h grace would outlive the 10-minute budget: the eviction at the start carries a
    // grace clamped to the time left, so it ends before the hard limit with no second DELETE
    // (which the API server would count from the first deletion).
    const transcoder = r.pods.find((p) => p.pod.startsWith('media/transcoder-'))!;
    expect(transcoder.evictedAt).toBeDefined();
    expect(transcoder.forceDeletedAt).toBeUndefined();
    expect(transcoder.graceEndsAt! - transcoder.evictedAt!).toBeGreaterThan(5 * 60_000);
    expect(transcoder.graceEndsAt!).toBeLessThanOrEqual(600_000);
    expect(transcoder.goneAt === undefined || transcoder.goneAt >= transcoder.graceEndsAt! - 1_000).toBe(true);
  });

  test('twenty-nodes: twenty executions side by side complete twenty actions, none twice', async () => {
    // Act
    const r = await rehearse(example('twenty-nodes'));

    // Assert
    expect(r.failures).toEqual([]);
    expect(r.actions).toHaveLength(20);
    expect(new Set(r.actions.map((a) => a.instanceId)).size).toBe(20);
    expect(r.actions.every((a) => a.how === 'completed' && a.result === 'CONTINUE' && a.completions === 1)).toBe(true);
    expect(r.facts.executions.filter((e) => e.status === 'SUCCEEDED')).toHaveLength(20);
    expect(r.facts.autoScalingCalls.CompleteLifecycleAction).toBe(20);
    expect(overlapping(r)).toBe(true);
    // The drains take turns on the shared PDB: refusals stay rare (340 of 400 before turns).
    expect(r.summary.pdbBlocks).toBeLessThan(0.1 * r.facts.metrics.evicted);
  });
});

/** Executions ran side by side: some drain was still going when another started. */
function overlapping(r: RehearsalResult): boolean {
  const spans = r.actions.map((a) => [a.startedAt, a.endedAt!] as const);
  return spans.some(([s1, e1], i) => spans.some(([s2], j) => i !== j && s2 >= s1 && s2 < e1));
}
