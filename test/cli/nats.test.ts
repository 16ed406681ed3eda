/**
 * `peer-observer run --nats` and `peer-observer log --nats`, through the real
 * bin and a real nats-server on loopback: several observer processes feed one
 * consumer process, and every event each observer published arrives, exactly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadRunConfig } from '../../src/cli/config.js';
import { UsageError } from '../../src/cli/errors.js';
import { NETWORKS, type NetworkName } from '../../src/protocol/networks.js';
import { runHonestPeer } from '../../src/simulate/honest-peer.js';
import { freePort, startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { type Cli, listeningPort, ofType, runCli, startCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'peer-observer-nats-'));
const children: Cli[] = [];

function start(args: string[], env?: Record<string, string>): Cli {
  const cli = startCli(args, env ? { env } : {});
  children.push(cli);
  return cli;
}

async function portOf(cli: Cli): Promise<number> {
  await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening line', 15_000);
  return listeningPort(cli.stderr())!;
}

/** A simulated peer of `network` talking to `port` for `ms`; a refused handshake is a result, not a failure. */
async function peer(network: NetworkName, port: number, ms: number, localAddress: string): Promise<boolean> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    const r = await runHonestPeer({
      network: NETWORKS[network],
      host: '127.0.0.1',
      port,
      trafficIntervalMs: 50,
      signal: ac.signal,
      localAddress,
    });
    return r.stats.handshakeComplete;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** The counters an observer prints on stderr when it stops. */
function finalCounters(cli: Cli): { published: number; sent: number; buffered: number; dropped: number } {
  const m = /peer-observer: nats: published=(\d+) sent=(\d+) buffered=(\d+) dropped=(\d+)/.exec(cli.stderr());
  assert.ok(m, `no nats summary line in stderr:\n${cli.stderr()}`);
  return { published: Number(m[1]), sent: Number(m[2]), buffered: Number(m[3]), dropped: Number(m[4]) };
}

function logCounters(cli: Cli): { received: number; decoded: number; rejected: number; dropped: number } {
  const m = /peer-observer: log: received=(\d+) decoded=(\d+) rejected=(\d+) dropped=(\d+)\n/.exec(cli.stderr());
  assert.ok(m, `no log summary line in stderr:\n${cli.stderr()}`);
  return { received: Number(m[1]), decoded: Number(m[2]), rejected: Number(m[3]), dropped: Number(m[4]) };
}

const ready = (cli: Cli) => cli.until(() => cli.stderr().includes('logging from NATS'), 'consumer ready', 15_000);

describe('run --nats and log --nats (real nats-server)', { timeout: 90_000 }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await Promise.all(children.map((c) => c.stop('SIGKILL')));
    await server?.stop();
  });

  it('three observers, one consumer: every event arrives tagged with its node id, exact counts; --type/--node-id filter', async () => {
    const all = start(['log', '--nats', server.url, '--json']);
    const filtered = start(['log', '--nats', server.url, '--json', '--type', 'violation', '--node-id', 'obs-2']);
    await Promise.all([ready(all), ready(filtered)]);
    assert.match(filtered.stderr(), /\(node obs-2; types violation\)/);

    const config = join(dir, 'obs-3.json');
    // Mixed batch encodings into one consumer: obs-1 the default (MessagePack), obs-2 and obs-3 JSON (env, file).
    writeFileSync(config, JSON.stringify({ nats: [server.url], nodeId: 'obs-3', natsEncoding: 'json' }));
    const base = ['run', '--network', 'regtest', '--listen', '127.0.0.1:0'];
    const observers = {
      // --nats both comma-separated and repeated (one server named three ways here).
      'obs-1': start([...base, '--node-id', 'obs-1', '--nats', `${server.url},127.0.0.1:${server.port}`, '--nats', server.url]),
      'obs-2': start([...base, '--node-id', 'obs-2'], { PEER_OBSERVER_NATS: server.url, PEER_OBSERVER_NATS_ENCODING: 'json' }),
      'obs-3': start([...base, '--config', config]),
    };
    const ports = await Promise.all(Object.values(observers).map(portOf));
    assert.match(
      observers['obs-1'].stderr(),
      /node obs-1 listening on 127\.0\.0\.1:\d+; publishing to NATS at nats:\/\/127\.0\.0\.1:\d+, /,
    );

    // Honest traffic to each; a mainnet peer on the regtest observers 1 and 2 is a wrong-network violation.
    const honest = await Promise.all(ports.map((port, i) => peer('regtest', port, 800, `127.0.0.${31 + i}`)));
    assert.deepEqual(honest, [true, true, true]);
    await Promise.all([peer('mainnet', ports[0]!, 500, '127.0.0.41'), peer('mainnet', ports[1]!, 500, '127.0.0.42')]);

    const published: Record<string, number> = {};
    for (const [node, cli] of Object.entries(observers)) {
      assert.equal(await cli.stop('SIGTERM'), 0, cli.stderr());
      assert.equal(cli.stdout(), '', 'an observer on NATS prints no event stream');
      const c = finalCounters(cli);
      assert.equal(c.dropped, 0);
      assert.equal(c.buffered, 0);
      assert.equal(c.sent, c.published);
      published[node] = c.published;
    }

    const count = (events: Record<string, unknown>[], node: string) => events.filter((e) => e.nodeId === node).length;
    await all.until(
      () => Object.keys(observers).every((node) => count(all.events(), node) >= published[node]!),
      'every published event at the consumer',
      15_000,
    );
    const violations2 = () => ofType(all.events(), 'violation').filter((e) => e.nodeId === 'obs-2').length;
    await filtered.until(() => filtered.events().length >= violations2(), 'the filtered violations', 15_000);
    assert.equal(await all.stop('SIGTERM'), 0);
    assert.equal(await filtered.stop('SIGTERM'), 0);

    const events = all.events();
    assert.deepEqual([...new Set(events.map((e) => e.nodeId))].sort(), ['obs-1', 'obs-2', 'obs-3']);
    let total = 0;
    for (const node of Object.keys(observers)) {
      assert.equal(count(events, node), published[node], `events from ${node}`);
      total += published[node]!;
      // The last bus counters event was counted before it was published itself.
      const busCounters = ofType(events, 'pipeline.counters').filter((e) => e.nodeId === node && e.data?.stage === 'bus.nats');
      const last = busCounters.at(-1)?.data?.counters as Record<string, number> | undefined;
      assert.equal(last?.published, published[node]! - 1, `last bus.nats counters of ${node}`);
      assert.ok(
        ofType(events, 'handshake.complete').some((e) => e.nodeId === node),
        `${node} handshake`,
      );
    }
    assert.deepEqual(logCounters(all), { received: total, decoded: total, rejected: 0, dropped: 0 });

    const only = filtered.events();
    assert.ok(
      ofType(events, 'violation').some((e) => e.nodeId === 'obs-1'),
      'obs-1 had violations too (filtered out)',
    );
    assert.ok(only.length > 0);
    assert.equal(only.length, violations2());
    for (const e of only) {
      assert.equal(e.type, 'violation');
      assert.equal(e.nodeId, 'obs-2');
    }
    assert.equal(logCounters(filtered).received, only.length);
  });

  it('log without --json prints text lines', async () => {
    const text = start(['log', '--nats', server.url, '--node-id', 'txt-1']);
    await ready(text);
    const obs = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--node-id', 'txt-1', '--nats', server.url]);
    const port = await portOf(obs);
    assert.equal(await peer('regtest', port, 400, '127.0.0.51'), true);
    assert.equal(await obs.stop('SIGTERM'), 0);
    const n = finalCounters(obs).published;
    await text.until(() => text.stdout().split('\n').length - 1 >= n, 'text lines', 15_000);
    assert.equal(await text.stop('SIGTERM'), 0);
    const lines = text.stdout().split('\n').slice(0, -1);
    assert.equal(lines.length, n);
    assert.match(text.stdout(), /^# HANDSHAKE /m);
    assert.throws(() => JSON.parse(lines[0]!));
  });

  it('a NATS server that is not there, or a bad URL: one line, non-zero exit', async () => {
    const down = `nats://127.0.0.1:${await freePort()}`;
    const oneLine = (s: string) => assert.equal(s.split('\n').length, 2, s);
    for (const cmd of [
      ['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--nats', down],
      ['log', '--nats', down],
    ]) {
      const r = await runCli(cmd);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^peer-observer: error: NATS: cannot connect to nats:\/\/127\.0\.0\.1:\d+: /);
      oneLine(r.stderr);
    }
    const bad: [string[], Record<string, string> | undefined, RegExp][] = [
      [
        ['run', '--listen', '127.0.0.1:0', '--nats', 'http://x:1'],
        undefined,
        /--nats "http:\/\/x:1": expected a nats:\/\/ or tls:\/\/ URL/,
      ],
      [
        ['run', '--listen', '127.0.0.1:0'],
        { PEER_OBSERVER_NATS: 'nats://[bad' },
        /PEER_OBSERVER_NATS "nats:\/\/\[bad": expected a NATS URL/,
      ],
      [['log', '--nats', 'ftp://x'], undefined, /--nats "ftp:\/\/x": expected a nats:\/\/ or tls:\/\/ URL/],
      [['log'], undefined, /--nats <url> is required/],
      [['log', '--nats', server.url, '--type', 'bogus'], undefined, /--type "bogus": expected one of/],
      [['log', '--nats', server.url, '--node-id', 'a b'], undefined, /--node-id "a b": expected 1-64/],
    ];
    for (const [args, env, message] of bad) {
      const r = await runCli(args, env ? { env } : {});
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      oneLine(r.stderr);
    }
  });

  it('--nats-encoding: msgpack by default, json from any layer, anything else refused, and only with --nats', () => {
    const nats = { nats: ['nats://127.0.0.1:4222'] };
    assert.equal(loadRunConfig({ flags: nats, env: {} }).natsEncoding, 'msgpack');
    assert.equal(loadRunConfig({ flags: nats, env: { PEER_OBSERVER_NATS_ENCODING: 'json' } }).natsEncoding, 'json');
    assert.equal(
      loadRunConfig({ flags: { ...nats, natsEncoding: 'msgpack' }, env: { PEER_OBSERVER_NATS_ENCODING: 'json' } }).natsEncoding,
      'msgpack',
    );
    assert.throws(
      () => loadRunConfig({ flags: { ...nats, natsEncoding: 'protobuf' as never }, env: {} }),
      /--nats-encoding "protobuf": expected one of msgpack, json/,
    );
    assert.throws(() => loadRunConfig({ flags: { natsEncoding: 'json' }, env: {} }), /--nats-encoding needs --nats/);
  });

  it('nats in the config layers: flags > PEER_OBSERVER_NATS > file, lists split on commas', () => {
    const file = join(dir, 'nats.json');
    writeFileSync(file, JSON.stringify({ nats: ['nats://10.0.0.1:4222', 'tls://10.0.0.2'] }));
    assert.deepEqual(loadRunConfig({ flags: {}, env: {} }).nats, []);
    assert.deepEqual(loadRunConfig({ flags: {}, env: {}, configFile: file }).nats, ['nats://10.0.0.1:4222', 'tls://10.0.0.2']);
    const env = { PEER_OBSERVER_NATS: '127.0.0.1:4222, nats://127.0.0.1:4223' };
    assert.deepEqual(loadRunConfig({ flags: {}, env, configFile: file }).nats, ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223']);
    assert.deepEqual(loadRunConfig({ flags: { nats: ['nats://h:1'] }, env, configFile: file }).nats, ['nats://h:1']);
    writeFileSync(file, JSON.stringify({ nats: 'nats://h:1' }));
    assert.throws(
      () => loadRunConfig({ flags: {}, env: {}, configFile: file }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, /nats\.json": nats "nats:\/\/h:1": expected a list of NATS URLs/);
        return true;
      },
    );
  });
});
