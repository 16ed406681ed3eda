/**
 * `run --nats` in JetStream mode: the process's consumers (detectors and
 * alerts, metrics, HTTP and the dashboard, the connectivity check) read the
 * stream through one durable consumer, `run-<--consumer-name>` (default: the
 * node id), shared through a DurableFanout (bus/fanout.ts). In core mode they
 * keep subscribing to NATS directly (NatsBus.subscribe) and the start-up line
 * says what that costs.
 */
import type { StartAt } from '../bus/durable.js';
import { DurableConsumer } from '../bus/durable.js';
import { DurableFanout } from '../bus/fanout.js';
import type { NatsBus } from '../bus/nats.js';
import type { HealthRegistry } from '../health/registry.js';

export interface RunStream {
  /** The durable consumer's name on the server (`run-<name>`). */
  consumer: string;
  /** Where it starts the first time (afterwards it resumes). */
  start: StartAt;
}

/** Open (create or resume) the durable consumer; the fanout starts reading at start(), once every consumer subscribed. */
export async function openRunConsumer(bus: NatsBus, servers: string[], stream: RunStream): Promise<DurableFanout> {
  const durable = await DurableConsumer.open({
    servers,
    consumer: stream.consumer,
    stream: bus.streamName,
    start: stream.start,
    name: `peer-observer run (consumer ${stream.consumer})`,
  });
  return new DurableFanout(durable, bus);
}

/** The consumer's counters beside the publisher's (`pipeline.counters` stage `bus.nats`, hence /metrics). */
export function consumerCounters(fanout: DurableFanout): Record<string, number> {
  const d = fanout.durable.stats();
  const local = fanout.localStats();
  return {
    consumerReceived: d.received,
    consumerDecoded: d.decoded,
    consumerDuplicates: d.duplicates,
    consumerRejected: d.rejected,
    consumerForged: d.forged,
    consumerAcked: d.acked,
    consumerBehind: d.behind,
    consumerMissed: d.missed,
    consumerHanded: fanout.handed,
    subscriberDropped: local.dropped,
  };
}

/** For /healthz: how far behind the consumer is, and what the stream removed before it read it. */
export function consumerHealth(fanout: DurableFanout): Record<string, unknown> {
  const d = fanout.durable.stats();
  return {
    name: fanout.durable.consumerName,
    behind: d.behind,
    missed: d.missed,
    acked: d.acked,
    lastError: d.lastError,
    unreachable: fanout.durable.unreachable,
  };
}

/** /healthz is degraded while the server does not know the consumer (deleted) or cannot be asked, and while the stream removes events before the consumer read them. */
export function watchConsumer(fanout: DurableFanout, health: HealthRegistry): void {
  const durable = fanout.durable;
  health.probe('nats-consumer', () =>
    durable.unreachable === null
      ? { ok: true, reasons: [] }
      : { ok: false, reasons: [`durable consumer ${durable.consumerName}: ${durable.unreachable}`] },
  );
  health.watchDrops('nats-consumer', () => durable.stats().missed, 'events removed by the stream before this consumer read them');
}

/** The exit line. */
export function consumerExitLine(fanout: DurableFanout): string {
  const d = fanout.durable.stats();
  return (
    `peer-observer: nats consumer ${fanout.durable.consumerName}: received=${d.received} decoded=${d.decoded} ` +
    `duplicates=${d.duplicates} rejected=${d.rejected} acked=${d.acked} behind=${d.behind} missed=${d.missed}\n`
  );
}
