/**
 * Did the rehearsal go well? A run fails when any of these holds:
 * - an execution FAILED;
 * - a lifecycle action timed out (Auto Scaling gave up waiting) or was never
 *   ended, instead of being completed by the drain;
 * - a lifecycle action was completed more than once;
 * - the drain released an action after an error (reason `error`);
 * - the scenario's `expect` section is not met (result, reason, duration).
 * Each failure is one sentence naming the instance or execution.
 */
import type { Expectation } from './scenario-file';
import type { ActionOutcome, ExecutionFacts } from './summary';
import { durationLabel } from './timeline';

export function judge(actions: ActionOutcome[], executions: ExecutionFacts[], expect: Expectation = {}): string[] {
  const failures: string[] = [];
  for (const e of executions) {
    if (e.status === 'FAILED') failures.push(`execution ${e.name} FAILED: ${e.error?.Error ?? 'unknown error'}${e.error?.Cause ? ` (${firstLine(e.error.Cause)})` : ''}`);
    if (e.status === 'RUNNING') failures.push(`execution ${e.name} never finished`);
  }
  for (const a of actions) {
    const who = `${a.instanceId} (${a.node})`;
    const took = a.endedAt === undefined ? undefined : a.endedAt - a.startedAt;
    if (a.how === 'pending') {
      failures.push(`${who}: the lifecycle action was never completed: the drain left it hanging`);
      continue;
    }
    if (a.how === 'timed-out') {
      failures.push(`${who}: the lifecycle action timed out (${a.timeout} timeout) after ${durationLabel(took ?? 0)} instead of being completed; Auto Scaling went on with ${a.result}`);
      continue;
    }
    if (a.completions > 1) failures.push(`${who}: the lifecycle action was completed ${a.completions} times`);
    if (a.reason === 'error') failures.push(`${who}: the drain failed and released the instance (completed with ${a.result} after an error)`);
    if (expect.result && a.result !== expect.result) failures.push(`${who}: completed with ${a.result}, expected ${expect.result}`);
    if (expect.reason && a.reason !== expect.reason) failures.push(`${who}: completed for reason ${a.reason ?? '(unknown)'}, expected ${expect.reason}`);
    if (took !== undefined && expect.minMinutes !== undefined && took < expect.minMinutes * 60_000) {
      failures.push(`${who}: completed after ${durationLabel(took)}, expected at least ${expect.minMinutes} min`);
    }
    if (took !== undefined && expect.maxMinutes !== undefined && took > expect.maxMinutes * 60_000) {
      failures.push(`${who}: completed after ${durationLabel(took)}, expected at most ${expect.maxMinutes} min`);
    }
  }
  return failures;
}

function firstLine(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errorMessage?: string };
    if (parsed.errorMessage) return parsed.errorMessage;
  } catch {
    // not JSON: Lambda's error document is only one of the shapes a Cause takes
  }
  return text.split('\n')[0].slice(0, 300);
}
