/**
 * Writing to the archive: batches of events in one transaction each, and
 * retention (by age and by size). Synchronous (better-sqlite3): the consumer
 * decides when to call it.
 */
import type { ObserverEvent } from '../../events/types.js';
import type { Db } from './db.js';

/** Rows deleted per retention transaction, so no single one holds the file for long. */
export const PRUNE_CHUNK = 5000;

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

export class ArchiveStore {
  private readonly insert;
  private readonly insertMany;
  private readonly pageSize: number;

  constructor(readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO events (time_us, node_id, type, source, peer, peer_ip, conn_id, command, envelope)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertMany = db.transaction((events: readonly ObserverEvent[]) => {
      for (const e of events) {
        const data = e.data as { conn?: { id: number; remote: string }; command?: string };
        const remote = data.conn?.remote ?? null;
        this.insert.run(
          e.timeUs,
          e.nodeId,
          e.type,
          e.source,
          remote,
          remote === null ? null : peerIp(remote),
          data.conn?.id ?? null,
          e.type === 'message' ? (data.command ?? null) : null,
          // The wire encoding's text (encodeEvent is its UTF-8): encoded once, no byte round trip.
          JSON.stringify(e),
        );
      }
    });
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
  }

  /** Write the events in one transaction: all or none. */
  write(events: readonly ObserverEvent[]): void {
    if (events.length > 0) this.insertMany(events);
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
    const del = this.db.prepare(`DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?)`);
    let deleted = 0;
    let used = beforeBytes;
    while (used > targetBytes) {
      const rows = this.count();
      if (rows === 0) break;
      // Estimate how many rows free the excess from the average row's share of the pages, at least one chunk's tenth.
      const perRow = used / rows;
      const want = Math.min(PRUNE_CHUNK, Math.max(Math.ceil((used - targetBytes) / perRow), Math.ceil(PRUNE_CHUNK / 10)));
      deleted += del.run(want).changes;
      used = this.usedBytes();
    }
    if (deleted > 0) this.shrink();
    return { deleted, beforeBytes, afterBytes: this.usedBytes() };
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
