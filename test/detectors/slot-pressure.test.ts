/**
 * slot-pressure: refusals and evictions (docs/connections.md) per netgroup and
 * per observer raise an alert; honest closes and a few refusals do not; state is
 * bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDetectors } from '../../src/consumers/detectors/index.js';
import type { ConnectionClosed, ObserverEvent } from '../../src/events/types.js';
import { closed, conn, ev, harness, netgroup, publicIp, T0 } from './helpers.js';

const S = 1_000_000;

function pushedOut(remote: string, t: number, how: 'limit' | 'inbound-full' | 'handshake-slots', id: number): ObserverEvent {
  const c = { ...conn(remote), id };
  const data: ConnectionClosed = {
    conn: c,
    network: 'mainnet',
    netgroup: netgroup(remote),
    reason: how === 'limit' ? 'limit' : 'evicted',
    detail: how,
    durationMs: 0,
    handshakeComplete: false,
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    ...(how === 'limit' ? {} : { evictedFor: how }),
  };
  return ev('connection.closed', data, t);
}

describe('slot-pressure', () => {
  it('a takeover from one /16: a warning on that netgroup at 20 within a minute, critical at 100, with the counts by kind', () => {
    const h = harness();
    const kinds = ['limit', 'inbound-full', 'handshake-slots'] as const;
    const events = Array.from({ length: 19 }, (_, i) => pushedOut(`1.2.${i}.9:8333`, T0 + i * S, kinds[i % 3]!, i + 1));
    h.feed(events);
    assert.deepEqual(h.manager.store.alerts({ detector: 'slot-pressure' }), [], '19 is below the threshold');
    h.feed([pushedOut('1.2.99.9:8333', T0 + 20 * S, 'inbound-full', 100)]);
    let [a] = h.manager.store.alerts({ detector: 'slot-pressure' });
    assert.ok(a);
    assert.deepEqual(a.subject, { kind: 'netgroup', id: '1.2.0.0/16' });
    assert.equal(a.severity, 'warning');
    assert.equal(a.evidence.counts.refusedAndEvicted, 20);
    assert.equal(a.evidence.counts.refused, 7);
    assert.equal(a.evidence.counts.evictedInboundFull, 7);
    assert.equal(a.evidence.counts.evictedHandshakeSlots, 6);
    h.feed(Array.from({ length: 80 }, (_, i) => pushedOut(`1.2.${i}.8:8333`, T0 + 21 * S + i * 100_000, 'inbound-full', 200 + i)));
    [a] = h.manager.store.alerts({ detector: 'slot-pressure' });
    assert.equal(a!.severity, 'critical');
  });

  it('spread over many netgroups: a warning on the observer, none on a netgroup', () => {
    const h = harness();
    h.feed(Array.from({ length: 100 }, (_, i) => pushedOut(`${publicIp(i)}:8333`, T0 + i * 200_000, 'handshake-slots', i + 1)));
    const alerts = h.manager.store.alerts({ detector: 'slot-pressure' });
    assert.deepEqual(
      alerts.map((a) => a.subject),
      [{ kind: 'node', id: 'obs-1' }],
    );
    assert.equal(alerts[0]!.evidence.counts.evictedHandshakeSlots, 100);
  });

  it('honest: peers closing, outbound dials failing, and a trickle of refusals slower than the window raise nothing', () => {
    const h = harness();
    const events: ObserverEvent[] = [];
    for (let i = 0; i < 200; i++) events.push(closed({ ...conn(`1.2.${i % 250}.1:8333`), id: i + 1 }, T0 + i * S, 30_000, true));
    // 15 refusals a minute from one /16, for ten minutes.
    for (let i = 0; i < 150; i++)
      events.push(pushedOut(`5.6.0.${1 + (i % 200)}:8333`, T0 + Math.floor(i * 4 * S) + S / 2, 'limit', 1000 + i));
    // An outbound peer down: 200 failed dials (not inbound pressure).
    for (let i = 0; i < 200; i++) {
      const failed = pushedOut('9.9.9.9:8333', T0 + i * S + S / 4, 'limit', 5000 + i);
      if (failed.type !== 'connection.closed') continue;
      failed.data = { ...failed.data, conn: { ...failed.data.conn, direction: 'outbound' }, reason: 'connect-failed' };
      events.push(failed);
    }
    events.sort((a, b) => a.timeUs - b.timeUs);
    h.feed(events);
    assert.deepEqual(h.manager.store.alerts({ detector: 'slot-pressure' }), []);
  });

  it('bounded: at most maxGroups netgroups per observer, the rest evicted and counted', () => {
    const [d] = buildDetectors({ 'slot-pressure': { maxGroups: 50 } }).detectors.filter((x) => x.name === 'slot-pressure');
    for (let i = 0; i < 5000; i++) d!.observe(pushedOut(`${publicIp(i)}:8333`, T0 + i * 1000, 'limit', i + 1));
    const st = d!.stats();
    assert.ok(st.tracked <= 50, `tracked ${st.tracked}`);
    assert.ok(st.evicted >= 4000, `evicted ${st.evicted}`);
  });
});
