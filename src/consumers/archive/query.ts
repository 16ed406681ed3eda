/**
 * Reading the archive: a filter (time range, peers, types, nodes, command) as
 * SQL over the indexed columns, and a reader that pages through the matches in
 * arrival order (keyset pagination: no read transaction stays open between
 * pages, so a live archive keeps checkpointing while a long replay runs).
 */
import type { EventType } from '../../events/types.js';
import { hasFoldedColumn, type Db } from './db.js';

export interface PeerFilter {
  /** The address alone: every port. */
  ip: string;
  /** With a port: exactly this `conn.remote`. */
  remote?: string;
}

export interface ArchiveFilter {
  /** Inclusive, µs since the epoch. */
  sinceUs?: number;
  /** Exclusive, µs since the epoch. */
  untilUs?: number;
  peer?: PeerFilter;
  types?: readonly EventType[];
  nodeIds?: readonly string[];
  /** Message events with this command. */
  command?: string;
  /** At most this many events. */
  limit?: number;
}

export interface ArchivedRow {
  id: number;
  /** An event's envelope; for an aggregate (folded set), `{"aggregate":{...},"sample":{...}}` (fold.ts). */
  envelope: string;
  /** Null for an event; the number of events an aggregate stands for. */
  folded: number | null;
}

function where(filter: ArchiveFilter): { sql: string; params: (string | number)[] } {
  const clauses: string[] = [];
  const params: (string | number)[] = [];
  if (filter.sinceUs !== undefined) {
    clauses.push('time_us >= ?');
    params.push(filter.sinceUs);
  }
  if (filter.untilUs !== undefined) {
    clauses.push('time_us < ?');
    params.push(filter.untilUs);
  }
  if (filter.peer) {
    clauses.push('peer_ip = ?');
    params.push(filter.peer.ip);
    if (filter.peer.remote !== undefined) {
      clauses.push('peer = ?');
      params.push(filter.peer.remote);
    }
  }
  if (filter.types?.length) {
    clauses.push(`type IN (${filter.types.map(() => '?').join(', ')})`);
    params.push(...filter.types);
  }
  if (filter.nodeIds?.length) {
    clauses.push(`node_id IN (${filter.nodeIds.map(() => '?').join(', ')})`);
    params.push(...filter.nodeIds);
  }
  if (filter.command !== undefined) {
    clauses.push(`type = 'message' AND command = ?`);
    params.push(filter.command);
  }
  return { sql: clauses.length ? clauses.join(' AND ') : '1', params };
}

/** How many rows match (up to the filter's limit); an aggregate is one row. */
export function countMatching(db: Db, filter: ArchiveFilter): number {
  const w = where(filter);
  const n = (db.prepare(`SELECT count(*) AS n FROM events WHERE ${w.sql}`).get(...w.params) as { n: number }).n;
  return filter.limit !== undefined ? Math.min(n, filter.limit) : n;
}

/** The messages whose summary has a `count` of entries (events/summary.ts). */
export const ITEM_COMMANDS = ['addr', 'addrv2', 'inv', 'getdata', 'notfound', 'headers'] as const;

export interface EventCounts {
  /** Events matching, those folded into aggregates included. */
  events: number;
  /** Of those, stored whole, and folded (in `aggregates` rows). */
  stored: number;
  folded: number;
  aggregates: number;
  /** Entries of the matching messages that have a count (addr, addrv2, inv, getdata, notfound, headers), summed. */
  items: number;
}

/** Exact counts of the matching events, aggregates expanded (the filter's limit does not apply). */
export function countEvents(db: Db, filter: ArchiveFilter): EventCounts {
  const w = where(filter);
  const folded = hasFoldedColumn(db);
  // Only the commands whose summary has a count: the other envelopes are not parsed.
  const itemsOf = `CASE WHEN command IN (${ITEM_COMMANDS.map((c) => `'${c}'`).join(', ')}) THEN coalesce(json_extract(envelope, '$.data.payload.count'), 0) ELSE 0 END`;
  const sql = folded
    ? `SELECT count(*) FILTER (WHERE folded IS NULL) AS stored, coalesce(sum(folded), 0) AS folded, count(folded) AS aggregates,
         coalesce(sum(CASE WHEN folded IS NULL THEN ${itemsOf} ELSE json_extract(envelope, '$.aggregate.items') END), 0) AS items
       FROM events WHERE ${w.sql}`
    : `SELECT count(*) AS stored, 0 AS folded, 0 AS aggregates, coalesce(sum(${itemsOf}), 0) AS items FROM events WHERE ${w.sql}`;
  const r = db.prepare(sql).get(...w.params) as Omit<EventCounts, 'events'>;
  return { events: r.stored + r.folded, ...r };
}

/** The matching rows in arrival order, `pageSize` at a time. */
export function* readMatching(db: Db, filter: ArchiveFilter, pageSize = 1000): Generator<ArchivedRow> {
  const w = where(filter);
  const folded = hasFoldedColumn(db) ? 'folded' : 'NULL AS folded';
  const page = db.prepare(`SELECT id, envelope, ${folded} FROM events WHERE ${w.sql} AND id > ? ORDER BY id LIMIT ?`);
  let remaining = filter.limit ?? Infinity;
  let after = 0;
  while (remaining > 0) {
    const rows = page.all(...w.params, after, Math.min(pageSize, remaining)) as ArchivedRow[];
    for (const row of rows) yield row;
    if (rows.length === 0) return;
    remaining -= rows.length;
    after = rows[rows.length - 1]!.id;
    if (rows.length < pageSize) return;
  }
}
