/**
 * bench:surge — hundreds of nodes terminated at once (scale-in, AZ
 * rebalancing, an instance refresh), drained by the real workflow.
 *
 * The world (virtual time, sim/workflow): NODES instances in GROUPS Auto
 * Scaling groups all terminate within one minute. Each node runs PODS_PER_NODE
 * pods: one replica of each of DEPLOYMENTS Deployments spread over all the
 * draining nodes (4 namespaces), each Deployment behind a PDB maxUnavailable
 * 10%, so every drain shares every budget with every other. Replacements
 * start on as many new nodes (launched first, as an instance refresh does) and
 * are Ready 5 s later; an evicted pod stops in 3 s. (With few spare nodes the
 * scheduler puts replacements on nodes not yet cordoned, which then have more
 * pods to evict: 100 nodes with 10 spares drained 3,677 pods for 2,000.)
 *
 * The services' limits are enforced (sim/workflow/local-workflow.ts
 * ServiceLimits, sim/kube/flow-control.ts): Lambda concurrency (account pool
 * 1,000), StartExecution's token bucket (800 tokens, 150/s: Standard workflows
 * outside us-east-1, us-west-2 and eu-west-1, the stricter figure), and the API
 * server's priority and fairness (49 seats, 300 queued, then 429 with
 * Retry-After: 1; 5 ms per request).
 *
 * Prints the figures and PASS/FAIL per goal:
 * - every lifecycle action completed with CONTINUE after its node drained, none released by an error;
 * - Kubernetes requests per node ≤ 50;
 * - no cluster-wide PDB LIST or WATCH (PDBs listed and watched per namespace);
 * - node lookups: a GET by name before any paged LIST (printed; the lookup is prepare's);
 * - evictions refused by a PDB < 10 %;
 * and, as figures: throttles absorbed, peak Lambda concurrency, peak open
 * watches and what they select, makespan against the PDB-paced ideal.
 *
 *   npm run bench:surge                  500 nodes (long: 20.5 min of real time on an otherwise idle 2-core machine)
 *   npm run bench:surge -- --nodes 100   a smaller surge (about 1.5 min)
 *   npm run bench:turns                  20 drains started together behind shared PDBs
 *                                        (--nodes 20 --window 0): also the goal "last node
 *                                        drained within 1.2× of the PDB-paced ideal"
 */
import './promise-polyfill';
import { FakeAutoScaling } from '../sim/aws/auto-scaling';
import { FakeKubeServer, type RequestRecord } from '../sim/kube/server';
import { VirtualClock } from '../sim/virtual-clock';
import { LocalWorkflow } from '../sim/workflow/local-workflow';
import { percent, seconds, table, verdict } from './bench-kit';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};

const NODES = arg('nodes', 500);
const GROUPS = 5;
const HOOK = 'eks-graceful-drain';
const NAMESPACES = 4;
const DEPLOYMENTS = 20;
const PODS_PER_NODE = DEPLOYMENTS;
/** New instances launched first, as an instance refresh does: the replacements land there, not on nodes about to go. */
const SPARES = NODES;
const READY_AFTER_SECONDS = 5;
const SHUTDOWN_SECONDS = 3;
const MAX_UNAVAILABLE = '10%';
/** Terminations spread over this window; 0: all at once (then the makespan is compared with the PDB-paced ideal). */
const SURGE_WINDOW_MS = arg('window', 60) * 1000;
const LATENCY_MS = Number(process.env.SURGE_LATENCY_MS ?? 5);

const groupOf = (i: number) => `ng-${String.fromCharCode(97 + (i % GROUPS))}`;
const nodeName = (i: number) => `ip-10-1-${Math.floor(i / 250)}-${(i % 250) + 1}.ec2.internal`;
const instanceId = (i: number) => `i-0${(0xa000000 + i).toString(16).padStart(16, '0')}`;

async function main(): Promise<void> {
  const wall = Date.now();
  const clock = new VirtualClock(Date.parse('2026-01-01T00:00:00Z'), { autoAdvance: true });
  const kube = await FakeKubeServer.start({ clock, latencyMs: LATENCY_MS, flowControl: {} });
  const asg = new FakeAutoScaling(clock);
  const groups = Array.from({ length: GROUPS }, (_, g) => groupOf(g));
  for (const group of groups) asg.addHook({ autoScalingGroupName: group, lifecycleHookName: HOOK, heartbeatTimeoutSeconds: 1800 });
  asg.install();
  const workflow = new LocalWorkflow({
    clock,
    kube,
    props: { clusterName: 'surge', autoScalingGroupNames: groups, heartbeatTimeoutSeconds: 1800 },
    limits: { accountConcurrency: 1000, startExecution: { bucket: 800, refillPerSecond: 150 } },
  });

  // ---- the cluster
  const draining = Array.from({ length: NODES }, (_, i) => nodeName(i));
  for (let i = 0; i < NODES; i++) {
    kube.addNode({ name: draining[i], instanceId: instanceId(i), az: `us-east-1${'abc'[i % 3]}` });
    asg.addInstance(instanceId(i), draining[i]);
  }
  for (let s = 0; s < SPARES; s++) kube.addNode({ name: `ip-10-2-0-${s + 1}.ec2.internal`, instanceId: instanceId(100_000 + s) });
  for (let d = 0; d < DEPLOYMENTS; d++) {
    const namespace = `team-${d % NAMESPACES}`;
    const name = `svc-${d}`;
    kube.addDeployment({
      namespace, name, replicas: NODES, nodes: draining, labels: { app: name },
      terminationGracePeriodSeconds: 30, shutdownSeconds: SHUTDOWN_SECONDS, readyAfterSeconds: READY_AFTER_SECONDS,
    });
    kube.addPdb({ namespace, name, selector: { matchLabels: { app: name } }, maxUnavailable: MAX_UNAVAILABLE });
  }
  const requestsBefore = kube.requests.length;
  const t0 = clock.now();
  console.log(`bench:surge — ${NODES} nodes in ${GROUPS} groups terminate within ${SURGE_WINDOW_MS / 1000} s; ${PODS_PER_NODE} pods each (${DEPLOYMENTS} Deployments × ${NODES} replicas in ${NAMESPACES} namespaces, PDBs maxUnavailable ${MAX_UNAVAILABLE}); ${SPARES} spare nodes; virtual time\n`);

  // ---- the surge: one termination every SURGE_WINDOW_MS / NODES
  const deliveries: Array<Promise<unknown>> = [];
  const failedDeliveries: string[] = [];
  for (let i = 0; i < NODES; i++) {
    if (i > 0 && SURGE_WINDOW_MS > 0) await clock.sleep(SURGE_WINDOW_MS / NODES);
    const { event } = asg.terminate(groupOf(i), HOOK, instanceId(i));
    deliveries.push(workflow.deliver(event).catch((err) => failedDeliveries.push(`${instanceId(i)}: ${(err as Error).message}`)));
  }
  await Promise.all(deliveries);
  await workflow.idle();
  const makespan = Math.max(...asg.actions.map((a) => (a.end?.at ?? Infinity) - t0));

  // ---- outcomes
  const executions = [...workflow.executions.values()];
  const releasedByError = executions.filter((e) => (e.states.ReleaseAfterError ?? 0) > 0);
  const failed = executions.filter((e) => e.status !== 'SUCCEEDED');
  const drainedReason = executions.filter((e) => (e.output as { result?: { reason?: string } } | undefined)?.result?.reason === 'drained');
  const completedContinue = asg.actions.filter((a) => a.end?.how === 'completed' && a.end.result === 'CONTINUE');
  const leftOnNodes = draining.reduce((n, node) => n + kube.pods({ nodeName: node }).length, 0);

  // ---- Kubernetes requests
  const requests = kube.requests.slice(requestsBefore);
  const kinds = new Map<string, number>();
  for (const r of requests) kinds.set(kindOf(r), (kinds.get(kindOf(r)) ?? 0) + 1);
  const evictions = requests.filter((r) => r.verb === 'create' && r.path.endsWith('/eviction'));
  const pdbRefused = evictions.filter((r) => r.status === 429 && !isFlowControlRejection(r)).length;
  const apf429 = requests.filter(isFlowControlRejection).length;
  const clusterWidePdb = requests.filter((r) => r.path === '/apis/policy/v1/poddisruptionbudgets').length;
  const nodeGets = requests.filter((r) => r.verb === 'get' && /^\/api\/v1\/nodes\/[^/]+$/.test(r.path)).length;
  const lookupLists = requests.filter((r) => r.verb === 'list' && r.path === '/api/v1/nodes' && !r.query.fieldSelector).length;
  const perNode = requests.length / NODES;
  const watchesAtPeak = new Map<string, number>();
  for (const r of kube.peakWatches.records) watchesAtPeak.set(watchSelects(r), (watchesAtPeak.get(watchSelects(r)) ?? 0) + 1);

  // ---- PDB-paced ideal: each budget lets 10 % of a Deployment go at a time; a
  // unit comes back when the replacement is Ready. All drains started within the window.
  const perCycle = Math.ceil(NODES * 0.1);
  const cycles = Math.ceil(NODES / perCycle);
  // The first turn goes at once; each later one waits for the previous turn's replacements to be Ready.
  const idealMs = (cycles - 1) * (READY_AFTER_SECONDS * 1000) + SHUTDOWN_SECONDS * 1000;
  const stats = workflow.limitStats;

  console.log(table([
    ['figure', 'value'],
    ['lifecycle actions completed with CONTINUE', `${completedContinue.length} of ${NODES}`],
    ['executions drained (reason "drained")', `${drainedReason.length} of ${executions.length}`],
    ['released by an error (ReleaseAfterError)', releasedByError.length],
    ['executions not SUCCEEDED', failed.length],
    ['events start-drain could not take', failedDeliveries.length],
    ['pods left on the terminated nodes', leftOnNodes],
    ['makespan (first termination → last completion)', seconds(makespan)],
    ['PDB-paced ideal (all pods through the budgets)', `${seconds(idealMs)} (${cycles} turns per budget, ${READY_AFTER_SECONDS} s apart, + ${SHUTDOWN_SECONDS} s for the last pods to stop)${SURGE_WINDOW_MS > 0 ? `, after the ${SURGE_WINDOW_MS / 1000} s window` : ''}`],
    ['StartExecution throttles absorbed', `${stats.startExecutionThrottles} (calls failed after SDK retries, retried by Lambda: ${stats.startExecutionFailures})`],
    ['Lambda throttles absorbed', `${stats.lambdaThrottles} ${JSON.stringify(stats.lambdaThrottlesByFunction)}`],
    ['peak Lambda concurrency', `${stats.peakConcurrency} of 1,000 ${JSON.stringify(stats.peakConcurrencyByFunction)}`],
    ['Kubernetes requests', requests.length],
    ['  per node', perNode.toFixed(1)],
    ['  APF rejections (429 Retry-After, retried)', `${apf429}; peak in flight ${kube.flowControl?.peakInFlight} of ${kube.flowControl?.seats} seats, peak queued ${kube.flowControl?.peakQueued}`],
    ['evictions sent / refused by a PDB (429)', `${evictions.length} / ${pdbRefused} (${percent(pdbRefused, evictions.length)})`],
    ['cluster-wide PDB LIST or WATCH', clusterWidePdb],
    ['node lookups: GET by name / paged LIST', `${nodeGets} / ${lookupLists} (Prepare's lookup, then Cordon and each DrainStep verify their node)`],
    ['peak open watches', `${kube.peakWatches.count} at ${seconds(kube.peakWatches.at - t0)}`],
    ['simulated in', seconds(Date.now() - wall)],
  ], ['l', 'l']));
  console.log('\nrequests by kind');
  console.log(table([['kind', 'count', 'per node'], ...[...kinds.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, n, (n / NODES).toFixed(2)])]));
  console.log('\nopen watches at the peak, by what they select');
  console.log(table([['selects', 'watches'], ...[...watchesAtPeak.entries()].sort((a, b) => b[1] - a[1])]));
  if (process.argv.includes('--log')) {
    const byPath = new Map<string, RequestRecord[]>();
    for (const r of requests) if (r.verb === 'patch' || r.verb === 'create') byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
    const repeated = [...byPath.entries()].filter(([, rs]) => rs.length > 1).sort((a, b) => b[1].length - a[1].length).slice(0, 8);
    for (const [path, rs] of repeated) console.log(`${path}: ${rs.map((r) => `${seconds(r.at - t0)} ${r.status}`).join(', ')}`);
  }
  if (failedDeliveries.length > 0) console.log(`\nfailed deliveries (first 5):\n${failedDeliveries.slice(0, 5).join('\n')}`);
  for (const e of [...releasedByError, ...failed].slice(0, 5)) console.log(`\n${e.name}: ${e.status} ${JSON.stringify(e.error ?? {}).slice(0, 400)}`);

  const allDrained = completedContinue.length === NODES && drainedReason.length === NODES && releasedByError.length === 0 && failed.length === 0 && leftOnNodes === 0;
  console.log('');
  console.log(table([
    ['goal', 'measured', 'verdict'],
    ['every action completed with CONTINUE after its node drained, none by an error', `${drainedReason.length}/${NODES} drained, ${releasedByError.length} by error`, verdict(allDrained)],
    ['Kubernetes requests per node ≤ 50', perNode.toFixed(1), verdict(perNode <= 50)],
    ['no cluster-wide PDB LIST or WATCH', String(clusterWidePdb), verdict(clusterWidePdb === 0)],
    ['< 10 % of evictions refused by a PDB', percent(pdbRefused, evictions.length), verdict(pdbRefused < 0.1 * evictions.length)],
    ['node lookup: a GET by name before any paged LIST', `${lookupLists} paged LISTs`, verdict(lookupLists === 0)],
    ...(SURGE_WINDOW_MS === 0
      ? [['last node drained within 1.2× of the PDB-paced ideal', `${seconds(makespan)} / ${seconds(idealMs)} = ${(makespan / idealMs).toFixed(2)}`, verdict(makespan <= 1.2 * idealMs)]]
      : []),
  ], ['l', 'l', 'l']));

  workflow.restore();
  asg.uninstall();
  await kube.stop();
}

/** An APF rejection (429 before any handler ran), not a PDB refusal. */
const isFlowControlRejection = (r: RequestRecord): boolean => r.rejectedByFlowControl === true;

function kindOf(r: RequestRecord): string {
  const status = isFlowControlRejection(r) ? ' → 429 (APF)' : r.verb === 'create' && r.status === 429 ? ' → 429 (PDB)' : '';
  if (r.path.endsWith('/eviction')) return `create eviction${status}`;
  if (r.verb === 'list' || r.verb === 'watch') return `${r.verb} ${watchSelects(r)}${status}`;
  if (/^\/api\/v1\/nodes\//.test(r.path)) return `${r.verb} node${status}`;
  if (/\/pods\/[^/]+$/.test(r.path)) return `${r.verb} pod${status}`;
  return `${r.verb} ${r.path}${status}`;
}

/** What a LIST or WATCH selects, with names replaced by placeholders. */
function watchSelects(r: RequestRecord): string {
  const path = r.path
    .replace(/\/namespaces\/[^/]+\//, '/namespaces/<ns>/')
    .replace(/^\/apis\/policy\/v1\/namespaces\/<ns>\/poddisruptionbudgets$/, 'PDBs in one namespace')
    .replace(/^\/apis\/policy\/v1\/poddisruptionbudgets$/, 'PDBs, cluster-wide')
    .replace(/^\/api\/v1\/pods$/, 'pods')
    .replace(/^\/api\/v1\/nodes$/, 'nodes');
  const fields = r.query.fieldSelector?.replace(/spec\.nodeName=[^,]+/, 'spec.nodeName=<node>');
  return fields ? `${path} (${fields})` : path;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('bench:surge failed to run:', err);
    process.exit(1);
  },
);
