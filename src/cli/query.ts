/**
 * `peer-observer query --data-dir DIR [filters]`: archived events as a table
 * (time, node, type, peer, summary) or, with `--json`, one envelope per line,
 * in arrival order. Streams: fixed column widths, one page of rows in memory.
 */
import type { Command } from 'commander';
import type { Writable } from 'node:stream';
import { decodeAggregate, expandAggregate } from '../consumers/archive/aggregates.js';
import { openArchiveForReading, type Db, type ReadOpenInfo } from '../consumers/archive/db.js';
import type { Aggregate } from '../consumers/archive/fold.js';
import { countEvents, readMatching, type ArchiveFilter } from '../consumers/archive/query.js';
import { bare, safeJson } from '../consumers/logger/escape.js';
import { writable } from '../consumers/logger/logger.js';
import { formatJson, formatText, formatTime } from '../consumers/logger/format.js';
import { EventValidationError } from '../events/schema.js';
import { EVENT_TYPES, type ObserverEvent } from '../events/types.js';
import { decodeEvent } from '../events/wire.js';
import { parseDataDir, parseFilter, type FilterFlags } from './archive-flags.js';
import { RuntimeError, UsageError, describeError } from './errors.js';
import type { Io } from './pipeline.js';
import { collectList } from './settings/define.js';

export interface QueryOptions {
  dataDir: string;
  filter: ArchiveFilter;
  json: boolean;
  /** Print exact counts of the matching events instead of the events. */
  count: boolean;
}

export type QueryFlags = FilterFlags & { dataDir?: string; json?: boolean; count?: boolean };

export function parseQueryFlags(flags: QueryFlags, nowUs?: number): QueryOptions {
  const filter = parseFilter(flags, nowUs);
  if (flags.count && flags.json) throw new UsageError('--count prints one line of counts; --json prints events: choose one');
  if (flags.count && filter.limit !== undefined) throw new UsageError('--count counts every match; --limit applies to listing them');
  return { dataDir: parseDataDir(flags.dataDir), filter, json: flags.json ?? false, count: flags.count ?? false };
}

/** Open for query/replay; says on `stderr` when a read-only archive had to be opened immutable and what that hides. */
export function openForReading(dataDir: string, stderr?: Writable): Db {
  const info: ReadOpenInfo = {};
  let db: Db;
  try {
    db = openArchiveForReading(dataDir, info);
  } catch (err) {
    throw new RuntimeError(describeError(err));
  }
  if (info.immutable?.warning) stderr?.write(`peer-observer: warning: ${info.immutable.warning}\n`);
  return db;
}

const utf8 = new TextEncoder();

/** A stored event, or an aggregate of folded events. */
export type ArchivedItem = { event: ObserverEvent } | Aggregate;

/** Decoded (validated) archived rows matching `filter`; rows that do not validate are counted, not passed on. */
export function* archivedItems(db: Db, filter: ArchiveFilter, counts: { rejected: number }): Generator<ArchivedItem> {
  for (const row of readMatching(db, filter)) {
    try {
      yield row.folded === null ? { event: decodeEvent(utf8.encode(row.envelope)) } : decodeAggregate(row.envelope, row.folded);
    } catch (e) {
      if (!(e instanceof EventValidationError)) throw e;
      counts.rejected++;
    }
  }
}

/** The archived events matching `filter`, each aggregate expanded into the events it stands for (aggregates.ts). */
export function* archivedEvents(db: Db, filter: ArchiveFilter, counts: { rejected: number; expanded?: number }): Generator<ObserverEvent> {
  for (const item of archivedItems(db, filter, counts)) {
    if ('event' in item) yield item.event;
    else {
      counts.expanded = (counts.expanded ?? 0) + item.aggregate.count;
      yield* expandAggregate(item);
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

/** A table row's columns (time, node, type, peer) and summary: the logger's text line without what the columns show. */
function tableParts(event: ObserverEvent): { columns: string[]; summary: string } {
  const conn = (event.data as { conn?: { id: number; remote: string } }).conn;
  let summary = formatText(event).replace(` ${formatTime(event.timeUs)} ${bare(event.nodeId)}`, '');
  if (conn) summary = summary.replace(` conn=${conn.id} ${bare(conn.remote)}`, ` conn=${conn.id}`);
  return {
    columns: [
      pad(formatTime(event.timeUs), WIDTH.time),
      pad(bare(event.nodeId), WIDTH.node),
      pad(event.type, WIDTH.type),
      pad(conn ? bare(conn.remote) : '-', WIDTH.peer),
    ],
    summary,
  };
}

/** One table row: the logger's text line without the parts the columns already show. */
export function tableRow(event: ObserverEvent): string {
  const { columns, summary } = tableParts(event);
  return [...columns, summary].join(' ');
}

/**
 * One table row for an aggregate: time is its first event's; the summary gives the count, the last event's time,
 * the payload bytes and entries in all, then the first folded event's own summary.
 */
export function aggregateRow(a: Aggregate): string {
  const { count, bytes, items, lastUs } = a.aggregate;
  const { columns, summary } = tableParts(a.sample);
  const totals = `×${count} folded until ${formatTime(lastUs)}: ${bytes} B${items > 0 ? `, ${items} entries` : ''}; first:`;
  return [...columns, totals, summary].join(' ');
}

/** An aggregate as one JSON line: `{"aggregate":{count,bytes,items,firstUs,lastUs},"sample":<event>}`. */
export function aggregateJson(a: Aggregate): string {
  return safeJson({ aggregate: a.aggregate, sample: a.sample });
}

async function write(out: Writable, text: string): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return false;
  return out.write(text) || writable(out);
}

export async function query(options: QueryOptions, signal: AbortSignal, io: Io): Promise<void> {
  const db = openForReading(options.dataDir, io.stderr);
  const counts = { rejected: 0 };
  let shown = 0;
  let folded = 0;
  let aggregates = 0;
  try {
    if (options.count) {
      const c = countEvents(db, options.filter);
      await write(io.stdout, `events=${c.events} stored=${c.stored} folded=${c.folded} aggregates=${c.aggregates} items=${c.items}\n`);
      return;
    }
    if (!options.json && !(await write(io.stdout, tableHeader() + '\n'))) return;
    for (const item of archivedItems(db, options.filter, counts)) {
      if (signal.aborted) break;
      const line =
        'event' in item
          ? options.json
            ? formatJson(item.event)
            : tableRow(item.event)
          : options.json
            ? aggregateJson(item)
            : aggregateRow(item);
      if (!(await write(io.stdout, line + '\n'))) break;
      shown++;
      if (!('event' in item)) {
        folded += item.aggregate.count;
        aggregates++;
      }
    }
  } finally {
    db.close();
  }
  if (!options.json) {
    io.stderr.write(
      aggregates === 0
        ? `peer-observer: ${shown} event(s)\n`
        : `peer-observer: ${shown} row(s): ${shown - aggregates} event(s), and ${aggregates} aggregate(s) of ${folded} folded event(s)\n`,
    );
  }
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

export function registerQuery(command: Command, context: { signal: AbortSignal; io: Io }): void {
  addFilterOptions(command.option('--data-dir <dir>', 'directory of the archive (as given to archive or run)'))
    .option('--json', 'one JSON event envelope per line instead of the table (an aggregate: {"aggregate":{...},"sample":{...}})')
    .option('--count', 'print exact counts of the matching events (aggregates expanded) instead of listing them')
    .action(async (opts: QueryFlags) => {
      await query(parseQueryFlags(opts), context.signal, context.io);
    });
}
