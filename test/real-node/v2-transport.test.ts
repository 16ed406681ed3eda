/**
 * BIP324 v2 against a real Bitcoin Core: Core dials our listener, we dial Core,
 * Core announces blocks over v2, and a v1-only Core makes our v2 attempt fall
 * back to v1. Session ids are compared with Core's getpeerinfo; Core's
 * debug.log must show no V2 transport error, misbehaviour or disconnection
 * caused by us (apart from the one the v1 fallback consists of).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bitcoindSkipReason, misbehaviourLines, startBitcoind, type Bitcoind } from '../helpers/bitcoind.js';
import { startObserver, type Observer } from '../../src/sources/p2p/observer.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { parseEvent } from '../../src/events/schema.js';
import { untilValue } from '../helpers/until.js';

async function observe(options: { listen?: boolean; connect?: number }): Promise<{ observer: Observer; events: ObserverEvent[] }> {
  const events: ObserverEvent[] = [];
  const observer = await startObserver({
    network: NETWORKS.regtest,
    nodeId: 'v2-real',
    listen: options.listen ? [{ host: '127.0.0.1', port: 0 }] : [],
    connect: options.connect ? [{ host: '127.0.0.1', port: options.connect }] : [],
    publish: (e) => {
      parseEvent(JSON.parse(JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))); // the bus boundary's check
      events.push(e);
    },
  });
  return { observer, events };
}

function ofType<T extends ObserverEvent['type']>(events: ObserverEvent[], type: T): Extract<ObserverEvent, { type: T }>[] {
  return events.filter((e): e is Extract<ObserverEvent, { type: T }> => e.type === type);
}

function noTrouble(node: Bitcoind): void {
  assert.deepEqual(misbehaviourLines(node.log()), []);
}

describe('BIP324 v2 against a real Bitcoin Core', { skip: bitcoindSkipReason(), timeout: 180_000 }, () => {
  it('Core dials our listener (addnode onetry): v2, the same session id on both sides', async () => {
    const node = await startBitcoind();
    const { observer, events } = await observe({ listen: true });
    try {
      const port = observer.listening[0]!.port;
      await node.rpc('addnode', `127.0.0.1:${port}`, 'onetry', true);
      const done = await untilValue(() => ofType(events, 'handshake.complete')[0], 'our handshake.complete', 30_000);
      assert.equal(done.data.transport, 'v2');
      assert.match(done.data.sessionId!, /^[0-9a-f]{64}$/);
      assert.ok(done.data.garbageLength! >= 0 && done.data.garbageLength! <= 4095);
      assert.equal(ofType(events, 'connection.opened')[0]!.data.transport, 'unknown', 'inbound: undecided when accepted (Core: detecting)');
      const [peer] = await node.waitForPeers((p) => p.length === 1 && p[0]!.version > 0, 'Core sees our version');
      assert.equal(peer!.transport_protocol_type, 'v2');
      assert.equal(peer!.session_id, done.data.sessionId);
      assert.equal(BigInt(`0x${peer!.services}`) & 2048n, 2048n, 'we advertise NODE_P2P_V2');
      assert.equal(ofType(events, 'violation').length, 0);
      noTrouble(node);
      await observer.stop();
      const closed = ofType(events, 'connection.closed')[0]!;
      assert.deepEqual([closed.data.transport, closed.data.sessionId], ['v2', done.data.sessionId]);
    } finally {
      await observer.stop();
      await node.stop();
    }
  });

  it('we dial Core (-v2transport=1): v2, same session id; we decode the blocks it announces over v2', async () => {
    const node = await startBitcoind({ args: ['-v2transport=1'] });
    const { observer, events } = await observe({ connect: node.port });
    try {
      const done = await untilValue(() => ofType(events, 'handshake.complete')[0], 'our handshake.complete', 30_000);
      assert.equal(done.data.transport, 'v2');
      const [peer] = await node.waitForPeers((p) => p.length === 1 && p[0]!.version > 0, 'Core sees us');
      assert.equal(peer!.transport_protocol_type, 'v2');
      assert.equal(peer!.session_id, done.data.sessionId);
      const [hash] = await node.mine(1);
      const reversed = Buffer.from(hash!, 'hex').reverse().toString('hex');
      const announced = await untilValue(
        () =>
          ofType(events, 'message').find(
            (m) => m.data.dir === 'in' && JSON.stringify(m.data.payload).match(new RegExp(`${hash}|${reversed}`)) !== null,
          ),
        'the block announcement',
        30_000,
      );
      assert.ok(['inv', 'headers', 'cmpctblock'].includes(announced.data.command), announced.data.command);
      assert.equal(ofType(events, 'violation').length, 0);
      noTrouble(node);
    } finally {
      await observer.stop();
      await node.stop();
    }
  });

  it('we dial Core at -v2transport=0: the v2 attempt fails and the v1 fallback connects', async () => {
    const node = await startBitcoind({ args: ['-v2transport=0'] });
    const { observer, events } = await observe({ connect: node.port });
    try {
      const done = await untilValue(() => ofType(events, 'handshake.complete')[0], 'the v1 handshake', 30_000);
      assert.equal(done.data.transport, 'v1');
      assert.equal(done.data.sessionId, undefined);
      const closed = ofType(events, 'connection.closed');
      assert.equal(closed.length, 1, 'the v2 attempt, closed');
      assert.equal(closed[0]!.data.transport, 'v2');
      assert.match(closed[0]!.data.detail, /retrying with v1/);
      assert.equal(closed[0]!.data.bytesIn, 0);
      const opened = ofType(events, 'connection.opened').map((e) => e.data.transport);
      assert.deepEqual(opened, ['v2', 'v1'], 'both attempts are events');
      assert.equal(observer.stats().v1Fallbacks, 1);
      const [peer] = await node.waitForPeers((p) => p.length === 1 && p[0]!.version > 0, 'Core sees us over v1');
      assert.equal(peer!.transport_protocol_type, 'v1');
      // Core at v1 dropped our v2 key as a bad message start: that one line is the fallback itself.
      const lines = misbehaviourLines(node.log()).filter((l) => !/Wrong MessageStart|disconnecting peer=0\b/.test(l));
      assert.deepEqual(lines, []);
    } finally {
      await observer.stop();
      await node.stop();
    }
  });
});
