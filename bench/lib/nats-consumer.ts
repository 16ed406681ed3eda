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
import { threadCpuSeconds, threadCpuSince } from './threads.js';

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
const cpuAtReady = process.cpuUsage();
const threadsAtReady = threadCpuSeconds();
process.stdout.write('ready\n');

const latencies = new Float64Array(opts.expected);
let n = 0;
let firstUs = 0;
let lastUs = 0;
// One watchdog rather than a timer per event (which cost ≈ 3 % of this process).
let lastSeen = Date.now();
// The longest wait between two events, and after how many (a stall of the path shows here, not in the rate).
let maxGapUs = 0;
let maxGapAt = 0;
// The largest resident set seen (sampled with the watchdog): what a backlog costs in memory.
let maxRss = 0;
const watchdog = setInterval(() => {
  maxRss = Math.max(maxRss, process.memoryUsage.rss());
  if (Date.now() - lastSeen > opts.idleMs) sub.unsubscribe();
}, 100);
for await (const e of sub) {
  const t = nowUs();
  lastSeen = Date.now();
  if (n === 0) firstUs = t;
  else if (t - lastUs > maxGapUs) {
    maxGapUs = t - lastUs;
    maxGapAt = n;
  }
  lastUs = t;
  latencies[n++] = t - e.timeUs;
  if (n >= opts.expected) break;
}
clearInterval(watchdog);
// CPU used from `ready` to the last event (idle waits cost none): decoding, validating, queueing.
const cpu = process.cpuUsage(cpuAtReady);
const sorted = latencies.subarray(0, n).sort();
const pct = (p: number) => (n ? sorted[Math.min(n - 1, Math.floor(p * n))]! : NaN);
const s = bus.stats();
process.stdout.write(
  JSON.stringify({
    received: n,
    firstUs,
    lastUs,
    p50Us: pct(0.5),
    p99Us: pct(0.99),
    maxUs: n ? sorted[n - 1] : NaN,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    threads: threadCpuSince(threadsAtReady),
    maxRssMb: Math.max(maxRss, process.memoryUsage.rss()) / 2 ** 20,
    maxGapUs,
    maxGapAt,
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
