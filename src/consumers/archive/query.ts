/**
 * Reading the archive: a filter (time range, peers, types, nodes, command) as
 * SQL over the indexed columns, and a reader that pages through the matches in
 * arrival order (keyset pagination: no read transaction stays open between
 * pages, so a live archive keeps checkpointing while a long replay runs).
 */
import type { EventType } from '../../events/types.js';
import type { Db } from './db.js';

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
  envelope: string;
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

/** How many events match (up to the filter's limit). */
export function countMatching(db: Db, filter: ArchiveFilter): number {
  const w = where(filter);
  const n = (db.prepare(`SELECT count(*) AS n FROM events WHERE ${w.sql}`).get(...w.params) as { n: number }).n;
  return filter.limit !== undefined ? Math.min(n, filter.limit) : n;
}

/** The matching rows in arrival order, `pageSize` at a time. */
export function* readMatching(db: Db, filter: ArchiveFilter, pageSize = 1000): Generator<ArchivedRow> {
  const w = where(filter);
  const page = db.prepare(`SELECT id, envelope FROM events WHERE ${w.sql} AND id > ? ORDER BY id LIMIT ?`);
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
