/**
 * The last events seen, for /api/events: a ring bounded both by count and by an
 * estimate of the memory the events hold (a 1000-entry addr summary is far
 * bigger than a ping), oldest dropped first.
 */
import type { Bus, Subscription } from '../../bus/bus.js';
import type { EventType, ObserverEvent } from '../../events/types.js';
import { summaryOf } from '../../events/message-summary.js';

export interface RecentEventsOptions {
  /** Most events kept. Default 1,000. */
  maxEvents?: number;
  /** Most (estimated) bytes kept. Default 16 MiB. */
  maxBytes?: number;
}

/** A cheap upper-ish estimate of an event's footprint: a base plus what its payload carries. */
export function estimateBytes(event: ObserverEvent): number {
  if (event.type === 'message') {
    const d = event.data;
    // addr/addrv2 summaries carry every entry (~250 bytes of objects each); others are bounded summaries.
    const entries = d.known && (d.command === 'addr' || d.command === 'addrv2') ? (summaryOf(d)?.entries.length ?? 0) : 0;
    return 600 + entries * 250 + (event.data.raw?.length ?? 0);
  }
  if (event.type === 'alert' || event.type === 'incident' || event.type === 'pipeline.counters' || event.type === 'node.status')
    return 4000;
  return 500;
}

export class RecentEvents {
  private ring: (ObserverEvent | undefined)[];
  private sizes: number[];
  private head = 0;
  private count = 0;
  private bytes = 0;
  private readonly maxBytes: number;
  /** Events pushed out to stay within the bounds. */
  evicted = 0;

  constructor(options: RecentEventsOptions = {}) {
    const max = options.maxEvents ?? 1_000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxEvents must be a positive integer');
    this.ring = new Array<ObserverEvent | undefined>(max);
    this.sizes = new Array<number>(max).fill(0);
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  }

  get length(): number {
    return this.count;
  }

  push(event: ObserverEvent): void {
    const size = estimateBytes(event);
    if (this.count === this.ring.length) this.dropOldest();
    while (this.count > 0 && this.bytes + size > this.maxBytes) this.dropOldest();
    const at = (this.head + this.count) % this.ring.length;
    this.ring[at] = event;
    this.sizes[at] = size;
    this.bytes += size;
    this.count++;
  }

  /** Newest first, at most `limit`, only `types` when given. */
  latest(limit: number, types?: ReadonlySet<EventType>): ObserverEvent[] {
    const out: ObserverEvent[] = [];
    for (let i = this.count - 1; i >= 0 && out.length < limit; i--) {
      const e = this.ring[(this.head + i) % this.ring.length]!;
      if (!types || types.has(e.type)) out.push(e);
    }
    return out;
  }

  private dropOldest(): void {
    this.bytes -= this.sizes[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    this.evicted++;
  }
}

export interface RecentEventsConsumer {
  recent: RecentEvents;
  subscription: Subscription;
  done: Promise<void>;
}

/** Keep the latest events of every type (the ring is the point: it reads everything). */
export function startRecentEvents(bus: Bus, options: RecentEventsOptions & { nodeIds?: readonly string[] } = {}): RecentEventsConsumer {
  const recent = new RecentEvents(options);
  const subscription = bus.subscribe(options.nodeIds ? { nodeIds: options.nodeIds } : {});
  const done = (async () => {
    for await (const event of subscription) recent.push(event);
  })();
  return { recent, subscription, done };
}
