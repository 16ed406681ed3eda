/**
 * The mimic must never be an amplifier or a relay, and must outlive its backend:
 * - nothing received from a peer is ever sent to another peer (nor to the backend);
 * - a peer asking for the same block a thousand times, or for every block at once,
 *   hits its byte budget, is refused the way Core refuses past its upload target
 *   (disconnected), counted, and another peer is served meanwhile;
 * - historical blocks past the global budget are refused the same way;
 * - the backend stopped and restarted: peers stay connected and are served from
 *   the cache, the node-health alert fires and clears.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bitcoindSkipReason, startBitcoind } from '../../../helpers/bitcoind.js';
import { encodePayload } from '../../../../src/protocol/messages/index.js';
import { hexToHash, hashToHex } from '../../../../src/protocol/hash.js';
import { txid, wtxid } from '../../../../src/protocol/messages/ids.js';
import { INV_TYPE, type Message } from '../../../../src/protocol/messages/types.js';
import { ipFromString } from '../../../../src/protocol/address.js';
import type { ObserverEvent } from '../../../../src/events/types.js';
import { harness } from '../../../detectors/helpers.js';
import { coinbaseSpend, Prober, sleep, startMimicObserver } from './helpers.js';

const skip = bitcoindSkipReason();

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle));
}

describe('mimic safety', { skip }, () => {
  it('never sends what one peer sent to another peer or to the backend', { timeout: 120_000 }, async () => {
    const node = await startBitcoind({ args: ['-v2transport=0'] });
    const probers: Prober[] = [];
    const mimic = await (async () => {
      await node.mine(110);
      return startMimicObserver(node);
    })();
    try {
      const [a, b] = [await Prober.connect(mimic.port), await Prober.connect(mimic.port)];
      probers.push(a, b);
      await a.handshake();
      await b.handshake();
      await b.first('feefilter');
      b.send({ command: 'sendheaders', payload: {} });
      // What A sends: a valid transaction (announced, requested, delivered), an addr, a fake block and header.
      const tx = await coinbaseSpend(node, await node.rpc<string>('getblockhash', 1));
      const marks = [txid(tx), wtxid(tx)];
      const t = performance.now();
      a.send({ command: 'inv', payload: { items: [{ type: INV_TYPE.wtx, hash: wtxid(tx) }] } });
      const request = await a.first('getdata', t, 8000);
      assert.ok(request.command === 'getdata' && !('unknown' in request) && Buffer.from(request.payload.items[0]!.hash).equals(wtxid(tx)));
      a.send({ command: 'tx', payload: tx });
      const addrIp = ipFromString('203.0.113.77');
      marks.push(addrIp);
      a.send({ command: 'addr', payload: { entries: [{ time: Math.floor(Date.now() / 1000), services: 9n, ip: addrIp, port: 8333 }] } });
      a.send({
        command: 'addrv2',
        payload: { entries: [{ time: Math.floor(Date.now() / 1000), services: 9n, networkId: 1, addr: addrIp.slice(12), port: 8333 }] },
      });
      const fakeRoot = new Uint8Array(randomBytes(32));
      marks.push(fakeRoot);
      const tip = await node.rpc<string>('getbestblockhash');
      const header = {
        version: 0x20000000,
        prevBlock: hexToHash(tip),
        merkleRoot: fakeRoot,
        time: Math.floor(Date.now() / 1000),
        bits: 0x207fffff,
        nonce: 1,
      };
      a.send({ command: 'headers', payload: { headers: [header] } });
      a.send({ command: 'block', payload: { header, txs: [tx] } });
      a.send({ command: 'inv', payload: { items: [{ type: INV_TYPE.block, hash: fakeRoot }] } });
      // B asks for everything it could get: the tx by both ids, addresses, the mempool's content.
      const bAsked: Message = {
        command: 'notfound',
        payload: {
          items: [
            { type: INV_TYPE.wtx, hash: wtxid(tx) },
            { type: INV_TYPE.witnessTx, hash: txid(tx) },
          ],
        },
      };
      b.send({
        command: 'getdata',
        payload: {
          items: [
            { type: INV_TYPE.wtx, hash: wtxid(tx) },
            { type: INV_TYPE.witnessTx, hash: txid(tx) },
          ],
        },
      });
      b.send({ command: 'getaddr', payload: {} });
      // And the backend mines, so B gets announcements (of the backend's block only).
      await sleep(500);
      await node.mine(1);
      await b.first('inv', t, 5000); // B has no header from us, so not headers (PeerHasHeader), as Core
      await sleep(1500);
      const got = b.since(0);
      assert.ok(
        got.some((m) => m.command === 'notfound'),
        'the tx B asked for is not found: A sent it, the backend does not have it',
      );
      for (const m of got) {
        // notfound echoes B's own request (the ids B asked for), nothing of A's.
        if (m.command === 'notfound') {
          assert.equal(Buffer.from(encodePayload(m)).toString('hex'), Buffer.from(encodePayload(bAsked)).toString('hex'));
          continue;
        }
        const bytes = encodePayload(m);
        for (const mark of marks) assert.ok(!contains(bytes, mark), `B received ${m.command} carrying bytes A sent`);
      }
      const mempool = await node.rpc<string[]>('getrawmempool');
      assert.ok(!mempool.includes(hashToHex(txid(tx))), 'the backend never got the tx');
      assert.equal(mimic.log.of('message', (e) => e.data.dir === 'in' && e.data.command === 'tx').length, 1, 'the tx was recorded');
    } finally {
      for (const p of probers) p.close();
      await mimic.stop();
      await node.stop();
    }
  });

  it('a peer asking for one block 1000 times or for every block hits the budget; others are served', { timeout: 120_000 }, async () => {
    const node = await startBitcoind({ args: ['-v2transport=0'] });
    // 60 blocks a month old (historical, past a week), then recent ones.
    await node.rpc('setmocktime', Math.floor(Date.now() / 1000) - 30 * 86_400);
    const old = await node.mine(60);
    await node.rpc('setmocktime', 0);
    const recent = await node.mine(60);
    const mimic = await startMimicObserver(node, { budget: { perPeerBytes: 40_000, globalBytes: 6_000, windowMs: 86_400_000 } });
    const probers: Prober[] = [];
    try {
      const connect = async (): Promise<Prober> => {
        const p = await Prober.connect(mimic.port);
        probers.push(p);
        await p.handshake();
        await p.first('feefilter');
        return p;
      };
      const [same, every, honest] = [await connect(), await connect(), await connect()];
      const tip = recent[recent.length - 1]!;
      const sameItems = Array.from({ length: 1000 }, () => ({ type: INV_TYPE.witnessBlock, hash: hexToHash(tip) }));
      same.send({ command: 'getdata', payload: { items: sameItems } });
      every.send({ command: 'getdata', payload: { items: recent.map((h) => ({ type: INV_TYPE.witnessBlock, hash: hexToHash(h) })) } });
      every.send({
        command: 'getdata',
        payload: { items: recent.concat(recent, recent, recent).map((h) => ({ type: INV_TYPE.witnessBlock, hash: hexToHash(h) })) },
      });
      // Meanwhile an honest peer asks for the tip and pings: answered.
      const t = performance.now();
      honest.send({ command: 'getdata', payload: { items: [{ type: INV_TYPE.witnessBlock, hash: hexToHash(tip) }] } });
      honest.send({ command: 'ping', payload: { nonce: 99n } });
      const blockMsg = await honest.first('block', t, 10_000);
      await honest.first('pong', t, 10_000);
      assert.equal(blockMsg.command, 'block');
      await Promise.all([same.peer.closed, every.peer.closed]);
      const blocksTo = (p: Prober): number => p.since(0).filter((m: Message) => m.command === 'block').length;
      assert.ok(blocksTo(same) < 1000 && blocksTo(same) > 0, `same-block flooder got ${blocksTo(same)} blocks before the budget`);
      assert.ok(blocksTo(every) < 240, `every-block flooder got ${blocksTo(every)}`);
      const closes = mimic.log.of('connection.closed', (e) => e.data.reason === 'limit');
      assert.equal(closes.length, 2, 'both flooders refused');
      assert.ok(closes.every((e) => /budget/.test(e.data.detail)));
      assert.ok(!honest.closed, 'the honest peer stays');
      // Historical blocks past the global budget: the next asker is refused too, recent blocks still served.
      const late = await connect();
      late.send({
        command: 'getdata',
        payload: { items: old.slice(0, 40).map((h) => ({ type: INV_TYPE.witnessBlock, hash: hexToHash(h) })) },
      });
      await late.peer.closed;
      const stats = mimic.mimic.node.stats();
      assert.ok(stats['budget.refusedPeer']! >= 2, JSON.stringify(stats));
      assert.ok(stats['budget.refusedGlobal']! >= 1, JSON.stringify(stats));
      assert.equal(stats.budgetRefusals, stats['budget.refusedPeer']! + stats['budget.refusedGlobal']!);
      const t2 = performance.now();
      honest.send({ command: 'getdata', payload: { items: [{ type: INV_TYPE.witnessBlock, hash: hexToHash(tip) }] } });
      await honest.first('block', t2, 10_000);
    } finally {
      for (const p of probers) p.close();
      await mimic.stop();
      await node.stop();
    }
  });

  it('backend stopped and restarted: peers stay, cached answers go on, the alert fires and clears', { timeout: 180_000 }, async () => {
    let node = await startBitcoind({ args: ['-v2transport=0'] });
    const hashes = await node.mine(110);
    const mimic = await startMimicObserver(node, { pollMs: 200 });
    const probers: Prober[] = [];
    try {
      const p = await Prober.connect(mimic.port);
      probers.push(p);
      await p.handshake();
      await p.first('feefilter');
      const tip = hashes[hashes.length - 1]!;
      const t0 = performance.now();
      p.send({ command: 'getdata', payload: { items: [{ type: INV_TYPE.witnessBlock, hash: hexToHash(tip) }] } });
      const before = await p.first('block', t0);

      await node.stop({ keepData: true });
      await mimic.log.waitFor('rpc.status', (e) => e.data.state === 'down', 10_000);
      // Served from the cache while the backend is gone; pings answered; the peer stays.
      const t1 = performance.now();
      p.send({ command: 'getdata', payload: { items: [{ type: INV_TYPE.witnessBlock, hash: hexToHash(tip) }] } });
      p.send({ command: 'ping', payload: { nonce: 5n } });
      const cached = await p.first('block', t1);
      assert.deepEqual(encodePayload(cached), encodePayload(before));
      await p.first('pong', t1);
      await sleep(1500);
      assert.ok(!p.closed);

      node = await node.restart();
      await mimic.log.waitFor('rpc.status', (e) => e.data.state === 'up', 20_000);
      const [mined] = await node.mine(1);
      const t2 = performance.now();
      const ann = await p.first('inv', t2, 10_000);
      assert.ok(
        ann.command === 'inv' && !('unknown' in ann) && hashToHex(ann.payload.items[0]!.hash) === mined,
        'new tips announced again',
      );
      assert.ok(!p.closed);

      // The node-health alert: raised on the rpc.status the mimic emitted, cleared once it is up and quiet.
      const h = harness({}, { quietMs: 1000 });
      const statuses = mimic.log.of('rpc.status') as ObserverEvent[];
      const down = statuses.find((e) => e.type === 'rpc.status' && e.data.state === 'down')!;
      const up = statuses.find((e) => e.type === 'rpc.status' && e.data.state === 'up')!;
      h.feed([down]);
      h.engine.tick(down.timeUs + 500_000);
      const raised = h.manager.store.alerts().filter((a) => a.detector === 'node-health');
      assert.equal(raised.length, 1);
      assert.equal(raised[0]!.severity, 'critical');
      assert.equal(raised[0]!.status, 'active');
      h.feed([up]);
      h.engine.tick(up.timeUs + 5_000_000);
      assert.equal(h.manager.store.alerts().filter((a) => a.detector === 'node-health')[0]!.status, 'resolved');
    } finally {
      for (const p of probers) p.close();
      await mimic.stop();
      await node.stop();
    }
  });
});
