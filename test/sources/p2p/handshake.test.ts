import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { commandsOf, EventLog, REGTEST, startTestObserver, TestPeer, until, versionMessage } from './helpers.js';
import { startObserver } from '../../../src/sources/p2p/observer.js';
import type { Message } from '../../../src/protocol/messages/types.js';

test('inbound modern peer: version, wtxidrelay, sendaddrv2, verack, then sendheaders, sendcmpct, ping', async (t) => {
  const o = await startTestObserver();
  t.after(() => o.stop());
  const peer = await TestPeer.connect(o.port);
  peer.send(
    versionMessage({ nonce: 42n, startHeight: 123 }),
    { command: 'wtxidrelay', payload: {} },
    { command: 'sendaddrv2', payload: {} },
  );
  await peer.waitFor('verack');
  assert.deepEqual(commandsOf(peer.received), ['version', 'wtxidrelay', 'sendaddrv2', 'verack']);
  peer.send({ command: 'verack', payload: {} });
  const ping = await peer.waitFor('ping');
  assert.deepEqual(commandsOf(peer.received).slice(4), ['sendheaders', 'sendcmpct', 'ping']);
  const sendcmpct = peer.received[5] as Extract<Message, { command: 'sendcmpct' }>;
  assert.deepEqual(sendcmpct.payload, { announce: false, version: 2n });

  // Our version: protocol 70016, NODE_WITNESS only, height 0, relay, a nonce.
  const ours = peer.received[0] as Extract<Message, { command: 'version' }>;
  assert.equal(ours.payload.version, 70016);
  assert.equal(ours.payload.services, 8n | 2048n, 'NODE_WITNESS | NODE_P2P_V2 (v2 on by default)');
  assert.equal(ours.payload.startHeight, 0);
  assert.equal(ours.payload.relay, true);
  assert.notEqual(ours.payload.nonce, 0n);

  // The peer's version facts.
  const hv = await o.log.waitFor('handshake.version');
  assert.equal(hv.source, 'p2p');
  assert.equal(hv.nodeId, 'test-node');
  assert.equal(hv.data.version, 70016);
  assert.equal(hv.data.nonce, '42');
  assert.equal(hv.data.services, '9');
  assert.equal(hv.data.userAgent, '/test-peer:1.0/');
  assert.equal(hv.data.startHeight, 123);
  assert.ok(Math.abs(hv.data.timeOffsetSec) <= 2);
  const done = await o.log.waitFor('handshake.complete');
  assert.equal(done.data.wtxidRelay, true);
  assert.equal(done.data.addrV2, true);

  // Answer our ping: a latency event.
  peer.send({ command: 'pong', payload: { nonce: (ping as Extract<Message, { command: 'ping' }>).payload.nonce } });
  const lat = await o.log.waitFor('ping.latency');
  assert.ok(lat.data.latencyMs >= 0);

  // Their ping: our pong with the same nonce.
  peer.send({ command: 'ping', payload: { nonce: 777n } });
  const pong = (await peer.waitFor('pong')) as Extract<Message, { command: 'pong' }>;
  assert.equal(pong.payload.nonce, 777n);

  // One message event for every message in each direction.
  await until(() => o.log.of('message', (e) => e.data.dir === 'in').length === 6, 2000, 'inbound message events');
  const outCommands = o.log.of('message', (e) => e.data.dir === 'out').map((e) => e.data.command);
  assert.deepEqual(outCommands, commandsOf(peer.received));
  const opened = o.log.of('connection.opened')[0]!;
  assert.equal(opened.data.netgroup, 'local');
  assert.equal(opened.data.conn.direction, 'inbound');
  assert.equal(opened.data.conn.remote, peer.remote);
  assert.equal(o.log.of('violation').length, 0);
  peer.close();
  const closed = await o.log.waitFor('connection.closed');
  assert.equal(closed.data.reason, 'peer-closed');
  assert.equal(closed.data.handshakeComplete, true);
  assert.equal(closed.data.messagesIn, 6);
});

test('an old peer (70001) is sent only what 70001 understands', async (t) => {
  const o = await startTestObserver();
  t.after(() => o.stop());
  const peer = await TestPeer.connect(o.port);
  await peer.handshake(versionMessage({ version: 70001 }));
  await peer.waitFor('ping');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(commandsOf(peer.received), ['version', 'verack', 'ping']);
  peer.close();
});

test('a 70012 peer gets sendheaders but not sendcmpct (70014)', async (t) => {
  const o = await startTestObserver();
  t.after(() => o.stop());
  const peer = await TestPeer.connect(o.port);
  await peer.handshake(versionMessage({ version: 70012 }));
  await peer.waitFor('ping');
  assert.deepEqual(commandsOf(peer.received), ['version', 'verack', 'sendheaders', 'ping']);
  peer.close();
});

test('getdata: transactions are notfound, blocks are not answered; getheaders gets an empty headers; getaddr nothing', async (t) => {
  const o = await startTestObserver();
  t.after(() => o.stop());
  const peer = await TestPeer.connect(o.port);
  await peer.handshake();
  const h = (n: number): Uint8Array => new Uint8Array(32).fill(n);
  peer.send({
    command: 'getdata',
    payload: {
      items: [
        { type: 1, hash: h(1) },
        { type: 2, hash: h(2) },
        { type: 5, hash: h(5) },
        { type: 0x40000001, hash: h(6) },
        { type: 0x40000002, hash: h(7) },
      ],
    },
  });
  const nf = (await peer.waitFor('notfound')) as Extract<Message, { command: 'notfound' }>;
  assert.deepEqual(
    nf.payload.items.map((i) => i.type),
    [1, 5, 0x40000001],
  );
  peer.send({ command: 'getaddr', payload: {} });
  peer.send({ command: 'getheaders', payload: { version: 70016, locator: [h(9)], stop: new Uint8Array(32) } });
  const headers = (await peer.waitFor('headers')) as Extract<Message, { command: 'headers' }>;
  assert.equal(headers.payload.headers.length, 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(!commandsOf(peer.received).includes('addr'));
  assert.ok(!commandsOf(peer.received).includes('addrv2'));
  assert.ok(!commandsOf(peer.received).includes('block'));
  assert.equal(o.log.of('violation').length, 0);
  peer.close();
});

/** A listening test peer: accepts one connection at a time and hands it to `onPeer`. */
async function listeningPeer(onPeer: (p: TestPeer) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => onPeer(TestPeer.fromSocket(socket)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : 0 };
}

test('outbound: we send version first, complete the handshake and send getaddr once', async (t) => {
  const peers: TestPeer[] = [];
  const { server, port } = await listeningPeer((p) => peers.push(p));
  t.after(() => server.close());
  const o = await startTestObserver({ listen: [], connect: [{ host: '127.0.0.1', port }], v2: false }); // a v1-only test peer that does not close on our v2 key
  t.after(() => o.stop());
  await until(() => peers.length === 1, 3000, 'the dial');
  const peer = peers[0]!;
  const v = (await peer.waitFor('version')) as Extract<Message, { command: 'version' }>;
  assert.equal(peer.received[0]!.command, 'version');
  assert.equal(v.payload.receiver.port, peer.socket.localPort);
  peer.send(versionMessage({ version: 70016 }), { command: 'wtxidrelay', payload: {} }, { command: 'verack', payload: {} });
  await peer.waitFor('getaddr');
  await peer.waitFor('ping');
  assert.deepEqual(commandsOf(peer.received), [
    'version',
    'wtxidrelay',
    'sendaddrv2',
    'verack',
    'sendheaders',
    'sendcmpct',
    'getaddr',
    'ping',
  ]);
  const done = await o.log.waitFor('handshake.complete');
  assert.equal(done.data.conn.direction, 'outbound');
  assert.equal(done.data.wtxidRelay, true);
  assert.equal(done.data.addrV2, false);
});

test('outbound: a dropped peer is re-dialled; a refused dial is connect-failed with backoff', async (t) => {
  const peers: TestPeer[] = [];
  const { server, port } = await listeningPeer((p) => peers.push(p));
  const o = await startTestObserver({
    listen: [],
    connect: [{ host: '127.0.0.1', port }],
    limits: { initialBackoffMs: 20, maxBackoffMs: 80 },
  });
  t.after(() => o.stop());
  await until(() => peers.length === 1, 3000, 'first dial');
  peers[0]!.close();
  await until(() => peers.length === 2, 3000, 're-dial');
  // Now take the listener away: dials fail and are reported, spaced by the backoff.
  server.close();
  peers[1]!.close();
  await until(() => o.log.of('connection.closed', (e) => e.data.reason === 'connect-failed').length >= 4, 5000, 'connect failures');
  const failed = o.log.of('connection.closed', (e) => e.data.reason === 'connect-failed');
  assert.equal(failed[0]!.data.conn.direction, 'outbound');
  assert.equal(failed[0]!.data.conn.remote, `127.0.0.1:${port}`);
  assert.match(failed[0]!.data.detail, /ECONNREFUSED|refused/);
  const gaps = failed.slice(1).map((e, i) => (e.timeUs - failed[i]!.timeUs) / 1000);
  for (const gap of gaps) assert.ok(gap >= 15 && gap <= 400, `gap ${gap} ms within the backoff bounds`);
  assert.ok(o.observer.stats().outboundFailed >= 4);
});

test('a connection to ourselves is detected by the version nonce and dropped', async (t) => {
  // Find a free port, then start an observer that listens on it and dials it.
  const probe = await startTestObserver();
  await probe.stop();
  const log = new EventLog();
  const loop = await startObserver({
    network: REGTEST,
    nodeId: 'self',
    listen: [{ host: '127.0.0.1', port: probe.port }],
    connect: [{ host: '127.0.0.1', port: probe.port }],
    limits: { initialBackoffMs: 60_000 },
    publish: log.publish,
  });
  t.after(() => loop.stop());
  const v = await log.waitFor('violation', (e) => e.data.kind === 'self-connection');
  assert.equal(v.data.action, 'disconnect');
  assert.equal(v.data.conn.direction, 'inbound');
  const closed = await log.waitFor('connection.closed', (e) => e.data.conn.id === v.data.conn.id);
  assert.equal(closed.data.reason, 'protocol-violation');
  assert.equal(log.of('handshake.complete').length, 0);
});

test('a relay byte other than 0/1 is read as true, as Core reads it: the handshake completes and the byte is recorded', async (t) => {
  const o = await startTestObserver();
  t.after(() => o.stop());
  const peer = await TestPeer.connect(o.port);
  t.after(() => peer.close());
  await peer.handshake(versionMessage({ relay: true, relayByte: 0x02 }));
  const hv = await o.log.waitFor('handshake.version');
  assert.equal(hv.data.relay, true);
  await o.log.waitFor('handshake.complete');
  const m = await o.log.waitFor('message', (e) => e.data.dir === 'in' && e.data.command === 'version');
  assert.equal((m.data.payload as { relayByte?: number }).relayByte, 2);
  assert.deepEqual(o.log.of('violation'), []);
});
