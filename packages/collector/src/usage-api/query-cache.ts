/**
 * Cache-aside with a TTL and single flight (as Convoy's usage API): the first request for a key runs the query;
 * identical requests arriving while it runs wait for the same promise; a success is then served from memory for
 * `ttlMs`. Failures are never cached — the next request tries again. Bounded: beyond `maxEntries`, or beyond
 * `maxBytes` (with `sizeOf`), the oldest entries are dropped; a value larger than `maxBytes` is not kept.
 */

export type CacheOutcome = 'miss' | 'hit' | 'coalesced';

export interface CacheCounts {
  /** Queries actually run. */
  readonly miss: number;
  /** Answers served from the cache. */
  readonly hit: number;
  /** Requests that waited for a query another request had started. */
  readonly coalesced: number;
}

export class SingleFlightCache<T> {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly sizeOf: (value: T) => number;
  private readonly now: () => number;
  private readonly done = new Map<string, { value: T; expiresAt: number; size: number }>();
  private bytes = 0;
  private readonly inFlight = new Map<string, Promise<T>>();
  private readonly counts = { miss: 0, hit: 0, coalesced: 0 };

  constructor(options: {
    ttlMs: number;
    maxEntries?: number;
    maxBytes?: number;
    sizeOf?: (value: T) => number;
    now?: () => number;
  }) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? 1_000;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.sizeOf = options.sizeOf ?? (() => 0);
    this.now = options.now ?? Date.now;
  }

  /** The value for `key`: cached, shared with a running load, or loaded now. */
  async get(key: string, load: () => Promise<T>): Promise<{ value: T; outcome: CacheOutcome }> {
    const cached = this.done.get(key);
    if (cached !== undefined) {
      if (cached.expiresAt > this.now()) {
        this.counts.hit++;
        return { value: cached.value, outcome: 'hit' };
      }
      this.forget(key);
    }
    const running = this.inFlight.get(key);
    if (running !== undefined) {
      this.counts.coalesced++;
      return { value: await running, outcome: 'coalesced' };
    }
    this.counts.miss++;
    const flight = (async () => load())();
    this.inFlight.set(key, flight);
    try {
      const value = await flight;
      if (this.ttlMs > 0) this.remember(key, value);
      return { value, outcome: 'miss' };
    } finally {
      this.inFlight.delete(key);
    }
  }

  stats(): CacheCounts {
    return { ...this.counts };
  }

  private remember(key: string, value: T) {
    this.forget(key);
    const size = this.sizeOf(value);
    if (size > this.maxBytes) return;
    this.done.set(key, { value, expiresAt: this.now() + this.ttlMs, size });
    this.bytes += size;
    while (this.done.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.done.keys().next();
      if (oldest.done === true) break;
      this.forget(oldest.value);
    }
  }

  private forget(key: string) {
    const entry = this.done.get(key);
    if (entry === undefined) return;
    this.done.delete(key);
    this.bytes -= entry.size;
  }
}
