/**
 * The simulator's honest peer over BIP324 v2 (what `demo` mixes in) against the
 * observer on loopback: the handshake completes over v2, traffic flows as the
 * same message events, and the peers table (behind the dashboard) says v2 with
 * the session id.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runHonestPeer } from '../../src/simulate/honest-peer.js';
import { PeersTable } from '../../src/consumers/peers/table.js';
import { REGTEST, startTestObserver, until } from '../sources/p2p/helpers.js';

test('an honest v2 peer: handshake, traffic and the peers table over v2', async (t) => {
  const o = await startTestObserver();
  t.after(() => o.stop());
  const ac = new AbortController();
  const run = runHonestPeer({ network: REGTEST, host: '127.0.0.1', port: o.port, trafficIntervalMs: 30, signal: ac.signal, v2: true });
  await until(
    () => o.log.of('message', (e) => e.data.dir === 'in' && e.data.command !== 'version' && e.data.command !== 'verack').length >= 5,
    5000,
    'traffic',
  );
  ac.abort();
  const result = await run;
  assert.equal(result.stats.handshakeComplete, true);
  assert.deepEqual(result.stats.errors, []);
  const done = o.log.of('handshake.complete')[0]!;
  assert.equal(done.data.transport, 'v2');
  await o.log.waitFor('connection.closed');
  const closed = o.log.of('connection.closed')[0]!;
  assert.equal(closed.data.transport, 'v2');
  assert.equal(closed.data.decoysIn, 2, 'the honest peer sends two decoys before its version packet');
  const table = new PeersTable();
  for (const e of o.log.events) table.handle(e);
  const [row] = table.peers({ state: 'all' });
  assert.equal(row!.transport, 'v2');
  assert.equal(row!.sessionId, done.data.sessionId);
  assert.deepEqual(o.log.invalid, []);
});
