/**
 * bench/pipeline's JetStream archive, run as its own process, wired as
 * `peer-observer archive --nats` wires it: a durable consumer of the stream
 * (src/bus/durable.ts) feeding the SQLite archive (src/consumers/archive, its
 * writer thread), each batch's stream mark committed with its rows and its
 * messages acknowledged after the commit (ackThrough). Prints `ready`, then,
 * once `expected` events of node `bench` are committed (or after `idleMs`
 * without a commit), one JSON line like nats-consumer.ts's: latency is the
 * commit time of each event minus its timeUs; CPU is the whole process's
 * (the writer thread included).
 *
 *   node --import tsx bench/lib/archive-consumer.ts '{"url":"nats://...","expected":N,"idleMs":5000,"dataDir":"/tmp/..."}'
 */
import { DurableConsumer } from '../../src/bus/durable.js';
import { startArchive } from '../../src/consumers/archive/consumer.js';
import { nowUs } from '../../src/events/envelope.js';
import { Receipts } from './receipts.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { url: string; expected: number; idleMs: number; dataDir: string };
// Every event's publish time, in the order handed to the archive (which writes them in that order, unfolded).
const stamps = new Float64Array(opts.expected + 1);
let handed = 0;
const durable = await DurableConsumer.open({
  servers: [opts.url],
  consumer: `bench-archive-${process.pid}`,
  start: { kind: 'new' },
  nodeIds: ['bench'],
  accept: (e) => {
    if (handed < stamps.length) stamps[handed++] = e.timeUs;
    return true;
  },
});
let finished: () => void = () => {};
const finishedP = new Promise<void>((r) => (finished = r));
const receipts = new Receipts(opts.expected, opts.idleMs, () => finished());
const archive = startArchive(durable, {
  dataDir: opts.dataDir,
  // Storage throughput, every event a row (folding would make a fast stream from few connections cheaper).
  foldRate: 0,
  markOf: (e) => durable.markOf(e),
  onCommit: ({ events, last }) => {
    durable.ackThrough(last);
    receipts.took(nowUs(), events, (k) => stamps[k]!);
    if (receipts.n >= opts.expected) finished();
  },
  onError: (e) => process.stderr.write(`archive-consumer: ${e.message}\n`),
});
await archive.ready;
receipts.ready();
process.stdout.write('ready\n');
await finishedP;
const s = durable.stats();
const c = archive.counters();
process.stdout.write(
  JSON.stringify({
    ...receipts.finish(),
    bus: {
      received: s.received,
      decoded: s.decoded,
      rejected: s.rejected,
      duplicates: s.duplicates,
      dropped: c.dropped,
      acked: s.acked,
      rewinds: s.rewinds,
      batches: c.batches,
      failed: c.failed,
    },
  }) + '\n',
);
await durable.close();
await archive.done;
process.exit(0);
