/**
 * How long the workflow waits between drain rounds. Each round already
 * watches the node for up to a minute, so the wait only has to balance how
 * soon we notice a pod that finished early against what polling costs
 * (Step Functions bills per state transition).
 *
 * - Waits grow with the drain's age: a twentieth of the time already spent,
 *   so a pod that ends early is noticed within ~5% of its runtime; from
 *   MIN_WAIT up to MAX_WAIT (10 min). The same holds for pods a PDB holds
 *   back: a drain that is moving is watched inside each round instead (see
 *   DrainRoundOptions.watch), and one blocked for hours gains nothing from
 *   polling more often than every 10 minutes.
 * - A terminating pod whose grace period ends sooner is met LEAD before its end,
 *   so the next round's watch sees it go.
 */
import { clamp } from './deadline';

export const MIN_WAIT_MS = 5_000;
export const MAX_WAIT_MS = 600_000;
export const LEAD_MS = 5_000;
/** Wait about 1/AGE_DIVISOR of the drain's age. */
export const AGE_DIVISOR = 20;

export interface PacingInput {
  now: number;
  /** When the lifecycle action started (ms epoch). */
  startedAt: number;
  /** Earliest end of a terminating pod's grace period (ms epoch), if any pod is terminating. */
  earliestExpectedEnd?: number;
}

export function nextPollDelayMs(input: PacingInput): number {
  const age = Math.max(0, input.now - input.startedAt);
  let delay = clamp(age / AGE_DIVISOR, MIN_WAIT_MS, MAX_WAIT_MS);
  if (input.earliestExpectedEnd !== undefined) {
    delay = Math.min(delay, input.earliestExpectedEnd - LEAD_MS - input.now);
  }
  return Math.max(MIN_WAIT_MS, Math.round(delay));
}
