/** Bounded caches: least recently used entries go first (Map keeps insertion order; a hit re-inserts). */

export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  evicted = 0;
  constructor(readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      this.map.delete(this.map.keys().next().value as K);
      this.evicted++;
    }
  }

  clear(): void {
    this.map.clear();
  }
}

/** An LRU of byte arrays bounded by their total length; an entry larger than the bound is not kept. */
export class LruBytes<K> {
  private readonly map = new Map<K, Uint8Array>();
  bytes = 0;
  evicted = 0;
  constructor(readonly capacityBytes: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): Uint8Array | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: Uint8Array): void {
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.length;
      this.map.delete(key);
    }
    if (value.length > this.capacityBytes) return;
    this.map.set(key, value);
    this.bytes += value.length;
    while (this.bytes > this.capacityBytes) {
      const [k, v] = this.map.entries().next().value as [K, Uint8Array];
      this.map.delete(k);
      this.bytes -= v.length;
      this.evicted++;
    }
  }
}
