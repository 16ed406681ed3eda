/**
 * A JetStream durable consumer as a Bus to subscribe to (docs/bus.md,
 * "Durable consumers"): `archive`, `log` and `replay --from-stream` read the
 * stream through it. The server keeps the consumer's position under its name
 * (`<command>-<--consumer-name>`), so a consumer that was away resumes where
 * it stopped, and one started for the first time begins where it is told: the
 * start of the stream, a time, or new events only.
 *
 * Messages are pulled in batches and decoded like any NATS message
 * (reader.ts: validated, checked against their subject, de-duplicated by
 * publisher and seq). A message is acknowledged only when its work is done:
 * `ackThrough(event)` acknowledges every message up to the one holding that
 * event (the archive calls it after its transaction committed); with
 * `ackOnDelivery` a message is acknowledged once its events are queued (the
 * logger). Nothing is dropped for a full queue: pulling waits instead.
 *
 * Exactly once across crashes: messages are processed in stream order, and a
 * consumer that finds messages of an earlier run delivered but never
 * acknowledged is re-created at its acknowledgement floor, so they come again
 * in order; what the archive had already committed (its mark, marks.ts) is
 * acknowledged without being handed over again.
 *
 * In order within a run, too: a connection that dies takes with it the
 * messages the server had sent on it (the server delivers them again only
 * after the ack wait, behind newer ones). The consumer's delivery sequence
 * shows the hole: the message after it is not handed over; once everything
 * handed over is acknowledged, the consumer is re-created at its position
 * (`rewinds`), and the lost messages come next, in order. A pull asks for as
 * many messages as fit in `pullBytes` at max_payload each: 256 pulled 1 MiB
 * batches overran the server's per-client buffer (64 MiB), and the server cut
 * the connection as a slow consumer.
 *
 * Counters: `behind` (messages in the stream not yet delivered to this
 * consumer, as of the last message), `missed` (stream sequences that were
 * removed by the stream's limits before this consumer read them; an
 * unfiltered consumer only), `skipped` (already archived), plus the reader's.
 */
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { EventType, ObserverEvent } from '../events/types.js';
import type { StreamMark } from '../consumers/archive/marks.js';
import type { Bus, SubscribeOptions, Subscription } from './bus.js';
import { DEFAULT_STREAM, DEFAULT_STREAM_LIMITS, ensureStream } from './jetstream.js';
import { natsCredentials } from './nats.js';
import { DEFAULT_MAX_QUEUE_BYTES, QueuedSubscription } from './queue.js';
import { MessageReader, newReaderCounters, type ReaderCounters } from './reader.js';
import { SUBJECT_ROOT, subjectsFor } from './subjects.js';

/** Where a consumer seen for the first time begins. */
export type StartAt = { kind: 'all' } | { kind: 'new' } | { kind: 'time'; sinceUs: number };

export interface DurableOptions {
  servers: string[];
  /** The durable consumer's name on the server (letters, digits, `_`, `-`). */
  consumer: string;
  stream?: string;
  start: StartAt;
  types?: readonly EventType[];
  nodeIds?: readonly string[];
  /**
   * Bytes a pull may bring at most (DEFAULT_PULL_BYTES): messages are asked for in a count that fits, each taken as
   * large as the server's max_payload (at least one message). What is asked for and not yet received is what the
   * server may have queued for this client.
   */
  pullBytes?: number;
  /** A message not acknowledged within this long is delivered again. */
  ackWaitMs?: number;
  /** Acknowledge a message once its events are queued (a logger); otherwise ackThrough() does. */
  ackOnDelivery?: boolean;
  /** Already handled (the archive's mark): acknowledged without being handed over. */
  skipThrough?: StreamMark | null;
  /** Only events this accepts are handed over (the others are acknowledged with their message). */
  accept?: (event: ObserverEvent) => boolean;
  /** Events queued before pulling pauses. */
  highWater?: number;
  name?: string;
}

export interface DurableStats extends ReaderCounters {
  acked: number;
  behind: number;
  missed: number;
  skipped: number;
  /** Times the consumer was re-created at its position because messages delivered to it were lost in transit. */
  rewinds: number;
  lastError: string | null;
}

interface Delivered {
  msg: JsMsg;
  /** The last event handed over from it, or null when none was. */
  last: ObserverEvent | null;
}

export const DEFAULT_ACK_WAIT_MS = 60_000;
/**
 * Bytes a pull may bring at most: half the server's default per-client buffer (max_pending, 64 MiB), over which
 * the server cuts a connection as a slow consumer; 32 messages of the default max_payload (1 MiB).
 */
export const DEFAULT_PULL_BYTES = 32 * 1024 * 1024;
/**
 * How long a rewind waits for what was handed over to be acknowledged before it reads those messages again (the
 * archive commits at least every 200 ms; see rewind()).
 */
export const REWIND_ACK_WAIT_MS = 2_000;

/**
 * How long a pull waits on the server. The client counts the server lost after two missed idle heartbeats, at half
 * this each: with the client's default (30 s) an archive whose pull died with a stream leader (a cluster failover)
 * read nothing for up to 30 s; at 5 s it pulls again within about 5 s. An idle consumer pays a pull request per 5 s.
 */
export const PULL_EXPIRES_MS = 5_000;

export class DurableConsumer implements Bus {
  private readonly counters = newReaderCounters();
  private readonly reader = new MessageReader(this.counters);
  private readonly queue: QueuedSubscription;
  private readonly marks = new WeakMap<ObserverEvent, { seq: number; item: number }>();
  private readonly unacked: Delivered[] = [];
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private acked = 0;
  private behind = 0;
  private missed = 0;
  private skipped = 0;
  private rewinds = 0;
  /** The stream seq a rewind re-creates the consumer at, kept across a failed attempt (the consumer may be gone). */
  private rewindFrom: number | null = null;
  /** The consumer's delivery sequence of the last message read (a jump means messages lost in transit), or null when unknown. */
  private lastDelivery: number | null;
  /** Woken when the last unacknowledged message is acknowledged (a rewind waits for it). */
  private ackedAll: (() => void) | undefined;
  /** The stream seq delivered last, when known (gaps after it were removed by the limits before we read them). */
  private lastStreamSeq: number | null;
  private lastError: string | null = null;
  private positionError: string | null = null;
  private positionTimer: NodeJS.Timeout | undefined;
  /** Delivered to this consumer and not yet acknowledged, as of the last position(). */
  ackPending = 0;
  private readonly types: Set<string> | null;
  private readonly unfiltered: boolean;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly options: DurableOptions,
    readonly stream: string,
    /** Said at start-up: which consumer, resumed or new, from where. */
    readonly notice: string,
    private readonly publisher: Bus | null,
    expectAfter: number | null,
    deliveredBefore: number | null,
  ) {
    this.lastStreamSeq = expectAfter;
    this.lastDelivery = deliveredBefore;
    this.types = options.types?.length ? new Set(options.types) : null;
    this.unfiltered = !this.types && !options.nodeIds?.length;
    this.queue = new QueuedSubscription(
      1,
      options.types ? [...options.types] : null,
      1_000_000,
      () => {},
      options.nodeIds?.length ? new Set(options.nodeIds) : null,
      DEFAULT_MAX_QUEUE_BYTES * 4,
    );
  }

  /** Connect, create or resume the durable consumer; `publisher` takes what is published (counters), if given. */
  static async open(options: DurableOptions, publisher: Bus | null = null): Promise<DurableConsumer> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...natsCredentials(options.servers),
        name: options.name ?? `peer-observer ${options.consumer}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        waitOnFirstConnect: false,
      });
    } catch (e) {
      throw new Error(`NATS: cannot connect to ${natsCredentials(options.servers).servers.join(', ')}: ${(e as Error).message}`);
    }
    const stream = options.stream ?? DEFAULT_STREAM;
    try {
      const jsm = await jetstreamManager(nc, { timeout: 5000 });
      // A consumer started before any observer finds no stream yet: it creates it, as the first observer would.
      await ensureStream(jsm, { ...DEFAULT_STREAM_LIMITS, name: stream });
      const { notice, expectAfter, deliveredBefore } = await prepareConsumer(jsm, stream, options);
      return new DurableConsumer(nc, options, stream, notice, publisher, expectAfter, deliveredBefore);
    } catch (e) {
      await nc.close();
      throw new Error(`NATS JetStream consumer ${options.consumer} on stream ${stream}: ${(e as Error).message}`);
    }
  }

  publish(event: ObserverEvent): void {
    this.publisher?.publish(event);
  }

  subscribe(_options: SubscribeOptions = {}): Subscription {
    this.loop ??= this.pull();
    return this.queue;
  }

  /** Ask the server how many messages of the stream this consumer has still to read (also kept in stats().behind, every 5 s). */
  async position(): Promise<number> {
    try {
      const jsm = await jetstreamManager(this.nc, { timeout: 5000 });
      const info = await jsm.consumers.info(this.stream, this.options.consumer);
      this.behind = info.num_pending;
      this.ackPending = info.num_ack_pending;
      this.positionError = null;
      return this.behind;
    } catch (e) {
      this.positionError = (e as Error).message;
      throw e;
    }
  }

  /** Why the last look-up of this consumer on the server failed (deleted, server unreachable), or null. */
  get unreachable(): string | null {
    return this.positionError;
  }

  /** The stream position of an event handed over (for the archive's mark). */
  markOf(event: ObserverEvent): StreamMark | undefined {
    const m = this.marks.get(event);
    return m ? { key: `${this.stream}/${this.options.consumer}`, ...m } : undefined;
  }

  /**
   * The work is done up to and including `last`: acknowledge every message before the one it came from, and that
   * one too when `last` was the last event it handed over (with the messages after it that handed nothing over).
   */
  ackThrough(last: ObserverEvent): void {
    const at = this.marks.get(last);
    if (!at) return;
    let n = 0;
    while (n < this.unacked.length && this.unacked[n]!.msg.info.streamSequence < at.seq) n++;
    if (n < this.unacked.length && this.unacked[n]!.last === last) {
      n++;
      while (n < this.unacked.length && this.unacked[n]!.last === null) n++;
    }
    for (const d of this.unacked.splice(0, n)) this.ack(d.msg);
    if (this.unacked.length === 0) this.wakeAcked();
  }

  private wakeAcked(): void {
    const w = this.ackedAll;
    this.ackedAll = undefined;
    w?.();
  }

  private ack(msg: JsMsg): void {
    msg.ack();
    this.acked++;
  }

  private async pull(): Promise<void> {
    this.positionTimer = setInterval(() => void this.position().catch(() => {}), 5000).unref();
    // Read until stopped; a hole in the delivery sequence ends a read, and the consumer is re-created at its position.
    while (!this.stopped) {
      let hole: boolean;
      try {
        hole = await this.read();
      } catch (e) {
        // The server away, a JetStream API timeout, the consumer deleted under us: try again, never stop reading.
        if (this.stopped) return;
        this.lastError = `JetStream consumer ${this.options.consumer}: reading: ${(e as Error).message}`;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!hole) return;
      // Until it is done (a server away for a while, a JetStream API timeout): never left not reading.
      for (;;) {
        try {
          if (!(await this.rewind())) return;
          break;
        } catch (e) {
          if (this.stopped) return;
          this.lastError = `JetStream consumer ${this.options.consumer}: re-creating it after lost deliveries: ${(e as Error).message}`;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
  }

  /**
   * Messages asked for at a time: as many as fit in pullBytes if each were as large as the server allows (1 to
   * 256). A count, not bytes: the client's byte-bounded pulls (max_bytes) stalled a paced stream for two missed
   * heartbeats (30 s) once its byte accounting ran short of a message (measured: 49,577 of 60,000 events).
   */
  private pullMessages(): number {
    const largest = (this.nc.info?.max_payload ?? 1024 * 1024) + 64 * 1024;
    return Math.min(256, Math.max(1, Math.floor((this.options.pullBytes ?? DEFAULT_PULL_BYTES) / largest)));
  }

  /** Read messages in order until stopped (false), or until a hole in the delivery sequence (true). */
  private async read(): Promise<boolean> {
    const js = jetstream(this.nc);
    const consumer = await js.consumers.get(this.stream, this.options.consumer);
    const highWater = this.options.highWater ?? 50_000;
    this.messages = await consumer.consume({ max_messages: this.pullMessages(), expires: PULL_EXPIRES_MS });
    const skip = this.options.skipThrough ?? null;
    for await (const msg of this.messages) {
      if (this.stopped) break;
      const info = msg.info;
      const seq = info.streamSequence;
      const delivery = info.deliverySequence;
      // Delivered, never received (the connection died with them in it): hand nothing over past the hole.
      if (this.lastDelivery !== null && delivery > this.lastDelivery + 1) {
        this.lastError = `messages ${this.lastDelivery + 1}..${delivery - 1} of this consumer's deliveries were lost in transit (stream seq ${seq} came next): re-reading from where it stopped`;
        return true;
      }
      if (this.lastDelivery === null || delivery > this.lastDelivery) this.lastDelivery = delivery;
      this.behind = info.pending;
      if (this.unfiltered && this.lastStreamSeq !== null && seq > this.lastStreamSeq + 1) this.missed += seq - this.lastStreamSeq - 1;
      if (this.lastStreamSeq === null || seq > this.lastStreamSeq) this.lastStreamSeq = seq;
      if (skip && seq < skip.seq) {
        this.skipped++;
        this.handled(msg, null);
        continue;
      }
      let last: ObserverEvent | null = null;
      const events: ObserverEvent[] = [];
      this.reader.read(msg.subject, msg.headers, msg.data, (event, item) => {
        if (skip && seq === skip.seq && item <= skip.item) return;
        if (this.types && !this.types.has(event.type)) return;
        if (this.options.accept && !this.options.accept(event)) return;
        this.marks.set(event, { seq, item });
        events.push(event);
      });
      // Nothing is dropped for a full queue (count or bytes): wait until the subscriber has taken what waits.
      for (const event of events) {
        while (!this.queue.offer(event) && !this.stopped) await this.queue.whenEmpty();
        if (this.stopped) break;
        last = event;
      }
      if (this.stopped && last === null && events.length) break;
      if (this.reader.lastError !== null) {
        this.lastError = this.reader.lastError;
        this.reader.lastError = null;
      }
      this.handled(msg, last);
      if (this.queue.queued >= highWater) await this.queue.whenEmpty();
    }
    return false;
  }

  /**
   * After a hole: stop reading, wait until everything handed over is acknowledged (the archive's commits), then
   * re-create the consumer at the stream seq after the last message handled, so what was lost comes next. False
   * when stopped meanwhile.
   */
  private async rewind(): Promise<boolean> {
    await this.messages?.close();
    const deadline = Date.now() + REWIND_ACK_WAIT_MS;
    while (this.unacked.length > 0 && !this.stopped && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.ackedAll = resolve;
        setTimeout(resolve, 100);
      });
    }
    if (this.stopped) return false;
    await this.nc.flush();
    const jsm = await jetstreamManager(this.nc, { timeout: 5000 });
    if (this.rewindFrom === null) {
      if (this.unacked.length > 0) {
        // Still not acknowledged (the archive acknowledges through the oldest event of an open aggregate, so a
        // folded message can wait for newer ones that will not come while we do not read): read again from the
        // first of them. Their events were handed over already; the reader's de-duplication drops them, and the
        // messages are acknowledged as they come again.
        this.rewindFrom = this.unacked[0]!.msg.info.streamSequence;
      } else {
        const info = await jsm.consumers.info(this.stream, this.options.consumer);
        // Our acknowledgements may not all be applied yet: the last message handled is the floor we know.
        this.rewindFrom = Math.max(info.ack_floor.stream_seq, this.lastStreamSeq ?? 0) + 1;
      }
      // They belong to the consumer about to be deleted: acknowledging them later would do nothing.
      this.unacked.length = 0;
    }
    try {
      await jsm.consumers.delete(this.stream, this.options.consumer);
    } catch (e) {
      // Deleted by an earlier attempt that failed after it.
      if (!/consumer not found/i.test((e as Error).message)) throw e;
    }
    await jsm.consumers.add(this.stream, {
      ...consumerConfig(this.options),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.rewindFrom,
    });
    this.rewindFrom = null;
    this.lastDelivery = 0;
    this.rewinds++;
    return !this.stopped;
  }

  private handled(msg: JsMsg, last: ObserverEvent | null): void {
    if (this.options.ackOnDelivery || (last === null && this.unacked.length === 0)) {
      this.ack(msg);
      if (this.unacked.length === 0) this.wakeAcked();
    } else this.unacked.push({ msg, last });
  }

  async drain(): Promise<void> {
    await this.queue.whenEmpty();
  }

  /** The durable consumer's name on the server. */
  get consumerName(): string {
    return this.options.consumer;
  }

  /** Messages handed over whose events are not all acknowledged yet (ackThrough). */
  get unacknowledged(): number {
    return this.unacked.length;
  }

  /** Events handed over and not yet taken by the subscriber. */
  get queued(): number {
    return this.queue.queued;
  }

  stats(): DurableStats {
    return {
      ...this.counters,
      acked: this.acked,
      behind: this.behind,
      missed: this.missed,
      skipped: this.skipped,
      rewinds: this.rewinds,
      lastError: this.lastError,
    };
  }

  /**
   * Stop pulling, let the subscriber take what is queued (its acknowledgements go out), then close; `remove` deletes
   * the consumer on the server; `settled` is the subscriber's last acknowledgements, awaited before disconnecting.
   */
  async close(remove = false, settled?: Promise<void>): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (remove) {
      await jetstreamManager(this.nc, { timeout: 5000 })
        .then((jsm) => jsm.consumers.delete(this.stream, this.options.consumer))
        .catch(() => {});
    }
    clearInterval(this.positionTimer);
    await this.messages?.close();
    this.queue.end();
    await this.loop?.catch((e: Error) => (this.lastError = e.message));
    await settled?.catch(() => {});
    await this.nc.flush().catch(() => {});
    await this.nc.drain().catch(() => this.nc.close());
  }
}

/**
 * Create the durable consumer, or resume it. A consumer whose earlier run left
 * messages delivered but unacknowledged is re-created at its acknowledgement
 * floor, so those come again first and in order (the server would otherwise
 * send them only after the ack wait, behind newer ones).
 */
function consumerConfig(options: DurableOptions): Partial<ConsumerConfig> {
  const subjects = subjectsFor({
    ...(options.types ? { types: options.types } : {}),
    ...(options.nodeIds ? { nodeIds: options.nodeIds } : {}),
  });
  return {
    durable_name: options.consumer,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
    max_ack_pending: 10_000,
    filter_subject: subjects.length === 1 ? subjects[0]! : `${SUBJECT_ROOT}.>`,
  };
}

async function prepareConsumer(
  jsm: JetStreamManager,
  stream: string,
  options: DurableOptions,
): Promise<{ notice: string; expectAfter: number | null; deliveredBefore: number }> {
  const base = consumerConfig(options);
  let info;
  try {
    info = await jsm.consumers.info(stream, options.consumer);
  } catch (e) {
    if (!/consumer not found/i.test((e as Error).message)) throw e;
    info = null;
  }
  if (info && info.num_ack_pending === 0 && info.config.filter_subject === base.filter_subject) {
    return {
      notice: `resuming durable consumer ${options.consumer} on stream ${stream} after stream seq ${info.delivered.stream_seq} (${info.num_pending} waiting)`,
      expectAfter: info.delivered.stream_seq,
      deliveredBefore: info.delivered.consumer_seq,
    };
  }
  if (info) {
    const from = info.ack_floor.stream_seq + 1;
    await jsm.consumers.delete(stream, options.consumer);
    await jsm.consumers.add(stream, { ...base, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
    const why = info.num_ack_pending
      ? `${info.num_ack_pending} delivered earlier, never acknowledged`
      : `now filtered on ${base.filter_subject}`;
    return {
      notice: `resuming durable consumer ${options.consumer} on stream ${stream} at stream seq ${from} (${why})`,
      expectAfter: from - 1,
      deliveredBefore: 0,
    };
  }
  const start = options.start;
  if (start.kind === 'time') {
    const at = new Date(Math.floor(start.sinceUs / 1000)).toISOString();
    await jsm.consumers.add(stream, { ...base, deliver_policy: DeliverPolicy.StartTime, opt_start_time: at });
    return { notice: `new durable consumer ${options.consumer} on stream ${stream}, from ${at}`, expectAfter: null, deliveredBefore: 0 };
  }
  await jsm.consumers.add(stream, { ...base, deliver_policy: start.kind === 'new' ? DeliverPolicy.New : DeliverPolicy.All });
  return {
    notice: `new durable consumer ${options.consumer} on stream ${stream}, ${start.kind === 'new' ? 'new events only' : 'from the start of the stream'}`,
    // From the start: whatever the limits removed before it reads is counted.
    expectAfter: start.kind === 'all' ? 0 : null,
    deliveredBefore: 0,
  };
}
