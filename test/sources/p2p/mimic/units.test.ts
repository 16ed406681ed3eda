/** The mimic's pure parts, with Core's numbers: SipHash, the fee filter rounder and schedule, tx request delays, budgets, caches. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { siphash256 } from '../../../../src/sources/p2p/mimic/compact.js';
import { FeeFilterRounder, MAX_MONEY, maybeFeefilter, type FeeFilterState } from '../../../../src/sources/p2p/mimic/feefilter.js';
import { TxRequestRegistry, TxRequests } from '../../../../src/sources/p2p/mimic/txrequest.js';
import { BlockBudget } from '../../../../src/sources/p2p/mimic/budget.js';
import { LruBytes } from '../../../../src/sources/backend/lru.js';
import { advertisedServices } from '../../../../src/sources/p2p/mimic/version.js';
import { parseIdentity } from '../../../../src/sources/backend/backend.js';
import { INV_TYPE, type InvItem } from '../../../../src/protocol/messages/types.js';
import {
  enteredBefore,
  expDelay,
  InboundInvTimer,
  InvRounds,
  INBOUND_INVENTORY_BROADCAST_INTERVAL_MS,
} from '../../../../src/sources/p2p/mimic/txserve.js';
import { AddrSender, localAddress } from '../../../../src/sources/p2p/mimic/selfaddr.js';

describe('mimic units', () => {
  it('SipHash-2-4 of a uint256: the vector of Core hash_tests (SipHashUint256)', () => {
    const data = new Uint8Array(32).map((_, i) => i);
    assert.equal(siphash256(0x0706050403020100n, 0x0f0e0d0c0b0a0908n, data), 0x7127512f72f27ccen);
  });

  it('FeeFilterRounder: buckets from half the incremental fee by 1.1, a step down with probability 2/3', () => {
    const stay = new FeeFilterRounder(100, () => 0); // rand % 3 == 0: no step down
    const down = new FeeFilterRounder(100, () => 0.5);
    assert.equal(stay.round(100n), 107n);
    assert.equal(down.round(100n), 97n);
    assert.equal(stay.round(0n), 0n);
    assert.equal(down.round(MAX_MONEY), stay.round(MAX_MONEY), 'past the last bucket: the last, no randomness');
    assert.ok(stay.round(MAX_MONEY) < 10_000_001n);
  });

  it('MaybeSendFeefilter: at least the min relay fee, MAX_MONEY in IBD, no repeat, early resend on a big change', () => {
    const rounder = new FeeFilterRounder(100, () => 0.5);
    const state: FeeFilterState = { sent: undefined, nextSendMs: 0 };
    const base = { minRelayFee: 100n, rounder, random: () => 0.5 };
    assert.equal(maybeFeefilter(state, { ...base, nowMs: 1, minFee: 100n, ibd: true }), rounder.round(MAX_MONEY));
    // Out of IBD after MAX_FILTER was sent: sent at once, however far the schedule.
    assert.equal(maybeFeefilter(state, { ...base, nowMs: 2, minFee: 100n, ibd: false }), 100n);
    assert.ok(state.nextSendMs > 2);
    const next = state.nextSendMs;
    assert.equal(maybeFeefilter(state, { ...base, nowMs: next + 1, minFee: 100n, ibd: false }), undefined, 'same value: not repeated');
    // A big change (> 4/3) more than 5 min before the schedule: moved within 5 min.
    state.nextSendMs = 1e9;
    maybeFeefilter(state, { ...base, nowMs: 1000, minFee: 1000n, ibd: false });
    assert.ok(state.nextSendMs <= 1000 + 5 * 60_000);
  });

  it('TxRequests: Core delays (inbound 2 s, txid while wtxid peers +2 s), one request per hash, expiry', async () => {
    let now = 0;
    const sent: InvItem[][] = [];
    const r = new TxRequests({ inbound: true, request: (i) => sent.push(i), closed: () => false, wtxidPeers: () => true, now: () => now });
    const h = (n: number): Uint8Array => new Uint8Array(32).fill(n);
    r.announced(
      [
        { type: INV_TYPE.wtx, hash: h(1) },
        { type: INV_TYPE.wtx, hash: h(1) },
      ],
      true,
      () => Promise.resolve(false),
    );
    r.announced([{ type: INV_TYPE.tx, hash: h(2) }], true, () => Promise.resolve(false)); // a wtxidrelay peer's MSG_TX: ignored
    assert.equal(r.pending, 1);
    // Real timers, fake clock: the request is armed for reqtime - now = 2000 ms.
    now = 2000;
    await new Promise((res) => setTimeout(res, 2200));
    assert.equal(sent.length, 1);
    assert.deepEqual(
      sent[0]!.map((i) => i.type),
      [INV_TYPE.wtx],
    );
    // A txid announcement from a non-wtxid peer while wtxid peers exist waits 2 s more: not yet at 2 s.
    const t = new TxRequests({ inbound: true, request: (i) => sent.push(i), closed: () => false, wtxidPeers: () => true, now: () => now });
    t.announced([{ type: INV_TYPE.tx, hash: h(3) }], false, () => Promise.resolve(false));
    now += 2000;
    await new Promise((res) => setTimeout(res, 2200));
    assert.equal(sent.length, 1, 'txid announcement not requested after 2 s');
    now += 2000;
    await new Promise((res) => setTimeout(res, 2200));
    assert.equal(sent.length, 2);
    assert.equal(sent[1]![0]!.type, INV_TYPE.tx | (1 << 30), 'MSG_TX with the witness flag (GetFetchFlags)');
    r.close();
    t.close();
  });

  it('BlockBudget: per peer always, global only for historical blocks; the window rolls', () => {
    let now = 0;
    const b = new BlockBudget({ perPeerBytes: 1000, globalBytes: 1500, windowMs: 10_000 }, () => now);
    const p1 = {};
    const p2 = {};
    assert.equal(b.charge(p1, 900, true), 'ok');
    assert.equal(b.charge(p1, 200, false), 'peer');
    assert.equal(b.charge(p2, 700, true), 'global');
    assert.equal(b.charge(p2, 700, false), 'ok', 'recent blocks are served past the global budget');
    now = 10_000;
    assert.equal(b.charge(p1, 900, true), 'ok');
    assert.equal(b.refusedPeer, 1);
    assert.equal(b.refusedGlobal, 1);
  });

  it('identity: NODE_P2P_V2 advertised only when we speak v2; getnetworkinfo checked', () => {
    const net = {
      protocolversion: 70016,
      subversion: '/Satoshi:30.99.0/',
      localservices: '0000000000000c09',
      localrelay: true,
      relayfee: 0.000001,
      incrementalfee: 0.000001,
    };
    const id = parseIdentity(net, { initialblockdownload: false });
    assert.equal(id.services, 0xc09n);
    assert.equal(advertisedServices(id, false), 0x409n);
    assert.equal(advertisedServices(id, true), 0xc09n);
    assert.equal(id.minRelayFee, 100);
    assert.throws(() => parseIdentity({ ...net, localservices: 'zz' }, {}), /localservices/);
    assert.throws(() => parseIdentity({ ...net, subversion: 'x'.repeat(257) }, {}), /subversion/);
  });

  it('LruBytes: bounded by bytes, least recently used out first, too large never kept', () => {
    const c = new LruBytes<string>(10);
    c.set('a', new Uint8Array(4));
    c.set('b', new Uint8Array(4));
    c.get('a');
    c.set('c', new Uint8Array(4));
    assert.equal(c.get('b'), undefined);
    assert.ok(c.get('a') && c.get('c'));
    c.set('big', new Uint8Array(11));
    assert.equal(c.get('big'), undefined);
    assert.ok(c.bytes <= 10);
  });

  it('announcement rounds (FindTxForGetData gate): the first at the handshake, then on the shared inbound timer', () => {
    // random 1 - e^-1: every delay is exactly one mean.
    const r = () => 1 - Math.exp(-1);
    assert.ok(Math.abs(expDelay(5000, r) - 5000) < 1e-6);
    const shared = new InboundInvTimer(r);
    const a = new InvRounds(shared, r);
    const b = new InvRounds(shared, r);
    assert.equal(a.lastRound(1000), -Infinity, 'no round before the handshake');
    a.start(1000);
    assert.equal(a.lastRound(1000), 1000, 'SendMessages right after verack');
    b.start(3000);
    // b's next round is the shared timer's (6000), not its own 3000 + 5000: inbound peers announce together.
    assert.equal(a.lastRound(5999), 1000);
    assert.equal(b.lastRound(6001), 6000);
    assert.equal(a.lastRound(6001), 6000);
    assert.equal(a.lastRound(6000 + INBOUND_INVENTORY_BROADCAST_INTERVAL_MS + 1), 11_000);
    // Outbound peers draw their own (mean 2 s).
    const o = new InvRounds(undefined, r);
    o.start(0);
    assert.equal(o.lastRound(4001), 4000);
    // A mempool entry (whole seconds) is served only when its whole second ended before the round.
    assert.equal(enteredBefore(10, 11_000), true);
    assert.equal(enteredBefore(10, 10_999), false);
  });

  it('MaybeSendAddr for our own address: after relay is set up, with the getaddr answer, then ~24 h later on the 30 s schedule', () => {
    const r = () => 1 - Math.exp(-1); // every exponential delay = its mean
    const ours = { ...localAddress('1.2.3.4', 8333), time: 0, services: 1n };
    const other = { address: '5.6.7.8', port: 8333, network: 'ipv4', time: 0, services: 1n };
    assert.deepEqual(localAddress('[2a01::1]', 1), { address: '2a01::1', port: 1, network: 'ipv6' });
    assert.equal(localAddress('x'.repeat(56) + '.onion', 1).network, 'onion');
    const s = new AddrSender(r);
    assert.deepEqual(s.tick(1000, ours, false), { wakeAt: Infinity }, 'nothing before address relay is set up');
    s.enable();
    s.answer([other]);
    const first = s.tick(1000, ours, false);
    assert.deepEqual(first.send, [other, ours], 'the answer, then our address, in one message');
    assert.equal(first.wakeAt, 1000 + 24 * 3600 * 1000);
    assert.equal(s.tick(2000, ours, false).send, undefined, 'nothing new');
    // A day later our address is pushed again, and goes out at once (the 30 s addr timer has passed).
    const later = s.tick(1001 + 24 * 3600 * 1000, ours, false);
    assert.deepEqual(later.send, [ours]);
    // In IBD: not advertised.
    const ibd = new AddrSender(r);
    ibd.enable();
    assert.equal(ibd.tick(1000, ours, true).send, undefined);
    // Pushed but the addr timer has not passed: held until it does.
    const held = new AddrSender(r);
    held.enable();
    held.tick(1000, undefined, false); // sets the 30 s addr timer, nothing to send
    const h = held.tick(1000 + 24 * 3600 * 1000 + 1, ours, false);
    assert.deepEqual(h.send, [ours], 'the 30 s timer passed long ago');
  });

  it('TxRequests across peers (TxRequestTracker): one request per transaction at a time; notfound, leaving or receipt', async () => {
    const registry = new TxRequestRegistry();
    const h = (n: number): Uint8Array => new Uint8Array(32).fill(n);
    const peer = () => {
      const sent: InvItem[][] = [];
      const r = new TxRequests({ inbound: false, request: (i) => sent.push(i), closed: () => false, registry });
      return { r, sent };
    };
    const tick = () => new Promise((res) => setTimeout(res, 30));
    const [a, b, c] = [peer(), peer(), peer()];
    const item = { type: INV_TYPE.wtx, hash: h(7) };
    for (const p of [a, b, c]) p.r.announced([item], true, () => Promise.resolve(false));
    await tick();
    assert.deepEqual([a.sent.length, b.sent.length, c.sent.length], [1, 0, 0], 'only the first announcer is asked');
    assert.equal(registry.inFlight, 1);
    a.r.notFound([item]);
    await tick();
    assert.deepEqual([b.sent.length, c.sent.length], [1, 0], 'after notfound, the next one (only)');
    b.r.close(); // leaving ends its request
    await tick();
    assert.equal(c.sent.length, 1, 'after the peer left, the last one');
    // Received from anyone: the others forget it.
    const d = peer();
    const e = peer();
    const tx = {
      version: 2,
      inputs: [{ prevTxid: h(1), prevIndex: 0, scriptSig: new Uint8Array(0), sequence: 0 }],
      outputs: [{ value: 1n, scriptPubKey: new Uint8Array([0x51]) }],
      witnesses: [],
      lockTime: 0,
    };
    const { wtxid: wtxidOf } = await import('../../../../src/protocol/messages/ids.js');
    const txItem = { type: INV_TYPE.wtx, hash: wtxidOf(tx) };
    d.r.announced([txItem], true, () => Promise.resolve(false));
    e.r.announced([txItem], true, () => Promise.resolve(false));
    await tick();
    assert.deepEqual([d.sent.length, e.sent.length], [1, 0]);
    d.r.received(tx);
    await tick();
    assert.deepEqual([e.sent.length, e.r.pending], [0, 0], 'the waiting peer forgot it');
    for (const p of [a, c, d, e]) p.r.close();
    assert.equal(registry.inFlight, 0);
  });
});
