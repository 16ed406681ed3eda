/**
 * `peer-observer log --nats URL`: the logger as its own process. It subscribes
 * to NATS (filtered on the server by node ids and event types), prints one line
 * per event until SIGINT/SIGTERM, then one line of counters on stderr:
 * received, decoded, rejected (not valid events) and dropped (queue full).
 */
import type { Command } from 'commander';
import type { Bus } from '../bus/bus.js';
import { natsCredentials } from '../bus/nats.js';
import { startLogger, type Logger, type LoggerOptions } from '../consumers/logger/logger.js';
import { EVENT_TYPES, type EventType } from '../events/types.js';
import { flagValue, parseNatsFlags } from './settings/values.js';
import { UsageError } from './errors.js';
import { aborted, type Io } from './pipeline.js';
import { collectList } from './settings/define.js';
import { DurableConsumer } from '../bus/durable.js';
import { DurableComponent, NatsConnectionComponent } from './nats-consumer.js';
import { Runtime } from '../runtime/runtime.js';
import type { Component, Counters } from '../runtime/component.js';
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

/**
 * The log command's plan (src/runtime/): the NATS connection, on JetStream a durable consumer (acknowledged once
 * queued for printing, history from --since), and the logger reading it (or the connection's core subscription,
 * filtered by the server). It prints its counters on stderr at exit and publishes none.
 */
export async function log(options: LogOptions, signal: AbortSignal, io: Io): Promise<void> {
  const filter = {
    ...(options.types.length ? { types: options.types } : {}),
    ...(options.nodeIds.length ? { nodeIds: options.nodeIds } : {}),
  };
  const connection = new NatsConnectionComponent({
    servers: options.nats,
    name: 'peer-observer log',
    mode: options.stream.mode,
    // Core NATS asked for by name needs no notice; JetStream, or what auto found, does.
    quiet: (bus) => bus.mode !== 'jetstream' && options.stream.mode !== 'auto',
  });
  const durable = new DurableComponent(
    connection,
    (bus) => ({
      servers: options.nats,
      consumer: options.stream.consumer,
      stream: bus.streamName,
      start: options.stream.start,
      ackOnDelivery: true,
      name: 'peer-observer log (consumer)',
      ...filter,
    }),
    false,
  );
  const printer = new LoggerComponent(() => durable.consumer ?? connection.bus, io, { json: options.json, ...filter });
  const runtime = await Runtime.start(
    { bus: connection, components: [durable, printer] },
    { nodeId: 'log', publishCounters: false, notice: (line) => io.stderr.write(`peer-observer: ${line}\n`) },
  );
  io.stderr.write(loggingLine(options));
  await aborted(signal);
  await runtime.stop();
  const d = durable.consumer?.stats();
  if (d) {
    io.stderr.write(
      `peer-observer: log: received=${d.received} decoded=${d.decoded} rejected=${d.rejected} dropped=0\n` +
        `peer-observer: log: stream acked=${d.acked} behind=${d.behind} missed=${d.missed} duplicates=${d.duplicates}\n`,
    );
    if (d.forged || d.late) io.stderr.write(`peer-observer: log: refused forged=${d.forged} late=${d.late}\n`);
    return;
  }
  const s = connection.bus.stats();
  io.stderr.write(
    `peer-observer: log: received=${s.received} decoded=${s.decoded} rejected=${s.rejected} dropped=${s.subscriberDropped}\n`,
  );
  if (s.forged || s.late) io.stderr.write(`peer-observer: log: refused forged=${s.forged} late=${s.late}\n`);
}

/** The logger on what `from` gives; a sink: it prints everything until its source ends. */
class LoggerComponent implements Component {
  readonly name = 'logger';
  readonly sink = true;
  #logger: Logger | undefined;
  constructor(
    private readonly from: () => Bus,
    private readonly io: Io,
    private readonly options: LoggerOptions,
  ) {}
  async start(): Promise<void> {
    const source = this.from();
    // A durable consumer filters by itself; the core subscription is filtered by the server.
    this.#logger = startLogger(source, this.io.stdout, source instanceof DurableConsumer ? { json: this.options.json } : this.options);
    // The subscription is on the server once a flush round-trips: only then say we are ready.
    if (!(source instanceof DurableConsumer)) await source.drain();
  }
  counters(): Counters {
    return {};
  }
  async stop(): Promise<void> {
    this.#logger?.subscription.unsubscribe();
    await this.#logger?.done;
  }
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
