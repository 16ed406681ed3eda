/**
 * The bus over NATS (official client, @nats-io/transport-node), for many
 * observers and many consumers across machines.
 *
 * Publishing never waits: while the client is connected, events go straight to
 * NATS; while it is disconnected (server down, reconnecting), they wait in a
 * bounded buffer that is flushed in order on reconnect. An event that finds the
 * buffer full is dropped and counted, so `published = sent + buffered + dropped`
 * always holds. Subscribers filter on the server through subjects (subjects.ts);
 * every message received is decoded and validated (events/wire.ts), and what
 * fails is counted as rejected, never passed on.
 */
import { connect, type NatsConnection, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import { EventValidationError } from '../events/schema.js';
import type { ObserverEvent } from '../events/types.js';
import { decodeEvent, encodeEvent } from '../events/wire.js';
import type { Bus, SubscribeOptions, Subscription } from './bus.js';
import { QueuedSubscription } from './queue.js';
import { subjectFor, subjectsFor } from './subjects.js';

export const DEFAULT_PUBLISH_BUFFER = 100_000;
export const DEFAULT_SUBSCRIBER_QUEUE = 100_000;

export interface NatsBusOptions {
  /** One or more server URLs (nats://host:port); the client fails over between them. */
  servers: string[];
  /** Connection name shown by the server (e.g. `peer-observer run fra-1`). */
  name?: string;
  /** Events held while disconnected before new ones are dropped. */
  publishBuffer?: number;
  /** Default per-subscriber queue bound. */
  maxQueue?: number;
  /** Milliseconds between reconnect attempts (the client adds jitter). */
  reconnectTimeWaitMs?: number;
  /** Give up the first connection after this long. */
  timeoutMs?: number;
}

export interface NatsBusStats {
  /** Events given to publish(). */
  published: number;
  /** Events handed to the NATS client. */
  sent: number;
  /** Events waiting for a reconnect right now. */
  buffered: number;
  /** Events dropped because the buffer was full. */
  dropped: number;
  /** Messages received by subscribers, valid or not. */
  received: number;
  /** Received messages that decoded into valid events. */
  decoded: number;
  /** Received messages that were not valid events. */
  rejected: number;
  /** Valid events dropped because a subscriber's queue was full. */
  subscriberDropped: number;
  connected: boolean;
  reconnects: number;
  /** The last rejection or client error, for the status line. */
  lastError: string | null;
}

export class NatsBus implements Bus {
  private connected = true;
  private buffer: Uint8Array[] = [];
  private bufferSubjects: string[] = [];
  private readonly maxBuffer: number;
  private readonly maxQueue: number;
  private readonly subs = new Set<{ queued: QueuedSubscription; nats: NatsSubscription[] }>();
  private nextId = 1;
  private counters = { published: 0, sent: 0, dropped: 0, received: 0, decoded: 0, rejected: 0, reconnects: 0 };
  private endedSubscriberDropped = 0;
  private lastError: string | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    options: NatsBusOptions,
  ) {
    this.maxBuffer = positive(options.publishBuffer ?? DEFAULT_PUBLISH_BUFFER, 'publishBuffer');
    this.maxQueue = positive(options.maxQueue ?? DEFAULT_SUBSCRIBER_QUEUE, 'maxQueue');
    void this.watchStatus();
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    if (options.servers.length === 0) throw new Error('NATS: no server URL given');
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers,
        name: options.name ?? 'peer-observer',
        maxReconnectAttempts: -1,
        reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
        timeout: options.timeoutMs ?? 5000,
        // Our own bounded buffer holds events while disconnected; the client's is not bounded.
        waitOnFirstConnect: false,
      });
    } catch (e) {
      throw new Error(`NATS: cannot connect to ${options.servers.join(', ')}: ${(e as Error).message}`);
    }
    return new NatsBus(nc, options);
  }

  publish(event: ObserverEvent): void {
    this.counters.published++;
    const subject = subjectFor(event);
    const data = encodeEvent(event);
    if (this.connected && this.buffer.length === 0) {
      this.send(subject, data);
      return;
    }
    if (this.buffer.length >= this.maxBuffer) {
      this.counters.dropped++;
      return;
    }
    this.buffer.push(data);
    this.bufferSubjects.push(subject);
  }

  subscribe(options: SubscribeOptions = {}): Subscription {
    const subjects = subjectsFor(options);
    const entry = {
      queued: new QueuedSubscription(
        this.nextId++,
        options.types ? [...options.types] : null,
        positive(options.maxQueue ?? this.maxQueue, 'maxQueue'),
        () => {
          this.endedSubscriberDropped += entry.queued.dropped;
          for (const s of entry.nats) s.unsubscribe();
          this.subs.delete(entry);
        },
      ),
      nats: [] as NatsSubscription[],
    };
    for (const subject of subjects) {
      entry.nats.push(
        this.nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err) {
              this.lastError = err.message;
              return;
            }
            this.counters.received++;
            let event: ObserverEvent;
            try {
              event = decodeEvent(msg.data);
            } catch (e) {
              if (!(e instanceof EventValidationError)) throw e;
              this.counters.rejected++;
              this.lastError = `rejected message on ${msg.subject}: ${e.message}`;
              return;
            }
            this.counters.decoded++;
            entry.queued.offer(event);
          },
        }),
      );
    }
    this.subs.add(entry);
    return entry.queued;
  }

  /** Wait until the server has everything we sent and every subscriber has taken its queue. */
  async drain(): Promise<void> {
    if (this.connected) await this.nc.flush();
    await Promise.all([...this.subs].map((s) => s.queued.whenEmpty()));
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      if (this.connected) await this.nc.flush();
      await this.nc.drain();
    } catch (e) {
      this.lastError = (e as Error).message;
      await this.nc.close();
    }
    for (const s of [...this.subs]) s.queued.end();
  }

  stats(): NatsBusStats {
    let subscriberDropped = this.endedSubscriberDropped;
    for (const s of this.subs) subscriberDropped += s.queued.dropped;
    return { ...this.counters, buffered: this.buffer.length, subscriberDropped, connected: this.connected, lastError: this.lastError };
  }

  /** Flat counters for a `pipeline.counters` event (stage `bus.nats`). */
  counterValues(): Record<string, number> {
    const { connected, lastError: _e, ...numbers } = this.stats();
    return { ...numbers, connected: connected ? 1 : 0 };
  }

  private send(subject: string, data: Uint8Array): void {
    try {
      this.nc.publish(subject, data);
      this.counters.sent++;
    } catch (e) {
      // Closed or draining connection, or a payload over the server's limit.
      this.counters.dropped++;
      this.lastError = (e as Error).message;
    }
  }

  private flushBuffer(): void {
    const data = this.buffer;
    const subjects = this.bufferSubjects;
    this.buffer = [];
    this.bufferSubjects = [];
    for (let i = 0; i < data.length; i++) this.send(subjects[i]!, data[i]!);
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'staleConnection') this.connected = false;
      else if (s.type === 'reconnect') {
        this.counters.reconnects++;
        this.connected = true;
        this.flushBuffer();
      } else if (s.type === 'error') this.lastError = s.error.message;
    }
  }
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, was ${n}`);
  return n;
}
