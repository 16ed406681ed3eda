/**
 * Folding (src/consumers/archive/fold.ts) and expanding (aggregates.ts) without a bus: the token bucket, when an
 * aggregate closes, exact totals, the order kept around a connection's close, the bounds, and an aggregate expanded
 * back into exactly its events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAggregate, expandAggregate } from '../../src/consumers/archive/aggregates.js';
import { FOLD_BURST_SECONDS, FOLD_MAX_STREAMS, Folder, type Aggregate, type Folded } from '../../src/consumers/archive/fold.js';
import { makeEvent } from '../../src/events/envelope.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { T0_US, message } from './events.js';

function run(folder: Folder, events: ObserverEvent[]): Folded[] {
  const out: Folded[] = [];
  for (const e of events) folder.push(e, out);
  folder.flushAll(out);
  return out;
}

/** Events in = events stored whole + the counts of the aggregates. */
function total(out: Folded[]): number {
  return out.reduce((n, f) => n + ('event' in f ? 1 : f.aggregate.count), 0);
}

const aggregates = (out: Folded[]) => out.filter((f): f is Aggregate => 'aggregate' in f);

describe('fold', () => {
  it('stores a stream whole within its bucket; past it, folds into aggregates with exact totals', () => {
    const rate = 10;
    // 5000 pings in 5 s (1000/s) from one connection.
    const events = Array.from({ length: 5000 }, (_, i) => message(i, { timeUs: T0_US + i * 1000 }));
    const out = run(new Folder(rate), events);
    assert.equal(total(out), 5000);
    const whole = out.filter((f) => 'event' in f).length;
    // The burst, plus the refill over 5 s (give or take the one in progress when an aggregate closes).
    assert.ok(whole >= rate * FOLD_BURST_SECONDS && whole <= rate * FOLD_BURST_SECONDS + rate * 5 + 1, String(whole));
    const aggs = aggregates(out);
    // Each closes once it spans a second (and holds ten events): about one per second.
    assert.ok(aggs.length >= 4 && aggs.length <= 6, String(aggs.length));
    for (const a of aggs) {
      assert.equal(a.aggregate.bytes, a.aggregate.count * 8);
      assert.deepEqual(a.sample.timeUs, a.aggregate.firstUs);
      assert.ok(a.aggregate.lastUs - a.aggregate.firstUs < 1_100_000);
    }
    // Rows stay in time order: each row's time is after the one before.
    const times = out.map((f) => ('event' in f ? f.event.timeUs : f.aggregate.firstUs));
    assert.deepEqual(
      times,
      [...times].sort((x, y) => x - y),
    );
  });

  it('a big message costs a token per KiB: an addr of 1000 entries is folded sooner; entries are summed', () => {
    const addr = (i: number) => {
      const e = message(i, { command: 'addr', timeUs: T0_US + i * 1000 });
      const d = e.data as { size: number; payload: unknown };
      d.size = 30_003;
      d.payload = { count: 1000, entries: [] };
      return e;
    };
    const out = run(
      new Folder(10),
      Array.from({ length: 100 }, (_, i) => addr(i)),
    );
    assert.equal(out.filter((f) => 'event' in f).length, 6); // 200 tokens, 30.3 each
    const a = aggregates(out);
    assert.equal(
      a.reduce((n, x) => n + x.aggregate.items, 0),
      94_000,
    );
    assert.equal(
      a.reduce((n, x) => n + x.aggregate.bytes, 0),
      94 * 30_003,
    );
  });

  it("a connection's close writes its open aggregates first; --fold-rate 0 never folds", () => {
    const events = Array.from({ length: 1000 }, (_, i) => message(i, { timeUs: T0_US + i }));
    const closed = makeEvent(
      { nodeId: 'node-a', source: 'p2p' },
      'connection.closed',
      {
        conn: { id: 1, direction: 'inbound', remote: '198.51.100.4:50412' },
        network: 'regtest',
        netgroup: '198.51',
        reason: 'peer-closed',
        detail: '',
        durationMs: 1,
        handshakeComplete: true,
        bytesIn: 0,
        bytesOut: 0,
        messagesIn: 1000,
        messagesOut: 0,
      },
      T0_US + 2000,
    );
    const out: Folded[] = [];
    const folder = new Folder(10);
    for (const e of [...events, closed]) folder.push(e, out);
    assert.equal(folder.open, 0);
    assert.ok('aggregate' in out.at(-2)!);
    assert.equal((out.at(-1) as { event: ObserverEvent }).event, closed);
    assert.equal(total(out), 1001);
    const none = run(new Folder(0), events);
    assert.equal(none.length, 1000);
    assert.ok(none.every((f) => 'event' in f));
  });

  it('bounded: at most FOLD_MAX_STREAMS streams (an attacker inventing commands), nothing lost', () => {
    const folder = new Folder(1);
    const out: Folded[] = [];
    let n = 0;
    for (let c = 0; c < FOLD_MAX_STREAMS + 100; c++) {
      // Each invented command: a burst's worth (20) whole, then 5 folded.
      for (let i = 0; i < 25; i++) folder.push(message(n++, { command: `x${c}`, timeUs: T0_US + n }), out);
    }
    assert.ok(folder.size <= FOLD_MAX_STREAMS);
    assert.ok(aggregates(out).length >= 100, 'the streams forgotten first had their aggregates written');
    folder.flushAll(out);
    assert.equal(total(out), n);
  });

  it('an aggregate expands into exactly its events: count, bytes, times in its span; decodeAggregate checks it', () => {
    const events = Array.from({ length: 3000 }, (_, i) => message(i, { timeUs: T0_US + i * 700 }));
    for (const [i, e] of events.entries()) (e.data as { size: number }).size = 8 + (i % 3);
    const a = aggregates(run(new Folder(10), events))[0]!;
    const text = JSON.stringify({ aggregate: a.aggregate, sample: a.sample });
    const back = decodeAggregate(text, a.aggregate.count);
    const expanded = [...expandAggregate(back)];
    assert.equal(expanded.length, a.aggregate.count);
    assert.equal(
      expanded.reduce((s, e) => s + (e.data as { size: number }).size, 0),
      a.aggregate.bytes,
    );
    assert.equal(expanded[0]!.timeUs, a.aggregate.firstUs);
    assert.equal(expanded.at(-1)!.timeUs, a.aggregate.lastUs);
    assert.ok(expanded.every((e) => e.type === 'message' && (e.data as { command: string }).command === 'ping'));
    assert.throws(() => decodeAggregate(text, a.aggregate.count + 1), /inconsistent/);
    assert.throws(() => decodeAggregate('{"aggregate":{"count":1},"sample":{}}', 1), /inconsistent/);
  });
});
