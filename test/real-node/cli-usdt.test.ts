/**
 * The command the issue found broken, on a real bitcoind with the machine's
 * bpftrace (Debian's 0.17 in CI): `peer-observer run --usdt --bitcoind-pid PID`
 * attaches, and a connection made to the node shows up as usdt events with
 * decoded payloads; the memlock situation is reported once, in our words.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { bitcoindSkipReason, startBitcoind, type Bitcoind } from '../helpers/bitcoind.js';
import { startCli, type Cli } from '../cli/helpers.js';
import { usdtSkipReason } from './watch.js';

describe('run --usdt --bitcoind-pid on a real bitcoind', { skip: bitcoindSkipReason() ?? usdtSkipReason(), timeout: 90_000 }, () => {
  let node: Bitcoind | undefined;
  let cli: Cli | undefined;
  after(async () => {
    await cli?.stop();
    await node?.stop();
  });

  it('attaches and reports the node’s connections and messages, payloads decoded', async () => {
    node = await startBitcoind();
    cli = startCli(['run', '--network', 'regtest', '--json', '--node-id', 'core-usdt', '--usdt', '--bitcoind-pid', String(node.pid)]);
    type Ev = { type: string; source: string; data: Record<string, unknown> };
    const usdt = () => (cli!.events() as Ev[]).filter((e) => e.source === 'usdt');
    // Attached once a mined block is seen.
    await cli.until(() => /watching usdt bitcoind pid/.test(cli!.stderr()), 'the start-up line');
    const deadline = Date.now() + 60_000;
    while (!usdt().some((e) => e.type === 'block.connected')) {
      assert.ok(Date.now() < deadline, `bpftrace did not attach: ${cli.stderr()}`);
      await node.mine(1);
      await new Promise((r) => setTimeout(r, 300));
    }
    // The node dials itself (addnode onetry): both ends are its peers; Core drops the self-connection after the versions.
    await node.rpc('addnode', `127.0.0.1:${node.port}`, 'onetry');
    await cli.until(() => usdt().filter((e) => e.type === 'connection.closed').length >= 2, 'both ends closed');
    const versions = usdt().filter((e) => e.type === 'message' && e.data['command'] === 'version');
    assert.ok(versions.length >= 1);
    assert.match(String((versions[0]!.data['payload'] as Record<string, unknown>)['userAgent']), /^\/Satoshi:30\./);
    assert.ok(usdt().some((e) => e.type === 'connection.opened' && (e.data['conn'] as { direction: string }).direction === 'inbound'));
    assert.ok(usdt().some((e) => e.type === 'connection.opened' && e.data['connType'] === 'manual'));
    // No "arg6" failure, and the memlock limit explained once (not bpftrace's own warning beside ours).
    assert.doesNotMatch(cli.stderr(), /doesn't support arg/);
    assert.ok((cli.stderr().match(/RLIMIT_MEMLOCK/g) ?? []).length <= 1, cli.stderr());
    assert.match(cli.stderr(), /mempool:replaced reads arg6\/arg7/);
  });
});
