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
 * The state machine (batching, the in-flight/next pipeline to the writer,
 * the flush and retention timers, folding, counters, the drain at the end) is
 * batcher.ts's ArchiveBatcher, tested without a bus or a thread; this file
 * opens and checks the file, chooses the size cap, starts the writer thread,
 * and feeds the batcher from one bus subscription, whose bounded queue is the
 * back-pressure (overflow counted there): while one batch is in flight and the
 * next is sent, nothing more is taken from it until the writer answers.
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
import { ArchiveBatcher, type ArchiveCounters } from './batcher.js';
import { ArchiveDamagedError, archivePath, fileBytes, moveAside, openArchiveForWriting } from './db.js';
import { DEFAULT_FOLD_RATE } from './fold.js';
import type { HealthStatus } from './health.js';
import { WriterClient } from './writer-client.js';

export type { ArchiveCounters } from './batcher.js';

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
/** The default cap: this share of the free space at start (the archive's own files counted as free)... */
export const DEFAULT_CAP_SHARE = 0.1;
/** ... and at most this. */
export const DEFAULT_CAP_MAX_BYTES = 10 * 1024 * MIB;

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
  const onError = options.onError ?? (() => {});

  const writer = new WriterClient({
    init: { dataDir: options.dataDir, maxBytes: capBytes > 0 ? capBytes : null },
    ...(options.writerModule ? { entry: options.writerModule } : {}),
    onDeath: (message) => onError(new Error(message)),
  });

  const subscription = bus.subscribe(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {});
  const batcher = new ArchiveBatcher(
    {
      batchSize,
      batchMaxBytes,
      flushMs: options.flushMs ?? DEFAULT_FLUSH_MS,
      foldRate: options.foldRate ?? DEFAULT_FOLD_RATE,
      capBytes,
      ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
      retentionIntervalMs: options.retentionIntervalMs ?? DEFAULT_RETENTION_INTERVAL_MS,
      ...(options.onCommit ? { onCommit: options.onCommit } : {}),
      ...(options.markOf ? { markOf: options.markOf } : {}),
      onError,
      ...(options.nowUs ? { nowUs: options.nowUs } : {}),
      fileBytes: () => fileBytes(options.dataDir),
      dropped: () => subscription.dropped,
    },
    writer,
  );
  const countersTimer = options.counters
    ? setInterval(() => {
        bus.publish(makeEvent(options.counters!.origin, 'pipeline.counters', { stage: 'archive', counters: { ...batcher.counters() } }));
      }, options.counters.intervalMs).unref()
    : undefined;

  const done = (async () => {
    try {
      for await (const event of subscription) {
        const wait = batcher.take(event);
        if (wait) await wait;
      }
      await batcher.end();
    } finally {
      if (countersTimer) clearInterval(countersTimer);
      await batcher.close();
    }
  })();

  return {
    subscription,
    counters: () => batcher.counters(),
    health: () => batcher.status(),
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
