/**
 * The honest peer against a minimal responder written here on the codec: it must
 * handshake in Core's order, answer pings, send only what decodes strictly, send
 * only what the remote's version understands, and stop cleanly on abort.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { classifyIp, ipFromString, ipToString } from '../../src/protocol/address.js';
import { FrameDecoder } from '../../src/protocol/framing.js';
import { decodeMessage, encodeMessageFrame, isKnown, msg } from '../../src/protocol/messages/index.js';
import type { KnownMessage, Message } from '../../src/protocol/messages/types.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { randomTx, runHonestPeer } from '../../src/simulate/honest-peer.js';

const network = NETWORKS.regtest;

interface Remote {
  server: Server;
  port: number;
  received: KnownMessage[];
  errors: string[];
  sources: string[];
  sockets: Socket[];
}

/** Accepts one peer per connection, handshakes with the given protocol version, pings once. */
async function responder(version = 70016): Promise<Remote> {
  const r: Remote = { server: createServer(), port: 0, received: [], errors: [], sources: [], sockets: [] };
  r.server.on('connection', (s) => {
    r.sockets.push(s);
    r.sources.push(s.remoteAddress ?? '');
    const dec = new FrameDecoder({ network, detectV2: true });
    const send = (m: Message) => s.write(encodeMessageFrame(network, m));
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) => {
      for (const item of dec.push(new Uint8Array(chunk))) {
        if (item.type === 'violation') {
          r.errors.push(item.violation.kind);
          continue;
        }
        let m: Message;
        try {
          m = decodeMessage(item.frame.command, item.frame.payload);
        } catch (err) {
          r.errors.push(String(err));
          continue;
        }
        if (!isKnown(m)) {
          r.errors.push(`unknown command ${m.command}`);
          continue;
        }
        r.received.push(m);
        if (m.command === 'version') {
          send(
            msg('version', {
              version,
              services: 9n,
              timestamp: BigInt(Math.floor(Date.now() / 1000)),
              receiver: { services: 0n, ip: ipFromString('127.0.0.1'), port: 0 },
              sender: { services: 0n, ip: new Uint8Array(16), port: 0 },
              nonce: 1n,
              userAgent: '/responder/',
              startHeight: 0,
              relay: true,
            }),
          );
          if (version >= 70016) {
            send(msg('wtxidrelay', {}));
            send(msg('sendaddrv2', {}));
          }
          send(msg('verack', {}));
          send(msg('ping', { nonce: 77n }));
        }
        if (m.command === 'inv') send(msg('getdata', { items: m.payload.items }));
      }
    });
  });
  await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', res));
  r.port = (r.server.address() as AddressInfo).port;
  return r;
}

async function closeRemote(r: Remote): Promise<void> {
  for (const s of r.sockets) s.destroy();
  await new Promise((res) => r.server.close(res));
}

describe('honest peer', () => {
  it('handshakes like Core, answers pings, sends honest traffic that decodes strictly', { timeout: 10_000 }, async () => {
    const remote = await responder();
    const ac = new AbortController();
    try {
      const done = runHonestPeer({
        network,
        host: '127.0.0.1',
        port: remote.port,
        localAddress: '127.0.0.7',
        trafficIntervalMs: 20,
        signal: ac.signal,
      });
      await new Promise((res) => setTimeout(res, 800));
      ac.abort();
      const result = await done;
      assert.equal(result.end, 'aborted');
      assert.equal(result.stats.handshakeComplete, true);
      assert.equal(result.stats.remoteUserAgent, '/responder/');
      assert.deepEqual(result.stats.errors, []);
      assert.deepEqual(remote.errors, []);
      assert.equal(remote.sources[0], '127.0.0.7');

      const commands: string[] = remote.received.map((m) => m.command);
      assert.deepEqual(commands.slice(0, 4), ['version', 'wtxidrelay', 'sendaddrv2', 'verack']);
      const version = remote.received[0]!;
      assert.ok(version.command === 'version' && version.payload.version === 70016);
      assert.match(version.command === 'version' ? (version.payload.userAgent ?? '') : '', /^\/Satoshi:\d+\.\d+\.\d+\/$/);
      for (const c of ['sendheaders', 'sendcmpct', 'feefilter', 'ping', 'getheaders', 'pong']) assert.ok(commands.includes(c), `sent ${c}`);
      const pong = remote.received.find((m) => m.command === 'pong');
      assert.ok(pong?.command === 'pong' && pong.payload.nonce === 77n);
      // Periodic traffic: with a 20 ms interval, several of each kind in 800 ms.
      assert.ok(
        commands.filter((c) => c === 'inv' || c === 'addrv2' || c === 'ping' || c === 'getheaders' || c === 'tx').length > 10,
        commands.join(','),
      );
      for (const m of remote.received) {
        if (m.command === 'addrv2') {
          const now = Date.now() / 1000;
          for (const e of m.payload.entries) {
            assert.equal(e.networkId, 1);
            assert.ok(Math.abs(now - e.time) < 4 * 3600);
            const ip16 = new Uint8Array(16);
            ip16[10] = 0xff;
            ip16[11] = 0xff;
            ip16.set(e.addr, 12);
            assert.equal(classifyIp(ip16), 'routable', ipToString(ip16));
          }
        }
        if (m.command === 'inv') for (const i of m.payload.items) assert.equal(i.type, 5, 'wtx inv after wtxidrelay');
      }
      // getdata for what it announced → notfound
      if (commands.includes('inv')) assert.ok(commands.includes('notfound'));
    } finally {
      ac.abort();
      await closeRemote(remote);
    }
  });

  it('sends an old peer only what its version understands', { timeout: 10_000 }, async () => {
    const remote = await responder(70001);
    const ac = new AbortController();
    try {
      const done = runHonestPeer({ network, host: '127.0.0.1', port: remote.port, trafficIntervalMs: 20, signal: ac.signal });
      await new Promise((res) => setTimeout(res, 400));
      ac.abort();
      const result = await done;
      assert.equal(result.stats.handshakeComplete, true);
      const commands = new Set<string>(remote.received.map((m) => m.command));
      for (const c of ['wtxidrelay', 'sendaddrv2', 'sendheaders', 'sendcmpct', 'feefilter', 'addrv2'])
        assert.ok(!commands.has(c), `must not send ${c}`);
      for (const m of remote.received) if (m.command === 'inv') for (const i of m.payload.items) assert.equal(i.type, 1);
    } finally {
      ac.abort();
      await closeRemote(remote);
    }
  });

  it('reports a remote close and rejects when it cannot connect', { timeout: 10_000 }, async () => {
    const remote = await responder();
    const done = runHonestPeer({ network, host: '127.0.0.1', port: remote.port });
    await new Promise((res) => setTimeout(res, 200));
    await closeRemote(remote);
    assert.equal((await done).end, 'remote-closed');
    await assert.rejects(runHonestPeer({ network, host: '127.0.0.1', port: remote.port }), /ECONNREFUSED/);
  });

  it('builds transactions that round-trip through the codec', () => {
    const tx = msg('tx', randomTx());
    const frame = encodeMessageFrame(network, tx);
    const items = new FrameDecoder({ network }).push(frame);
    assert.equal(items.length, 1);
    const item = items[0]!;
    assert.ok(item.type === 'frame');
    assert.deepEqual(decodeMessage('tx', item.frame.payload), tx);
  });
});
