/**
 * Step Functions Standard executions fail at 25,000 history events. We count
 * what each state costs (rounded up: a Task is ~5 events, plus ~3 per retry we
 * cannot see) and continue in a new execution well before the cap.
 */
export const HISTORY_EVENTS = {
  task: 6,
  choice: 2,
  wait: 2,
} as const;

/** Events of one loop iteration at its most expensive: DrainStep, Choice, Heartbeat, Choice, Wait. */
export const WORST_ITERATION_EVENTS = 2 * HISTORY_EVENTS.task + 2 * HISTORY_EVENTS.choice + HISTORY_EVENTS.wait;

/** Continue in a new execution past this estimate: far from 25,000 so an unlucky run of retries still fits. */
export const HISTORY_EVENTS_BUDGET = 15_000;

/** @param budget events an execution may use (HISTORY_EVENTS_BUDGET unless configured lower). */
export function mustContinueAsNew(historyEvents: number, budget = HISTORY_EVENTS_BUDGET): boolean {
  return historyEvents + WORST_ITERATION_EVENTS > budget;
}
