/**
 * One durable consumer shared by every consumer of a process (docs/bus.md,
 * "Durable consumers"): `run --nats` in JetStream mode reads the stream once,
 * through a DurableConsumer named `run-<--consumer-name>`, and hands each event
 * to its in-process consumers (detectors and alerts, metrics, the peers table,
 * the dashboard's feed, the connectivity check) on a local embedded bus, each
 * with the filters it subscribed with.
 *
 * A message is acknowledged only when its work is done: after at most
 * `settleEvents` events (or when nothing more is waiting), the pump waits until
 * every local subscriber has taken what was handed to it and one macrotask has
 * passed (their loop bodies have run), then acknowledges through the last
 * event. Since the pump waits, a local queue holds at most `settleEvents`
 * events and never drops one for being full (its bound is far above that).
 *
 * What this process publishes (alerts, counters, the observer's own events)
 * goes to the NATS publisher, never to the local bus: it comes back through the
 * stream like everyone else's events, once.
 */
import type { ObserverEvent } from '../events/types.js';
import type { Bus, SubscribeOptions, Subscription } from './bus.js';
import type { DurableConsumer } from './durable.js';
import { EmbeddedBus, type BusStats } from './embedded.js';

export const DEFAULT_SETTLE_EVENTS = 256;

export class DurableFanout implements Bus {
  private readonly local = new EmbeddedBus();
  private pump: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly durable: DurableConsumer,
    private readonly publisher: Bus,
    private readonly settleEvents = DEFAULT_SETTLE_EVENTS,
  ) {}

  publish(event: ObserverEvent): void {
    this.publisher.publish(event);
  }

  /** Subscribe every local consumer before start(): the stream is read once, for those present. */
  subscribe(options: SubscribeOptions = {}): Subscription {
    return this.local.subscribe(options);
  }

  /** Begin reading the stream. */
  start(): void {
    this.pump ??= this.run();
  }

  private async run(): Promise<void> {
    const source = this.durable.subscribe();
    let last: ObserverEvent | null = null;
    let since = 0;
    for await (const event of source) {
      this.local.publish(event);
      last = event;
      if (++since >= this.settleEvents || this.durable.queued === 0) {
        await this.settle();
        this.durable.ackThrough(last);
        since = 0;
        last = null;
      }
    }
    if (last) {
      await this.settle();
      this.durable.ackThrough(last);
    }
  }

  /** Every local subscriber has taken what it was given, and its loop body has run. */
  private async settle(): Promise<void> {
    await this.local.drain();
    await new Promise((resolve) => setImmediate(resolve));
  }

  async drain(): Promise<void> {
    await this.durable.drain();
    await this.local.drain();
  }

  /** Events handed to the local consumers. */
  get handed(): number {
    return this.local.stats().published;
  }

  localStats(): BusStats {
    return this.local.stats();
  }

  /**
   * Stop reading; what was already delivered is handed over and acknowledged
   * before the connection closes; then the local consumers end. Idempotent.
   */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      const pumped = this.pump ?? Promise.resolve();
      await this.durable.close(false, pumped);
      await pumped;
      await this.local.close();
    })());
  }
}
