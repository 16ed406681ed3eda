/**
 * The rpc source against an HTTP server answering with Bitcoin Core's recorded
 * answers (test/fixtures/bitcoind/rpc): schemas, the getpeerinfo diff, auth,
 * and a node that is down, warming up, slow or missing a method.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseEvent } from '../../../src/events/schema.js';
import type { EventType, ObserverEvent } from '../../../src/events/types.js';
import { RpcAuthError, RpcClient, RpcMethodError, RpcUnavailableError, redactUrl } from '../../../src/sources/rpc/client.js';
import { RPC_SCHEMAS, type PolledMethod } from '../../../src/sources/rpc/schemas.js';
import { startRpcSource, type RpcSourceOptions } from '../../../src/sources/rpc/source.js';
import { closedPort, recorded, recordedNames, startFakeCore, type Answer, type FakeCore } from './fake-core.js';
import { until } from '../../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'peer-observer-rpc-'));
const cookieFile = join(dir, '.cookie');
writeFileSync(cookieFile, '__cookie__:5e1f0b8a9c\n');
const cookieHeader = `Basic ${Buffer.from('__cookie__:5e1f0b8a9c').toString('base64')}`;

const cores: FakeCore[] = [];
after(async () => {
  await Promise.all(cores.map((c) => c.close()));
});
async function fakeCore(): Promise<FakeCore> {
  const c = await startFakeCore();
  cores.push(c);
  return c;
}

function ofType<T extends EventType>(events: ObserverEvent[], type: T): Extract<ObserverEvent, { type: T }>[] {
  return events.filter((e): e is Extract<ObserverEvent, { type: T }> => e.type === type);
}

/** Runs the source until `cond` holds; every event validated against the schema. */
async function runSource(core: FakeCore, cond: (events: ObserverEvent[]) => boolean, extra: Partial<RpcSourceOptions> = {}) {
  const events: ObserverEvent[] = [];
  const status: string[] = [];
  const source = startRpcSource({
    url: core.url,
    auth: { kind: 'cookie', file: cookieFile },
    nodeId: 'test',
    network: 'mainnet',
    publish: (e) => events.push(parseEvent(JSON.parse(JSON.stringify(e)))),
    peersIntervalMs: 20,
    statusIntervalMs: 60_000,
    backoffMs: 20,
    maxBackoffMs: 80,
    timeoutMs: 1000,
    onStatus: (l) => status.push(l),
    ...extra,
  });
  try {
    await until(() => cond(events), 'events', 5000, 10);
  } finally {
    await source.stop();
  }
  return { events, status, stats: source.stats() };
}

describe('recorded RPC answers', () => {
  it('every recorded answer of a polled method parses with its schema', () => {
    let checked = 0;
    for (const name of recordedNames()) {
      const r = recorded(name);
      const method = r.request.method as PolledMethod;
      if (!(method in RPC_SCHEMAS) || r.response.error) continue;
      const parsed = RPC_SCHEMAS[method].safeParse(r.response.result);
      assert.ok(parsed.success, `${name}: ${parsed.success ? '' : parsed.error.message}`);
      checked++;
    }
    // getpeerinfo x5, getnetworkinfo, getnettotals, getmempoolinfo, getblockchaininfo, getchaintips,
    // getaddrmaninfo, getrawaddrman, uptime, listbanned
    assert.equal(checked, 14);
  });

  it('every recorded answer comes back through the client as recorded (errors as RpcMethodError)', async () => {
    const core = await fakeCore();
    core.answer = (method) => {
      const name = recordedNames().find((n) => recorded(n).request.method === method)!;
      const r = recorded(name).response;
      return r.error ? { error: r.error } : { result: r.result };
    };
    const client = new RpcClient({ url: core.url, auth: { kind: 'cookie', file: cookieFile } });
    try {
      for (const name of recordedNames()) {
        const r = recorded(name);
        if (name.startsWith('getpeerinfo-')) continue; // same method as getpeerinfo
        if (r.response.error) {
          await assert.rejects(client.call(r.request.method, r.request.params), (e: unknown) => {
            assert.ok(e instanceof RpcMethodError);
            assert.equal(e.code, r.response.error!.code);
            return true;
          });
        } else {
          assert.deepEqual(await client.call(r.request.method, r.request.params), r.response.result, name);
        }
      }
    } finally {
      client.close();
    }
  });

  it('a field missing in an older Core does not break parsing (Core 0.20-style peer)', () => {
    const peer = structuredClone((recorded('getpeerinfo-attackers').response.result as Record<string, unknown>[])[0]!);
    for (const k of [
      'addr_processed',
      'addr_rate_limited',
      'addr_relay_enabled',
      'connection_type',
      'transport_protocol_type',
      'network',
      'pingtime',
      'minping',
      'startingheight',
    ])
      delete peer[k];
    peer['some_future_field'] = { x: 1 };
    assert.ok(RPC_SCHEMAS.getpeerinfo.safeParse([peer]).success);
    const net = structuredClone(recorded('getnetworkinfo').response.result as Record<string, unknown>);
    delete net['connections_in'];
    delete net['connections_out'];
    net['warnings'] = 'a string, as before Core 28';
    assert.ok(RPC_SCHEMAS.getnetworkinfo.safeParse(net).success);
  });
});

describe('getpeerinfo sequence → connection events', () => {
  it('empty → attackers → next peer → outbound → v2 → empty becomes exactly the right opened/closed events', async () => {
    const core = await fakeCore();
    const seq = [
      'getpeerinfo-empty',
      'getpeerinfo-attackers',
      'getpeerinfo',
      'getpeerinfo-outbound',
      'getpeerinfo-v2',
      'getpeerinfo-empty',
    ];
    let i = 0;
    core.answer = (method) => {
      if (method !== 'getpeerinfo') return { result: recorded(method).response.result } as Answer;
      return { result: recorded(seq[Math.min(i++, seq.length - 1)]!).response.result };
    };
    const { events, stats } = await runSource(core, () => i > seq.length + 1);
    const conn = events.filter((e) => e.type === 'connection.opened' || e.type === 'connection.closed');
    const summary = conn.map((e) =>
      e.type === 'connection.opened'
        ? `open ${e.data.conn.id} ${e.data.conn.direction} ${e.data.conn.remote} ${e.data.connType} ${e.data.transport} local=${e.data.local}`
        : `close ${e.data.conn.id} ${e.data.conn.remote} ${e.data.reason}`,
    );
    assert.deepEqual(summary, [
      'open 1 inbound 127.0.0.3:37225 inbound v1 local=127.0.0.1:18444',
      'open 3 inbound 127.0.0.2:59209 inbound v1 local=127.0.0.1:18444',
      'close 1 127.0.0.3:37225 unknown',
      'close 3 127.0.0.2:59209 unknown',
      'open 13 inbound 127.0.0.1:58280 inbound v1 local=127.0.0.1:18444',
      'close 13 127.0.0.1:58280 unknown',
      'open 0 outbound 127.0.0.1:18600 manual v1 local=127.0.0.1:37636',
      'close 0 127.0.0.1:18600 unknown',
      'open 0 outbound 127.0.0.1:18700 manual v2 local=127.0.0.1:46338',
      'close 0 127.0.0.1:18700 unknown',
    ]);
    assert.ok(conn.every((e) => e.source === 'rpc' && e.nodeId === 'test'));
    // The chain came from getblockchaininfo (regtest), not the configured mainnet.
    assert.ok(conn.every((e) => e.data.network === 'regtest'));
    const closed1 = ofType(events, 'connection.closed')[0]!;
    assert.equal(closed1.data.bytesIn, 90311);
    assert.equal(closed1.data.handshakeComplete, true);
    assert.equal(stats.opened, 5);
    assert.equal(stats.closed, 5);

    // peer.stats carries the addr-flood counters Core keeps.
    const flood = ofType(events, 'peer.stats').find((e) => e.data.conn.id === 1)!;
    assert.equal(flood.data.addrProcessed, 1);
    assert.equal(flood.data.addrRateLimited, 2999);
    assert.equal(flood.data.bytesInPerMsg['addr'], 90081);
    assert.equal(flood.data.pingMs, 0.592);
    assert.equal(flood.data.services, '1033');
    assert.equal(flood.data.netgroup, 'local');
    assert.equal(flood.data.userAgent, '/Satoshi:27.0.0/');
    const v2 = ofType(events, 'peer.stats').find((e) => e.data.conn.remote === '127.0.0.1:18700')!;
    assert.equal(v2.data.transport, 'v2');
  });

  it('node.status carries the node-wide facts from the recordings', async () => {
    const core = await fakeCore();
    const { events } = await runSource(core, (ev) => ev.some((e) => e.type === 'node.status'));
    const s = ofType(events, 'node.status')[0]!.data;
    assert.equal(s.chain, 'regtest');
    assert.equal(s.blocks, 111);
    assert.equal(s.bestBlockHash, '513e3089521cc7df418c75aa5cbbbfd17ad1667a9cd9652628076630f14b2b05');
    assert.deepEqual(s.connections, { total: 1, inbound: 1, outbound: 0 });
    assert.equal(s.totalBytesIn, 2111860);
    assert.deepEqual(s.mempool, { size: 0, bytes: 0, usage: 64, minFeeBtcPerKvB: 1e-6 });
    assert.deepEqual(s.addrman, { new: 2, tried: 0, total: 2 });
    assert.deepEqual(s.addrmanTopSources, [
      { source: '127.0.0.1', count: 1 },
      { source: '127.0.0.3', count: 1 },
    ]);
    assert.equal(s.uptimeSec, 24);
    assert.equal(s.banned, 0);
    assert.equal(s.staleTips, 0);
    assert.equal(s.warnings.length, 1);
  });
});

describe('RPC auth and failures', () => {
  it('cookie auth sends the cookie file as Basic credentials, re-read on every call', async () => {
    const core = await fakeCore();
    const own = join(dir, 'cookie2');
    writeFileSync(own, '__cookie__:first');
    const client = new RpcClient({ url: core.url, auth: { kind: 'cookie', file: own } });
    try {
      assert.equal(await client.call('uptime'), 24);
      writeFileSync(own, '__cookie__:second\n'); // bitcoind restarted
      await client.call('uptime');
      assert.deepEqual(
        core.calls.map((c) => c.authorization),
        [`Basic ${Buffer.from('__cookie__:first').toString('base64')}`, `Basic ${Buffer.from('__cookie__:second').toString('base64')}`],
      );
    } finally {
      client.close();
    }
  });

  it('user/password auth sends user:password', async () => {
    const core = await fakeCore();
    const client = new RpcClient({ url: core.url, auth: { kind: 'password', user: 'alice', password: 'p:ss wörd' } });
    try {
      await client.call('uptime');
      assert.equal(core.calls[0]!.authorization, `Basic ${Buffer.from('alice:p:ss wörd', 'utf8').toString('base64')}`);
    } finally {
      client.close();
    }
  });

  it('a wrong password (the recorded HTTP 401) is a clear RpcAuthError, and the source reports auth-failed', async () => {
    const core = await fakeCore();
    core.answer = (_m, auth) => (auth === cookieHeader ? ({ result: 24 } as Answer) : { unauthorized: true });
    const client = new RpcClient({ url: core.url, auth: { kind: 'password', user: 'alice', password: 'wrong' } });
    try {
      await assert.rejects(client.call('uptime'), (e: unknown) => {
        assert.ok(e instanceof RpcAuthError);
        assert.match(e.message, /wrong RPC credentials .* \(HTTP 401\): check --rpc-user\/--rpc-password/);
        return true;
      });
    } finally {
      client.close();
    }
    const { events, status } = await runSource(core, (ev) => ev.some((e) => e.type === 'rpc.status'), {
      auth: { kind: 'password', user: 'alice', password: 'wrong' },
    });
    const st = ofType(events, 'rpc.status')[0]!.data;
    assert.equal(st.state, 'auth-failed');
    assert.equal(st.url, core.url);
    assert.match(status[0]!, /auth-failed: wrong RPC credentials/);
  });

  it('the URL is never printed with credentials', () => {
    assert.equal(redactUrl('http://user:secret@127.0.0.1:8332/'), 'http://127.0.0.1:8332/');
  });

  it('a node that is down: connection refused → state down, retried with backoff', async () => {
    const port = await closedPort();
    const client = new RpcClient({ url: `http://127.0.0.1:${port}/`, auth: { kind: 'password', user: 'u', password: 'p' } });
    try {
      await assert.rejects(client.call('uptime'), (e: unknown) => e instanceof RpcUnavailableError && /connection refused/.test(e.message));
    } finally {
      client.close();
    }
    const missingCookie = new RpcClient({ url: `http://127.0.0.1:${port}/`, auth: { kind: 'cookie', file: join(dir, 'none') } });
    await assert.rejects(
      missingCookie.call('uptime'),
      (e: unknown) => e instanceof RpcUnavailableError && /cannot read RPC cookie file/.test(e.message),
    );
    missingCookie.close();

    const fake = { url: `http://127.0.0.1:${port}/` } as FakeCore;
    let polled = 0;
    const { events, stats, status } = await runSource(fake, (ev) => ev.length > 0 && ++polled > 20, {
      auth: { kind: 'password', user: 'u', password: 'p' },
    });
    const st = ofType(events, 'rpc.status');
    assert.equal(st.length, 1, 'one event per state change, not per failure');
    assert.equal(st[0]!.data.state, 'down');
    assert.equal(st[0]!.data.retryMs, 20);
    assert.ok(stats.failures >= 2, `failures ${stats.failures}`);
    assert.match(status[0]!, /down: .*connection refused \(is bitcoind running with -server\?\) \(failures 1, retry in 0 s\)/);
  });

  it('warming up (-28) is reported, then the source comes up when the node is ready', async () => {
    const core = await fakeCore();
    let calls = 0;
    core.answer = (method) =>
      ++calls <= 3
        ? { error: { code: -28, message: 'Loading block index…' } }
        : ({ result: recorded(method === 'getpeerinfo' ? 'getpeerinfo-attackers' : method).response.result } as Answer);
    const { events, status } = await runSource(core, (ev) => ev.some((e) => e.type === 'rpc.status' && e.data.state === 'up'));
    const states = ofType(events, 'rpc.status').map((e) => e.data.state);
    assert.deepEqual(states, ['warming-up', 'up']);
    assert.match(status[0]!, /warming-up: node is warming up: Loading block index…/);
    assert.equal(ofType(events, 'connection.opened').length, 2);
  });

  it('a node that does not answer in time → timeout error, state down', async () => {
    const core = await fakeCore();
    core.answer = () => ({ hang: true });
    const client = new RpcClient({ url: core.url, auth: { kind: 'cookie', file: cookieFile }, timeoutMs: 150 });
    const t0 = Date.now();
    try {
      await assert.rejects(
        client.call('uptime'),
        (e: unknown) => e instanceof RpcUnavailableError && e.timedOut && /within 150 ms/.test(e.message),
      );
      assert.ok(Date.now() - t0 < 1500);
    } finally {
      client.close();
    }
    const { events } = await runSource(core, (ev) => ev.some((e) => e.type === 'rpc.status'), { timeoutMs: 100 });
    assert.equal(ofType(events, 'rpc.status')[0]!.data.state, 'down');
  });

  it('-32601 (getrawaddrman on an older node) is skipped from then on; the rest of node.status still comes', async () => {
    const core = await fakeCore();
    core.answer = (method) =>
      method === 'getrawaddrman' || method === 'getaddrmaninfo'
        ? { error: { code: -32601, message: 'Method not found' } }
        : ({ result: recorded(method).response.result } as Answer);
    const { events, stats, status } = await runSource(core, (ev) => ev.filter((e) => e.type === 'node.status').length >= 2, {
      statusIntervalMs: 30,
    });
    const s = ofType(events, 'node.status');
    assert.equal(s[0]!.data.addrman, null);
    assert.equal(s[0]!.data.addrmanTopSources, null);
    assert.equal(s[0]!.data.blocks, 111);
    assert.equal(core.calls.filter((c) => c.method === 'getrawaddrman').length, 1);
    assert.deepEqual(stats.unsupported.sort(), ['getaddrmaninfo', 'getrawaddrman']);
    assert.ok(status.some((l) => /no getrawaddrman \(older Core\?\)/.test(l)));
  });
});
