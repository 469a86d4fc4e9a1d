/**
 * Which instances a drain may act on, and the execution name that claims the
 * drain of one lifecycle action. Pure: the facts come from Auto Scaling and
 * EC2 (read by the handlers), never from an event or an execution input.
 *
 * The claim: every path that starts a drain (the lifecycle event, the sweep,
 * a Spot warning) names the execution after facts all of them can read:
 * - a terminate lifecycle action: `<instance id>-<scaling activity id>` of
 *   the termination ("Terminating EC2 instance: i-…", not yet ended);
 * - a Spot interruption: `<instance id>-spot` (an instance is interrupted once).
 * Step Functions refuses a second execution of a name (ExecutionAlreadyExists,
 * for 90 days after it closed), so the second start is a no-op whichever path
 * comes second. Continuations add `-c<n>` to the first execution's name; the
 * claim is the first name, which exists as long as the drain does.
 */

/** EC2 instance ids: i- and 8 or 17 lowercase hex digits. */
export const INSTANCE_ID = /^i-[0-9a-f]{8}([0-9a-f]{9})?$/;

/** Auto Scaling holds the instance for a terminate hook (the warm pool's own terminations included). */
export const TERMINATE_WAIT_STATES: ReadonlySet<string> = new Set(['Terminating:Wait', 'Warmed:Terminating:Wait']);

/** Auto Scaling holds the instance for a launch hook (back from the warm pool: Pending:Wait). */
export const LAUNCH_WAIT_STATES: ReadonlySet<string> = new Set(['Pending:Wait', 'Warmed:Pending:Wait']);

export type SpotInstanceAction = 'terminate' | 'stop' | 'hibernate';

/** Spot request status codes of an instance EC2 is about to interrupt. */
const MARKED: Record<string, SpotInstanceAction> = {
  'marked-for-termination': 'terminate',
  'marked-for-stop': 'stop',
  'marked-for-hibernation': 'hibernate',
};

/** The interruption a Spot request's status announces, or undefined. */
export function spotInterruption(statusCode: string | undefined): SpotInstanceAction | undefined {
  return statusCode ? MARKED[statusCode] : undefined;
}

/** Activities that are over; any other StatusCode is a termination under way. */
const ENDED = new Set(['Successful', 'Failed', 'Cancelled']);

export interface ActivityView {
  activityId: string;
  description: string;
  statusCode: string;
  startTime: number;
}

/**
 * The activity of the instance's termination that is still under way: the
 * newest unended activity whose description names the instance (Auto Scaling
 * writes "Terminating EC2 instance: i-…"; one instance has at most one
 * termination under way).
 */
export function terminationActivity(activities: ActivityView[], instanceId: string): ActivityView | undefined {
  const pattern = new RegExp(`Terminating EC2 instance: ${instanceId}\\b`);
  return activities
    .filter((a) => pattern.test(a.description) && !ENDED.has(a.statusCode))
    .sort((a, b) => b.startTime - a.startTime)[0];
}

/** `<instance>-<activity id>`: at most 19 + 1 + 36 characters, within Step Functions' 80. */
export function drainClaimName(instanceId: string, activityId: string): string {
  if (!INSTANCE_ID.test(instanceId)) throw new Error(`not an instance id: ${instanceId}`);
  if (!/^[0-9a-zA-Z-]{1,50}$/.test(activityId)) throw new Error(`not an activity id: ${activityId}`);
  return `${instanceId}-${activityId}`;
}

export function spotClaimName(instanceId: string): string {
  if (!INSTANCE_ID.test(instanceId)) throw new Error(`not an instance id: ${instanceId}`);
  return `${instanceId}-spot`;
}

/** An execution of this instance's drains (any claim, any continuation). */
export function isDrainOf(executionName: string, instanceId: string): boolean {
  return executionName.startsWith(`${instanceId}-`);
}
