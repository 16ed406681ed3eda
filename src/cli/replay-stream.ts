/**
 * `peer-observer replay --from-stream URL --since T [--until T]`: print what
 * the JetStream stream holds for a time range (docs/bus.md, "Durable
 * consumers"), through the logger here, as text or JSON lines. It reads with
 * a consumer of its own that starts at `--since` and is deleted at the end,
 * until it has caught up with the stream; events after `--until` are not
 * printed. Events are never published back into the stream (that would
 * archive them twice).
 */
import { nuid } from '@nats-io/transport-node';
import { DurableConsumer } from '../bus/durable.js';
import { startLogger } from '../consumers/logger/logger.js';
import type { ArchiveFilter } from '../consumers/archive/query.js';
import { RuntimeError, UsageError, describeError } from './errors.js';
import type { Io } from './pipeline.js';

export interface StreamReplayOptions {
  nats: string[];
  filter: ArchiveFilter;
  json: boolean;
}

export function checkStreamReplay(filter: ArchiveFilter, extra: { nats: boolean; dataDir: boolean; pcap: boolean }): void {
  if (extra.dataDir || extra.pcap) throw new UsageError('--from-stream replays the NATS stream: not with --data-dir or --pcap');
  if (extra.nats) throw new UsageError('--from-stream prints here; publishing the stream back into NATS would store it twice');
  if (filter.sinceUs === undefined) throw new UsageError('--from-stream needs --since (where in the stream to start)');
}

export async function replayFromStream(options: StreamReplayOptions, signal: AbortSignal, io: Io): Promise<void> {
  const { filter } = options;
  let consumer: DurableConsumer;
  try {
    consumer = await DurableConsumer.open({
      servers: options.nats,
      consumer: `replay-${nuid.next()}`,
      start: { kind: 'time', sinceUs: filter.sinceUs! },
      ackOnDelivery: true,
      name: 'peer-observer replay --from-stream',
      accept: (e) => e.timeUs >= filter.sinceUs! && e.timeUs <= (filter.untilUs ?? Infinity),
      ...(filter.types?.length ? { types: filter.types } : {}),
      ...(filter.nodeIds?.length ? { nodeIds: filter.nodeIds } : {}),
    });
  } catch (err) {
    throw new RuntimeError(describeError(err));
  }
  const logger = startLogger(consumer, io.stdout, { json: options.json });
  try {
    // Caught up: nothing in the stream left to deliver to it, nothing delivered and not yet handled.
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, 200));
      const behind = await consumer.position().catch(() => 1);
      if (behind === 0 && consumer.ackPending === 0) break;
    }
  } finally {
    await consumer.close(true);
    await logger.done;
  }
  const s = consumer.stats();
  io.stderr.write(`peer-observer: replay --from-stream: received=${s.received} decoded=${s.decoded} rejected=${s.rejected}\n`);
}
