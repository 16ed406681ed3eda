/**
 * Bounded state under 1,000,000 distinct subjects: for every per-subject
 * structure of every detector and of the alert manager, a million subjects
 * that never come back (and connections that never close) leave at most the
 * configured number of entries, and the evictions are counted. Entries are
 * counted, not time: a structure that grows by one entry per subject fails
 * here whatever the machine's speed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertManager } from '../../src/consumers/alerts/manager.js';
import { buildDetectors } from '../../src/consumers/detectors/index.js';
import { BoundedMap } from '../../src/consumers/detectors/state.js';
import type { Detector } from '../../src/consumers/detectors/types.js';
import type { ConnRef, MessageEvent, ObserverEvent } from '../../src/events/types.js';
import { ev, T0 } from './helpers.js';

const N = Number(process.env['BOUNDS_N'] ?? 1_000_000);
const BOUND = 1000;

/** Subject i's address: a million distinct IPv4 addresses, each in its own /24, over many /16s. */
function ip(i: number): string {
  return `${11 + (i >>> 16)}.${(i >>> 8) & 0xff}.${i & 0xff}.7`;
}

function only(name: string, params: Record<string, unknown>): Detector {
  const names = buildDetectors().detectors.map((d) => d.name);
  const config: Record<string, unknown> = Object.fromEntries(names.filter((n) => n !== name).map((n) => [n, false]));
  config[name] = params;
  const d = buildDetectors(config).detectors;
  assert.equal(d.length, 1);
  return d[0]!;
}

/** Feed `make(i)` for a million i, checking the bound as it goes (every 100,000) and at the end. */
function million(d: Detector, make: (i: number, c: ConnRef, t: number) => ObserverEvent[], bound: number, tick = true): void {
  for (let i = 0; i < N; i++) {
    const c: ConnRef = { id: i, direction: 'inbound', remote: `${ip(i)}:8333` };
    const t = T0 + i * 1000;
    for (const e of make(i, c, t)) d.observe(e);
    if (tick && i % 10_000 === 0) d.tick(t);
    if (i % 100_000 === 0) assert.ok(d.stats().tracked <= bound, `${d.name}: ${d.stats().tracked} entries after ${i} subjects`);
  }
  const s = d.stats();
  assert.ok(s.tracked <= bound, `${d.name}: ${s.tracked} entries, bound ${bound}`);
  assert.ok(s.tracked > 0, `${d.name}: tracks nothing (the test feeds it the wrong events)`);
  assert.ok(s.evicted >= N - bound - 1, `${d.name}: ${s.evicted} evictions counted`);
}

const openedEv = (c: ConnRef, t: number, nodeId = 'obs-1') =>
  ev(
    'connection.opened',
    {
      conn: c,
      local: '203.0.113.7:8333',
      network: 'mainnet',
      netgroup: c.remote.split('.').slice(0, 2).join('.') + '.0.0/16',
      transport: 'v1',
    },
    t,
    nodeId,
  );
const msg = (c: ConnRef, command: string, payload: unknown, t: number, nodeId = 'obs-1') =>
  ev('message', { conn: c, dir: 'in', command, size: 0, known: true, payload } as MessageEvent, t, nodeId);

describe('bounded state under 1,000,000 distinct subjects', () => {
  it('BoundedMap: LRU within its bound, every eviction counted', () => {
    const m = new BoundedMap<number, number>(BOUND);
    let evictedSeen = 0;
    const withHook = new BoundedMap<number, number>(BOUND, () => evictedSeen++);
    for (let i = 0; i < N; i++) {
      m.set(i, i);
      withHook.upsert(i, () => i);
      m.get(0); // touched: never the least recently used
    }
    assert.equal(m.size, BOUND);
    assert.equal(m.evicted, N - BOUND);
    assert.equal(m.peek(0), 0);
    assert.equal(m.has(1), false);
    assert.deepEqual(m.oldest(), [N - BOUND + 1, N - BOUND + 1]);
    assert.equal(withHook.size, BOUND);
    assert.equal(evictedSeen, N - BOUND);
    assert.equal(
      m.sweep((v) => v % 2 === 0),
      BOUND / 2,
    );
    assert.equal([...m.values()].length, BOUND / 2);
  });

  it('per-connection maps (addr-flood, ping-spam, inv-spam): connections that never close', () => {
    million(
      only('addr-flood', { maxPeers: BOUND }),
      (i, c, t) => [msg(c, 'addr', { count: 1, entries: [{ time: 0, addr: ip(i + 1), port: 8333 }] }, t)],
      BOUND,
    );
    million(only('ping-spam', { maxPeers: BOUND }), (i, c, t) => [msg(c, 'ping', { nonce: String(i + 1) }, t)], BOUND);
    million(only('inv-spam', { maxPeers: BOUND }), (_i, c, t) => [msg(c, 'inv', { count: 1, types: { wtx: 1 }, items: [] }, t)], BOUND);
  });

  it('per-peer and per-netgroup violation counts (malformed-burst)', () => {
    const d = only('malformed-burst', { maxSubjects: BOUND });
    million(
      d,
      (_i, c, t) => [ev('violation', { conn: c, kind: 'bad-checksum', action: 'disconnect', detail: 'x', command: 'tx' } as never, t)],
      2 * BOUND,
      false,
    );
  });

  it('per-source connectivity results (fake-addr)', () => {
    million(
      only('fake-addr', { maxSources: BOUND }),
      (i, c, t) => [
        ev(
          'connectivity.result',
          { sourcePeer: c.remote, addr: `${ip(i + 1)}:8333`, reachable: false, reason: 'timeout', elapsedMs: 1 } as never,
          t,
        ),
      ],
      BOUND,
      false,
    );
  });

  it('per-/24 groups (spy), per-netgroup skew (time-offset)', () => {
    million(only('spy', { maxGroups: BOUND }), (_i, c, t) => [openedEv(c, t)], BOUND);
    million(
      only('time-offset', { maxTracked: BOUND }),
      // Skew is tracked per netgroup: a million distinct IPv6 /32s.
      (i, _c, t) => [
        ev(
          'handshake.version',
          {
            conn: { id: i, direction: 'inbound', remote: `[2a0${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::1]:8333` },
            version: 70016,
            services: '1',
            serviceNames: [],
            userAgent: '/x/',
            startHeight: 1,
            relay: true,
            nonce: '1',
            timeOffsetSec: i % 2 ? 3600 : -3600,
            receiver: null,
            sender: null,
          } as never,
          t,
        ),
      ],
      BOUND,
      false,
    );
  });

  it('open inbound connections that never close (inbound-flood, churn)', () => {
    million(only('inbound-flood', { maxConnections: BOUND }), (_i, c, t) => [openedEv(c, t)], BOUND);
    million(only('churn', { maxConnections: BOUND }), (_i, c, t) => [openedEv(c, t)], BOUND);
  });

  it('per-observer state: a million node ids (inbound-flood, churn, message-rate, node-health)', () => {
    const nodes = 10; // bound on observers
    million(only('inbound-flood', { maxNodes: nodes }), (i, c, t) => [openedEv(c, t, `obs-${i}`)], nodes);
    million(only('churn', { maxNodes: nodes }), (i, c, t) => [openedEv(c, t, `obs-${i}`)], nodes, false);
    million(
      only('node-health', { maxNodes: nodes }),
      (i, _c, t) => [ev('mempool.tx', { action: 'rejected', txid: 'x', reason: 'r' } as never, t, `obs-${i}`)],
      nodes,
      false,
    );
    const rate = only('message-rate', { maxNodes: nodes, maxCommands: 8 });
    for (let i = 0; i < N; i++)
      rate.observe(msg({ id: 1, direction: 'inbound', remote: '11.0.0.1:8333' }, `c${i}`, {}, T0 + i, `obs-${i % 3}`));
    assert.ok(rate.stats().tracked <= 3 * 8, `message-rate: ${rate.stats().tracked} series for 3 observers`);
    for (let i = 0; i < N; i++) rate.observe(msg({ id: 1, direction: 'inbound', remote: '11.0.0.1:8333' }, 'ping', {}, T0 + i, `obs-${i}`));
    assert.ok(rate.stats().tracked <= nodes * 8);
  });

  it('the alert manager: alerts, incidents and correlation sources for a million subjects', () => {
    const m = new AlertManager({ nodeId: 'obs-1', source: 'detectors' }, () => {}, { maxAlerts: BOUND, maxIncidents: BOUND / 2 });
    for (let i = 0; i < N; i++) {
      m.ingest({
        detector: 'ping-spam',
        subject: { kind: 'peer', id: `${ip(i)}:8333` },
        severity: 'warning',
        summary: `ping spam from ${ip(i)}`,
        counts: { pings: i },
        sample: { n: i },
        nodeId: `obs-${i % 2}`,
        timeUs: T0 + i * 1000,
        netgroup: `${ip(i)}/32`,
        sourceIp: ip(i),
      });
      if (i % 1000 === 0) m.tick(T0 + i * 1000);
      if (i % 100_000 === 0) {
        const s = m.sizes();
        assert.ok(s.alerts <= BOUND && s.active <= BOUND && s.incidents <= BOUND / 2 && s.sources <= BOUND, JSON.stringify(s));
      }
    }
    const s = m.sizes();
    assert.ok(s.alerts <= BOUND && s.active <= BOUND && s.incidents <= BOUND / 2 && s.sources <= BOUND, JSON.stringify(s));
    assert.ok(m.counters().storeEvicted > N);
  });
});
