/**
 * The bus over NATS (official client, @nats-io/transport-node), for many
 * observers and many consumers across machines.
 *
 * Publishing never waits. Every accepted event gets a sequence number and stays
 * in one bounded FIFO until the server has acknowledged it: a PING sent after
 * it came back as a PONG on the same connection, so the server processed it
 * (routed it to its subscribers and cluster routes). An event is, at any time,
 * exactly one of
 *   buffered   waiting to be sent (never sent, or to be re-sent),
 *   inFlight   handed to the client on the current connection, not yet acknowledged,
 *   acked      acknowledged by the server,
 *   dropped    refused because buffered + inFlight had reached `publishBuffer`,
 * so `published = buffered + inFlight + acked + dropped` always holds, and after
 * close() `published = acked + dropped`. When the connection dies, what was in
 * flight (in the client's buffer, the kernel's, or the dead server) goes back to
 * `buffered` and is re-sent, in order, on reconnect: nothing is lost silently.
 * A re-sent event may have reached consumers the first time; each message
 * carries `Nats-Msg-Id: <publisher>.<seq>` (seq.ts), and subscribers drop the
 * second copy (`duplicates`). See docs/bus.md for the loss model.
 *
 * Subscribers filter on the server through subjects (subjects.ts); every
 * message received is decoded and validated (events/wire.ts), and what fails
 * is counted as rejected, never passed on.
 */
import { connect, headers, nuid, type Msg, type NatsConnection, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import { EventValidationError } from '../events/schema.js';
import type { ObserverEvent } from '../events/types.js';
import { decodeEvent, encodeEvent } from '../events/wire.js';
import type { Bus, SubscribeOptions, Subscription } from './bus.js';
import { QueuedSubscription } from './queue.js';
import { Dedup, SEQ_HEADER, formatSeq, parseSeq } from './seq.js';
import { subjectFor, subjectsFor } from './subjects.js';

export const DEFAULT_PUBLISH_BUFFER = 100_000;
export const DEFAULT_SUBSCRIBER_QUEUE = 100_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000;

export interface NatsBusOptions {
  /** One or more server URLs (nats://host:port); the client fails over between them. */
  servers: string[];
  /** Connection name shown by the server (e.g. `peer-observer run fra-1`). */
  name?: string;
  /** Events held until the server acknowledges them (buffered + in flight) before new ones are dropped. */
  publishBuffer?: number;
  /** Default per-subscriber queue bound. */
  maxQueue?: number;
  /** Milliseconds between reconnect attempts to one server (the client adds jitter). */
  reconnectTimeWaitMs?: number;
  /** Give up the first connection after this long. */
  timeoutMs?: number;
  /** close() waits this long for a reconnect to deliver what is still buffered. */
  closeTimeoutMs?: number;
}

export interface NatsBusStats {
  /** Events given to publish(). */
  published: number;
  /** Events handed to the NATS client at least once. */
  sent: number;
  /** Extra sends: events re-sent after a connection died before the server acknowledged them. */
  resent: number;
  /** Events the server acknowledged. */
  acked: number;
  /** Events sent on the current connection, not yet acknowledged. */
  inFlight: number;
  /** Events waiting to be sent (or re-sent) right now. */
  buffered: number;
  /** Events dropped: the buffer was full, the payload over the server's limit, or still unacknowledged at close. */
  dropped: number;
  /** Messages received by subscribers, valid or not, duplicates included. */
  received: number;
  /** Received messages already received once (a publisher's re-send), not passed on. */
  duplicates: number;
  /** Received messages that decoded into valid events. */
  decoded: number;
  /** Received messages that were not valid events. */
  rejected: number;
  /** Valid events dropped because a subscriber's queue was full. */
  subscriberDropped: number;
  connected: boolean;
  reconnects: number;
  /** The server this client is connected to (host:port), or null. */
  server: string | null;
  /** The last rejection or client error, for the status line. */
  lastError: string | null;
}

interface Pending {
  seq: number;
  subject: string;
  data: Uint8Array;
}

export class NatsBus implements Bus {
  private connected = true;
  /** Bumped on every disconnect and reconnect: an acknowledgement from an older connection is void. */
  private generation = 0;
  /** Unacknowledged events in seq order: [head, sendIdx) in flight, [sendIdx, length) buffered. */
  private pending: Pending[] = [];
  private head = 0;
  private sendIdx = 0;
  private lastSeq = 0;
  private highestSent = 0;
  private ackScheduled = false;
  private closing: Promise<void> | undefined;
  private readonly publisherId = nuid.next();
  private readonly maxBuffer: number;
  private readonly maxQueue: number;
  private readonly closeTimeoutMs: number;
  private readonly subs = new Set<{ queued: QueuedSubscription; nats: NatsSubscription[] }>();
  private nextId = 1;
  private counters = {
    published: 0,
    sent: 0,
    resent: 0,
    acked: 0,
    dropped: 0,
    received: 0,
    duplicates: 0,
    decoded: 0,
    rejected: 0,
    reconnects: 0,
  };
  private endedSubscriberDropped = 0;
  private lastError: string | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    options: NatsBusOptions,
  ) {
    this.maxBuffer = positive(options.publishBuffer ?? DEFAULT_PUBLISH_BUFFER, 'publishBuffer');
    this.maxQueue = positive(options.maxQueue ?? DEFAULT_SUBSCRIBER_QUEUE, 'maxQueue');
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
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
        waitOnFirstConnect: false,
      });
    } catch (e) {
      throw new Error(`NATS: cannot connect to ${options.servers.join(', ')}: ${(e as Error).message}`);
    }
    return new NatsBus(nc, options);
  }

  publish(event: ObserverEvent): void {
    this.counters.published++;
    if (this.closing || this.pending.length - this.head >= this.maxBuffer) {
      this.counters.dropped++;
      return;
    }
    const data = encodeEvent(event);
    const max = this.nc.info?.max_payload;
    if (max !== undefined && data.length + 128 > max) {
      this.counters.dropped++;
      this.lastError = `event of ${data.length} bytes over the server's max_payload ${max}`;
      return;
    }
    this.pending.push({ seq: ++this.lastSeq, subject: subjectFor(event), data });
    if (this.connected) this.pump();
  }

  subscribe(options: SubscribeOptions = {}): Subscription {
    const subjects = subjectsFor(options);
    const dedup = new Dedup();
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
    const onMessage = (err: Error | null, msg: Msg) => {
      if (err) {
        this.lastError = err.message;
        return;
      }
      this.counters.received++;
      const id = msg.headers?.get(SEQ_HEADER);
      const seq = id ? parseSeq(id) : undefined;
      if (seq && !dedup.first(seq[0], seq[1])) {
        this.counters.duplicates++;
        return;
      }
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
    };
    for (const subject of subjects) entry.nats.push(this.nc.subscribe(subject, { callback: onMessage }));
    this.subs.add(entry);
    return entry.queued;
  }

  /**
   * Wait until the server has acknowledged everything published so far (while
   * connected) and every subscriber has taken its queue.
   */
  async drain(): Promise<void> {
    const target = this.lastSeq;
    while (this.connected && !this.nc.isClosed() && this.ackedUpTo() < target) {
      this.pump();
      if (!(await this.flushAndAck())) break;
    }
    await Promise.all([...this.subs].map((s) => s.queued.whenEmpty()));
  }

  /**
   * Stop publishing, deliver what is unacknowledged (waiting up to closeTimeoutMs
   * for a reconnect), then close. What the server never acknowledged is counted
   * as dropped, so afterwards `published = acked + dropped`.
   */
  close(): Promise<void> {
    return (this.closing ??= this.doClose());
  }

  stats(): NatsBusStats {
    let subscriberDropped = this.endedSubscriberDropped;
    for (const s of this.subs) subscriberDropped += s.queued.dropped;
    return {
      ...this.counters,
      inFlight: this.sendIdx - this.head,
      buffered: this.pending.length - this.sendIdx,
      subscriberDropped,
      connected: this.connected,
      server: this.connected && !this.nc.isClosed() ? this.nc.getServer() : null,
      lastError: this.lastError,
    };
  }

  /** Flat counters for a `pipeline.counters` event (stage `bus.nats`). */
  counterValues(): Record<string, number> {
    const { connected, lastError: _e, server: _s, ...numbers } = this.stats();
    return { ...numbers, connected: connected ? 1 : 0 };
  }

  private async doClose(): Promise<void> {
    if (this.nc.isClosed()) return;
    const deadline = Date.now() + this.closeTimeoutMs;
    while (this.pending.length > this.head && Date.now() < deadline && !this.nc.isClosed()) {
      if (this.connected) this.pump();
      if (!this.connected || !(await this.flushAndAck())) await new Promise((r) => setTimeout(r, 20));
    }
    try {
      await this.nc.drain();
    } catch (e) {
      this.lastError = (e as Error).message;
      await this.nc.close();
    }
    const left = this.pending.length - this.head;
    if (left > 0) {
      this.counters.dropped += left;
      this.lastError = `closed with ${left} events the server had not acknowledged`;
      this.pending = [];
      this.head = this.sendIdx = 0;
    }
    for (const s of [...this.subs]) s.queued.end();
  }

  /** Send everything buffered (connected only), then make sure an acknowledgement round is coming. */
  private pump(): void {
    const nc = this.nc;
    while (this.sendIdx < this.pending.length) {
      const p = this.pending[this.sendIdx]!;
      const h = headers();
      h.set(SEQ_HEADER, formatSeq(this.publisherId, p.seq));
      try {
        nc.publish(p.subject, p.data, { headers: h });
      } catch (e) {
        // A payload over the server's limit (the check in publish() had no server info yet), or a closed connection.
        this.lastError = (e as Error).message;
        if (nc.isClosed()) return;
        this.pending.splice(this.sendIdx, 1);
        this.counters.dropped++;
        continue;
      }
      this.sendIdx++;
      if (p.seq > this.highestSent) {
        this.highestSent = p.seq;
        this.counters.sent++;
      } else this.counters.resent++;
    }
    if (this.sendIdx > this.head && !this.ackScheduled) {
      this.ackScheduled = true;
      // After the current burst of publishes, so one PING covers all of it.
      queueMicrotask(() => void this.ackRound());
    }
  }

  private async ackRound(): Promise<void> {
    try {
      while (this.connected && !this.nc.isClosed() && this.sendIdx > this.head) {
        if (!(await this.flushAndAck())) break;
      }
    } finally {
      this.ackScheduled = false;
    }
  }

  /**
   * PING the server and, when its PONG comes back on the same connection,
   * acknowledge what was sent before the PING. False when the round failed
   * (disconnected): nothing is acknowledged then.
   */
  private async flushAndAck(): Promise<boolean> {
    const generation = this.generation;
    const connection = this.connectionId();
    if (connection === null) return false;
    const upTo = this.sendIdx > this.head ? this.pending[this.sendIdx - 1]!.seq : 0;
    try {
      await this.nc.flush();
    } catch {
      return false;
    }
    // The client rejects pending PINGs when it reconnects, but a PING queued while
    // it was dialling is answered by the new server: check it is the same connection.
    if (generation !== this.generation || connection !== this.connectionId()) return false;
    this.ack(upTo);
    return true;
  }

  private connectionId(): string | null {
    const info = this.nc.info;
    return this.connected && info ? `${info.server_id}/${info.client_id}` : null;
  }

  private ackedUpTo(): number {
    return this.head < this.pending.length ? this.pending[this.head]!.seq - 1 : this.lastSeq;
  }

  private ack(upTo: number): void {
    let i = this.head;
    while (i < this.sendIdx && this.pending[i]!.seq <= upTo) i++;
    this.counters.acked += i - this.head;
    for (let k = this.head; k < i; k++) this.pending[k] = undefined as unknown as Pending;
    this.head = i;
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = this.sendIdx = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.sendIdx -= this.head;
      this.head = 0;
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'staleConnection') {
        if (this.connected) {
          this.connected = false;
          this.generation++;
          // Whatever was in flight may be lost with the connection: send it again.
          this.sendIdx = this.head;
        }
      } else if (s.type === 'reconnect') {
        this.counters.reconnects++;
        this.connected = true;
        this.generation++;
        this.pump();
      } else if (s.type === 'error') this.lastError = s.error.message;
    }
  }
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, was ${n}`);
  return n;
}
