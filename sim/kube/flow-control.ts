/**
 * API Priority and Fairness, reduced to what a drain at scale meets: the
 * priority level its requests land in has a fixed number of seats
 * (concurrency shares of the server's --max-requests-inflight +
 * --max-mutating-requests-inflight), requests beyond them wait in queues of
 * bounded length, and a request that finds the queues full is rejected at
 * once with 429 and `Retry-After` (staging/src/k8s.io/apiserver/pkg/server/
 * filters/priority-and-fairness.go). A WATCH holds a seat only until it has
 * sent its initial events, as in APF.
 *
 * Our Lambdas authenticate as one IAM role mapped to a user in our group; no
 * suggested FlowSchema matches it but `global-default` (priority level
 * global-default: 20 of the 245 nominal shares of 600 seats ≈ 49 seats;
 * 128 queues of 50, hand size 6: one flow, the user, reaches at most 6 queues).
 */
export interface FlowControlOptions {
  /** Requests served at once. @default 49 (global-default's share of 600 seats) */
  seats?: number;
  /** Requests that may wait for a seat; more are rejected with 429. @default 300 (6 queues × 50) */
  queueLength?: number;
  /** Sent as Retry-After on a rejection. @default 1 */
  retryAfterSeconds?: number;
}

export class FlowControl {
  readonly seats: number;
  readonly queueLength: number;
  readonly retryAfterSeconds: number;
  inFlight = 0;
  peakInFlight = 0;
  peakQueued = 0;
  rejected = 0;
  private readonly queue: Array<() => void> = [];

  constructor(opts: FlowControlOptions = {}) {
    this.seats = opts.seats ?? 49;
    this.queueLength = opts.queueLength ?? 300;
    this.retryAfterSeconds = opts.retryAfterSeconds ?? 1;
  }

  /** A seat (call the result to give it back, any number of times), or undefined when the queues are full. */
  async acquire(): Promise<(() => void) | undefined> {
    if (this.inFlight < this.seats) {
      this.inFlight++;
      this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    } else if (this.queue.length >= this.queueLength) {
      this.rejected++;
      return undefined;
    } else {
      // The seat is handed over by the request that frees it.
      await new Promise<void>((resolve) => {
        this.queue.push(resolve);
        this.peakQueued = Math.max(this.peakQueued, this.queue.length);
      });
    }
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const next = this.queue.shift();
      if (next) next();
      else this.inFlight--;
    };
  }
}
