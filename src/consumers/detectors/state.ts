/**
 * Bounded state for detectors: every per-subject map has a maximum size and
 * counts what it evicts; windows are fixed-size rings, never unbounded lists.
 */

/** A Map with a size bound: least recently used entries are evicted (and counted). */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  evicted = 0;

  constructor(readonly maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new RangeError(`maxSize must be a positive integer, got ${maxSize}`);
  }

  get size(): number {
    return this.map.size;
  }

  /** Get and mark as recently used. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Get without touching recency. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.maxSize) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
      this.evicted++;
    }
    this.map.set(key, value);
  }

  /** The value for key, created (and possibly evicting another) when absent. */
  upsert(key: K, create: () => V): V {
    const v = this.get(key);
    if (v !== undefined) return v;
    const fresh = create();
    this.set(key, fresh);
    return fresh;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  /** Remove entries the predicate selects (not counted as evictions: they expired). */
  sweep(expired: (value: V, key: K) => boolean): number {
    let n = 0;
    for (const [k, v] of this.map) {
      if (expired(v, k)) {
        this.map.delete(k);
        n++;
      }
    }
    return n;
  }
}

/**
 * Events in a sliding time window, counted in fixed buckets (a ring): memory is
 * `buckets` numbers whatever the rate.
 */
export class WindowCounter {
  private readonly counts: Float64Array;
  private readonly bucketUs: number;
  private headIndex = -1;
  total = 0;

  constructor(windowMs: number, buckets = 12) {
    this.counts = new Float64Array(buckets);
    this.bucketUs = Math.max(1, Math.floor((windowMs * 1000) / buckets));
  }

  private advance(timeUs: number): void {
    const index = Math.floor(timeUs / this.bucketUs);
    if (this.headIndex < 0) {
      this.headIndex = index;
      return;
    }
    if (index <= this.headIndex) return; // late events count in the current bucket
    const steps = Math.min(index - this.headIndex, this.counts.length);
    for (let i = 1; i <= steps; i++) {
      const slot = (this.headIndex + i) % this.counts.length;
      this.total -= this.counts[slot]!;
      this.counts[slot] = 0;
    }
    this.headIndex = index;
  }

  add(timeUs: number, n = 1): number {
    this.advance(timeUs);
    this.counts[this.headIndex % this.counts.length]! += n;
    this.total += n;
    return this.total;
  }

  /** The window's total as of `timeUs`. */
  value(timeUs: number): number {
    this.advance(timeUs);
    return this.total;
  }
}

/** Distinct values up to a cap: the count saturates at the cap (enough for thresholds below it). */
export class CappedSet<T> {
  private readonly set = new Set<T>();
  constructor(readonly cap: number) {}

  add(value: T): void {
    if (this.set.size < this.cap) this.set.add(value);
  }

  get size(): number {
    return this.set.size;
  }

  has(value: T): boolean {
    return this.set.has(value);
  }

  values(): T[] {
    return [...this.set];
  }
}

/** Keep at most `max` samples: the first ones (how it started). */
export function pushSample<T>(list: T[], sample: T, max: number): void {
  if (list.length < max) list.push(sample);
}
