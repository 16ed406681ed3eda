/**
 * ping-spam from getpeerinfo alone (the rpc source's peer.stats): the growth of
 * bytesrecv_per_msg["ping"] between polls, 32 bytes per v1 ping, is the rate.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerStats } from '../../src/events/types.js';
import { conn, ev, harness, T0 } from './helpers.js';

function stats(c: ReturnType<typeof conn>, pingBytes: number, connTime: number, transport: 'v1' | 'v2' = 'v1'): PeerStats {
  return {
    conn: c,
    connType: 'inbound',
    transport,
    network: 'regtest',
    netgroup: 'local',
    version: 70016,
    userAgent: '/x/',
    services: '1033',
    startHeight: 0,
    syncedBlocks: 0,
    connTime,
    timeOffsetSec: 0,
    pingMs: null,
    minPingMs: null,
    bytesIn: pingBytes,
    bytesOut: 0,
    bytesInPerMsg: { ping: pingBytes },
    bytesOutPerMsg: {},
    addrProcessed: null,
    addrRateLimited: null,
    addrRelayEnabled: null,
    relayTxes: null,
    permissions: [],
  };
}

const alerts = (h: ReturnType<typeof harness>) => h.published.filter((e) => e.type === 'alert').map((e) => e.type === 'alert' && e.data);

describe('ping-spam from getpeerinfo', () => {
  it('pings counted from the byte counter between polls: a flood is caught, naming the peer', () => {
    const h = harness();
    const c = conn('203.0.113.9:4000');
    const t0 = T0 / 1e6;
    // Polls 10 s apart: 5 pings, then 200 more.
    h.feed([ev('peer.stats', stats(c, 5 * 32, t0), T0 + 1e6), ev('peer.stats', stats(c, 205 * 32, t0), T0 + 11e6)]);
    const a = alerts(h);
    assert.equal(a.length, 1);
    assert.ok(a[0] && a[0].detector === 'ping-spam' && a[0].subject.id === '203.0.113.9:4000');
    assert.equal(a[0].evidence.counts['pingsInWindow'], 205);
  });

  it('a long-lived honest peer first seen with many old pings, a slow pinger and v2 peers raise nothing', () => {
    const h = harness();
    const old = conn('203.0.113.10:4000');
    const slow = conn('203.0.113.11:4000');
    const v2 = conn('203.0.113.12:4000');
    const t0 = T0 / 1e6;
    h.feed([
      // Connected 3 hours ago with 90 pings (one every 2 minutes): a baseline, not a burst.
      ev('peer.stats', stats(old, 90 * 32, t0 - 3 * 3600), T0),
      ev('peer.stats', stats(old, 91 * 32, t0 - 3 * 3600), T0 + 120e6),
      ev('peer.stats', stats(slow, 1 * 32, t0), T0),
      ev('peer.stats', stats(slow, 2 * 32, t0), T0 + 10e6),
      // v2 byte counts are not 32 per ping: not read.
      ev('peer.stats', stats(v2, 0, t0, 'v2'), T0),
      ev('peer.stats', stats(v2, 10_000 * 32, t0, 'v2'), T0 + 10e6),
    ]);
    assert.deepEqual(alerts(h), []);
  });
});
