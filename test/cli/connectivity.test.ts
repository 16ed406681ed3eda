/** `run --connectivity [--connectivity-allow-loopback]` through the real bin: a peer advertises the observer's own loopback address. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ipFromString } from '../../src/protocol/address.js';
import { msg } from '../../src/protocol/messages/index.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { handshake, SimPeer } from '../../src/simulate/kit.js';
import { type Cli, listeningPort, ofType, runCli, startCli } from './helpers.js';

const children: Cli[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
});

async function advertiseSelf(port: number, extra: string[] = []): Promise<void> {
  const peer = await SimPeer.open({ network: NETWORKS.regtest, host: '127.0.0.1', port, localAddress: '127.21.0.9' });
  assert.ok(await handshake(peer));
  const entries = ['127.0.0.1', ...extra].map((a) => ({ time: Math.floor(Date.now() / 1000), services: 9n, ip: ipFromString(a), port }));
  peer.send(msg('addr', { entries }));
  await new Promise((r) => setTimeout(r, 100));
  await peer.close();
}

describe('run --connectivity', { timeout: 60_000 }, () => {
  it('--connectivity-allow-loopback: the advertised observer is reachable; private addresses are never tried', async () => {
    const cli = startCli([
      'run',
      '--network',
      'regtest',
      '--listen',
      '127.0.0.1:0',
      '--json',
      '--node-id',
      'cc',
      '--connectivity',
      '--connectivity-allow-loopback',
    ]);
    children.push(cli);
    await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening');
    assert.match(cli.stderr(), /; connectivity check on \(loopback allowed\)\n/);
    await advertiseSelf(listeningPort(cli.stderr())!, ['10.1.2.3']);
    await cli.until(() => ofType(cli.events(), 'connectivity.result').length >= 2, 'two results');
    const results = ofType(cli.events(), 'connectivity.result');
    const self = results.find((e) => String(e.data?.addr).startsWith('127.0.0.1:'))!;
    assert.equal(self.data?.reachable, true);
    assert.equal(self.data?.reason, 'version');
    assert.match(String(self.data?.sourcePeer), /^127\.21\.0\.9:\d+$/);
    assert.equal(self.nodeId, 'cc');
    const priv = results.find((e) => String(e.data?.addr).startsWith('10.1.2.3:'))!;
    assert.equal(priv.data?.reason, 'not-tried');
    assert.equal(await cli.stop('SIGINT'), 0);
    const summaries = ofType(cli.events(), 'connectivity.summary');
    assert.ok(summaries.length >= 1, 'a last summary at shutdown');
    assert.equal(summaries.at(-1)?.data?.reachable, 1);
  });

  it('--connectivity alone refuses loopback (tests need the explicit flag)', async () => {
    const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', '--connectivity']);
    children.push(cli);
    await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening');
    assert.match(cli.stderr(), /; connectivity check on\n/);
    await advertiseSelf(listeningPort(cli.stderr())!);
    await cli.until(() => ofType(cli.events(), 'connectivity.result').length >= 1, 'a result');
    const r = ofType(cli.events(), 'connectivity.result')[0]!;
    assert.equal(r.data?.reason, 'not-tried');
    assert.match(String(r.data?.detail), /^loopback address/);
    assert.equal(await cli.stop('SIGINT'), 0);
  });

  it('off by default; --connectivity-allow-loopback needs --connectivity; env and help', async () => {
    const bad = await runCli(['run', '--listen', '127.0.0.1:0', '--connectivity-allow-loopback']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^peer-observer: error: --connectivity-allow-loopback needs --connectivity/);
    const env = await runCli(['run', '--listen', '127.0.0.1:0'], { env: { PEER_OBSERVER_CONNECTIVITY: 'maybe' } });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /PEER_OBSERVER_CONNECTIVITY "maybe": expected true or false/);
    const help = await runCli(['run', '--help']);
    assert.match(help.stdout, /--connectivity +try the addresses peers advertise/);
    assert.match(help.stdout, /OUTBOUND/);
  });
});
