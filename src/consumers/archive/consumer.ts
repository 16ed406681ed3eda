/**
 * The archive consumer: takes every event from one bus subscription and writes
 * it to SQLite in batches, one transaction per batch, flushed every `batchSize`
 * events or `flushMs` after the batch's first event, whichever comes first.
 *
 * The work is split over two threads. Here, each event's row is built (its
 * filter columns, and the envelope encoded once: JSON, then UTF-8) into the
 * filling batch. A writer thread (writer.ts, through writer-client.ts) owns
 * the write connection: it inserts and commits batches, runs retention and
 * reads the file's size, so a commit never holds this thread's event loop.
 *
 * One batch is in flight (being committed) at a time. A full batch is sent to
 * the writer while the one before is still in flight, and inserted there at
 * once, but committed only after the one before is acknowledged (onCommit
 * called): a process killed at any moment has every acknowledged batch in the
 * file and at most one more. While one is in flight and the next is sent,
 * nothing more is taken from the subscription until the writer answers, so
 * the subscription's bounded queue is the backpressure (overflow counted
 * there) and the archive holds at most two batches beyond it.
 *
 * Retention runs at start, every `retentionIntervalMs`, and (by size) after
 * any batch that takes the file over its maximum.
 *
 * Counters: received (taken from the bus), written (committed), batches
 * (committed transactions), failed (events in batches that could not be
 * written, the one being committed when the writer thread died included),
 * pruned (deleted by retention), dropped (the subscription's queue
 * overflowed). Published as `pipeline.counters` (stage `archive`) when asked.
 */
import type { Bus, Subscription } from '../../bus/bus.js';
import { makeEvent, type EventOrigin } from '../../events/envelope.js';
import type { ObserverEvent } from '../../events/types.js';
import type { StreamMark } from './marks.js';
import { RowBatchBuilder } from './store.js';
import { fileBytes, openArchiveForWriting } from './db.js';
import { WriterClient, type WriterOutcome } from './writer-client.js';

/**
 * Events per transaction at full rate (a quiet stream commits every flushMs).
 * Each commit writes every index page it dirtied, and the peer index is spread
 * over the peers (≈ one 16 KiB page per peer per batch, more bytes than the
 * rows themselves): 5000 rows a commit measured ≈ 1.25x the rate of 1000
 * (docs/benchmarks.md). A crash loses at most two batches (docs/archive.md).
 */
export const DEFAULT_BATCH_SIZE = 5000;
/**
 * Envelope bytes at which a batch is sent however few events it holds: a batch
 * of message events with raw payloads (up to 5.3 MB each) must not hold
 * batchSize of them. Two batches (in flight, next) bound the archive's memory.
 */
export const DEFAULT_BATCH_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_FLUSH_MS = 200;
export const DEFAULT_RETENTION_INTERVAL_MS = 60_000;

export interface ArchiveOptions {
  dataDir: string;
  /** Delete events older than this many days. */
  retentionDays?: number;
  /** Keep the database under this many MiB (oldest events deleted first). */
  maxDbMb?: number;
  batchSize?: number;
  /** Send a batch once its envelopes take this many bytes (DEFAULT_BATCH_MAX_BYTES). */
  batchMaxBytes?: number;
  flushMs?: number;
  retentionIntervalMs?: number;
  maxQueue?: number;
  /** Publish `pipeline.counters` (stage `archive`) on the bus this often, as `origin`. */
  counters?: { origin: EventOrigin; intervalMs: number };
  /** Called after each committed batch, with its last event (tests, acknowledgements). */
  onCommit?: (batch: { events: number; last: ObserverEvent }) => void;
  /** The stream position a batch ending with `last` leaves the archive at, committed with it (JetStream, marks.ts). */
  markOf?: (last: ObserverEvent) => StreamMark | undefined;
  /** Called when a batch could not be written or retention failed; the consumer keeps going. */
  onError?: (error: Error) => void;
  /** Clock for retention by age (µs since the epoch). */
  nowUs?: () => number;
  /** Tests: the module the writer thread runs instead of ./writer.ts (it must export `main(init)` as writer.ts does). */
  writerModule?: URL;
}

export interface ArchiveCounters {
  received: number;
  written: number;
  batches: number;
  failed: number;
  pruned: number;
  dropped: number;
  /** Bytes on disk (database + WAL), as of the last batch. */
  fileBytes: number;
}

export interface Archive {
  readonly subscription: Subscription;
  counters(): ArchiveCounters;
  /** Resolves when the subscription has ended, the last batch is written and the file is closed. */
  readonly done: Promise<void>;
  /** Resolves when the writer thread has opened the file (or gave up); until then events wait in the first batch and the bus queue. */
  readonly ready: Promise<void>;
}

const MIB = 1024 * 1024;
const DAY_US = 86_400 * 1_000_000;

/** Open the archive under `options.dataDir` (throws if it cannot) and start archiving what `bus` carries. */
export function startArchive(bus: Bus, options: ArchiveOptions): Archive {
  // Open and migrate here, so a bad data dir or a newer schema throws now; the writer thread then opens its own connection.
  openArchiveForWriting(options.dataDir).close();
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const batchMaxBytes = options.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES;
  const flushMs = options.flushMs ?? DEFAULT_FLUSH_MS;
  const nowUs = options.nowUs ?? (() => Date.now() * 1000);
  const onError = options.onError ?? (() => {});
  const c = { received: 0, written: 0, batches: 0, failed: 0, pruned: 0 };
  let bytes = fileBytes(options.dataDir);
  /** The writer stopped (too many deaths in a row) and said so: batches from now on are counted as failed without a message each. */
  let stopped = false;

  const writer = new WriterClient({
    init: { dataDir: options.dataDir, maxBytes: options.maxDbMb !== undefined ? options.maxDbMb * MIB : null },
    ...(options.writerModule ? { entry: options.writerModule } : {}),
    onDeath: (message) => onError(new Error(message)),
  });

  const subscription = bus.subscribe(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {});
  const counters = (): ArchiveCounters => ({ ...c, dropped: subscription.dropped, fileBytes: bytes });

  // Retention by age and size: at start (the thread's first request) and every retentionIntervalMs; one request at a time.
  let retaining = false;
  const retain = () => {
    if (retaining) return;
    retaining = true;
    const cutoffUs = options.retentionDays !== undefined ? nowUs() - Math.round(options.retentionDays * DAY_US) : null;
    void writer.retain(cutoffUs).then((r) => {
      retaining = false;
      if (r.ok) {
        c.pruned += r.pruned;
        bytes = r.fileBytes;
        if (r.retentionError) onError(new Error(`archive retention: ${r.retentionError}`));
      } else if (!r.died && !r.stopped) onError(new Error(`archive retention: ${r.error}`));
    });
  };
  const retention = options.retentionDays !== undefined || options.maxDbMb !== undefined;
  if (retention) retain();
  const retentionTimer = retention ? setInterval(retain, options.retentionIntervalMs ?? DEFAULT_RETENTION_INTERVAL_MS).unref() : undefined;
  const countersTimer = options.counters
    ? setInterval(() => {
        bus.publish(makeEvent(options.counters!.origin, 'pipeline.counters', { stage: 'archive', counters: { ...counters() } }));
      }, options.counters.intervalMs).unref()
    : undefined;

  // Two batches at most besides the bus queue: the one being committed (`inFlight`), and the one filling or, once
  // complete, the same sent to the writer thread (`next`), which inserts it at once but commits it only when asked,
  // after the one in flight is acknowledged.
  interface Batch {
    id: number;
    events: number;
    last: ObserverEvent;
  }
  let rows = new RowBatchBuilder();
  let last: ObserverEvent | undefined;
  let inFlight: Batch | undefined;
  let next: Batch | undefined;
  /** The filling batch is due (its flushMs passed, or the subscription ended): send it as soon as none is in flight. */
  let due = false;
  let timer: NodeJS.Timeout | undefined;
  /** The consumer loop waiting for the batch in flight to be answered. */
  let wake: (() => void) | undefined;
  const answer = () => new Promise<void>((resolve) => (wake = resolve));

  const settle = (b: Batch, r: WriterOutcome) => {
    if (r.ok) {
      c.written += b.events;
      c.batches++;
      c.pruned += r.pruned;
      bytes = r.fileBytes;
      try {
        options.onCommit?.({ events: b.events, last: b.last });
      } catch (e) {
        onError(new Error(`archive: onCommit: ${(e as Error).message}`));
      }
      if (r.retentionError) onError(new Error(`archive retention: ${r.retentionError}`));
      return;
    }
    c.failed += b.events;
    if (r.fileBytes !== undefined) bytes = r.fileBytes;
    // Once the writer has stopped (and said so), its batches are counted without a message each.
    if (!r.stopped || !stopped) onError(new Error(`archive: a batch of ${b.events} events was not written: ${r.error}`));
    if (r.stopped) stopped = true;
  };

  const commit = (b: Batch) => {
    inFlight = b;
    void writer.commit(b.id).then((r) => {
      // Acknowledge first: the next batch may be committed only after this one is acknowledged.
      settle(b, r);
      inFlight = undefined;
      const n = next;
      next = undefined;
      if (n) commit(n);
      else if (due && rows.count > 0) send();
      const w = wake;
      wake = undefined;
      w?.();
    });
  };

  /** Send the filling batch (full, due, or the end) to the writer thread; commit it now, or after the one in flight. */
  const send = () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    due = false;
    const rowBatch = rows.finish();
    const mark = options.markOf?.(last!);
    if (mark) rowBatch.mark = mark;
    const b: Batch = { id: writer.add(rowBatch), events: rows.count, last: last! };
    rows = new RowBatchBuilder(Math.min(rows.bytesUsed, batchMaxBytes));
    last = undefined;
    if (inFlight) next = b;
    else commit(b);
  };

  const done = (async () => {
    try {
      for await (const event of subscription) {
        c.received++;
        rows.add(event);
        last = event;
        if (rows.count >= batchSize || rows.bytesUsed >= batchMaxBytes) send();
        else {
          timer ??= setTimeout(() => {
            timer = undefined;
            due = true;
            if (!inFlight && rows.count > 0) send();
          }, flushMs);
        }
        // One in flight and the next sent: take nothing more from the bus until the writer answers (its queue is bounded).
        while (next) await answer();
      }
      due = true;
      if (!inFlight && rows.count > 0) send();
      while (inFlight) await answer();
    } finally {
      if (timer) clearTimeout(timer);
      if (retentionTimer) clearInterval(retentionTimer);
      if (countersTimer) clearInterval(countersTimer);
      bytes = (await writer.close()) ?? fileBytes(options.dataDir);
    }
  })();

  return { subscription, counters, done, ready: writer.ready };
}

/** One line for stderr at exit. */
export function formatArchiveCounters(c: ArchiveCounters): string {
  return `received=${c.received} written=${c.written} batches=${c.batches} failed=${c.failed} pruned=${c.pruned} dropped=${c.dropped} bytes=${c.fileBytes}`;
}
