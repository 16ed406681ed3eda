/**
 * P2PObserver's admission state without its listener or a bus: the test owns
 * the TCP server (loopback) and hands each accepted socket to accept(); events
 * are collected from `publish`. Per-IP refusal, the handshake budget, counters
 * and stop are read from the class's own stats and events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { P2PObserver } from '../../../src/sources/p2p/observer.js';
import type { ObserverEvent } from '../../../src/events/types.js';
import { networkByName } from '../../../src/protocol/networks.js';
import { until } from '../../helpers/until.js';

async function feeding(observer: P2PObserver): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => observer.accept(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

/** A client socket from `from`; a refused one may be reset before or after its connect. */
function dial(port: number, from: string): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: from });
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  });
}

test('accept(): a second connection from one IP is refused at maxPerIp, counted, with a limit event; stop closes the rest', async () => {
  const events: ObserverEvent[] = [];
  const observer = new P2PObserver({
    network: networkByName('regtest'),
    nodeId: 'obs',
    listen: [],
    connect: [],
    limits: { maxPerIp: 1, maxPendingHandshakes: 8 },
    publish: (e) => events.push(e),
    publishCounters: false,
  });
  const { server, port } = await feeding(observer);
  const clients: Socket[] = [];
  try {
    clients.push(await dial(port, '127.0.0.41'));
    await until(() => observer.stats().inboundAccepted === 1, 'the first peer');
    clients.push(await dial(port, '127.0.0.41'));
    clients.push(await dial(port, '127.0.0.42'));
    await until(() => observer.stats().inboundAccepted === 2 && observer.stats().inboundRefusedPerIp === 1, 'the refusal');
    const s = observer.stats();
    assert.deepEqual([s.connections.inbound, s.pendingHandshakes, s.inboundRefusedPerIp], [2, 2, 1]);
    const refused = events.find((e) => e.type === 'connection.closed' && e.data.reason === 'limit');
    assert.ok(refused && refused.type === 'connection.closed');
    assert.match(refused.data.detail, /more than 1 connections from 127\.0\.0\.41/);
    assert.equal(events.filter((e) => e.type === 'connection.opened').length, 2);

    await observer.stop();
    const closed = events.filter((e) => e.type === 'connection.closed' && e.data.reason === 'shutdown');
    assert.equal(closed.length, 2, 'every admitted peer closed at stop');
    assert.equal(observer.stats().connections.inbound, 0);
    // After stop nothing is admitted.
    const late = await dial(port, '127.0.0.43');
    if (!late.closed) await new Promise<void>((r) => late.once('close', () => r()));
    assert.equal(observer.stats().inboundAccepted, 2);
    assert.equal(events.filter((e) => e.type === 'pipeline.counters').length, 0, 'publishCounters: false');
  } finally {
    for (const c of clients) c.destroy();
    await observer.stop();
    await new Promise((r) => server.close(r));
  }
});
