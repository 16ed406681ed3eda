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
import { DEFAULT_MAX_QUEUE_BYTES, QueuedSubscription, type SubscriberStats } from './queue.js';

export const DEFAULT_MAX_QUEUE = 100_000;

export interface EmbeddedBusOptions {
  /** Queue bound for subscribers that do not give their own `maxQueue`. */
  maxQueue?: number;
}

export type { SubscriberStats };

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

export class EmbeddedBus implements Bus {
  private readonly byType = new Map<EventType, Set<QueuedSubscription>>(EVENT_TYPES.map((t) => [t, new Set()]));
  private readonly all = new Set<QueuedSubscription>();
  private readonly live = new Set<QueuedSubscription>();
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
    const sub = new QueuedSubscription(
      this.nextId++,
      types,
      checkMaxQueue(options.maxQueue ?? this.defaultMaxQueue),
      (s) => this.remove(s),
      options.nodeIds?.length ? new Set(options.nodeIds) : null,
      checkMaxQueue(options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES),
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

  private remove(sub: QueuedSubscription): void {
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
