/**
 * `peer-observer log --nats URL`: the logger as its own process. It subscribes
 * to NATS (filtered on the server by node ids and event types), prints one line
 * per event until SIGINT/SIGTERM, then one line of counters on stderr:
 * received, decoded, rejected (not valid events) and dropped (queue full).
 */
import type { Command } from 'commander';
import { NatsBus, natsCredentials } from '../bus/nats.js';
import { startLogger } from '../consumers/logger/logger.js';
import { EVENT_TYPES, type EventType } from '../events/types.js';
import { flagValue, parseNatsFlags } from './settings/values.js';
import { RuntimeError, UsageError, describeError } from './errors.js';
import { aborted, type Io } from './pipeline.js';
import { collectList } from './settings/define.js';
import { DurableConsumer } from '../bus/durable.js';
import { parseStreamFlags, STREAM_FLAG_HELP, type StreamFlags, type StreamOptions } from './stream-flags.js';

export interface LogOptions {
  nats: string[];
  json: boolean;
  /** Only events from these observers; all when empty. */
  nodeIds: string[];
  /** Only these event types; all when empty. */
  types: EventType[];
  /** JetStream or core NATS, the durable consumer's name, where it starts (default: new events). */
  stream: StreamOptions;
}

/** Validate the flags as commander hands them over; one-line errors naming the flag. */
export function parseLogFlags(flags: { nats?: string[]; json?: boolean; nodeId?: string[]; type?: string[] } & StreamFlags): LogOptions {
  const nats = parseNatsFlags(flags.nats, 'the NATS server the observers publish to');
  const nodeIds = (flags.nodeId ?? []).map((id) => flagValue('nodeId', id));
  const types = (flags.type ?? []).map((t) => {
    if (!(EVENT_TYPES as readonly string[]).includes(t)) {
      throw new UsageError(`--type ${JSON.stringify(t)}: expected one of ${EVENT_TYPES.join(', ')}`);
    }
    return t as EventType;
  });
  return { nats, json: flags.json ?? false, nodeIds, types, stream: parseStreamFlags('log', flags, { kind: 'new' }) };
}

export async function log(options: LogOptions, signal: AbortSignal, io: Io): Promise<void> {
  let bus: NatsBus;
  try {
    bus = await NatsBus.connect({ servers: options.nats, name: 'peer-observer log', mode: options.stream.mode });
  } catch (err) {
    throw new RuntimeError(describeError(err));
  }
  if (bus.mode === 'jetstream') {
    io.stderr.write(`peer-observer: ${bus.notice}\n`);
    await logDurable(options, bus, signal, io);
    return;
  }
  if (options.stream.mode === 'auto' && options.nats.length) io.stderr.write(`peer-observer: ${bus.notice}\n`);
  const logger = startLogger(bus, io.stdout, {
    json: options.json,
    ...(options.types.length ? { types: options.types } : {}),
    ...(options.nodeIds.length ? { nodeIds: options.nodeIds } : {}),
  });
  // The subscription is on the server once a flush round-trips: only then say we are ready.
  await bus.drain();
  io.stderr.write(loggingLine(options));
  await aborted(signal);
  await bus.close();
  await logger.done;
  const s = bus.stats();
  io.stderr.write(
    `peer-observer: log: received=${s.received} decoded=${s.decoded} rejected=${s.rejected} dropped=${s.subscriberDropped}\n`,
  );
  if (s.forged || s.late) io.stderr.write(`peer-observer: log: refused forged=${s.forged} late=${s.late}\n`);
}

/** JetStream: the logger on a durable consumer (acknowledged once queued for printing), history from --since. */
async function logDurable(options: LogOptions, bus: NatsBus, signal: AbortSignal, io: Io): Promise<void> {
  let durable: DurableConsumer;
  try {
    durable = await DurableConsumer.open({
      servers: options.nats,
      consumer: options.stream.consumer,
      stream: bus.streamName,
      start: options.stream.start,
      ackOnDelivery: true,
      name: 'peer-observer log (consumer)',
      ...(options.types.length ? { types: options.types } : {}),
      ...(options.nodeIds.length ? { nodeIds: options.nodeIds } : {}),
    });
  } catch (err) {
    await bus.close();
    throw new RuntimeError(describeError(err));
  }
  await bus.close();
  io.stderr.write(`peer-observer: ${durable.notice}\n`);
  const logger = startLogger(durable, io.stdout, { json: options.json });
  io.stderr.write(loggingLine(options));
  await aborted(signal);
  await durable.close();
  await logger.done;
  const s = durable.stats();
  io.stderr.write(
    `peer-observer: log: received=${s.received} decoded=${s.decoded} rejected=${s.rejected} dropped=0\n` +
      `peer-observer: log: stream acked=${s.acked} behind=${s.behind} missed=${s.missed} duplicates=${s.duplicates}\n`,
  );
  if (s.forged || s.late) io.stderr.write(`peer-observer: log: refused forged=${s.forged} late=${s.late}\n`);
}

export function registerLog(command: Command, context: { signal: AbortSignal; io: Io }): void {
  command
    .option('--nats <url>', 'the NATS server to read from (repeatable or comma-separated for a cluster)', collectList)
    .option('--json', 'print one JSON event per line instead of text')
    .option('--node-id <id>', 'only events from this observer (repeatable)', collectList)
    .option('--type <type>', `only this event type (repeatable; ${EVENT_TYPES.join(', ')})`, collectList)
    .option('--nats-mode <mode>', STREAM_FLAG_HELP.natsMode)
    .option('--consumer-name <name>', STREAM_FLAG_HELP.consumerName)
    .option('--since <when>', `${STREAM_FLAG_HELP.since} (default: new)`)
    .action(async (opts: { nats?: string[]; json?: boolean; nodeId?: string[]; type?: string[] } & StreamFlags) => {
      await log(parseLogFlags(opts), context.signal, context.io);
    });
}

/** The start-up line: where from, which nodes and types. */
function loggingLine(options: LogOptions): string {
  const what = [
    options.nodeIds.length ? `node ${options.nodeIds.join(', ')}` : 'all nodes',
    options.types.length ? `types ${options.types.join(', ')}` : 'all types',
  ].join('; ');
  return `peer-observer: logging from NATS at ${natsCredentials(options.nats).servers.join(', ')} (${what})\n`;
}
