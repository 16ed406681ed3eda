/**
 * `peer-observer archive --nats URL --data-dir DIR`: the archive as its own
 * process. It subscribes to everything on NATS, writes it to SQLite in batches
 * (consumers/archive/), applies retention, publishes its counters as
 * `pipeline.counters` (stages `archive`, `durable`, `bus.nats`) every 10 s
 * from the runtime's one timer, and prints them at exit.
 */
import type { Command } from 'commander';
import { natsCredentials } from '../bus/nats.js';
import { formatArchiveCounters } from '../consumers/archive/consumer.js';
import { ARCHIVE_FLAG_HELP, parseDataDir, parseRetention } from './archive-flags.js';
import { defaultNodeId } from './settings/node.js';
import { parseNatsFlags } from './settings/values.js';
import { RuntimeError, describeError } from './errors.js';
import { aborted, type Io } from './pipeline.js';
import { collectList } from './settings/define.js';
import { parseStreamFlags, STREAM_FLAG_HELP, type StreamOptions } from './stream-flags.js';
import { ArchiveComponent } from './plan.js';
import { CatchUpReporter } from './catch-up.js';
import { DurableComponent, NatsConnectionComponent } from './nats-consumer.js';
import { Runtime, type Plan } from '../runtime/runtime.js';
import type { Component } from '../runtime/component.js';
import { ArchiveDamagedError, openArchiveForWriting, quickCheck } from '../consumers/archive/db.js';
import { readMark, type StreamMark } from '../consumers/archive/marks.js';
import type { ObserverEvent } from '../events/types.js';

/**
 * The stream position this archive had committed, for a durable consumer that resumes. Read before the archive
 * itself opens the file (the consumer starts first): with --fresh-if-damaged a damaged file has no mark to resume
 * from (the archive then moves it aside and begins anew), so it is checked here too, only then.
 */
function archiveMark(dataDir: string, key: string, freshIfDamaged: boolean): StreamMark | null {
  try {
    const db = openArchiveForWriting(dataDir);
    try {
      return freshIfDamaged && quickCheck(db) !== undefined ? null : readMark(db, key);
    } finally {
      db.close();
    }
  } catch (err) {
    if (freshIfDamaged && err instanceof ArchiveDamagedError) return null;
    throw new RuntimeError(`archive: ${describeError(err)}`);
  }
}

export interface ArchiveCommandOptions {
  nats: string[];
  dataDir: string;
  retentionDays?: number;
  maxDbMb?: number;
  foldRate?: number;
  freshIfDamaged?: boolean;
  /** How often counters are published on the bus. */
  countersIntervalMs?: number;
  /** How often a line says how far behind the stream the archive is, while it is (DEFAULT_CATCH_UP_INTERVAL_MS). */
  catchUpIntervalMs?: number;
  /** JetStream or core NATS, the durable consumer's name, where it starts. */
  stream: StreamOptions;
}

export interface ArchiveFlags {
  nats?: string[];
  dataDir?: string;
  retentionDays?: string;
  maxDbMb?: string;
  foldRate?: string;
  freshIfDamaged?: boolean;
  natsMode?: string;
  consumerName?: string;
  since?: string;
}

export function parseArchiveFlags(flags: ArchiveFlags): ArchiveCommandOptions {
  const nats = parseNatsFlags(flags.nats, 'the NATS server the observers publish to');
  return {
    nats,
    dataDir: parseDataDir(flags.dataDir),
    ...parseRetention(flags),
    stream: parseStreamFlags('archive', flags, { kind: 'all' }),
  };
}

/**
 * The archive command's plan (src/runtime/): the NATS connection (the bus its counters go out on), on JetStream a
 * durable consumer resuming after the archive's own mark, and the archive reading from it (or from the
 * connection's core subscription).
 */
export function buildArchivePlan(
  options: ArchiveCommandOptions,
  io: Io,
): Plan & { connection: NatsConnectionComponent; durable: DurableComponent; consumer: ArchiveComponent } {
  const connection = new NatsConnectionComponent({ servers: options.nats, name: 'peer-observer archive', mode: options.stream.mode });
  // JetStream: a durable consumer, acknowledged after each commit, resuming after the archive's own mark.
  const durable = new DurableComponent(connection, (bus) => ({
    servers: options.nats,
    consumer: options.stream.consumer,
    stream: bus.streamName,
    start: options.stream.start,
    skipThrough: archiveMark(options.dataDir, `${bus.streamName}/${options.stream.consumer}`, options.freshIfDamaged === true),
    name: 'peer-observer archive (consumer)',
  }));
  const consumer = new ArchiveComponent({
    from: () => durable.consumer ?? connection.bus,
    markOf: (e: ObserverEvent) => durable.consumer?.markOf(e),
    onCommit: ({ last }: { last: ObserverEvent }) => durable.consumer?.ackThrough(last),
    dataDir: options.dataDir,
    ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
    ...(options.maxDbMb !== undefined ? { maxDbMb: options.maxDbMb } : {}),
    ...(options.foldRate !== undefined ? { foldRate: options.foldRate } : {}),
    ...(options.freshIfDamaged ? { freshIfDamaged: true } : {}),
    onError: (e) => io.stderr.write(`peer-observer: ${e.message}\n`),
  });
  // The subscription is on the server once a flush round-trips: only then say we are ready.
  const ready: Component = {
    name: 'ready',
    start: async () => {
      if (!durable.consumer) await connection.bus.drain();
    },
    counters: () => ({}),
    stop: () => {},
  };
  const catchUp = new CatchUpReporter(
    {
      behind: () => durable.consumer?.stats().behind,
      acked: () => durable.consumer?.stats().acked ?? 0,
      unwritten: () => durable.consumer?.unacknowledged ?? 0,
      written: () => consumer.archive?.counters().written ?? 0,
      stream: () => durable.consumer?.stream ?? '',
    },
    options.catchUpIntervalMs,
  );
  return { bus: connection, components: [durable, consumer, ready, catchUp], connection, durable, consumer };
}

export async function archive(options: ArchiveCommandOptions, signal: AbortSignal, io: Io): Promise<void> {
  const plan = buildArchivePlan(options, io);
  const { connection, durable, consumer } = plan;
  const runtime = await Runtime.start(
    { bus: connection, components: plan.components },
    {
      nodeId: defaultNodeId(),
      ...(options.countersIntervalMs !== undefined ? { countersIntervalMs: options.countersIntervalMs } : {}),
      notice: (line) => io.stderr.write(`peer-observer: ${line}\n`),
    },
  );
  const cap = consumer.archive!.cap;
  const retention = [options.retentionDays !== undefined ? `retention ${options.retentionDays} days` : '', cap.describe].filter(Boolean);
  io.stderr.write(
    `peer-observer: archiving from NATS at ${natsCredentials(options.nats).servers.join(', ')} into ${options.dataDir}${retention.length ? ` (${retention.join(', ')})` : ''}\n`,
  );
  await aborted(signal);
  await runtime.stop();
  const counters = formatArchiveCounters(consumer.archive!.counters());
  const d = durable.consumer?.stats();
  io.stderr.write(
    d
      ? `peer-observer: archive: ${counters} rejected=${d.rejected} duplicates=${d.duplicates} ` +
          `skipped=${d.skipped} acked=${d.acked} behind=${d.behind} missed=${d.missed}\n`
      : `peer-observer: archive: ${counters} rejected=${connection.bus.stats().rejected}\n`,
  );
}

export function registerArchive(command: Command, context: { signal: AbortSignal; io: Io }): void {
  command
    .option('--nats <url>', 'the NATS server to read from (repeatable or comma-separated for a cluster)', collectList)
    .option('--data-dir <dir>', 'directory of the archive (archive.sqlite; created if missing)')
    .option('--retention-days <n>', 'delete events older than this many days (fractions allowed)')
    .option(
      '--max-db-mb <n>',
      'keep the database under this many MiB, deleting the oldest events first (default: 10% of the free space, at most 10 GiB; 0: no cap)',
    )
    .option('--fold-rate <n>', ARCHIVE_FLAG_HELP.foldRate.replace('with --data-dir: ', ''))
    .option('--fresh-if-damaged', ARCHIVE_FLAG_HELP.freshIfDamaged.replace('with --data-dir: ', ''))
    .option('--nats-mode <mode>', STREAM_FLAG_HELP.natsMode)
    .option('--consumer-name <name>', STREAM_FLAG_HELP.consumerName)
    .option('--since <when>', `${STREAM_FLAG_HELP.since} (default: start)`)
    .action(async (opts: ArchiveFlags) => {
      await archive(parseArchiveFlags(opts), context.signal, context.io);
    });
}
