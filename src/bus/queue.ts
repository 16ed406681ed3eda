/**
 * A subscription backed by a bounded FIFO: the bus offers events without ever
 * waiting, the consumer takes them by async iteration. When the queue is full
 * the event is dropped and counted. Shared by every Bus implementation.
 *
 * The queue is bounded twice: by a count of events, and by an estimate of the
 * memory they hold. A count alone is not a memory bound: one message event for a
 * 1000-entry addr carries every entry, so 100,000 of them queued behind a stalled
 * consumer would be gigabytes.
 */
import type { EventType, ObserverEvent } from '../events/types.js';
import type { Subscription } from './bus.js';

/** Default bound on the estimated memory held by one subscriber's queue. */
export const DEFAULT_MAX_QUEUE_BYTES = 256 * 1024 * 1024;

/**
 * Rough in-memory size of an event, O(1): a fixed envelope cost, plus, for
 * events that carry a payload, a multiple of its wire size (a decoded summary
 * takes several times the bytes it came from) and any raw copy. An estimate that
 * errs on the large side is what a bound needs.
 */
export function estimateEventBytes(event: ObserverEvent): number {
  if (event.type === 'message') return 512 + 4 * event.data.size + (event.data.raw?.length ?? 0);
  if (event.type === 'violation') return 512 + (event.data.raw?.length ?? 0);
  return 512;
}

export interface SubscriberStats {
  id: number;
  /** The types subscribed to, or `null` for all. */
  types: EventType[] | null;
  maxQueue: number;
  queued: number;
  /** Estimated memory held by the queued events (estimateEventBytes). */
  queuedBytes: number;
  received: number;
  dropped: number;
  /** Events still queued when the subscriber unsubscribed. */
  discarded: number;
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

export class QueuedSubscription implements Subscription, AsyncIterator<ObserverEvent> {
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
  private queuedBytes = 0;

  constructor(
    readonly id: number,
    readonly types: EventType[] | null,
    readonly maxQueue: number,
    private readonly onEnd: (s: QueuedSubscription) => void,
    /** Only events from these observers; all when null. */
    readonly nodeIds: ReadonlySet<string> | null = null,
    readonly maxQueueBytes: number = DEFAULT_MAX_QUEUE_BYTES,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Called by the bus; never blocks. Returns false when the event was dropped. */
  offer(event: ObserverEvent): boolean {
    if (this.ending) return false;
    if (this.nodeIds && !this.nodeIds.has(event.nodeId)) return true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.received++;
      w({ value: event, done: false });
      return true;
    }
    const bytes = estimateEventBytes(event);
    // An empty queue always takes one event, however large: the bound is on what waits.
    if (this.queue.length >= this.maxQueue || (this.queue.length > 0 && this.queuedBytes + bytes > this.maxQueueBytes)) {
      this.dropped++;
      return false;
    }
    this.queue.push(event);
    this.queuedBytes += bytes;
    return true;
  }

  next(): Promise<IteratorResult<ObserverEvent>> {
    const event = this.queue.shift();
    if (event !== undefined) {
      this.queuedBytes -= estimateEventBytes(event);
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
    this.queuedBytes = 0;
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
      queuedBytes: this.queuedBytes,
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
