import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeFrame, HEADER_SIZE } from '../../../src/protocol/framing.js';
import { NETWORKS } from '../../../src/protocol/networks.js';
import { encodeMessageFrame } from '../../../src/protocol/messages/index.js';
import type { Message } from '../../../src/protocol/messages/types.js';
import { REGTEST, startTestObserver, TestPeer, until, versionMessage, type TestObserver } from './helpers.js';

const verack: Message = { command: 'verack', payload: {} };

async function connected(t: { after(fn: () => unknown): void }, limits = {}): Promise<{ o: TestObserver; peer: TestPeer }> {
  // v1 framing rules: with v2 on, a stream that does not open with magic + "version" is
  // a v2 handshake (Core's V2Transport), so these v1 cases run with v2 off; v2's own
  // hostile cases are in test/sources/p2p/v2.test.ts and test/protocol/v2/.
  const o = await startTestObserver({ limits, v2: false });
  t.after(() => o.stop());
  const peer = await TestPeer.connect(o.port);
  t.after(() => peer.close());
  return { o, peer };
}

/** Nothing more happens to the connection for a moment: it stays open. */
async function staysOpen(peer: TestPeer, ms = 100): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  assert.equal(peer.isClosed, false, 'the connection stays open');
}

test('oversize length field: disconnect on the header alone, before any payload', async (t) => {
  const { o, peer } = await connected(t);
  const header = new Uint8Array(HEADER_SIZE);
  const view = new DataView(header.buffer);
  view.setUint32(0, REGTEST.magic, false);
  header.set(new TextEncoder().encode('addr'), 4);
  view.setUint32(16, 2 ** 31, true);
  peer.sendRaw(header);
  const started = Date.now();
  await peer.closed; // no payload byte was ever sent
  assert.ok(Date.now() - started < 2000);
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'oversize');
  assert.equal(v.data.action, 'disconnect');
  assert.equal(v.data.size, 2 ** 31);
  assert.equal(v.data.command, 'addr');
  const closed = await o.log.waitFor('connection.closed');
  assert.equal(closed.data.reason, 'protocol-violation');
  assert.equal(closed.data.bytesIn, HEADER_SIZE);
});

test('half a header, then silence: dropped at the handshake timeout', async (t) => {
  const { o, peer } = await connected(t, { handshakeTimeoutMs: 300 });
  peer.sendRaw(encodeMessageFrame(REGTEST, versionMessage()).subarray(0, 12));
  const started = Date.now();
  await peer.closed;
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 3000, `dropped after ${elapsed} ms`);
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'handshake-timeout');
  assert.equal(v.data.action, 'disconnect');
  const closed = await o.log.waitFor('connection.closed');
  assert.equal(closed.data.reason, 'handshake-timeout');
  assert.equal(closed.data.bytesIn, 12);
});

test('unknown command after the handshake: kept as a message event (known:false), counted, no disconnect', async (t) => {
  const { o, peer } = await connected(t);
  await peer.handshake();
  peer.sendRaw(encodeFrame(REGTEST, 'foobar', new Uint8Array([1, 2, 3])));
  const m = await o.log.waitFor('message', (e) => e.data.command === 'foobar');
  assert.equal(m.data.known, false);
  assert.equal(m.data.dir, 'in');
  assert.equal(m.data.size, 3);
  assert.deepEqual(m.data.payload, { length: 3, hex: '010203', truncated: false });
  await staysOpen(peer);
  assert.equal(o.observer.stats().unknownCommands, 1);
  assert.equal(o.log.of('violation').length, 0);
});

test('messages before version are dropped and recorded; the handshake still works after', async (t) => {
  const { o, peer } = await connected(t);
  peer.send({ command: 'ping', payload: { nonce: 5n } }, verack, { command: 'addr', payload: { entries: [] } });
  await until(() => o.log.of('violation').length === 3, 2000, 'three violations');
  for (const v of o.log.of('violation')) {
    assert.equal(v.data.kind, 'message-before-version');
    assert.equal(v.data.action, 'drop-message');
  }
  assert.deepEqual(
    o.log.of('violation').map((v) => v.data.command),
    ['ping', 'verack', 'addr'],
  );
  assert.equal(peer.received.length, 0, 'no pong before version');
  await peer.handshake();
  await o.log.waitFor('handshake.complete');
});

test('non-handshake messages between version and verack are dropped (Core: prior to verack)', async (t) => {
  const { o, peer } = await connected(t);
  peer.send(versionMessage());
  await peer.waitFor('verack');
  peer.send({ command: 'ping', payload: { nonce: 9n } }, { command: 'sendheaders', payload: {} });
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'message-before-verack');
  assert.equal(v.data.command, 'ping');
  await staysOpen(peer);
  assert.ok(!peer.received.some((m) => m.command === 'pong'));
  assert.equal(o.log.of('violation').length, 1, 'sendheaders is allowed before verack');
});

test('duplicate version: dropped and recorded, no disconnect', async (t) => {
  const { o, peer } = await connected(t);
  await peer.handshake();
  peer.send(versionMessage());
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'duplicate-version');
  assert.equal(v.data.action, 'drop-message');
  await staysOpen(peer);
});

test('obsolete version (< 31800): disconnect', async (t) => {
  const { o, peer } = await connected(t);
  peer.send(versionMessage({ version: 31799 }));
  await peer.closed;
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'obsolete-version');
  assert.equal(v.data.action, 'disconnect');
  assert.equal(peer.received.length, 0, 'we never sent our version');
});

for (const command of ['wtxidrelay', 'sendaddrv2'] as const) {
  test(`${command} after verack: disconnect (feature-after-verack)`, async (t) => {
    const { o, peer } = await connected(t);
    await peer.handshake();
    await o.log.waitFor('handshake.complete');
    peer.send({ command, payload: {} } as Message);
    await peer.closed;
    const v = await o.log.waitFor('violation');
    assert.equal(v.data.kind, 'feature-after-verack');
    assert.equal(v.data.action, 'disconnect');
    assert.equal(v.data.command, command);
  });
}

for (const command of ['filterload', 'mempool', 'getcfilters'] as const) {
  test(`${command}: we do not offer the service, disconnect as Core does`, async (t) => {
    const { o, peer } = await connected(t);
    await peer.handshake();
    const payloads: Record<string, Message> = {
      filterload: { command: 'filterload', payload: { filter: new Uint8Array(10), hashFuncs: 5, tweak: 0, flags: 0 } },
      mempool: { command: 'mempool', payload: {} },
      getcfilters: { command: 'getcfilters', payload: { filterType: 0, startHeight: 0, stopHash: new Uint8Array(32) } },
    };
    peer.send(payloads[command]!);
    await peer.closed;
    const v = await o.log.waitFor('violation');
    assert.equal(v.data.kind, 'service-not-offered');
    assert.equal(v.data.action, 'disconnect');
  });
}

test('malformed payload: dropped and recorded; the peer stays', async (t) => {
  const { o, peer } = await connected(t);
  await peer.handshake();
  peer.sendRaw(encodeFrame(REGTEST, 'ping', new Uint8Array(7)));
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'malformed-payload');
  assert.equal(v.data.action, 'drop-message');
  assert.equal(v.data.command, 'ping');
  assert.match(v.data.detail, /truncated/);
  await staysOpen(peer);
});

test('addr with more than 1000 entries from an inbound peer: misbehaving, disconnect', async (t) => {
  const { o, peer } = await connected(t);
  await peer.handshake();
  // CompactSize 1001 and no entries: the count is checked before anything is read.
  peer.sendRaw(encodeFrame(REGTEST, 'addr', new Uint8Array([0xfd, 0xe9, 0x03])));
  await peer.closed;
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'malformed-payload');
  assert.equal(v.data.action, 'disconnect');
  assert.match(v.data.detail, /too-many-items/);
});

test('bad checksum and invalid command: that message dropped, the connection kept', async (t) => {
  const { o, peer } = await connected(t);
  await peer.handshake();
  const frame = encodeFrame(REGTEST, 'ping', new Uint8Array(8));
  frame[20]! ^= 0xff;
  peer.sendRaw(frame);
  const bad = encodeFrame(REGTEST, 'ping', new Uint8Array(8));
  bad[5] = 0x01; // a control character in the command
  peer.sendRaw(bad);
  await until(() => o.log.of('violation').length === 2, 2000, 'two violations');
  assert.deepEqual(
    o.log.of('violation').map((v) => [v.data.kind, v.data.action]),
    [
      ['bad-checksum', 'drop-message'],
      ['invalid-command', 'drop-message'],
    ],
  );
  peer.send({ command: 'ping', payload: { nonce: 3n } });
  await peer.waitFor('pong');
});

test('BIP324 v2 opening bytes: recognised as v2-transport, disconnected', async (t) => {
  const { o, peer } = await connected(t);
  let key = randomBytes(64);
  while (key.readUInt32BE(0) === REGTEST.magic) key = randomBytes(64);
  peer.sendRaw(key);
  await peer.closed;
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'v2-transport');
  assert.equal(v.data.action, 'disconnect');
});

test('another network magic: wrong-network, disconnected', async (t) => {
  const { o, peer } = await connected(t);
  peer.sendRaw(encodeMessageFrame(NETWORKS.mainnet, versionMessage()));
  await peer.closed;
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'wrong-network');
});

test('ping timeout: a peer that never answers our ping is dropped', async (t) => {
  const { o, peer } = await connected(t, { pingTimeoutMs: 300, pingIntervalMs: 100 });
  await peer.handshake();
  await peer.waitFor('ping');
  await peer.closed;
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'ping-timeout');
  const closed = await o.log.waitFor('connection.closed');
  assert.equal(closed.data.reason, 'ping-timeout');
  assert.equal(closed.data.handshakeComplete, true);
});

test('pings repeat every interval once answered; an unsolicited pong is recorded, not punished', async (t) => {
  const { o, peer } = await connected(t, { pingIntervalMs: 50 });
  await peer.handshake();
  let answered = 0;
  peer.socket.on('data', () => {
    for (const m of peer.received.slice(answered)) {
      answered++;
      if (m.command === 'ping') peer.send({ command: 'pong', payload: { nonce: (m.payload as { nonce: bigint }).nonce } });
    }
  });
  await until(() => o.log.of('ping.latency').length >= 3, 3000, 'three latencies');
  peer.send({ command: 'pong', payload: { nonce: 1n } });
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, 'unsolicited-pong');
  assert.equal(v.data.action, 'none');
  await staysOpen(peer);
});

test('trailing bytes after a message: processed as Core does (pong answered), recorded with no action', async (t) => {
  const { o, peer } = await connected(t);
  await peer.handshake();
  const ping = new Uint8Array(8 + 3);
  ping.set([1, 2, 3, 4, 5, 6, 7, 8]);
  peer.sendRaw(encodeFrame(REGTEST, 'ping', ping));
  const pong = await peer.waitFor('pong');
  assert.equal((pong as Extract<Message, { command: 'pong' }>).payload.nonce, 0x0807060504030201n);
  const v = await o.log.waitFor('violation', (e) => e.data.command === 'ping');
  assert.equal(v.data.kind, 'malformed-payload');
  assert.equal(v.data.action, 'none');
  assert.match(v.data.detail, /3 trailing bytes ignored/);
  await staysOpen(peer);
});
