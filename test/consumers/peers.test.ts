/** The peers table: what a row says, and that it stays bounded (TTL for closed peers, hard cap). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeersTable } from '../../src/consumers/peers/table.js';
import { peerLife } from './synthetic.js';

describe('peers table', () => {
  it('builds a -netinfo-like row from events', () => {
    let now = 1_700_000_000_000_000 + 1_000 + 4000;
    const table = new PeersTable({ nowUs: () => now });
    const life = peerLife(1, { userAgent: '<img src=x onerror=alert(1)>' });
    for (const e of life.slice(0, -1)) table.handle(e);
    const [row] = table.peers();
    assert.ok(row);
    assert.equal(row.key, 'test-node/p2p/1');
    assert.equal(row.address, life[0]!.type === 'connection.opened' ? life[0]!.data.conn.remote : '');
    assert.equal(row.direction, 'inbound');
    assert.equal(row.network, 'ipv4');
    assert.equal(row.chain, 'regtest');
    assert.equal(row.userAgent, '<img src=x onerror=alert(1)>', 'kept as data; the dashboard renders it as text');
    assert.equal(row.version, 70016);
    assert.equal(row.messagesIn, 4);
    assert.equal(row.messagesOut, 1);
    assert.equal(row.bytesIn, 102 + 40 + 73 + 3 + 4 * 24);
    assert.equal(row.commandsIn.other, 1);
    assert.equal(row.addr.messages, 1);
    assert.equal(row.addr.entries, 2);
    assert.equal(row.pingMs, 12.5);
    assert.equal(row.violations, 1);
    assert.deepEqual(row.flags, { handshakeComplete: true, addrV2: true, wtxidRelay: true, relay: true, v2: false });
    assert.equal(row.ageSec, 0.004);
    table.handle(life.at(-1)!);
    assert.equal(table.peers().length, 0, 'closed peers are not in the default (open) view');
    const [closed] = table.peers({ state: 'closed' });
    assert.equal(closed?.closeReason, 'peer-closed');
    assert.equal(closed?.bytesIn, 500, 'the close event has the final counts');
    now += 301 * 1e6;
    assert.equal(table.peers({ state: 'all' }).length, 0, 'evicted after the TTL');
    assert.equal(table.stats().expired, 1);
  });

  it('never holds more than maxPeers, evicting closed peers first', () => {
    const table = new PeersTable({ maxPeers: 100, closedTtlMs: 1e9, nowUs: () => 1_700_000_000_000_000 + 1e10 });
    for (let i = 0; i < 10_000; i++) {
      const life = peerLife(i);
      for (const e of life.slice(0, i % 2 ? undefined : -1)) table.handle(e);
      assert.ok(table.size <= 100);
    }
    const s = table.stats();
    assert.equal(s.open + s.closed, 100);
    assert.ok(s.evictedClosed > 0);
    assert.ok(s.evictedOpen > 0, 'with only open peers left, the oldest open ones go');
    // Refused connections never become peers.
    const t2 = new PeersTable();
    const closed = peerLife(5).at(-1)!;
    if (closed.type === 'connection.closed') t2.handle({ ...closed, data: { ...closed.data, reason: 'limit' } });
    assert.equal(t2.size, 0);
  });

  it('filters by state, direction and node, newest first, limited', () => {
    const table = new PeersTable();
    for (let i = 0; i < 10; i++) for (const e of peerLife(i, { direction: i % 2 ? 'outbound' : 'inbound' }).slice(0, 2)) table.handle(e);
    assert.equal(table.peers({ direction: 'outbound' }).length, 5);
    assert.deepEqual(
      table.peers({ limit: 3 }).map((p) => p.id),
      [9, 8, 7],
    );
    assert.equal(table.peers({ nodeId: 'elsewhere' }).length, 0);
  });
});
