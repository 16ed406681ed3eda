/**
 * A test-only observer stand-in, run as its own process: publishes `count`
 * ping.latency events through a NatsBus at a steady rate (`batch` events every
 * `intervalMs`), event i carrying conn.id = i, so a consumer can tell exactly
 * which events arrived. Prints JSON lines on stdout:
 *   {"state":"connected"|"disconnected", "stats":{...}}  whenever that changes
 *   {"progress":n, "stats":{...}}                        every 50 ms
 *   {"done":true, "stats":{...}}                         after close(), then exits 0
 *
 *   node --import tsx test/helpers/nats-publisher.ts '<json options>'
 */
import { NatsBus } from '../../src/bus/nats.js';
import { makeEvent } from '../../src/events/envelope.js';

export interface PublisherOptions {
  servers: string[];
  nodeId: string;
  count: number;
  batch: number;
  intervalMs: number;
  publishBuffer?: number;
  reconnectTimeWaitMs?: number;
  /** NatsBus mode (default: auto, JetStream when the server has it). */
  mode?: 'auto' | 'jetstream' | 'core';
}

const opts = JSON.parse(process.argv[2] ?? '{}') as PublisherOptions;
const bus = await NatsBus.connect({
  servers: opts.servers,
  name: `test publisher ${opts.nodeId}`,
  ...(opts.publishBuffer !== undefined ? { publishBuffer: opts.publishBuffer } : {}),
  ...(opts.reconnectTimeWaitMs !== undefined ? { reconnectTimeWaitMs: opts.reconnectTimeWaitMs } : {}),
  ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
});
const origin = { nodeId: opts.nodeId, source: 'test' };
const say = (o: object) => process.stdout.write(JSON.stringify({ ...o, stats: bus.stats() }) + '\n');
say({ state: 'connected' });

let next = 0;
let wasConnected = true;
const watch = setInterval(() => {
  const { connected } = bus.stats();
  if (connected !== wasConnected) say({ state: connected ? 'connected' : 'disconnected' });
  wasConnected = connected;
  say({ progress: next });
}, 50);

await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    for (let k = 0; k < opts.batch && next < opts.count; k++, next++) {
      bus.publish(
        makeEvent(origin, 'ping.latency', {
          conn: { id: next, direction: 'inbound', remote: '127.0.0.9:1000' },
          nonce: (2n ** 64n - 1n).toString(),
          latencyMs: 1,
        }),
      );
    }
    if (next >= opts.count) {
      clearInterval(timer);
      resolve();
    }
  }, opts.intervalMs);
});
clearInterval(watch);
await bus.close();
say({ done: true });
process.exit(0);
