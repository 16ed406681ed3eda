/**
 * `peer-observer run` with the sources that watch a Bitcoin Core node: the rpc
 * source against the recorded-RPC test server, the log source on a debug.log,
 * the usdt source on a recorded trace, and the p2p listener, all in one
 * process; the flags, config-file keys and environment variables that select
 * them; and the combinations refused.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { recorded, startFakeCore, type Answer, type FakeCore } from '../sources/rpc/fake-core.js';
import { type Cli, listeningPort, runCli, startCli } from './helpers.js';

const FIX = join(import.meta.dirname, '../fixtures/bitcoind');
const dir = mkdtempSync(join(tmpdir(), 'peer-observer-core-cli-'));
const cookie = join(dir, '.cookie');
writeFileSync(cookie, '__cookie__:abc123');
const debugLog = join(dir, 'debug.log');
copyFileSync(join(FIX, 'log/debug-a.log'), debugLog);
const usdtInput = join(FIX, 'usdt/usdt-events.jsonl');

const children: Cli[] = [];
const cores: FakeCore[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
  await Promise.all(cores.map((c) => c.close()));
});

async function fakeCore(): Promise<FakeCore> {
  const core = await startFakeCore();
  core.answer = (method) => ({ result: recorded(method === 'getpeerinfo' ? 'getpeerinfo-attackers' : method).response.result }) as Answer;
  cores.push(core);
  return core;
}

type Ev = { type: string; source: string; nodeId: string; data: Record<string, unknown> };
const bySource = (cli: Cli, source: string): Ev[] => (cli.events() as Ev[]).filter((e) => e.source === source);

describe('run with Core sources', { timeout: 60_000 }, () => {
  it('rpc + debug.log + usdt + p2p listener together: events from all four sources', async () => {
    const core = await fakeCore();
    const cli = startCli([
      'run',
      '--network',
      'regtest',
      '--json',
      '--node-id',
      'all-four',
      '--listen',
      '127.0.0.1:0',
      '--rpc-url',
      core.url,
      '--rpc-cookie',
      cookie,
      '--rpc-interval',
      '0.05',
      '--debug-log',
      debugLog,
      '--debug-log-from-start',
      '--usdt-input',
      usdtInput,
    ]);
    children.push(cli);
    await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening line');
    assert.match(cli.stderr(), /watching rpc http:\/\/127\.0\.0\.1:\d+\/, debug\.log .*debug\.log, usdt .*usdt-events\.jsonl/);
    // A TCP peer for the p2p source.
    const sock = connect(listeningPort(cli.stderr())!, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.destroy();
    await cli.until(
      () => ['p2p', 'rpc', 'log', 'usdt'].every((s) => bySource(cli, s).some((e) => e.type === 'connection.opened')),
      'connection.opened from every source',
      15_000,
    );
    // The recorded addr flood as each Core source sees it.
    await cli.until(
      () => bySource(cli, 'rpc').some((e) => e.type === 'peer.stats' && e.data['addrRateLimited'] === 2999),
      'rpc peer.stats',
    );
    await cli.until(
      () => bySource(cli, 'log').some((e) => e.type === 'addr.received' && e.data['rateLimited'] === 999),
      'log addr.received',
    );
    await cli.until(() => bySource(cli, 'usdt').some((e) => e.type === 'block.connected'), 'usdt block.connected');
    assert.ok((cli.events() as Ev[]).every((e) => e.nodeId === 'all-four'));
    assert.ok(core.calls.every((c) => c.authorization === `Basic ${Buffer.from('__cookie__:abc123').toString('base64')}`));
    assert.equal(await cli.stop('SIGINT'), 0);
    // The Core sources' final counters made it out before the bus closed.
    const stages = (cli.events() as Ev[]).filter((e) => e.type === 'pipeline.counters').map((e) => e.data['stage']);
    assert.ok(stages.includes('log') && stages.includes('usdt'), String(stages));
  });

  it('config file keys and env vars; without --listen/--connect a Core source starts no p2p listener', async () => {
    const core = await fakeCore();
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        network: 'regtest',
        json: true,
        rpcUrl: core.url,
        rpcUser: 'alice',
        rpcInterval: 0.05,
        debugLog,
        debugLogFromStart: true,
      }),
    );
    const cli = startCli(['run', '--config', config], {
      env: { PEER_OBSERVER_RPC_PASSWORD: 's3cret', PEER_OBSERVER_USDT_INPUT: usdtInput },
    });
    children.push(cli);
    await cli.until(() => /listening on nowhere; watching rpc/.test(cli.stderr()), 'start line');
    await cli.until(() => ['rpc', 'log', 'usdt'].every((s) => bySource(cli, s).length > 0), 'events from rpc, log and usdt', 15_000);
    assert.equal(bySource(cli, 'p2p').length, 0);
    assert.equal(core.calls[0]!.authorization, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    assert.equal(await cli.stop('SIGINT'), 0);
  });

  it('a wrong password is a clear status line, and the process keeps running (the node may be fixed)', async () => {
    const core = await fakeCore();
    core.answer = () => ({ unauthorized: true });
    const cli = startCli(['run', '--network', 'regtest', '--rpc-url', core.url, '--rpc-user', 'u', '--rpc-password', 'wrong']);
    children.push(cli);
    await cli.until(() => /rpc http:\/\/127\.0\.0\.1:\d+\/: auth-failed: wrong RPC credentials/.test(cli.stderr()), 'auth-failed line');
    assert.doesNotMatch(cli.stderr(), /wrong(?! RPC)/, 'the password is never printed');
    assert.equal(await cli.stop('SIGINT'), 0);
  });

  for (const [args, message] of [
    [['--rpc-url', 'http://127.0.0.1:8332'], /--rpc-url needs --rpc-cookie FILE .* or --rpc-user and --rpc-password/],
    [['--rpc-cookie', '/x'], /--rpc-cookie needs --rpc-url/],
    [['--rpc-url', 'http://127.0.0.1:8332', '--rpc-cookie', '/x', '--rpc-user', 'u'], /give one way to authenticate/],
    [['--rpc-url', 'http://127.0.0.1:8332', '--rpc-user', 'u'], /--rpc-user and --rpc-password go together/],
    [['--rpc-url', 'http://u:p@127.0.0.1:8332', '--rpc-cookie', '/x'], /not in the URL/],
    [['--rpc-url', 'https://x:1', '--rpc-cookie', '/x'], /--rpc-url "https:\/\/x:1": expected an http:\/\/ URL/],
    [['--rpc-url', 'http://127.0.0.1:8332', '--rpc-user', 'u', '--rpc-password', 'a b c'], /^(?![\s\S]*a b c)/],
    [['--rpc-interval', 'x', '--rpc-url', 'http://127.0.0.1:1', '--rpc-cookie', '/x'], /--rpc-interval "x": expected a number of seconds/],
    [['--rpc-status-interval', '0'], /--rpc-status-interval "0": expected a number of seconds from 0.01/],
    [['--usdt'], /--usdt needs --bitcoind-pid PID/],
    [['--bitcoind-pid', '12'], /--bitcoind-pid is for --usdt/],
    [['--usdt-input', '/x', '--usdt', '--bitcoind-pid', '1'], /--usdt-input reads a trace run elsewhere/],
    [['--debug-log-from-start'], /--debug-log-from-start needs --debug-log/],
  ] as [string[], RegExp][]) {
    it(`refuses ${args.join(' ')}`, async () => {
      if (args.includes('a b c')) {
        // A valid password: the run starts; it must never be echoed anywhere.
        const cli = startCli(['run', '--network', 'regtest', ...args]);
        children.push(cli);
        await cli.until(() => /watching rpc/.test(cli.stderr()), 'start');
        await cli.until(() => /rpc .*: down/.test(cli.stderr()), 'down');
        await cli.stop('SIGINT');
        assert.doesNotMatch(cli.stderr() + cli.stdout(), /a b c/);
        return;
      }
      const r = await runCli(['run', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('--usdt --bitcoind-pid without bpftrace installed says so and keeps the other sources running', async () => {
    const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--usdt', '--bitcoind-pid', String(process.pid)], {
      env: { PATH: dir },
    });
    children.push(cli);
    await cli.until(() => /usdt: cannot run bpftrace: not installed/.test(cli.stderr()), 'bpftrace error');
    assert.equal(await cli.stop('SIGINT'), 0);
  });
});
