/**
 * `peer-observer run`, through the real bin: every flag, the config file, the
 * environment, and their precedence, each shown to change what the process does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NETWORKS, type NetworkName } from '../../src/protocol/networks.js';
import { runHonestPeer, type HonestPeerResult } from '../../src/simulate/honest-peer.js';
import { type Cli, listeningPort, ofType, startCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'peer-observer-cli-'));
const children: Cli[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
});

function start(args: string[], env?: Record<string, string>): Cli {
  const cli = startCli(args, env ? { env } : {});
  children.push(cli);
  return cli;
}

async function portOf(cli: Cli): Promise<number> {
  await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening line');
  return listeningPort(cli.stderr())!;
}

/** A simulated honest peer talking to `port` until `ms` have passed. */
async function peer(network: NetworkName, port: number, ms: number, localAddress?: string): Promise<HonestPeerResult> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    // A refused connection may be reset before the peer even sees it open: that is a result here, not a failure.
    return await runHonestPeer({
      network: NETWORKS[network],
      host: '127.0.0.1',
      port,
      trafficIntervalMs: 50,
      signal: ac.signal,
      ...(localAddress ? { localAddress } : {}),
    });
  } catch (err) {
    return {
      end: 'socket-error',
      detail: String(err),
      stats: {
        sent: {},
        received: {},
        errors: [],
        handshakeComplete: false,
        remoteUserAgent: undefined,
        remoteVersion: undefined,
        pingRttMs: [],
      },
    };
  } finally {
    clearTimeout(timer);
  }
}

describe('peer-observer run', { timeout: 60_000 }, () => {
  it('--network --listen --json --node-id: a peer connects, JSON lines carry the node id', async () => {
    const cli = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', '--node-id', 'node-X']);
    const port = await portOf(cli);
    assert.match(cli.stderr(), /regtest node node-X listening on 127\.0\.0\.1:\d+/);
    const result = await peer('regtest', port, 600, '127.0.0.21');
    assert.equal(result.stats.handshakeComplete, true);
    await cli.until(() => ofType(cli.events(), 'ping.latency').length > 0 || cli.stdout().includes('"pong"'), 'traffic');
    assert.equal(await cli.stop(), 0);
    const events = cli.events(); // every line is one JSON object
    assert.ok(events.length > 10);
    for (const e of events) {
      assert.equal(e.nodeId, 'node-X');
      assert.equal(e.v, 1);
    }
    const opened = ofType(events, 'connection.opened');
    assert.equal(opened[0]?.data?.network, 'regtest');
    assert.match(String((opened[0]?.data?.conn as { remote: string }).remote), /^127\.0\.0\.21:\d+$/);
    assert.ok(ofType(events, 'handshake.complete').length >= 1);
    const dirs = new Set(ofType(events, 'message').map((e) => e.data?.dir));
    assert.deepEqual([...dirs].sort(), ['in', 'out']);
    assert.ok(ofType(events, 'connection.closed').length >= 1);
    assert.ok(ofType(events, 'pipeline.counters').some((e) => e.data?.stage === 'bus'));
  });

  it('text mode (no --json): --> / <-- lines and # CONN lines', async () => {
    const cli = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--node-id', 'txt']);
    const port = await portOf(cli);
    await peer('regtest', port, 300);
    await cli.until(() => /^# CONN .* closed /m.test(cli.stdout()), 'close line');
    assert.equal(await cli.stop('SIGTERM'), 0);
    const out = cli.stdout();
    assert.match(out, /^# CONN \S+ txt conn=1 127\.0\.0\.1:\d+ opened inbound /m);
    assert.match(out, /^<-- \S+ txt conn=1 127\.0\.0\.1:\d+ version \d+B /m);
    assert.match(out, /^--> \S+ txt conn=1 127\.0\.0\.1:\d+ verack 0B$/m);
    assert.match(out, /^# HANDSHAKE /m);
    assert.throws(() => JSON.parse(out.split('\n')[0]!));
  });

  it('--network testnet4: speaks that network (and a regtest peer is refused as wrong-network)', async () => {
    const cli = start(['run', '--network', 'testnet4', '--listen', '127.0.0.1:0', '--json']);
    const port = await portOf(cli);
    assert.equal((await peer('testnet4', port, 300)).stats.handshakeComplete, true);
    const wrong = await peer('regtest', port, 1000);
    assert.equal(wrong.stats.handshakeComplete, false);
    await cli.until(() => ofType(cli.events(), 'violation').length > 0, 'violation');
    await cli.stop();
    assert.equal(ofType(cli.events(), 'connection.opened')[0]?.data?.network, 'testnet4');
    assert.equal(ofType(cli.events(), 'violation')[0]?.data?.kind, 'wrong-network');
  });

  it('--listen is repeatable and without it run listens on loopback at the network port', async () => {
    const two = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--listen', '127.0.0.1:0']);
    await two.until(() => /listening on 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+/.test(two.stderr()), 'two listeners');
    await two.stop();
    const dflt = start(['run', '--network', 'signet']);
    await dflt.until(() => /listening on|error/.test(dflt.stderr()), 'start');
    // 38333 may be taken on a developer machine; then the error must say so in one line.
    assert.match(
      dflt.stderr(),
      /listening on 127\.0\.0\.1:38333\n|^peer-observer: error: cannot listen on 127\.0\.0\.1:38333: address already in use/,
    );
    await dflt.stop();
  });

  it('--connect: an outbound connection to another observer of ours', async () => {
    const a = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', '--node-id', 'A']);
    const port = await portOf(a);
    const b = start([
      'run',
      '--network',
      'regtest',
      '--connect',
      `127.0.0.1:${port}`,
      '--connect',
      `127.0.0.1:${port}`,
      '--json',
      '--node-id',
      'B',
    ]);
    await b.until(() => ofType(b.events(), 'handshake.complete').length >= 2, 'B handshakes twice (repeatable --connect)');
    assert.match(b.stderr(), /listening on nowhere; connecting to 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+/);
    await a.until(() => ofType(a.events(), 'handshake.complete').length >= 2, 'A sees B');
    const opened = ofType(b.events(), 'connection.opened');
    assert.equal((opened[0]?.data?.conn as { direction: string }).direction, 'outbound');
    assert.equal((ofType(a.events(), 'connection.opened')[0]?.data?.conn as { direction: string }).direction, 'inbound');
    assert.equal(await b.stop(), 0);
    assert.equal(await a.stop(), 0);
  });

  it('--max-per-ip and --max-connections: the limits hold', async () => {
    const perIp = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', '--max-per-ip', '1']);
    let port = await portOf(perIp);
    await Promise.all([peer('regtest', port, 500, '127.0.0.31'), peer('regtest', port, 500, '127.0.0.31')]);
    await perIp.until(() => ofType(perIp.events(), 'connection.closed').some((e) => e.data?.reason === 'limit'), 'per-ip refusal');
    await perIp.stop();
    assert.match(
      String(ofType(perIp.events(), 'connection.closed').find((e) => e.data?.reason === 'limit')?.data?.detail),
      /more than 1 connections from 127\.0\.0\.31/,
    );

    const total = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', '--max-connections', '1']);
    port = await portOf(total);
    const first = peer('regtest', port, 800, '127.0.0.32');
    await total.until(() => ofType(total.events(), 'connection.opened').length === 1, 'first peer in');
    await peer('regtest', port, 300, '127.0.0.33');
    await first;
    await total.until(() => ofType(total.events(), 'connection.closed').some((e) => e.data?.reason === 'limit'), 'total refusal');
    await total.stop();
    assert.match(
      String(ofType(total.events(), 'connection.closed').find((e) => e.data?.reason === 'limit')?.data?.detail),
      /1 inbound connections already/,
    );
  });

  it('--handshake-timeout: a silent peer is dropped after it', async () => {
    const cli = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', '--handshake-timeout', '0.3']);
    const port = await portOf(cli);
    const sock = connect({ host: '127.0.0.1', port });
    sock.on('error', () => {});
    const t0 = Date.now();
    await new Promise((r) => sock.once('close', r));
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 250 && elapsed < 3000, `dropped after ${elapsed} ms`);
    await cli.until(() => ofType(cli.events(), 'connection.closed').length > 0, 'close event');
    await cli.stop();
    assert.equal(ofType(cli.events(), 'connection.closed')[0]?.data?.reason, 'handshake-timeout');
  });

  it('--config FILE sets everything; PEER_OBSERVER_* env overrides it; flags override both', async () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ network: 'regtest', nodeId: 'from-file', listen: ['127.0.0.1:0'], json: true, maxPerIp: 4 }));
    const fromFile = start(['run', '--config', file]);
    let port = await portOf(fromFile);
    await peer('regtest', port, 200);
    await fromFile.until(() => fromFile.stdout().includes('connection.opened'), 'event');
    await fromFile.stop();
    assert.equal(fromFile.events()[0]?.nodeId, 'from-file');

    const fromEnv = start(['run', '--config', file], { PEER_OBSERVER_NODE_ID: 'from-env' });
    port = await portOf(fromEnv);
    await peer('regtest', port, 200);
    await fromEnv.until(() => fromEnv.stdout().includes('connection.opened'), 'event');
    await fromEnv.stop();
    assert.equal(fromEnv.events()[0]?.nodeId, 'from-env');

    const fromFlag = start(['run', '--config', file, '--node-id', 'from-flag'], { PEER_OBSERVER_NODE_ID: 'from-env' });
    await portOf(fromFlag);
    assert.match(fromFlag.stderr(), /node from-flag listening/);
    await fromFlag.stop();

    // PEER_OBSERVER_CONFIG names the file when --config is absent.
    const viaEnv = start(['run'], { PEER_OBSERVER_CONFIG: file });
    await portOf(viaEnv);
    assert.match(viaEnv.stderr(), /regtest node from-file listening on 127\.0\.0\.1:\d+/);
    await viaEnv.stop();
  });

  it('environment variables alone configure run', async () => {
    const cli = start(['run'], {
      PEER_OBSERVER_NETWORK: 'regtest',
      PEER_OBSERVER_NODE_ID: 'envnode',
      PEER_OBSERVER_LISTEN: '127.0.0.1:0',
      PEER_OBSERVER_JSON: 'true',
      PEER_OBSERVER_MAX_CONNECTIONS: '10',
      PEER_OBSERVER_MAX_PER_IP: '1',
      PEER_OBSERVER_HANDSHAKE_TIMEOUT: '0.3',
    });
    const port = await portOf(cli);
    const sock = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.41' });
    sock.on('error', () => {});
    const second = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.41' });
    second.on('error', () => {});
    await cli.until(() => ofType(cli.events(), 'connection.closed').length >= 2, 'limit and timeout');
    await cli.stop();
    sock.destroy();
    second.destroy();
    const reasons = ofType(cli.events(), 'connection.closed')
      .map((e) => e.data?.reason)
      .sort();
    assert.deepEqual(reasons, ['handshake-timeout', 'limit']);
    assert.ok(cli.events().every((e) => e.nodeId === 'envnode'));
  });
});
