/**
 * Bounds how often a repetitive message is logged: per key, at most `burst` messages, then one
 * per `intervalMs`; `allow` returns how many were suppressed since the last allowed one, or
 * -1 when this one is suppressed. Keys are bounded (oldest forgotten).
 */
export class RateLimiter {
  private readonly state = new Map<string, { tokens: number; last: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 10_000,
    private readonly burst = 3,
    private readonly maxKeys = 1024,
    private readonly now: () => number = Date.now,
  ) {}

  allow(key: string): number {
    const t = this.now();
    let s = this.state.get(key);
    if (!s) {
      if (this.state.size >= this.maxKeys) this.state.delete(this.state.keys().next().value as string);
      s = { tokens: this.burst, last: t, suppressed: 0 };
      this.state.set(key, s);
    }
    const refill = Math.floor((t - s.last) / this.intervalMs);
    if (refill > 0) {
      s.tokens = Math.min(this.burst, s.tokens + refill);
      s.last = t;
    }
    if (s.tokens <= 0) {
      s.suppressed++;
      return -1;
    }
    s.tokens--;
    const n = s.suppressed;
    s.suppressed = 0;
    return n;
  }
}
