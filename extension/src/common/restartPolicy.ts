// When a crashed server is started again: with growing delays, and not at all once it has
// crashed too often in a short window (a server that dies at start would otherwise loop
// forever, burning CPU and flooding the log). Pure, so the policy is unit-tested.

export interface RestartDecision {
  restart: boolean;
  delayMs: number;
  attempt: number;
}

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    readonly maxRestarts = 5,
    readonly windowMs = 3 * 60_000,
    readonly baseDelayMs = 500,
    readonly maxDelayMs = 8_000,
  ) {}

  /** Record a crash at `now` and decide what to do about it. */
  onCrash(now: number): RestartDecision {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    const attempt = this.crashes.length;
    if (attempt > this.maxRestarts) {
      return { restart: false, delayMs: 0, attempt };
    }
    const delayMs = Math.min(this.baseDelayMs * 2 ** (attempt - 1), this.maxDelayMs);
    return { restart: true, delayMs, attempt };
  }

  /** A deliberate restart (user command, new interpreter) starts with a clean slate. */
  reset(): void {
    this.crashes = [];
  }
}
