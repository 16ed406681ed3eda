/**
 * The bus: sources publish events, consumers subscribe to the types they need.
 * Implementations are passed in (embedded now, NATS later), never module state.
 */
import type { EventType, ObserverEvent } from '../events/types.js';

export interface SubscribeOptions {
  /** Only these event types; all when omitted. */
  types?: readonly EventType[];
  /** Only events from these observers (node ids); all when omitted. */
  nodeIds?: readonly string[];
  /** Maximum events queued for this subscriber before new ones are dropped (and counted). */
  maxQueue?: number;
  /** Maximum estimated memory (bytes) of this subscriber's queued events; beyond it new ones are dropped (and counted). */
  maxQueueBytes?: number;
}

export interface Subscription extends AsyncIterable<ObserverEvent> {
  /** Resolves when the subscription ends (unsubscribe or bus closed). */
  readonly closed: Promise<void>;
  /** Events delivered to the iterator so far. */
  readonly received: number;
  /** Events dropped because this subscriber's queue was full. */
  readonly dropped: number;
  unsubscribe(): void;
}

export interface Bus {
  publish(event: ObserverEvent): void;
  subscribe(options?: SubscribeOptions): Subscription;
  /** Wait until every subscriber has taken what is queued for it. */
  drain(): Promise<void>;
  close(): Promise<void>;
}
