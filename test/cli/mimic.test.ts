/**
 * `run --mimic` from the command line, the config file and the environment:
 * usage errors (exit 2), a backend that does not answer (exit 1), and the
 * flags' effects against a real bitcoind (its user agent in our version; a
 * per-peer and a global block budget that disconnect).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bitcoindSkipReason, startBitcoind } from '../helpers/bitcoind.js';
import { hexToHash } from '../../src/protocol/hash.js';
import { INV_TYPE } from '../../src/protocol/messages/types.js';
import { Prober } from '../sources/p2p/mimic/helpers.js';
import { listeningPort, ofType, runCli, startCli, type Cli } from './helpers.js';

const children: Cli[] = [];

/** A config file with externalAddress (and no mimic). */
function externalConfig(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'po-mimic-ext-')), 'config.json');
  writeFileSync(file, JSON.stringify({ externalAddress: ['1.2.3.4:8333'] }));
  return file;
}
after(async () => {
  for (const c of children) await c.stop('SIGKILL');
});

describe('run --mimic: usage', () => {
  for (const [args, env, message] of [
    [['--mimic'], {}, /--mimic needs --rpc-url/],
    [[], { PEER_OBSERVER_MIMIC: '1' }, /--mimic needs --rpc-url/],
    [['--mimic-peer-budget-mb', '10'], {}, /--mimic-peer-budget-mb needs --mimic/],
    [[], { PEER_OBSERVER_MIMIC_GLOBAL_BUDGET_MB: '10' }, /--mimic-global-budget-mb needs --mimic/],
    [
      ['--mimic', '--rpc-url', 'http://127.0.0.1:1', '--rpc-cookie', '/x', '--mimic-peer-budget-mb', '0'],
      {},
      /--mimic-peer-budget-mb "0": expected a number of MiB/,
    ],
    [['--external-address', '1.2.3.4:8333'], {}, /--external-address needs --mimic/],
    [[], { PEER_OBSERVER_EXTERNAL_ADDRESS: '1.2.3.4:8333' }, /--external-address needs --mimic/],
    [['--config', externalConfig()], {}, /--external-address needs --mimic/],
    [['--mimic', '--rpc-url', 'http://127.0.0.1:1', '--rpc-cookie', '/x', '--external-address', '1.2.3.4'], {}, /--external-address/],
  ] as [string[], Record<string, string>, RegExp][]) {
    it(`refuses ${[...args, ...Object.keys(env)].join(' ')}`, async () => {
      const r = await runCli(['run', '--network', 'regtest', ...args], { env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('a backend that does not answer: exit 1 with the reason, no listener', async () => {
    const r = await runCli([
      'run',
      '--network',
      'regtest',
      '--mimic',
      '--rpc-url',
      'http://127.0.0.1:1',
      '--rpc-cookie',
      '/nonexistent/.cookie',
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /--mimic: the backend http:\/\/127\.0\.0\.1:1\/ does not answer/);
  });
});

describe('run --mimic against a real node', { skip: bitcoindSkipReason() }, () => {
  it('flags, config file and env: identity from the backend, budgets enforced', { timeout: 120_000 }, async () => {
    const node = await startBitcoind({ args: ['-v2transport=0'] });
    const probers: Prober[] = [];
    try {
      await node.rpc('setmocktime', Math.floor(Date.now() / 1000) - 30 * 86_400);
      const old = await node.mine(20);
      await node.rpc('setmocktime', 0);
      const recent = await node.mine(100);
      const dir = mkdtempSync(join(tmpdir(), 'po-mimic-'));
      const config = join(dir, 'config.json');
      // --mimic-global-budget-mb from the config file, --mimic-peer-budget-mb from the environment, --mimic as a flag.
      writeFileSync(config, JSON.stringify({ mimicGlobalBudgetMb: 0.002 }));
      const cli = startCli(
        [
          'run',
          '--network',
          'regtest',
          '--listen',
          '127.0.0.1:0',
          '--json',
          '--rpc-url',
          node.rpcUrl,
          '--rpc-cookie',
          node.cookieFile,
          '--mimic',
          '--config',
          config,
          '--external-address',
          '5.6.7.8:8333',
        ],
        { env: { PEER_OBSERVER_MIMIC_PEER_BUDGET_MB: '0.01' } },
      );
      children.push(cli);
      await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening');
      assert.match(cli.stderr(), /mimicking http:\/\/127\.0\.0\.1:\d+\/ \(\/Satoshi:30\.99\.0\/\)/);
      const port = listeningPort(cli.stderr())!;
      const connect = async (): Promise<Prober> => {
        const p = await Prober.connect(port);
        probers.push(p);
        await p.handshake();
        return p;
      };
      const p = await connect();
      const v = p.log.find((e) => e.m.command === 'version')!.m;
      assert.ok(v.command === 'version' && !('unknown' in v));
      assert.equal(v.payload.userAgent, '/Satoshi:30.99.0/');
      assert.equal(v.payload.startHeight, 120);
      // --external-address: our address in the answer to getaddr (the node knows no others).
      await p.first('feefilter');
      p.send({ command: 'getaddr', payload: {} });
      const a = await p.first('addrv2');
      assert.ok(a.command === 'addrv2' && !('unknown' in a));
      assert.deepEqual(
        a.payload.entries.map((e) => [e.networkId, [...e.addr].join('.'), e.port]),
        [[1, '5.6.7.8', 8333]],
      );
      // Per-peer budget (10 KiB): recent blocks, asked for over and over, until refused.
      p.send({
        command: 'getdata',
        payload: { items: recent.concat(recent).map((h) => ({ type: INV_TYPE.witnessBlock, hash: hexToHash(h) })) },
      });
      await p.peer.closed;
      // Global budget (2 KiB of historical blocks): a fresh peer asking for old blocks is refused.
      const q = await connect();
      q.send({ command: 'getdata', payload: { items: old.map((h) => ({ type: INV_TYPE.witnessBlock, hash: hexToHash(h) })) } });
      await q.peer.closed;
      await cli.until(
        () => ofType(cli.events(), 'connection.closed').filter((e) => e.data?.reason === 'limit').length >= 2,
        'two refusals',
      );
      const details = ofType(cli.events(), 'connection.closed')
        .filter((e) => e.data?.reason === 'limit')
        .map((e) => String(e.data?.detail));
      assert.ok(
        details.some((d) => /budget reached \(peer\)/.test(d)),
        details.join('\n'),
      );
      assert.ok(
        details.some((d) => /budget reached \(global\)/.test(d)),
        details.join('\n'),
      );
      assert.equal(await cli.stop('SIGINT'), 0);
    } finally {
      for (const p of probers) p.close();
      await node.stop();
    }
  });
});
