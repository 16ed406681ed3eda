/**
 * The real-node harness itself: a real bitcoind starts on free loopback ports,
 * mines, answers RPC, listens for P2P only on 127.0.0.1, and stops.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bitcoindSkipReason, startBitcoind } from '../helpers/bitcoind.js';

describe('real bitcoind harness', { skip: bitcoindSkipReason(), timeout: 90_000 }, () => {
  it('starts, mines, reports loopback-only networking, stops', async () => {
    const node = await startBitcoind();
    try {
      const hashes = await node.mine(3);
      assert.equal(hashes.length, 3);
      assert.equal(await node.rpc<number>('getblockcount'), 3);
      const net = await node.rpc<{ localaddresses: unknown[]; networkactive: boolean }>('getnetworkinfo');
      assert.deepEqual(net.localaddresses, []);
      assert.deepEqual(await node.peers(), []);
      assert.match(node.log(), /Bound to 127\.0\.0\.1:\d+/);
    } finally {
      await node.stop();
    }
    assert.equal(node.process.exitCode, 0);
  });
});
