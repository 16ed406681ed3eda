import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, headers } from '@nats-io/transport-node';
import { makeEvent } from '../../src/events/envelope.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { NatsBus } from '../../src/bus/nats.js';
import { packEvents } from '../../src/events/packed.js';
import { subjectsFor } from '../../src/bus/subjects.js';
import type { Subscription } from '../../src/bus/bus.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

function ping(nodeId: string, i: number): ObserverEvent {
  return makeEvent({ nodeId, source: 'test' }, 'ping.latency', {
    conn: { id: i, direction: 'inbound', remote: '127.0.0.9:1000' },
    nonce: (2n ** 64n - 1n - BigInt(i)).toString(),
    latencyMs: i / 1000,
  });
}

function violation(nodeId: string, i: number): ObserverEvent {
  return makeEvent({ nodeId, source: 'test' }, 'violation', {
    conn: { id: i, direction: 'inbound', remote: '127.0.0.9:1000' },
    kind: 'bad-checksum',
    action: 'drop-message',
    detail: `case ${i}`,
  });
}

/** Take n events without ending the subscription (a `break` in for-await would end it). */
async function take(sub: Subscription, n: number, timeoutMs = 10_000): Promise<ObserverEvent[]> {
  const it = sub[Symbol.asyncIterator]();
  const out: ObserverEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const left = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, left)))),
    ]);
    clearTimeout(timer);
    if (r === 'timeout' || r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('NATS bus (real nats-server)', { timeout: 60_000 }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await server.stop();
  });

  it('delivers every event of three observers to one consumer, exactly, tagged and in order', async () => {
    const consumer = await NatsBus.connect({ servers: [server.url] });
    const sub = consumer.subscribe();
    const publishers = await Promise.all(['obs-1', 'obs-2', 'obs.3'].map(() => NatsBus.connect({ servers: [server.url] })));
    await consumer.drain(); // the subscription is registered on the server
    const perNode = 2000;
    const received = take(sub, 3 * perNode);
    ['obs-1', 'obs-2', 'obs.3'].forEach((node, k) => {
      for (let i = 0; i < perNode; i++) publishers[k]!.publish(ping(node, i));
    });
    await Promise.all(publishers.map((p) => p.drain()));
    const events = await received;
    assert.equal(events.length, 3 * perNode);
    for (const node of ['obs-1', 'obs-2', 'obs.3']) {
      const mine = events.filter((e) => e.nodeId === node);
      assert.equal(mine.length, perNode, node);
      assert.deepEqual(
        mine.map((e) => e.type === 'ping.latency' && e.data.conn.id),
        Array.from({ length: perNode }, (_, i) => i),
        `${node}: in order`,
      );
      const last = mine.at(-1)!;
      assert.equal(last.type === 'ping.latency' && last.data.nonce, (2n ** 64n - 1n - BigInt(perNode - 1)).toString(), '64-bit exact');
    }
    const s = consumer.stats();
    assert.deepEqual([s.received, s.decoded, s.rejected], [3 * perNode, 3 * perNode, 0]);
    for (const p of publishers) assert.deepEqual([p.stats().published, p.stats().sent, p.stats().dropped], [perNode, perNode, 0]);
    await Promise.all([...publishers, consumer].map((b) => b.close()));
  });

  it('filters by type and node on the server', async () => {
    assert.deepEqual(subjectsFor({ types: ['violation'], nodeIds: ['fra.1'] }), ['po.v1.fra~1.violation']);
    const consumer = await NatsBus.connect({ servers: [server.url] });
    const sub = consumer.subscribe({ types: ['violation'], nodeIds: ['obs-2'] });
    const pub = await NatsBus.connect({ servers: [server.url] });
    await consumer.drain();
    for (let i = 0; i < 50; i++) {
      pub.publish(ping('obs-2', i));
      pub.publish(violation('obs-1', i));
      pub.publish(violation('obs-2', i));
    }
    await pub.drain();
    const got = await take(sub, 50);
    assert.ok(got.every((e) => e.type === 'violation' && e.nodeId === 'obs-2'));
    await pub.close();
    await consumer.drain();
    assert.equal(consumer.stats().received, 50, 'nothing else crossed the wire to this consumer');
    await consumer.close();
  });

  it('counts and drops messages that are not valid events', async () => {
    const consumer = await NatsBus.connect({ servers: [server.url] });
    const sub = consumer.subscribe();
    await consumer.drain();
    const raw = await connect({ servers: server.url });
    raw.publish('po.v1.evil.message', new TextEncoder().encode('{"v":1,"type":"message"}'));
    raw.publish('po.v1.evil.message', new Uint8Array([0xff, 0x00]));
    raw.publish('po.v1.good.ping.latency', new TextEncoder().encode(JSON.stringify(ping('good', 1))));
    await raw.flush();
    const [e] = await take(sub, 1);
    assert.equal(e!.nodeId, 'good');
    const s = consumer.stats();
    assert.deepEqual([s.received, s.decoded, s.rejected], [3, 1, 2]);
    assert.match(s.lastError ?? '', /rejected message on po\.v1\.evil\.message/);
    await raw.close();
    await consumer.close();
  });

  for (const encoding of ['msgpack', 'json'] as const)
    it(`batches small events (${encoding}), sends a 4 MB raw payload alone, and drops (counted, explained) what a server refuses`, async () => {
      const big = (nodeId: string) =>
        makeEvent({ nodeId, source: 'test' }, 'message', {
          conn: { id: 1, direction: 'inbound', remote: '127.0.0.9:1000' },
          dir: 'in',
          command: 'block',
          size: 4_000_000,
          known: true,
          payload: null,
          raw: 'A'.repeat(Math.ceil(4_000_000 / 3) * 4),
        });
      // The default test server has max_payload 8 MB (as docs/bus.md says to configure it).
      const consumer = await NatsBus.connect({ servers: [server.url] });
      const sub = consumer.subscribe({ nodeIds: ['big-1'] });
      const pub = await NatsBus.connect({ servers: [server.url], encoding });
      await consumer.drain();
      for (let i = 0; i < 500; i++) pub.publish(ping('big-1', i));
      pub.publish(big('big-1'));
      for (let i = 500; i < 1000; i++) pub.publish(ping('big-1', i));
      await pub.drain();
      const got = await take(sub, 1001, 20_000);
      assert.equal(got.length, 1001);
      assert.deepEqual(
        got.map((e) => e.type),
        [...Array(500).fill('ping.latency'), 'message', ...Array(500).fill('ping.latency')],
        'in order',
      );
      assert.equal(got[500]!.type === 'message' && got[500]!.data.raw!.length, 5_333_336);
      let s = pub.stats();
      assert.deepEqual([s.published, s.acked, s.dropped], [1001, 1001, 0]);
      const c = consumer.stats();
      assert.deepEqual([c.received, c.decoded, c.rejected, c.duplicates], [1001, 1001, 0, 0]);
      await pub.close();
      await consumer.close();

      // A server left at nats-server's default 1 MB: the big event is refused, counted and explained; the rest goes through.
      const small = await startNatsServer({ maxPayload: 1024 * 1024 });
      try {
        const c2 = await NatsBus.connect({ servers: [small.url] });
        const sub2 = c2.subscribe();
        const p2 = await NatsBus.connect({ servers: [small.url], encoding });
        await c2.drain();
        p2.publish(ping('big-2', 0));
        p2.publish(big('big-2'));
        p2.publish(ping('big-2', 1));
        await p2.drain();
        assert.deepEqual(
          (await take(sub2, 2)).map((e) => e.type === 'ping.latency' && e.data.conn.id),
          [0, 1],
        );
        s = p2.stats();
        assert.deepEqual([s.published, s.acked, s.dropped, s.buffered, s.inFlight], [3, 2, 1, 0, 0]);
        assert.match(s.lastError ?? '', /message event of 5333\d+ bytes over the server's max_payload 1048576/);
        await p2.close();
        await c2.close();
      } finally {
        await small.stop();
      }
    });

  it('splits a batch whose estimate fell short of what the server takes, in order, and drops only an event over the limit alone', async () => {
    // pipeline.counters events are estimated at a fixed 256 bytes; these carry ~20 KB of counters each.
    const counters = (i: number, names: number) =>
      makeEvent({ nodeId: 'split-1', source: 'test' }, 'pipeline.counters', {
        stage: `stage-${i}`,
        counters: Object.fromEntries(Array.from({ length: names }, (_, k) => [`a-rather-long-counter-name-${k}`, k])),
      });
    const small = await startNatsServer({ maxPayload: 64 * 1024 });
    try {
      const consumer = await NatsBus.connect({ servers: [small.url] });
      const sub = consumer.subscribe({ nodeIds: ['split-1'] });
      const pub = await NatsBus.connect({ servers: [small.url] });
      await consumer.drain();
      for (let i = 0; i < 10; i++) pub.publish(counters(i, 600));
      pub.publish(counters(10, 5000)); // ~190 KB alone: over the server's 64 KiB
      pub.publish(counters(11, 600));
      await pub.drain();
      const got = await take(sub, 11);
      assert.deepEqual(
        got.map((e) => e.type === 'pipeline.counters' && e.data.stage),
        [...Array.from({ length: 10 }, (_, i) => `stage-${i}`), 'stage-11'],
      );
      const s = pub.stats();
      assert.deepEqual([s.published, s.acked, s.dropped, s.buffered, s.inFlight], [12, 11, 1, 0, 0]);
      assert.match(s.lastError ?? '', /pipeline\.counters event of \d+ bytes over the server's max_payload 65536/);
      assert.deepEqual([consumer.stats().decoded, consumer.stats().rejected], [11, 0]);
      await pub.close();
      await consumer.close();
    } finally {
      await small.stop();
    }
  });

  it('reads wire format v1 batches exactly: dedupe per event, malformed batches counted', async () => {
    const consumer = await NatsBus.connect({ servers: [server.url] });
    const sub = consumer.subscribe({ nodeIds: ['raw-1'] });
    await consumer.drain();
    const raw = await connect({ servers: server.url });
    const send = (batch: string, id: string, lines: string[]) => {
      const h = headers();
      h.set('Po-Batch', batch);
      h.set('Nats-Msg-Id', id);
      raw.publish('po.v1.raw-1.ping.latency', new TextEncoder().encode(lines.join('\n')), { headers: h });
    };
    const j = (i: number) => JSON.stringify(ping('raw-1', i));
    send('v1 3', 'P.1', [j(1), j(2), j(3)]);
    send('v1 3', 'P.1', [j(1), j(2), j(3)]); // a re-send: all three duplicates
    send('v1 2', 'P.3', [j(3), j(4)]); // overlaps by one
    send('v1 2', 'P.9', [j(9)]); // line count ≠ count
    send('v3 1', 'P.20', [j(20)]); // a format this version does not read
    send('v1 2', 'P.30', [j(30), '{"v":1}']); // one bad event in a batch
    await raw.flush();
    const got = await take(sub, 5);
    assert.deepEqual(
      got.map((e) => e.type === 'ping.latency' && e.data.conn.id),
      [1, 2, 3, 4, 30],
    );
    await consumer.drain();
    const s = consumer.stats();
    assert.deepEqual([s.received, s.duplicates, s.decoded, s.rejected], [3 + 3 + 2 + 1 + 1 + 2, 4, 5, 3]);
    await raw.close();
    await consumer.close();
  });

  it('reads wire format v2 (MessagePack) batches exactly: dedupe per event, malformed batches counted', async () => {
    const consumer = await NatsBus.connect({ servers: [server.url] });
    const sub = consumer.subscribe({ nodeIds: ['raw-2'] });
    await consumer.drain();
    const raw = await connect({ servers: server.url });
    const send = (batch: string, id: string, data: Uint8Array) => {
      const h = headers();
      h.set('Po-Batch', batch);
      h.set('Nats-Msg-Id', id);
      raw.publish('po.v1.raw-2.ping.latency', data, { headers: h });
    };
    const p = (...ids: number[]) => packEvents(ids.map((i) => ping('raw-2', i)));
    send('v2 3', 'P.1', p(1, 2, 3));
    send('v2 3', 'P.1', p(1, 2, 3)); // a re-send: all three duplicates
    send('v2 2', 'P.3', p(3, 4)); // overlaps by one
    send('v2 2', 'P.9', p(9)); // item count ≠ count
    send('v2 1', 'P.20', new TextEncoder().encode(JSON.stringify(ping('raw-2', 20)))); // JSON where MessagePack is announced
    send('v2 1', 'P.21', p(21).subarray(0, 10)); // truncated
    const bad = { ...ping('raw-2', 31), data: { conn: { id: 31 } } } as unknown as ObserverEvent;
    send('v2 2', 'P.30', packEvents([ping('raw-2', 30), bad])); // one bad event in a batch
    await raw.flush();
    const got = await take(sub, 5);
    assert.deepEqual(
      got.map((e) => e.type === 'ping.latency' && e.data.conn.id),
      [1, 2, 3, 4, 30],
    );
    await consumer.drain();
    const s = consumer.stats();
    assert.deepEqual([s.received, s.duplicates, s.decoded, s.rejected], [3 + 3 + 2 + 1 + 1 + 1 + 2, 4, 5, 4]);
    assert.match(s.lastError ?? '', /rejected message on po\.v1\.raw-2\.ping\.latency/);
    await raw.close();
    await consumer.close();
  });

  it('buffers while the server is down, delivers what fits on reconnect, and counts the rest exactly', async () => {
    let srv = await startNatsServer();
    try {
      const bus = await NatsBus.connect({ servers: [srv.url], publishBuffer: 300, reconnectTimeWaitMs: 50 });
      const sub = bus.subscribe({ types: ['ping.latency'] });
      await bus.drain();
      for (let i = 0; i < 100; i++) bus.publish(ping('obs-1', i));
      assert.equal((await take(sub, 100)).length, 100);
      // Received is not yet acknowledged (the PONG may still be on its way): wait for it, so the buffer is empty.
      await bus.drain();

      await srv.stop('SIGKILL');
      await until(() => !bus.stats().connected, 'the client to notice the server is gone');
      for (let i = 100; i < 600; i++) bus.publish(ping('obs-1', i));
      let s = bus.stats();
      assert.deepEqual([s.buffered, s.dropped], [300, 200]);

      srv = await srv.restart();
      const got = await take(sub, 300, 15_000);
      assert.deepEqual(
        got.map((e) => e.type === 'ping.latency' && e.data.conn.id),
        Array.from({ length: 300 }, (_, i) => 100 + i),
        'the first 300 published while down, in order',
      );
      s = bus.stats();
      assert.equal(s.published, s.sent + s.buffered + s.dropped);
      assert.deepEqual([s.published, s.sent, s.buffered, s.dropped, s.reconnects], [600, 400, 0, 200, 1]);
      await bus.close();
    } finally {
      await srv.stop('SIGKILL');
    }
  });
});
