/**
 * A three-server NATS cluster on loopback (full mesh of routes). Publishers are
 * their own processes (test/helpers/nats-publisher.ts, a NatsBus at a steady
 * rate); consumers are NatsBus instances in this process. Counts are exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import type { Subscription } from '../../src/bus/bus.js';
import { NatsBus } from '../../src/bus/nats.js';
import { makeEvent } from '../../src/events/envelope.js';
import { encodeEvent } from '../../src/events/wire.js';
import { startCluster, startPublisher, type NatsServer, type PublisherLine, type PublisherProcess } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

/** conn ids (= publisher event index) per node id, in arrival order. */
function collect(sub: Subscription): Map<string, number[]> {
  const byNode = new Map<string, number[]>();
  void (async () => {
    for await (const e of sub) {
      if (e.type !== 'ping.latency') continue;
      let ids = byNode.get(e.nodeId);
      if (!ids) byNode.set(e.nodeId, (ids = []));
      ids.push(e.data.conn.id);
    }
  })();
  return byNode;
}

const got = (m: Map<string, number[]>, node: string) => m.get(node)?.length ?? 0;

/** Publish probe events on each server until the consumer has one from each: routes and interest are in place. */
async function probe(servers: NatsServer[], seen: Map<string, number[]>): Promise<void> {
  const ncs = await Promise.all(servers.map((s) => connect({ servers: s.url })));
  try {
    const deadline = Date.now() + 15_000;
    for (let round = 0; servers.some((_, i) => got(seen, `probe-${i}`) === 0); round++) {
      if (Date.now() > deadline) throw new Error('the cluster did not form');
      ncs.forEach((nc, i) => {
        const e = makeEvent({ nodeId: `probe-${i}`, source: 'test' }, 'ping.latency', {
          conn: { id: round, direction: 'inbound', remote: '127.0.0.9:1' },
          nonce: '0',
          latencyMs: 0,
        });
        nc.publish(`po.v1.probe-${i}.ping.latency`, encodeEvent(e));
      });
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await Promise.all(ncs.map((nc) => nc.close()));
  }
}

/** Every id 0..count-1 exactly once, in order. */
function assertAll(ids: number[] | undefined, count: number, what: string): void {
  assert.equal(ids?.length, count, `${what}: count`);
  for (let i = 0; i < count; i++) if (ids[i] !== i) assert.fail(`${what}: event ${i} is ${ids[i]}`);
}

function assertClean(final: PublisherLine, count: number, reconnects: number): void {
  const s = final.stats;
  assert.deepEqual(
    [s.published, s.acked, s.dropped, s.buffered, s.inFlight, s.reconnects],
    [count, count, 0, 0, 0, reconnects],
    JSON.stringify(s),
  );
}

describe('NATS cluster: three servers joined by routes', { timeout: 60_000 }, () => {
  it('publishers on A, consumer on C: every event arrives; killing B mid-stream loses nothing', async () => {
    const [a, b, c] = await startCluster(3);
    const pubs: PublisherProcess[] = [];
    let consumer: NatsBus | undefined;
    try {
      consumer = await NatsBus.connect({ servers: [c!.url] });
      const seen = collect(consumer.subscribe({ maxQueue: 1_000_000 }));
      await consumer.drain();
      await probe([a!, b!], seen);

      // Two publisher processes on A, 20,000 events each at ≈ 10,000/s each.
      const count = 20_000;
      const start = (node: string) => {
        const p = startPublisher({ servers: [a!.url], nodeId: node, count, batch: 20, intervalMs: 2 });
        pubs.push(p);
        return p;
      };
      const first = [start('pub-1'), start('pub-2')];
      const firstDone = await Promise.all(first.map((p) => p.until((l) => l.done === true, 'done')));
      await until(() => got(seen, 'pub-1') + got(seen, 'pub-2') >= 2 * count, 'every event at C');
      for (const [k, node] of ['pub-1', 'pub-2'].entries()) {
        assertClean(firstDone[k]!, count, 0);
        assertAll(seen.get(node), count, node);
      }

      // Again, and SIGKILL B (neither client's server) once the stream is under way.
      const second = [start('pub-3'), start('pub-4')];
      await until(() => got(seen, 'pub-3') >= 5000 && got(seen, 'pub-4') >= 5000, 'the second stream under way');
      await b!.stop('SIGKILL');
      const secondDone = await Promise.all(second.map((p) => p.until((l) => l.done === true, 'done')));
      await until(() => got(seen, 'pub-3') + got(seen, 'pub-4') >= 2 * count, 'every event at C');
      await consumer.drain();
      for (const [k, node] of ['pub-3', 'pub-4'].entries()) {
        assertClean(secondDone[k]!, count, 0);
        assertAll(seen.get(node), count, node);
      }
      const s = consumer.stats();
      assert.deepEqual([s.reconnects, s.rejected, s.duplicates, s.subscriberDropped], [0, 0, 0, 0]);
    } finally {
      await Promise.all(pubs.map((p) => p.kill()));
      await consumer?.close();
      await Promise.all([a, b, c].map((s) => s!.stop('SIGKILL')));
    }
  });

  it('a publisher given two servers fails over when its server dies: nothing lost, re-sends de-duplicated', async () => {
    const [a, b, c] = await startCluster(3);
    let pub: PublisherProcess | undefined;
    let consumer: NatsBus | undefined;
    try {
      consumer = await NatsBus.connect({ servers: [c!.url] });
      const seen = collect(consumer.subscribe({ maxQueue: 1_000_000 }));
      await consumer.drain();
      await probe([a!, b!], seen);

      const count = 30_000;
      pub = startPublisher({
        servers: [a!.url, b!.url],
        nodeId: 'pub-f',
        count,
        batch: 20,
        intervalMs: 1,
        reconnectTimeWaitMs: 50,
      });
      const first = await pub.until((l) => typeof l.stats.server === 'string', 'connected');
      const on = [a!, b!].find((s) => first.stats.server === `127.0.0.1:${s.port}`);
      assert.ok(on, `publisher on ${first.stats.server}`);
      await until(() => got(seen, 'pub-f') >= 5000, 'the stream under way');
      await on.stop('SIGKILL');
      const done = await pub.until((l) => l.done === true, 'done', 30_000);
      await until(() => got(seen, 'pub-f') >= count, 'every event at C');
      await consumer.drain();
      assertClean(done, count, 1);
      assertAll(seen.get('pub-f'), count, 'pub-f');
      const s = consumer.stats();
      assert.equal(s.received, s.decoded + s.duplicates + s.rejected);
      process.stdout.write(`# publisher fail-over: resent=${done.stats.resent} consumer duplicates=${s.duplicates} (dropped as such)\n`);
    } finally {
      await pub?.kill();
      await consumer?.close();
      await Promise.all([a, b, c].map((srv) => srv!.stop('SIGKILL')));
    }
  });

  it('a consumer given two servers fails over when its server dies: it misses only what was published while it re-subscribed', async () => {
    const [a, b, c] = await startCluster(3);
    let pub: PublisherProcess | undefined;
    const buses: NatsBus[] = [];
    try {
      const roaming = await NatsBus.connect({ servers: [b!.url, c!.url], reconnectTimeWaitMs: 50 });
      buses.push(roaming);
      const on = [b!, c!].find((s) => roaming.stats().server === `127.0.0.1:${s.port}`)!;
      const other = on === b ? c! : b!;
      // A reference consumer on the server that stays up.
      const pinned = await NatsBus.connect({ servers: [other.url] });
      buses.push(pinned);
      const seenRoaming = collect(roaming.subscribe({ maxQueue: 1_000_000 }));
      const seenPinned = collect(pinned.subscribe({ maxQueue: 1_000_000 }));
      await Promise.all(buses.map((x) => x.drain()));
      await probe([a!], seenRoaming);
      await probe([a!], seenPinned);

      const count = 30_000;
      pub = startPublisher({ servers: [a!.url], nodeId: 'pub-c', count, batch: 20, intervalMs: 1 });
      await until(() => got(seenRoaming, 'pub-c') >= 5000, 'the stream under way');
      await on.stop('SIGKILL');
      const done = await pub.until((l) => l.done === true, 'done', 30_000);
      await until(() => got(seenPinned, 'pub-c') >= count, 'every event at the pinned consumer');
      await until(() => seenRoaming.get('pub-c')?.at(-1) === count - 1, 'the last event at the roaming consumer');
      assertClean(done, count, 0);
      assertAll(seenPinned.get('pub-c'), count, 'pinned consumer');

      const ids = seenRoaming.get('pub-c')!;
      const s = roaming.stats();
      assert.equal(s.reconnects, 1);
      assert.equal(new Set(ids).size, ids.length, 'no duplicates');
      assert.deepEqual(
        ids,
        [...ids].sort((x, y) => x - y),
        'in order',
      );
      // One gap: what was published between the server's death and the re-subscription on the other.
      const gaps = ids.slice(1).filter((id, i) => id !== ids[i]! + 1).length;
      assert.ok(gaps <= 1, `${gaps} gaps`);
      assert.equal(ids[0], 0);
      const lost = count - ids.length;
      process.stdout.write(`# consumer fail-over: missed ${lost} of ${count} events (one gap) while re-subscribing\n`);
    } finally {
      await pub?.kill();
      await Promise.all(buses.map((x) => x.close()));
      await Promise.all([a, b, c].map((srv) => srv!.stop('SIGKILL')));
    }
  });
});
