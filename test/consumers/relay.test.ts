/**
 * Relay analytics and peer flags (src/consumers/relay/) as plain state, no HTTP
 * and no bus: events made by the real summariser from real codec messages, alerts
 * by a real alert manager.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertManager } from '../../src/consumers/alerts/manager.js';
import type { Signal } from '../../src/consumers/detectors/types.js';
import { PeerFlags } from '../../src/consumers/relay/flags.js';
import { MAX_ANNOUNCED, RelayTracker } from '../../src/consumers/relay/relay.js';
import { withoutPayload } from '../../src/events/message-summary.js';
import { messageSummary } from '../../src/events/summary.js';
import type { MessageEvent, ObserverEvent } from '../../src/events/types.js';
import { ipFromString } from '../../src/protocol/address.js';
import { txid } from '../../src/protocol/messages/ids.js';
import { msg } from '../../src/protocol/messages/index.js';
import { ADDRV2_NETWORK, INV_TYPE, type Message, type Tx } from '../../src/protocol/messages/types.js';

const conn = { id: 1, direction: 'inbound' as const, remote: '127.0.0.1:50000' };
const ev = (dir: 'in' | 'out', m: Message): MessageEvent => ({ conn, dir, size: 0, ...messageSummary(m) });

const hash = (i: number) => {
  const h = new Uint8Array(32);
  h[0] = i & 0xff;
  h[1] = i >> 8;
  return h;
};
const tx = (i: number): Tx => ({
  version: 2,
  inputs: [{ prevTxid: hash(i), prevIndex: 0, scriptSig: new Uint8Array([0x51]), sequence: 0xffffffff }],
  outputs: [{ value: 1000n, scriptPubKey: new Uint8Array([0x51]) }],
  lockTime: 0,
});
const inv = (command: 'inv' | 'getdata', txs: Tx[], blocks = 0) =>
  msg(command, {
    items: [
      ...txs.map((t) => ({ type: INV_TYPE.tx, hash: txid(t) })),
      ...Array.from({ length: blocks }, (_, i) => ({ type: INV_TYPE.block, hash: hash(9000 + i) })),
    ],
  });

describe('RelayTracker', () => {
  it('counts addr/addrv2 entries by network each way', () => {
    const r = new RelayTracker();
    const entry = (ip: string) => ({ time: 1, services: 1n, ip: ipFromString(ip), port: 8333 });
    r.observe('a', ev('in', msg('addr', { entries: [entry('1.2.3.4'), entry('2001:db8::1'), entry('5.6.7.8')] })));
    r.observe(
      'a',
      ev(
        'out',
        msg('addrv2', { entries: [{ time: 1, services: 1n, networkId: ADDRV2_NETWORK.torv3, addr: new Uint8Array(32), port: 8333 }] }),
      ),
    );
    const c = r.counts('a');
    assert.deepEqual(c.addrIn, { ipv4: 2, ipv6: 1 });
    assert.deepEqual(c.addrOut, { torv3: 1 });
    // Network ids BIP155 does not name (a peer's choice, up to 256 of them) are all `other`: no key per id.
    const unknown = Array.from({ length: 100 }, (_, i) => ({
      time: 1,
      services: 1n,
      networkId: 10 + i,
      addr: new Uint8Array(4),
      port: 8333,
    }));
    r.observe('a', ev('in', msg('addrv2', { entries: unknown })));
    assert.deepEqual(r.counts('a').addrIn, { ipv4: 2, ipv6: 1, other: 100 });
  });

  it('tells solicited, unsolicited and unannounced transactions apart', () => {
    const r = new RelayTracker();
    const [t1, t2, t3, t4] = [tx(1), tx(2), tx(3), tx(4)];
    r.observe('a', ev('in', inv('inv', [t1!, t2!], 3))); // two tx announcements, three blocks
    r.observe('a', ev('out', inv('getdata', [t1!])));
    r.observe('a', ev('in', msg('tx', t1!))); // requested and announced
    r.observe('a', ev('in', msg('tx', t2!))); // announced, not requested
    r.observe('a', ev('in', msg('tx', t3!))); // neither
    const c = r.counts('a');
    assert.deepEqual(
      { invTxIn: c.invTxIn, getdataTxOut: c.getdataTxOut, txIn: c.txIn, unsolicited: c.unsolicited, unannounced: c.unannounced },
      { invTxIn: 2, getdataTxOut: 1, txIn: 3, unsolicited: 2, unannounced: 1 },
    );
    assert.equal(c.announcedComplete, true);
    // An inv bigger than its summary's sample hides entries: unannounced stops counting.
    r.observe(
      'a',
      ev(
        'in',
        inv(
          'inv',
          Array.from({ length: 20 }, (_, i) => tx(100 + i)),
        ),
      ),
    );
    assert.equal(r.counts('a').announcedComplete, false);
    r.observe('a', ev('in', msg('tx', t4!)));
    assert.equal(r.counts('a').unannounced, 1);
    assert.equal(r.counts('a').unsolicited, 3);
  });

  it('a tx seen without its payload (log source) counts, but is never called unannounced', () => {
    const r = new RelayTracker();
    r.observe('a', { conn, dir: 'in', size: 200, ...withoutPayload('tx') });
    assert.deepEqual([r.counts('a').txIn, r.counts('a').unsolicited, r.counts('a').unannounced], [1, 1, 0]);
  });

  it('keeps no state for connections that relay nothing of interest; zeros for unknown keys', () => {
    const r = new RelayTracker();
    r.observe('a', ev('in', msg('ping', { nonce: 1n })));
    r.observe('a', ev('in', msg('verack', {})));
    assert.equal(r.size, 0);
    assert.deepEqual(r.counts('nobody'), {
      addrIn: {},
      addrOut: {},
      invTxIn: 0,
      getdataTxOut: 0,
      txIn: 0,
      unsolicited: 0,
      unannounced: 0,
      announcedComplete: true,
    });
  });

  it('is bounded: connections beyond maxPeers evict the oldest (counted), announced hashes per peer capped, retain prunes', () => {
    const r = new RelayTracker({ maxPeers: 3 });
    for (const k of ['a', 'b', 'c', 'd']) r.observe(k, ev('in', msg('tx', tx(1))));
    assert.equal(r.size, 3);
    assert.equal(r.evicted, 1);
    assert.equal(r.counts('a').txIn, 0, 'the oldest was forgotten');
    assert.equal(r.counts('d').txIn, 1);
    // MAX_ANNOUNCED hashes at most: the first announced are forgotten, so their tx is then unannounced.
    const many = Array.from({ length: MAX_ANNOUNCED + 16 }, (_, i) => tx(1000 + i));
    for (let i = 0; i < many.length; i += 16) r.observe('b', ev('in', inv('inv', many.slice(i, i + 16))));
    r.observe('b', ev('in', msg('tx', many[0]!)));
    r.observe('b', ev('in', msg('tx', many.at(-1)!)));
    // tx(1) before any inv, and many[0] forgotten; the last one announced is still known.
    assert.equal(r.counts('b').unannounced, 2);
    r.retain(new Set(['b']));
    assert.equal(r.size, 1);
    assert.equal(r.counts('c').txIn, 0);
  });
});

describe('PeerFlags', () => {
  const T0 = 1_700_000_000_000_000;
  const spySignal = (remote: string, timeUs: number): Signal => ({
    detector: 'spy',
    subject: { kind: 'peer', id: remote },
    severity: 'warning',
    summary: 'spy',
    counts: { probes: 1 },
    sample: null,
    nodeId: 'obs-1',
    timeUs,
    netgroup: '45.83.0.0/16',
    sourceIp: remote.split(':')[0]!,
  });

  it('flags watch-list addresses, and spies from alert events and from the alert store', () => {
    const published: ObserverEvent[] = [];
    const manager = new AlertManager({ nodeId: 'obs-1', source: 'detectors' }, (e) => published.push(e), { quietMs: 60_000 });
    // A spy alert raised before the flags exist: found in the store.
    manager.ingest(spySignal('45.83.2.1:40000', T0));
    const flags = new PeerFlags(() => manager.store);
    assert.deepEqual(flags.of('45.83.2.1:1'), { listMatch: null, spy: true }, 'by IP, whatever the port');
    assert.deepEqual(flags.of('162.218.65.7:8333'), { listMatch: 'AS54098', spy: false });
    assert.deepEqual(flags.of('[2001:db8::1]:8333'), { listMatch: null, spy: false });
    // A later one, from its alert event; resolution clears it.
    manager.ingest(spySignal('45.83.2.9:40000', T0 + 1));
    for (const e of published) if (e.type === 'alert') flags.observeAlert(e.data);
    assert.equal(flags.of('45.83.2.9:8333').spy, true);
    manager.tick(T0 + 120_000_000);
    flags.refresh();
    assert.equal(flags.of('45.83.2.1:40000').spy, false);
    assert.equal(flags.of('45.83.2.9:40000').spy, false);
  });

  it('without an alert store: only the watch list', () => {
    const flags = new PeerFlags();
    flags.refresh();
    assert.deepEqual(flags.of('91.198.115.3:8333'), { listMatch: 'AS54098', spy: false });
  });
});
