/**
 * The connectivity check's state machine (checker.ts) without a bus or a
 * socket: the probe is a function the test settles by hand, results are
 * collected from `publish`. Judgement, coalescing, the result cache, the queue
 * bound, concurrency and stop are checked one by one. (The real probe over
 * loopback TCP is tested in connectivity.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectivityChecker, type ProbeTarget } from '../../src/consumers/connectivity/checker.js';
import type { ProbeResult } from '../../src/consumers/connectivity/probe.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { networkByName } from '../../src/protocol/networks.js';

function harness(options: { concurrency?: number; maxQueue?: number } = {}) {
  const events: ObserverEvent[] = [];
  const probes: { target: ProbeTarget; settle: (r: ProbeResult) => void }[] = [];
  const checker = new ConnectivityChecker(
    { network: networkByName('mainnet'), nodeId: 'obs', ratePerSec: 1e6, ...options },
    {
      publish: (e) => events.push(e),
      probe: (target) => new Promise<ProbeResult>((settle) => probes.push({ target, settle })),
    },
  );
  const results = () => events.flatMap((e) => (e.type === 'connectivity.result' ? [e.data] : []));
  return { checker, events, probes, results };
}

const REACHABLE: ProbeResult = {
  reachable: true,
  reason: 'handshake',
  detail: 'ok',
  latencyMs: 12,
  userAgent: '/Satoshi:27.0.0/',
  version: 70016,
};
const REFUSED: ProbeResult = {
  reachable: false,
  reason: 'connection-refused',
  detail: 'ECONNREFUSED',
  latencyMs: 3,
  userAgent: null,
  version: null,
};
const tick = () => new Promise((r) => setImmediate(r));

test('a private address is not tried: one not-tried result, no probe', () => {
  const h = harness();
  h.checker.entry('192.168.1.7', 8333, 'ipv4', 'peer-a', 'obs');
  assert.equal(h.probes.length, 0);
  assert.deepEqual(
    h.results().map((r) => [r.addr, r.reason, r.sourcePeer]),
    [['192.168.1.7:8333', 'not-tried', 'peer-a']],
  );
  assert.deepEqual(h.checker.summary().notTried, { private: 1 });
});

test('an onion address is skipped and counted, never queued', () => {
  const h = harness();
  h.checker.entry('pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion', 8333, 'torv3', 'peer-a', 'obs');
  assert.equal(h.probes.length, 0);
  assert.equal(h.results().length, 0);
  assert.equal(h.checker.summary().skipped.torv3, 1);
});

test('one probe per address: a repeat while waiting is coalesced, a later one answered from the cache', async () => {
  const h = harness();
  h.checker.entry('1.2.3.4', 8333, 'ipv4', 'peer-a', 'obs');
  h.checker.entry('1.2.3.4', 8333, 'ipv4', 'peer-b', 'obs');
  assert.equal(h.probes.length, 1);
  assert.deepEqual(h.probes[0]!.target.host, '1.2.3.4');
  assert.equal(h.checker.summary().coalesced, 1);
  h.probes[0]!.settle(REACHABLE);
  await tick();
  // Both sources get the result.
  assert.deepEqual(
    h.results().map((r) => [r.sourcePeer, r.reachable, r.reason, r.latencyMs]),
    [
      ['peer-a', true, 'version', 12],
      ['peer-b', true, 'version', 12],
    ],
  );
  h.checker.entry('1.2.3.4', 8333, 'ipv4', 'peer-c', 'obs');
  assert.equal(h.probes.length, 1, 'no second probe');
  assert.deepEqual(h.results().at(-1), {
    addr: '1.2.3.4:8333',
    sourcePeer: 'peer-c',
    reachable: true,
    reason: 'version',
    latencyMs: null,
    detail: 'ok',
    userAgent: '/Satoshi:27.0.0/',
  });
  const s = h.checker.summary();
  assert.deepEqual([s.advertised, s.probes, s.tried, s.reachable, s.cacheHits, s.reachableShare], [3, 1, 3, 3, 1, 1]);
});

test('concurrency and the queue bound: past maxQueue waiting addresses are dropped and counted', async () => {
  const h = harness({ concurrency: 1, maxQueue: 2 });
  for (const ip of ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4']) h.checker.entry(ip, 8333, 'ipv4', 'peer-a', 'obs');
  // One in flight, two waiting, one dropped.
  assert.equal(h.probes.length, 1);
  let s = h.checker.summary();
  assert.deepEqual([s.inFlight, s.queued, s.dropped], [1, 2, 1]);
  h.probes[0]!.settle(REFUSED);
  await tick();
  assert.equal(h.probes.length, 2, 'the next starts when one settles');
  assert.equal(h.probes[1]!.target.host, '2.2.2.2');
  s = h.checker.summary();
  assert.deepEqual([s.inFlight, s.queued, s.tried, s.reachable, s.reachableShare], [1, 1, 1, 0, 0]);
  assert.equal(h.results()[0]!.reason, 'refused');
});

test('stop aborts the probes in flight, forgets the queue and publishes nothing after', async () => {
  const h = harness({ concurrency: 1 });
  h.checker.entry('1.1.1.1', 8333, 'ipv4', 'peer-a', 'obs');
  h.checker.entry('2.2.2.2', 8333, 'ipv4', 'peer-a', 'obs');
  const stopped = h.checker.stop();
  assert.equal(h.probes[0]!.target.signal.aborted, true);
  h.probes[0]!.settle(REFUSED);
  await stopped;
  assert.equal(h.results().length, 0);
  assert.equal(h.probes.length, 1, 'the waiting address is never probed');
  assert.equal(h.checker.summary().queued, 0);
  h.checker.entry('3.3.3.3', 8333, 'ipv4', 'peer-a', 'obs');
  assert.equal(h.probes.length, 1, 'entries after stop are ignored');
});

test('message(): only inbound addr/addrv2 entries count', () => {
  const h = harness();
  const conn = { id: 1, direction: 'inbound', remote: '9.9.9.9:8333' };
  const msg = (dir: string, command: string) =>
    ({
      v: 1,
      type: 'message',
      nodeId: 'obs',
      timeUs: 1,
      source: 'p2p',
      data: { conn, dir, command, size: 0, known: true, payload: { entries: [{ addr: '192.168.0.1', port: 8333, network: 'ipv4' }] } },
    }) as unknown as ObserverEvent;
  h.checker.message(msg('out', 'addr'));
  h.checker.message(msg('in', 'inv'));
  assert.equal(h.checker.summary().advertised, 0);
  h.checker.message(msg('in', 'addrv2'));
  assert.equal(h.checker.summary().advertised, 1);
  assert.equal(h.results()[0]!.sourcePeer, '9.9.9.9:8333');
});

test('bad settings are refused', () => {
  assert.throws(
    () => new ConnectivityChecker({ network: networkByName('mainnet'), nodeId: 'x', concurrency: 0 }, { publish: () => {} }),
    /concurrency/,
  );
});
