/**
 * The connectivity check: refuses private/reserved/loopback targets by default
 * (nothing dialled: a spy stands in for the dialler), allows loopback only with
 * the option, keeps its cache, queue and concurrency bounds, and tells a real
 * observer (reachable, handshake done) from a closed port. Nothing here dials
 * anything but loopback: public test addresses only ever reach a spy.
 */
import assert from 'node:assert/strict';
import { createServer, type NetConnectOpts, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import { LruTtlCache } from '../../src/consumers/connectivity/cache.js';
import { startConnectivity, type ConnectivityOptions } from '../../src/consumers/connectivity/consumer.js';
import { judgeTarget } from '../../src/consumers/connectivity/targets.js';
import { makeEvent } from '../../src/events/envelope.js';
import { parseEvent } from '../../src/events/schema.js';
import type { ConnectivityResult, ConnectivitySummary, MessageEvent, ObserverEvent } from '../../src/events/types.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { startObserver } from '../../src/sources/p2p/observer.js';
import { until } from '../helpers/until.js';

const network = NETWORKS.regtest;

function addrEvent(
  entries: { addr: string; port: number; network?: string }[],
  remote = '127.21.0.1:50000',
  nodeId = 'obs-1',
): ObserverEvent {
  return makeEvent({ nodeId, source: 'p2p' }, 'message', {
    conn: { id: 1, direction: 'inbound', remote },
    dir: 'in',
    command: entries.some((e) => e.network) ? 'addrv2' : 'addr',
    size: 30 * entries.length + 1,
    known: true,
    payload: { count: entries.length, entries: entries.map((e) => ({ time: 0, services: '9', ...e })) },
  } as MessageEvent);
}

/** A dialler that never connects anywhere: records, and leaves the socket pending until the probe gives up. */
function pendingSpy() {
  const calls: string[] = [];
  let open = 0;
  let maxOpen = 0;
  const dial = (o: NetConnectOpts): Socket => {
    const { host, port } = o as { host: string; port: number };
    calls.push(`${host}:${port}`);
    const s = new Socket();
    open++;
    maxOpen = Math.max(maxOpen, open);
    s.once('close', () => open--);
    return s;
  };
  return { calls, dial, maxOpen: () => maxOpen };
}

async function withCheck(
  options: Partial<ConnectivityOptions>,
  body: (ctx: { bus: EmbeddedBus; results: ConnectivityResult[]; summaries: ConnectivitySummary[]; all: ObserverEvent[] }) => Promise<void>,
) {
  const bus = new EmbeddedBus();
  const results: ConnectivityResult[] = [];
  const summaries: ConnectivitySummary[] = [];
  const all: ObserverEvent[] = [];
  const sub = bus.subscribe({ types: ['connectivity.result', 'connectivity.summary'] });
  const reading = (async () => {
    for await (const e of sub) {
      all.push(parseEvent(JSON.parse(JSON.stringify(e))));
      if (e.type === 'connectivity.result') results.push(e.data);
      if (e.type === 'connectivity.summary') summaries.push(e.data);
    }
  })();
  const check = startConnectivity(bus, { network, nodeId: 'conn-check', summaryIntervalMs: 60_000, ...options });
  try {
    await body({ bus, results, summaries, all });
  } finally {
    await check.stop();
    await bus.close();
    await reading;
  }
}

describe('connectivity check', { timeout: 30_000 }, () => {
  it('judges targets: public only by default; Tor/I2P/CJDNS skipped', () => {
    const refused: [string, string][] = [
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['192.168.1.1', 'private'],
      ['fd00::1', 'private'],
      ['127.0.0.1', 'loopback'],
      ['::1', 'loopback'],
      ['169.254.1.1', 'link-local'],
      ['fe80::1', 'link-local'],
      ['100.64.0.1', 'reserved'],
      ['0.1.2.3', 'reserved'],
      ['240.0.0.1', 'reserved'],
      ['192.0.2.1', 'reserved'],
      ['198.51.100.7', 'reserved'],
      ['198.18.0.1', 'reserved'],
      ['2001:db8::1', 'reserved'],
      ['224.0.0.1', 'multicast'],
      ['ff02::1', 'multicast'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
    ];
    for (const [addr, cls] of refused)
      assert.deepEqual(judgeTarget(addr, undefined, { allowLoopback: false }), { kind: 'refused', class: cls }, addr);
    assert.deepEqual(judgeTarget('127.0.0.1', undefined, { allowLoopback: true }), { kind: 'dial', host: '127.0.0.1' });
    assert.equal(judgeTarget('10.0.0.1', undefined, { allowLoopback: true }).kind, 'refused', 'allowLoopback allows loopback only');
    assert.deepEqual(judgeTarget('8.8.8.8', undefined, { allowLoopback: false }), { kind: 'dial', host: '8.8.8.8' });
    assert.deepEqual(judgeTarget('2a01:4f8::1', undefined, { allowLoopback: false }), { kind: 'dial', host: '2a01:4f8::1' });
    const onion = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
    assert.deepEqual(judgeTarget(onion, 'torv3', { allowLoopback: false }), { kind: 'skipped', network: 'torv3' });
    assert.deepEqual(judgeTarget('x.b32.i2p', 'i2p', { allowLoopback: false }), { kind: 'skipped', network: 'i2p' });
    assert.deepEqual(judgeTarget('fc00::1', 'cjdns', { allowLoopback: false }), { kind: 'skipped', network: 'cjdns' });
  });

  it('refuses private, reserved and loopback targets by default: nothing dialled, a not-tried result with the reason', async () => {
    const spy = pendingSpy();
    let results: ConnectivityResult[] = [];
    await withCheck({ dial: spy.dial }, async (ctx) => {
      results = ctx.results;
      const bus = ctx.bus;
      bus.publish(
        addrEvent([
          { addr: '10.0.0.1', port: 8333 },
          { addr: '192.168.1.20', port: 8333 },
          { addr: '100.64.3.4', port: 8333 },
          { addr: '127.0.0.1', port: 18444 },
          { addr: '169.254.0.9', port: 8333 },
          { addr: '224.1.1.1', port: 8333 },
        ]),
      );
      await until(() => results.length === 6, 'six results');
    });
    assert.deepEqual(spy.calls, [], 'no connection attempted');
    assert.equal(spy.maxOpen(), 0);
    const byAddr = new Map(results.map((r) => [r.addr, r]));
    assert.deepEqual(byAddr.get('10.0.0.1:8333'), {
      addr: '10.0.0.1:8333',
      sourcePeer: '127.21.0.1:50000',
      reachable: false,
      reason: 'not-tried',
      latencyMs: null,
      detail: 'private address (RFC 1918, fc00::/7): not dialled',
    });
    assert.match(byAddr.get('127.0.0.1:18444')!.detail!, /^loopback address/);
    assert.match(byAddr.get('100.64.3.4:8333')!.detail!, /^reserved address .*CGNAT/);
    assert.ok(results.every((r) => r.reason === 'not-tried' && !r.reachable));
  });

  it('Tor/I2P/CJDNS addresses are skipped and counted, not dialled', async () => {
    const spy = pendingSpy();
    let summary: ConnectivitySummary | undefined;
    await withCheck({ dial: spy.dial, summaryIntervalMs: 50 }, async ({ bus, summaries }) => {
      bus.publish(
        addrEvent([
          { addr: 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion', port: 8333, network: 'torv3' },
          { addr: 'ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p', port: 0, network: 'i2p' },
          { addr: 'fc32:17ea:e415:c3bf:9808:149d:b5a2:c9aa', port: 8333, network: 'cjdns' },
        ]),
      );
      await until(() => summaries.some((s) => s.advertised === 3), 'a summary');
      summary = summaries.find((s) => s.advertised === 3);
    });
    assert.deepEqual(spy.calls, []);
    assert.deepEqual(summary!.skipped, { torv3: 1, i2p: 1, cjdns: 1 });
    assert.equal(summary!.tried, 0);
    assert.equal(summary!.reachableShare, null);
  });

  it('allowLoopback: a real observer on loopback is reachable (handshake, user agent), a closed port is not; shares per source and overall', async () => {
    const observer = await startObserver({
      network,
      nodeId: 'target',
      listen: [{ host: '127.0.0.1', port: 0 }],
      connect: [],
      publish: () => {},
    });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const port = observer.listening[0]!.port;
    let results: ConnectivityResult[] = [];
    let summary: ConnectivitySummary | undefined;
    let events: ObserverEvent[] = [];
    try {
      await withCheck({ allowLoopback: true, summaryIntervalMs: 100 }, async (ctx) => {
        ctx.bus.publish(
          addrEvent([
            { addr: '127.0.0.1', port },
            { addr: '127.0.0.1', port: closedPort },
            { addr: '10.0.0.1', port: 8333 },
          ]),
        );
        await until(() => ctx.results.length === 3, 'three results');
        ctx.bus.publish(addrEvent([{ addr: '127.0.0.1', port }], '127.21.0.2:50001', 'obs-2'));
        await until(() => ctx.results.length === 4, 'the cached result');
        await until(() => ctx.summaries.some((s) => s.tried === 3), 'a summary');
        results = ctx.results;
        summary = ctx.summaries.find((s) => s.tried === 3);
        events = ctx.all;
      });
    } finally {
      await observer.stop();
    }
    const good = results.find((r) => r.addr === `127.0.0.1:${port}` && r.sourcePeer === '127.21.0.1:50000')!;
    assert.equal(good.reachable, true);
    assert.equal(good.reason, 'version');
    assert.equal(good.userAgent, '/peer-observer:0.1.0/');
    assert.ok(good.latencyMs! > 0 && good.latencyMs! < 5000);
    const bad = results.find((r) => r.addr === `127.0.0.1:${closedPort}`)!;
    assert.equal(bad.reachable, false);
    assert.equal(bad.reason, 'refused');
    const cached = results.find((r) => r.sourcePeer === '127.21.0.2:50001')!;
    assert.equal(cached.reachable, true);
    assert.equal(cached.latencyMs, null, 'from the cache');
    // The result carries the advertising observer's node id.
    const cachedEvent = events.find((e) => e.type === 'connectivity.result' && e.data.sourcePeer === '127.21.0.2:50001')!;
    assert.equal(cachedEvent.nodeId, 'obs-2');
    assert.equal(cachedEvent.source, 'connectivity');
    assert.equal(summary!.probes, 2);
    assert.equal(summary!.cacheHits, 1);
    assert.equal(summary!.reachable, 2);
    assert.equal(summary!.reachableShare, 2 / 3);
    assert.deepEqual(summary!.notTried, { private: 1 });
    const s1 = summary!.sources.find((s) => s.sourcePeer === '127.21.0.1:50000')!;
    assert.deepEqual(s1, {
      sourcePeer: '127.21.0.1:50000',
      nodeId: 'obs-1',
      advertised: 3,
      tried: 2,
      reachable: 1,
      reachableShare: 0.5,
      notTried: 1,
    });
  });

  it('without allowLoopback the same observer is not dialled', async () => {
    const spy = pendingSpy();
    await withCheck({ dial: spy.dial }, async ({ bus, results }) => {
      bus.publish(addrEvent([{ addr: '127.0.0.1', port: 18444 }]));
      await until(() => results.length === 1, 'one result');
      assert.equal(results[0]!.reason, 'not-tried');
    });
    assert.deepEqual(spy.calls, []);
  });

  it('bounds: concurrency, rate, queue (dropped counted), coalescing and the cache', async () => {
    const spy = pendingSpy();
    let summary: ConnectivitySummary | undefined;
    const t0 = performance.now();
    await withCheck(
      { dial: spy.dial, concurrency: 3, ratePerSec: 50, maxQueue: 10, connectTimeoutMs: 100, summaryIntervalMs: 50 },
      async ({ bus, summaries }) => {
        // 25 distinct public addresses (they only ever reach the spy), one of them twice.
        const entries = Array.from({ length: 25 }, (_, i) => ({ addr: `8.8.${i}.1`, port: 8333 }));
        bus.publish(addrEvent([...entries, { addr: '8.8.1.1', port: 8333 }]));
        await until(() => summaries.some((s) => s.advertised === 26 && s.queued === 0 && s.inFlight === 0), 'the queue to empty', 10_000);
        summary = summaries.at(-1);
      },
    );
    const elapsed = performance.now() - t0;
    assert.ok(spy.maxOpen() <= 3, `at most 3 at once, saw ${spy.maxOpen()}`);
    // The first starts at once; the rate lets the next go 20 ms later, so 10 wait in the queue and the other 14 are dropped.
    assert.equal(summary!.advertised, 26);
    assert.equal(summary!.probes, 11);
    assert.equal(summary!.dropped, 14);
    assert.equal(summary!.coalesced, 1, '8.8.1.1 twice: probed once');
    assert.equal(summary!.tried, 11);
    assert.equal(summary!.reachable, 0);
    assert.equal(spy.calls.length, summary!.probes);
    assert.equal(new Set(spy.calls).size, spy.calls.length, 'no address probed twice');
    assert.ok(elapsed >= Math.floor(summary!.probes / 3) * 100, 'connect timeouts held the concurrency down');
  });

  it('LRU with TTL: size bound, recency, expiry', () => {
    let now = 0;
    const c = new LruTtlCache<string, number>(3, 1000, () => now);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    assert.equal(c.get('a'), 1); // a is now most recent
    c.set('d', 4); // evicts b
    assert.equal(c.get('b'), undefined);
    assert.equal(c.size, 3);
    assert.equal(c.evicted, 1);
    now = 999;
    assert.equal(c.get('c'), 3);
    now = 1000;
    assert.equal(c.get('c'), undefined, 'expired');
    assert.deepEqual([...c.entries()], []);
  });
});
