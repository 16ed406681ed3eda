/**
 * Fault test: SIGKILL nats-server mid-stream and restart it on the same port,
 * while a publisher in its own process publishes at a steady rate. Every event
 * within the publish buffer's bound arrives; beyond it, published = delivered +
 * dropped holds exactly — including the events that were in the client's or
 * the kernel's buffers when the TCP connection died (the publisher re-sends
 * what the server had not acknowledged; the consumer drops the duplicates).
 *
 * Core NATS delivers only to subscriptions that exist when a message arrives,
 * and the consumer here is on the server that dies, so the publisher is paused
 * (SIGSTOP) while the server restarts and resumed (SIGCONT) once the consumer
 * has re-subscribed: the test measures the publisher's losses, not the
 * consumer's absence. (The cluster test covers a consumer that stays up.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Subscription } from '../../src/bus/bus.js';
import { NatsBus } from '../../src/bus/nats.js';
import { startNatsServer, startPublisher, type NatsServer, type PublisherLine, type PublisherProcess } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

/** Collect conn ids (= the publisher's event index) from a subscription, in arrival order. */
function collect(sub: Subscription): number[] {
  const ids: number[] = [];
  void (async () => {
    for await (const e of sub) if (e.type === 'ping.latency') ids.push(e.data.conn.id);
  })();
  return ids;
}

const num = (l: PublisherLine | undefined, k: string) => Number(l?.stats[k] ?? NaN);

interface Outcome {
  final: PublisherLine;
  ids: number[];
  consumer: ReturnType<NatsBus['stats']>;
}

/** One run: kill the server once the consumer has `killAfter` events, restart it once the publisher is `outage` deep. */
async function killAndRestart(options: {
  nodeId: string;
  count: number;
  publishBuffer: number;
  killAfter: number;
  /** Restart once the publisher's stats satisfy this while disconnected. */
  outage: (l: PublisherLine) => boolean;
}): Promise<Outcome> {
  let srv: NatsServer = await startNatsServer();
  let consumer: NatsBus | undefined;
  let pub: PublisherProcess | undefined;
  try {
    consumer = await NatsBus.connect({ servers: [srv.url], reconnectTimeWaitMs: 20 });
    const c = consumer;
    const ids = collect(c.subscribe({ nodeIds: [options.nodeId], maxQueue: 1_000_000 }));
    await c.drain();
    // 20 events every 1 ms (≈ 10,000–20,000 events/s): without acknowledgements this lost 20–40 events in 4 runs of 6.
    pub = startPublisher({
      servers: [srv.url],
      nodeId: options.nodeId,
      count: options.count,
      batch: 20,
      intervalMs: 1,
      publishBuffer: options.publishBuffer,
      reconnectTimeWaitMs: 100,
    });
    const p = pub;
    await until(() => ids.length >= options.killAfter, `${options.killAfter} events at the consumer`);
    await srv.stop('SIGKILL');
    await p.until((l) => l.state === 'disconnected', 'to notice the server is gone');
    await p.until((l) => l.stats.connected === false && options.outage(l), 'the outage to reach its depth');
    // Hold the publisher while the server comes back and the consumer re-subscribes.
    p.child.kill('SIGSTOP');
    srv = await srv.restart();
    await until(() => c.stats().connected && c.stats().reconnects === 1, 'the consumer to reconnect');
    await c.drain();
    p.child.kill('SIGCONT');
    const final = await p.until((l) => l.done === true, 'to finish', 30_000);
    assert.equal(await p.exited, 0);
    const delivered = num(final, 'published') - num(final, 'dropped');
    await until(() => ids.length >= delivered, `${delivered} events at the consumer`).catch(() => undefined);
    await c.drain();
    return { final, ids, consumer: c.stats() };
  } finally {
    await pub?.kill();
    await consumer?.close();
    await srv.stop('SIGKILL');
  }
}

function assertExact(o: Outcome, count: number): { dropped: number } {
  const s = o.final.stats;
  const published = Number(s.published);
  const dropped = Number(s.dropped);
  assert.equal(published, count);
  assert.deepEqual([s.buffered, s.inFlight], [0, 0], 'nothing left behind at close');
  assert.equal(published, Number(s.acked) + dropped, 'publisher: published = acked + dropped');
  assert.equal(o.ids.length, published - dropped, 'consumer: delivered = published - dropped');
  assert.equal(new Set(o.ids).size, o.ids.length, 'no duplicate reached the consumer');
  // Every id the publisher did not drop arrived: the dropped ones are one run published while the buffer was full.
  const sorted = [...o.ids].sort((a, b) => a - b);
  const missing: number[] = [];
  for (let i = 0, j = 0; i < count; i++) {
    if (sorted[j] === i) j++;
    else missing.push(i);
  }
  assert.equal(missing.length, dropped);
  if (dropped > 0) assert.equal(missing.at(-1)! - missing[0]! + 1, dropped, 'the dropped events are one contiguous run');
  assert.deepEqual(o.ids, sorted, 'in publish order');
  assert.equal(o.consumer.received, o.consumer.decoded + o.consumer.duplicates + o.consumer.rejected);
  return { dropped };
}

describe('NATS fault: SIGKILL nats-server mid-stream, restart on the same port', { timeout: 60_000 }, () => {
  it('within the buffer bound: every event arrives, exactly once, in order', async () => {
    const count = 30_000;
    const o = await killAndRestart({
      nodeId: 'fault-1',
      count,
      publishBuffer: 100_000,
      killAfter: 5000,
      outage: (l) => num(l, 'buffered') >= 3000,
    });
    const { dropped } = assertExact(o, count);
    assert.equal(dropped, 0);
    const s = o.final.stats;
    process.stdout.write(
      `# within bound: published=${s.published} acked=${s.acked} resent=${s.resent} dropped=${s.dropped} ` +
        `consumer received=${o.consumer.received} duplicates=${o.consumer.duplicates}\n`,
    );
  });

  it('beyond the buffer bound: published = delivered + dropped, exactly', async () => {
    const count = 30_000;
    const o = await killAndRestart({
      nodeId: 'fault-2',
      count,
      publishBuffer: 2000,
      killAfter: 5000,
      outage: (l) => num(l, 'dropped') >= 3000,
    });
    const { dropped } = assertExact(o, count);
    assert.ok(dropped >= 3000);
    const s = o.final.stats;
    process.stdout.write(
      `# beyond bound: published=${s.published} acked=${s.acked} resent=${s.resent} dropped=${s.dropped} ` +
        `consumer received=${o.consumer.received} duplicates=${o.consumer.duplicates}\n`,
    );
  });
});
