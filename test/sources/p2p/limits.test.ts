import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { NETWORKS } from '../../../src/protocol/networks.js';
import { ConnectionLimiter, resolveLimits } from '../../../src/sources/p2p/limits.js';
import { startObserver } from '../../../src/sources/p2p/observer.js';
import { EventLog, startTestObserver, TestPeer, until } from './helpers.js';

test('1000 connections from one address: maxPerIp kept, the rest refused and counted; other addresses still handshake', async (t) => {
  const maxPerIp = 8;
  const o = await startTestObserver({ limits: { maxPerIp, handshakeTimeoutMs: 30_000 }, v2: false }); // silent connections: opened at once only without v2 detection
  t.after(() => o.stop());
  const kept: Socket[] = [];
  t.after(() => kept.forEach((s) => s.destroy()));
  const total = 1000;
  const batch = 100;
  for (let start = 0; start < total; start += batch) {
    const sockets: Socket[] = [];
    for (let i = start; i < start + batch; i++) {
      const s = connect({ host: '127.0.0.1', port: o.port, localAddress: '127.0.0.2' });
      s.on('error', () => {});
      sockets.push(s);
    }
    await until(
      () => {
        const st = o.observer.stats();
        return st.inboundAccepted + st.inboundRefusedPerIp === start + batch;
      },
      10_000,
      `batch ${start}`,
    );
    for (const s of sockets) {
      if (!s.destroyed && !s.readableEnded) kept.push(s);
    }
  }
  const st = o.observer.stats();
  assert.equal(st.inboundAccepted, maxPerIp);
  assert.equal(st.inboundRefusedPerIp, total - maxPerIp);
  assert.equal(st.connections.inbound, maxPerIp);
  assert.equal(o.log.of('connection.opened').length, maxPerIp);
  const refused = o.log.of('connection.closed', (e) => e.data.reason === 'limit');
  assert.equal(refused.length, total - maxPerIp);
  assert.equal(refused[0]!.data.netgroup, 'local');

  // Other source addresses are not affected.
  for (const localAddress of ['127.0.0.3', '127.0.0.4']) {
    const peer = await TestPeer.connect(o.port, { localAddress });
    t.after(() => peer.close());
    await peer.handshake();
  }
  await until(() => o.observer.stats().handshakesCompleted === 2, 3000, 'two handshakes');
  // The eight kept connections are still held.
  assert.equal(o.observer.stats().connections.inbound, maxPerIp + 2);
});

test('total inbound limit: the connection over maxConnections is refused when every peer is protected from eviction', async (t) => {
  // Three peers are all protected by Core's rules (20 are: netgroup, ping, tx, block); the handshake
  // budget is raised so that it does not make room either.
  const o = await startTestObserver({ limits: { maxConnections: 3, maxPendingHandshakes: 100 } });
  t.after(() => o.stop());
  const peers = await Promise.all([2, 3, 4, 5].map((n) => TestPeer.connect(o.port, { localAddress: `127.0.0.${n}` })));
  t.after(() => peers.forEach((p) => p.close()));
  await until(() => o.observer.stats().inboundRefusedTotal === 1, 3000, 'one refusal');
  assert.equal(o.observer.stats().connections.inbound, 3);
  // A slot frees when a peer leaves.
  const open = peers.filter((p) => !p.isClosed);
  open[0]!.close();
  await until(() => o.observer.stats().connections.inbound === 2, 3000, 'release');
  const again = await TestPeer.connect(o.port, { localAddress: '127.0.0.6' });
  t.after(() => again.close());
  await again.handshake();
});

test('per-netgroup cap: past maxPerNetgroup one /16 is refused, another /16 still handshakes', async (t) => {
  const o = await startTestObserver({ limits: { maxPerNetgroup: 2 } });
  t.after(() => o.stop());
  const peers = await Promise.all(['127.44.0.1', '127.44.0.2', '127.44.1.3'].map((a) => TestPeer.connect(o.port, { localAddress: a })));
  t.after(() => peers.forEach((p) => p.close()));
  const refused = await o.log.waitFor('connection.closed', (e) => e.data.reason === 'limit');
  assert.match(refused.data.detail, /more than 2 connections from netgroup 127\.44\.0\.0\/16/);
  assert.equal(o.observer.stats().inboundRefusedPerNetgroup, 1);
  assert.equal(o.observer.stats().connections.inbound, 2);
  const other = await TestPeer.connect(o.port, { localAddress: '127.45.0.1' });
  t.after(() => other.close());
  await other.handshake();
});

test('a peer that does not read cannot make us buffer without limit', async (t) => {
  const maxSendBufferBytes = 64 * 1024;
  const o = await startTestObserver({ limits: { maxSendBufferBytes } });
  t.after(() => o.stop());
  const peer = await TestPeer.connect(o.port);
  t.after(() => peer.close());
  await peer.handshake();
  await peer.waitFor('ping');
  peer.socket.pause(); // stop reading: our answers pile up on the observer's side
  const items = Array.from({ length: 1000 }, (_, i) => ({ type: 1, hash: new Uint8Array(32).fill(i & 0xff) }));
  // Each getdata is answered by a notfound of the same size (~36 kB): write until the
  // observer stops reading from us (our own writes then stall in the kernel).
  let written = 0;
  const deadline = Date.now() + 15_000;
  while (o.observer.stats().sendPauses === 0 && Date.now() < deadline) {
    peer.send({ command: 'getdata', payload: { items } });
    written++;
    if (!peer.socket.write(new Uint8Array(0))) await Promise.race([once(peer.socket, 'drain'), new Promise((r) => setTimeout(r, 50))]);
  }
  const st = o.observer.stats();
  assert.ok(st.sendPauses >= 1, `reading paused after ${written} requests`);
  await new Promise((r) => setTimeout(r, 200));
  const queued = o.observer.stats().sendQueuedBytes;
  assert.ok(queued <= maxSendBufferBytes + 40_000, `queued ${queued} bytes stays near the bound`);
  // The peer reads again: everything drains and the session goes on.
  peer.socket.resume();
  await until(() => o.observer.stats().sendQueuedBytes === 0, 10_000, 'drain');
  peer.send({ command: 'ping', payload: { nonce: 99n } });
  await until(
    () => peer.received.some((m) => m.command === 'pong' && (m.payload as { nonce: bigint }).nonce === 99n),
    10_000,
    'pong after drain',
  );
});

test('listen errors reject with a clear message: port in use, bad address, bad port', async () => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const port = (blocker.address() as { port: number }).port;
  const base = { network: NETWORKS.regtest, nodeId: 'n', connect: [], publish: () => {} };
  await assert.rejects(startObserver({ ...base, listen: [{ host: '127.0.0.1', port }] }), {
    message: `cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`,
  });
  await assert.rejects(
    startObserver({ ...base, listen: [{ host: '192.0.2.1', port: 0 }] }),
    /cannot listen on 192\.0\.2\.1:0: address not available/,
  );
  await assert.rejects(startObserver({ ...base, listen: [{ host: '127.0.0.1', port: 70000 }] }), /port must be an integer from 0 to 65535/);
  // A failure on the second endpoint releases the first.
  await assert.rejects(
    startObserver({
      ...base,
      listen: [
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port },
      ],
    }),
    /address already in use/,
  );
  blocker.close();
  await assert.rejects(startObserver({ ...base, listen: [], limits: { maxPerIp: 0 } }), /maxPerIp must be an integer from 1/);
});

test('stop() closes every peer with reason shutdown and publishes final counters; an aborted signal stops too', async () => {
  const log = new EventLog();
  const ac = new AbortController();
  const o = await startObserver({
    network: NETWORKS.regtest,
    nodeId: 'n',
    listen: [{ host: '127.0.0.1', port: 0 }],
    connect: [],
    publish: log.publish,
    signal: ac.signal,
  });
  const peer = await TestPeer.connect(o.listening[0]!.port);
  await peer.handshake();
  await log.waitFor('handshake.complete');
  ac.abort();
  await peer.closed;
  const closed = await log.waitFor('connection.closed');
  assert.equal(closed.data.reason, 'shutdown');
  const counters = await log.waitFor('pipeline.counters');
  assert.equal(counters.data.stage, 'p2p.observer');
  assert.equal(counters.data.counters['handshakesCompleted'], 1);
  assert.equal(counters.data.counters['inboundAccepted'], 1);
  await o.stop(); // idempotent
});

test('resolveLimits and ConnectionLimiter', () => {
  assert.equal(resolveLimits().maxPerIp, 8);
  assert.equal(resolveLimits().maxConnections, 125);
  assert.equal(resolveLimits().pingTimeoutMs, 20 * 60_000);
  assert.equal(resolveLimits({ maxConnections: 20_000 }).maxConnections, 20_000);
  assert.throws(() => resolveLimits({ handshakeTimeoutMs: 1.5 }), /handshakeTimeoutMs/);
  const l = new ConnectionLimiter({ maxConnections: 3, maxPerIp: 2 });
  assert.equal(l.admit('a'), 'ok');
  assert.equal(l.admit('a'), 'ok');
  assert.equal(l.admit('a'), 'per-ip');
  assert.equal(l.admit('b'), 'ok');
  assert.equal(l.admit('c'), 'total');
  l.release('a');
  l.release('a');
  assert.equal(l.countFor('a'), 0);
  assert.equal(l.admit('c'), 'ok');
  assert.equal(l.size, 2);
});
