import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/protocol/codec.js';
import { afterVerack, afterVersion, answerGetdata, gate, malformed, obsolete, serviceNotOffered } from '../../../src/sources/p2p/policy.js';
import { PingTracker } from '../../../src/sources/p2p/ping.js';
import { backoffDelay } from '../../../src/sources/p2p/dialer.js';

const cmds = (ms: { command: string }[]): string[] => ms.map((m) => m.command);

test('feature messages follow the peer version', () => {
  assert.deepEqual(cmds(afterVersion(70016)), ['wtxidrelay', 'sendaddrv2', 'verack']);
  assert.deepEqual(cmds(afterVersion(70015)), ['verack']);
  assert.deepEqual(cmds(afterVerack(70016, 'inbound')), ['sendheaders', 'sendcmpct']);
  assert.deepEqual(cmds(afterVerack(70013, 'inbound')), ['sendheaders']);
  assert.deepEqual(cmds(afterVerack(70011, 'outbound')), ['getaddr']);
  assert.ok(!cmds(afterVerack(80000, 'outbound')).includes('feefilter'));
});

test('gate: Core order of version, pre-verack and post-verack rules', () => {
  const fresh = { versionReceived: false, complete: false };
  const mid = { versionReceived: true, complete: false };
  const done = { versionReceived: true, complete: true };
  assert.equal(gate(fresh, 'version'), undefined);
  assert.equal(gate(fresh, 'verack')?.kind, 'message-before-version');
  assert.equal(gate(mid, 'version')?.kind, 'duplicate-version');
  for (const c of ['verack', 'wtxidrelay', 'sendaddrv2', 'sendheaders', 'sendcmpct']) assert.equal(gate(mid, c), undefined, c);
  assert.equal(gate(mid, 'inv')?.kind, 'message-before-verack');
  assert.equal(gate(mid, 'foobar')?.action, 'drop-message');
  assert.deepEqual([gate(done, 'wtxidrelay')?.action, gate(done, 'sendaddrv2')?.kind], ['disconnect', 'feature-after-verack']);
  assert.equal(gate(done, 'inv'), undefined);
});

test('malformed payloads: drop, except Core-misbehaving counts (inbound) and oversized locators', () => {
  const many = new DecodeError('too-many-items', 'entries', '1001 > 1000');
  assert.equal(malformed('addr', many, 'inbound').action, 'disconnect');
  assert.equal(malformed('addr', many, 'outbound').action, 'drop-message'); // a manual peer is never punished
  assert.equal(malformed('getheaders', many, 'outbound').action, 'disconnect');
  assert.equal(malformed('tx', many, 'inbound').action, 'drop-message');
  assert.equal(malformed('ping', new DecodeError('truncated', '', 'x'), 'inbound').action, 'drop-message');
  assert.equal(obsolete(31799)?.action, 'disconnect');
  assert.equal(obsolete(31800), undefined);
  assert.equal(serviceNotOffered('filteradd')?.action, 'disconnect');
  assert.equal(serviceNotOffered('inv'), undefined);
});

test('getdata: only transaction types are notfound', () => {
  const h = new Uint8Array(32);
  assert.equal(answerGetdata([{ type: 2, hash: h }]), undefined);
  const a = answerGetdata([
    { type: 2, hash: h },
    { type: 1, hash: h },
    { type: 0x40000002, hash: h },
  ]);
  assert.equal(a?.command, 'notfound');
});

test('PingTracker: one outstanding ping, latency on the match, Core pong cases', () => {
  const p = new PingTracker();
  assert.equal(p.due(0, 100), true);
  const n = p.start(0, 5n);
  assert.equal(n, 5n);
  assert.equal(p.due(500, 100), false, 'not while outstanding');
  assert.deepEqual(p.pong(6n, 10), { kind: 'mismatch', nonce: 6n, expected: 5n });
  assert.deepEqual(p.pong(5n, 12), { kind: 'latency', nonce: 5n, latencyMs: 12 });
  assert.deepEqual(p.pong(5n, 13), { kind: 'unsolicited', nonce: 5n });
  assert.equal(p.due(50, 100), false);
  assert.equal(p.due(100, 100), true);
  p.start(100, 7n);
  assert.equal(p.timedOut(150, 100), false);
  assert.equal(p.timedOut(200, 100), true);
  assert.deepEqual(p.pong(0n, 201), { kind: 'zero', expected: 7n });
  assert.equal(p.outstanding, false);
});

test('backoff doubles and is capped', () => {
  const o = { initialBackoffMs: 100, maxBackoffMs: 1000 };
  assert.equal(
    backoffDelay(0, o, () => 0),
    100,
  );
  assert.equal(
    backoffDelay(3, o, () => 0),
    800,
  );
  assert.equal(
    backoffDelay(4, o, () => 0),
    1000,
  );
  assert.equal(
    backoffDelay(50, o, () => 1),
    1000,
  );
  assert.equal(
    backoffDelay(1, o, () => 1),
    250,
  );
});
