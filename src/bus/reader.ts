/**
 * Reads one NATS message into events, the same for a core subscription and a
 * JetStream consumer: the batch header says the format (seq.ts), the
 * `Nats-Msg-Id` the publisher and seq of its first event. Every event is
 * decoded and validated (events/schema.ts), de-duplicated per (subject node,
 * publisher) and checked against the subject it came on:
 *
 * - an id that names another node than the subject's is refused, the whole
 *   message (`forged`): a publisher allowed on `po.v1.fra-1.>` cannot touch
 *   another node's ids;
 * - an event whose nodeId or type is not the subject's is refused (`rejected`):
 *   the server's per-subject permissions then decide who may speak for a node.
 *
 * Counters count events: `received = duplicates + decoded + rejected + forged`
 * (a message that is not a well-formed batch counts as one).
 */
import { unpackEvents } from '../events/packed.js';
import { EventValidationError, parseEvent } from '../events/schema.js';
import type { ObserverEvent } from '../events/types.js';
import { decodeEvent, decodeEventJson, splitBatch } from '../events/wire.js';
import { BATCH_HEADER, Dedup, SEQ_HEADER, parseBatch, parseSeq } from './seq.js';
import { parseSubject } from './subjects.js';

export interface ReaderCounters {
  received: number;
  duplicates: number;
  decoded: number;
  rejected: number;
  /** Events refused because their Nats-Msg-Id named another node than their subject. */
  forged: number;
  /** Events too far below their publisher's highest seq to be checked for duplicates (delivered). */
  late: number;
}

export function newReaderCounters(): ReaderCounters {
  return { received: 0, duplicates: 0, decoded: 0, rejected: 0, forged: 0, late: 0 };
}

export interface MessageHeaders {
  get(name: string): string;
}

export class MessageReader {
  private readonly dedup = new Dedup();
  lastError: string | null = null;

  /** `counters` may be shared by several readers (one per subscription, one de-duplication each). */
  constructor(readonly counters: ReaderCounters = newReaderCounters()) {}

  /** Decode `data` (from `subject`) and hand each new, valid event to `deliver`. */
  read(subject: string, headers: MessageHeaders | undefined, data: Uint8Array, deliver: (e: ObserverEvent, item: number) => void): void {
    const late = this.dedup.late;
    try {
      this.readInner(subject, headers, data, deliver);
    } finally {
      this.counters.late += this.dedup.late - late;
    }
  }

  private readInner(
    subject: string,
    headers: MessageHeaders | undefined,
    data: Uint8Array,
    deliver: (e: ObserverEvent, item: number) => void,
  ): void {
    const c = this.counters;
    const where = parseSubject(subject);
    const id = headers?.get(SEQ_HEADER);
    const seq = id ? parseSeq(id) : undefined;
    const batch = headers?.get(BATCH_HEADER);
    const format = batch ? parseBatch(batch) : undefined;
    if (!where) {
      c.received += format?.count ?? 1;
      c.rejected += format?.count ?? 1;
      this.lastError = `rejected message on ${subject}: not a po.v1.<node>.<type> subject`;
      return;
    }
    if (seq?.node !== undefined && seq.node !== where.token) {
      c.received += format?.count ?? 1;
      c.forged += format?.count ?? 1;
      this.lastError = `refused message on ${subject}: its ${SEQ_HEADER} names node ${JSON.stringify(seq.node)}`;
      return;
    }
    const accept = (decode: () => ObserverEvent, item: number) => {
      let event: ObserverEvent;
      try {
        event = decode();
        if (event.nodeId !== where.nodeId || event.type !== where.type)
          throw new EventValidationError(`event of ${JSON.stringify(event.nodeId)} (${event.type}) on another node's or type's subject`);
      } catch (e) {
        this.reject(e, subject);
        return;
      }
      c.decoded++;
      deliver(event, item);
    };
    if (!batch) {
      // One event (the first wire format).
      c.received++;
      if (seq && !this.dedup.first(where.token, seq.publisher, seq.seq)) {
        c.duplicates++;
        return;
      }
      accept(() => decodeEvent(data), 0);
      return;
    }
    let items: unknown[];
    try {
      if (format === undefined) throw new EventValidationError(`${BATCH_HEADER}: ${batch}: not a batch this version reads`);
      items = format.encoding === 'msgpack' ? unpackEvents(data, format.count) : splitBatch(data, format.count);
    } catch (e) {
      c.received++;
      this.reject(e, subject);
      return;
    }
    const { count, encoding } = format;
    c.received += count;
    const window = seq ? this.dedup.window(where.token, seq.publisher) : null;
    for (let i = 0; i < count; i++) {
      if (seq && !this.dedup.firstIn(window!, seq.seq + i)) {
        c.duplicates++;
        continue;
      }
      accept(() => (encoding === 'msgpack' ? parseEvent(items[i]) : decodeEventJson(items[i] as string)), i);
    }
  }

  private reject(e: unknown, subject: string): void {
    if (!(e instanceof EventValidationError)) throw e;
    this.counters.rejected++;
    this.lastError = `rejected message on ${subject}: ${e.message}`;
  }
}
