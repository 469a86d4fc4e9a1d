/**
 * Turns what a rehearsal run emits into its timeline: the handlers'
 * structured log lines (evictions, PDB refusals, heartbeats, the deadline,
 * completion), the cluster's change stream (a pod gets its
 * deletionTimestamp, a pod is gone) and the state machine's state entries
 * (for Lambda durations). Everything is stamped with the virtual clock, never
 * with the log line's own (wall-clock) timestamp.
 */
import type { ChangeEvent } from '../kube/cluster';
import type { KubeObject } from '../kube/objects';
import type { JsonLine } from '../observability';
import type { ExecutionRecord } from '../workflow/local-workflow';
import { durationLabel, type Marker, type PodLife, type PodOwner, type TimelineEvent, type TimelineKind } from './timeline';

/** A drain's plan, from Prepare's "drain prepared" line. Times in ms since start. */
export interface PreparedDrain {
  instanceId: string;
  node: string;
  actAt: number;
  hardLimitAt: number;
  policy: string;
}

/** What Complete logged for an instance. */
export interface CompletionRecord {
  instanceId: string;
  at: number;
  lifecycleResult?: string;
  reason?: string;
  /** `completed`, or `already-over` when the action had ended without us. */
  outcome: 'completed' | 'already-over';
}

export interface StateEntry {
  state: string;
  at: number;
}

const HOLD_LABELS: Record<string, string> = {
  'do-not-disrupt': 'karpenter.sh/do-not-disrupt',
  'safe-to-evict': 'safe-to-evict=false',
  job: 'a Job pod, waitForJobPods',
};

export class Recorder {
  readonly events: TimelineEvent[] = [];
  readonly pods = new Map<string, PodLife>();
  readonly markers: Marker[] = [];
  readonly prepared: PreparedDrain[] = [];
  readonly completions: CompletionRecord[] = [];
  /** State entries per execution name, in order. */
  readonly stateEntries = new Map<string, StateEntry[]>();
  /** Log lines at level ERROR, for the failure report. */
  readonly errors: JsonLine[] = [];
  /** Per node: how long the drain waited for VolumeAttachments to detach after the pods had gone (ms). */
  readonly volumeWaits = new Map<string, { since: number; waitedMs?: number; count: number }>();
  private readonly drainedNodes = new Set<string>();
  private readonly heartbeats = new Map<string, number>();
  private readonly instanceOfNode = new Map<string, string>();

  constructor(
    private readonly now: () => number,
    /** The rehearsal's start (virtual epoch ms): every time recorded is relative to it. */
    private readonly startedAt: number,
    /** Called after anything was recorded: progress reporting hooks in here. */
    private readonly onActivity: () => void = () => {},
  ) {}

  /** Auto Scaling starts terminating `instanceId`: from now on its node's pods are followed. */
  terminating(instanceId: string, node: string, pods: KubeObject[], how: 'Auto Scaling terminates' | 'EC2 will interrupt' = 'Auto Scaling terminates'): void {
    this.drainedNodes.add(node);
    this.instanceOfNode.set(node, instanceId);
    for (const pod of pods) this.follow(pod);
    const what = how === 'EC2 will interrupt' ? 'Spot interruption warning, two minutes left' : 'lifecycle action started';
    this.add('terminating', `${how} ${instanceId}: ${what}, ${pods.length} pods on the node`, { node, instanceId });
  }

  onStateEntered(execution: ExecutionRecord, state: string, at: number): void {
    const entries = this.stateEntries.get(execution.name) ?? [];
    entries.push({ state, at });
    this.stateEntries.set(execution.name, entries);
    this.onActivity();
  }

  onClusterChange(change: ChangeEvent): void {
    if (change.resource !== 'pods') return;
    const pod = change.object;
    const key = podKey(pod);
    if (change.type === 'ADDED' && this.drainedNodes.has(pod.spec?.nodeName)) this.follow(pod);
    const life = this.pods.get(key);
    if (!life) return;
    const now = this.elapsed();
    if (change.type === 'MODIFIED' && pod.status?.phase === 'Succeeded' && life.finishedAt === undefined && !pod.metadata.deletionTimestamp) {
      life.finishedAt = now;
      this.add('finished', `pod ${key} finished on its own${life.waitedSince !== undefined ? ` after the drain waited ${durationLabel(now - life.waitedSince)} for it` : ''}`, { node: life.node, pod: key });
    } else if (change.type === 'MODIFIED' && pod.metadata.deletionTimestamp) {
      life.terminatingAt ??= now;
      life.graceEndsAt = Date.parse(pod.metadata.deletionTimestamp) - this.origin();
    } else if (change.type === 'DELETED' && life.goneAt === undefined) {
      life.goneAt = now;
      this.add('pod-gone', goneText(life, now), { node: life.node, pod: key });
    }
    this.onActivity();
  }

  onLog(line: JsonLine): void {
    const message = String(line.message ?? '');
    const node = typeof line.node === 'string' ? line.node : undefined;
    const instanceId = typeof line.instanceId === 'string' ? line.instanceId : undefined;
    const where = { node, instanceId };
    const event = line.event as { type?: string; pod?: string; pdb?: string; graceSeconds?: number; reason?: string; evictAt?: number; detail?: string } | undefined;
    const now = this.elapsed();
    if (line.level === 'ERROR') this.errors.push(line);

    if (event?.type === 'awaiting-volumes' || event?.type === 'volumes-detached') {
      this.onVolumes(event as { type: string; volumeAttachments?: string[] }, where, now);
    } else if (event?.pod && event.type) {
      this.onDrainEvent(event as Required<typeof event>, where, now);
    } else if (line.step === 'DrainStep' && message.startsWith('DrainStep: next')) {
      this.onRoundSummary(line.summary as { blockedByPdb?: Array<{ pod: string; pdb: string }> } | undefined, where, now);
    } else if (message === 'drain started') {
      this.add('drain-started', `EventBridge → start-drain: drain workflow started`, where);
    } else if (message === 'drain prepared') {
      this.onPrepared(line, where);
    } else if (message === 'cordon: cordoned' || message === 'cordon: already-cordoned') {
      this.add('cordoned', `cordoned ${node ?? '(node)'}`, where);
    } else if (line.step === 'Heartbeat' && message === 'Heartbeat: next wait' && instanceId) {
      const n = (this.heartbeats.get(instanceId) ?? 0) + 1;
      this.heartbeats.set(instanceId, n);
      this.add('heartbeat', `heartbeat ${n}: the lifecycle action is extended`, where);
      this.markers.push({ at: now, kind: 'heartbeat', label: `heartbeat ${n}`, node });
    } else if (message.startsWith('deadline reached')) {
      this.add('deadline', message, where);
      this.markers.push({ at: now, kind: 'deadline-acts', label: 'deadline: policy acts', node });
    } else if (message.startsWith('lifecycle action completed with') || message.startsWith('the lifecycle action was already over')) {
      this.onCompleted(line, message, where, now);
    } else if (line.level === 'ERROR' || line.level === 'WARN' || message.startsWith('history budget') || message.startsWith('event ignored') || message.startsWith('duplicate event')) {
      this.add(line.level === 'ERROR' ? 'failed' : 'note', `${line.step ? `${line.step}: ` : ''}${message}`, where);
    }
    this.onActivity();
  }

  /** Called once the run is over, for what only the end reveals (timeouts, failed executions). */
  add(kind: TimelineKind, text: string, where: { node?: string; instanceId?: string; pod?: string } = {}, at = this.elapsed()): void {
    const node = where.node ?? (where.instanceId ? this.nodeOf(where.instanceId) : undefined);
    const instanceId = where.instanceId ?? (node ? this.instanceOfNode.get(node) : undefined);
    this.events.push({ at, kind, text, ...(node ? { node } : {}), ...(instanceId ? { instanceId } : {}), ...(where.pod ? { pod: where.pod } : {}) });
  }

  /** Events in time order (stable for events at the same moment). */
  timeline(): TimelineEvent[] {
    return this.events.map((e, i) => ({ e, i })).sort((a, b) => a.e.at - b.e.at || a.i - b.i).map(({ e }) => e);
  }

  heartbeatsOf(instanceId: string): number {
    return this.heartbeats.get(instanceId) ?? 0;
  }

  /** Virtual ms since the start of the rehearsal. */
  elapsed(): number {
    return this.now() - this.origin();
  }

  private origin(): number {
    return this.startedAt;
  }

  private nodeOf(instanceId: string): string | undefined {
    for (const [node, id] of this.instanceOfNode) if (id === instanceId) return node;
    return undefined;
  }

  private follow(pod: KubeObject): void {
    const key = podKey(pod);
    if (this.pods.has(key)) return;
    this.pods.set(key, { pod: key, node: pod.spec?.nodeName, owner: ownerOf(pod), since: this.elapsed(), blockedAt: [] });
  }

  private onDrainEvent(event: { type: string; pod: string; pdb?: string; graceSeconds?: number; reason?: string; evictAt?: number; detail?: string }, where: { node?: string; instanceId?: string }, now: number): void {
    const life = this.pods.get(event.pod);
    switch (event.type) {
      case 'held':
        if (life?.waitedSince !== undefined) return;
        if (life) life.waitedSince = now;
        return this.add('waiting', `waiting for ${event.pod} (${HOLD_LABELS[event.reason ?? ''] ?? event.reason}): evicted at ${event.evictAt !== undefined ? `+${durationLabel(event.evictAt - this.origin())}` : 'the deadline'} at the latest`, { ...where, pod: event.pod });
      case 'job-replacement':
        return this.add('note', `evicted ${event.pod}: ${event.detail ?? 'its Job starts a replacement while it terminates'}`, { ...where, pod: event.pod });
      case 'evicted':
        if (life) life.evictedAt ??= now;
        return this.add('evicted', `evicted ${event.pod}`, { ...where, pod: event.pod });
      case 'blocked':
      case 'held-back':
        return this.heldBack(event.pod, event.pdb, where, now);
      case 'misconfigured':
        return this.add('failed', `cannot evict ${event.pod}: more than one PodDisruptionBudget selects it`, { ...where, pod: event.pod });
      case 'forbidden':
        return this.add('failed', `eviction of ${event.pod} forbidden (403): RBAC or an admission webhook refuses it`, { ...where, pod: event.pod });
      case 'left-alone':
        if (life) life.toleratesDrain = true;
        return this.add('left-alone', `left on the node: ${event.pod} tolerates the drain (its replacement would be scheduled right back)`, { ...where, pod: event.pod });
      case 'force-deleted':
        if (life) {
          life.forceDeletedAt ??= now;
          life.forceGraceSeconds = event.graceSeconds;
        }
        return this.add('force-deleted', `force-deleted ${event.pod} (grace period clamped to ${event.graceSeconds} s)`, { ...where, pod: event.pod });
      default:
        // gone / pod-deleted / retry-later: the cluster's own change stream says it better.
        return;
    }
  }

  /** The pods are gone and the drain waits for their volumes to detach, or they just did. */
  private onVolumes(event: { type: string; volumeAttachments?: string[] }, where: { node?: string; instanceId?: string }, now: number): void {
    const node = where.node ?? '';
    const wait = this.volumeWaits.get(node);
    if (event.type === 'awaiting-volumes') {
      if (wait && wait.waitedMs === undefined) return; // the next round of the same wait
      const count = event.volumeAttachments?.length ?? 0;
      this.volumeWaits.set(node, { since: now, count });
      return this.add('volumes', `pods gone: waiting for ${count} VolumeAttachment${count === 1 ? '' : 's'} to detach before Complete`, where);
    }
    if (!wait || wait.waitedMs !== undefined) return;
    wait.waitedMs = now - wait.since;
    this.add('volumes', `volumes detached after ${durationLabel(wait.waitedMs)}`, where);
  }

  /**
   * A pod its PDB keeps on the node this round: refused by the API (429), or
   * not even tried because the budget allows no disruption now. One line for
   * the first time; every round is a tick on the chart.
   */
  private heldBack(pod: string, pdb: string | undefined, where: { node?: string; instanceId?: string }, now: number): void {
    const life = this.pods.get(pod);
    const first = !life || life.blockedAt.length === 0;
    if (life && life.blockedAt.at(-1) !== now) life.blockedAt.push(now);
    if (life && pdb) life.blockedBy = pdb;
    if (first) this.add('pdb-blocked', `blocked by PDB ${pdb ?? '(unknown)'}: ${pod}`, { ...where, pod });
  }

  private onRoundSummary(summary: { blockedByPdb?: Array<{ pod: string; pdb: string }> } | undefined, where: { node?: string; instanceId?: string }, now: number): void {
    for (const { pod, pdb } of summary?.blockedByPdb ?? []) this.heldBack(pod, pdb, where, now);
  }

  private onPrepared(line: JsonLine, where: { node?: string; instanceId?: string }): void {
    const deadline = line.deadline as { actAt?: string; hardLimitAt?: string; policy?: string } | undefined;
    if (!deadline?.actAt || !deadline.hardLimitAt || !where.instanceId || !where.node) {
      this.add('prepared', 'drain prepared', where);
      return;
    }
    const plan: PreparedDrain = {
      instanceId: where.instanceId,
      node: where.node,
      actAt: Date.parse(deadline.actAt) - this.origin(),
      hardLimitAt: Date.parse(deadline.hardLimitAt) - this.origin(),
      policy: deadline.policy ?? 'force-delete',
    };
    this.prepared.push(plan);
    const start = this.events.find((e) => e.kind === 'terminating' && e.instanceId === where.instanceId)?.at ?? 0;
    this.add('prepared', `drain prepared: ${plan.policy} at ${durationLabel(plan.actAt - start)} if pods remain, hard limit ${durationLabel(plan.hardLimitAt - start)}`, where);
  }

  private onCompleted(line: JsonLine, message: string, where: { node?: string; instanceId?: string }, now: number): void {
    const result = line.result as { lifecycleResult?: string; reason?: string } | undefined;
    const instanceId = where.instanceId ?? '(unknown)';
    const alreadyOver = message.startsWith('the lifecycle action was already over');
    this.completions.push({ instanceId, at: now, lifecycleResult: result?.lifecycleResult, reason: result?.reason, outcome: alreadyOver ? 'already-over' : 'completed' });
    const start = this.events.find((e) => e.kind === 'terminating' && e.instanceId === instanceId)?.at ?? 0;
    const text = alreadyOver
      ? `Complete: ${message}`
      : `lifecycle action completed with ${result?.lifecycleResult} after ${durationLabel(now - start)} (${result?.reason})`;
    this.add(alreadyOver ? 'note' : 'completed', text, where);
    if (!alreadyOver) this.markers.push({ at: now, kind: 'completed', label: `completed with ${result?.lifecycleResult}`, node: where.node });
  }
}

export const podKey = (pod: KubeObject) => `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;

function ownerOf(pod: KubeObject): PodOwner {
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
  switch (owner?.kind) {
    case 'ReplicaSet':
      return 'Deployment';
    case 'DaemonSet':
      return 'DaemonSet';
    case 'Job':
      return 'Job';
    case 'Node':
      return 'mirror';
    default:
      return 'none';
  }
}

function goneText(life: PodLife, now: number): string {
  if (life.terminatingAt === undefined) return `pod ${life.pod} deleted`;
  const after = durationLabel(now - life.terminatingAt);
  if (life.forceDeletedAt !== undefined && life.forceGraceSeconds === 0) return `pod ${life.pod} deleted at once`;
  if (life.graceEndsAt !== undefined && now >= life.graceEndsAt) {
    return `pod ${life.pod} killed at the end of its ${life.forceDeletedAt !== undefined ? 'clamped ' : ''}grace period (${after} after SIGTERM)`;
  }
  return `pod ${life.pod} finished (${after} after SIGTERM)`;
}
