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
import { statfsSync } from 'node:fs';
import type { Bus, Subscription } from '../../bus/bus.js';
import { makeEvent, type EventOrigin } from '../../events/envelope.js';
import type { ObserverEvent } from '../../events/types.js';
import type { StreamMark } from './marks.js';
import { RowBatchBuilder } from './store.js';
import { ArchiveDamagedError, archivePath, fileBytes, moveAside, openArchiveForWriting } from './db.js';
import { DEFAULT_FOLD_RATE, Folder, type Folded } from './fold.js';
import { ArchiveHealth, type HealthStatus } from './health.js';
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
  /**
   * Keep the database and its log under this many MiB (oldest events deleted first). Absent: the default cap
   * (defaultCapBytes: 10 % of the free space at start, at most 10 GiB); 0: no cap.
   */
  maxDbMb?: number;
  /** Tokens per second per stream before events are folded into aggregates (fold.ts; DEFAULT_FOLD_RATE); 0: never fold. */
  foldRate?: number;
  /** A damaged file (quick_check) is moved aside and a fresh one started, instead of refused (ArchiveDamagedError). */
  freshIfDamaged?: boolean;
  /** Told what happened at open (a damaged file moved aside). */
  onNotice?: (message: string) => void;
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

export interface Archive {
  readonly subscription: Subscription;
  counters(): ArchiveCounters;
  /** ok, or why not (writes failing, disk full, events dropped, writer stopped): health.ts. For /healthz. */
  health(): HealthStatus;
  /** The size cap in bytes (0: none), and how it was chosen (for the start line). */
  readonly cap: { bytes: number; isDefault: boolean; describe: string };
  /** Resolves when the subscription has ended, the last batch is written and the file is closed. */
  readonly done: Promise<void>;
  /** Resolves when the writer thread has opened the file (or gave up); until then events wait in the first batch and the bus queue. */
  readonly ready: Promise<void>;
}

const MIB = 1024 * 1024;
const DAY_US = 86_400 * 1_000_000;
/** The default cap: this share of the free space at start (the archive's own files counted as free)... */
export const DEFAULT_CAP_SHARE = 0.1;
/** ... and at most this. */
export const DEFAULT_CAP_MAX_BYTES = 10 * 1024 * MIB;
/** How often open aggregates are checked for closing (fold.ts flushDue) and drops for health. */
const FOLD_FLUSH_MS = 250;

/**
 * The default size cap for an archive in `dataDir`: 10 % of the file system's free space, counting the archive's
 * own files as free (so restarting does not shrink it), at most 10 GiB.
 */
export function defaultCapBytes(dataDir: string): number {
  const fs = statfsSync(dataDir);
  const free = fs.bavail * fs.bsize + fileBytes(dataDir);
  return Math.min(DEFAULT_CAP_MAX_BYTES, Math.floor(free * DEFAULT_CAP_SHARE));
}

/** Open (and check) the file once here, so a bad dir, a newer schema or a damaged file is refused before anything starts. */
function openAndCheck(options: ArchiveOptions): void {
  try {
    openArchiveForWriting(options.dataDir, { check: true }).close();
  } catch (e) {
    if (!(e instanceof ArchiveDamagedError) || !options.freshIfDamaged) throw e;
    const aside = moveAside(options.dataDir);
    options.onNotice?.(`${archivePath(options.dataDir)} was damaged (${e.problem}): moved aside to ${aside}; starting a fresh archive`);
    openArchiveForWriting(options.dataDir, { check: true }).close();
  }
}

/** Open the archive under `options.dataDir` (throws if it cannot) and start archiving what `bus` carries. */
export function startArchive(bus: Bus, options: ArchiveOptions): Archive {
  // Open, check and migrate here, so a bad data dir, a newer schema or a damaged file throws now; the writer thread
  // then opens its own connection.
  openAndCheck(options);
  // The default never deletes history an archive already has: one larger than it (kept by an older version, or a
  // larger cap before) keeps its present size as its cap.
  const present = fileBytes(options.dataDir);
  const byDefault = options.maxDbMb === undefined ? defaultCapBytes(options.dataDir) : 0;
  const capBytes = options.maxDbMb !== undefined ? Math.floor(options.maxDbMb * MIB) : Math.max(byDefault, Math.ceil(present / MIB) * MIB);
  const capText =
    capBytes === 0
      ? 'no size cap'
      : `max ${(capBytes / MIB).toFixed(0)} MiB` +
        (options.maxDbMb !== undefined
          ? ''
          : capBytes > byDefault
            ? `: the archive's present size, above the default (10% of free space, at most 10 GiB)`
            : ': 10% of free space, at most 10 GiB');
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  // A batch is at most a sixteenth of the cap: the cap is never passed by more than one batch.
  const batchMaxBytes = Math.min(
    options.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES,
    capBytes > 0 ? Math.max(64 * 1024, capBytes / 16) : Infinity,
  );
  const folder = new Folder(options.foldRate ?? DEFAULT_FOLD_RATE);
  const health = new ArchiveHealth();
  const flushMs = options.flushMs ?? DEFAULT_FLUSH_MS;
  const nowUs = options.nowUs ?? (() => Date.now() * 1000);
  const onError = options.onError ?? (() => {});
  const c = { received: 0, written: 0, batches: 0, failed: 0, pruned: 0 };
  let bytes = fileBytes(options.dataDir);
  /** The writer stopped (too many deaths in a row) and said so: batches from now on are counted as failed without a message each. */
  let stopped = false;

  const writer = new WriterClient({
    init: { dataDir: options.dataDir, maxBytes: capBytes > 0 ? capBytes : null },
    ...(options.writerModule ? { entry: options.writerModule } : {}),
    onDeath: (message) => onError(new Error(message)),
  });

  const subscription = bus.subscribe(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {});
  const counters = (): ArchiveCounters => {
    const h = health.status(subscription.dropped);
    return {
      ...c,
      dropped: subscription.dropped,
      fileBytes: bytes,
      folded: folder.folded,
      aggregates: folder.aggregates,
      capBytes,
      writeErrors: health.writeErrors,
      healthy: h.ok ? 1 : 0,
      diskFull: health.diskFull ? 1 : 0,
    };
  };

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
  const retention = options.retentionDays !== undefined || capBytes > 0;
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
    health.settled(r, b.events);
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
    // Already sent (by the answer that ended a wait): nothing to send.
    if (rows.count === 0) return;
    const rowBatch = rows.finish();
    const mark = options.markOf?.(last!);
    if (mark) rowBatch.mark = mark;
    const b: Batch = { id: writer.add(rowBatch), events: rowsEvents, last: last! };
    rowsEvents = 0;
    rows = new RowBatchBuilder(Math.min(rows.bytesUsed, batchMaxBytes));
    last = undefined;
    if (inFlight) next = b;
    else commit(b);
  };

  /** Events the filling batch stands for (an aggregate: its count). */
  let rowsEvents = 0;
  const out: Folded[] = [];
  /** Add what the folder let through to the filling batch. */
  const take = () => {
    for (const f of out) {
      if ('event' in f) {
        rows.add(f.event);
        last = f.event;
        rowsEvents++;
      } else {
        rows.addAggregate(f);
        last = f.sample;
        rowsEvents += f.aggregate.count;
      }
    }
    out.length = 0;
  };
  const full = () => rows.count >= batchSize || rows.bytesUsed >= batchMaxBytes;
  const armFlush = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      due = true;
      if (!inFlight && rows.count > 0) send();
    }, flushMs);
  };
  // Aggregates of streams gone quiet are closed here, and drops noted for health(); only sent when nothing is ahead.
  const foldTimer = setInterval(() => {
    health.noteDropped(subscription.dropped);
    folder.flushDue(Date.now() * 1000, out);
    if (out.length === 0) return;
    take();
    if (full() && !next) send();
    else armFlush();
  }, FOLD_FLUSH_MS).unref();

  const done = (async () => {
    try {
      for await (const event of subscription) {
        c.received++;
        folder.push(event, out);
        if (out.length === 0) continue;
        take();
        if (full()) {
          // The flush timer may have sent one ahead meanwhile: one at a time.
          while (next) await answer();
          send();
        } else armFlush();
        // One in flight and the next sent: take nothing more from the bus until the writer answers (its queue is bounded).
        while (next) await answer();
      }
      clearInterval(foldTimer);
      folder.flushAll(out);
      take();
      due = true;
      while (next) await answer();
      if (!inFlight && rows.count > 0) send();
      while (inFlight || next) await answer();
      if (rows.count > 0) {
        send();
        while (inFlight) await answer();
      }
    } finally {
      clearInterval(foldTimer);
      if (timer) clearTimeout(timer);
      if (retentionTimer) clearInterval(retentionTimer);
      if (countersTimer) clearInterval(countersTimer);
      bytes = (await writer.close()) ?? fileBytes(options.dataDir);
    }
  })();

  return {
    subscription,
    counters,
    health: () => health.status(subscription.dropped),
    cap: { bytes: capBytes, isDefault: options.maxDbMb === undefined, describe: capText },
    done,
    ready: writer.ready,
  };
}

/** One line for stderr at exit. */
export function formatArchiveCounters(c: ArchiveCounters): string {
  return (
    `received=${c.received} written=${c.written} batches=${c.batches} failed=${c.failed} pruned=${c.pruned} dropped=${c.dropped} ` +
    `bytes=${c.fileBytes} folded=${c.folded} aggregates=${c.aggregates}`
  );
}
