/**
 * Runs a scenario: builds its world, terminates its instances at their
 * offsets, lets the synthesized state machine drain them on virtual time,
 * and returns the timeline, the outcome of every lifecycle action, the
 * failures and the summary figures. The CLI (cli.ts) prints them; the report
 * (report-html.ts) draws them.
 */
import '../../test/setup'; // Promise.withResolvers for aws-local-stepfunctions on Node 20
import type { SimulatedAction } from '../aws/auto-scaling';
import { ASG, HOOK, type World } from '../workflow/scenario';
import { judge } from './outcome';
import { captureObservability } from '../observability';
import { Recorder, type PreparedDrain } from './recorder';
import type { Scenario } from './scenario-file';
import { summarize, type ActionOutcome, type ExecutionFacts, type RunFacts, type Summary } from './summary';
import { durationLabel, type Marker, type PodLife, type TimelineEvent } from './timeline';
import { buildWorld, subscribeToCluster } from './world';

export interface Progress {
  /** Virtual ms since the start. */
  elapsedMs: number;
  actions: number;
  completed: number;
  running: number;
  evicted: number;
  terminating: number;
  heartbeats: number;
}

export interface RehearsalOptions {
  /** Called whenever something happened in the simulation. */
  onProgress?: (progress: Progress) => void;
  /** Gives up when the run takes longer than this in real time. @default 120000 */
  realTimeLimitMs?: number;
}

export interface RehearsalResult {
  scenario: Scenario;
  timeline: TimelineEvent[];
  /** Every pod that was on a drained node, in node then name order: the report's rows. */
  pods: PodLife[];
  markers: Marker[];
  prepared: PreparedDrain[];
  actions: ActionOutcome[];
  facts: RunFacts;
  summary: Summary;
  /** Empty when the rehearsal went well (see outcome.ts). */
  failures: string[];
}

/** The run did not end in time (real time): something in the simulation is stuck. */
export class RehearsalTimeoutError extends Error {
  override readonly name = 'RehearsalTimeoutError';
}

export async function rehearse(scenario: Scenario, options: RehearsalOptions = {}): Promise<RehearsalResult> {
  const realStart = Date.now();
  let recorder: Recorder | undefined;
  const observability = captureObservability({ onLog: (line) => recorder?.onLog(line) });
  const world = await buildWorld(scenario, {
    observability,
    onStateEntered: (execution, state, at) => recorder?.onStateEntered(execution, state, at),
  });
  const rec = new Recorder(() => world.clock.now(), world.clock.now(), () => options.onProgress?.(progressOf(rec, world)));
  recorder = rec;
  const unsubscribe = subscribeToCluster(world.kube, (change) => rec.onClusterChange(change));
  let watchdog: NodeJS.Timeout | undefined;
  try {
    const limit = options.realTimeLimitMs ?? 120_000;
    const stuck = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => reject(new RehearsalTimeoutError(`the rehearsal did not finish within ${limit / 1000} s of real time (virtual time reached ${durationLabel(rec.elapsed())})`)), limit);
      watchdog.unref();
    });
    const interrupted: InterruptionCheck[] = [];
    await Promise.race([run(scenario, world, rec, interrupted), stuck]);
    const result = collect(scenario, world, rec, observability, Date.now() - realStart);
    for (const c of interrupted) {
      if (c.left.length > 0) result.failures.push(`${c.instanceId} (${c.node}): ${c.left.length} pods still on the node when EC2 interrupted it: ${c.left.join(', ')}`);
    }
    return result;
  } finally {
    clearTimeout(watchdog);
    unsubscribe();
    await world.close();
  }
}

async function run(scenario: Scenario, world: World, rec: Recorder, interrupted: InterruptionCheck[]): Promise<void> {
  // The sweep runs on its schedule, as deployed.
  const sweepMs = scenario.drain.sweepIntervalMinutes * 60_000;
  const stopSweeps = world.workflow.scheduleSweeps(sweepMs);
  try {
    // Instances terminated (or interrupted) at the same offset are delivered together, as one scale-in.
    type Happening = { afterSeconds: number; start: () => Promise<unknown> };
    const happenings: Happening[] = [
      ...scenario.terminations.map((t) => ({
        afterSeconds: t.afterSeconds,
        start: async () => {
          rec.terminating(t.instanceId, t.node, world.kube.pods({ nodeName: t.node }));
          // A lost event: Auto Scaling holds the instance, nobody is told.
          if (t.eventLost) return world.asg.terminate(ASG, HOOK, t.instanceId);
          return world.terminate(t.instanceId);
        },
      })),
      ...scenario.interruptions.map((i) => ({
        afterSeconds: i.afterSeconds,
        start: async () => {
          rec.terminating(i.instanceId, i.node, world.kube.pods({ nodeName: i.node }), 'EC2 will interrupt');
          const { event, interruptAt } = world.asg.interruptSpot(i.instanceId);
          const check: InterruptionCheck = { ...i, interruptAt, left: [] };
          interrupted.push(check);
          world.clock.schedule(interruptAt - 1, () => (check.left = drainablePods(world, i.node)));
          return world.workflow.deliver(event);
        },
      })),
    ].sort((a, b) => a.afterSeconds - b.afterSeconds);
    const groups = new Map<number, Happening[]>();
    for (const h of happenings) groups.set(h.afterSeconds, [...(groups.get(h.afterSeconds) ?? []), h]);
    for (const [afterSeconds, group] of groups) {
      const wait = afterSeconds * 1000 - rec.elapsed();
      if (wait > 0) await world.clock.sleep(wait);
      await Promise.all(group.map((h) => h.start()));
    }
    await world.workflow.idle();
    // A held instance without a drain (its event lost): let the next sweeps find it.
    for (let i = 0; i < 3 && world.asg.actions.some((a) => !a.end && a.transition === 'terminate'); i++) {
      await world.clock.sleep(sweepMs);
      await Promise.all(world.workflow.sweepsRun);
      await world.workflow.idle();
    }
    const lastInterruption = Math.max(0, ...interrupted.map((c) => c.interruptAt));
    if (world.clock.now() < lastInterruption) await world.clock.sleep(lastInterruption - world.clock.now());
  } finally {
    stopSweeps();
  }
  await letPendingActionsTimeOut(world, scenario.hook.heartbeatTimeoutSeconds * 1000);
}

/** A Spot interruption: the pods (DaemonSet and mirror pods aside) still on the node when EC2 took the instance. */
interface InterruptionCheck {
  node: string;
  instanceId: string;
  interruptAt: number;
  left: string[];
}

function drainablePods(world: World, node: string): string[] {
  return world.kube
    .pods({ nodeName: node })
    .filter((p) => p.metadata.ownerReferences?.[0]?.kind !== 'DaemonSet' && !p.metadata.annotations?.['kubernetes.io/config.mirror'])
    .map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
}

/**
 * An action nobody completed would time out in AWS later; let virtual time
 * run to that moment, so the outcome says how it really ends.
 */
async function letPendingActionsTimeOut(world: World, heartbeatTimeoutMs: number): Promise<void> {
  const pending = world.asg.actions.filter((a) => !a.end);
  if (pending.length === 0) return;
  const expiries = pending.map((a) => expiryOf(a, heartbeatTimeoutMs));
  await world.clock.advanceTo(Math.max(...expiries) + 1000);
}

function expiryOf(action: SimulatedAction, heartbeatTimeoutMs: number): number {
  const lastBeat = Math.max(action.startedAt, ...action.heartbeats);
  const global = action.startedAt + Math.min(100 * heartbeatTimeoutMs, 172_800_000);
  return Math.min(lastBeat + heartbeatTimeoutMs, global);
}

function collect(scenario: Scenario, world: World, rec: Recorder, observability: ReturnType<typeof captureObservability>, realMs: number): RehearsalResult {
  const origin = world.clock.now() - rec.elapsed();
  const nodeOf = new Map([...scenario.terminations, ...scenario.interruptions].map((t) => [t.instanceId, t.node]));
  const actions: ActionOutcome[] = world.asg.actions.map((a) => {
    const ours = rec.completions.filter((c) => c.instanceId === a.instanceId && c.outcome === 'completed');
    const node = nodeOf.get(a.instanceId) ?? '(unknown node)';
    if (a.end?.how === 'timed-out') {
      const text = `the lifecycle action of ${a.instanceId} TIMED OUT (${a.end.timeout} timeout): Auto Scaling went on with ${a.end.result} without the drain`;
      rec.add('timed-out', text, { instanceId: a.instanceId, node }, a.end.at - origin);
      rec.markers.push({ at: a.end.at - origin, kind: 'timed-out', label: `${a.end.timeout} timeout`, node });
    }
    return {
      instanceId: a.instanceId,
      node,
      startedAt: a.startedAt - origin,
      endedAt: a.end ? a.end.at - origin : undefined,
      how: a.end?.how ?? 'pending',
      result: a.end?.result,
      reason: ours.at(-1)?.reason,
      timeout: a.end?.how === 'timed-out' ? a.end.timeout : undefined,
      heartbeats: a.heartbeats.length,
      completions: ours.length,
    };
  });
  const executions: ExecutionFacts[] = [...world.workflow.executions.values()].map((e) => {
    if (e.status === 'FAILED') {
      rec.add('failed', `execution ${e.name} FAILED: ${e.error?.Error ?? 'error'}`, {}, (e.stoppedAt ?? world.clock.now()) - origin);
      rec.markers.push({ at: (e.stoppedAt ?? world.clock.now()) - origin, kind: 'failed', label: `execution failed` });
    }
    return { name: e.name, status: e.status, transitions: e.transitions, lambdaInvocations: e.lambdaInvocations, error: e.error };
  });
  const facts: RunFacts = {
    scenario: scenario.name,
    actions,
    executions,
    pods: orderedPods(rec),
    startDrainInvocations: scenario.terminations.filter((t) => !t.eventLost).length + scenario.interruptions.length,
    lambdaDurationsMs: lambdaDurations(world, rec),
    kubeRequestsByVerb: world.kube.countByVerb(),
    autoScalingCalls: world.asg.calls.reduce<Record<string, number>>((acc, c) => ({ ...acc, [c.operation]: (acc[c.operation] ?? 0) + 1 }), {}),
    metrics: {
      evicted: observability.metricTotal('PodsEvicted'),
      pdbBlocks: observability.metricTotal('EvictionsBlockedByPdb'),
      heartbeats: observability.metricTotal('HeartbeatsSent'),
      forceDeleted: observability.metricTotal('PodsForceDeleted'),
      deadlinesReached: observability.metricTotal('DeadlinesReached'),
    },
    virtualMs: Math.max(rec.elapsed(), ...actions.map((a) => a.endedAt ?? 0)),
    realMs,
    volumeWaitsMs: [...rec.volumeWaits.values()].map((w) => w.waitedMs ?? Math.max(0, rec.elapsed() - w.since)),
  };
  for (const p of rec.prepared) {
    if (!rec.markers.some((m) => m.kind === 'deadline-acts' && m.node === p.node)) {
      rec.markers.push({ at: p.actAt, kind: 'deadline-acts', label: `deadline (${p.policy}) would act`, node: p.node });
    }
    rec.markers.push({ at: p.hardLimitAt, kind: 'hard-limit', label: 'hard limit', node: p.node });
  }
  return {
    scenario,
    timeline: rec.timeline(),
    pods: facts.pods,
    markers: rec.markers,
    prepared: rec.prepared,
    actions,
    facts,
    summary: summarize(facts),
    failures: judge(actions, executions, scenario.expect),
  };
}

/** Pods by node (in the scenario's order of terminations), then owner kind and name. */
function orderedPods(rec: Recorder): PodLife[] {
  const order: Record<string, number> = { Deployment: 0, Job: 1, none: 2, DaemonSet: 3, mirror: 4 };
  const nodes = [...new Set([...rec.pods.values()].map((p) => p.node))];
  return [...rec.pods.values()].sort(
    (a, b) => nodes.indexOf(a.node) - nodes.indexOf(b.node) || order[a.owner] - order[b.owner] || a.pod.localeCompare(b.pod),
  );
}

/** How long each Lambda state of each execution ran: from its entry to the next state's (virtual ms). */
function lambdaDurations(world: World, rec: Recorder): number[] {
  const { definition, functionArns } = world.workflow.synth;
  const arns = new Set(Object.values(functionArns));
  const isLambda = (state: string) => definition.States[state]?.Type === 'Task' && arns.has(String(definition.States[state].Resource));
  const durations: number[] = [];
  for (const [name, entries] of rec.stateEntries) {
    const stoppedAt = world.workflow.executions.get(name)?.stoppedAt ?? world.clock.now();
    entries.forEach((entry, i) => {
      if (isLambda(entry.state)) durations.push((entries[i + 1]?.at ?? stoppedAt) - entry.at);
    });
  }
  return durations;
}

function progressOf(rec: Recorder, world: World): Progress {
  let evicted = 0;
  let terminating = 0;
  for (const p of rec.pods.values()) {
    if (p.evictedAt !== undefined) evicted++;
    if (p.terminatingAt !== undefined && p.goneAt === undefined) terminating++;
  }
  let running = 0;
  for (const e of world.workflow.executions.values()) if (e.status === 'RUNNING') running++;
  return {
    elapsedMs: rec.elapsed(),
    actions: world.asg.actions.length,
    completed: world.asg.actions.filter((a) => a.end).length,
    running,
    evicted,
    terminating,
    heartbeats: rec.markers.filter((m) => m.kind === 'heartbeat').length,
  };
}
