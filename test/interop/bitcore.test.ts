/**
 * Interop with bitcore-p2p, an independent implementation speaking protocol 70001
 * that throws on any command it does not know: it checks that we complete
 * handshakes both ways and send a peer only what its version understands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { EventLog, REGTEST, startTestObserver, until } from '../sources/p2p/helpers.js';
import { startObserver } from '../../src/sources/p2p/observer.js';
import { DEFAULT_USER_AGENT } from '../../src/sources/p2p/policy.js';

// bitcore's `buffers` dependency calls Buffer.prototype.get, which Node removed.
(Buffer.prototype as unknown as { get?: (this: Buffer, i: number) => number }).get ??= function (this: Buffer, i: number) {
  return this[i]!;
};

interface BitcoreMessage {
  command: string;
  nonce?: Buffer;
}
interface BitcorePeer {
  version: number;
  subversion: string | null;
  bestHeight: number;
  status: string;
  messages: { Ping(nonce?: Buffer): BitcoreMessage; Version(): BitcoreMessage };
  on(event: string, listener: (m: BitcoreMessage & Record<string, unknown>) => void): void;
  connect(): void;
  disconnect(): void;
  sendMessage(m: BitcoreMessage): void;
  _sendVersion(): void;
}
type PeerCtor = new (options: { host?: string; port?: number; network: string; socket?: Socket }) => BitcorePeer;

async function bitcorePeer(): Promise<PeerCtor> {
  const name = 'bitcore-p2p'; // untyped CommonJS package: imported by name, typed by the interfaces above
  const mod = (await import(name)) as { default: { Peer: PeerCtor } };
  return mod.default.Peer;
}

/** Every command a bitcore peer emitted, and any error it raised. */
function watch(peer: BitcorePeer): { commands: string[]; errors: unknown[] } {
  const seen = { commands: [] as string[], errors: [] as unknown[] };
  for (const c of ['version', 'verack', 'ping', 'pong', 'getaddr', 'headers', 'notfound', 'addr', 'inv'])
    peer.on(c, () => seen.commands.push(c));
  peer.on('error', (e) => seen.errors.push(e));
  return seen;
}

test('a bitcore-p2p peer connects to our listener, completes the handshake and exchanges ping/pong', async (t) => {
  const Peer = await bitcorePeer();
  const o = await startTestObserver();
  t.after(() => o.stop());
  const peer = new Peer({ host: '127.0.0.1', port: o.port, network: 'regtest' });
  const seen = watch(peer);
  const ready = new Promise<void>((resolve) => peer.on('ready', () => resolve()));
  let disconnected = false;
  peer.on('disconnect', () => {
    disconnected = true;
  });
  peer.connect();
  t.after(() => peer.disconnect());
  await ready; // bitcore saw our verack
  const done = await o.log.waitFor('handshake.complete'); // we saw theirs
  assert.equal(done.data.wtxidRelay, false);

  // Their ping → our pong with the same nonce.
  const nonce = Buffer.from('0102030405060708', 'hex');
  const pong = new Promise<BitcoreMessage>((resolve) => peer.on('pong', (m) => resolve(m)));
  peer.sendMessage(peer.messages.Ping(nonce));
  assert.deepEqual((await pong).nonce, nonce);
  // Our ping → bitcore's pong → a latency measurement.
  await o.log.waitFor('ping.latency');

  // Both sides saw the same version facts.
  const hv = await o.log.waitFor('handshake.version');
  assert.equal(hv.data.version, 70001);
  assert.match(hv.data.userAgent, /^\/bitcore:/);
  assert.equal(hv.data.services, '1');
  assert.equal(hv.data.startHeight, 0);
  assert.equal(hv.data.relay, true);
  assert.equal(peer.version, 70016);
  assert.equal(peer.subversion, DEFAULT_USER_AGENT);
  assert.equal(peer.bestHeight, 0);

  // Only what 70001 understands was sent; bitcore never choked.
  const sent = o.log.of('message', (e) => e.data.dir === 'out').map((e) => e.data.command);
  assert.deepEqual(sent, ['version', 'verack', 'ping', 'pong']);
  assert.deepEqual(seen.errors, []);
  assert.equal(disconnected, false);
  assert.equal(o.log.of('violation').length, 0);
});

/** A bitcore-p2p listener: each accepted socket becomes a bitcore Peer. */
async function bitcoreListener(Peer: PeerCtor, onPeer: (p: BitcorePeer) => void): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    onPeer(new Peer({ socket, network: 'regtest' }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      sockets.forEach((s) => s.destroy());
      server.close();
    },
  };
}

test('our observer connects out to a bitcore-p2p listener and completes the handshake', async (t) => {
  const Peer = await bitcorePeer();
  const peers: { peer: BitcorePeer; seen: ReturnType<typeof watch> }[] = [];
  const listener = await bitcoreListener(Peer, (peer) => {
    const seen = watch(peer);
    // bitcore answers a version with verack *then* its own version; Core (and we)
    // drop a verack that comes before the peer's version, so the handshake could
    // never finish. A listener that announces its version on accept is a valid
    // ordering (both versions cross), so the harness has bitcore do that.
    peer._sendVersion();
    peers.push({ peer, seen });
  });
  t.after(() => listener.close());
  const log = new EventLog();
  const o = await startObserver({
    network: REGTEST,
    nodeId: 'n',
    listen: [],
    connect: [{ host: '127.0.0.1', port: listener.port }],
    // bitcore-p2p speaks v1 only and, unlike Core, does not hang up on our v2 key (which
    // would trigger the v1 fallback): dial it with v1.
    v2: false,
    publish: log.publish,
  });
  t.after(() => o.stop());
  const done = await log.waitFor('handshake.complete');
  assert.equal(done.data.conn.direction, 'outbound');
  await until(() => (peers[0]?.seen.commands ?? []).includes('getaddr'), 3000, 'bitcore receiving getaddr');
  await log.waitFor('ping.latency');
  const { peer, seen } = peers[0]!;
  assert.ok(seen.commands.includes('version') && seen.commands.includes('verack'));
  const hv = await log.waitFor('handshake.version');
  assert.equal(hv.data.version, 70001);
  assert.match(hv.data.userAgent, /^\/bitcore:/);
  assert.equal(peer.version, 70016);
  assert.equal(peer.subversion, DEFAULT_USER_AGENT);
  assert.equal(peer.bestHeight, 0);
  assert.deepEqual(seen.errors, []);
  assert.equal(peer.status, 'ready');
  const sent = log.of('message', (e) => e.data.dir === 'out').map((e) => e.data.command);
  assert.deepEqual(sent, ['version', 'verack', 'getaddr', 'ping']);
  assert.equal(log.of('violation').length, 0);
});

test("bitcore's own listener ordering (verack before its version) is recorded as Core would: message-before-version", async (t) => {
  const Peer = await bitcorePeer();
  const listener = await bitcoreListener(Peer, () => {});
  t.after(() => listener.close());
  const log = new EventLog();
  const o = await startObserver({
    network: REGTEST,
    nodeId: 'n',
    listen: [],
    connect: [{ host: '127.0.0.1', port: listener.port }],
    limits: { handshakeTimeoutMs: 300, initialBackoffMs: 60_000 },
    v2: false, // v1-only bitcore-p2p (see above)
    publish: log.publish,
  });
  t.after(() => o.stop());
  const v = await log.waitFor('violation');
  assert.equal(v.data.kind, 'message-before-version');
  assert.equal(v.data.command, 'verack');
  const timeout = await log.waitFor('violation', (e) => e.data.kind === 'handshake-timeout');
  assert.equal(timeout.data.action, 'disconnect');
  assert.equal(log.of('handshake.complete').length, 0);
});
