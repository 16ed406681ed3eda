/**
 * The fingerprint test: the same scripted probes against a real Bitcoin Core and
 * against the mimic honeypot backed by that same node; every difference a spy
 * could see is a failing assertion. The probe list is in docs/mimic.md.
 *
 * Twice: over v1 against Core at -v2transport=0 and a v1-only mimic (which
 * must then not advertise NODE_P2P_V2), and over BIP324 v2 (our own
 * V2Transport as the initiator) against Core at -v2transport=1 and a mimic
 * that speaks v2 and advertises NODE_P2P_V2. Over v2 the probes also compare
 * what the v2 layer shows: the garbage Core sends, its decoys (none), its
 * version packet (empty), the one-byte message ids, the handshake with the
 * most garbage and decoys a peer may send, and garbage without a terminator.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { once } from 'node:events';
import { bitcoindSkipReason, startBitcoind, type Bitcoind } from '../../../helpers/bitcoind.js';
import { encodePayload } from '../../../../src/protocol/messages/index.js';
import { hexToHash } from '../../../../src/protocol/hash.js';
import { INV_TYPE, type InvItem, type Message } from '../../../../src/protocol/messages/types.js';
import { CODECS } from '../../../../src/protocol/messages/index.js';
import { encode } from '../../../../src/protocol/codec.js';
import { txid, wtxid } from '../../../../src/protocol/messages/ids.js';
import { V2Transport, MAX_GARBAGE_LEN } from '../../../../src/protocol/v2/transport.js';
import { GARBAGE_TERMINATOR_LEN } from '../../../../src/protocol/v2/cipher.js';
import { REGTEST } from '../helpers.js';
import { addrV2Of } from '../../../../src/sources/p2p/mimic/addrmsg.js';
import { addrV2ToString, isIpv4Mapped } from '../../../../src/protocol/address.js';
import type { NodeAddress } from '../../../../src/sources/backend/backend.js';
import {
  coinbaseSpend,
  Prober,
  seedAddresses,
  sleep,
  spendCoinbases,
  startMimicObserver,
  V2ProbePeer,
  type MimicHarness,
} from './helpers.js';

/** The entries of an addr or addrv2 message as `networkId|address:port`. */
function addrKeys(m: Message): string[] {
  if ('unknown' in m) return [];
  if (m.command === 'addrv2') return m.payload.entries.map((e) => `${e.networkId}|${addrV2ToString(e.networkId, e.addr)}:${e.port}`);
  if (m.command === 'addr')
    return m.payload.entries.map((e) => {
      const net = isIpv4Mapped(e.ip) ? 1 : 2;
      return `${net}|${addrV2ToString(net, net === 1 ? e.ip.slice(12) : e.ip)}:${e.port}`;
    });
  return [];
}

/** Our address, given to Core as -externalip and to the mimic as --external-address. */
const EXTERNAL = { host: '1.2.3.4', port: 8333 };
const EXTERNAL_KEY = `1|${EXTERNAL.host}:${EXTERNAL.port}`;

const hex = (m: Message): string => Buffer.from(encodePayload(m)).toString('hex');

/** Everything in a message that does not vary by design (nonces, times and the rounded fee filter are checked apart). */
function stable(m: Message): string {
  if ('unknown' in m) return `${m.command}:${Buffer.from(m.payload).toString('hex')}`;
  switch (m.command) {
    case 'ping':
    case 'pong':
    case 'feefilter':
      return m.command;
    case 'version': {
      const { timestamp: _t, nonce: _n, ...rest } = m.payload;
      return `version:${JSON.stringify(rest, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))}`;
    }
    default:
      return `${m.command}:${hex(m)}`;
  }
}

async function both<T>(core: Bitcoind, mimic: MimicHarness, probe: (port: number) => Promise<T>): Promise<{ core: T; mimic: T }> {
  const [a, b] = await Promise.all([probe(core.port), probe(mimic.port)]);
  return { core: a, mimic: b };
}

/** The v2 layer of a prober's connection, as the other side shaped it. */
function v2Layer(p: Prober): { decoys: number; versionContents: number; garbage: number; typeBytes: number[] } {
  const t = (p.peer as V2ProbePeer).transport;
  return { decoys: t.decoysIn, versionContents: t.versionContentsIn, garbage: t.garbageIn, typeBytes: (p.peer as V2ProbePeer).typeBytes };
}

/** Every probe, over v1 or over v2; each difference is a failing assertion. */
async function fingerprint(v2: boolean): Promise<void> {
  const node = await startBitcoind({
    args: [`-v2transport=${v2 ? 1 : 0}`, '-cjdnsreachable=1', `-externalip=${EXTERNAL.host}:${EXTERNAL.port}`],
  });
  let mimic: MimicHarness | undefined;
  const probers: Prober[] = [];
  const open = async (port: number): Promise<Prober> => {
    const p = await Prober.connect(port, { v2 });
    probers.push(p);
    return p;
  };
  try {
    const hashes = await node.mine(120);
    // Transactions in the chain: witness spends of the first coinbases, mined.
    await spendCoinbases(node, hashes.slice(0, 3));
    await node.mine(1);
    // Addresses of every network for getaddr, known before anyone asks (Core caches its answer).
    assert.ok((await seedAddresses(node)) >= 90, 'addrman took the addresses');
    const known = new Set(
      (await node.rpc<NodeAddress[]>('getnodeaddresses', 0)).map((a) => {
        const v = addrV2Of({ ...a, services: BigInt(a.services) })!;
        return `${v.networkId}|${addrV2ToString(v.networkId, v.addr)}:${a.port}`;
      }),
    );
    mimic = await startMimicObserver(node, { v2, externalAddresses: [EXTERNAL] });

    // 1. Handshake: version fields, and every message around verack, in order.
    const hs = await both(node, mimic, async (port) => {
      const p = await open(port);
      const t0 = performance.now();
      await p.handshake();
      // feefilter is the last of SendMessages' first round; then a moment for anything that would follow.
      await p.first('feefilter', t0, 15_000);
      await sleep(800);
      return { all: p.since(t0), p };
    });
    const coreVersion = hs.core.all.find((m) => m.command === 'version')!;
    const ourVersion = hs.mimic.all.find((m) => m.command === 'version')!;
    assert.equal(stable(ourVersion), stable(coreVersion), 'version message fields');
    assert.equal(hex(ourVersion).length, hex(coreVersion).length, 'version message length');
    if (ourVersion.command === 'version' && coreVersion.command === 'version' && !('unknown' in ourVersion) && !('unknown' in coreVersion))
      assert.ok(Math.abs(Number(ourVersion.payload.timestamp - coreVersion.payload.timestamp)) <= 2, 'version timestamp');
    // NODE_P2P_V2 (1 << 11) exactly when the connection's node speaks v2 (Core: -v2transport; we: config.v2).
    if (coreVersion.command === 'version' && !('unknown' in coreVersion))
      assert.equal((coreVersion.payload.services & 2048n) !== 0n, v2, 'Core advertises NODE_P2P_V2 iff -v2transport=1');
    assert.deepEqual(hs.mimic.all.map(stable), hs.core.all.map(stable), 'messages around verack, in order');
    // The fee filter: Core's FeeFilterRounder output for the same mempool minimum (randomised: either
    // the min relay fee or the first bucket above it).
    const feefilters = [hs.core.all, hs.mimic.all].map((l) => l.find((m) => m.command === 'feefilter'));
    const allowed = new Set([100n, 107n]); // max(round(100), 100): 100, or the bucket 50·1.1^8 = 107.17 truncated
    for (const f of feefilters) {
      assert.ok(f && f.command === 'feefilter' && !('unknown' in f), 'a feefilter');
      assert.ok(allowed.has(f.payload.feeRate), `feefilter ${f.payload.feeRate}`);
    }

    // 2. getheaders from genesis; 3. getblocks from genesis.
    const genesis = hexToHash(await node.rpc<string>('getblockhash', 0));
    const chainProbe = (command: 'getheaders' | 'getblocks', answer: string) => async (p: Prober) => {
      const t = performance.now();
      p.send({ command, payload: { version: 70016, locator: [genesis], stop: new Uint8Array(32) } } as Message);
      return stable(await p.first(answer, t));
    };
    const [hsCore, hsMimic] = [hs.core.p, hs.mimic.p];
    assert.equal(
      await chainProbe('getheaders', 'headers')(hsMimic),
      await chainProbe('getheaders', 'headers')(hsCore),
      'getheaders answer',
    );
    assert.equal(await chainProbe('getblocks', 'inv')(hsMimic), await chainProbe('getblocks', 'inv')(hsCore), 'getblocks answer');

    // 4. getdata for the tip block: witness and non-witness; a block with a witness transaction.
    const best = await node.rpc<string>('getbestblockhash');
    for (const type of [INV_TYPE.witnessBlock, INV_TYPE.block]) {
      const ask = async (p: Prober): Promise<string> => {
        const t = performance.now();
        p.send({ command: 'getdata', payload: { items: [{ type, hash: hexToHash(best) }] } });
        return stable(await p.first('block', t));
      };
      assert.equal(await ask(hsMimic), await ask(hsCore), `getdata block type ${type}`);
    }

    // 5. getdata for an unknown transaction: notfound.
    const unknownTx = { type: INV_TYPE.wtx, hash: new Uint8Array(randomBytes(32)) };
    const askTx = async (p: Prober): Promise<string> => {
      const t = performance.now();
      p.send({ command: 'getdata', payload: { items: [unknownTx] } });
      return stable(await p.first('notfound', t));
    };
    assert.equal(await askTx(hsMimic), await askTx(hsCore), 'getdata unknown tx');

    // 5b. A transaction just sent to the backend's mempool, asked for by wtxid: notfound until our next
    // announcement round to the peer (FindTxForGetData), then the tx (with witness); by txid without.
    const fresh = await coinbaseSpend(node, hashes[3]!);
    await node.rpc<string>('sendrawtransaction', Buffer.from(encode(CODECS.tx, fresh)).toString('hex'));
    const freshW = { type: INV_TYPE.wtx, hash: wtxid(fresh) };
    const askOnce = async (p: Prober, item: InvItem): Promise<Message> => {
      const t = performance.now();
      p.send({ command: 'getdata', payload: { items: [item] } });
      for (;;) {
        const m = p.since(t).find((x) => x.command === 'tx' || x.command === 'notfound');
        if (m) return m;
        await sleep(20);
      }
    };
    const [firstCore, firstMimic] = await Promise.all([askOnce(hsCore, freshW), askOnce(hsMimic, freshW)]);
    assert.equal(stable(firstMimic), stable(firstCore), 'getdata for a tx that just entered the mempool');
    assert.equal(firstCore.command, 'notfound');
    const served = async (p: Prober): Promise<string> => {
      const end = performance.now() + 60_000;
      for (;;) {
        const m = await askOnce(p, freshW);
        if (m.command === 'tx') return stable(m);
        if (performance.now() > end) throw new Error('never served');
        await sleep(250);
      }
    };
    const [servedCore, servedMimic] = await Promise.all([served(hsCore), served(hsMimic)]);
    assert.equal(servedMimic, servedCore, 'getdata MSG_WTX for a mempool tx after an announcement round');
    const byTxid = { type: INV_TYPE.tx, hash: txid(fresh) };
    assert.equal(stable(await askOnce(hsMimic, byTxid)), stable(await askOnce(hsCore, byTxid)), 'getdata MSG_TX (no witness)');
    const wrongKind = { type: INV_TYPE.wtx, hash: txid(fresh) }; // a witness tx's txid asked as a wtxid
    assert.equal(stable(await askOnce(hsMimic, wrongKind)), stable(await askOnce(hsCore, wrongKind)), 'MSG_WTX naming a txid');

    // 6. ping: pong with the same nonce.
    const askPing = async (p: Prober): Promise<string> => {
      const t = performance.now();
      p.send({ command: 'ping', payload: { nonce: 0x0102030405060708n } });
      return hex(await p.first('pong', t));
    };
    assert.equal(await askPing(hsMimic), await askPing(hsCore), 'pong');

    // 7. getaddr. To a peer that sent sendaddrv2: addrv2 with 23 % of the known addresses, every network
    // (CConnman::GetAddresses); the same sample to the next requestor (m_addr_response_caches); a second
    // getaddr on one connection ignored; to a peer that did not send sendaddrv2: the same sample's
    // IPv4 and IPv6 entries in addr (IsAddrCompatible).
    const askAddr = async (p: Prober): Promise<{ commands: string[]; keys: string[]; self: boolean }> => {
      const t = performance.now();
      p.send({ command: 'getaddr', payload: {} });
      await sleep(1000);
      const got = p.since(t).filter((m) => m.command !== 'ping');
      const all = got.flatMap(addrKeys);
      // Our own address (AdvertiseLocal) comes last, after the sample: compared apart.
      const self = all.length && all[all.length - 1] === EXTERNAL_KEY ? all.pop() : undefined;
      return { commands: got.map((m) => m.command), keys: all.sort(), self: self !== undefined };
    };
    const firstAddr = await (async () => {
      const [core, mimic] = await Promise.all([askAddr(hsCore), askAddr(hsMimic)]);
      return { core, mimic };
    })();
    assert.deepEqual(firstAddr.mimic.commands, firstAddr.core.commands, 'getaddr answer: messages');
    assert.deepEqual(firstAddr.core.commands, ['addrv2']);
    assert.equal(firstAddr.mimic.self, firstAddr.core.self, 'our own address after the sample (AdvertiseLocal)');
    assert.equal(firstAddr.core.self, true, 'Core advertises its -externalip');
    const expectCount = Math.floor((known.size * 23) / 100);
    for (const [name, r] of Object.entries(firstAddr)) {
      // At most 23 % (Core's answer was seen a few short of it on some runs: AddrMan's selection,
      // whose source is not in our reference; noted in docs/mimic.md).
      assert.ok(r.keys.length <= expectCount && r.keys.length >= expectCount - 4, `${name}: ${r.keys.length}, 23 % of ${known.size}`);
      for (const k of r.keys) assert.ok(known.has(k), `${name}: ${k} is a known address`);
    }
    assert.deepEqual(
      await Promise.all([askAddr(hsCore), askAddr(hsMimic)]).then(([core, mimic]) => ({ core, mimic })),
      { core: { commands: [], keys: [], self: false }, mimic: { commands: [], keys: [], self: false } },
      'a second getaddr on the same connection',
    );
    const requestor = (addrv2: boolean) => async (port: number) => {
      const p = await open(port);
      await p.handshake({}, { addrv2 });
      await p.first('feefilter');
      return { ...(await askAddr(p)), p };
    };
    const [again, v1Addr] = await Promise.all([both(node, mimic, requestor(true)), both(node, mimic, requestor(false))]);
    assert.deepEqual(again.core.keys, firstAddr.core.keys, 'Core: the same sample to the next requestor');
    assert.deepEqual(again.mimic.keys, firstAddr.mimic.keys, 'mimic: the same sample to the next requestor');
    for (const [name, first] of Object.entries(firstAddr)) {
      const r = v1Addr[name as 'core' | 'mimic'];
      const v1Keys = first.keys.filter((k) => k.startsWith('1|') || k.startsWith('2|'));
      assert.deepEqual(r.commands, ['addr'], `${name}: addr to a peer without sendaddrv2`);
      assert.equal(r.self, true, `${name}: our own address to a peer without sendaddrv2`);
      assert.equal(again[name as 'core' | 'mimic'].self, true, `${name}: our own address to the next requestor`);
      assert.deepEqual(r.keys, v1Keys, `${name}: the IPv4 and IPv6 entries of the sample`);
    }

    // 8. An announced transaction: requested after Core's inbound delay, by wtxid. Announced with it, the
    // witness transaction of 5b, which the backend's mempool has: not requested (AlreadyHaveTx by wtxid).
    const announced = new Uint8Array(randomBytes(32));
    // The unknown one is announced on a second connection too: one getdata across both (TxRequestTracker;
    // Core picks the connection by a random priority, so which one is not compared).
    const ann = await both(node, mimic, async (port) => {
      const [p, q] = port === node.port ? [hsCore, again.core.p] : [hsMimic, again.mimic.p];
      const t = performance.now();
      p.send({ command: 'inv', payload: { items: [freshW, { type: INV_TYPE.wtx, hash: announced }] } });
      q.send({ command: 'inv', payload: { items: [{ type: INV_TYPE.wtx, hash: announced }] } });
      const first = await Promise.any([p.first('getdata', t, 8000), q.first('getdata', t, 8000)]);
      const delay = performance.now() - t;
      await sleep(1000);
      const all = [...p.since(t), ...q.since(t)].filter((m) => m.command === 'getdata');
      return { m: stable(first), delay, requests: all.length };
    });
    assert.deepEqual([ann.mimic.requests, ann.core.requests], [1, 1], 'one request across two announcers');
    assert.equal(ann.mimic.m, ann.core.m, 'getdata for the announced tx');
    assert.equal(ann.core.m, stable({ command: 'getdata', payload: { items: [{ type: INV_TYPE.wtx, hash: announced }] } }));
    assert.ok(ann.mimic.delay >= 1900 && ann.core.delay >= 1900, `both wait NONPREF_PEER_TX_DELAY: ${ann.mimic.delay}, ${ann.core.delay}`);

    // 9. The announcement after the backend mines a block: headers to a sendheaders peer that has our tip, inv to the others.
    const hp = await both(node, mimic, async (port) => {
      const p = await open(port);
      await p.handshake();
      await p.first('feefilter');
      p.send({ command: 'sendheaders', payload: {} });
      const t = performance.now();
      p.send({ command: 'getheaders', payload: { version: 70016, locator: [hexToHash(best)], stop: new Uint8Array(32) } });
      await p.first('headers', t);
      return p;
    });
    const t9 = performance.now();
    const [mined] = await node.mine(1);
    for (const [name, p] of [
      ['headers', hp],
      ['inv', { core: hsCore, mimic: hsMimic }],
    ] as const) {
      const [a, b] = await Promise.all([p.core.first(name, t9), p.mimic.first(name, t9)]);
      assert.equal(stable(b), stable(a), `announcement of ${mined} by ${name}`);
    }

    // 9b. The transaction of probe 5b is now in the tip block: still served (m_most_recent_block_txs).
    assert.equal(stable(await askOnce(hsMimic, freshW)), stable(await askOnce(hsCore, freshW)), 'getdata for a tx of the tip block');

    // 10. mempool without NODE_BLOOM: disconnect.
    const mp = await both(node, mimic, async (port) => {
      const p = await open(port);
      await p.handshake();
      p.send({ command: 'mempool', payload: {} });
      await Promise.race([p.peer.closed, sleep(3000)]);
      return p.closed;
    });
    assert.deepEqual(mp.mimic, mp.core, 'mempool request');
    assert.equal(mp.core, true);

    // 11. An obsolete protocol version: disconnected, nothing sent.
    const old = await both(node, mimic, async (port) => {
      const p = await open(port);
      p.send({ command: 'version', payload: { ...(await import('../helpers.js')).versionMessage({ version: 31799 }).payload } as never });
      await Promise.race([p.peer.closed, sleep(3000)]);
      return { closed: p.closed, got: p.commands() };
    });
    assert.deepEqual(old.mimic, old.core, 'obsolete version');

    // 12. A message before version: ignored, the connection stays and the handshake still works.
    const early = await both(node, mimic, async (port) => {
      const p = await open(port);
      p.send({ command: 'ping', payload: { nonce: 7n } });
      await sleep(700);
      const before = p.commands();
      await p.handshake();
      return { before, closed: p.closed };
    });
    assert.deepEqual(early.mimic, early.core, 'message before version');

    if (v2) await v2Probes(node, mimic, hs);
  } finally {
    for (const p of probers) p.close();
    await mimic?.stop();
    await node.stop();
  }
}

/** What only the v2 layer shows. */
async function v2Probes(
  core: Bitcoind,
  mimic: MimicHarness,
  hs: { core: { all: Message[]; p: Prober }; mimic: { all: Message[]; p: Prober } },
): Promise<void> {
  // 13. The responder's side of the handshake: no decoys, an empty version packet, garbage
  // within BIP324's bound (random length: not compared), and every message type as
  // BIP324's one-byte id where it has one.
  const [a, b] = [v2Layer(hs.core.p), v2Layer(hs.mimic.p)];
  assert.equal(b.decoys, a.decoys, 'decoys before the version packet');
  assert.equal(a.decoys, 0);
  assert.equal(b.versionContents, a.versionContents, 'version packet contents');
  assert.equal(a.versionContents, 0);
  for (const l of [a, b]) assert.ok(l.garbage >= 0 && l.garbage <= MAX_GARBAGE_LEN, `garbage ${l.garbage}`);
  const n = Math.min(a.typeBytes.length, b.typeBytes.length, hs.core.all.length);
  assert.deepEqual(b.typeBytes.slice(0, n), a.typeBytes.slice(0, n), 'message type encodings');

  // 14. An initiator with the most garbage BIP324 allows and decoys around its version
  // packet: both complete the handshake and answer a ping.
  const loud = await both(core, mimic, async (port) => {
    const peer = await V2ProbePeer.connect(port, { garbage: new Uint8Array(randomBytes(MAX_GARBAGE_LEN)), decoys: [0, 100, 4000] });
    try {
      peer.send(versionMessageFor());
      await peer.waitFor('verack', 10_000);
      peer.send({ command: 'verack', payload: {} }, { command: 'ping', payload: { nonce: 9n } });
      const pong = await peer.waitFor('pong', 10_000);
      return hex(pong);
    } finally {
      peer.close();
    }
  });
  assert.equal(loud.mimic, loud.core, 'handshake with maximal garbage and decoys');

  // 15. Our key and garbage without a terminator (4095 + 16 bytes) in one write: both disconnect
  // without sending anything (the read that completes the handshake also ends it).
  const noTerm = await both(core, mimic, async (port) => {
    const t = new V2Transport({ network: REGTEST, initiating: true, garbage: new Uint8Array(0) });
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    let received = 0;
    socket.on('data', (c: Buffer) => (received += c.length));
    const closed = new Promise<boolean>((r) => socket.once('close', () => r(true)));
    socket.write(Buffer.concat([t.start().subarray(0, 64), randomBytes(MAX_GARBAGE_LEN + GARBAGE_TERMINATOR_LEN)]));
    const result = await Promise.race([closed, sleep(3000).then(() => false)]);
    socket.destroy();
    return { closed: result, received };
  });
  assert.deepEqual(noTerm.mimic, noTerm.core, 'garbage without a terminator');
  assert.equal(noTerm.core.closed, true);
}

function versionMessageFor(): Message {
  return {
    command: 'version',
    payload: {
      version: 70016,
      services: 9n | 1024n | 2048n,
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
      receiver: { services: 0n, ip: new Uint8Array(16), port: 0 },
      sender: { services: 0n, ip: new Uint8Array(16), port: 0 },
      nonce: 0x1122_3344_5566_7788n,
      userAgent: '/prober:1.0/',
      startHeight: 0,
      relay: true,
    },
  };
}

describe('mimic fingerprint: the same probes against Bitcoin Core and the mimic backed by it', { skip: bitcoindSkipReason() }, () => {
  it('answers every probe as Core does over v1 (-v2transport=0, a v1-only mimic)', { timeout: 180_000 }, () => fingerprint(false));
  it('answers every probe as Core does over BIP324 v2 (-v2transport=1, a v2 mimic advertising NODE_P2P_V2)', { timeout: 180_000 }, () =>
    fingerprint(true),
  );
});
