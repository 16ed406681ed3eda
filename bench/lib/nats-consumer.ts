/**
 * bench/pipeline's NATS consumer, run as its own process: subscribes through a
 * NatsBus, prints `ready`, then takes `expected` events of node `bench`
 * (stopping early after `idleMs` without one) and prints one JSON line with
 * the receipt times and latency percentiles (receipt − event.timeUs, µs).
 *
 *   node --import tsx bench/lib/nats-consumer.ts '{"url":"nats://...","expected":N,"idleMs":5000}'
 */
import { DurableConsumer } from '../../src/bus/durable.js';
import { NatsBus } from '../../src/bus/nats.js';
import { nowUs } from '../../src/events/envelope.js';
import { Receipts } from './receipts.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { url: string; expected: number; idleMs: number; jetstream?: boolean };
// JetStream: a durable consumer of the stream, pulling in batches and acknowledging every message (as `log` does).
const bus = opts.jetstream
  ? await DurableConsumer.open({
      servers: [opts.url],
      consumer: `bench-${process.pid}`,
      start: { kind: 'new' },
      nodeIds: ['bench'],
      ackOnDelivery: true,
    })
  : await NatsBus.connect({ servers: [opts.url], name: 'bench consumer', mode: 'core' });
const sub = bus.subscribe({ nodeIds: ['bench'], maxQueue: 10_000_000 });
await bus.drain();
const receipts = new Receipts(opts.expected, opts.idleMs, () => sub.unsubscribe());
receipts.ready();
process.stdout.write('ready\n');
for await (const e of sub) {
  receipts.took(nowUs(), 1, () => e.timeUs);
  if (receipts.n >= opts.expected) break;
}
const s = bus.stats();
process.stdout.write(
  JSON.stringify({
    ...receipts.finish(),
    bus: {
      received: s.received,
      decoded: s.decoded,
      rejected: s.rejected,
      duplicates: s.duplicates,
      dropped: 'subscriberDropped' in s ? s.subscriberDropped : 0,
      acked: 'acked' in s ? s.acked : 0,
    },
  }) + '\n',
);
await bus.close();
process.exit(0);
