import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmbeddedBus, busCounters } from '../../src/bus/embedded.js';
import { makeEvent, type ObserverEvent } from '../../src/events/index.js';

const origin = { nodeId: 'test', source: 'p2p' };
const conn = { id: 1, direction: 'inbound' as const, remote: '127.0.0.2:50000' };

function ping(n: number): ObserverEvent {
  return makeEvent(origin, 'ping.latency', { conn, nonce: String(n), latencyMs: n });
}

function counters(n: number): ObserverEvent {
  return makeEvent(origin, 'pipeline.counters', { stage: 'test', counters: { n } });
}

async function take(sub: AsyncIterable<ObserverEvent>, n: number): Promise<ObserverEvent[]> {
  const out: ObserverEvent[] = [];
  if (n === 0) return out;
  for await (const e of sub) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

describe('EmbeddedBus', () => {
  it('delivers in order to every matching subscriber', async () => {
    const bus = new EmbeddedBus();
    const a = bus.subscribe();
    const b = bus.subscribe();
    for (let i = 0; i < 5; i++) bus.publish(ping(i));
    const [ea, eb] = await Promise.all([take(a, 5), take(b, 5)]);
    assert.deepEqual(
      ea.map((e) => (e.type === 'ping.latency' ? e.data.nonce : '')),
      ['0', '1', '2', '3', '4'],
    );
    assert.deepEqual(eb, ea);
    await bus.close();
  });

  it('filters by type at subscribe time', async () => {
    const bus = new EmbeddedBus();
    const pings = bus.subscribe({ types: ['ping.latency'] });
    const counts = bus.subscribe({ types: ['pipeline.counters'] });
    bus.publish(ping(1));
    bus.publish(counters(2));
    bus.publish(ping(3));
    const closing = bus.close();
    const p: string[] = [];
    for await (const e of pings) p.push(e.type);
    const c: string[] = [];
    for await (const e of counts) c.push(e.type);
    await closing;
    assert.deepEqual(p, ['ping.latency', 'ping.latency']);
    assert.deepEqual(c, ['pipeline.counters']);
  });

  it('rejects unknown types and bad queue bounds', () => {
    const bus = new EmbeddedBus();
    assert.throws(() => bus.subscribe({ types: ['nope' as never] }), /unknown event type/);
    assert.throws(() => bus.subscribe({ maxQueue: 0 }), /maxQueue/);
    assert.throws(() => new EmbeddedBus({ maxQueue: 1.5 }), /maxQueue/);
  });

  it('publish never blocks: a full queue drops and counts', async () => {
    const bus = new EmbeddedBus();
    const slow = bus.subscribe({ maxQueue: 3 });
    const fast = bus.subscribe({ maxQueue: 100 });
    for (let i = 0; i < 10; i++) bus.publish(ping(i));
    assert.equal(slow.dropped, 7);
    assert.equal(fast.dropped, 0);
    const s = bus.stats();
    assert.equal(s.published, 10);
    assert.equal(s.dropped, 7);
    assert.equal(s.queued, 13);
    const it = slow[Symbol.asyncIterator]();
    const got = [(await it.next()).value, (await it.next()).value, (await it.next()).value] as ObserverEvent[];
    assert.deepEqual(
      got.map((e) => (e.type === 'ping.latency' ? e.data.nonce : '')),
      ['0', '1', '2'],
    );
    assert.equal(slow.received, 3);
    await take(fast, 10);
    assert.equal(bus.stats().delivered, 13);
    const flat = busCounters(bus.stats());
    assert.equal(flat.dropped, 7);
    assert.equal(flat['sub1.dropped'], 7);
    await bus.close();
    assert.equal((await it.next()).done, true);
  });

  it('uses the bus-wide default bound', () => {
    const bus = new EmbeddedBus({ maxQueue: 2 });
    const sub = bus.subscribe();
    for (let i = 0; i < 5; i++) bus.publish(ping(i));
    assert.equal(sub.dropped, 3);
    assert.equal(bus.stats().subscribers[0]?.maxQueue, 2);
  });

  it('wakes a waiting iterator without queueing', async () => {
    const bus = new EmbeddedBus();
    const sub = bus.subscribe();
    const pending = take(sub, 1);
    await new Promise((r) => setImmediate(r));
    bus.publish(ping(42));
    const [e] = await pending;
    assert.equal(e?.type, 'ping.latency');
    assert.equal(bus.stats().queued, 0);
  });

  it('drain waits until every subscriber took its queue', async () => {
    const bus = new EmbeddedBus();
    const sub = bus.subscribe();
    for (let i = 0; i < 3; i++) bus.publish(ping(i));
    let drained = false;
    const d = bus.drain().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(drained, false);
    await take(sub, 3);
    await d;
    assert.equal(drained, true);
  });

  it('close delivers what is queued, then ends iterators; later publishes are counted as rejected', async () => {
    const bus = new EmbeddedBus();
    const sub = bus.subscribe();
    bus.publish(ping(1));
    bus.publish(ping(2));
    const closing = bus.close();
    bus.publish(ping(3));
    const got: ObserverEvent[] = [];
    for await (const e of sub) got.push(e);
    await closing;
    await sub.closed;
    assert.equal(got.length, 2);
    assert.equal(bus.stats().rejected, 1);
    // Subscribing to a closed bus gives an iterator that ends at once.
    const late = bus.subscribe();
    assert.deepEqual(await take(late, 0), []);
    for await (const _ of late) assert.fail('no events after close');
  });

  it('unsubscribe ends the iterator, resolves closed and counts what it discarded', async () => {
    const bus = new EmbeddedBus();
    const sub = bus.subscribe();
    const other = bus.subscribe();
    bus.publish(ping(1));
    sub.unsubscribe();
    await sub.closed;
    const r = await sub[Symbol.asyncIterator]().next();
    assert.equal(r.done, true);
    bus.publish(ping(2));
    const s = bus.stats();
    assert.equal(s.subscribers.length, 1);
    assert.equal(s.discarded, 1);
    assert.equal((await take(other, 2)).length, 2);
  });

  it('break in for-await unsubscribes', async () => {
    const bus = new EmbeddedBus();
    const sub = bus.subscribe();
    bus.publish(ping(1));
    bus.publish(ping(2));
    await take(sub, 1);
    await sub.closed;
    assert.equal(bus.stats().subscribers.length, 0);
    assert.equal(bus.stats().delivered, 1);
  });

  it('keeps up with 200,000 events and stays within its bound', async () => {
    const bus = new EmbeddedBus({ maxQueue: 1000 });
    const sub = bus.subscribe();
    let n = 0;
    const consumer = (async () => {
      for await (const _ of sub) n++;
    })();
    const e = ping(0);
    for (let i = 0; i < 200_000; i++) {
      bus.publish(e);
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    await bus.close();
    await consumer;
    assert.equal(n + sub.dropped, 200_000);
    assert.ok(n > 0);
  });
});

describe('embedded bus: memory bound per subscriber', () => {
  const addr = (n: number): ObserverEvent =>
    makeEvent(origin, 'message', {
      conn,
      dir: 'in',
      command: 'addr',
      size: 30_003,
      known: true,
      payload: { count: 1000 + n, entries: [] },
    });

  it('drops (and counts) large events beyond the estimated bytes, whatever the count bound', async () => {
    const bus = new EmbeddedBus();
    // Each 1000-entry addr event is estimated at 512 + 4 × 30,003 bytes: 4 fit in 500 kB.
    const sub = bus.subscribe({ types: ['message', 'ping.latency'], maxQueue: 100_000, maxQueueBytes: 500_000 });
    for (let i = 0; i < 10; i++) bus.publish(addr(i));
    assert.equal(sub.dropped, 6);
    const s = bus.stats().subscribers[0]!;
    assert.equal(s.queued, 4);
    assert.equal(s.queuedBytes, 4 * (512 + 4 * 30_003));
    // Small events still fit beside them, and taking events frees their bytes.
    bus.publish(ping(1));
    assert.equal(sub.dropped, 6);
    const it = sub[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) await it.next();
    assert.equal(bus.stats().subscribers[0]!.queuedBytes, 0);
    assert.equal(bus.stats().published, 11);
    assert.equal(bus.stats().delivered + bus.stats().dropped, 11, 'nothing lost silently');
    await bus.close();
  });

  it('an empty queue always takes one event, however large', () => {
    const bus = new EmbeddedBus();
    const sub = bus.subscribe({ maxQueueBytes: 1000 });
    bus.publish(addr(0));
    assert.equal(sub.dropped, 0);
    bus.publish(addr(1));
    assert.equal(sub.dropped, 1);
  });
});
