/**
 * `peer-observer replay --data-dir DIR [filters]`: archived events fed back into
 * a bus, in arrival order and unchanged (same node ids, times and sources), so
 * any consumer can be rerun on history. Without `--nats`, the bus is the
 * embedded one with the logger printing (text or `--json`): the printed lines
 * are the ones the original logger printed. With `--nats URL`, the events are
 * published there for consumers in other processes.
 *
 * `--pcap FILE --network NAME` plays a capture of Bitcoin P2P traffic instead
 * (sources/replay/pcap.ts): the events the live p2p source would have emitted,
 * source `replay`, attributed to `--node-id` (default `pcap`).
 *
 * `--speed 1` (the default) keeps the recorded timing, `--speed N` scales it,
 * `--speed max` goes as fast as the consumers take the events (the embedded
 * bus's queue is drained every 1000 events, so nothing overflows).
 */
import { checkStreamReplay, replayFromStream } from './replay-stream.js';
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import type { Bus } from '../bus/bus.js';
import { EmbeddedBus } from '../bus/embedded.js';
import { NatsBus } from '../bus/nats.js';
import type { BatchEncoding } from '../bus/seq.js';
import { countEvents, countMatching, type ArchiveFilter } from '../consumers/archive/query.js';
import { startLogger } from '../consumers/logger/logger.js';
import type { ObserverEvent } from '../events/types.js';
import { networkByName, type NetworkName } from '../protocol/networks.js';
import { pcapEvents } from '../sources/replay/pcap.js';
import { parseDataDir, parseFilter, type FilterFlags } from './archive-flags.js';
import { flagValue, parseNatsFlags } from './settings/values.js';
import { RuntimeError, UsageError, describeError } from './errors.js';
import type { Io } from './pipeline.js';
import { ProgressBar } from './progress.js';
import { addFilterOptions, archivedEvents, openForReading } from './query.js';
import { collectList } from './settings/define.js';

/** Events per drain: how far ahead of its consumers a max-speed replay may run. */
const DRAIN_EVERY = 1000;

export interface ReplayOptions {
  /** The archive to replay, or a pcap file. */
  from: { dataDir: string; filter: ArchiveFilter } | { pcap: string; network: NetworkName; nodeId: string };
  /** A factor on the recorded timing, or 'max'. */
  speed: number | 'max';
  /** Publish to NATS instead of logging here. */
  nats: string[];
  natsEncoding: BatchEncoding;
  json: boolean;
}

export type ReplayFlags = FilterFlags & {
  dataDir?: string;
  pcap?: string;
  network?: string;
  speed?: string;
  nats?: string[];
  natsEncoding?: string;
  json?: boolean;
  fromStream?: string[];
};

export function parseSpeed(value: string | undefined): number | 'max' {
  if (value === undefined) return 1;
  if (value.trim().toLowerCase() === 'max') return 'max';
  const n = /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0.001 && n <= 1_000_000)) {
    throw new UsageError(`--speed ${JSON.stringify(value)}: expected max or a factor from 0.001 to 1000000 (1 = recorded speed)`);
  }
  return n;
}

function parsePcapFlags(flags: ReplayFlags): ReplayOptions['from'] {
  const pcap = flags.pcap!;
  if (flags.dataDir !== undefined) throw new UsageError('--pcap and --data-dir: replay one or the other');
  for (const [flag, value] of [
    ['--since', flags.since],
    ['--until', flags.until],
    ['--peer', flags.peer],
    ['--type', flags.type],
    ['--command', flags.command],
    ['--limit', flags.limit],
  ] as const) {
    if (value !== undefined) throw new UsageError(`${flag} filters an archive; with --pcap every event of the capture is replayed`);
  }
  let isFile: boolean;
  try {
    isFile = statSync(pcap).isFile();
  } catch {
    throw new UsageError(`--pcap ${JSON.stringify(pcap)}: cannot read: no such file`);
  }
  if (!isFile) throw new UsageError(`--pcap ${JSON.stringify(pcap)}: not a file`);
  const network = flags.network ?? 'mainnet';
  const ids = flags.nodeId ?? [];
  if (ids.length > 1) throw new UsageError('--node-id: with --pcap, one node id names the observer of the capture');
  const nodeId = ids[0] ?? 'pcap';
  return { pcap, network: flagValue('network', network), nodeId: flagValue('nodeId', nodeId) };
}

export function parseReplayFlags(flags: ReplayFlags, nowUs?: number): ReplayOptions {
  let from: ReplayOptions['from'];
  if (flags.pcap !== undefined) from = parsePcapFlags(flags);
  else {
    if (flags.network !== undefined) throw new UsageError('--network goes with --pcap (an archive knows its network)');
    if (flags.dataDir === undefined) throw new UsageError('--data-dir <dir> or --pcap <file> is required (what to replay)');
    from = { dataDir: parseDataDir(flags.dataDir), filter: parseFilter(flags, nowUs) };
  }
  const speed = parseSpeed(flags.speed);
  const nats = flags.nats !== undefined ? parseNatsFlags(flags.nats, 'the NATS server to publish to') : [];
  if (nats.length && flags.json)
    throw new UsageError('--json prints the replayed events here; with --nats they go to NATS instead: choose one');
  const natsEncoding = flagValue('natsEncoding', flags.natsEncoding ?? 'msgpack');
  if (flags.natsEncoding !== undefined && !nats.length) throw new UsageError('--nats-encoding needs --nats (the bus it applies to)');
  return { from, speed, nats, natsEncoding, json: flags.json ?? false };
}

interface ReplayBus {
  bus: Bus;
  close(): Promise<string>;
}

async function openReplayBus(options: ReplayOptions, io: Io): Promise<ReplayBus> {
  if (options.nats.length) {
    let bus: NatsBus;
    try {
      bus = await NatsBus.connect({ servers: options.nats, name: 'peer-observer replay', encoding: options.natsEncoding });
    } catch (err) {
      throw new RuntimeError(describeError(err));
    }
    return {
      bus,
      async close() {
        await bus.close();
        const s = bus.stats();
        return ` sent=${s.sent} dropped=${s.dropped}`;
      },
    };
  }
  const bus = new EmbeddedBus();
  const logger = startLogger(bus, io.stdout, { json: options.json });
  return {
    bus,
    async close() {
      await bus.close();
      await logger.done;
      return ` printed=${logger.lines} dropped=${bus.stats().dropped}`;
    },
  };
}

/** Publish `events` into `bus`, keeping their relative timing scaled by `speed`; returns how many were published. */
export async function feed(
  bus: Bus,
  events: Iterable<ObserverEvent> | AsyncIterable<ObserverEvent>,
  speed: number | 'max',
  signal: AbortSignal,
  onProgress: (published: number) => void = () => {},
): Promise<number> {
  let published = 0;
  let firstUs: number | undefined;
  const startMs = performance.now();
  for await (const event of events) {
    if (signal.aborted) break;
    if (speed !== 'max') {
      firstUs ??= event.timeUs;
      const dueMs = startMs + (event.timeUs - firstUs) / 1000 / speed;
      const waitMs = dueMs - performance.now();
      if (waitMs >= 1) {
        // Let consumers catch up before waiting, so the wait is what the recording had.
        await bus.drain();
        await sleep(dueMs - performance.now(), signal);
        if (signal.aborted) break;
      }
    }
    bus.publish(event);
    published++;
    if (published % DRAIN_EVERY === 0) {
      await bus.drain();
      onProgress(published);
    }
  }
  await bus.drain();
  onProgress(published);
  return published;
}

export async function replay(options: ReplayOptions, signal: AbortSignal, io: Io): Promise<void> {
  if ('pcap' in options.from) return replayPcap(options, options.from, signal, io);
  const { dataDir, filter } = options.from;
  const db = openForReading(dataDir, io.stderr);
  try {
    // Events, aggregates expanded; with --limit (which counts rows), the rows.
    const total = filter.limit === undefined ? countEvents(db, filter).events : countMatching(db, filter);
    const { bus, close } = await openReplayBus(options, io);
    const bar = new ProgressBar(io.stderr, total, 'replay');
    const counts = { rejected: 0, expanded: 0 };
    let published = 0;
    try {
      published = await feed(bus, archivedEvents(db, filter, counts), options.speed, signal, (n) => bar.update(n, n === total));
    } finally {
      bar.end();
      const tail = await close();
      io.stderr.write(
        `peer-observer: replay: published=${published} of ${total} rejected=${counts.rejected}${tail}` +
          (counts.expanded > 0 ? ` expanded=${counts.expanded} (events folded in the archive, replayed from their aggregates)` : '') +
          '\n',
      );
    }
  } finally {
    db.close();
  }
}

async function replayPcap(
  options: ReplayOptions,
  from: { pcap: string; network: NetworkName; nodeId: string },
  signal: AbortSignal,
  io: Io,
): Promise<void> {
  const size = statSync(from.pcap).size;
  const events = pcapEvents(from.pcap, { network: networkByName(from.network), nodeId: from.nodeId });
  const { bus, close } = await openReplayBus(options, io);
  // Progress by bytes read: the global header, then a 16-byte header per record plus its captured bytes.
  const bar = new ProgressBar(io.stderr, size, 'replay', ' bytes');
  const bytesRead = () => Math.min(size, 24 + events.stats.records * 16 + events.stats.capturedBytes);
  let published = 0;
  let failure: unknown;
  try {
    published = await feed(bus, events, options.speed, signal, () => bar.update(bytesRead()));
  } catch (err) {
    failure = err;
  } finally {
    bar.end();
    const tail = await close();
    const p = events.problem;
    const problem = p ? ` problem=${p.kind} at byte ${p.offset}: ${p.detail}` : '';
    io.stderr.write(`peer-observer: replay: published=${published} records=${events.stats.records}${tail}${problem}\n`);
  }
  if (failure !== undefined) throw new RuntimeError(`--pcap ${JSON.stringify(from.pcap)}: ${describeError(failure)}`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export function registerReplay(command: Command, context: { signal: AbortSignal; io: Io }): void {
  addFilterOptions(
    command
      .option('--data-dir <dir>', 'directory of the archive (as given to archive or run)')
      .option('--pcap <file>', 'replay a pcap of Bitcoin P2P traffic instead of an archive (with --network; --node-id names it)')
      .option('--network <name>', 'with --pcap: mainnet, testnet3, testnet4, signet or regtest (default: mainnet)'),
  )
    .option('--speed <factor>', 'recorded timing scaled by this factor (2 = twice as fast), or max (default: 1)')
    .option('--nats <url>', 'publish to this NATS server instead of printing (repeatable or comma-separated)', collectList)
    .option('--nats-encoding <encoding>', 'with --nats: msgpack (default) or json (see docs/bus.md)')
    .option('--json', 'print one JSON event per line instead of text')
    .option('--from-stream <url>', 'print what the JetStream stream on this NATS server holds from --since (to --until)', collectList)
    .action(async (opts: ReplayFlags) => {
      if (opts.fromStream !== undefined) {
        const filter = parseFilter(opts);
        checkStreamReplay(filter, { nats: opts.nats !== undefined, dataDir: opts.dataDir !== undefined, pcap: opts.pcap !== undefined });
        const nats = parseNatsFlags(opts.fromStream, 'the NATS server whose stream to read');
        await replayFromStream({ nats, filter, json: opts.json ?? false }, context.signal, context.io);
        return;
      }
      await replay(parseReplayFlags(opts), context.signal, context.io);
    });
}
