import { Clock, systemClock } from '../lambda/core/clock';

/** A clock that can also run a callback at a given moment: what the fake API server needs. */
export interface SimClock extends Clock {
  /** Runs `fn` at time `at` (ms since the epoch). Returns a function that cancels it. */
  schedule(at: number, fn: () => void): () => void;
}

/** Wall time: for tests that drive real binaries such as kubectl. */
export class RealSimClock implements SimClock {
  now(): number {
    return Date.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }

  schedule(at: number, fn: () => void): () => void {
    const timer = setTimeout(fn, Math.max(0, at - Date.now()));
    // Simulated pod lifecycles must not keep a finished test process alive.
    timer.unref();
    return () => clearTimeout(timer);
  }
}

interface Timer {
  at: number;
  /** Insertion order: timers due at the same moment fire first-come first-served. */
  seq: number;
  fire: () => void;
}

/**
 * Virtual time. It only moves when a test calls `advanceTo`/`advanceBy`, or,
 * with `autoAdvance`, when the process looks idle while some code sleeps.
 *
 * Auto-advance exists for product code that waits *inside* a call (a drain
 * round that watches pods for up to a minute): the test cannot step the clock
 * between the awaits it does not see. The idleness heuristic is:
 *   - at least one `sleep()` is pending (someone waits for time to pass),
 *   - no `hold()` token is held (the fake API server holds one per request
 *     from arrival until its response is written, and per watch event until
 *     it is flushed),
 *   - the event loop has settled: several setImmediate turns and a
 *     setTimeout(0) produced no new timer, hold or release.
 * Its limits: work that is invisible to this clock can be cut short by a
 * jump. Bytes still travelling through the kernel between a client and the
 * fake server, a child process computing, a real `setTimeout` longer than a
 * tick or a file read that takes longer than the settle rounds are all
 * "idle" to it. Code under test must use the injected clock for every wait,
 * and talk only to servers that hold the clock while busy.
 */
export class VirtualClock implements SimClock {
  private current: number;
  private readonly autoAdvance: boolean;
  private timers: Timer[] = [];
  private seq = 0;
  private pendingSleeps = 0;
  private holds = 0;
  /** Bumped on every change a settle round must wait out. */
  private activity = 0;
  private advancing = false;
  private autoLoopRunning = false;

  constructor(startMs = Date.parse('2026-01-01T00:00:00Z'), opts: { autoAdvance?: boolean } = {}) {
    this.current = startMs;
    this.autoAdvance = opts.autoAdvance ?? false;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted || ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        cancel();
        this.pendingSleeps--;
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      const cancel = this.addTimer(this.current + ms, finish);
      this.pendingSleeps++;
      signal?.addEventListener('abort', finish, { once: true });
      this.kickAutoAdvance();
    });
  }

  schedule(at: number, fn: () => void): () => void {
    return this.addTimer(at, fn);
  }

  /** Fires every timer due up to `t`, each at its own moment, letting the process settle after each. */
  async advanceTo(t: number): Promise<void> {
    this.advancing = true;
    try {
      for (;;) {
        const next = this.timers[0];
        if (!next || next.at > t) break;
        this.fireNext();
        await this.settle();
      }
      this.current = Math.max(this.current, t);
    } finally {
      this.advancing = false;
    }
    this.kickAutoAdvance();
  }

  advanceBy(ms: number): Promise<void> {
    return this.advanceTo(this.current + ms);
  }

  /** A busy token: while any is held, auto-advance does not move time. Call the result to release it. */
  hold(): () => void {
    this.holds++;
    this.activity++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.activity++;
      this.kickAutoAdvance();
    };
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  nextTimerAt(): number | undefined {
    return this.timers[0]?.at;
  }

  /** Lets promise chains and loopback I/O run until a round brings nothing new. */
  async settle(maxRounds = 50): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      const before = this.activity;
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
      await new Promise<void>((r) => setTimeout(r, 0));
      if (this.activity === before) return;
    }
  }

  private addTimer(at: number, fire: () => void): () => void {
    const timer: Timer = { at: Math.max(at, this.current), seq: this.seq++, fire };
    const index = this.timers.findIndex((t) => t.at > timer.at);
    this.timers.splice(index < 0 ? this.timers.length : index, 0, timer);
    this.activity++;
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) {
        this.timers.splice(i, 1);
        this.activity++;
      }
    };
  }

  private fireNext(): void {
    const timer = this.timers.shift()!;
    this.current = Math.max(this.current, timer.at);
    this.activity++;
    timer.fire();
  }

  private kickAutoAdvance(): void {
    if (!this.autoAdvance || this.autoLoopRunning) return;
    this.autoLoopRunning = true;
    void this.autoAdvanceLoop().finally(() => {
      this.autoLoopRunning = false;
      // A release or a new sleep may have arrived while the loop was leaving.
      if (this.canAutoAdvance()) this.kickAutoAdvance();
    });
  }

  private canAutoAdvance(): boolean {
    return this.pendingSleeps > 0 && this.holds === 0 && !this.advancing;
  }

  private async autoAdvanceLoop(): Promise<void> {
    while (this.canAutoAdvance()) {
      const before = this.activity;
      await this.settle();
      // Something happened while settling: look again before jumping.
      if (this.activity !== before) continue;
      if (!this.canAutoAdvance() || this.timers.length === 0) return;
      this.fireNext();
    }
  }
}
