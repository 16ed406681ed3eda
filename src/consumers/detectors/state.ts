/**
 * Bounded state for detectors: every per-subject map has a maximum size and
 * counts what it evicts; windows are fixed-size rings, never unbounded lists.
 */

interface LruNode<K, V> {
  key: K;
  value: V;
  prev: LruNode<K, V> | null;
  next: LruNode<K, V> | null;
}

/**
 * A Map with a size bound: least recently used entries are evicted (and
 * counted). Recency is a doubly-linked list through the entries, so a `get`
 * moves pointers instead of deleting and re-inserting the key (which costs two
 * hash operations and leaves a tombstone that forces the table to be rebuilt
 * every few thousand touches).
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, LruNode<K, V>>();
  /** Least recently used. */
  private head: LruNode<K, V> | null = null;
  /** Most recently used. */
  private tail: LruNode<K, V> | null = null;
  evicted = 0;

  constructor(
    readonly maxSize: number,
    /** Called with every entry evicted for room (not on delete or sweep). */
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new RangeError(`maxSize must be a positive integer, got ${maxSize}`);
  }

  get size(): number {
    return this.map.size;
  }

  private unlink(n: LruNode<K, V>): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = n.next = null;
  }

  private append(n: LruNode<K, V>): void {
    n.prev = this.tail;
    n.next = null;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
  }

  private touch(n: LruNode<K, V>): void {
    if (this.tail === n) return;
    this.unlink(n);
    this.append(n);
  }

  /** Get and mark as recently used. */
  get(key: K): V | undefined {
    const n = this.map.get(key);
    if (n === undefined) return undefined;
    this.touch(n);
    return n.value;
  }

  /** Get without touching recency. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): void {
    const n = this.map.get(key);
    if (n !== undefined) {
      n.value = value;
      this.touch(n);
      return;
    }
    if (this.map.size >= this.maxSize) this.evictOldest();
    const fresh: LruNode<K, V> = { key, value, prev: null, next: null };
    this.map.set(key, fresh);
    this.append(fresh);
  }

  private evictOldest(): void {
    const oldest = this.head;
    if (!oldest) return;
    this.unlink(oldest);
    this.map.delete(oldest.key);
    this.evicted++;
    this.onEvict?.(oldest.key, oldest.value);
  }

  /** The value for key, created (and possibly evicting another) when absent. */
  upsert(key: K, create: () => V): V {
    const n = this.map.get(key);
    if (n !== undefined) {
      this.touch(n);
      return n.value;
    }
    const fresh = create();
    this.set(key, fresh);
    return fresh;
  }

  delete(key: K): boolean {
    const n = this.map.get(key);
    if (n === undefined) return false;
    this.unlink(n);
    return this.map.delete(key);
  }

  /** Least recently used first. */
  *entries(): IterableIterator<[K, V]> {
    for (let n = this.head; n; n = n.next) yield [n.key, n.value];
  }

  /** Least recently used first. */
  *values(): IterableIterator<V> {
    for (let n = this.head; n; n = n.next) yield n.value;
  }

  /** The least recently used entry. */
  oldest(): [K, V] | undefined {
    return this.head ? [this.head.key, this.head.value] : undefined;
  }

  /** Remove entries the predicate selects (not counted as evictions: they expired). */
  sweep(expired: (value: V, key: K) => boolean): number {
    let n = 0;
    for (let node = this.head; node;) {
      const next = node.next;
      if (expired(node.value, node.key)) {
        this.unlink(node);
        this.map.delete(node.key);
        n++;
      }
      node = next;
    }
    return n;
  }
}

/**
 * Events in a sliding time window, counted in fixed buckets (a ring): memory is
 * `buckets` numbers whatever the rate. The ring is allocated on the first
 * non-zero add, so the many subjects that never see a given kind of event cost
 * a few fields, not an array each.
 */
export class WindowCounter {
  private counts: number[] | null = null;
  private readonly buckets: number;
  private readonly bucketUs: number;
  private headIndex = -1;
  total = 0;

  constructor(windowMs: number, buckets = 12) {
    this.buckets = buckets;
    this.bucketUs = Math.max(1, Math.floor((windowMs * 1000) / buckets));
  }

  private advance(timeUs: number): void {
    const index = Math.floor(timeUs / this.bucketUs);
    if (this.headIndex < 0) {
      this.headIndex = index;
      return;
    }
    if (index <= this.headIndex) return; // late events count in the current bucket
    const counts = this.counts;
    if (counts !== null) {
      const steps = Math.min(index - this.headIndex, this.buckets);
      for (let i = 1; i <= steps; i++) {
        const slot = (this.headIndex + i) % this.buckets;
        this.total -= counts[slot]!;
        counts[slot] = 0;
      }
    }
    this.headIndex = index;
  }

  add(timeUs: number, n = 1): number {
    this.advance(timeUs);
    const counts = (this.counts ??= new Array<number>(this.buckets).fill(0));
    counts[this.headIndex % this.buckets]! += n;
    this.total += n;
    return this.total;
  }

  /** The window's total as of `timeUs`. */
  value(timeUs: number): number {
    this.advance(timeUs);
    return this.total;
  }
}

/** Distinct values up to a cap: the count saturates at the cap (enough for thresholds below it). The set is allocated on the first add. */
export class CappedSet<T> {
  private set: Set<T> | null = null;
  constructor(readonly cap: number) {}

  add(value: T): void {
    const set = (this.set ??= new Set<T>());
    if (set.size < this.cap) set.add(value);
  }

  get size(): number {
    return this.set?.size ?? 0;
  }

  has(value: T): boolean {
    return this.set?.has(value) ?? false;
  }

  values(): T[] {
    return this.set ? [...this.set] : [];
  }
}

/** Keep at most `max` samples: the first ones (how it started). */
export function pushSample<T>(list: T[], sample: T, max: number): void {
  if (list.length < max) list.push(sample);
}
