/**
 * The archive's SQLite file: opening it, its pragmas, and its schema with a
 * version table so later versions can migrate.
 *
 * One table, `events`: the full envelope as published (events/wire.ts JSON,
 * raw payloads included when present) plus the columns queries filter on.
 * `id` is the arrival order, which is the order a replay plays back.
 *
 * Crash safety: WAL with synchronous=NORMAL. A committed transaction survives a
 * crash of the process (SIGKILL included); a power loss may take the last
 * commits since the last checkpoint, never corrupt the file. The consumer
 * commits in batches, so a killed process loses at most the batch it held.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** The archive's own schema version (not the event schema's `v`). */
export const ARCHIVE_SCHEMA_VERSION = 2;
export const ARCHIVE_FILE = 'archive.sqlite';

/** Each entry takes the database from version i to i + 1; index 0 creates version 1. */
const MIGRATIONS: ((db: Db) => void)[] = [
  (db) => {
    db.exec(`
      CREATE TABLE events (
        id       INTEGER PRIMARY KEY,  -- arrival order
        time_us  INTEGER NOT NULL,     -- envelope timeUs
        node_id  TEXT NOT NULL,
        type     TEXT NOT NULL,
        source   TEXT NOT NULL,
        peer     TEXT,                 -- data.conn.remote, 'ip:port' / '[ipv6]:port'
        peer_ip  TEXT,                 -- the address part of peer
        conn_id  INTEGER,              -- data.conn.id
        command  TEXT,                 -- data.command of message events
        envelope TEXT NOT NULL         -- the event as encoded on the wire (JSON)
      );
      CREATE INDEX events_time ON events (time_us);
      CREATE INDEX events_peer ON events (peer_ip, time_us);
      CREATE INDEX events_type ON events (type, time_us);
      CREATE INDEX events_node ON events (node_id, time_us);
    `);
  },
  // 1 → 2: single-column indexes. An index on one column is implicitly (column, id), which is the
  // order every query reads in (keyset pagination on id): no sort, and less to maintain per insert.
  (db) => {
    db.exec(`
      DROP INDEX events_peer;
      DROP INDEX events_type;
      DROP INDEX events_node;
      CREATE INDEX events_peer ON events (peer_ip);
      CREATE INDEX events_type ON events (type);
      CREATE INDEX events_node ON events (node_id);
    `);
  },
];

/** Page size of new archives: rows are ~1 KB of JSON, and bigger pages mean fewer page writes per batch. */
export const ARCHIVE_PAGE_SIZE = 16384;

export function archivePath(dataDir: string): string {
  return join(dataDir, ARCHIVE_FILE);
}

export class ArchiveOpenError extends Error {
  override readonly name = 'ArchiveOpenError';
}

/** Open (creating the directory and file if needed) for writing; migrates to the current schema. */
export function openArchiveForWriting(dataDir: string): Db {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (e) {
    throw new ArchiveOpenError(`cannot create ${dataDir}: ${(e as Error).message}`);
  }
  const path = archivePath(dataDir);
  let db: Db;
  try {
    db = new Database(path);
  } catch (e) {
    throw new ArchiveOpenError(`cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    db.pragma('busy_timeout = 5000');
    // Only takes effect on a new, empty file: freed pages can then be returned to the OS (retention by size).
    if (tableCount(db) === 0) {
      // Also only for a new file (an existing one keeps its page size). Before auto_vacuum, which fixes it.
      db.pragma(`page_size = ${ARCHIVE_PAGE_SIZE}`);
      db.pragma('auto_vacuum = INCREMENTAL');
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Keep the -wal file from staying large after a big delete has been checkpointed.
    db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
    migrate(db);
  } catch (e) {
    db.close();
    throw e instanceof ArchiveOpenError ? e : new ArchiveOpenError(`${path}: ${(e as Error).message}`);
  }
  return db;
}

/** Open an existing archive read-only (query, replay). */
export function openArchiveForReading(dataDir: string): Db {
  const path = archivePath(dataDir);
  if (!existsSync(path)) throw new ArchiveOpenError(`no archive in ${dataDir} (${ARCHIVE_FILE} not found)`);
  let db: Db;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
  } catch (e) {
    throw new ArchiveOpenError(`cannot open ${path}: ${(e as Error).message}`);
  }
  const version = schemaVersion(db);
  if (version !== ARCHIVE_SCHEMA_VERSION) {
    db.close();
    throw new ArchiveOpenError(
      version > ARCHIVE_SCHEMA_VERSION
        ? `${path} has archive schema ${version}, newer than this build (${ARCHIVE_SCHEMA_VERSION}): upgrade peer-observer`
        : `${path} has archive schema ${version}: open it once with \`peer-observer archive\` or \`run --data-dir\` to migrate`,
    );
  }
  return db;
}

function tableCount(db: Db): number {
  return (db.prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'`).get() as { n: number }).n;
}

/** 0 for a file without the version table. */
export function schemaVersion(db: Db): number {
  const exists = db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'archive_meta'`).get();
  if (!exists) return 0;
  const row = db.prepare(`SELECT value FROM archive_meta WHERE key = 'schema_version'`).get() as { value: string } | undefined;
  return row ? Number(row.value) : 0;
}

function migrate(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS archive_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  const from = schemaVersion(db);
  if (from > ARCHIVE_SCHEMA_VERSION) {
    throw new ArchiveOpenError(`archive schema ${from} is newer than this build (${ARCHIVE_SCHEMA_VERSION}): upgrade peer-observer`);
  }
  for (let v = from; v < ARCHIVE_SCHEMA_VERSION; v++) {
    db.transaction(() => {
      MIGRATIONS[v]!(db);
      db.prepare(
        `INSERT INTO archive_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ).run(String(v + 1));
      if (v === 0) {
        db.prepare(`INSERT OR IGNORE INTO archive_meta (key, value) VALUES ('created', ?)`).run(new Date().toISOString());
      }
    })();
  }
}

/** Bytes on disk: the database file plus its write-ahead log. */
export function fileBytes(dataDir: string): number {
  const path = archivePath(dataDir);
  let total = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      total += statSync(p).size;
    } catch {
      // not there (yet)
    }
  }
  return total;
}
