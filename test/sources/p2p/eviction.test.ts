/**
 * The eviction choice against Bitcoin Core's rules (node/eviction.cpp):
 * SelectNodeToEvict's protected categories (keyed netgroup, ping, tx, block,
 * block-relay-only, uptime and network diversity through
 * ProtectEvictionCandidatesByRatio), prefer-evict, and the final pick (the
 * netgroup with the most connections, its youngest); and our handshake-slot
 * budget's choice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evictionNetgroup,
  HANDSHAKE_GRACE_MS,
  keyedNetgroup,
  candidateNetworkOf,
  protectEvictionCandidatesByRatio,
  selectNodeToEvict,
  selectPendingToEvict,
  type EvictionCandidate,
} from '../../../src/sources/p2p/eviction.js';

const KEY = new Uint8Array(32).fill(7);

/** A plain candidate: connected at `id` (higher id = younger), no ping, tx or block yet. */
function cand(id: number, netgroup: string, over: Partial<EvictionCandidate> = {}): EvictionCandidate {
  return {
    id,
    connectedMs: id * 1000,
    minPingMs: Infinity,
    lastBlockMs: 0,
    lastTxMs: 0,
    relevantServices: true,
    relayTxs: true,
    bloomFilter: false,
    keyedNetgroup: keyedNetgroup(netgroup, KEY),
    netgroup,
    preferEvict: false,
    isLocal: false,
    network: 'ipv4',
    ...over,
  };
}

/** `n` attackers from one /16 (ids 100..) and `honest` peers each in its own /16 (ids 1..), older. */
function takeover(n: number, honest: number): EvictionCandidate[] {
  const out: EvictionCandidate[] = [];
  for (let i = 1; i <= honest; i++) out.push(cand(i, `10.${i}.0.0/16`));
  for (let i = 0; i < n; i++) out.push(cand(100 + i, '1.2.0.0/16'));
  return out;
}

test('nothing to choose: no candidates, or every candidate protected', () => {
  assert.equal(selectNodeToEvict([]), undefined);
  // 4 by netgroup + 8 by ping + 4 by tx + 4 by block = 20 protected (block-relay-only protects none: all relay txs).
  const twenty = Array.from({ length: 20 }, (_, i) => cand(i + 1, `10.${i}.0.0/16`));
  assert.equal(selectNodeToEvict(twenty), undefined);
  // One more, and the ratio step protects none of 1 (half of 1 is 0): someone goes.
  assert.notEqual(selectNodeToEvict([...twenty, cand(21, '10.99.0.0/16')]), undefined);
});

test('evicts from the netgroup with the most connections, its youngest member', () => {
  const c = takeover(30, 10);
  const choice = selectNodeToEvict(c)!;
  assert.equal(choice.netgroup, '1.2.0.0/16');
  assert.equal(choice.id, 129, 'the youngest of the largest netgroup');
  assert.equal(choice.candidates, 40);
  // Shuffling the input does not change the choice.
  const shuffled = [...c].reverse();
  assert.equal(selectNodeToEvict(shuffled)!.id, 129);
});

test('equal-sized largest netgroups: the one whose youngest member is youngest', () => {
  const c = [
    ...Array.from({ length: 30 }, (_, i) => cand(i + 1, `10.${i}.0.0/16`)),
    // Two groups of 5: A's youngest is 205, B's youngest is 310.
    ...[201, 202, 203, 204, 205].map((id) => cand(id, '1.1.0.0/16')),
    ...[306, 307, 308, 309, 310].map((id) => cand(id, '2.2.0.0/16')),
  ];
  const choice = selectNodeToEvict(c)!;
  assert.equal(choice.netgroup, '2.2.0.0/16');
  assert.equal(choice.id, 310);
});

for (const [quality, over] of [
  ['the lowest ping (ReverseCompareNodeMinPingTime)', { minPingMs: 0.5 }],
  ['a recent transaction (CompareNodeTXTime)', { lastTxMs: 5_000_000 }],
  ['a recent block (CompareNodeBlockTime)', { lastBlockMs: 5_000_000 }],
  ['a block from a block-relay-only peer (CompareNodeBlockRelayOnlyTime)', { lastBlockMs: 5_000_000, relayTxs: false }],
] as const) {
  test(`protected: the youngest attacker is spared for ${quality}; the next youngest goes`, () => {
    const c = takeover(60, 10);
    const youngest = c.findIndex((x) => x.id === 159);
    c[youngest] = cand(159, '1.2.0.0/16', over);
    const choice = selectNodeToEvict(c)!;
    assert.equal(choice.netgroup, '1.2.0.0/16');
    assert.equal(choice.id, 158);
  });
}

test('protected: 8 by ping, a ninth fast peer is not', () => {
  // 9 fast attackers (the youngest 9); 8 are protected by ping, the ninth (its ping the slowest of them) is not.
  const c = takeover(60, 10).map((x) => (x.id >= 151 ? { ...x, minPingMs: 10 + (159 - x.id) } : x));
  // id 151 has ping 18, the slowest of the 9 fast ones: it is the youngest unprotected attacker.
  assert.equal(selectNodeToEvict(c)!.id, 151);
});

test('protected: the 4 netgroups with the highest keyed netgroup (CompareNetGroupKeyed) keep a member each', () => {
  // 12 single-member groups; with 4 keyed + 8 ping (tie-broken by uptime) + 4 tx + 4 block protections ...
  const groups = Array.from({ length: 40 }, (_, i) => `10.${i}.0.0/16`);
  const c = groups.map((g, i) => cand(i + 1, g));
  const top4 = [...c].sort((a, b) => (a.keyedNetgroup < b.keyedNetgroup ? -1 : 1)).slice(-4);
  // Make the keyed-top groups the youngest: without the keyed-netgroup rule they would go first.
  const young = new Map(top4.map((x, i) => [x.id, 1000 + i]));
  const c2 = c.map((x) => (young.has(x.id) ? { ...x, connectedMs: young.get(x.id)! * 1000 } : x));
  const victims: number[] = [];
  let left = c2;
  for (;;) {
    const choice = selectNodeToEvict(left);
    if (!choice) break;
    victims.push(choice.id);
    left = left.filter((x) => x.id !== choice.id);
  }
  for (const x of top4) assert.ok(!victims.includes(x.id), `keyed-top netgroup ${x.netgroup} never evicted`);
  assert.ok(victims.length > 0);
});

test('protected: the longer half by uptime (ProtectEvictionCandidatesByRatio)', () => {
  const c = Array.from({ length: 20 }, (_, i) => cand(i + 1, '1.2.0.0/16'));
  const left = protectEvictionCandidatesByRatio(c);
  assert.deepEqual(
    left.map((x) => x.id),
    [20, 19, 18, 17, 16, 15, 14, 13, 12, 11],
    'the 10 youngest remain, youngest first',
  );
});

test('protected: disadvantaged networks get up to a quarter of the slots even when young (onion, localhost)', () => {
  // 16 candidates: the 4 youngest are onion peers. Half (8) is protected; up to 4 of those go to onion first.
  const c = Array.from({ length: 16 }, (_, i) => cand(i + 1, `10.${i}.0.0/16`, i >= 12 ? { network: 'onion' } : {}));
  const left = protectEvictionCandidatesByRatio(c).map((x) => x.id);
  for (const id of [13, 14, 15, 16]) assert.ok(!left.includes(id), `onion ${id} protected`);
  // The other 4 protected by uptime: ids 1..4.
  assert.deepEqual(
    left.sort((a, b) => a - b),
    [5, 6, 7, 8, 9, 10, 11, 12],
  );
  // Localhost the same way, and when two disadvantaged networks share, they split the quarter.
  const mixed = Array.from({ length: 16 }, (_, i) =>
    cand(i + 1, `10.${i}.0.0/16`, i >= 12 ? { network: 'onion' } : i >= 8 ? { isLocal: true } : {}),
  );
  const kept = protectEvictionCandidatesByRatio(mixed).map((x) => x.id);
  // 2 local (the oldest of them: 9, 10... CompareNodeNetworkTime protects the longest-connected) and 2 onion.
  assert.equal(kept.filter((id) => id >= 13).length, 2, 'two onion peers protected');
  assert.equal(kept.filter((id) => id >= 9 && id <= 12).length, 2, 'two localhost peers protected');
});

test('prefer-evict peers go first, whatever their netgroup', () => {
  const c = takeover(60, 30);
  // An honest-looking peer in its own netgroup, but with a violation, and young enough not to be protected by uptime.
  // (Its netgroup keyed below every other, so the keyed-netgroup rule does not protect it.)
  const lowest = Array.from({ length: 1000 }, (_, i) => `${20 + (i % 10)}.${Math.floor(i / 10)}.0.0/16`).reduce((a, b) =>
    keyedNetgroup(a, KEY) < keyedNetgroup(b, KEY) ? a : b,
  );
  assert.ok(c.every((x) => x.keyedNetgroup > keyedNetgroup(lowest, KEY)));
  c.push(cand(500, lowest, { preferEvict: true }));
  assert.equal(selectNodeToEvict(c)!.id, 500);
});

test('a takeover: evicting one at a time, honest peers from other netgroups survive until the attackers are few', () => {
  let c = takeover(115, 10);
  const honest = new Set(c.filter((x) => x.id < 100).map((x) => x.id));
  for (let round = 0; round < 60; round++) {
    const choice = selectNodeToEvict(c)!;
    assert.ok(!honest.has(choice.id), `round ${round}: an attacker goes, not honest ${choice.id}`);
    c = c.filter((x) => x.id !== choice.id);
  }
});

test('handshake slots: silent before version, then the largest netgroup, then its oldest; never one within its grace', () => {
  const now = 100_000;
  assert.equal(selectPendingToEvict([], now), undefined);
  const p = (id: number, netgroup: string, versionReceived = false, connectedMs = id) => ({ id, netgroup, versionReceived, connectedMs });
  // A peer that sent its version is kept over any silent one, however old.
  assert.equal(selectPendingToEvict([p(1, 'a', true), p(2, 'b'), p(3, 'b')], now)!.id, 2);
  // Among silent ones: the netgroup with the most, its oldest; an honest newcomer from another netgroup stays.
  assert.equal(selectPendingToEvict([p(1, 'honest'), p(2, 'x'), p(3, 'x'), p(4, 'y')], now)!.id, 2);
  // Equal groups: the one holding the oldest.
  assert.equal(selectPendingToEvict([p(5, 'x'), p(6, 'x'), p(3, 'y'), p(4, 'y')], now)!.id, 3);
  // All sent a version: the same rule over all.
  assert.equal(selectPendingToEvict([p(1, 'a', true), p(2, 'b', true), p(3, 'b', true)], now)!.id, 2);
  // The grace: connections younger than HANDSHAKE_GRACE_MS are not candidates, however many share a netgroup.
  const young = (id: number, netgroup: string) => p(id, netgroup, false, now - HANDSHAKE_GRACE_MS + 1 + id);
  assert.equal(selectPendingToEvict([young(1, 'x'), young(2, 'x'), young(3, 'y')], now), undefined);
  assert.equal(selectPendingToEvict([young(1, 'x'), young(2, 'x'), p(3, 'honest', true, now - 5000)], now)!.id, 3);
  assert.equal(selectPendingToEvict([young(1, 'x'), p(2, 'y', false, now - HANDSHAKE_GRACE_MS)], now)!.id, 2);
});

test("netgroups for eviction: Core's, with loopback and private IPv4 by /16; network and locality", () => {
  assert.equal(evictionNetgroup('8.8.4.4'), '8.8.0.0/16');
  assert.equal(evictionNetgroup('127.5.0.3'), '127.5.0.0/16');
  assert.equal(evictionNetgroup('10.1.2.3'), '10.1.0.0/16');
  assert.equal(evictionNetgroup('::1'), 'local');
  assert.equal(evictionNetgroup('not an ip'), 'unknown');
  assert.notEqual(keyedNetgroup('1.2.0.0/16', KEY), keyedNetgroup('1.3.0.0/16', KEY));
  assert.notEqual(keyedNetgroup('1.2.0.0/16', KEY), keyedNetgroup('1.2.0.0/16', new Uint8Array(32)));
  assert.deepEqual(candidateNetworkOf('127.0.0.1'), { network: 'ipv4', isLocal: true });
  assert.deepEqual(candidateNetworkOf('8.8.8.8'), { network: 'ipv4', isLocal: false });
  assert.deepEqual(candidateNetworkOf('::1'), { network: 'ipv6', isLocal: true });
  assert.deepEqual(candidateNetworkOf('2001:db8::1'), { network: 'ipv6', isLocal: false });
});
