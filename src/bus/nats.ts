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
 * Events travel in batches: consecutive events with the same subject (node and
 * type), up to about `batchBytes` or `batchEvents` events, go as one NATS
 * message (`Po-Batch: v2 <count>`: one MessagePack array, events/packed.ts; or,
 * with `encoding: 'json'`, `v1 <count>`: NDJSON; the first event's seq in
 * `Nats-Msg-Id`). A batch is closed when the subject changes, when it is full,
 * or at the end of the event-loop turn it was started in, so batching adds no
 * wait and the publish order is kept on the wire. All counters count events.
 *
 * Subscribers filter on the server through subjects (subjects.ts); every
 * event received is decoded and validated (events/wire.ts), and what fails
 * is counted as rejected, never passed on.
 */
import { connect, headers, nuid, type Msg, type NatsConnection, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { estimatePackedBytes, packEvents } from '../events/packed.js';
import type { ObserverEvent } from '../events/types.js';
import { encodeBatch } from '../events/wire.js';
import type { Bus, SubscribeOptions, Subscription } from './bus.js';
import { DEFAULT_MAX_QUEUE_BYTES, QueuedSubscription } from './queue.js';
import {
  DEFAULT_STREAM_LIMITS,
  describeStream,
  ensureStream,
  hasJetStream,
  streamStatus,
  type StreamLimits,
  type StreamStatus,
} from './jetstream.js';
import { MessageReader, newReaderCounters } from './reader.js';
import { BATCH_HEADER, SEQ_HEADER, formatBatch, formatSeq, type BatchEncoding } from './seq.js';
import { nodeToken, SUBJECT_ROOT, subjectsFor } from './subjects.js';
import type { NatsMode } from './modes.js';
export { NATS_MODES, type NatsMode } from './modes.js';

export const DEFAULT_PUBLISH_BUFFER = 100_000;
export const DEFAULT_SUBSCRIBER_QUEUE = 100_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000;
/**
 * Bytes per MessagePack batch, estimated (estimatePackedBytes; at most half the
 * server's max_payload). Large, because every message costs its decoder a fixed
 * amount (msgpackr builds the record readers per message): 1 MiB (in practice
 * max_payload / 2, or 1000 events) measured ≈ 15 % less CPU per event than
 * 64 KiB (docs/benchmarks.md). A batch the server would still refuse is split in two.
 */
export const DEFAULT_BATCH_BYTES = 1024 * 1024;
/** JSON characters per JSON batch (at most an eighth of max_payload: UTF-8 takes up to 3 bytes a character). */
export const DEFAULT_JSON_BATCH_BYTES = 64 * 1024;
export const DEFAULT_BATCH_EVENTS = 1000;
/** Room for the headers and protocol line of a message, under max_payload. */
const MESSAGE_OVERHEAD = 256;

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
  /** How batches are encoded: `msgpack` (v2, default: smaller and faster) or `json` (v1: NDJSON any tool reads). Subscribers read both. */
  encoding?: BatchEncoding;
  /** About this many bytes in one batch message (DEFAULT_BATCH_BYTES, DEFAULT_JSON_BATCH_BYTES); a larger event goes alone. */
  batchBytes?: number;
  /** Most events in one batch message; 1 sends every event as its own message. */
  batchEvents?: number;
  /**
   * `jetstream`: publish into a JetStream stream (created with `stream`'s limits when missing), acknowledged per
   * message by the server; `core`: plain NATS, acknowledged by PING; `auto` (default): JetStream when the server has it.
   */
  mode?: NatsMode;
  /** The stream's name and, when the stream is missing, the limits it is created with (DEFAULT_STREAM_LIMITS). */
  stream?: StreamLimits;
  /** A JetStream publish not acknowledged within this long is sent again (JetStream drops the second copy). */
  ackTimeoutMs?: number;
}

/** JetStream messages awaiting their acknowledgement at once (each holds up to batchEvents events). */
const MAX_JS_OUTSTANDING = 256;

interface Jet {
  js: JetStreamClient;
  jsm: JetStreamManager;
  limits: StreamLimits;
  /** Said at start-up: created, found, or found with other limits. */
  notice: string;
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
  /** Events received by subscribers, valid or not, duplicates included (a message that is not a well-formed batch counts as one). */
  received: number;
  /** Received messages already received once (a publisher's re-send), not passed on. */
  duplicates: number;
  /** Received messages that decoded into valid events. */
  decoded: number;
  /** Received messages that were not valid events, or not the subject's node and type. */
  rejected: number;
  /** Received events refused because their Nats-Msg-Id named another node than their subject (reader.ts). */
  forged: number;
  /** Received events too far below their publisher's highest seq to be checked for duplicates, delivered. */
  late: number;
  /** Valid events dropped because a subscriber's queue was full. */
  subscriberDropped: number;
  connected: boolean;
  reconnects: number;
  /** The server this client is connected to (host:port), or null. */
  server: string | null;
  /** The last rejection or client error, for the status line. */
  lastError: string | null;
  /** First sends a JetStream stream called duplicates: another client had used the id (re-sent under a new publisher id). */
  idCollisions: number;
  /** The stream, as of the last look (every 10 s), in JetStream mode. */
  stream: StreamStatus | null;
}

/** One NATS message: `count` events with seqs `seq … seq + count − 1`. */
interface Pending {
  seq: number;
  count: number;
  subject: string;
  data: Uint8Array;
  /** JetStream: sends so far (an answer to an earlier one is stale), and whether the stream has it. */
  attempt: number;
  acked: boolean;
  /** The publisher id this message is sent under (a new one after an id collision). */
  publisher: string;
}

/** The batch being filled, all for one subject: its events and, for JSON, their texts. */
interface OpenBatch {
  subject: string;
  firstSeq: number;
  events: ObserverEvent[];
  jsons: string[];
  /** JSON characters, or estimated MessagePack bytes (estimatePackedBytes). */
  size: number;
}

export class NatsBus implements Bus {
  private connected = true;
  /** Bumped on every disconnect and reconnect: an acknowledgement from an older connection is void. */
  private generation = 0;
  /** Unacknowledged messages in seq order: [head, sendIdx) in flight, [sendIdx, length) buffered. */
  private pending: Pending[] = [];
  private head = 0;
  private sendIdx = 0;
  /** Events in pending[head, sendIdx) and in pending[sendIdx, length). */
  private inFlightEvents = 0;
  private queuedEvents = 0;
  /** Events not yet in a message (buffered too). */
  private open: OpenBatch | null = null;
  private closeScheduled = false;
  private readonly encoding: BatchEncoding;
  private readonly batchBytes: number;
  private readonly batchEvents: number;
  /** subject prefix per node id (`po.v1.<node>.`), bounded. */
  private readonly subjectPrefix = new Map<string, string>();
  private lastSeq = 0;
  private highestSent = 0;
  private ackScheduled = false;
  private closing: Promise<void> | undefined;
  private publisherId = nuid.next();
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
    reconnects: 0,
  };
  /** What subscribers read, all subscriptions together (reader.ts). */
  private readonly readerCounters = newReaderCounters();
  private endedSubscriberDropped = 0;
  private lastError: string | null = null;
  private idCollisions = 0;
  private jsOutstanding = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private streamTimer: NodeJS.Timeout | undefined;
  private stream: StreamStatus | null = null;
  /** Woken whenever a JetStream acknowledgement or failure comes in (drain and close wait on it). */
  private jsWake: (() => void) | undefined;
  private readonly ackTimeoutMs: number;

  private constructor(
    private readonly nc: NatsConnection,
    options: NatsBusOptions,
    private readonly jet: Jet | null,
  ) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    if (jet) {
      const look = () =>
        void jet.jsm.streams.info(jet.limits.name).then(
          (info) => (this.stream = streamStatus(info)),
          () => {},
        );
      look();
      this.streamTimer = setInterval(look, 10_000).unref();
    }
    this.maxBuffer = positive(options.publishBuffer ?? DEFAULT_PUBLISH_BUFFER, 'publishBuffer');
    this.maxQueue = positive(options.maxQueue ?? DEFAULT_SUBSCRIBER_QUEUE, 'maxQueue');
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.encoding = options.encoding ?? 'msgpack';
    if (this.encoding !== 'msgpack' && this.encoding !== 'json')
      throw new RangeError(`encoding must be msgpack or json, was ${String(this.encoding)}`);
    this.batchBytes = positive(
      options.batchBytes ?? (this.encoding === 'json' ? DEFAULT_JSON_BATCH_BYTES : DEFAULT_BATCH_BYTES),
      'batchBytes',
    );
    this.batchEvents = positive(options.batchEvents ?? DEFAULT_BATCH_EVENTS, 'batchEvents');
    void this.watchStatus();
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    if (options.servers.length === 0) throw new Error('NATS: no server URL given');
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...natsCredentials(options.servers),
        name: options.name ?? 'peer-observer',
        maxReconnectAttempts: -1,
        reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
        timeout: options.timeoutMs ?? 5000,
        waitOnFirstConnect: false,
      });
    } catch (e) {
      throw new Error(`NATS: cannot connect to ${natsCredentials(options.servers).servers.join(', ')}: ${(e as Error).message}`);
    }
    let jet: Jet | null = null;
    try {
      jet = await openJet(nc, options);
    } catch (e) {
      await nc.close();
      throw e;
    }
    return new NatsBus(nc, options, jet);
  }

  /** The JetStream stream published into (JetStream mode). */
  get streamName(): string {
    return this.jet?.limits.name ?? DEFAULT_STREAM_LIMITS.name;
  }

  /** `jetstream` or `core`, as decided at connect (`auto`: JetStream when the server has it). */
  get mode(): 'jetstream' | 'core' {
    return this.jet ? 'jetstream' : 'core';
  }

  /** The one start-up line saying how events travel (and what core NATS does not keep). */
  get notice(): string {
    return this.jet
      ? this.jet.notice
      : 'NATS: core mode (no JetStream stream): an event reaches only the consumers subscribed when it is published (docs/bus.md)';
  }

  publish(event: ObserverEvent): void {
    this.counters.published++;
    if (this.closing || this.inFlightEvents + this.queuedEvents + (this.open?.events.length ?? 0) >= this.maxBuffer) {
      this.counters.dropped++;
      return;
    }
    let subject: string;
    try {
      subject = this.subjectFor(event);
    } catch (e) {
      this.counters.dropped++;
      this.lastError = (e as Error).message;
      return;
    }
    const json = this.encoding === 'json' ? JSON.stringify(event) : undefined;
    const size = json?.length ?? estimatePackedBytes(event);
    const limit = this.batchLimit();
    let open = this.open;
    if (open && (open.subject !== subject || open.size + size >= limit || open.events.length >= this.batchEvents)) {
      this.closeBatch();
      open = null;
      if (this.connected) this.pump();
    }
    if (size >= limit) {
      // A large event (a raw payload of up to 4 MB) goes alone, if the server takes it.
      this.enqueueBatch(subject, ++this.lastSeq, [event], json === undefined ? [] : [json]);
      if (this.connected) this.pump();
      return;
    }
    if (!open) {
      open = this.open = { subject, firstSeq: this.lastSeq + 1, events: [], jsons: [], size: 0 };
      if (!this.closeScheduled) {
        this.closeScheduled = true;
        setImmediate(this.closeAtTurnEnd);
      }
    }
    this.lastSeq++;
    open.events.push(event);
    if (json !== undefined) open.jsons.push(json);
    open.size += size + 1;
  }

  /** Bytes (estimated MessagePack, or JSON characters) a batch is closed at. */
  private batchLimit(): number {
    const max = this.nc.info?.max_payload;
    if (max === undefined) return this.batchBytes;
    return Math.min(this.batchBytes, Math.floor(this.encoding === 'json' ? max / 8 : max / 2));
  }

  /**
   * Encode events `firstSeq …` as one message and queue it. Should the encoding
   * be larger than the server takes (an estimate that fell short), the batch is
   * split in two; a single event over the limit is dropped and counted.
   */
  private enqueueBatch(subject: string, firstSeq: number, events: ObserverEvent[], jsons: string[]): void {
    const data = this.encoding === 'json' ? encodeBatch(jsons) : packEvents(events);
    const max = this.nc.info?.max_payload;
    if (max !== undefined && data.length + MESSAGE_OVERHEAD > max) {
      if (events.length > 1) {
        const half = events.length >> 1;
        this.enqueueBatch(subject, firstSeq, events.slice(0, half), jsons.slice(0, half));
        this.enqueueBatch(subject, firstSeq + half, events.slice(half), jsons.slice(half));
        return;
      }
      this.counters.dropped++;
      this.lastError = `${events[0]!.type} event of ${data.length} bytes over the server's max_payload ${max} (see docs/bus.md)`;
      return;
    }
    this.enqueue({ seq: firstSeq, count: events.length, subject, data, attempt: 0, acked: false, publisher: this.publisherId });
  }

  /** `po.v1.<node>.<type>` (subjects.ts), the node part cached. */
  private subjectFor(event: ObserverEvent): string {
    let prefix = this.subjectPrefix.get(event.nodeId);
    if (prefix === undefined) {
      prefix = `${SUBJECT_ROOT}.${nodeToken(event.nodeId)}.`;
      if (this.subjectPrefix.size >= 1024) this.subjectPrefix.clear();
      this.subjectPrefix.set(event.nodeId, prefix);
    }
    return prefix + event.type;
  }

  private enqueue(p: Pending): void {
    this.pending.push(p);
    this.queuedEvents += p.count;
  }

  /** The batch being filled becomes a message, queued to be sent. */
  private closeBatch(): void {
    const open = this.open;
    if (!open) return;
    this.open = null;
    this.enqueueBatch(open.subject, open.firstSeq, open.events, open.jsons);
  }

  private readonly closeAtTurnEnd = (): void => {
    this.closeScheduled = false;
    this.closeBatch();
    if (this.connected) this.pump();
  };

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
        options.nodeIds?.length ? new Set(options.nodeIds) : null,
        positive(options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES, 'maxQueueBytes'),
      ),
      nats: [] as NatsSubscription[],
    };
    const reader = new MessageReader(this.readerCounters);
    const deliver = (e: ObserverEvent) => entry.queued.offer(e);
    const onMessage = (err: Error | null, msg: Msg) => {
      if (err) {
        this.lastError = err.message;
        return;
      }
      reader.read(msg.subject, msg.headers, msg.data, deliver);
      if (reader.lastError !== null) {
        this.lastError = reader.lastError;
        reader.lastError = null;
      }
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
    this.closeBatch();
    const target = this.lastSeq;
    while (this.connected && !this.nc.isClosed() && this.ackedUpTo() < target) {
      this.pump();
      if (!(await this.settle())) break;
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
      ...this.readerCounters,
      idCollisions: this.idCollisions,
      stream: this.stream,
      inFlight: this.inFlightEvents,
      buffered: this.queuedEvents + (this.open?.events.length ?? 0),
      subscriberDropped,
      connected: this.connected,
      server: this.connected && !this.nc.isClosed() ? this.nc.getServer() : null,
      lastError: this.lastError,
    };
  }

  /** Flat counters for a `pipeline.counters` event (stage `bus.nats`). */
  counterValues(): Record<string, number> {
    const { connected, lastError: _e, server: _s, stream, ...numbers } = this.stats();
    const out: Record<string, number> = { ...numbers, connected: connected ? 1 : 0 };
    if (stream) {
      out.streamMessages = stream.messages;
      out.streamBytes = stream.bytes;
      out.streamRemoved = stream.removed;
      out.streamFill = stream.fill;
    }
    return out;
  }

  private async doClose(): Promise<void> {
    this.closeBatch();
    if (this.nc.isClosed()) {
      this.dropUnacknowledged();
      return;
    }
    const deadline = Date.now() + this.closeTimeoutMs;
    while (this.pending.length > this.head && Date.now() < deadline && !this.nc.isClosed()) {
      if (this.connected) this.pump();
      if (!this.connected || !(await this.settle())) await new Promise((r) => setTimeout(r, 20));
    }
    clearTimeout(this.retryTimer);
    clearInterval(this.streamTimer);
    try {
      await this.nc.drain();
    } catch (e) {
      this.lastError = (e as Error).message;
      await this.nc.close();
    }
    this.dropUnacknowledged();
    for (const s of [...this.subs]) s.queued.end();
  }

  private dropUnacknowledged(): void {
    const left = this.inFlightEvents + this.queuedEvents;
    if (left > 0) {
      this.counters.dropped += left;
      this.lastError = `closed with ${left} events the server had not acknowledged`;
    }
    this.pending = [];
    this.head = this.sendIdx = 0;
    this.inFlightEvents = this.queuedEvents = 0;
  }

  /** Send everything buffered (connected only), then make sure an acknowledgement round is coming. */
  private pump(): void {
    if (this.jet) {
      this.pumpJs(this.jet.js);
      return;
    }
    const nc = this.nc;
    while (this.sendIdx < this.pending.length) {
      const p = this.pending[this.sendIdx]!;
      const h = headers();
      h.set(SEQ_HEADER, msgId(p));
      h.set(BATCH_HEADER, formatBatch(this.encoding, p.count));
      try {
        nc.publish(p.subject, p.data, { headers: h });
      } catch (e) {
        // A payload over the server's limit (a server with a smaller max_payload than when it was built), or a closed connection.
        this.lastError = `${p.count} events (${p.data.length} bytes) on ${p.subject} not sent: ${(e as Error).message}`;
        if (nc.isClosed()) return;
        this.pending.splice(this.sendIdx, 1);
        this.queuedEvents -= p.count;
        this.counters.dropped += p.count;
        continue;
      }
      this.sendIdx++;
      this.queuedEvents -= p.count;
      this.inFlightEvents += p.count;
      if (p.seq > this.highestSent) {
        this.highestSent = p.seq + p.count - 1;
        this.counters.sent += p.count;
      } else this.counters.resent += p.count;
    }
    if (this.sendIdx > this.head && !this.ackScheduled) {
      this.ackScheduled = true;
      // After the current burst of publishes, so one PING covers all of it.
      queueMicrotask(() => void this.ackRound());
    }
  }

  /** Everything sent but not acknowledged goes back to the buffer, to be sent again; answers to the earlier sends are stale. */
  private rewind(): void {
    for (let i = this.head; i < this.sendIdx; i++) if (!this.pending[i]!.acked) this.pending[i]!.attempt++;
    this.sendIdx = this.head;
    this.queuedEvents += this.inFlightEvents;
    this.inFlightEvents = 0;
  }

  /**
   * JetStream: publish what is buffered, each message acknowledged by the stream on its own (at most
   * MAX_JS_OUTSTANDING at once). A message already stored (acknowledged, then rewound) is not sent again.
   */
  private pumpJs(js: JetStreamClient): void {
    while (this.sendIdx < this.pending.length && this.jsOutstanding < MAX_JS_OUTSTANDING) {
      const p = this.pending[this.sendIdx]!;
      this.sendIdx++;
      this.queuedEvents -= p.count;
      this.inFlightEvents += p.count;
      if (p.acked) continue;
      this.sendJs(js, p);
    }
    this.advance();
  }

  private sendJs(js: JetStreamClient, p: Pending): void {
    const attempt = ++p.attempt;
    const h = headers();
    h.set(SEQ_HEADER, msgId(p));
    h.set(BATCH_HEADER, formatBatch(this.encoding, p.count));
    this.jsOutstanding++;
    if (p.seq > this.highestSent) {
      this.highestSent = p.seq + p.count - 1;
      this.counters.sent += p.count;
    } else this.counters.resent += p.count;
    js.publish(p.subject, p.data, { headers: h, timeout: this.ackTimeoutMs }).then(
      (ack) => this.onJsAck(js, p, attempt, ack),
      (err: Error) => this.onJsFail(p, attempt, err),
    );
  }

  private onJsAck(js: JetStreamClient, p: Pending, attempt: number, ack: PubAck): void {
    this.jsOutstanding--;
    if (p.attempt === attempt && !p.acked) {
      if (ack.duplicate && attempt === 1) {
        // Never sent before, yet the stream knew the id: another client used it (docs/bus.md, "Identity").
        // The stream did not store ours: send it under a new publisher id.
        this.idCollisions += p.count;
        this.lastError = `the stream already had ${msgId(p)} from another client: re-sent under a new publisher id`;
        this.publisherId = nuid.next();
        for (let i = this.head; i < this.pending.length; i++) {
          const q = this.pending[i]!;
          if (!q.acked && (q.attempt === 0 || q === p)) q.publisher = this.publisherId;
        }
        this.sendJs(js, p);
      } else {
        p.acked = true;
        this.advance();
      }
    }
    this.wakeJs();
    if (this.connected && !this.nc.isClosed()) this.pumpJs(js);
  }

  private onJsFail(p: Pending, attempt: number, err: Error): void {
    this.jsOutstanding--;
    if (p.attempt === attempt && !p.acked) {
      this.lastError = `JetStream publish on ${p.subject}: ${err.message}`;
      // Send everything unacknowledged again, in order, after a pause (the stream drops what it already has).
      this.rewind();
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        if (this.connected && !this.nc.isClosed()) this.pump();
      }, 250);
    }
    this.wakeJs();
  }

  /** Acknowledge the stored messages at the head, in order. */
  private advance(): void {
    let i = this.head;
    while (i < this.sendIdx && this.pending[i]!.acked) i++;
    if (i === this.head) return;
    const last = this.pending[i - 1]!;
    this.ack(last.seq + last.count - 1);
  }

  private wakeJs(): void {
    const w = this.jsWake;
    this.jsWake = undefined;
    w?.();
  }

  /** Wait for acknowledgements to progress: a PING round (core), or the next JetStream answer. False when disconnected. */
  private async settle(): Promise<boolean> {
    if (!this.jet) return this.flushAndAck();
    if (!this.connected) return false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 100);
      this.jsWake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    return true;
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
    const last = this.sendIdx > this.head ? this.pending[this.sendIdx - 1]! : undefined;
    const upTo = last ? last.seq + last.count - 1 : 0;
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
    if (this.head < this.pending.length) return this.pending[this.head]!.seq - 1;
    return this.open ? this.open.firstSeq - 1 : this.lastSeq;
  }

  private ack(upTo: number): void {
    let i = this.head;
    let events = 0;
    for (; i < this.sendIdx && this.pending[i]!.seq + this.pending[i]!.count - 1 <= upTo; i++) events += this.pending[i]!.count;
    this.counters.acked += events;
    this.inFlightEvents -= events;
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
          this.rewind();
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

/**
 * `nats://user:password@host:port`: the client takes credentials as options,
 * not from the URL. The first URL's user and password are used for every
 * server (one account per deployment, docs/bus.md "Identity").
 */
export function natsCredentials(servers: string[]): { servers: string[]; user?: string; pass?: string } {
  let user: string | undefined;
  let pass: string | undefined;
  const plain = servers.map((s) => {
    let url: URL;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `nats://${s}`);
    } catch {
      return s;
    }
    if (!url.username) return s;
    user ??= decodeURIComponent(url.username);
    pass ??= decodeURIComponent(url.password);
    return `${url.protocol}//${url.host}`;
  });
  return { servers: plain, ...(user !== undefined ? { user, pass: pass ?? '' } : {}) };
}

/** `Nats-Msg-Id` of a message: `<node token>.<publisher>.<seq>` (seq.ts). */
function msgId(p: Pending): string {
  const start = SUBJECT_ROOT.length + 1;
  return formatSeq(p.subject.slice(start, p.subject.indexOf('.', start)), p.publisher, p.seq);
}

/** JetStream when asked for (or, with `auto`, when the server has it), its stream made sure of; null for core NATS. */
async function openJet(nc: NatsConnection, options: NatsBusOptions): Promise<Jet | null> {
  const mode = options.mode ?? 'auto';
  if (mode === 'core') return null;
  const jsm = await hasJetStream(nc);
  if (!jsm) {
    if (mode === 'jetstream') throw new Error('NATS: --nats-mode jetstream, but the server has no JetStream (start nats-server with -js)');
    return null;
  }
  const limits = options.stream ?? DEFAULT_STREAM_LIMITS;
  const ensured = await ensureStream(jsm, limits);
  const how = ensured.created ? 'created' : 'using';
  const differs = ensured.differences.length ? `; its limits differ from the defaults here (${ensured.differences.join('; ')})` : '';
  return {
    js: jetstream(nc),
    jsm,
    limits,
    notice: `NATS: JetStream, ${how} ${describeStream(ensured.info)}${differs}`,
  };
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, was ${n}`);
  return n;
}
