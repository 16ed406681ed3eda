/**
 * The fingerprint test: the same scripted probes against a real Bitcoin Core and
 * against the mimic honeypot backed by that same node; every difference a spy
 * could see is a failing assertion. The probe list is in docs/mimic.md.
 *
 * The node runs with -v2transport=0: our node speaks v1 only today, so a
 * v2-capable backend's NODE_P2P_V2 is (rightly) not advertised by us, and the
 * comparison is against Core as it would present itself without v2.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bitcoindSkipReason, startBitcoind, type Bitcoind } from '../../../helpers/bitcoind.js';
import { encodePayload } from '../../../../src/protocol/messages/index.js';
import { hexToHash } from '../../../../src/protocol/hash.js';
import { INV_TYPE, type Message } from '../../../../src/protocol/messages/types.js';
import { Prober, sleep, spendCoinbases, startMimicObserver, type MimicHarness } from './helpers.js';

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

describe('mimic fingerprint: the same probes against Bitcoin Core and the mimic backed by it', { skip: bitcoindSkipReason() }, () => {
  it('answers every probe as Core does', { timeout: 180_000 }, async () => {
    const node = await startBitcoind({ args: ['-v2transport=0'] });
    let mimic: MimicHarness | undefined;
    const probers: Prober[] = [];
    const open = async (port: number): Promise<Prober> => {
      const p = await Prober.connect(port);
      probers.push(p);
      return p;
    };
    try {
      const hashes = await node.mine(120);
      // Transactions in the chain: witness spends of the first coinbases, mined.
      await spendCoinbases(node, hashes.slice(0, 3));
      await node.mine(1);
      mimic = await startMimicObserver(node);

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
      if (
        ourVersion.command === 'version' &&
        coreVersion.command === 'version' &&
        !('unknown' in ourVersion) &&
        !('unknown' in coreVersion)
      )
        assert.ok(Math.abs(Number(ourVersion.payload.timestamp - coreVersion.payload.timestamp)) <= 2, 'version timestamp');
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

      // 6. ping: pong with the same nonce.
      const askPing = async (p: Prober): Promise<string> => {
        const t = performance.now();
        p.send({ command: 'ping', payload: { nonce: 0x0102030405060708n } });
        return hex(await p.first('pong', t));
      };
      assert.equal(await askPing(hsMimic), await askPing(hsCore), 'pong');

      // 7. getaddr: what comes back within a second (regtest: nothing), and a second one is ignored.
      const askAddr = async (p: Prober): Promise<string[]> => {
        const t = performance.now();
        p.send({ command: 'getaddr', payload: {} });
        await sleep(1000);
        return p
          .since(t)
          .map(stable)
          .filter((c) => c !== 'ping');
      };
      assert.deepEqual(await askAddr(hsMimic), await askAddr(hsCore), 'getaddr answer');

      // 8. An announced transaction: requested after Core's inbound delay, by wtxid.
      const announced = new Uint8Array(randomBytes(32));
      const ann = await both(node, mimic, async (port) => {
        const p = port === node.port ? hsCore : hsMimic;
        void port;
        const t = performance.now();
        p.send({ command: 'inv', payload: { items: [{ type: INV_TYPE.wtx, hash: announced }] } });
        const m = await p.first('getdata', t, 8000);
        return { m: stable(m), delay: performance.now() - t };
      });
      assert.equal(ann.mimic.m, ann.core.m, 'getdata for the announced tx');
      assert.ok(
        ann.mimic.delay >= 1900 && ann.core.delay >= 1900,
        `both wait NONPREF_PEER_TX_DELAY: ${ann.mimic.delay}, ${ann.core.delay}`,
      );

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
    } finally {
      for (const p of probers) p.close();
      await mimic?.stop();
      await node.stop();
    }
  });
});
