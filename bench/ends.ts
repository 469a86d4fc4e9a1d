/**
 * bench:ends — how fast the drain reacts at both ends (issue 13.4), on the
 * real workflow (sim/workflow) and virtual time:
 *
 * 1. Completion: the lifecycle action is completed within 2 s of the last
 *    evictable pod leaving the node, whenever a round is watching. The node of
 *    bench:drain: 110 pods (10 × 10 ReplicaSet pods behind PDBs
 *    maxUnavailable 1, 5 DaemonSet pods, 1 mirror pod, 4 Job pods that use a
 *    120 s grace period), plus a case where the last pod exits early, in the
 *    middle of its grace period.
 * 2. Evictions after a budget frees: every eviction the round sends for a pod
 *    a PDB held back goes out within 1 s of the PDB's status showing a
 *    disruption allowed again (the disruption controller's update).
 *
 * Timings come from the fake cluster's change feed (what watches see) and
 * its request log, on the same virtual clock as the Lambdas.
 */
import './promise-polyfill';
import { createWorld, type World } from '../sim/workflow/scenario';
import type { KubeObject } from '../sim/kube/objects';
import { seconds, table, verdict } from './bench-kit';

const NODE = 'ip-10-0-1-10.ec2.internal';
const SPARE = 'ip-10-0-2-20.ec2.internal';
const INSTANCE = 'i-0aaaaaaaaaaaaaaa1';
/** Per API request. */
const LATENCY_MS = 5;
/** From a container's stop to the pod object's deletion by the kubelet (PLEG relist, status sync): pessimistic. */
const KUBELET_REPORT_MS = 3_000;

interface Case {
  name: string;
  /** Seconds the Job pods take to stop after SIGTERM (their grace is 120 s). */
  jobShutdownSeconds: number;
}

const CASES: Case[] = [
  { name: '110 pods; Job pods use their whole 120 s grace', jobShutdownSeconds: 120 },
  { name: '110 pods; Job pods exit 47 s into their grace', jobShutdownSeconds: 47 },
];

const isEvictable = (p: KubeObject) =>
  !p.metadata.annotations?.['kubernetes.io/config.mirror'] && !(p.metadata.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet');

async function run(c: Case) {
  const world: World = await createWorld({ kube: { latencyMs: LATENCY_MS, cluster: { kubeletReportMs: KUBELET_REPORT_MS } } });
  world.addNode(NODE, INSTANCE);
  world.addNode(SPARE, 'i-0bbbbbbbbbbbbbbb2');
  for (let d = 1; d <= 10; d++) {
    world.kube.addDeployment({ namespace: `team-${d}`, name: `svc-${d}`, replicas: 10, nodeName: NODE, shutdownSeconds: 1, readyAfterSeconds: 2 });
    world.kube.addPdb({ namespace: `team-${d}`, name: `svc-${d}`, selector: { matchLabels: { app: `svc-${d}` } }, maxUnavailable: 1 });
  }
  for (let d = 1; d <= 5; d++) world.kube.addDaemonSet({ namespace: 'kube-system', name: `agent-${d}`, nodes: [NODE, SPARE], tolerations: [{ operator: 'Exists' }] });
  world.kube.addMirrorPod({ nodeName: NODE, name: `kube-proxy-${NODE}` });
  for (let j = 1; j <= 4; j++) {
    world.kube.addJobPod({ namespace: 'batch', name: `report-${j}`, nodeName: NODE, terminationGracePeriodSeconds: 120, shutdownSeconds: c.jobShutdownSeconds });
  }

  // What the watches see: when each evictable pod left the node, and when each PDB's budget freed up.
  const onNode = new Map<string, KubeObject>();
  for (const p of world.kube.pods({ nodeName: NODE })) if (isEvictable(p)) onNode.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
  let lastGoneAt = 0;
  const freedAt = new Map<string, number[]>();
  const unsubscribe = world.kube.onChange((e) => {
    const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
    if (e.resource === 'pods' && e.type === 'DELETED' && onNode.delete(key) && onNode.size === 0) lastGoneAt = world.clock.now();
    if (e.resource === 'poddisruptionbudgets') {
      const before = e.previous?.status?.disruptionsAllowed ?? 0;
      if (before <= 0 && e.object.status?.disruptionsAllowed > 0) freedAt.set(key, [...(freedAt.get(key) ?? []), world.clock.now()]);
    }
  });
  const startedAt = world.clock.now();
  const { action } = await world.terminate(INSTANCE);
  await world.workflow.idle();
  unsubscribe();

  // Each accepted eviction of a pod whose PDB had held it back: the delay since that PDB freed up.
  const lags: number[] = [];
  const firstAt = world.kube.requests.find((r) => r.path.endsWith('/eviction'))?.at ?? startedAt;
  for (const r of world.kube.requests) {
    if (!r.path.endsWith('/eviction') || r.status !== 201 || r.at === firstAt) continue;
    const ns = r.path.split('/')[4];
    if (!ns.startsWith('team-')) continue;
    const pdb = `${ns}/svc-${ns.slice('team-'.length)}`;
    // The latest time the PDB freed up before this eviction.
    const freed = (freedAt.get(pdb) ?? []).filter((t) => t <= r.at).pop();
    if (freed !== undefined) lags.push(r.at - freed);
  }
  lags.sort((a, b) => a - b);
  const completedAt = action.end?.at;
  const result = {
    case: c.name,
    completed: action.end?.how === 'completed' ? action.end.result : 'not completed',
    drainSeconds: ((completedAt ?? NaN) - startedAt) / 1000,
    lastGoneAt: lastGoneAt - startedAt,
    completionLag: completedAt === undefined ? Infinity : completedAt - lastGoneAt,
    evictionLags: lags,
    executions: [...world.workflow.executions.values()].map((e) => e.states),
  };
  await world.close();
  return result;
}

async function main() {
  console.log('bench:ends — reaction at both ends of a drain, real workflow on virtual time\n');
  const rows: Array<Array<string | number>> = [['case', 'completed', 'last pod gone at', 'action completed after it', 'evictions after a budget freed', 'their delay: median / max']];
  const goals: Array<Array<string>> = [['goal', 'measured', 'verdict']];
  for (const c of CASES) {
    const r = await run(c);
    const median = r.evictionLags[Math.floor(r.evictionLags.length / 2)] ?? 0;
    const max = r.evictionLags[r.evictionLags.length - 1] ?? 0;
    rows.push([r.case, `${r.completed} after ${r.drainSeconds.toFixed(1)} s`, seconds(r.lastGoneAt), seconds(r.completionLag), r.evictionLags.length, `${seconds(median)} / ${seconds(max)}`]);
    goals.push([`${r.case}: completed ≤ 2 s after the last pod left`, seconds(r.completionLag), verdict(r.completionLag <= 2000)]);
    goals.push([`${r.case}: evictions ≤ 1 s after a budget freed`, `max ${seconds(max)}`, verdict(max <= 1000)]);
    if (process.argv.includes('--states')) console.log(JSON.stringify(r.executions));
  }
  console.log(table(rows, ['l', 'l', 'r', 'r', 'r', 'r']));
  console.log('');
  console.log(table(goals, ['l', 'l', 'l']));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('bench:ends failed to run:', err);
    process.exit(1);
  },
);
