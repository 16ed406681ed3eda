/**
 * `peer-observer query --data-dir DIR [filters]`: archived events as a table
 * (time, node, type, peer, summary) or, with `--json`, one envelope per line,
 * in arrival order. Streams: fixed column widths, one page of rows in memory.
 */
import type { Command } from 'commander';
import type { Writable } from 'node:stream';
import { openArchiveForReading, type Db } from '../consumers/archive/db.js';
import { readMatching, type ArchiveFilter } from '../consumers/archive/query.js';
import { bare } from '../consumers/logger/escape.js';
import { writable } from '../consumers/logger/logger.js';
import { formatJson, formatText, formatTime } from '../consumers/logger/format.js';
import { EventValidationError } from '../events/schema.js';
import { EVENT_TYPES, type ObserverEvent } from '../events/types.js';
import { decodeEvent } from '../events/wire.js';
import { parseDataDir, parseFilter, type FilterFlags } from './archive-flags.js';
import { RuntimeError, describeError } from './errors.js';
import type { Io } from './pipeline.js';
import { collectList } from './run.js';

export interface QueryOptions {
  dataDir: string;
  filter: ArchiveFilter;
  json: boolean;
}

export type QueryFlags = FilterFlags & { dataDir?: string; json?: boolean };

export function parseQueryFlags(flags: QueryFlags, nowUs?: number): QueryOptions {
  return { dataDir: parseDataDir(flags.dataDir), filter: parseFilter(flags, nowUs), json: flags.json ?? false };
}

export function openForReading(dataDir: string): Db {
  try {
    return openArchiveForReading(dataDir);
  } catch (err) {
    throw new RuntimeError(describeError(err));
  }
}

const utf8 = new TextEncoder();

/** Decoded (validated) archived events matching `filter`; rows that do not validate are counted, not passed on. */
export function* archivedEvents(db: Db, filter: ArchiveFilter, counts: { rejected: number }): Generator<ObserverEvent> {
  for (const row of readMatching(db, filter)) {
    try {
      yield decodeEvent(utf8.encode(row.envelope));
    } catch (e) {
      if (!(e instanceof EventValidationError)) throw e;
      counts.rejected++;
    }
  }
}

function pad(s: string, width: number): string {
  return s.length >= width ? s : s + ' '.repeat(width - s.length);
}

const WIDTH = { time: 27, node: 12, type: 18, peer: 21 };

export function tableHeader(): string {
  return `${pad('TIME', WIDTH.time)} ${pad('NODE', WIDTH.node)} ${pad('TYPE', WIDTH.type)} ${pad('PEER', WIDTH.peer)} SUMMARY`;
}

/** One table row: the logger's text line without the parts the columns already show. */
export function tableRow(event: ObserverEvent): string {
  const conn = (event.data as { conn?: { id: number; remote: string } }).conn;
  let summary = formatText(event).replace(` ${formatTime(event.timeUs)} ${bare(event.nodeId)}`, '');
  if (conn) summary = summary.replace(` conn=${conn.id} ${bare(conn.remote)}`, ` conn=${conn.id}`);
  return [
    pad(formatTime(event.timeUs), WIDTH.time),
    pad(bare(event.nodeId), WIDTH.node),
    pad(event.type, WIDTH.type),
    pad(conn ? bare(conn.remote) : '-', WIDTH.peer),
    summary,
  ].join(' ');
}

async function write(out: Writable, text: string): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return false;
  return out.write(text) || writable(out);
}

export async function query(options: QueryOptions, signal: AbortSignal, io: Io): Promise<void> {
  const db = openForReading(options.dataDir);
  const counts = { rejected: 0 };
  let shown = 0;
  try {
    if (!options.json && !(await write(io.stdout, tableHeader() + '\n'))) return;
    for (const event of archivedEvents(db, options.filter, counts)) {
      if (signal.aborted) break;
      if (!(await write(io.stdout, (options.json ? formatJson(event) : tableRow(event)) + '\n'))) break;
      shown++;
    }
  } finally {
    db.close();
  }
  if (!options.json) io.stderr.write(`peer-observer: ${shown} event(s)\n`);
  if (counts.rejected > 0)
    io.stderr.write(`peer-observer: query: ${counts.rejected} archived row(s) were not valid events and were skipped\n`);
}

/** The filter flags, shared with `replay`. */
export function addFilterOptions(command: Command): Command {
  return command
    .option('--since <time>', 'from this time on (ISO 8601, UTC unless a zone is given, or relative: -30s, -15m, -1h, -2d, -1w)')
    .option('--until <time>', 'before this time (same forms as --since)')
    .option('--peer <ip[:port]>', 'only events of connections with this peer (every port when none is given)')
    .option('--type <type>', `only this event type (repeatable; ${EVENT_TYPES.join(', ')})`, collectList)
    .option('--node-id <id>', 'only events from this observer (repeatable)', collectList)
    .option('--command <cmd>', 'only message events with this P2P command (e.g. addr)')
    .option('--limit <n>', 'at most this many events');
}

export function registerQuery(program: Command, context: { signal: AbortSignal; io: Io }): void {
  addFilterOptions(
    program
      .command('query')
      .description('print archived events (oldest first) as a table, or as JSON lines with --json')
      .option('--data-dir <dir>', 'directory of the archive (as given to archive or run)'),
  )
    .option('--json', 'one JSON event envelope per line instead of the table')
    .action(async (opts: QueryFlags) => {
      await query(parseQueryFlags(opts), context.signal, context.io);
    });
}
