/**
 * What the rehearsal saw, in virtual time since its start: the events of the
 * text timeline, the life of every pod on a drained node (the rows of the
 * report's chart) and the markers drawn across it. Formatting only; the
 * recorder fills these in.
 */

export type TimelineKind =
  | 'terminating'
  | 'drain-started'
  | 'prepared'
  | 'cordoned'
  | 'evicted'
  | 'waiting'
  | 'finished'
  | 'pdb-blocked'
  | 'pod-gone'
  | 'heartbeat'
  | 'deadline'
  | 'force-deleted'
  | 'left-alone'
  | 'volumes'
  | 'completed'
  | 'timed-out'
  | 'failed'
  | 'note';

/** Kinds that are worth a line even when a scenario drains many nodes. */
export const MILESTONES: ReadonlySet<TimelineKind> = new Set(['terminating', 'cordoned', 'deadline', 'completed', 'timed-out', 'failed']);

export interface TimelineEvent {
  /** Milliseconds since the start of the rehearsal (virtual). */
  at: number;
  kind: TimelineKind;
  text: string;
  node?: string;
  instanceId?: string;
  pod?: string;
}

export type PodOwner = 'Deployment' | 'DaemonSet' | 'Job' | 'mirror' | 'none';

/** One pod that was on a drained node: when it was evicted, terminating, gone. Times in ms since start. */
export interface PodLife {
  /** namespace/name */
  pod: string;
  node: string;
  owner: PodOwner;
  /** When the rehearsal started watching its node (or the pod appeared there). */
  since: number;
  evictedAt?: number;
  /** The drain first waited for it (do-not-disrupt…) rather than evicting it. */
  waitedSince?: number;
  /** It completed by itself (phase Succeeded) while on the node. */
  finishedAt?: number;
  /** Deleted at the deadline, with its grace clamped to `forceGraceSeconds`. */
  forceDeletedAt?: number;
  forceGraceSeconds?: number;
  /** The API server set its deletionTimestamp: SIGTERM. */
  terminatingAt?: number;
  /** Its grace period ends here (deletionTimestamp). */
  graceEndsAt?: number;
  goneAt?: number;
  /** Each eviction refused by a PodDisruptionBudget. */
  blockedAt: number[];
  blockedBy?: string;
  /** The drain left it because it tolerates the drain (its replacement would come back). */
  toleratesDrain?: boolean;
}

export type MarkerKind = 'heartbeat' | 'deadline-acts' | 'hard-limit' | 'completed' | 'timed-out' | 'failed';

/** A moment drawn across the chart. */
export interface Marker {
  at: number;
  kind: MarkerKind;
  label: string;
  node?: string;
}

/** `+01:02:03` (hours grow past 99 if they must). */
export function clockLabel(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `+${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

/** `43m45s`, `2h05m`, `12s`: a duration for prose. */
export function durationLabel(ms: number): string {
  // Whole seconds, cut like clockLabel's, so "+00:41:02 … after 41m02s" agree.
  const total = Math.max(0, Math.floor(ms / 1000));
  if (total < 60) return `${total}s`;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  return s === 0 ? `${m} min` : `${m}m${String(s).padStart(2, '0')}s`;
}

/** `ip-10-0-1-10.ec2.internal` → `ip-10-0-1-10`: EC2 private DNS names all end alike. */
export function shortNode(name: string): string {
  return name.replace(/\.(ec2|compute)\.internal$/, '').replace(/\.[a-z0-9-]+\.compute\.internal$/, '');
}

export type TimelineDetail = 'full' | 'milestones';

/**
 * The timeline as text lines, time-ordered. With more than one drained node
 * each line names its node; `milestones` keeps one line per node and step.
 */
export function formatTimeline(events: TimelineEvent[], detail: TimelineDetail = 'full'): string[] {
  const nodes = new Set(events.map((e) => e.node).filter(Boolean));
  const perNode = nodes.size > 1;
  const width = perNode ? Math.max(...[...nodes].map((n) => shortNode(n!).length)) : 0;
  return events
    .filter((e) => detail === 'full' || MILESTONES.has(e.kind))
    .map((e) => {
      const where = perNode ? `${(e.node ? shortNode(e.node) : '').padEnd(width)}  ` : '';
      return `${clockLabel(e.at)}  ${where}${e.text}`;
    });
}
