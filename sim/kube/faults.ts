/** Failures the fake API server injects before it handles a request. */
export interface FaultSpec {
  method?: string;
  /** Matched against the path without the query string. */
  path?: RegExp;
  /** Only watches (`watch=true`), or only requests that are not watches. */
  watch?: boolean;
  /**
   * An HTTP error with a Status body; 'reset': the socket is destroyed without
   * a response; 'hang': no response at all, until the client gives up.
   * 403: what RBAC (or an admission webhook) answers when it denies the
   * request, with the API server's "… is forbidden: User … cannot …" message.
   */
  status: 403 | 429 | 500 | 503 | 'reset' | 'hang';
  /** With 403: the user named in the message. @default an assumed Lambda role */
  user?: string;
  /**
   * With 429: answer as the eviction API does for a PDB without budget (a
   * DisruptionBudget cause naming this PDB) rather than as API throttling,
   * e.g. to play a budget spent by someone else between our read and our eviction.
   */
  disruptionBudget?: string;
  /** How many requests fail; unlimited when absent. */
  times?: number;
  /** Fraction (0..1) of matching requests that fail, drawn from a seeded PRNG so runs repeat. */
  rate?: number;
  /** Sent as the Retry-After header and as details.retryAfterSeconds. */
  retryAfterSeconds?: number;
}

/** mulberry32: small, fast, and the same sequence on every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultInjector {
  private faults: Array<FaultSpec & { remaining: number }> = [];
  private random = seededRandom(42);

  add(fault: FaultSpec): void {
    this.faults.push({ ...fault, remaining: fault.times ?? Infinity });
  }

  clear(): void {
    this.faults = [];
    this.random = seededRandom(42);
  }

  /** The first fault that fires for this request, consuming one of its `times`. */
  pick(method: string, path: string, isWatch = false): FaultSpec | undefined {
    for (const fault of this.faults) {
      if (fault.remaining <= 0) continue;
      if (fault.watch !== undefined && fault.watch !== isWatch) continue;
      if (fault.method && fault.method.toUpperCase() !== method) continue;
      if (fault.path && !fault.path.test(path)) continue;
      if (fault.rate !== undefined && this.random() >= fault.rate) continue;
      fault.remaining--;
      return fault;
    }
    return undefined;
  }
}
