/**
 * The Core sources (rpc, log, usdt) on a real bitcoind: python-bitcoinlib and
 * simulator peers talk to the node; each source must report their connections
 * with the addresses and counts the node's own getpeerinfo shows, and the usdt
 * (and log) message events of a scripted exchange must add up, command by
 * command, to getpeerinfo's bytesrecv_per_msg / bytessent_per_msg. One node and
 * one set of sources for the file: the tests run in order on it.
 *
 * usdt needs root (bpftrace attaches for real); without it the usdt parts are
 * skipped with the reason.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ObserverEvent } from '../../src/events/types.js';
import { createHash } from 'node:crypto';
import { hashToHex, hexToHash } from '../../src/protocol/hash.js';
import { txid } from '../../src/protocol/messages/ids.js';
import { serializeTx } from '../../src/protocol/messages/tx.js';
import type { Tx } from '../../src/protocol/messages/types.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { runSimulation } from '../../src/simulate/runner.js';
import { bitcoindSkipReason, startBitcoind, type Bitcoind, type PeerInfo } from '../helpers/bitcoind.js';
import { CoreWatch, open, usdtSkipReason, waitFor } from './watch.js';

const PY_PEER = join(import.meta.dirname, 'python_peer.py');
const HEADER = 24;

function pythonPeer(port: number, source: string): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn('/usr/bin/python3', [PY_PEER, String(port), source]);
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`python peer exited (${code}): ${err}`)));
  });
}

/** Per command, the bytes Core counts for `events` (payload + the 24-byte v1 header). */
function bytesPerCommand(events: ObserverEvent[], dir: 'in' | 'out', peerId: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events)
    if (e.type === 'message' && e.data.dir === dir && e.data.conn.id === peerId)
      out[e.data.command] = (out[e.data.command] ?? 0) + e.data.size + HEADER;
  return out;
}

describe('Core sources on a real bitcoind', { skip: bitcoindSkipReason(), timeout: 120_000 }, () => {
  let node: Bitcoind;
  let watch: CoreWatch;
  const usdtSkip = usdtSkipReason();

  before(async () => {
    node = await startBitcoind();
    watch = await CoreWatch.start(node, { usdt: usdtSkip === undefined });
  });
  after(async () => {
    await watch?.stop();
    await node?.stop();
  });

  let py: ChildProcessWithoutNullStreams[] = [];
  let sim: Promise<unknown> | undefined;
  const simStop = new AbortController();
  let live: PeerInfo[] = [];

  it('each source reports the python and simulator peers getpeerinfo shows, with the same addresses and counts', async () => {
    py = await Promise.all([pythonPeer(node.port, '127.44.0.1'), pythonPeer(node.port, '127.44.0.2')]);
    sim = runSimulation({
      network: NETWORKS.regtest,
      target: { host: '127.0.0.1', port: node.port },
      scenario: 'honest',
      peers: 2,
      rate: 2,
      signal: simStop.signal,
    });
    live = await node.waitForPeers((ps) => ps.length === 4 && ps.every((p) => p.version > 0), '2 python + 2 simulator peers');
    const expected = live.map((p) => `${p.id} ${p.addr}`).sort();
    assert.deepEqual(live.map((p) => p.addr.split(':')[0]).sort(), ['127.10.0.1', '127.10.0.2', '127.44.0.1', '127.44.0.2']);
    for (const source of watch.sources()) {
      await waitFor(
        () =>
          open(watch.events(source))
            .map((c) => `${c.id} ${c.remote}`)
            .sort()
            .join() === expected.join(),
        `${source}: the open connections`,
        10_000,
      ).catch(() =>
        assert.deepEqual(
          open(watch.events(source))
            .map((c) => `${c.id} ${c.remote}`)
            .sort(),
          expected,
          `${source}'s open connections`,
        ),
      );
      // Inbound, as getpeerinfo says.
      for (const c of open(watch.events(source))) assert.equal(c.direction, 'inbound', `${source} ${c.remote}`);
    }
    // Handshakes: log says so per peer ("New inbound peer connected"), usdt sees each peer's verack.
    await waitFor(
      () => live.every((p) => watch.events('log').some((e) => e.type === 'handshake.complete' && e.data.conn.id === p.id)),
      'log: a handshake.complete for each peer',
    );
    if (watch.has('usdt'))
      for (const p of live)
        assert.ok(
          watch
            .events('usdt')
            .some((e) => e.type === 'message' && e.data.conn.id === p.id && e.data.dir === 'in' && e.data.command === 'verack'),
          `usdt: peer ${p.id}'s verack`,
        );
    // The versions as each source read them: the user agent, version and start height getpeerinfo shows.
    for (const p of live) {
      const fromLog = watch.events('log').find((e) => e.type === 'handshake.complete' && e.data.conn.id === p.id);
      assert.ok(fromLog && fromLog.type === 'handshake.complete');
      assert.deepEqual([fromLog.data.userAgent, fromLog.data.version, fromLog.data.startHeight], [p.subver, p.version, p.startingheight]);
      if (!watch.has('usdt')) continue;
      const fromTrace = watch.events('usdt').find((e) => e.type === 'handshake.version' && e.data.conn.id === p.id);
      assert.ok(fromTrace && fromTrace.type === 'handshake.version', `usdt: peer ${p.id}'s version`);
      assert.deepEqual(
        [fromTrace.data.userAgent, fromTrace.data.version, fromTrace.data.startHeight],
        [p.subver, p.version, p.startingheight],
      );
    }
    // rpc: its peer.stats carry getpeerinfo's own user agents.
    await waitFor(
      () =>
        live.every((p) =>
          watch.events('rpc').some((e) => e.type === 'peer.stats' && e.data.conn.id === p.id && e.data.userAgent === p.subver),
        ),
      'rpc: peer.stats with the user agents',
    );
  });

  it('usdt and log messages of the python peers equal bytesrecv_per_msg / bytessent_per_msg, command by command', async () => {
    const pyPeers = live.filter((p) => p.addr.startsWith('127.44.'));
    assert.equal(pyPeers.length, 2);
    for (const source of watch.sources().filter((s) => s !== 'rpc')) {
      for (const p of pyPeers) {
        // Core may still be sending (its trickled addr, feefilter): compare once both sides are still.
        type Counts = { in: Record<string, number>; out: Record<string, number> };
        let last: [Counts | null, Counts | null] = [null, null];
        await waitFor(
          async () => {
            const info = (await node.peers()).find((x) => x.id === p.id)!;
            const mine = { in: bytesPerCommand(watch.events(source), 'in', p.id), out: bytesPerCommand(watch.events(source), 'out', p.id) };
            const core = { in: info.bytesrecv_per_msg, out: info.bytessent_per_msg };
            last = [mine, core];
            return JSON.stringify(sortKeys(mine)) === JSON.stringify(sortKeys(core));
          },
          `${source}: peer ${p.id}'s messages`,
          10_000,
        ).catch(() => assert.deepEqual(last[0], last[1], `${source}: peer ${p.id}'s bytes per command`));
      }
    }
    // The scripted exchange itself, as python-bitcoinlib sent it, decoded by our codec from the trace.
    if (watch.has('usdt')) {
      const p = pyPeers[0]!;
      const msgs = watch.events('usdt').filter((e) => e.type === 'message' && e.data.conn.id === p.id && e.data.dir === 'in');
      assert.deepEqual(
        msgs.map((e) => e.type === 'message' && e.data.command),
        ['version', 'verack', 'ping', 'getaddr'],
      );
      const [version, , ping] = msgs.map((e) => (e.type === 'message' ? e.data.payload : null)) as Record<string, unknown>[];
      assert.equal(version!['userAgent'], '/python-bitcoinlib-peer:0.1/');
      assert.equal(version!['version'], 70016);
      assert.equal(ping!['nonce'], String(0x1234));
    }
  });

  it("rpc reads every answer of Core v30's getpeerinfo and node-wide RPCs", async () => {
    await waitFor(() => watch.events('rpc').some((e) => e.type === 'node.status'), 'rpc: node.status');
    const stats = watch.rpcStats()!;
    assert.equal(stats.invalidAnswers, 0);
    assert.deepEqual(stats.unsupported, []);
    const status = watch.events('rpc').findLast((e) => e.type === 'node.status');
    assert.ok(status && status.type === 'node.status');
    const info = await node.rpc<{ blocks: number }>('getblockchaininfo');
    assert.equal(status.data.chain, 'regtest');
    assert.ok(status.data.blocks !== null && status.data.blocks <= info.blocks);
    for (const k of ['connections', 'mempool', 'addrman', 'uptimeSec', 'totalBytesIn', 'version'] as const)
      assert.notEqual(status.data[k], null, k);
  });

  it('each source reports the closings', async () => {
    for (const c of py) c.stdin.end();
    simStop.abort();
    await sim;
    await node.waitForPeers((ps) => ps.length === 0, 'all peers gone');
    for (const source of watch.sources()) {
      await waitFor(() => open(watch.events(source)).length === 0, `${source}: every connection closed`, 10_000);
      const closed = watch
        .events(source)
        .filter((e) => e.type === 'connection.closed')
        .map((e) => e.type === 'connection.closed' && `${e.data.conn.id} ${e.data.conn.remote}`);
      for (const p of live) assert.ok(closed.includes(`${p.id} ${p.addr}`), `${source} closed ${p.id} ${p.addr}`);
    }
  });

  it(
    'usdt: mempool added, replaced (with the replacement fee, arg6, read from the stack), removed and rejected',
    { skip: usdtSkip },
    async () => {
      // A mature coinbase paying OP_TRUE: block 1's, after 100 more.
      await node.mine(101);
      const block1 = await node.rpc<{ tx: { txid: string; vout: { value: number }[] }[] }>(
        'getblock',
        await node.rpc('getblockhash', 1),
        2,
      );
      const coinbase = block1.tx[0]!;
      const value = BigInt(Math.round(coinbase.vout[0]!.value * 1e8));
      const first = spendOpTrue(coinbase.txid, value, 1000n);
      const second = spendOpTrue(coinbase.txid, value, 5000n);
      const third = spendOpTrue(coinbase.txid, value, 2000n);
      assert.equal(await node.rpc('sendrawtransaction', first.hex), first.txid);
      assert.equal(await node.rpc('sendrawtransaction', second.hex), second.txid);
      await assert.rejects(node.rpc('sendrawtransaction', third.hex), /insufficient fee/);
      const entry = await node.rpc<{ vsize: number }>('getmempoolentry', second.txid);
      const mempool = () => watch.events('usdt').flatMap((e) => (e.type === 'mempool.tx' ? [e.data] : []));
      // The simulator peers relay transactions of their own, which Core may reject too: ours is found by txid.
      await waitFor(() => mempool().some((m) => m.action === 'rejected' && m.txid === third.txid), 'usdt: mempool:rejected');
      const seen = mempool();
      const ours = new Set([first.txid, second.txid, third.txid]);
      assert.deepEqual(
        seen.filter((m) => m.action === 'accepted' && ours.has(m.txid)).map((m) => [m.txid, m.feeSat]),
        [
          [first.txid, '1000'],
          [second.txid, '5000'],
        ],
      );
      const replaced = seen.find((m) => m.action === 'replaced')!;
      assert.deepEqual(
        [replaced.txid, replaced.feeSat, replaced.replacedBy, replaced.replacement],
        [first.txid, '1000', second.txid, { vsize: entry.vsize, feeSat: '5000' }],
      );
      assert.ok(seen.some((m) => m.action === 'removed' && m.txid === first.txid && m.reason === 'replaced'));
      const rejected = seen.find((m) => m.action === 'rejected' && m.txid === third.txid)!;
      assert.match(rejected.reason!, /insufficient fee/);
    },
  );
});

/** A transaction spending `prev:0` (an OP_TRUE P2WSH output) back to OP_TRUE, paying `feeSat`; opts in to replacement. */
function spendOpTrue(prevTxidHex: string, valueSat: bigint, feeSat: bigint): { hex: string; txid: string } {
  const script = Uint8Array.from([0x51]);
  const spk = Uint8Array.from([0x00, 0x20, ...createHash('sha256').update(script).digest()]);
  const t: Tx = {
    version: 2,
    inputs: [{ prevTxid: hexToHash(prevTxidHex), prevIndex: 0, scriptSig: new Uint8Array(0), sequence: 0xfffffffd }],
    outputs: [{ value: valueSat - feeSat, scriptPubKey: spk }],
    witnesses: [[script]],
    lockTime: 0,
  };
  return { hex: Buffer.from(serializeTx(t)).toString('hex'), txid: hashToHex(txid(t)) };
}

function sortKeys(x: { in: Record<string, number>; out: Record<string, number> }): unknown {
  const s = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { in: s(x.in), out: s(x.out) };
}
