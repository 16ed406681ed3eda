/**
 * A real node syncs through us: a fresh Bitcoin Core whose only peer is the
 * mimic honeypot syncs the backend's regtest chain (300+ blocks with
 * transactions) through it, stays connected while the backend mines more, logs
 * no misbehaviour or stalling, and every message of the session is in our
 * events (byte for byte, per command, against its getpeerinfo counters).
 *
 * MIMIC_SYNC_SECONDS sets how long it stays connected while blocks are mined
 * (default 60 s for CI; docs/mimic.md has a 10-minute run).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bitcoindSkipReason, misbehaviourLines, startBitcoind, type Bitcoind } from '../../../helpers/bitcoind.js';
import { sleep, spendCoinbases, startMimicObserver, type MimicHarness } from './helpers.js';

const SECONDS = Number(process.env.MIMIC_SYNC_SECONDS ?? 60);

describe('a real node syncs through the mimic', { skip: bitcoindSkipReason() }, () => {
  it(
    `syncs 300+ blocks with transactions and stays ${SECONDS} s while the backend mines`,
    { timeout: (SECONDS + 240) * 1000 },
    async () => {
      const backend = await startBitcoind({ args: ['-v2transport=0'] });
      let fresh: Bitcoind | undefined;
      let mimic: MimicHarness | undefined;
      try {
        const first = await backend.mine(200);
        await spendCoinbases(backend, first.slice(0, 40));
        const middle = await backend.mine(1);
        await spendCoinbases(backend, first.slice(40, 80));
        const rest = await backend.mine(100);
        assert.equal(await backend.rpc<number>('getblockcount'), 301);
        // Every block by height - 1; the loop below spends one coinbase per block, always 100+ deep.
        const all = [...first, ...middle, ...rest];
        mimic = await startMimicObserver(backend);

        fresh = await startBitcoind({ args: ['-v2transport=0'] });
        await fresh.rpc('addnode', `127.0.0.1:${mimic.port}`, 'onetry');
        const deadline = Date.now() + 120_000;
        while ((await fresh.rpc<number>('getblockcount')) < 301) {
          if (Date.now() > deadline) throw new Error(`fresh node stuck at ${await fresh.rpc<number>('getblockcount')}`);
          await sleep(250);
        }
        assert.equal(await fresh.rpc<string>('getbestblockhash'), rest[rest.length - 1]);

        // Stay connected while the backend mines, with a transaction in every block.
        const end = Date.now() + SECONDS * 1000;
        const stayFrom = mimic.log.events.length;
        let spendFrom = 80;
        while (Date.now() < end) {
          const [txid] = await spendCoinbases(backend, all.slice(spendFrom, spendFrom + 1));
          // The fresh node gets the transaction too (from the backend's mempool over RPC, never from us), so it can
          // rebuild our compact block from its mempool: our short ids must be Core's (no getblocktxn then).
          await fresh.rpc('sendrawtransaction', await backend.rpc<string>('getrawtransaction', txid));
          spendFrom++;
          const [h] = await backend.mine(1);
          all.push(h!);
          const t = Date.now();
          while ((await fresh.rpc<string>('getbestblockhash')) !== h) {
            if (Date.now() - t > 20_000) throw new Error(`fresh node did not follow to ${h}`);
            await sleep(100);
          }
          await sleep(Math.min(2000, Math.max(0, end - Date.now())));
        }
        assert.equal(await fresh.rpc<string>('getbestblockhash'), await backend.rpc<string>('getbestblockhash'));
        const peers = await fresh.peers();
        assert.equal(peers.length, 1, 'still connected to the mimic');
        assert.equal(misbehaviourLines(fresh.log()).length, 0, misbehaviourLines(fresh.log()).join('\n'));

        // Every message of the session is in our events: per command, bytes and direction match Core's counters.
        await sleep(1500);
        const info = (await fresh.peers())[0]!;
        const ours: { in: Record<string, number>; out: Record<string, number> } = { in: {}, out: {} };
        for (const e of mimic.log.of('message'))
          ours[e.data.dir][e.data.command] = (ours[e.data.dir][e.data.command] ?? 0) + e.data.size + 24;
        const tolerant = new Set(['ping', 'pong']); // one may be in flight at the snapshot
        for (const [command, bytes] of Object.entries(info.bytessent_per_msg)) {
          if (tolerant.has(command)) assert.ok(Math.abs((ours.in[command] ?? 0) - bytes) <= 32, command);
          else assert.equal(ours.in[command] ?? 0, bytes, `${command} bytes the node sent us`);
        }
        for (const [command, bytes] of Object.entries(info.bytesrecv_per_msg)) {
          if (tolerant.has(command)) assert.ok(Math.abs((ours.out[command] ?? 0) - bytes) <= 32, command);
          else assert.equal(ours.out[command] ?? 0, bytes, `${command} bytes we sent the node`);
        }
        assert.ok((info.bytesrecv_per_msg.block ?? 0) > 0);
        const stay = mimic.log.events.slice(stayFrom).filter((e) => e.type === 'message');
        const cmpct = stay.filter((e) => e.type === 'message' && e.data.dir === 'out' && e.data.command === 'cmpctblock').length;
        const blocktxn = stay.filter((e) => e.type === 'message' && e.data.dir === 'in' && e.data.command === 'getblocktxn').length;
        assert.ok(cmpct > 0, 'new blocks went out as compact blocks');
        assert.equal(blocktxn, 0, 'Core rebuilt every compact block from its mempool: our short ids are its short ids');
        console.log(
          `synced ${await fresh.rpc<number>('getblockcount')} blocks; stayed ${SECONDS} s; mimic: ${JSON.stringify(mimic.mimic.node.stats())}`,
        );
      } finally {
        await fresh?.stop();
        await mimic?.stop();
        await backend.stop();
      }
    },
  );
});
