/**
 * bench:drain — our drain engine against `kubectl drain`, on identical fresh
 * fake clusters, in real time (kubectl cannot be sped up).
 *
 * The node: 110 pods — 100 ReplicaSet pods in 10 Deployments, each with a PDB
 * maxUnavailable 1 (pods stop in ~1 s, replacements are ready on the other
 * node ~2 s later), 5 DaemonSet pods, 1 mirror pod and 4 Job pods that use
 * their full 120 s grace period. Every API request costs LATENCY_MS.
 *
 * Ours runs like the workflow does, with the real handlers: Cordon, then one
 * DrainStep per "Lambda invocation" (drainRound watching up to WATCH_SECONDS
 * = 60 s within the Lambda's 3-minute timeout, then decideAfterRound, the
 * real pacing), and between rounds a sleep until the waitUntil it returns.
 * kubectl: `kubectl drain --ignore-daemonsets --delete-emptydir-data`.
 *
 * Prints per side: requests by verb, eviction 429s, time until drained, lag
 * after the last evictable pod left the node (as the fake sees it, polled
 * every 100 ms); then the ratios and the goals. Exits 0 whatever the figures
 * (1 only when the bench itself could not run).
 *
 * kubectl's request count swings by ±7% from run to run with the timing of its
 * 5 s retries (1,030–1,180 seen), so kubectl runs --kubectl-runs times (3) on
 * fresh clusters and the run with the median request count is the one compared.
 *
 *   npm run bench:drain                 both sides (~2 min + 3 × 2.5 min)
 *   npm run bench:drain -- --only ours  one side (or --only kubectl)
 *   npm run bench:drain -- --kubectl-runs 1
 *   npm run bench:drain -- --log        also list every request but evictions and pod GETs
 */
import { DRAIN_STEP_TIMEOUT } from '../lib/drain-functions';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { KubeClient } from '../lambda/adapters/kube-client';
import { systemClock } from '../lambda/core/clock';
import type { DrainState } from '../lambda/core/drain-state';
import { makeCordon } from '../lambda/handlers/cordon';
import { configFromEnv, type Deps } from '../lambda/handlers/deps';
import { makeDrainStep } from '../lambda/handlers/drain-step';
import { drainState } from '../test/core/drain-state-factory';
import { captureObservability } from '../sim/observability';
import { FakeKubeServer, type RequestRecord } from '../sim/kube/server';
import type { KubeObject } from '../sim/kube/objects';
import { RealSimClock } from '../sim/virtual-clock';
import { percent, ratio, seconds, table, verdict, watchFor } from './bench-kit';

const LATENCY_MS = 3;
const NODE = 'ip-10-0-1-10.ec2.internal';
const SPARE = 'ip-10-0-2-20.ec2.internal';
const DEPLOYMENTS = 10;
const REPLICAS = 10;
const DAEMONSETS = 5;
const LONG_PODS = 4;
const LONG_GRACE_SECONDS = 120;
const KUBECTL_TIMEOUT_SECONDS = 600;

// ---- the cluster

async function buildCluster(): Promise<FakeKubeServer> {
  const server = await FakeKubeServer.start({ clock: new RealSimClock(), latencyMs: LATENCY_MS });
  server.addNode({ name: NODE, instanceId: 'i-0123456789abcdef0', az: 'us-east-1a' });
  server.addNode({ name: SPARE, instanceId: 'i-0bbb', az: 'us-east-1b' });
  for (let d = 1; d <= DEPLOYMENTS; d++) {
    const namespace = `team-${d}`;
    const name = `svc-${d}`;
    server.addDeployment({
      namespace, name, replicas: REPLICAS, nodeName: NODE,
      terminationGracePeriodSeconds: 30, shutdownSeconds: 1, readyAfterSeconds: 2,
    });
    server.addPdb({ namespace, name, selector: { matchLabels: { app: name } }, maxUnavailable: 1 });
  }
  for (let d = 1; d <= DAEMONSETS; d++) {
    server.addDaemonSet({ namespace: 'kube-system', name: `agent-${d}`, nodes: [NODE, SPARE], tolerations: [{ operator: 'Exists' }] });
  }
  server.addMirrorPod({ nodeName: NODE, name: `kube-proxy-${NODE}` });
  for (let j = 1; j <= LONG_PODS; j++) {
    server.addJobPod({
      namespace: 'batch', name: `report-${j}`, nodeName: NODE,
      terminationGracePeriodSeconds: LONG_GRACE_SECONDS, shutdownSeconds: LONG_GRACE_SECONDS,
    });
  }
  const onNode = server.pods({ nodeName: NODE }).length;
  if (onNode !== 110) throw new Error(`the node should hold 110 pods, it holds ${onNode}`);
  return server;
}

/** A pod a drain must remove: neither DaemonSet-owned nor a mirror pod. */
const isEvictable = (p: KubeObject) =>
  !p.metadata.annotations?.['kubernetes.io/config.mirror']
  && !(p.metadata.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet');

// ---- one side's figures

interface Side {
  name: string;
  startedAt: number;
  /** When the engine knew the node was drained (undefined: never). */
  drainedAt?: number;
  /** First moment the fake showed no evictable pod on the node. */
  lastPodGoneAt?: number;
  /** First moment the fake showed no ReplicaSet pod on the node (the PDB-paced part). */
  replicaSetsGoneAt?: number;
  requests: RequestRecord[];
  notes: string[];
}

const isReplicaSetPod = (p: KubeObject) => (p.metadata.ownerReferences ?? []).some((o) => o.kind === 'ReplicaSet');

const evictions = (s: Side) => s.requests.filter((r) => r.verb === 'create' && r.path.endsWith('/eviction'));
const evictions429 = (s: Side) => evictions(s).filter((r) => r.status === 429).length;
const drainMs = (s: Side) => (s.drainedAt === undefined ? Infinity : s.drainedAt - s.startedAt);
const lagMs = (s: Side) => (s.drainedAt === undefined || s.lastPodGoneAt === undefined ? Infinity : s.drainedAt - s.lastPodGoneAt);

/** Requests by verb, discovery and pod GETs apart. */
function categories(requests: RequestRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of requests) {
    let key = r.verb;
    if (r.verb === 'get') {
      if (/^\/(version|api|apis|api\/v1|apis\/[^/]+\/v1)$/.test(r.path)) key = 'get (discovery)';
      else if (/\/pods\/[^/]+$/.test(r.path)) key = 'get (pod)';
      else if (/^\/api\/v1\/nodes\//.test(r.path)) key = 'get (node)';
      else key = 'get (other)';
    } else if (r.verb === 'list') key = `list (${r.path.split('/').pop()})`;
    else if (r.verb === 'watch') key = `watch (${r.path.split('/').pop()})`;
    else if (r.verb === 'create' && r.path.endsWith('/eviction')) key = r.status === 429 ? 'create eviction → 429' : `create eviction → ${r.status}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

// ---- ours: the workflow's loop, in process

/** The DrainStep Lambda's timeout (lib/drain-functions.ts) and WATCH_SECONDS. */
const DRAIN_STEP_TIMEOUT_MS = DRAIN_STEP_TIMEOUT.toMilliseconds();
const WATCH_SECONDS = 60;

/** A Lambda context: only the remaining time matters to the handlers. */
const lambdaContext = (timeoutMs: number) => {
  const invokedAt = Date.now();
  return { getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - invokedAt)) } as Context;
};

/**
 * Runs the real Cordon and DrainStep handlers (drainRound + decideAfterRound
 * inside) the way the state machine does: DrainStep, then a Wait until its
 * `waitUntil`, again, until it routes elsewhere. One DrainStep call = one
 * Lambda invocation.
 */
async function runOurs(): Promise<Side> {
  const server = await buildCluster();
  const requestsBefore = server.requests.length;
  const credentials = { endpoint: server.url, caData: Buffer.from(server.caPem).toString('base64'), token: server.token };
  const notUsed = (what: string) => () => {
    throw new Error(`bench: ${what} is not part of the drain loop`);
  };
  const observability = captureObservability();
  const deps: Deps = {
    ...observability,
    clock: systemClock,
    config: { ...configFromEnv({ WATCH_SECONDS: String(WATCH_SECONDS) }), clusterName: 'bench', autoScalingGroupNames: ['demo-asg'], lifecycleHookName: 'drain-hook' },
    kube: (timeLeftMs) => {
      const until = Date.now() + timeLeftMs;
      return new KubeClient(async () => credentials, { clock: systemClock, until: () => until });
    },
    hooks: {
      describeHook: notUsed('describeHook'),
      recordHeartbeat: notUsed('recordHeartbeat'),
      complete: notUsed('complete'),
      // Each step re-checks its instance (identity): Auto Scaling holds it for the hook.
      describeInstance: async (instanceId) => ({ instanceId, autoScalingGroupName: 'demo-asg', lifecycleState: 'Terminating:Wait' }),
      groupInstances: notUsed('groupInstances'),
      recentActivities: notUsed('recentActivities'),
    },
    ec2: { describeInstance: async (instanceId) => ({ instanceId, privateDnsName: NODE }), spotRequestStatus: notUsed('spotRequestStatus') },
    executions: { start: notUsed('executions.start'), running: notUsed('executions.running'), stop: notUsed('executions.stop') },
  };
  const cordon = makeCordon(deps);
  const drainStep = makeDrainStep(deps);
  const gone = watchFor(() => server.pods({ nodeName: NODE }).filter(isEvictable).length === 0);
  const replicaSetsGone = watchFor(() => server.pods({ nodeName: NODE }).filter(isReplicaSetPod).length === 0);
  const side: Side = { name: 'ours', startedAt: Date.now(), requests: [], notes: [] };
  try {
    let state: DrainState = drainState({ startedAt: side.startedAt, nodeName: NODE, next: 'cordon' });
    state = await cordon(state, lambdaContext(30_000));
    side.notes.push(`Cordon done at ${seconds(Date.now() - side.startedAt)}`);
    const rounds: Array<Array<string | number>> = [['round', 'start', 'end', 'evicted', '429', 'evictable', 'terminating', 'drained', 'next', 'wait']];
    for (let invocation = 1; invocation <= 200; invocation++) {
      const started = Date.now();
      const before = state.totals;
      state = await drainStep(state, lambdaContext(DRAIN_STEP_TIMEOUT_MS));
      const now = Date.now();
      const summary = state.summary!;
      const waitMs = state.waitUntil ? Date.parse(state.waitUntil) - now : undefined;
      rounds.push([
        invocation, seconds(started - side.startedAt), seconds(now - side.startedAt),
        state.totals.evicted - before.evicted, state.totals.pdbBlocks - before.pdbBlocks,
        summary.evictable, summary.terminating, String(summary.drained), state.next, waitMs === undefined ? '-' : seconds(waitMs),
      ]);
      if (state.next === 'complete' && summary.drained) {
        side.drainedAt = now;
        break;
      }
      if (state.next !== 'wait' && state.next !== 'heartbeat') {
        side.notes.push(`the workflow would go to '${state.next}' (${state.result?.reason ?? ''}): stopping`);
        break;
      }
      // A 'heartbeat' would record one and then wait the same way.
      await systemClock.sleep(Date.parse(state.waitUntil!) - Date.now());
    }
    side.notes.push(`Lambda invocations (DrainStep rounds): ${state.loop.iterations}; history events: ${state.loop.historyEvents}\n${table(rounds)}`);
    const apiErrors = state.totals.apiErrors;
    if (apiErrors > 0) side.notes.push(`rounds that failed on the Kubernetes API: ${apiErrors} (last: ${state.loop.lastApiError ?? '?'})`);
  } finally {
    gone.stop();
    replicaSetsGone.stop();
    side.lastPodGoneAt = gone.firstTrueAt;
    side.replicaSetsGoneAt = replicaSetsGone.firstTrueAt;
    side.requests = server.requests.slice(requestsBefore);
    await server.stop();
  }
  return side;
}

// ---- kubectl drain

interface KubectlResult { code: number; stdout: string; stderr: string }

async function runKubectl(): Promise<Side> {
  const server = await buildCluster();
  const dir = mkdtempSync(join(tmpdir(), 'bench-drain-'));
  const kubeconfig = server.writeKubeconfig(dir);
  const gone = watchFor(() => server.pods({ nodeName: NODE }).filter(isEvictable).length === 0);
  const replicaSetsGone = watchFor(() => server.pods({ nodeName: NODE }).filter(isReplicaSetPod).length === 0);
  const side: Side = { name: 'kubectl', startedAt: Date.now(), requests: [], notes: [] };
  try {
    // Asynchronous: a synchronous child would block the fake server, which runs in this process.
    const result = await new Promise<KubectlResult>((resolve) => {
      execFile(
        'kubectl',
        ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), 'drain', NODE,
          '--ignore-daemonsets', '--delete-emptydir-data', `--timeout=${KUBECTL_TIMEOUT_SECONDS}s`],
        { timeout: (KUBECTL_TIMEOUT_SECONDS + 60) * 1000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
    const exitedAt = Date.now();
    if (result.code === 0 && /drained/.test(result.stdout)) side.drainedAt = exitedAt;
    const retries = (result.stderr.match(/will retry after/g) ?? []).length;
    side.notes.push(`exit code ${result.code}; "will retry after 5s" lines: ${retries}; last stdout line: ${result.stdout.trim().split('\n').pop()}`);
    if (result.code !== 0) side.notes.push(`stderr (tail):\n${result.stderr.trim().split('\n').slice(-10).join('\n')}`);
  } finally {
    gone.stop();
    replicaSetsGone.stop();
    side.lastPodGoneAt = gone.firstTrueAt;
    side.replicaSetsGoneAt = replicaSetsGone.firstTrueAt;
    side.requests = [...server.requests];
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return side;
}

// ---- report

function report(sides: Side[]): void {
  const cats = sides.map((s) => categories(s.requests));
  const keys = [...new Set(cats.flatMap((c) => Object.keys(c)))].sort();
  const rows: Array<Array<string | number>> = [['API requests', ...sides.map((s) => s.name)]];
  for (const k of keys) rows.push([k, ...cats.map((c) => c[k] ?? 0)]);
  rows.push(['TOTAL', ...sides.map((s) => s.requests.length)]);
  rows.push(['', ...sides.map(() => '')]);
  rows.push(['evictions sent', ...sides.map((s) => evictions(s).length)]);
  rows.push(['evictions refused (429)', ...sides.map((s) => `${evictions429(s)} (${percent(evictions429(s), evictions(s).length)})`)]);
  rows.push(['time until drained', ...sides.map((s) => seconds(drainMs(s)))]);
  const since = (s: Side, at: number | undefined) => seconds(at === undefined ? undefined : at - s.startedAt);
  const accepted = (s: Side, ns?: string) =>
    evictions(s).filter((r) => r.status === 201 && (!ns || r.path.startsWith(`/api/v1/namespaces/${ns}/`))).map((r) => r.at);
  rows.push(['long (Job) pods evicted at', ...sides.map((s) => {
    const at = accepted(s, 'batch');
    return at.length === 0 ? 'n/a' : `${since(s, Math.min(...at))} – ${since(s, Math.max(...at))}`;
  })]);
  rows.push(['last eviction accepted at', ...sides.map((s) => since(s, Math.max(...accepted(s))))]);
  rows.push(['ReplicaSet pods all gone at', ...sides.map((s) => since(s, s.replicaSetsGoneAt))]);
  rows.push(['last evictable pod gone at', ...sides.map((s) => seconds(s.lastPodGoneAt === undefined ? undefined : s.lastPodGoneAt - s.startedAt))]);
  // Negative up to the 100 ms poll period: the engine knew before the bench's poll saw it.
  rows.push(['lag after last pod gone (±0.1 s)', ...sides.map((s) => seconds(Math.max(0, lagMs(s))))]);
  console.log(table(rows));
  for (const s of sides) {
    if (s.notes.length === 0) continue;
    console.log(`\n[${s.name}]`);
    for (const n of s.notes) console.log(n);
    if (process.argv.includes('--log')) {
      // Every request but evictions and pod GETs, with its time from the start.
      for (const r of s.requests) {
        if (r.verb === 'create' || (r.verb === 'get' && /\/pods\//.test(r.path))) continue;
        const query = Object.entries(r.query).map(([k, v]) => `${k}=${v}`).join('&');
        console.log(`  ${seconds(r.at - s.startedAt).padStart(8)}  ${r.verb.padEnd(6)} ${r.status}  ${r.path}${query ? `?${query}` : ''}`);
      }
    }
  }

  const ours = sides.find((s) => s.name === 'ours');
  const kubectl = sides.find((s) => s.name === 'kubectl');
  if (!ours) return;
  console.log('');
  const goals: Array<Array<string | number>> = [['goal', 'figure', 'result']];
  const oursEvictions = evictions(ours).length;
  const share429 = oursEvictions === 0 ? 0 : evictions429(ours) / oursEvictions;
  if (kubectl) {
    console.log(table([
      ['ratio', 'value'],
      ['requests ours / kubectl', ratio(ours.requests.length, kubectl.requests.length)],
      ['evictions ours / kubectl', ratio(oursEvictions, evictions(kubectl).length)],
      ['time until drained ours - kubectl', seconds(drainMs(ours) - drainMs(kubectl))],
      ['time until drained ours / kubectl', ratio(drainMs(ours), drainMs(kubectl))],
    ]));
    console.log('');
    goals.push(['drained no later than kubectl', `${seconds(drainMs(ours))} vs ${seconds(drainMs(kubectl))}`, verdict(drainMs(ours) <= drainMs(kubectl))]);
    goals.push(['≤ 1/10 of kubectl\'s API requests', `${ours.requests.length} vs ${kubectl.requests.length} (limit ${Math.floor(kubectl.requests.length / 10)})`, verdict(ours.requests.length * 10 <= kubectl.requests.length)]);
  }
  goals.push(['< 10% of our evictions refused (429)', `${evictions429(ours)}/${oursEvictions} = ${percent(evictions429(ours), oursEvictions)}`, verdict(share429 < 0.1)]);
  goals.push(['drained within 5 s of the last pod leaving', seconds(Math.max(0, lagMs(ours))), verdict(lagMs(ours) <= 5000)]);
  console.log(table(goals, ['l', 'l', 'l']));
}

async function main(): Promise<void> {
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
  console.log(`bench:drain — node with 110 pods (${DEPLOYMENTS}×${REPLICAS} ReplicaSet pods behind PDBs maxUnavailable 1, ${DAEMONSETS} DaemonSet, 1 mirror, ${LONG_PODS} Job pods using a ${LONG_GRACE_SECONDS} s grace), ${LATENCY_MS} ms per request, real time\n`);
  const sides: Side[] = [];
  if (only !== 'kubectl') {
    console.log('running ours…');
    sides.push(await runOurs());
  }
  if (only !== 'ours') {
    const runsAt = process.argv.indexOf('--kubectl-runs');
    const runs = Math.max(1, runsAt >= 0 ? Number(process.argv[runsAt + 1]) || 1 : 3);
    const kubectlRuns: Side[] = [];
    for (let i = 1; i <= runs; i++) {
      console.log(`running kubectl drain (${i} of ${runs})…`);
      kubectlRuns.push(await runKubectl());
    }
    const byRequests = [...kubectlRuns].sort((a, b) => a.requests.length - b.requests.length);
    const median = byRequests[Math.floor((byRequests.length - 1) / 2)];
    if (runs > 1) {
      median.notes.push(
        `runs (requests, time until drained): ${kubectlRuns.map((r) => `${r.requests.length}, ${seconds(drainMs(r))}`).join(' · ')}; compared: the median, ${median.requests.length}`,
      );
    }
    sides.push(median);
  }
  console.log('');
  report(sides);
}

main().then(
  () => process.exit(0),
  (err) => {
    // Figures that miss a goal still exit 0; a bench that could not run does not.
    console.error('bench:drain failed to run:', err);
    process.exit(1);
  },
);
