/**
 * The rpc source's state machine (poller.ts) without a bus or a socket: the
 * caller answers with Bitcoin Core's recorded answers (test/fixtures/bitcoind/rpc)
 * or throws the client's own error classes, the clock is the test's, and events
 * are collected from `publish`. States, backoff, the status interval, methods
 * the node lacks, and a shutdown mid-call are checked one by one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ObserverEvent } from '../../../src/events/types.js';
import { RpcAuthError, RpcMethodError, RpcUnavailableError, RPC_IN_WARMUP, RPC_METHOD_NOT_FOUND } from '../../../src/sources/rpc/client.js';
import { RpcPoller, type RpcCaller } from '../../../src/sources/rpc/poller.js';
import { recorded } from './fake-core.js';

const RECORDED = [
  'getblockchaininfo',
  'getnetworkinfo',
  'getnettotals',
  'getmempoolinfo',
  'getchaintips',
  'getaddrmaninfo',
  'getrawaddrman',
  'uptime',
  'listbanned',
] as const;

/** A node whose answers the test sets: each method answers its recording, or throws what `fail` says. */
function node(peers = 'getpeerinfo') {
  const calls: string[] = [];
  const state: { fail: ((method: string) => Error | undefined) | undefined; peers: string } = { fail: undefined, peers };
  const caller: RpcCaller = {
    call(method: string) {
      calls.push(method);
      const err = state.fail?.(method);
      if (err) return Promise.reject(err);
      const name = method === 'getpeerinfo' ? state.peers : method;
      if (method !== 'getpeerinfo' && !(RECORDED as readonly string[]).includes(method)) {
        return Promise.reject(new RpcMethodError(method, RPC_METHOD_NOT_FOUND, 'Method not found'));
      }
      return Promise.resolve(recorded(name).response.result);
    },
  };
  return { caller, calls, state };
}

function poller(caller: RpcCaller, clock: { now: number }, lines: string[] = []) {
  const events: ObserverEvent[] = [];
  const p = new RpcPoller(
    {
      url: 'http://user:secret@127.0.0.1:18443/',
      nodeId: 'core-1',
      network: 'regtest',
      publish: (e) => events.push(e),
      peersIntervalMs: 10_000,
      statusIntervalMs: 60_000,
      backoffMs: 1000,
      maxBackoffMs: 5000,
      onStatus: (l) => lines.push(l),
      now: () => clock.now,
    },
    caller,
  );
  const of = (type: string) => events.filter((e) => e.type === type);
  return { p, events, of };
}

test('a node that is down: one rpc.status per change, backoff doubling up to its cap, then up at the peers interval', async () => {
  const n = node();
  const clock = { now: 1_000_000 };
  const lines: string[] = [];
  const { p, of } = poller(n.caller, clock, lines);
  n.state.fail = () => new RpcUnavailableError('connect ECONNREFUSED 127.0.0.1:18443', false);
  const waits = [];
  for (let i = 0; i < 5; i++) waits.push(await p.poll());
  assert.deepEqual(waits, [1000, 2000, 4000, 5000, 5000]);
  assert.equal(p.state, 'down');
  const statuses = of('rpc.status').map((e) => e.type === 'rpc.status' && [e.data.state, e.data.failures, e.data.retryMs, e.data.url]);
  assert.deepEqual(statuses, [['down', 1, 1000, 'http://127.0.0.1:18443/']], 'the same state and detail again is not news; no credentials');
  assert.doesNotMatch(lines.join('\n'), /secret/);

  n.state.fail = undefined;
  assert.equal(await p.poll(), 10_000);
  assert.equal(p.state, 'up');
  assert.deepEqual(
    of('rpc.status').map((e) => e.type === 'rpc.status' && [e.data.state, e.data.failures]),
    [
      ['down', 1],
      ['up', 0],
    ],
  );
  const peers = (recorded('getpeerinfo').response.result as unknown[]).length;
  assert.equal(of('connection.opened').length, peers, 'every peer of the first answer is new');
  assert.equal(of('node.status').length, 1);
  const s = p.stats();
  assert.deepEqual([s.state, s.polls, s.failures, s.peers, s.opened], ['up', 6, 0, peers, peers]);
});

test('the node-wide facts every statusIntervalMs, the peers every poll', async () => {
  const n = node();
  const clock = { now: 1_000_000 };
  const { p, of } = poller(n.caller, clock);
  await p.poll();
  const first = [...n.calls];
  assert.equal(n.calls[0], 'getblockchaininfo', 'the chain first: it says which network the peers are on');
  assert.equal(n.calls.at(-1), 'getpeerinfo');
  clock.now += 10_000;
  n.calls.length = 0;
  await p.poll();
  assert.deepEqual(n.calls, ['getpeerinfo']);
  clock.now += 50_000;
  n.calls.length = 0;
  await p.poll();
  // Due again after 60 s: the same calls, less those the node said it lacks (not recorded here).
  assert.deepEqual(
    n.calls,
    first.filter((m) => !p.stats().unsupported.includes(m)),
  );
  assert.equal(of('node.status').length, 2);
});

test('a method the node lacks is skipped from then on and listed; a peer set that changes is a diff', async () => {
  const n = node('getpeerinfo-attackers');
  const clock = { now: 1_000_000 };
  const lines: string[] = [];
  const { p, of } = poller(n.caller, clock, lines);
  // getrawaddrman is recorded; make the node lack it.
  n.state.fail = (m) => (m === 'getrawaddrman' ? new RpcMethodError(m, RPC_METHOD_NOT_FOUND, 'Method not found') : undefined);
  await p.poll();
  assert.deepEqual(p.stats().unsupported.includes('getrawaddrman'), true);
  assert.match(lines.join('\n'), /the node has no getrawaddrman/);
  clock.now += 60_000;
  n.calls.length = 0;
  await p.poll();
  assert.equal(n.calls.includes('getrawaddrman'), false);
  const opened = of('connection.opened').length;
  assert.ok(opened > 0);
  n.state.peers = 'getpeerinfo-empty';
  await p.poll();
  assert.equal(of('connection.closed').length, opened, 'every peer gone is a connection.closed');
  assert.equal(p.stats().peers, 0);
});

test('warming up, refused credentials and other errors are their own states', async () => {
  const n = node();
  const clock = { now: 1_000_000 };
  const { p } = poller(n.caller, clock);
  n.state.fail = () => new RpcMethodError('getblockchaininfo', RPC_IN_WARMUP, 'Loading block index…');
  await p.poll();
  assert.equal(p.state, 'warming-up');
  n.state.fail = () => new RpcAuthError('HTTP 401: check --rpc-cookie');
  await p.poll();
  assert.equal(p.state, 'auth-failed');
  n.state.fail = (m) => (m === 'getpeerinfo' ? new Error('answer too large') : undefined);
  await p.poll();
  assert.equal(p.state, 'error');
  assert.equal(p.stats().failures, 3);
});

test('an answer that is not an array, or peers that do not match the schema, are counted, not fatal', async () => {
  const n = node();
  const clock = { now: 1_000_000 };
  const { p } = poller(
    {
      call: (method) => (method === 'getpeerinfo' ? Promise.resolve([{ id: 'not a peer' }]) : n.caller.call(method)),
    },
    clock,
  );
  assert.equal(await p.poll(), 10_000);
  assert.equal(p.state, 'up');
  assert.equal(p.stats().invalidAnswers, 1);
  const q = poller({ call: (method) => (method === 'getpeerinfo' ? Promise.resolve({}) : n.caller.call(method)) }, clock);
  await q.p.poll();
  assert.equal(q.p.state, 'error');
});

test('a call failing because we are shutting down changes nothing', async () => {
  const n = node();
  const { p, of } = poller(n.caller, { now: 1 });
  n.state.fail = () => new RpcUnavailableError('aborted', false);
  assert.equal(await p.poll(() => true), 0);
  assert.equal(p.state, 'starting');
  assert.equal(p.stats().failures, 0);
  assert.equal(of('rpc.status').length, 0);
});
