/**
 * The HTTP connection guard on a real server over loopback TCP, with small caps
 * and short timeouts so each rule shows in well under a second: per-source
 * eviction, eviction from the largest source at the total cap, refusal when all
 * are busy, and the headers, idle and response timeouts that destroy (no
 * half-close).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import type { GuardOptions } from '../../src/http/guard.js';
import { Router } from '../../src/http/router.js';
import { startHttpServer, type HttpServer } from '../../src/http/server.js';

let server: HttpServer | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = undefined;
});

let release: () => void = () => {};
async function start(connections: GuardOptions): Promise<HttpServer> {
  const router = new Router()
    .get('/ok', () => ({ json: { ok: true } }))
    .get('/slow', () => new Promise((resolve) => (release = () => resolve({ json: { slow: true } }))))
    .get('/big', () => ({ text: 'x'.repeat(1024 * 1024), contentType: 'text/plain' }));
  server = await startHttpServer({ host: '127.0.0.1', port: 0, router, connections });
  return server;
}

async function open(port: number, from: string, o: { allowHalfOpen?: boolean } = {}): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port, localAddress: from, allowHalfOpen: o.allowHalfOpen ?? false });
  sockets.push(s);
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/** Resolves with true once the server has dropped the socket (its FIN or reset), false after `ms`. */
function dropped(s: Socket, ms = 2000): Promise<boolean> {
  if (s.readableEnded || s.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    s.once('end', done);
    s.once('close', done);
  });
}

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 100));
}

describe('HTTP connection guard', () => {
  it('at the per-source cap, the newcomer gets in and the oldest waiting one of that source goes', async () => {
    const { port, stats } = await start({ maxPerSource: 3, maxConnections: 100 });
    const a = await open(port, '127.0.0.5');
    const b = await open(port, '127.0.0.5');
    const c = await open(port, '127.0.0.5');
    const other = await open(port, '127.0.0.6');
    await settle();
    const d = await open(port, '127.0.0.5');
    assert.equal(await dropped(a), true, 'the oldest of 127.0.0.5 was evicted');
    for (const s of [b, c, d, other]) assert.equal(await dropped(s, 200), false);
    d.write(GET('/ok'));
    const [chunk] = (await once(d, 'data')) as [Buffer];
    assert.match(chunk.toString(), /^HTTP\/1\.1 200/);
    assert.equal(stats().connections.evicted, 1);
    assert.equal(stats().connections.open, 4);
  });

  it('at the total cap, the waiting connection goes from the source holding the most', async () => {
    const { port, stats } = await start({ maxPerSource: 10, maxConnections: 6 });
    const small = await open(port, '127.0.0.7');
    const big = [];
    for (let i = 0; i < 4; i++) big.push(await open(port, '127.0.0.8'));
    const small2 = await open(port, '127.0.0.9');
    await settle();
    const newcomer = await open(port, '127.0.0.10');
    assert.equal(await dropped(big[0]!), true, "the oldest of 127.0.0.8's four");
    for (const s of [small, small2, newcomer, ...big.slice(1)]) assert.equal(await dropped(s, 200), false);
    assert.equal(stats().connections.open, 6);
    assert.equal(stats().connections.peakOpen, 6);
  });

  it('when every connection in the way is busy with a request, the newcomer is refused (destroyed), and counted', async () => {
    const { port, stats } = await start({ maxPerSource: 10, maxConnections: 2 });
    const a = await open(port, '127.0.0.11');
    const b = await open(port, '127.0.0.12');
    a.write(GET('/slow'));
    b.write(GET('/slow'));
    await settle();
    const c = await open(port, '127.0.0.13');
    assert.equal(await dropped(c), true);
    assert.equal(stats().connections.refused, 1);
    assert.equal(stats().connections.evicted, 0);
    release();
  });

  it('a silent connection is destroyed at the headers timeout, a keep-alive one at the idle timeout: never left half-open', async () => {
    const { port, stats } = await start({ headersTimeoutMs: 300, idleTimeoutMs: 300 });
    // allowHalfOpen: a client that never answers the server's FIN; the server must not keep counting it.
    const silent = await open(port, '127.0.0.14', { allowHalfOpen: true });
    const started = Date.now();
    assert.equal(await dropped(silent), true);
    assert.ok(Date.now() - started >= 250);
    await settle();
    assert.equal(stats().connections.headersTimeouts, 1);
    assert.equal(stats().connections.open, 0, 'not counted while our side stays open');
    assert.ok(!silent.destroyed, 'our half is still open: the server dropped it all the same');

    const idle = await open(port, '127.0.0.15', { allowHalfOpen: true });
    idle.write(GET('/ok'));
    await once(idle, 'data');
    assert.equal(await dropped(idle), true);
    await settle();
    assert.equal(stats().connections.idleTimeouts, 1);
    assert.equal(stats().connections.open, 0);
  });

  it('a client that never reads its responses is destroyed at the response timeout; more than 16 pipelined at once, at once', async () => {
    const { port, stats } = await start({ responseTimeoutMs: 500 });
    const s = await open(port, '127.0.0.16');
    // Paused: we never read, so we would not see the server's reset either; the server's count tells.
    s.pause();
    s.write(GET('/big').repeat(10));
    const until = async (pred: () => boolean) => {
      for (const deadline = Date.now() + 5000; !pred() && Date.now() < deadline;) await settle();
    };
    await until(() => stats().connections.responseTimeouts === 1);
    assert.equal(stats().connections.responseTimeouts, 1);
    assert.equal(stats().connections.open, 0);

    const p = await open(port, '127.0.0.17');
    p.pause();
    p.write(GET('/ok').repeat(17));
    await until(() => stats().connections.pipelineOverflows === 1);
    assert.equal(stats().connections.pipelineOverflows, 1);
    assert.equal(stats().connections.open, 0);
    const q = await open(port, '127.0.0.18');
    q.write(GET('/ok').repeat(16));
    let got = '';
    q.setEncoding('utf8').on('data', (t: string) => (got += t));
    await until(() => (got.match(/HTTP\/1\.1 200/g) ?? []).length === 16);
    assert.equal((got.match(/HTTP\/1\.1 200/g) ?? []).length, 16, '16 pipelined requests are fine');
  });
});
