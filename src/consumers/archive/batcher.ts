/**
 * The archive's state machine, without a bus or a thread: events in (take(),
 * then end()), batches out to an injected writer (ArchiveWriter: the three
 * requests of writer-client.ts's WriterClient and its close).
 *
 * Each event goes through the Folder (fold.ts); what it lets through becomes a
 * row of the filling batch (store.ts's RowBatchBuilder: filter columns and the
 * envelope encoded once). A batch is sent when it holds `batchSize` events or
 * `batchMaxBytes` of envelopes, or `flushMs` after its first event, or at the
 * end.
 *
 * One batch is in flight (being committed) at a time. A full batch is sent to
 * the writer (add) while the one before is still in flight, but its commit is
 * asked for only after the one before is answered and acknowledged (onCommit):
 * a process killed at any moment has every acknowledged batch in the file and
 * at most one more. While one is in flight and the next is sent, take()
 * returns a promise that resolves when the writer answers: the caller takes
 * nothing more from its source until then, so the archive holds at most two
 * batches (consumer.ts: the bus subscription's bounded queue is the
 * back-pressure).
 *
 * Retention (by age and size) is asked for at construction and every
 * `retentionIntervalMs`, one request at a time, when there is any (an age or a
 * cap). A failed batch is counted (failed, writeErrors) and reported once
 * (onError; once the writer has stopped, silently), and the next batch goes on.
 *
 * consumer.ts's startArchive puts this on a bus with the real writer thread.
 */
import type { ObserverEvent } from '../../events/types.js';
import type { StreamMark } from './marks.js';
import { RowBatchBuilder, type RowBatch } from './store.js';
import { Folder, type Folded } from './fold.js';
import { ArchiveHealth, type HealthStatus } from './health.js';
import type { WriterOutcome } from './writer-client.js';

/** What the batcher asks of the writer thread (writer-client.ts's WriterClient has these). */
export interface ArchiveWriter {
  /** Send a batch (inserted at once, committed at commit(id)); returns its id. */
  add(batch: RowBatch): number;
  commit(id: number): Promise<WriterOutcome>;
  /** Delete events older than `cutoffUs` (null: none by age) and, by size, past the cap. */
  retain(cutoffUs: number | null): Promise<WriterOutcome>;
  /** Close after every request made before; the file's size on disk (undefined: unknown). */
  close(): Promise<number | undefined>;
}

export interface BatcherOptions {
  batchSize: number;
  /** Send a batch once its envelopes take this many bytes. */
  batchMaxBytes: number;
  flushMs: number;
  /** Tokens per second per stream before events are folded (fold.ts); 0: never fold. */
  foldRate: number;
  /** The size cap in bytes (0: none); retention runs when there is a cap or `retentionDays`. */
  capBytes: number;
  retentionDays?: number;
  retentionIntervalMs: number;
  /** Called after each committed batch, with its last event. */
  onCommit?: (batch: { events: number; last: ObserverEvent }) => void;
  /** The stream position a batch ending with `last` leaves the archive at, committed with it (marks.ts). */
  markOf?: (last: ObserverEvent) => StreamMark | undefined;
  /** A batch could not be written, retention failed, or onCommit threw; the batcher keeps going. */
  onError?: (error: Error) => void;
  /** Clock for retention by age (µs since the epoch). */
  nowUs?: () => number;
  /** The file's size on disk: read at start, and at close if the writer could not say. */
  fileBytes?: () => number;
  /** Events the source dropped (its queue overflowed), for counters and health. */
  dropped?: () => number;
}

export interface ArchiveCounters {
  received: number;
  /** Events committed (those folded into a committed aggregate included). */
  written: number;
  batches: number;
  failed: number;
  pruned: number;
  dropped: number;
  /** Bytes on disk (database + WAL), as of the last batch. */
  fileBytes: number;
  /** Events folded into aggregates, and aggregates made (fold.ts). */
  folded: number;
  aggregates: number;
  /** The size cap in bytes (0: none). */
  capBytes: number;
  /** Batches that could not be committed. */
  writeErrors: number;
  /** 1 while health() is ok, else 0; 1 while the last failure was a full disk (SQLITE_FULL), else 0. */
  healthy: number;
  diskFull: number;
}

const DAY_US = 86_400 * 1_000_000;
/** How often open aggregates are checked for closing (fold.ts flushDue) and drops for health. */
export const FOLD_FLUSH_MS = 250;

/** A batch sent to the writer: its id there, the events it stands for, its last event. */
interface Batch {
  id: number;
  events: number;
  last: ObserverEvent;
}

export class ArchiveBatcher {
  private readonly folder: Folder;
  private readonly health = new ArchiveHealth();
  private readonly c = { received: 0, written: 0, batches: 0, failed: 0, pruned: 0 };
  private bytes: number;
  /** The writer stopped (and said so): its batches from now on are counted as failed without a message each. */
  private writerStopped = false;
  private retaining = false;
  private readonly retentionTimer: NodeJS.Timeout | undefined;
  private readonly foldTimer: NodeJS.Timeout;
  // Two batches at most: the one being committed (`inFlight`), and the one filling or, once complete, the same sent
  // to the writer (`next`), which inserts it at once but commits it only when asked, after `inFlight` is acknowledged.
  private rows = new RowBatchBuilder();
  /** Events the filling batch stands for (an aggregate: its count), and its last. */
  private rowsEvents = 0;
  private last: ObserverEvent | undefined;
  private inFlight: Batch | undefined;
  private next: Batch | undefined;
  /** The filling batch is due (its flushMs passed, or the end): send it as soon as none is in flight. */
  private due = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Whoever waits for the batch in flight to be answered (take's caller, end). */
  private wake: (() => void) | undefined;
  private readonly out: Folded[] = [];
  private closed: Promise<void> | undefined;

  constructor(
    private readonly options: BatcherOptions,
    private readonly writer: ArchiveWriter,
  ) {
    this.folder = new Folder(options.foldRate);
    this.bytes = options.fileBytes?.() ?? 0;
    const retention = options.retentionDays !== undefined || options.capBytes > 0;
    if (retention) this.retain();
    this.retentionTimer = retention ? setInterval(() => this.retain(), options.retentionIntervalMs).unref() : undefined;
    // Aggregates of streams gone quiet are closed here, and drops noted for health(); only sent when nothing is ahead.
    this.foldTimer = setInterval(() => this.foldTick(), FOLD_FLUSH_MS).unref();
  }

  private get dropped(): number {
    return this.options.dropped?.() ?? 0;
  }

  counters(): ArchiveCounters {
    const h = this.health.status(this.dropped);
    return {
      ...this.c,
      dropped: this.dropped,
      fileBytes: this.bytes,
      folded: this.folder.folded,
      aggregates: this.folder.aggregates,
      capBytes: this.options.capBytes,
      writeErrors: this.health.writeErrors,
      healthy: h.ok ? 1 : 0,
      diskFull: this.health.diskFull ? 1 : 0,
    };
  }

  /** ok, or why not (health.ts). */
  status(): HealthStatus {
    return this.health.status(this.dropped);
  }

  /**
   * Take one event. Returns undefined when ready for the next; a promise when one batch is in flight and the next
   * is sent: take nothing more until it resolves (the writer answered).
   */
  take(event: ObserverEvent): Promise<void> | undefined {
    this.c.received++;
    this.folder.push(event, this.out);
    if (this.out.length === 0) return undefined;
    this.add();
    if (this.full()) {
      // The flush timer may have sent one ahead meanwhile: one at a time.
      if (this.next) return this.sendAfterNext();
      this.send();
    } else this.armFlush();
    return this.next ? this.whileNext() : undefined;
  }

  /**
   * The source ended: fold what is open, send what was taken, and resolve once every batch is answered and the
   * writer closed (timers stopped). Call once, after the last take() has resolved.
   */
  async end(): Promise<void> {
    try {
      clearInterval(this.foldTimer);
      this.folder.flushAll(this.out);
      this.add();
      this.due = true;
      await this.whileNext();
      if (!this.inFlight && this.rows.count > 0) this.send();
      while (this.inFlight || this.next) await this.answer();
      if (this.rows.count > 0) {
        this.send();
        while (this.inFlight) await this.answer();
      }
    } finally {
      await this.close();
    }
  }

  /** Stop the timers and close the writer, without sending what is filling (end() sends it first). */
  close(): Promise<void> {
    return (this.closed ??= (async () => {
      clearInterval(this.foldTimer);
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      if (this.retentionTimer) clearInterval(this.retentionTimer);
      this.bytes = (await this.writer.close()) ?? this.options.fileBytes?.() ?? this.bytes;
    })());
  }

  private answer(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  private async whileNext(): Promise<void> {
    while (this.next) await this.answer();
  }

  private async sendAfterNext(): Promise<void> {
    await this.whileNext();
    this.send();
    await this.whileNext();
  }

  /** Retention by age and size; one request at a time. */
  private retain(): void {
    if (this.retaining) return;
    this.retaining = true;
    const { retentionDays, nowUs = () => Date.now() * 1000 } = this.options;
    const cutoffUs = retentionDays !== undefined ? nowUs() - Math.round(retentionDays * DAY_US) : null;
    void this.writer.retain(cutoffUs).then((r) => {
      this.retaining = false;
      if (r.ok) {
        this.c.pruned += r.pruned;
        this.bytes = r.fileBytes;
        if (r.retentionError) this.error(`archive retention: ${r.retentionError}`);
      } else if (!r.died && !r.stopped) this.error(`archive retention: ${r.error}`);
    });
  }

  private foldTick(): void {
    this.health.noteDropped(this.dropped);
    this.folder.flushDue(Date.now() * 1000, this.out);
    if (this.out.length === 0) return;
    this.add();
    if (this.full() && !this.next) this.send();
    else this.armFlush();
  }

  private error(message: string): void {
    this.options.onError?.(new Error(message));
  }

  /** Add what the folder let through to the filling batch. */
  private add(): void {
    for (const f of this.out) {
      if ('event' in f) {
        this.rows.add(f.event);
        this.last = f.event;
        this.rowsEvents++;
      } else {
        this.rows.addAggregate(f);
        this.last = f.sample;
        this.rowsEvents += f.aggregate.count;
      }
    }
    this.out.length = 0;
  }

  private full(): boolean {
    return this.rows.count >= this.options.batchSize || this.rows.bytesUsed >= this.options.batchMaxBytes;
  }

  private armFlush(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.due = true;
      if (!this.inFlight && this.rows.count > 0) this.send();
    }, this.options.flushMs);
  }

  /** Send the filling batch (full, due, or the end) to the writer; commit it now, or after the one in flight. */
  private send(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    this.due = false;
    // Already sent (by the answer that ended a wait): nothing to send.
    if (this.rows.count === 0) return;
    const rowBatch = this.rows.finish();
    const last = this.last!;
    const mark = this.options.markOf?.(last);
    if (mark) rowBatch.mark = mark;
    const b: Batch = { id: this.writer.add(rowBatch), events: this.rowsEvents, last };
    this.rowsEvents = 0;
    this.rows = new RowBatchBuilder(Math.min(this.rows.bytesUsed, this.options.batchMaxBytes));
    this.last = undefined;
    if (this.inFlight) this.next = b;
    else this.commit(b);
  }

  private commit(b: Batch): void {
    this.inFlight = b;
    void this.writer.commit(b.id).then((r) => {
      // Acknowledge first: the next batch may be committed only after this one is acknowledged.
      this.settle(b, r);
      this.inFlight = undefined;
      const n = this.next;
      this.next = undefined;
      if (n) this.commit(n);
      else if (this.due && this.rows.count > 0) this.send();
      const w = this.wake;
      this.wake = undefined;
      w?.();
    });
  }

  private settle(b: Batch, r: WriterOutcome): void {
    this.health.settled(r, b.events);
    if (r.ok) {
      this.c.written += b.events;
      this.c.batches++;
      this.c.pruned += r.pruned;
      this.bytes = r.fileBytes;
      try {
        this.options.onCommit?.({ events: b.events, last: b.last });
      } catch (e) {
        this.error(`archive: onCommit: ${(e as Error).message}`);
      }
      if (r.retentionError) this.error(`archive retention: ${r.retentionError}`);
      return;
    }
    this.c.failed += b.events;
    if (r.fileBytes !== undefined) this.bytes = r.fileBytes;
    // Once the writer has stopped (and said so), its batches are counted without a message each.
    if (!r.stopped || !this.writerStopped) this.error(`archive: a batch of ${b.events} events was not written: ${r.error}`);
    if (r.stopped) this.writerStopped = true;
  }
}
