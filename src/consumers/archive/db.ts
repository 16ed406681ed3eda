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
import { accessSync, constants, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';

// URI file names, for `immutable=1` (a read-only archive on a read-only mount): better-sqlite3 reads this once, when
// its native module loads, which is at the first `new Database` (after this module's body has run). Only names that
// begin with `file:` are affected, and every plain path opened here is absolute or starts with `./` (safePath).
process.env.SQLITE_USE_URI ??= '1';

export type Db = Database.Database;

/** The archive's own schema version (not the event schema's `v`). */
export const ARCHIVE_SCHEMA_VERSION = 3;
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
  // 2 → 3: aggregates (fold.ts). A row with `folded` set is not one event but that many, folded into one row whose
  // envelope is the aggregate (see docs/archive.md). No rewrite: the column is added, NULL on every existing row.
  (db) => {
    db.exec(`ALTER TABLE events ADD COLUMN folded INTEGER`);
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

/** The archive file is damaged: it fails SQLite's quick_check, or is not a database at all. */
export class ArchiveDamagedError extends ArchiveOpenError {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(
      `${path} is damaged (${problem}): start with --fresh-if-damaged to move it aside and begin a new archive ` +
        '(nothing is deleted), or salvage it with `sqlite3 archive.sqlite .recover`',
    );
  }
}

/** SQLite's codes for a file that is not (or no longer) a well-formed database. */
const DAMAGED_CODES = new Set([
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT_INDEX',
  'SQLITE_CORRUPT_SEQUENCE',
  'SQLITE_CORRUPT_VTAB',
]);

export function isDamageError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (DAMAGED_CODES.has(code) || code.startsWith('SQLITE_CORRUPT'));
}

/** A plain path SQLite cannot take for a URI (URI names are on: see the top of this module). */
function safePath(path: string): string {
  return path.startsWith('file:') ? `./${path}` : path;
}

export interface WriteOpenOptions {
  /**
   * Check the whole file (PRAGMA quick_check) before writing into it; a damaged file is refused
   * (ArchiveDamagedError). The consumer checks once at start; the writer thread's own open skips it.
   */
  check?: boolean;
}

/**
 * Open (creating the directory and file if needed) for writing; migrates to the current schema. With `check`, a
 * file that fails quick_check (or is not a database) throws ArchiveDamagedError before anything is written.
 */
export function openArchiveForWriting(dataDir: string, options: WriteOpenOptions = {}): Db {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (e) {
    throw new ArchiveOpenError(`cannot create ${dataDir}: ${(e as Error).message}`);
  }
  const path = archivePath(dataDir);
  let db: Db;
  try {
    db = new Database(safePath(path));
  } catch (e) {
    throw isDamageError(e)
      ? new ArchiveDamagedError(path, (e as Error).message)
      : new ArchiveOpenError(`cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    db.pragma('busy_timeout = 5000');
    if (options.check) {
      const problem = quickCheck(db);
      if (problem !== undefined) throw new ArchiveDamagedError(path, problem);
    }
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
    if (e instanceof ArchiveOpenError) throw e;
    throw isDamageError(e) ? new ArchiveDamagedError(path, (e as Error).message) : new ArchiveOpenError(`${path}: ${(e as Error).message}`);
  }
  return db;
}

/**
 * PRAGMA quick_check: every page read, b-trees and records checked (not the indexes against the table, which
 * integrity_check adds). Undefined when the file is sound, else the first problem found. Reads the whole file: about
 * a second per GB measured (docs/archive.md).
 */
export function quickCheck(db: Db): string | undefined {
  try {
    // The first problem; SQLite heads the list with the schema's name ("*** in database main ***").
    const rows = (db.pragma('quick_check(2)') as { quick_check: string }[]).map((r) => r.quick_check);
    if (rows[0] === 'ok') return undefined;
    const first = rows.find((r) => !r.startsWith('***')) ?? rows[0] ?? 'no answer';
    return `quick_check: ${first.split('\n')[0]!.trim()}`;
  } catch (e) {
    if (isDamageError(e)) return (e as Error).message;
    throw e;
  }
}

/**
 * Move a damaged archive aside (never deleted): archive.sqlite and its -wal and -shm files are renamed to
 * archive.sqlite.damaged-<UTC time>[-wal|-shm]. Returns the new name of the main file.
 */
export function moveAside(dataDir: string, now = new Date()): string {
  const path = archivePath(dataDir);
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  let target = `${path}.damaged-${stamp}`;
  for (let i = 1; existsSync(target); i++) target = `${path}.damaged-${stamp}-${i}`;
  // The log and the index first: a crash in between leaves the main file where it was, still refused at the next start.
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, target + suffix);
  }
  renameSync(path, target);
  return target;
}

/** How an archive was opened for reading. */
export interface ReadOpenInfo {
  /**
   * Opened `immutable` (the file or its directory is not writable, so SQLite could not make its -shm file): set
   * when so, with a warning when a -wal file beside it holds events that cannot be read this way.
   */
  immutable?: { warning?: string };
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Open an existing archive read-only (query, replay). Works on a read-only file, directory or mount: when SQLite
 * cannot open the WAL-mode file there (it needs to create archive.sqlite-shm), the file is opened `immutable`
 * (nothing can be writing it there). Archives of older schema versions are read as they are.
 */
export function openArchiveForReading(dataDir: string, info: ReadOpenInfo = {}): Db {
  const path = archivePath(dataDir);
  if (!existsSync(path)) throw new ArchiveOpenError(`no archive in ${dataDir} (${ARCHIVE_FILE} not found)`);
  let db: Db;
  let version: number;
  try {
    db = new Database(safePath(path), { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    version = schemaVersion(db);
  } catch (e) {
    if (isDamageError(e)) throw new ArchiveDamagedError(path, (e as Error).message);
    if (writable(path) && writable(dirname(path))) throw new ArchiveOpenError(`cannot open ${path}: ${(e as Error).message}`);
    try {
      db = new Database(`${pathToFileURL(path).href}?immutable=1`, { readonly: true, fileMustExist: true });
      version = schemaVersion(db);
    } catch (e2) {
      if (isDamageError(e2)) throw new ArchiveDamagedError(path, (e2 as Error).message);
      throw new ArchiveOpenError(`cannot open ${path} (read-only: ${(e as Error).message}): ${(e2 as Error).message}`);
    }
    let walBytes = 0;
    try {
      walBytes = statSync(`${path}-wal`).size;
    } catch {
      // no log: everything is in the main file
    }
    info.immutable =
      walBytes > 0
        ? {
            warning: `${path}-wal (${walBytes} bytes) holds the last events written before the archive was last closed; they cannot be read where ${path}-shm cannot be created (a read-only directory): copy the three files somewhere writable to read them`,
          }
        : {};
  }
  if (version > ARCHIVE_SCHEMA_VERSION) {
    db.close();
    throw new ArchiveOpenError(
      `${path} has archive schema ${version}, newer than this build (${ARCHIVE_SCHEMA_VERSION}): upgrade peer-observer`,
    );
  }
  if (version < 1) {
    db.close();
    throw new ArchiveOpenError(`${path} is not a peer-observer archive (no schema version)`);
  }
  return db;
}

/** Whether the events table has the `folded` column (schema 3 and later). */
export function hasFoldedColumn(db: Db): boolean {
  return (db.prepare(`SELECT 1 FROM pragma_table_info('events') WHERE name = 'folded'`).get() ?? null) !== null;
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
