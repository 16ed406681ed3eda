/**
 * `peer-observer archive --nats URL --data-dir DIR`: the archive as its own
 * process. It subscribes to everything on NATS, writes it to SQLite in batches
 * (consumers/archive/), applies retention, publishes its counters as
 * `pipeline.counters` (stage `archive`) every 10 s, and prints them at exit.
 */
import type { Command } from 'commander';
import { NatsBus, natsCredentials } from '../bus/nats.js';
import { formatArchiveCounters, startArchive, type Archive } from '../consumers/archive/consumer.js';
import { ARCHIVE_FLAG_HELP, parseDataDir, parseRetention } from './archive-flags.js';
import { defaultNodeId } from './settings/node.js';
import { parseNatsFlags } from './settings/values.js';
import { RuntimeError, describeError } from './errors.js';
import { aborted, type Io } from './pipeline.js';
import { collectList } from './settings/define.js';
import { parseStreamFlags, STREAM_FLAG_HELP, type StreamOptions } from './stream-flags.js';
import { DurableConsumer } from '../bus/durable.js';
import { openArchiveForWriting } from '../consumers/archive/db.js';
import { readMark, type StreamMark } from '../consumers/archive/marks.js';
import type { ObserverEvent } from '../events/types.js';

/** The stream position this archive had committed, for a durable consumer that resumes. */
function archiveMark(dataDir: string, key: string): StreamMark | null {
  try {
    const db = openArchiveForWriting(dataDir);
    try {
      return readMark(db, key);
    } finally {
      db.close();
    }
  } catch (err) {
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

/** Start the archive consumer, or a one-line RuntimeError when the file cannot be opened. */
export function openArchiveConsumer(...args: Parameters<typeof startArchive>): Archive {
  try {
    return startArchive(...args);
  } catch (err) {
    throw new RuntimeError(`archive: ${describeError(err)}`);
  }
}

export async function archive(options: ArchiveCommandOptions, signal: AbortSignal, io: Io): Promise<void> {
  let bus: NatsBus;
  try {
    bus = await NatsBus.connect({ servers: options.nats, name: 'peer-observer archive', mode: options.stream.mode });
  } catch (err) {
    throw new RuntimeError(describeError(err));
  }
  io.stderr.write(`peer-observer: ${bus.notice}\n`);
  // JetStream: a durable consumer, acknowledged after each commit, resuming after the archive's own mark.
  let durable: DurableConsumer | null = null;
  if (bus.mode === 'jetstream') {
    try {
      const key = `${bus.streamName}/${options.stream.consumer}`;
      durable = await DurableConsumer.open(
        {
          servers: options.nats,
          consumer: options.stream.consumer,
          stream: bus.streamName,
          start: options.stream.start,
          skipThrough: archiveMark(options.dataDir, key),
          name: 'peer-observer archive (consumer)',
        },
        bus,
      );
    } catch (err) {
      await bus.close();
      throw new RuntimeError(describeError(err));
    }
    io.stderr.write(`peer-observer: ${durable.notice}\n`);
  }
  const source = durable ?? bus;
  let consumer: Archive;
  try {
    consumer = openArchiveConsumer(source, {
      ...(durable
        ? { markOf: (e: ObserverEvent) => durable.markOf(e), onCommit: ({ last }: { last: ObserverEvent }) => durable.ackThrough(last) }
        : {}),
      dataDir: options.dataDir,
      ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
      ...(options.maxDbMb !== undefined ? { maxDbMb: options.maxDbMb } : {}),
      ...(options.foldRate !== undefined ? { foldRate: options.foldRate } : {}),
      ...(options.freshIfDamaged ? { freshIfDamaged: true } : {}),
      onNotice: (m) => io.stderr.write(`peer-observer: archive: ${m}\n`),
      counters: { origin: { nodeId: defaultNodeId(), source: 'archive' }, intervalMs: options.countersIntervalMs ?? 10_000 },
      onError: (e) => io.stderr.write(`peer-observer: ${e.message}\n`),
    });
  } catch (err) {
    await durable?.close();
    await bus.close();
    throw err;
  }
  // The subscription is on the server once a flush round-trips: only then say we are ready.
  if (!durable) await bus.drain();
  const retention = [options.retentionDays !== undefined ? `retention ${options.retentionDays} days` : '', consumer.cap.describe].filter(
    Boolean,
  );
  io.stderr.write(
    `peer-observer: archiving from NATS at ${natsCredentials(options.nats).servers.join(', ')} into ${options.dataDir}${retention.length ? ` (${retention.join(', ')})` : ''}\n`,
  );
  await aborted(signal);
  if (durable) {
    await durable.close();
    await consumer.done;
    await bus.close();
    const d = durable.stats();
    io.stderr.write(
      `peer-observer: archive: ${formatArchiveCounters(consumer.counters())} rejected=${d.rejected} duplicates=${d.duplicates} ` +
        `skipped=${d.skipped} acked=${d.acked} behind=${d.behind} missed=${d.missed}\n`,
    );
    return;
  }
  await bus.close();
  await consumer.done;
  const s = bus.stats();
  io.stderr.write(`peer-observer: archive: ${formatArchiveCounters(consumer.counters())} rejected=${s.rejected}\n`);
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
