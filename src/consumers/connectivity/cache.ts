/**
 * A bounded LRU map with a time-to-live: at most `maxEntries` entries (the least
 * recently used goes first), each forgotten `ttlMs` after it was set. Used for
 * connectivity results and per-source-peer counts, whose keys are attacker-chosen.
 */
export class LruTtlCache<K, V> {
  private readonly map = new Map<K, { value: V; expiresAt: number }>();
  /** Entries pushed out by the size bound (not by age). */
  evicted = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1');
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    // Most recently used goes to the end.
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, { value, expiresAt: this.now() + this.ttlMs });
    while (this.map.size > this.maxEntries) {
      this.map.delete(this.map.keys().next().value as K);
      this.evicted++;
    }
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  /** Live entries, least recently used first. */
  *entries(): IterableIterator<[K, V]> {
    const now = this.now();
    for (const [k, e] of this.map) if (e.expiresAt > now) yield [k, e.value];
  }
}
