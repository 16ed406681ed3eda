/**
 * The embedded bus: in-process, zero set-up.
 *
 * `publish` is synchronous and never waits for a consumer: each subscriber has a
 * bounded FIFO, and an event that finds it full is dropped and counted. Filtering
 * happens at subscribe time (an index from event type to subscribers), so a
 * consumer never sees, and the bus never copies, events it did not ask for.
 *
 * Closing: `close()` refuses new events (counted as `rejected`), lets every
 * subscriber take what is already queued, then ends their iterators.
 */
import { EVENT_TYPES, type EventType, type ObserverEvent } from '../events/types.js';
import type { Bus, SubscribeOptions, Subscription } from './bus.js';

export const DEFAULT_MAX_QUEUE = 100_000;

export interface EmbeddedBusOptions {
  /** Queue bound for subscribers that do not give their own `maxQueue`. */
  maxQueue?: number;
}

export interface SubscriberStats {
  id: number;
  /** The types subscribed to, or `null` for all. */
  types: EventType[] | null;
  maxQueue: number;
  queued: number;
  received: number;
  dropped: number;
  /** Events still queued when the subscriber unsubscribed. */
  discarded: number;
}

export interface BusStats {
  /** Events accepted by `publish`. */
  published: number;
  /** Events taken by subscribers' iterators, all subscribers summed. */
  delivered: number;
  /** Events dropped because a subscriber's queue was full, all subscribers summed. */
  dropped: number;
  /** Events still queued when their subscriber unsubscribed, all subscribers summed. */
  discarded: number;
  /** Events published after `close()`: refused, counted. */
  rejected: number;
  /** Events queued right now, all subscribers summed. */
  queued: number;
  subscribers: SubscriberStats[];
}

/** A FIFO over a plain array with a moving head: O(1) push and shift, compacted as it drains. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

class EmbeddedSubscription implements Subscription, AsyncIterator<ObserverEvent> {
  private readonly queue = new Fifo<ObserverEvent>();
  private waiter: ((r: IteratorResult<ObserverEvent>) => void) | undefined;
  private emptyWaiters: (() => void)[] = [];
  /** No more events will be queued; the iterator ends once the queue is empty. */
  private ending = false;
  private done = false;
  private resolveClosed!: () => void;
  readonly closed: Promise<void>;
  received = 0;
  dropped = 0;
  discarded = 0;

  constructor(
    readonly id: number,
    readonly types: EventType[] | null,
    readonly maxQueue: number,
    private readonly onEnd: (s: EmbeddedSubscription) => void,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Called by the bus; never blocks. Returns false when the event was dropped. */
  offer(event: ObserverEvent): boolean {
    if (this.ending) return false;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.received++;
      w({ value: event, done: false });
      return true;
    }
    if (this.queue.length >= this.maxQueue) {
      this.dropped++;
      return false;
    }
    this.queue.push(event);
    return true;
  }

  next(): Promise<IteratorResult<ObserverEvent>> {
    const event = this.queue.shift();
    if (event !== undefined) {
      this.received++;
      if (this.queue.length === 0) this.notifyEmpty();
      return Promise.resolve({ value: event, done: false });
    }
    this.notifyEmpty();
    if (this.ending) {
      this.finish();
      return Promise.resolve({ value: undefined, done: true });
    }
    if (this.waiter) return Promise.reject(new Error('subscription: next() called while a previous next() is pending'));
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** `break` in a for-await loop ends the subscription. */
  return(): Promise<IteratorResult<ObserverEvent>> {
    this.unsubscribe();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<ObserverEvent> {
    return this;
  }

  /** Stop now: what is still queued is discarded (it was never promised to anyone else). */
  unsubscribe(): void {
    if (this.done) return;
    this.ending = true;
    this.discarded += this.queue.length;
    this.queue.clear();
    this.finish();
  }

  /** Stop accepting events; the iterator ends after the queue is taken. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    if (this.queue.length === 0) this.finish();
  }

  /** Resolves once the subscriber has taken everything queued (or the subscription ended). */
  whenEmpty(): Promise<void> {
    if (this.queue.length === 0 || this.done) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  stats(): SubscriberStats {
    return {
      id: this.id,
      types: this.types,
      maxQueue: this.maxQueue,
      queued: this.queued,
      received: this.received,
      dropped: this.dropped,
      discarded: this.discarded,
    };
  }

  private notifyEmpty(): void {
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const w of waiters) w();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.notifyEmpty();
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
    this.onEnd(this);
    this.resolveClosed();
  }
}

export class EmbeddedBus implements Bus {
  private readonly byType = new Map<EventType, Set<EmbeddedSubscription>>(EVENT_TYPES.map((t) => [t, new Set()]));
  private readonly all = new Set<EmbeddedSubscription>();
  private readonly live = new Set<EmbeddedSubscription>();
  private readonly defaultMaxQueue: number;
  private nextId = 1;
  private isClosed = false;
  private published = 0;
  private rejected = 0;
  /** Counts from subscriptions that have ended, so totals never go down. */
  private endedReceived = 0;
  private endedDropped = 0;
  private endedDiscarded = 0;

  constructor(options: EmbeddedBusOptions = {}) {
    this.defaultMaxQueue = checkMaxQueue(options.maxQueue ?? DEFAULT_MAX_QUEUE);
  }

  get isClosing(): boolean {
    return this.isClosed;
  }

  publish(event: ObserverEvent): void {
    if (this.isClosed) {
      this.rejected++;
      return;
    }
    this.published++;
    const typed = this.byType.get(event.type);
    if (typed) for (const s of typed) s.offer(event);
    for (const s of this.all) s.offer(event);
  }

  subscribe(options: SubscribeOptions = {}): Subscription {
    const types = options.types ? [...new Set(options.types)] : null;
    if (types) {
      for (const t of types) if (!this.byType.has(t)) throw new Error(`subscribe: unknown event type '${t}'`);
    }
    const sub = new EmbeddedSubscription(this.nextId++, types, checkMaxQueue(options.maxQueue ?? this.defaultMaxQueue), (s) =>
      this.remove(s),
    );
    this.live.add(sub);
    if (types) for (const t of types) this.byType.get(t)!.add(sub);
    else this.all.add(sub);
    if (this.isClosed) sub.end();
    return sub;
  }

  async drain(): Promise<void> {
    await Promise.all([...this.live].map((s) => s.whenEmpty()));
  }

  async close(): Promise<void> {
    this.isClosed = true;
    const subs = [...this.live];
    for (const s of subs) s.end();
    await Promise.all(subs.map((s) => s.closed));
  }

  stats(): BusStats {
    const subscribers = [...this.live].map((s) => s.stats());
    let delivered = this.endedReceived;
    let dropped = this.endedDropped;
    let discarded = this.endedDiscarded;
    let queued = 0;
    for (const s of subscribers) {
      delivered += s.received;
      dropped += s.dropped;
      discarded += s.discarded;
      queued += s.queued;
    }
    return { published: this.published, delivered, dropped, discarded, rejected: this.rejected, queued, subscribers };
  }

  private remove(sub: EmbeddedSubscription): void {
    if (!this.live.delete(sub)) return;
    this.endedReceived += sub.received;
    this.endedDropped += sub.dropped;
    this.endedDiscarded += sub.discarded;
    if (sub.types) for (const t of sub.types) this.byType.get(t)?.delete(sub);
    else this.all.delete(sub);
  }
}

function checkMaxQueue(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`maxQueue must be a positive integer, was ${n}`);
  return n;
}

/** Flat counters for a `pipeline.counters` event (stage `bus`). */
export function busCounters(stats: BusStats): Record<string, number> {
  const out: Record<string, number> = {
    published: stats.published,
    delivered: stats.delivered,
    dropped: stats.dropped,
    discarded: stats.discarded,
    rejected: stats.rejected,
    queued: stats.queued,
  };
  for (const s of stats.subscribers) {
    out[`sub${s.id}.queued`] = s.queued;
    out[`sub${s.id}.received`] = s.received;
    out[`sub${s.id}.dropped`] = s.dropped;
  }
  return out;
}
