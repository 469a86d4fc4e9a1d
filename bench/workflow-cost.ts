/**
 * bench/workflow-cost: what a drain costs in Step Functions and Lambda.
 * Runs the synthesized state machine with the real handlers on virtual time
 * (sim/workflow/local-workflow.ts) for a 5-minute and a 48-hour drain, and
 * prints state transitions, history events per execution, Lambda
 * invocations and GB-seconds, Kubernetes API requests, and the cost at list
 * prices (us-east-1): $0.025 per 1,000 transitions; Lambda $0.20 per 1M
 * requests + $0.0000133334 per GB-s on arm64 (256 MB functions).
 *
 * Goals (issue 3): 48 h drain ≤ 2,000 transitions (≤ $0.05) and no execution
 * above 20,000 events; 5-minute drain ≤ 60 transitions.
 */
import './promise-polyfill';
import { createWorld } from '../sim/workflow/scenario';

const PRICE_PER_TRANSITION = 0.025 / 1000;
const PRICE_PER_REQUEST = 0.2 / 1_000_000;
const PRICE_PER_GB_SECOND_ARM = 0.0000133334;
const MEMORY_GB = 0.25;

interface Case {
  name: string;
  /** Seconds the slow pod takes to stop after SIGTERM. */
  shutdownSeconds: number;
  /** A PDB that never allows eviction holds pods until the deadline policy acts. */
  blockedForever?: boolean;
  goal: { transitions: number; eventsPerExecution: number };
}

const CASES: Case[] = [
  { name: '5-minute drain', shutdownSeconds: 300, goal: { transitions: 60, eventsPerExecution: 20_000 } },
  { name: '48-hour drain', shutdownSeconds: 47 * 3600, goal: { transitions: 2_000, eventsPerExecution: 20_000 } },
  { name: '48-hour drain blocked by a PDB until the deadline', shutdownSeconds: 60, blockedForever: true, goal: { transitions: 2_000, eventsPerExecution: 20_000 } },
];

async function run(c: Case) {
  const world = await createWorld();
  const node = 'ip-10-0-0-1.ec2.internal';
  world.addNode(node, 'i-0aaaaaaaaaaaaaaa1');
  world.addNode('ip-10-0-0-2.ec2.internal', 'i-0aaaaaaaaaaaaaaa2');
  world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 6, nodeName: node, labels: { app: 'web' } });
  world.kube.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
  world.kube.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: [node, 'ip-10-0-0-2.ec2.internal'], tolerations: [{ operator: 'Exists' }] });
  if (c.blockedForever) {
    world.kube.addDeployment({ namespace: 'db', name: 'pg', replicas: 2, nodeName: node, labels: { app: 'pg' } });
    world.kube.addPdb({ namespace: 'db', name: 'pg', selector: { matchLabels: { app: 'pg' } }, minAvailable: 2 });
  }
  world.kube.addJobPod({ namespace: 'batch', name: 'slow', nodeName: node, terminationGracePeriodSeconds: c.shutdownSeconds + 600, shutdownSeconds: c.shutdownSeconds });
  const wall = Date.now();
  const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
  await world.workflow.idle();
  const executions = [...world.workflow.executions.values()];
  const transitions = executions.reduce((n, e) => n + e.transitions, 0);
  const invocations = executions.reduce((n, e) => n + e.lambdaInvocations, 0) + 1; // + start-drain
  const lambdaSeconds = executions.reduce((n, e) => n + e.lambdaSeconds, 0);
  const sfnCost = transitions * PRICE_PER_TRANSITION;
  const lambdaCost = invocations * PRICE_PER_REQUEST + lambdaSeconds * MEMORY_GB * PRICE_PER_GB_SECOND_ARM;
  const result = {
    case: c.name,
    drainMinutes: ((action.end?.at ?? NaN) - action.startedAt) / 60_000,
    completed: action.end?.how === 'completed' ? action.end.result : `not completed (${action.end?.how ?? 'still active'})`,
    executions: executions.length,
    transitions,
    maxEventsPerExecution: Math.max(...executions.map((e) => e.historyEvents)),
    heartbeats: action.heartbeats.length,
    lambdaInvocations: invocations,
    lambdaGbSeconds: lambdaSeconds * MEMORY_GB,
    kubernetesRequests: world.kube.requests.length,
    kubernetesByVerb: world.kube.countByVerb(),
    sfnCost,
    lambdaCost,
    realSeconds: (Date.now() - wall) / 1000,
  };
  await world.close();
  return result;
}

async function main() {
  const rows = [];
  for (const c of CASES) rows.push({ c, r: await run(c) });
  const usd = (n: number) => `$${n.toFixed(n < 0.01 ? 5 : 4)}`;
  console.log('\nbench/workflow-cost — list prices, us-east-1, arm64 256 MB\n');
  for (const { c, r } of rows) {
    console.log(`${r.case}: completed ${r.completed} after ${r.drainMinutes.toFixed(1)} min (simulated in ${r.realSeconds.toFixed(1)} s)`);
    console.log(`  state transitions        ${r.transitions}   (goal ≤ ${c.goal.transitions}: ${r.transitions <= c.goal.transitions ? 'PASS' : 'FAIL'})`);
    console.log(`  executions               ${r.executions}, most history events in one: ${r.maxEventsPerExecution}   (goal ≤ ${c.goal.eventsPerExecution}: ${r.maxEventsPerExecution <= c.goal.eventsPerExecution ? 'PASS' : 'FAIL'})`);
    console.log(`  heartbeats               ${r.heartbeats}`);
    console.log(`  Lambda invocations       ${r.lambdaInvocations}, ${r.lambdaGbSeconds.toFixed(1)} GB-s`);
    console.log(`  Kubernetes API requests  ${r.kubernetesRequests}  ${JSON.stringify(r.kubernetesByVerb)}`);
    console.log(`  cost                     Step Functions ${usd(r.sfnCost)} + Lambda ${usd(r.lambdaCost)} = ${usd(r.sfnCost + r.lambdaCost)}${c.goal.transitions === 2_000 ? `   (goal Step Functions ≤ $0.05: ${r.sfnCost <= 0.05 ? 'PASS' : 'FAIL'})` : ''}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
