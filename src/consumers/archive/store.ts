/**
 * Writing to the archive: batches of rows in one transaction each, and
 * retention (by age and by size). Synchronous (better-sqlite3): the archive's
 * writer thread (writer.ts) calls it; the batches are built where the events
 * are (RowBatchBuilder, on the consumer's thread).
 */
import { markWriter, type StreamMark } from './marks.js';
import type { ObserverEvent } from '../../events/types.js';
import type { Db } from './db.js';
import type { Aggregate } from './fold.js';

/** Rows deleted per retention transaction, so no single one holds the file for long. */
export const PRUNE_CHUNK = 5000;
/** A row's bytes besides its envelope, for estimating what deleting it frees: filter columns and five index entries. */
export const ROW_OVERHEAD_BYTES = 300;

export interface PruneResult {
  /** Rows deleted. */
  deleted: number;
  /** Bytes of pages in use before and after. */
  beforeBytes: number;
  afterBytes: number;
}

/** `1.2.3.4:8333` → `1.2.3.4`; `[2001:db8::1]:8333` → `2001:db8::1`. */
export function peerIp(remote: string): string {
  if (remote.startsWith('[')) {
    const close = remote.indexOf(']');
    return close > 0 ? remote.slice(1, close) : remote;
  }
  const colon = remote.lastIndexOf(':');
  return colon > 0 ? remote.slice(0, colon) : remote;
}

/** Filter columns per row, in INSERT order: time_us, node_id, type, source, peer, peer_ip, conn_id, command, folded. */
export const ROW_COLUMNS = 9;

/**
 * A batch of rows, built where the events are and written by the writer
 * thread. The filter columns travel as one flat array (structured clone); the
 * envelopes as their UTF-8 bytes, back to back, in memory shared with the
 * writer thread (a SharedArrayBuffer), so they are neither copied nor turned
 * back into strings there: each is bound as a BLOB and stored as TEXT
 * (`CAST(? AS TEXT)` keeps the bytes).
 */
export interface RowBatch {
  count: number;
  /** ROW_COLUMNS values per row. */
  columns: (string | number | null)[];
  /** The envelopes' UTF-8, row after row. */
  envelopes: Uint8Array;
  /** Row i's envelope ends at ends[i], and starts where row i - 1's ends. */
  ends: Uint32Array;
  /** Where this batch leaves the archive in its JetStream stream (marks.ts), committed with the rows. */
  mark?: StreamMark;
}

const utf8 = new TextEncoder();
/** First envelope buffer of a builder without a hint (it doubles as needed). */
const DEFAULT_BATCH_BYTES = 256 * 1024;

/** Builds a RowBatch one event at a time: the filter columns, and the envelope encoded once (JSON, then UTF-8). */
export class RowBatchBuilder {
  private columns: (string | number | null)[] = [];
  private ends: number[] = [];
  private bytes: Uint8Array;
  private used = 0;

  /** `sizeHint`: the bytes the envelopes will likely take (e.g. the previous batch's), so the buffer rarely grows. */
  constructor(sizeHint = DEFAULT_BATCH_BYTES) {
    this.bytes = new Uint8Array(new SharedArrayBuffer(Math.max(64 * 1024, Math.ceil(sizeHint * 1.25))));
  }

  get count(): number {
    return this.ends.length;
  }

  /** Bytes of envelopes so far. */
  get bytesUsed(): number {
    return this.used;
  }

  add(e: ObserverEvent): void {
    this.columnsOf(e, e.timeUs, null);
    // The wire encoding's text (encodeEvent is its UTF-8), encoded once.
    this.text(JSON.stringify(e));
  }

  /** An aggregate (fold.ts): one row, its filter columns the sample's (time: the first folded event's), `folded` its count. */
  addAggregate(a: Aggregate): void {
    this.columnsOf(a.sample, a.aggregate.firstUs, a.aggregate.count);
    this.text(JSON.stringify({ aggregate: a.aggregate, sample: a.sample }));
  }

  private columnsOf(e: ObserverEvent, timeUs: number, folded: number | null): void {
    const data = e.data as { conn?: { id: number; remote: string }; command?: string };
    const remote = data.conn?.remote ?? null;
    this.columns.push(
      timeUs,
      e.nodeId,
      e.type,
      e.source,
      remote,
      remote === null ? null : peerIp(remote),
      data.conn?.id ?? null,
      e.type === 'message' ? (data.command ?? null) : null,
      folded,
    );
  }

  private text(json: string): void {
    // At most 3 bytes of UTF-8 per UTF-16 unit.
    if (this.used + json.length * 3 > this.bytes.length) this.grow(this.used + json.length * 3);
    this.used += utf8.encodeInto(json, this.bytes.subarray(this.used)).written;
    this.ends.push(this.used);
  }

  finish(): RowBatch {
    return {
      count: this.ends.length,
      columns: this.columns,
      envelopes: this.bytes.subarray(0, this.used),
      ends: Uint32Array.from(this.ends),
    };
  }

  private grow(atLeast: number): void {
    const bigger = new Uint8Array(new SharedArrayBuffer(Math.max(atLeast, this.bytes.length * 2)));
    bigger.set(this.bytes.subarray(0, this.used));
    this.bytes = bigger;
  }
}

/** The events as one batch. */
export function batchOf(events: readonly ObserverEvent[]): RowBatch {
  const b = new RowBatchBuilder(64 * 1024);
  for (const e of events) b.add(e);
  return b.finish();
}

export class ArchiveStore {
  private readonly insert;
  private readonly begin;
  private readonly commit;
  private readonly rollback;
  private readonly pageSize: number;
  private readonly oldest;
  get pageSizeBytes(): number {
    return this.pageSize;
  }
  private readonly deleteUpTo;

  constructor(readonly db: Db) {
    // octet_length does not read the value (no overflow pages), only its size.
    this.oldest = db.prepare(`SELECT id, octet_length(envelope) AS b FROM events ORDER BY id LIMIT ?`);
    this.deleteUpTo = db.prepare(`DELETE FROM events WHERE id <= ?`);
    this.insert = db.prepare(
      `INSERT INTO events (time_us, node_id, type, source, peer, peer_ip, conn_id, command, folded, envelope)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT))`,
    );
    this.begin = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
  }

  private writeMark: ((m: StreamMark) => void) | undefined;

  /** Write the events in one transaction: all or none. */
  write(events: readonly ObserverEvent[]): void {
    this.writeBatch(batchOf(events));
  }

  /** Write the batch in one transaction: all or none. */
  writeBatch(batch: RowBatch): void {
    if (batch.count === 0) return;
    this.beginBatch();
    try {
      this.insertRows(batch);
    } catch (e) {
      this.rollbackBatch();
      throw e;
    }
    this.commitBatch();
  }

  /**
   * Open a batch's transaction, for insertRows() (any number of times) and then commitBatch() or rollbackBatch():
   * the writer thread inserts a batch's rows as they come and commits when it is told to.
   */
  beginBatch(): void {
    this.begin.run();
  }

  /** Insert rows in the open transaction. */
  insertRows(batch: RowBatch): void {
    const c = batch.columns;
    const bytes = Buffer.from(batch.envelopes.buffer, batch.envelopes.byteOffset, batch.envelopes.byteLength);
    let start = 0;
    for (let i = 0, k = 0; i < batch.count; i++, k += ROW_COLUMNS) {
      const end = batch.ends[i]!;
      this.insert.run(c[k], c[k + 1], c[k + 2], c[k + 3], c[k + 4], c[k + 5], c[k + 6], c[k + 7], c[k + 8], bytes.subarray(start, end));
      start = end;
    }
    if (batch.mark) (this.writeMark ??= markWriter(this.db))(batch.mark);
  }

  /** Commit the open transaction; on failure it is undone. */
  commitBatch(): void {
    try {
      this.commit.run();
    } catch (e) {
      this.rollbackBatch();
      throw e;
    }
  }

  /** Undo the open transaction, if one is open. */
  rollbackBatch(): void {
    if (this.db.inTransaction) this.rollback.run();
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  }

  /** Bytes of database pages in use (free pages excluded): what retention by size measures. */
  usedBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * this.pageSize;
  }

  /** Delete events older than `cutoffUs`, oldest first, in chunks. */
  pruneOlderThan(cutoffUs: number): PruneResult {
    const beforeBytes = this.usedBytes();
    const del = this.db.prepare(`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_us < ? ORDER BY time_us LIMIT ?)`);
    let deleted = 0;
    for (;;) {
      const n = del.run(cutoffUs, PRUNE_CHUNK).changes;
      deleted += n;
      if (n < PRUNE_CHUNK) break;
    }
    if (deleted > 0) this.shrink();
    return { deleted, beforeBytes, afterBytes: this.usedBytes() };
  }

  /**
   * Keep the pages in use under `maxBytes`: delete the oldest events (by arrival)
   * in chunks until the used size is at most `targetBytes` (a little under the
   * maximum, so this does not run again at the next batch), then give the freed
   * pages back to the file system.
   */
  pruneToSize(maxBytes: number, targetBytes = Math.floor(maxBytes * 0.9)): PruneResult {
    const beforeBytes = this.usedBytes();
    if (beforeBytes <= maxBytes) return { deleted: 0, beforeBytes, afterBytes: beforeBytes };
    const deleted = this.pruneUsedTo(targetBytes);
    if (deleted > 0) this.shrink();
    return { deleted, beforeBytes, afterBytes: this.usedBytes() };
  }

  /**
   * Delete the oldest events (by arrival) until the pages in use are at most `targetBytes`; the freed pages stay in
   * the file for the next rows (no vacuum: the budget in writer.ts makes room before each batch). Returns the rows
   * deleted. Runs in whatever transaction is open. Each step deletes the oldest rows whose envelopes (plus an
   * estimate of their columns and index entries) cover what is still over, then measures again.
   */
  pruneUsedTo(targetBytes: number): number {
    let deleted = 0;
    let used = this.usedBytes();
    while (used > targetBytes) {
      const rows = this.oldest.all(PRUNE_CHUNK) as { id: number; b: number }[];
      if (rows.length === 0) break;
      const excess = used - targetBytes;
      let covered = 0;
      let last = rows[0]!.id;
      for (const r of rows) {
        covered += r.b + ROW_OVERHEAD_BYTES;
        last = r.id;
        if (covered >= excess) break;
      }
      const n = this.deleteUpTo.run(last).changes;
      if (n === 0) break;
      deleted += n;
      used = this.usedBytes();
    }
    return deleted;
  }

  /** Return free pages to the file system and truncate the write-ahead log, so the files really shrink. */
  shrink(): void {
    this.db.pragma('incremental_vacuum');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
