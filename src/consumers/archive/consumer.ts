/**
 * The archive consumer: takes every event from one bus subscription and writes
 * it to SQLite in batches, one transaction per batch, flushed every `batchSize`
 * events or `flushMs` after the batch's first event, whichever comes first.
 * Memory stays bounded: the batch holds at most `batchSize` events and the
 * subscription's queue has the bus's bound (overflow counted there).
 *
 * Retention runs at start, every `retentionIntervalMs`, and (by size) after
 * any batch that takes the file over its maximum.
 *
 * Counters: received (taken from the bus), written (committed), batches
 * (committed transactions), failed (events in batches that could not be
 * written), pruned (deleted by retention), dropped (the subscription's queue
 * overflowed). Published as `pipeline.counters` (stage `archive`) when asked.
 */
import type { Bus, Subscription } from '../../bus/bus.js';
import { makeEvent, type EventOrigin } from '../../events/envelope.js';
import type { ObserverEvent } from '../../events/types.js';
import { ArchiveStore } from './store.js';
import { fileBytes, openArchiveForWriting } from './db.js';

export const DEFAULT_BATCH_SIZE = 1000;
export const DEFAULT_FLUSH_MS = 200;
export const DEFAULT_RETENTION_INTERVAL_MS = 60_000;

export interface ArchiveOptions {
  dataDir: string;
  /** Delete events older than this many days. */
  retentionDays?: number;
  /** Keep the database under this many MiB (oldest events deleted first). */
  maxDbMb?: number;
  batchSize?: number;
  flushMs?: number;
  retentionIntervalMs?: number;
  maxQueue?: number;
  /** Publish `pipeline.counters` (stage `archive`) on the bus this often, as `origin`. */
  counters?: { origin: EventOrigin; intervalMs: number };
  /** Called after each committed batch, with its last event (tests, acknowledgements). */
  onCommit?: (batch: { events: number; last: ObserverEvent }) => void;
  /** Called when a batch could not be written or retention failed; the consumer keeps going. */
  onError?: (error: Error) => void;
  /** Clock for retention by age (µs since the epoch). */
  nowUs?: () => number;
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
}

const MIB = 1024 * 1024;
const DAY_US = 86_400 * 1_000_000;

/** Open the archive under `options.dataDir` (throws if it cannot) and start archiving what `bus` carries. */
export function startArchive(bus: Bus, options: ArchiveOptions): Archive {
  const store = new ArchiveStore(openArchiveForWriting(options.dataDir));
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const flushMs = options.flushMs ?? DEFAULT_FLUSH_MS;
  const nowUs = options.nowUs ?? (() => Date.now() * 1000);
  const onError = options.onError ?? (() => {});
  const c = { received: 0, written: 0, batches: 0, failed: 0, pruned: 0 };
  let bytes = fileBytes(options.dataDir);

  const subscription = bus.subscribe(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {});
  let batch: ObserverEvent[] = [];
  let timer: NodeJS.Timeout | undefined;

  const counters = (): ArchiveCounters => ({ ...c, dropped: subscription.dropped, fileBytes: bytes });

  const retain = (bySizeOnly: boolean) => {
    try {
      if (!bySizeOnly && options.retentionDays !== undefined) {
        c.pruned += store.pruneOlderThan(nowUs() - Math.round(options.retentionDays * DAY_US)).deleted;
      }
      if (options.maxDbMb !== undefined) c.pruned += store.pruneToSize(options.maxDbMb * MIB).deleted;
    } catch (e) {
      onError(new Error(`archive retention: ${(e as Error).message}`));
    }
    bytes = fileBytes(options.dataDir);
  };

  const flush = () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (batch.length === 0) return;
    const events = batch;
    batch = [];
    try {
      store.write(events);
    } catch (e) {
      c.failed += events.length;
      onError(new Error(`archive: a batch of ${events.length} events was not written: ${(e as Error).message}`));
      return;
    }
    c.written += events.length;
    c.batches++;
    options.onCommit?.({ events: events.length, last: events[events.length - 1]! });
    if (options.maxDbMb !== undefined && store.usedBytes() > options.maxDbMb * MIB) retain(true);
    else bytes = fileBytes(options.dataDir);
  };

  retain(false);
  const retentionTimer =
    options.retentionDays !== undefined || options.maxDbMb !== undefined
      ? setInterval(() => retain(false), options.retentionIntervalMs ?? DEFAULT_RETENTION_INTERVAL_MS).unref()
      : undefined;
  const countersTimer = options.counters
    ? setInterval(() => {
        bus.publish(makeEvent(options.counters!.origin, 'pipeline.counters', { stage: 'archive', counters: { ...counters() } }));
      }, options.counters.intervalMs).unref()
    : undefined;

  const done = (async () => {
    try {
      for await (const event of subscription) {
        c.received++;
        batch.push(event);
        if (batch.length >= batchSize) flush();
        else if (!timer) timer = setTimeout(flush, flushMs);
      }
      flush();
    } finally {
      if (timer) clearTimeout(timer);
      if (retentionTimer) clearInterval(retentionTimer);
      if (countersTimer) clearInterval(countersTimer);
      bytes = fileBytes(options.dataDir);
      store.close();
    }
  })();

  return { subscription, counters, done };
}

/** One line for stderr at exit. */
export function formatArchiveCounters(c: ArchiveCounters): string {
  return `received=${c.received} written=${c.written} batches=${c.batches} failed=${c.failed} pruned=${c.pruned} dropped=${c.dropped} bytes=${c.fileBytes}`;
}
