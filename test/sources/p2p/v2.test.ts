/**
 * The observer's v2 side over real loopback TCP, with a BIP324 client built on
 * our transport: a v2 session carries the same message events as v1, the events
 * say v2 with the session id, garbage length and decoys; each kind of hostile v2
 * input becomes a typed violation handled as Core's V2Transport handles it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { encodeMessageFrame, encodePayload, msg } from '../../../src/protocol/messages/index.js';
import { V2Transport, type V2Item } from '../../../src/protocol/v2/transport.js';
import { formatText } from '../../../src/consumers/logger/format.js';
import type { Message } from '../../../src/protocol/messages/types.js';
import { REGTEST, startTestObserver, until, versionMessage, type TestObserver } from './helpers.js';

class V2Client {
  readonly items: V2Item[] = [];
  closed = false;
  private constructor(
    readonly socket: Socket,
    readonly t: V2Transport,
  ) {
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
    socket.on('data', (chunk) => {
      if (t.closed) return;
      for (const item of t.push(chunk)) {
        if (item.type === 'send') socket.write(item.bytes);
        else this.items.push(item);
      }
    });
  }

  static async open(port: number, options: { garbage?: Uint8Array; decoys?: number[]; opening?: (b: Uint8Array) => Uint8Array } = {}) {
    const t = new V2Transport({ network: REGTEST, initiating: true, garbage: options.garbage, decoys: options.decoys });
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((r) => socket.once('connect', r));
    const c = new V2Client(socket, t);
    const opening = t.start();
    socket.write(options.opening ? options.opening(opening) : opening);
    return c;
  }

  send(m: Message): void {
    const b = this.t.encodeMessage(m.command, encodePayload(m));
    if (b) this.socket.write(b);
  }

  async handshake(): Promise<string> {
    await until(() => this.items.some((i) => i.type === 'handshake'), 5000, 'v2 handshake');
    return this.t.sessionId;
  }
}

async function observed(t: { after(fn: () => unknown): void }): Promise<TestObserver> {
  const o = await startTestObserver();
  t.after(() => o.stop());
  return o;
}

test('a v2 session: same message events as v1, v2 fields on the events and in the log lines', async (t) => {
  const o = await observed(t);
  const c = await V2Client.open(o.port, { garbage: randomBytes(777), decoys: [1, 2, 3] });
  t.after(() => c.socket.destroy());
  const sessionId = await c.handshake();
  c.send(versionMessage());
  c.send({ command: 'verack', payload: {} });
  const done = await o.log.waitFor('handshake.complete');
  assert.equal(done.data.transport, 'v2');
  assert.equal(done.data.sessionId, sessionId);
  assert.equal(done.data.garbageLength, 777);
  const opened = o.log.of('connection.opened')[0]!;
  assert.equal(opened.data.transport, 'unknown', 'accepted before its first bytes decided (Core: detecting)');
  const version = o.log.of('message', (e) => e.data.dir === 'in' && e.data.command === 'version')[0]!;
  assert.equal((version.data.payload as { userAgent: string }).userAgent, '/test-peer:1.0/');
  // Our answers come back over v2, short ids and long form alike.
  await until(() => c.items.filter((i) => i.type === 'frame').length >= 3, 5000, 'our version, verack and more');
  const ours = c.items.flatMap((i) => (i.type === 'frame' ? [i.frame.command] : []));
  assert.deepEqual(ours.slice(0, 2), ['version', 'wtxidrelay']);
  c.send(msg('ping', { nonce: 42n }));
  await until(() => c.items.some((i) => i.type === 'frame' && i.frame.command === 'pong'), 5000, 'pong');
  c.socket.destroy();
  const closed = await o.log.waitFor('connection.closed');
  assert.equal(closed.data.transport, 'v2');
  assert.equal(closed.data.decoysIn, 3);
  assert.equal(closed.data.sessionId, sessionId);
  assert.match(formatText(opened), /transport=unknown/);
  assert.match(formatText(done), new RegExp(`transport=v2 session=${sessionId} garbage=777`));
  assert.match(formatText(closed), /transport=v2 decoys=3/);
  const stats = o.observer.stats();
  assert.deepEqual([stats.v2Sessions, stats.v2DecoysIn], [1, 3], 'observer counters');
  assert.deepEqual(o.log.invalid, []);
});

test('an inbound v1 peer is still served when v2 is on (first 16 bytes decide)', async (t) => {
  const o = await observed(t);
  const s = connect({ host: '127.0.0.1', port: o.port });
  t.after(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  s.write(encodeMessageFrame(REGTEST, versionMessage()));
  await o.log.waitFor('message', (e) => e.data.dir === 'out' && e.data.command === 'version');
  s.destroy();
  const closed = await o.log.waitFor('connection.closed');
  assert.equal(closed.data.transport, 'v1');
  assert.equal(closed.data.sessionId, undefined);
});

async function hostile(
  t: { after(fn: () => unknown): void },
  act: (c: V2Client, o: TestObserver) => Promise<void> | void,
  kind: string,
  action: 'disconnect' | 'drop-message',
): Promise<TestObserver> {
  const o = await observed(t);
  const c = await V2Client.open(o.port);
  t.after(() => c.socket.destroy());
  await act(c, o);
  const v = await o.log.waitFor('violation');
  assert.equal(v.data.kind, kind);
  assert.equal(v.data.action, action);
  if (action === 'disconnect') {
    const closed = await o.log.waitFor('connection.closed');
    assert.equal(closed.data.reason, 'protocol-violation');
    await until(() => c.closed, 5000, 'socket closed by the observer');
  }
  assert.deepEqual(o.log.invalid, []);
  return o;
}

test('hostile: garbage without a terminator; a truncated key', async (t) => {
  const o = await observed(t);
  const key = new V2Transport({ network: REGTEST, initiating: true }).start().subarray(0, 64);
  const s = connect({ host: '127.0.0.1', port: o.port });
  s.on('error', () => {});
  t.after(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  s.write(key);
  s.write(randomBytes(4095 + 16));
  const v = await o.log.waitFor('violation');
  assert.deepEqual([v.data.kind, v.data.action], ['v2-missing-garbage-terminator', 'disconnect']);
  const closed = await o.log.waitFor('connection.closed');
  assert.equal(closed.data.reason, 'protocol-violation');
  assert.equal(o.log.of('connection.opened')[0]!.data.transport, 'unknown', 'opened (at close) without a settled transport');

  // A key cut short: nothing to judge yet; the peer goes, the close is recorded, no violation.
  const s2 = connect({ host: '127.0.0.1', port: o.port });
  s2.on('error', () => {});
  await new Promise((r) => s2.once('connect', r));
  s2.end(key.subarray(0, 40));
  await o.log.waitFor('connection.closed', (e) => e.data.conn.id !== closed.data.conn.id);
  assert.equal(o.log.of('violation').length, 1);
  assert.deepEqual(o.log.invalid, []);
});

test('hostile: a wrong tag on a packet', async (t) => {
  await hostile(
    t,
    async (c) => {
      await c.handshake();
      const p = c.t.encodeMessage('ping', new Uint8Array(8))!;
      p[p.length - 1]! ^= 1;
      c.socket.write(p);
    },
    'v2-decryption-failure',
    'disconnect',
  );
});

test('hostile: an oversize length, v1 bytes after a v2 start, a bad message type', async (t) => {
  await hostile(
    t,
    async (c) => {
      await c.handshake();
      c.socket.write(c.t.encodeMessage('block', new Uint8Array(4_000_013))!.subarray(0, 3));
    },
    'v2-oversize-packet',
    'disconnect',
  );
  await hostile(
    t,
    async (c) => {
      await c.handshake();
      // Enough v1 bytes for the packet the magic's bytes claim, whatever length they decrypt to.
      c.socket.write(Buffer.concat([encodeMessageFrame(REGTEST, msg('ping', { nonce: 1n })), new Uint8Array(4_000_040)]));
    },
    'v1-after-v2',
    'disconnect',
  );
  const o = await hostile(
    t,
    async (c) => {
      await c.handshake();
      c.socket.write(c.t.encodeMessage('a\x01', new Uint8Array(0))!);
    },
    'v2-invalid-message-type',
    'drop-message',
  );
  assert.equal(o.log.of('connection.closed').length, 0, 'reject_message: the peer stays');
});

test("outbound: a v1-only peer that drops our v2 key gets Core's v1 fallback at once, both attempts as events", async (t) => {
  const { createServer } = await import('node:net');
  const firstBytes: Buffer[] = [];
  const server = createServer((s) => {
    s.on('error', () => {});
    s.once('data', (b: Buffer) => {
      firstBytes.push(b.subarray(0, 16));
      // Core's V1Transport: "Header error: Wrong MessageStart" → disconnect, nothing sent.
      if (b.readUInt32BE(0) !== REGTEST.magic) s.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const o = await startTestObserver({ listen: [], connect: [{ host: '127.0.0.1', port }] });
  t.after(() => o.stop());
  await until(() => firstBytes.length === 2, 5000, 'the v1 retry');
  const closed = await o.log.waitFor('connection.closed');
  assert.equal(closed.data.transport, 'v2');
  assert.match(closed.data.detail, /retrying with v1/);
  await until(() => o.log.of('connection.opened').length === 2, 5000, 'the second opened');
  assert.deepEqual(
    o.log.of('connection.opened').map((e) => e.data.transport),
    ['v2', 'v1'],
  );
  const v1Prefix = Buffer.alloc(16);
  v1Prefix.writeUInt32BE(REGTEST.magic, 0);
  v1Prefix.write('version', 4);
  assert.deepEqual(firstBytes[1], v1Prefix, 'the retry opens with a v1 version message');
  assert.equal(o.observer.stats().v1Fallbacks, 1);
});
